"""draftsmith serve: the HTTP API (operations, documents, OpenAI-compatible chat, health probes) on uvicorn.

On loopback the server needs no keys until the first user exists (``draftsmith users add``). A non-loopback
``--host`` needs ``--allow-remote``, and then keys are always required: the server refuses to start while no
usable key exists, so it can never listen on the network without authentication.

``--workers N`` runs N processes on one port (see ``server/lifecycle.py``); SIGTERM drains each of them.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket

import typer

from draftsmith.cli.common import ModelOpt, err
from draftsmith.errors import ConfigError, InputError


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def check_bind(host: str, allow_remote: bool) -> None:
    if allow_remote or is_loopback(host):
        return
    raise InputError(
        f"refusing to listen on {host}: anyone who can reach that address could use the server, and remote "
        "serving has no authentication-free mode; serve on 127.0.0.1 (the default), or pass --allow-remote, "
        "which requires an API key on every request (create one first: draftsmith users add NAME --admin, "
        "then draftsmith keys create NAME)"
    )


def check_remote_auth(host: str) -> None:
    """A non-loopback server always requires keys, so at least one must work before it starts."""
    from draftsmith.store import accounts
    from draftsmith.store.db import open_store

    if accounts.usable_keys(open_store()) == 0:
        raise InputError(
            f"refusing to listen on {host}: API keys are required there and none is usable yet; create one "
            "with draftsmith users add NAME --admin and draftsmith keys create NAME"
        )


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback unless --allow-remote)."),
    port: int = typer.Option(8080, "--port", "-p", min=0, max=65535, help="Port to listen on (0: any free port)."),
    model: str = ModelOpt,
    allow_remote: bool = typer.Option(
        False,
        "--allow-remote",
        help="Allow a non-loopback --host. Every request then needs an API key (draftsmith keys create), and "
        "the server will not start until one exists.",
    ),
    require_auth: bool = typer.Option(
        False, "--require-auth", help="Require API keys on loopback too (default there: once any user exists)."
    ),
    public_metrics: bool = typer.Option(False, "--public-metrics", help="Serve /metrics without a key."),
    rpm: int = typer.Option(60, "--rpm", min=0, help="Requests per minute per key, unless a user has their own."),
    tokens_per_day: int = typer.Option(
        0, "--tokens-per-day", min=0, help="Tokens per user per UTC day, unless a user has their own (0: no limit)."
    ),
    redact_pii: bool | None = typer.Option(
        None,
        "--redact-pii/--no-redact-pii",
        help="Mask personal data (e-mails, phones, cards, IBANs, IPs, IDs, names of people) before the model. "
        "Default: the redact_pii setting (auto: on when the model is an openai: endpoint off this machine).",
    ),
    redact_names: bool = typer.Option(
        True,
        "--redact-names/--no-redact-names",
        help="With --redact-pii: names of people too (spaCy/jieba; slower, may mask a word that is no name).",
    ),
    content_filter: str = typer.Option(
        "off", "--content-filter", help="Content policy on requests and outputs: off, block or warn."
    ),
    content_policy: str = typer.Option(
        None, "--content-policy", help="A content policy YAML file (default: built-in)."
    ),
    queue_size: int = typer.Option(
        8, "--queue-size", min=0, max=10_000, help="Requests that may wait for the model; more get 429."
    ),
    max_body_mb: float = typer.Option(2.0, "--max-body-mb", min=0.001, help="Largest request body in MB (413 above)."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level: debug, info, warning, error."),
    log_json: bool = typer.Option(
        False, "--log-json", help="Log JSON lines: one per request (id, user, route, status, latency, tokens)."
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        "-w",
        min=1,
        max=64,
        help="Server processes on the one port. Each opens its own copy of the model (a local model takes its "
        "memory N times; an openai: backend costs nothing more). Keys, rate limits, token budgets and "
        "documents are shared through the database; /metrics describes the process that answers, so "
        "scrape one process per port (one worker per container) for exact counts.",
    ),
    drain_timeout: float = typer.Option(
        30.0,
        "--drain-timeout",
        min=0,
        help="On SIGTERM or Ctrl-C: seconds to let requests and streams in flight finish; a stream still "
        "open then gets a last 'shutting_down' error event and ends.",
    ),
) -> None:
    """Serve the writing operations over HTTP: /api/<operation>, /api/documents, OpenAI-compatible
    /v1/chat/completions, /healthz, /readyz, /metrics and API docs at /docs.

    Listens on loopback by default, where keys are needed once any user exists (draftsmith users add). A
    non-loopback --host needs --allow-remote and always requires keys. SIGTERM drains: streams in flight
    finish (up to --drain-timeout), then the server exits. Deploying at scale: docs/deploy.md.
    """
    check_bind(host, allow_remote)
    if content_filter not in ("off", "block", "warn"):
        raise InputError(f"--content-filter must be off, block or warn, not {content_filter!r}")
    remote = not is_loopback(host)
    if remote:
        check_remote_auth(host)
    try:
        import uvicorn

        from draftsmith.server import ServerConfig, create_app, lifecycle
        from draftsmith.server.logs import configure_json_logging
    except ImportError as exc:
        raise ConfigError(
            f"the server needs extra packages ({exc.name} is missing); install them with "
            "pip install 'draftsmith[server]'"
        ) from None
    from draftsmith.config import load_settings

    settings = load_settings(model=model)
    config = ServerConfig(
        queue_size=queue_size,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        auth_required=True if remote or require_auth else None,
        public_metrics=public_metrics,
        requests_per_minute=rpm,
        tokens_per_day=tokens_per_day,
        redact_pii=redact_pii,
        redact_names=redact_names,
        content_filter=content_filter,  # type: ignore[arg-type]
        content_policy=content_policy,
    )
    app = create_app(settings, config=config)  # with several workers: only checks the options here
    shown = f"[{host}]" if ":" in host else host
    if log_json:
        configure_json_logging(log_level)
    target: object = lifecycle.Drain(app, timeout=drain_timeout)
    if workers > 1:
        spec = {
            "model": settings.model,
            "config": config.model_dump(),
            "drain_timeout": drain_timeout,
            "log_json": log_json,
            "log_level": log_level,
        }
        os.environ[lifecycle.ENV] = json.dumps(spec)  # read by each worker's app_from_env
        target = "draftsmith.server.lifecycle:app_from_env"
    processes = f" in {workers} processes" if workers > 1 else ""
    err.print(f"serving model {settings.model} on http://{shown}:{port}{processes} (API docs at /docs); Ctrl-C stops")
    lifecycle.run(
        target,
        host=host,
        port=port,
        workers=workers,
        drain_timeout=drain_timeout,
        log_level=log_level.lower(),
        log_config=None if log_json else uvicorn.config.LOGGING_CONFIG,
        access_log=not log_json,
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
