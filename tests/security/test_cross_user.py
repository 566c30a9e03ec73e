"""Group 2: user B with user A's ids gets 404 on every route that takes an id, and nothing changes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from draftsmith.store import accounts, documents

from .conftest import serve_app
from .probes.core import RouteInfo
from .probes.cross_user import (
    BODY_REFERENCES,
    FACTORIES,
    body_references,
    collection_of,
    no_cross_user_access,
    no_cross_user_reference,
)


def test_bob_cannot_reach_alices_objects_on_any_route(target):
    findings = no_cross_user_access(target)
    assert not findings.failures, findings.summary()
    assert findings.total >= 40


def test_every_object_type_with_routes_has_a_factory(target):
    collections = {collection_of(r) for r in target.protected() if r.params}
    assert collections and collections <= set(FACTORIES)
    assert collection_of(RouteInfo("/api/kb/{kb_id}/documents", "GET")) == "/api/kb"


def test_bob_cannot_name_alices_objects_in_request_bodies(target):
    findings = no_cross_user_reference(target)
    assert not findings.failures, findings.summary()
    assert findings.total >= 4 * len(BODY_REFERENCES)


def test_every_body_field_that_names_an_object_is_probed(target):
    assert body_references(target.openapi) == {(m, p, name) for m, p, name, *_ in BODY_REFERENCES}


def test_with_owner_scoping_removed_the_probe_fails(sec_store, keys, monkeypatch: pytest.MonkeyPatch):
    real_row = documents._row
    monkeypatch.setattr(documents, "_row", lambda conn, doc_id, owner: real_row(conn, doc_id, None))
    with serve_app(sec_store, keys) as t:
        findings = no_cross_user_access(t)
    assert any("bob with alice's ids got 200" in f for f in findings.failures), findings.summary()
    assert any("changed alice's object" in f for f in findings.failures), findings.summary()


def test_with_the_profile_owner_check_removed_the_body_probe_fails(sec_store, keys, monkeypatch: pytest.MonkeyPatch):
    real = accounts.get_style_profile

    def anyones(store, owner, profile_id):  # the owner check forgotten: any user's profile by its id
        query = sa.select(accounts.style_profiles.c.owner).where(accounts.style_profiles.c.id == profile_id)
        with store.read() as conn:
            owner_of = conn.scalar(query)
        return None if owner_of is None else real(store, owner_of, profile_id)

    monkeypatch.setattr(accounts, "get_style_profile", anyones)
    with serve_app(sec_store, keys) as t:
        findings = no_cross_user_reference(t)
    wanted = "POST /api/rewrite (profile_id): bob naming alice's object got 200"
    assert wanted in findings.failures, findings.summary()
