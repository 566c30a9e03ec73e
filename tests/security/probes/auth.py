"""Group 1, auth on every route: each route the app has (OpenAPI plus its own route table) that is not public
answers 401 to no key, a wrong, revoked, expired or SQL-shaped key, a valid key in a header that is not read,
and two different keys; 403 to a disabled user's key. Both accepted headers draw on one rate limit. Public:
health, readiness, the docs and the editor; /metrics needs an admin. A non-loopback bind without keys does
not start."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from .core import Findings, RouteInfo, Target, bearer, error_type, free_port

SQL_KEYS = (
    "' OR '1'='1",
    "ds_' OR '1'='1' --",
    "ds_000000000000_' OR 1=1 --" + "A" * 20,
    '"; DROP TABLE api_keys; --',
    "ds_%_%",
    "ds_*",
)


def bad_credentials(t: Target) -> list[tuple[str, dict[str, str], str]]:
    """(what, headers, query string) for every credential that must be refused with 401."""
    k = t.keys
    key_id = k.alice.split("_")[1]
    random_key = f"ds_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
    out: list[tuple[str, dict[str, str], str]] = [
        ("no key", {}, ""),
        ("unknown key", bearer(random_key), ""),
        ("alice's key id, wrong secret", bearer(f"ds_{key_id}_{secrets.token_urlsafe(32)}"), ""),
        ("alice's key, one character short", bearer(k.alice[:-1]), ""),
        ("alice's key in upper case", bearer(k.alice.upper()), ""),
        ("revoked key", bearer(k.revoked), ""),
        ("expired key", bearer(k.expired), ""),
        ("revoked key as X-API-Key", {"X-API-Key": k.revoked}, ""),
        ("expired key as X-API-Key", {"X-API-Key": k.expired}, ""),
        ("empty bearer", {"Authorization": "Bearer"}, ""),
        ("two different keys", {"Authorization": f"Bearer {k.alice}", "X-API-Key": k.bob}, ""),
        ("key as Api-Key", {"Api-Key": k.alice}, ""),
        ("key as X-Auth-Token", {"X-Auth-Token": k.alice}, ""),
        ("key as Proxy-Authorization", {"Proxy-Authorization": f"Bearer {k.alice}"}, ""),
        ("key in a cookie", {"Cookie": f"api_key={k.alice}; session={k.alice}"}, ""),
        (
            "key with the Basic scheme",
            {"Authorization": "Basic " + base64.b64encode(f"{k.alice}:".encode()).decode()},
            "",
        ),
        ("key with the Token scheme", {"Authorization": f"Token {k.alice}"}, ""),
        ("key without a scheme", {"Authorization": k.alice}, ""),
        ("key in the query string", {}, f"api_key={k.alice}&key={k.alice}&token={k.alice}"),
    ]
    out += [(f"SQL-shaped key {s!r}", bearer(s), "") for s in SQL_KEYS]
    out += [(f"SQL-shaped X-API-Key {s!r}", {"X-API-Key": s}, "") for s in SQL_KEYS[:2]]
    return out


def _send(
    client: httpx.Client, route: RouteInfo, headers: dict[str, str], query: str = "", **ids: Any
) -> httpx.Response:
    url = route.url(**ids) + (f"?{query}" if query else "")
    body: dict[str, Any] | None = {} if route.has_body else None
    return client.request(route.method, url, headers=headers, json=body)


def auth_on_every_route(t: Target) -> Findings:
    f = Findings("auth")
    protected = t.protected()
    f.check(len(protected) >= 19, f"only {len(protected)} protected routes found; is the route walk broken?")
    secrets_ = t.keys.secret_parts()
    with t.client() as client:
        created = client.post("/api/documents", json={"title": "auth probe", "text": "x"}, headers=bearer(t.keys.alice))
        f.check(created.status_code == 201, f"alice could not create a document: {created.status_code}")
        ids = {"doc_id": created.json().get("id", "1") if created.status_code == 201 else "1", "version": 1}
        for route in sorted(protected, key=lambda r: r.method == "DELETE"):  # a DELETE that gets through: last
            name = f"{route.method} {route.path}"
            for what, headers, query in bad_credentials(t):
                r = _send(client, route, headers, query, **ids)
                ok = r.status_code == 401 and error_type(r) == "unauthorized"
                f.check(ok, f"{name} with {what}: {r.status_code}, expected 401")
                if r.status_code == 401:
                    f.check("www-authenticate" in r.headers, f"{name} with {what}: 401 without WWW-Authenticate")
                f.check(not any(s in r.text for s in secrets_), f"{name} with {what}: the answer quotes a key")
            r = _send(client, route, bearer(t.keys.disabled), **ids)
            f.check(r.status_code == 403, f"{name} with a disabled user's key: {r.status_code}, expected 403")
            if route.method == "GET":  # HEAD must not slip past the key either
                r = client.head(route.url(**ids))
                f.check(r.status_code in (401, 405), f"HEAD {route.path} without a key: {r.status_code}")
        # The control: each route exists and a good key passes, so the refusals above mean something. Routes
        # under an object type get a real object of alice's (cross_user's factories); deeper DELETEs go first.
        from .cross_user import FACTORIES, collection_of

        made: dict[str, dict[str, Any]] = {}
        for route in sorted(protected, key=lambda r: (r.method == "DELETE", -len(r.path))):
            kind = collection_of(route)
            if route.params and kind in FACTORIES and kind != "/api/documents" and kind not in made:
                made[kind] = FACTORIES[kind][0](client, t.keys.alice)
            r = _send(client, route, bearer(t.keys.alice), **{**ids, **made.get(kind, {})})
            f.check(
                r.status_code not in (401, 403, 404, 405),
                f"{route.method} {route.path} with alice's key: {r.status_code}",
            )
    public_and_metrics(t, f)
    header_parity(t, f)
    return f


def public_and_metrics(t: Target, f: Findings) -> None:
    with t.client() as client:
        for path in ("/healthz", "/readyz", "/openapi.json", "/docs", "/", "/static/app.js"):
            r = client.get(path)
            f.check(r.status_code == 200, f"GET {path} without a key: {r.status_code}, expected 200 (public)")
        if not t.config.public_metrics:
            r = client.get("/metrics")
            f.check(r.status_code == 401, f"GET /metrics without a key: {r.status_code}, expected 401")
            r = client.get("/metrics", headers=bearer(t.keys.alice))
            f.check(r.status_code == 403, f"GET /metrics with a user's key: {r.status_code}, expected 403")
            r = client.get("/metrics", headers=bearer(t.keys.revoked))
            f.check(r.status_code == 401, f"GET /metrics with a revoked key: {r.status_code}, expected 401")
        r = client.get("/metrics", headers=bearer(t.keys.admin))
        f.check(r.status_code == 200, f"GET /metrics with an admin's key: {r.status_code}, expected 200")


def header_parity(t: Target, f: Findings) -> None:
    """The limited user's requests per minute are one budget, whichever header carries the key."""
    from draftsmith.store import accounts

    rpm, name = t.keys.limited_rpm, f"parity-{secrets.token_hex(4)}"
    accounts.add_user(t.store, name, requests_per_minute=rpm)  # a fresh bucket for every run
    key, _ = accounts.create_key(t.store, name)
    ways = [bearer(key), {"X-API-Key": key}, {"Authorization": f"bearer {key}"}, {**bearer(key), "X-API-Key": key}]
    with t.client() as client:
        for i in range(rpm):
            r = client.get("/api/documents", headers=ways[i % len(ways)])
            f.check(r.status_code == 200, f"limited key, request {i + 1} of {rpm}: {r.status_code}, expected 200")
        for way in ways:
            r = client.get("/api/documents", headers=way)
            f.check(
                r.status_code == 429 and "retry-after" in r.headers,
                f"limited key past its {rpm}/min via {sorted(way)}: {r.status_code}, expected 429 + Retry-After",
            )


SERVE = [sys.executable, "-c", "from draftsmith.cli import entry; entry()", "serve", "--model", "fake"]


def refuses_open_bind(home: Path, timeout_s: float = 60, command: list[str] | None = None) -> Findings:
    """``draftsmith serve`` on a non-loopback address: refused without --allow-remote, and refused with it while
    no key exists (``home`` must be an empty DRAFTSMITH_HOME). Runs the real command (or ``command``)."""
    f = Findings("auth-bind")
    env = {**os.environ, "DRAFTSMITH_HOME": str(home)}
    cli = command or SERVE
    for extra, what in (([], "without --allow-remote"), (["--allow-remote"], "with --allow-remote and no key")):
        port = str(free_port())
        try:
            done = subprocess.run(
                [*cli, "--host", "0.0.0.0", "--port", port, *extra],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            f.check(False, f"serve --host 0.0.0.0 {what}: still running after {timeout_s:g} s (it started)")
            continue
        f.check(done.returncode == 2, f"serve --host 0.0.0.0 {what}: exit {done.returncode}, expected 2")
        f.check("refusing to listen" in done.stderr, f"serve --host 0.0.0.0 {what}: no refusal message")
    return f
