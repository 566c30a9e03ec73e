"""Serving an app for the probes in this process: a real uvicorn on 127.0.0.1 (an ephemeral port, in a thread),
the app's log captured as JSON lines, and the ``Target`` that describes it. ``bench/security_probes.py`` runs
``draftsmith serve`` in a child process instead; the probes cannot tell the difference."""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from .core import Keys, Target, app_routes

LOGGERS = ("draftsmith", "uvicorn", "uvicorn.error")


@contextlib.contextmanager
def captured_log() -> Iterator[io.StringIO]:
    """Every record of the server's loggers, as the JSON lines ``serve --log-json`` writes."""
    from draftsmith.server.logs import JsonFormatter, access_log

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    old = access_log.level
    access_log.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        access_log.setLevel(old)


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """A real uvicorn on 127.0.0.1 with an ephemeral port, in a thread; yields the base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the probe server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def live_target(app: Any, store: Any, keys: Keys, **extra: Any) -> Iterator[Target]:
    """``app`` served on loopback with its log captured, as a ``Target``."""
    with captured_log() as log, serve(app) as url:
        model = getattr(app.state.model_slot, "name", "fake")
        yield Target(
            base_url=url,
            store=store,
            keys=keys,
            routes=app_routes(app),
            config=app.state.server_config,
            read_log=log.getvalue,
            served_model=model,
            openapi=app.openapi(),
            **extra,
        )
