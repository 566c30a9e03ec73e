"""Group 3, secrets stay secret: API keys, the upstream key and passwords never appear in answers (bodies and
headers, errors included), in /metrics, in the server's log, or in the database file. The upstream probes use
a server whose model is an upstream that quotes the key it was sent in its error message."""

from __future__ import annotations

import base64
import logging
import time
from pathlib import Path
from typing import Any

import httpx

from .core import KEY_PATTERN, Findings, Target, bearer
from .upstream import LEAK

CHAT = "/v1/chat/completions"


class _Checker:
    def __init__(self, f: Findings, forbidden: list[str]) -> None:
        self.f = f
        self.forbidden = [s for s in forbidden if s]

    def text(self, text: str, where: str) -> None:
        shown = [s[:6] + "…" for s in self.forbidden if s in text]
        self.f.check(not shown, f"{where} shows a secret ({', '.join(shown)})")
        self.f.check(KEY_PATTERN.search(text) is None, f"{where} shows a whole API key")

    def response(self, r: httpx.Response, where: str) -> None:
        headers = "\n".join(f"{k}: {v}" for k, v in r.headers.items())
        self.text(headers + "\n" + r.text, f"{where} ({r.status_code})")


def secrets_stay_secret(t: Target, relay: Target | None = None) -> Findings:
    f = Findings("secrets")
    k = t.keys
    forbidden = [*k.raw(), *k.secret_parts()]
    if relay is not None and relay.upstream is not None:
        forbidden.append(relay.upstream.key)
    check = _Checker(f, forbidden)
    with t.client() as client:
        doc = client.post("/api/documents", json={"title": "t", "text": "x"}, headers=bearer(k.alice)).json()
        ids = {"doc_id": doc.get("id", "1"), "version": 1}
        for route in sorted(t.protected(), key=lambda r: r.method == "DELETE"):
            name = f"{route.method} {route.path}"
            body: dict[str, Any] | None = {} if route.has_body else None
            for what, headers in (
                ("a good key", bearer(k.alice)),
                ("a Basic header", {"Authorization": "Basic " + base64.b64encode(k.alice.encode()).decode()}),
                ("a mangled key", {"X-API-Key": k.alice + "x"}),
                ("a revoked key", bearer(k.revoked)),
                ("two keys", {**bearer(k.alice), "X-API-Key": k.bob}),
            ):
                r = client.request(route.method, route.url(**ids), json=body, headers=headers)
                check.response(r, f"{name} with {what}")
            if route.has_body:  # a key in a field of an invalid body: the 422 must not echo it
                bad = {"x": k.admin, "instruction": 5, "text": 5, "messages": k.admin, "api_key": k.admin}
                r = client.request(route.method, route.url(**ids), json=bad, headers=bearer(k.alice))
                check.response(r, f"{name} with a key in an invalid body")
        for path in ("/metrics", "/openapi.json", "/docs", "/healthz", "/readyz"):
            check.response(client.get(path, headers=bearer(k.admin)), f"GET {path}")
    if relay is not None:
        upstream_key_stays_secret(relay, check)
    check.text(t.read_log(), "the server log")
    if relay is not None:
        check.text(relay.read_log(), "the relay server's log")
    for path in database_files(t.store):
        data = path.read_bytes()
        f.check(not any(s.encode() in data for s in [*k.raw(), *k.secret_parts()]), f"{path.name} holds a key")
    return f


def upstream_key_stays_secret(relay: Target, check: _Checker) -> None:
    """The upstream quotes the key in its 401; the server's 502 and its log must not."""
    key = relay.keys.alice
    leak = {"instruction": f"please {LEAK}"}
    chat = {"messages": [{"role": "user", "content": f"please {LEAK}"}]}
    with relay.client(key) as client:
        for path, body in (("/api/write", leak), (CHAT, chat)):
            for stream in (False, True):
                r = client.post(path, json={**body, "stream": stream})
                check.f.check(
                    r.status_code == 502, f"POST {path} (stream={stream}) to a refusing upstream: {r.status_code}"
                )
                check.response(r, f"POST {path} (stream={stream}) when the upstream quotes its key")
        check.response(client.get("/v1/models"), "GET /v1/models on the relay")
        check.response(client.get("/readyz"), "GET /readyz on the relay")
    sent = [r for r in relay.upstream.requests if r.get("body")]
    check.f.check(
        bool(sent) and all(r["authorization"] == f"Bearer {relay.upstream.key}" for r in sent),
        "the relay did not send its upstream key (the leak probe tested nothing)",
    )


def database_files(store: Any) -> list[Path]:
    url = store.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        return []
    main = Path(url.database)
    return [p for p in main.parent.glob(main.name + "*") if p.is_file()]


def secrets_in_settings(capture: logging.Handler | None = None) -> Findings:
    """In-process: a server whose settings hold an upstream key, a password in the model URL and one in the
    database URL (neither reachable). Its answers and log lines must show none of them."""
    import io
    import secrets

    from fastapi.testclient import TestClient

    from draftsmith.config import Settings
    from draftsmith.models.fake import FakeModel
    from draftsmith.server import ServerConfig, create_app

    f = Findings("secrets-settings")
    api_key, model_pw, db_pw = (f"sk-{secrets.token_urlsafe(24)}", secrets.token_hex(10), secrets.token_hex(10))
    check = _Checker(f, [api_key, model_pw, db_pw])
    settings = Settings(
        model=f"openai:http://probe:{model_pw}@127.0.0.1:1/v1",
        openai_api_key=api_key,
        database_url=f"postgresql+psycopg://draftsmith:{db_pw}@127.0.0.1:1/none",
        retries=0,
        request_timeout=2,
        prefix_cache=False,
    )
    stream = io.StringIO()
    handler = capture or logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("draftsmith")
    root.addHandler(handler)
    try:
        with TestClient(create_app(settings, config=ServerConfig(auth_required=False))) as client:
            for _ in range(40):  # the model opens in the background and fails
                if client.get("/readyz").json().get("error", {}).get("type") != "model_loading":
                    break
                time.sleep(0.05)
            for method, path, body in (
                ("GET", "/v1/models", None),
                ("GET", "/readyz", None),
                ("GET", "/api/documents", None),
                ("POST", "/api/write", {"instruction": "hello"}),
                ("POST", CHAT, {"messages": [{"role": "user", "content": "hi"}]}),
            ):
                r = client.request(method, path, json=body)
                check.response(r, f"{method} {path} with secrets in the settings")
            ready = client.get("/readyz")
            f.check(ready.status_code == 503, f"/readyz with an unreachable upstream: {ready.status_code}")
        # The same app with a model that works: results name the model, without the URL's password.
        working = settings.model_copy(update={"database_url": None})
        app = create_app(working, FakeModel(name=settings.model), config=ServerConfig(auth_required=False))
        with TestClient(app) as client:
            r = client.post("/api/write", json={"instruction": "hello"})
            f.check(r.status_code == 200, f"POST /api/write on a working model: {r.status_code}")
            check.response(r, "POST /api/write naming a model whose URL has a password")
            r = client.post(CHAT, json={"messages": [{"role": "user", "content": "hi"}]})
            check.response(r, "POST /v1/chat/completions naming a model whose URL has a password")
    finally:
        root.removeHandler(handler)
    check.text(stream.getvalue(), "the log of a server with secrets in its settings")
    return f
