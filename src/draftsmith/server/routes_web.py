"""The web editor at ``/`` (static files from ``draftsmith/web`` under ``/static``), the API docs at ``/docs``
served from vendored Swagger UI (no CDN, so they work offline), and the security headers every answer carries.

Every response gets a strict Content-Security-Policy (scripts, styles and connections from this origin only; no
inline script, no external images, no framing), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
no-referrer`` and ``X-Frame-Options: DENY``. ``/docs`` has its own policy, the same but for the one inline
script that starts Swagger UI, allowed by its hash. The editor page's policy adds one fresh nonce to
``style-src`` (nothing else): CodeMirror puts its styles in a ``<style>`` element it creates, which carries the
nonce the page was served with. None of these routes needs an API key: the editor asks for one and sends it with
its API calls.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
SWAGGER = "/static/vendor/swagger-ui"

CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
NONCE_SLOT = "{{csp_nonce}}"  # in index.html

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def editor() -> HTMLResponse:
    """The editor page, with a style nonce of its own in the page and in its policy."""
    nonce = secrets.token_urlsafe(18)
    html = (WEB_DIR / "index.html").read_text(encoding="utf-8").replace(NONCE_SLOT, nonce)
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": editor_policy(nonce)}
    return HTMLResponse(html, headers=headers)


def editor_policy(nonce: str) -> str:
    """``CSP`` with ``nonce`` allowed for style elements: the editor page's policy."""
    return CSP.replace("style-src 'self'", f"style-src 'self' 'nonce-{nonce}'")


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    """Swagger UI from the vendored copy; the policy allows its one inline script by hash, nothing else."""
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} - API docs",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(page.body).decode()
    hashes = " ".join(f"'sha256-{_sha256(script)}'" for script in _INLINE_SCRIPT.findall(html))
    policy = CSP.replace("script-src 'self'", f"script-src 'self' {hashes}")
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def install(app: FastAPI) -> None:
    """Serve the editor and the docs on ``app`` (built with ``docs_url=None``), and add the headers."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    app.add_middleware(SecurityHeaders)


class SecurityHeaders:
    """Pure ASGI middleware: the security headers on every HTTP answer (a route's own CSP is kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", CSP.encode()))
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
