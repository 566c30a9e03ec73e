"""Group 1: every non-public route, found in the app itself, refuses every kind of bad key; the limits are the
same whichever header carries the key; a non-loopback bind without keys never starts."""

from __future__ import annotations

import dataclasses
import sys

from draftsmith.config import Settings
from draftsmith.models.fake import FakeModel
from draftsmith.server import ServerConfig, create_app

from .conftest import serve_app
from .probes.auth import auth_on_every_route, refuses_open_bind
from .probes.live import live_target


def test_every_protected_route_refuses_bad_keys_and_the_public_ones_stay_open(target):
    findings = auth_on_every_route(target)
    assert not findings.failures, findings.summary()
    assert findings.total > 500  # routes × attacks


def test_the_routes_come_from_the_app_including_the_ones_left_out_of_the_schema(target):
    paths = {r.path for r in target.routes}
    assert {"/", "/docs", "/static/{path}", "/api/documents/{doc_id}", "/v1/chat/completions"} <= paths
    assert set(target.openapi["paths"]) <= paths


def _some_routes(t, *paths: str):
    return dataclasses.replace(t, routes=[r for r in t.routes if r.path in paths or r.public or r.admin])


def test_with_keys_switched_off_the_probe_fails(sec_store, keys):
    with serve_app(sec_store, keys, auth_required=False) as t:
        findings = auth_on_every_route(_some_routes(t, "/api/documents", "/api/documents/{doc_id}", "/v1/models"))
    assert len(findings.failures) > 50, findings.summary()
    assert any("GET /api/documents/{doc_id} with no key: 200" in f for f in findings.failures), findings.summary()
    assert any("GET /metrics without a key: 200" in f for f in findings.failures), findings.summary()


def test_a_route_added_without_the_key_dependency_is_caught(sec_store, keys):
    app = create_app(Settings(model="fake", prefix_cache=False), FakeModel(), config=ServerConfig(), store=sec_store)

    @app.get("/api/leaky")
    async def leaky() -> dict:
        return {"secret": "everyone can read this"}

    with live_target(app, sec_store, keys) as t:
        findings = auth_on_every_route(_some_routes(t, "/api/leaky", "/api/write", "/api/documents/{doc_id}"))
    leaks = [f for f in findings.failures if "/api/leaky" in f]
    assert leaks, findings.summary()
    assert all("/api/leaky" in f or "protected routes found" in f for f in findings.failures), findings.summary()


def test_serving_beyond_loopback_without_keys_refuses_to_start(tmp_path):
    findings = refuses_open_bind(tmp_path / "empty-home")
    assert not findings.failures, findings.summary()


def test_a_server_that_starts_anyway_fails_the_bind_probe(tmp_path):
    findings = refuses_open_bind(tmp_path / "home", command=[sys.executable, "-c", "pass"])
    assert len(findings.failures) == 4, findings.summary()
