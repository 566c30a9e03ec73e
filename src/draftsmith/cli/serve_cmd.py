"""draftsmith serve: the HTTP API (operations, OpenAI-compatible chat, health probes) on uvicorn."""

from __future__ import annotations

import ipaddress
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
        f"refusing to listen on {host}: the API has no authentication yet, so anyone who can reach that address "
        "could use your model; serve on 127.0.0.1 (the default), or pass --allow-remote if something in front "
        "of it (a reverse proxy, a firewall) controls who gets in"
    )


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback unless --allow-remote)."),
    port: int = typer.Option(8080, "--port", "-p", min=0, max=65535, help="Port to listen on (0: any free port)."),
    model: str = ModelOpt,
    allow_remote: bool = typer.Option(
        False,
        "--allow-remote",
        help="Allow a non-loopback --host. There is no authentication yet (it comes with accounts and API keys), "
        "so only do this behind something that controls access.",
    ),
    queue_size: int = typer.Option(
        8, "--queue-size", min=0, max=10_000, help="Requests that may wait for the model; more get 429."
    ),
    max_body_mb: float = typer.Option(2.0, "--max-body-mb", min=0.001, help="Largest request body in MB (413 above)."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level: debug, info, warning, error."),
) -> None:
    """Serve the writing operations over HTTP: /api/<operation>, OpenAI-compatible /v1/chat/completions,
    /healthz, /readyz and API docs at /docs.

    Listens on loopback only: there is no authentication yet (accounts and API keys come in a later
    release), so a non-loopback --host is refused unless --allow-remote is given.
    """
    check_bind(host, allow_remote)
    try:
        import uvicorn

        from draftsmith.server import ServerConfig, create_app
    except ImportError as exc:
        raise ConfigError(
            f"the server needs extra packages ({exc.name} is missing); install them with "
            "pip install 'draftsmith[server]'"
        ) from None
    from draftsmith.config import load_settings

    settings = load_settings(model=model)
    config = ServerConfig(queue_size=queue_size, max_body_bytes=int(max_body_mb * 1024 * 1024))
    app = create_app(settings, config=config)
    shown = f"[{host}]" if ":" in host else host
    err.print(f"serving model {settings.model} on http://{shown}:{port} (API docs at /docs); Ctrl-C stops")
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), timeout_graceful_shutdown=5)


def register(app: typer.Typer) -> None:
    app.command()(serve)
