"""Every failure as one JSON shape, ``{"error": {"type": ..., "message": ...}}``, never a traceback.

The shape is a subset of OpenAI's error object, so OpenAI clients read our messages too. Operation
errors map by class: input → 400, template → 422, model → 502; validation → 422, unknown route → 404,
too large → 413, queue full → 429 with Retry-After, model still loading → 503.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from draftsmith.errors import ConfigError, DraftsmithError, InputError, ModelError, TemplateError
from draftsmith.safety.secrets import scrub_secrets

log = logging.getLogger("draftsmith.server")


class ApiError(Exception):
    """An error the server answers with a given status, type and headers. The message is scrubbed of
    secrets: it may quote an upstream server, a model URL or a database error."""

    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        message = scrub_secrets(message)
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.headers = headers or {}
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


class Cancelled(Exception):
    """The client went away; raised inside the worker to stop the model."""


_BY_CLASS: list[tuple[type[DraftsmithError], int, str]] = [
    (InputError, 400, "input_error"),
    (TemplateError, 422, "template_error"),
    (ModelError, 502, "model_error"),
    (ConfigError, 500, "config_error"),
]
_HTTP_TYPES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large", 400: "bad_request"}
# FastAPI's 400 for a JSON body it cannot even decode (bytes that are not UTF-8); a syntax error is already a 422.
_UNPARSED_BODY = "There was an error parsing the body"
_UNPARSED_MESSAGE = "the body is not JSON in UTF-8"


def as_api_error(exc: BaseException) -> ApiError:
    """The status, type and message a client sees for ``exc``."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, Cancelled):
        return ApiError(499, "client_closed_request", "the client closed the connection; the operation was stopped")
    if isinstance(exc, DraftsmithError):
        for cls, status, kind in _BY_CLASS:
            if isinstance(exc, cls):
                return ApiError(status, kind, str(exc))
        return ApiError(400, "error", str(exc))
    return ApiError(500, "internal_error", "internal error; the server log has the details")


def validation_error(errors: list[dict[str, Any]]) -> ApiError:
    """A 422 naming each bad field, e.g. ``body.temperature: Input should be less than or equal to 2``."""
    details = [
        {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in errors
    ]
    summary = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details[:5]) or "invalid request"
    more = f" (and {len(details) - 5} more)" if len(details) > 5 else ""
    return ApiError(422, "validation_error", summary + more, details=details)


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        return as_api_error(exc).response()

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return validation_error(list(exc.errors())).response()

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and exc.detail == _UNPARSED_BODY:  # e.g. not UTF-8: a 422 like bad JSON
            return validation_error([{"loc": ["body"], "msg": _UNPARSED_MESSAGE, "type": "json_invalid"}]).response()
        if exc.status_code == 404 and exc.detail == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}; see /docs for the API"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        kind = _HTTP_TYPES.get(exc.status_code, "http_error")
        return ApiError(exc.status_code, kind, message, dict(exc.headers or {})).response()

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return as_api_error(exc).response()

    for cls in (ApiError, Cancelled, DraftsmithError):
        app.add_exception_handler(cls, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with a JSON 413, and request headers over ``max_header_bytes``
    in all with a JSON 431, before any route reads them.

    A declared Content-Length is checked up front; a chunked body is read up to the limit and replayed. The
    header check is needed because h11 bounds only a head that arrives in pieces: one that arrives whole is
    parsed whatever its size.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_header_bytes: int = 32 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header_bytes = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        if header_bytes > self.max_header_bytes:
            refusal = f"request headers are larger than {self.max_header_bytes:,} bytes in all"
            await self._refuse(scope, receive, send, 431, "headers_too_large", refusal)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._refuse(scope, receive, send, 400, "bad_request", "Content-Length is not a number")
            elif int(declared) > self.max_bytes:
                await self._too_large(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if "chunked" not in headers.get("transfer-encoding", "").lower():
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left while sending
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = f"{self.max_bytes / 1024 / 1024:.1f} MB" if self.max_bytes >= 1024 * 1024 else f"{self.max_bytes} bytes"
        await self._refuse(scope, receive, send, 413, "request_too_large", f"request body is larger than {limit}")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, kind: str, message: str) -> None:
        body = json.dumps({"error": {"type": kind, "message": message}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
