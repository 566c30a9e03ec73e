"""Group 2: user B with user A's ids gets 404 on every route that takes an id, and nothing changes."""

from __future__ import annotations

import pytest

from draftsmith.store import documents

from .conftest import serve_app
from .probes.core import RouteInfo
from .probes.cross_user import FACTORIES, collection_of, no_cross_user_access


def test_bob_cannot_reach_alices_objects_on_any_route(target):
    findings = no_cross_user_access(target)
    assert not findings.failures, findings.summary()
    assert findings.total >= 40


def test_every_object_type_with_routes_has_a_factory(target):
    collections = {collection_of(r) for r in target.protected() if r.params}
    assert collections and collections <= set(FACTORIES)
    assert collection_of(RouteInfo("/api/kb/{kb_id}/documents", "GET")) == "/api/kb"


def test_with_owner_scoping_removed_the_probe_fails(sec_store, keys, monkeypatch: pytest.MonkeyPatch):
    real_row = documents._row
    monkeypatch.setattr(documents, "_row", lambda conn, doc_id, owner: real_row(conn, doc_id, None))
    with serve_app(sec_store, keys) as t:
        findings = no_cross_user_access(t)
    assert any("bob with alice's ids got 200" in f for f in findings.failures), findings.summary()
    assert any("changed alice's object" in f for f in findings.failures), findings.summary()
