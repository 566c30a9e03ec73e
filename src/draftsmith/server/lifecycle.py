"""Serving processes: one or several uvicorn workers, and draining on SIGTERM.

``draftsmith serve --workers N`` runs N processes on one listening socket. uvicorn starts each worker from
an import string, so the server's options travel in the ``DRAFTSMITH_SERVE`` environment variable (JSON)
and ``app_from_env`` builds each worker's app from it. Every worker opens its own model; what workers
share (users, keys, per-key rate buckets, daily token use, documents) lives in the store.

Draining: on SIGTERM (or Ctrl-C) uvicorn stops accepting connections and waits for the open ones. ``Drain``
wraps the app so that meanwhile new requests on kept-alive connections get 503 ``shutting_down`` and
``/readyz`` says 503 (so a load balancer stops sending), while requests in flight, event streams too,
run to their end. When ``drain_timeout`` has passed, a stream still open gets a last ``error`` event
(``shutting_down``) and a proper end of body, a request not yet answered gets 503, and the work is
cancelled (which stops the model); then the process exits. Saves are single transactions, so a cut can
only drop a save that had not committed, never tear one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import uvicorn

ENV = "DRAFTSMITH_SERVE"
GRACE_S = 2.0  # uvicorn's own graceful-shutdown timeout is the drain timeout plus this
PROBES = ("/healthz",)  # still answered while draining (liveness); /readyz answers 503


@dataclass(eq=False)
class _Flight:
    """One request in flight: its send (serialised, so a last event never splits another), its task."""

    send: Any
    path: str
    task: asyncio.Task[Any] | None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    started: bool = False
    streaming: bool = False
    finished: bool = False
    expired: bool = False

    async def forward(self, message: dict[str, Any]) -> None:
        async with self.lock:
            if self.expired:
                return  # the drain already ended this response
            if message["type"] == "http.response.start":
                self.started = True
                headers = dict(message.get("headers") or [])
                self.streaming = headers.get(b"content-type", b"").startswith(b"text/event-stream")
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                self.finished = True
            await self.send(message)

    async def expire(self, message: str) -> None:
        """End the response cleanly (a last event, or a 503) and cancel the work behind it."""
        async with self.lock:
            if self.finished or self.expired:
                return
            self.expired = True
            error = {"error": {"type": "shutting_down", "message": message}}
            with contextlib.suppress(Exception):  # the client may be gone already
                if not self.started:
                    await self.send(_start(503, {"Retry-After": "5", "Connection": "close"}))
                    await self.send({"type": "http.response.body", "body": json.dumps(error).encode()})
                elif self.streaming:
                    data = json.dumps(error)
                    # the OpenAI-style stream has data-only events; the operations' streams name theirs
                    event = f"data: {data}\n\n" if self.path.startswith("/v1/") else f"event: error\ndata: {data}\n\n"
                    await self.send({"type": "http.response.body", "body": event.encode(), "more_body": True})
                    await self.send({"type": "http.response.body", "body": b"", "more_body": False})
        if self.task is not None:
            self.task.cancel()


def _start(status: int, headers: dict[str, str]) -> dict[str, Any]:
    pairs = [(b"content-type", b"application/json")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http.response.start", "status": status, "headers": pairs}


class Drain:
    """ASGI wrapper that finishes requests in flight after shutdown begins, for up to ``timeout`` seconds."""

    def __init__(self, app: Any, timeout: float = 30.0) -> None:
        self.app = app
        self.timeout = timeout
        self.draining = False
        self.flights: set[_Flight] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._expiring: set[asyncio.Future[None]] = set()

    def __getattr__(self, name: str) -> Any:  # app.state, app.routes… of the wrapped app
        if name == "app":
            raise AttributeError(name)
        return getattr(self.app, name)

    def begin(self) -> None:
        """Start draining (safe from a signal handler): in ``timeout`` seconds what is left is ended."""
        if self.draining:
            return
        self.draining = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.call_later, self.timeout, self.expire_all)

    def _chain_signals(self) -> None:
        """Begin draining on the signals uvicorn stops on. uvicorn has installed its handlers by the time the
        lifespan starts, in every worker, and puts its saved ones back when it stops."""
        if threading.current_thread() is not threading.main_thread():
            return  # an in-thread server (tests): call begin() yourself
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue

            def handler(number: int, frame: Any, previous: Any = previous) -> None:
                previous(number, frame)
                self.begin()

            signal.signal(sig, handler)

    def expire_all(self) -> None:
        message = f"the server is shutting down and could not finish this request within {self.timeout:g} s; retry"
        for flight in list(self.flights):
            task = asyncio.ensure_future(flight.expire(message))
            self._expiring.add(task)  # keep a reference until it has run
            task.add_done_callback(self._expiring.discard)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            self._loop = asyncio.get_running_loop()
            self._chain_signals()
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if self.draining and path not in PROBES:
            body = {"error": {"type": "shutting_down", "message": "the server is shutting down; retry"}}
            await send(_start(503, {"Retry-After": "5", "Connection": "close"}))
            await send({"type": "http.response.body", "body": json.dumps(body).encode()})
            return
        flight = _Flight(send, path, asyncio.current_task())
        self.flights.add(flight)
        try:
            await self.app(scope, receive, flight.forward)
        except asyncio.CancelledError:
            if not flight.expired:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # we cancelled it ourselves, after ending the response
        finally:
            self.flights.discard(flight)


def keep_streams_open() -> None:
    """sse-starlette ends every event stream as soon as uvicorn is told to stop; ``Drain`` decides instead."""
    from sse_starlette.sse import AppStatus

    AppStatus.disable_automatic_graceful_drain()


def app_from_env() -> Drain:
    """The app of one ``serve --workers`` process, from the options in ``DRAFTSMITH_SERVE``."""
    from draftsmith.config import load_settings
    from draftsmith.server import ServerConfig, create_app

    spec = json.loads(os.environ[ENV])
    keep_streams_open()
    if spec.get("log_json"):
        from draftsmith.server.logs import configure_json_logging

        configure_json_logging(spec.get("log_level", "info"))
    settings = load_settings(model=spec["model"])
    app = create_app(settings, config=ServerConfig(**spec["config"]))
    return Drain(app, timeout=spec["drain_timeout"])


def run(target: Any, *, workers: int = 1, drain_timeout: float = 30.0, **options: Any) -> None:
    """Serve ``target`` (a ``Drain``-wrapped app, or for several workers ``app_from_env``'s import string)."""
    keep_streams_open()
    timeout = math.ceil(drain_timeout + GRACE_S)
    if workers <= 1:
        uvicorn.run(target, timeout_graceful_shutdown=timeout, **options)
        return
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(target, workers=workers, factory=True, timeout_graceful_shutdown=timeout, **options)
    sock = listen(config.host, config.port)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()


def listen(host: str, port: int) -> socket.socket:
    """The socket the workers share. Made with ``IPPROTO_TCP`` (uvicorn's own leaves it 0) because asyncio
    sets TCP_NODELAY on accepted connections only then; without it small answers wait ~40 ms for Nagle and
    delayed ACKs."""
    from draftsmith.errors import InputError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock
