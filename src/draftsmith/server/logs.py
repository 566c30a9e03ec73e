"""Structured logs: one JSON line per request, and every other log record as JSON too.

The access line (logger ``draftsmith.access``) carries time, request id, user id (never the key), method,
route (the route's template, e.g. ``/api/documents/{doc_id}``, never the query string), status, latency
and tokens; never a body or a header. Every request gets an ``X-Request-ID`` answer header (a sane one sent
by the client is kept, so a proxy's id follows the request). ``JsonFormatter`` also scrubs personal data
(e-mails, phone numbers, card numbers, …) and secrets (API keys, the upstream key, URL passwords) out of every
message and traceback it writes; ``SecretFilter`` masks secrets in the server's own records whatever the format.

``draftsmith serve --log-json`` calls ``configure_json_logging``; without it the access lines go nowhere.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from typing import IO, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from draftsmith.safety.pii import scrub
from draftsmith.safety.secrets import scrub_secrets

access_log = logging.getLogger("draftsmith.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ACCESS_FIELDS = ("request_id", "user_id", "method", "route", "status", "latency_ms", "tokens")


def route_of(scope: Scope) -> str | None:
    """The matched route's path template, once routing has happened."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and the access fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(scrub_secrets(record.getMessage())),
        }
        for name in _ACCESS_FIELDS:
            if hasattr(record, name):
                data[name] = getattr(record, name)
        if record.exc_info:
            data["error"] = scrub(scrub_secrets(self.formatException(record.exc_info)))
        return json.dumps(data, ensure_ascii=False, default=str)


class SecretFilter(logging.Filter):
    """Masks secrets in a record's message and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub_secrets(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub_secrets(logging.Formatter().formatException(record.exc_info))
        return True


# Loggers that write response text at DEBUG (sse-starlette logs every event it sends): kept at INFO, so a
# debug log level never writes an answer, or the personal data restored into it, to the log.
BODY_LOGGERS = ("sse_starlette.sse",)


def quiet_body_loggers() -> None:
    for name in BODY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET too: it would follow a root logger set to DEBUG
            logger.setLevel(logging.INFO)


def install_secret_filter(*names: str) -> None:
    """Add one ``SecretFilter`` to each named logger (once)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretFilter) for f in logger.filters):
            logger.addFilter(SecretFilter())


def configure_json_logging(level: str = "info", stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record (draftsmith's, uvicorn's, the access lines) to ``stream`` as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    access_log.setLevel(logging.INFO)
    return handler


class AccessLog:
    """Pure ASGI middleware: assigns the request id and writes the access line when the answer ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        sent = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "request",
                    extra={
                        "request_id": request_id,
                        "user_id": state.get("user_id"),
                        "method": scope.get("method"),
                        "route": route_of(scope) or "other",
                        "status": status["code"],
                        "latency_ms": round((time.perf_counter() - start) * 1000, 2),
                        "tokens": state.get("tokens", 0),
                    },
                )
