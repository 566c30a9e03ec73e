"""The documents API on a real SQLite store: create, list, save with base_version (409 on a stale save, with
nothing changed), versions, restore, delete; every other user's document is 404 and stays untouched; size
limits; the single-user (no keys) mode sees only documents without an owner."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from draftsmith.config import Settings
from draftsmith.models.fake import FakeModel
from draftsmith.server import ServerConfig, create_app
from draftsmith.store import accounts, db, open_store
from draftsmith.store import documents as docs

SETTINGS = Settings(model="fake", prefix_cache=False)


@pytest.fixture
def store():
    s = open_store()
    yield s
    db.close_all()


def key_for(store, name: str) -> dict[str, str]:
    accounts.add_user(store, name, requests_per_minute=0)
    key, _ = accounts.create_key(store, name)
    return {"Authorization": f"Bearer {key}"}


def make_client(**config) -> TestClient:
    return TestClient(create_app(SETTINGS, FakeModel(), config=ServerConfig(**config)))


def error_of(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == kind, error
    return error


def test_create_edit_history_restore_delete(store):
    ana = key_for(store, "ana")
    client = make_client()
    created = client.post("/api/documents", json={"title": "Notes", "text": "first draft"}, headers=ana)
    assert created.status_code == 201, created.text
    doc = created.json()
    assert doc["version"] == 1 and doc["text"] == "first draft" and doc["title"] == "Notes"
    doc_id = doc["id"]

    saved = client.put(f"/api/documents/{doc_id}", json={"text": "second draft", "base_version": 1}, headers=ana)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2 and saved.json()["title"] == "Notes"
    renamed = client.put(
        f"/api/documents/{doc_id}",
        json={"text": "third draft", "base_version": 2, "title": "Notes v3", "note": "tightened"},
        headers=ana,
    )
    assert renamed.json()["version"] == 3 and renamed.json()["title"] == "Notes v3"

    assert client.get(f"/api/documents/{doc_id}", headers=ana).json()["text"] == "third draft"
    versions = client.get(f"/api/documents/{doc_id}/versions", headers=ana).json()
    assert [(v["version"], v["author"], v["chars"]) for v in versions] == [
        (1, "ana", 11),
        (2, "ana", 12),
        (3, "ana", 11),
    ]
    assert versions[2]["note"] == "tightened"
    assert client.get(f"/api/documents/{doc_id}/versions/1", headers=ana).json()["text"] == "first draft"

    restored = client.post(f"/api/documents/{doc_id}/restore/1", headers=ana)
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 4 and restored.json()["text"] == "first draft"
    assert restored.json()["title"] == "Notes"
    assert len(client.get(f"/api/documents/{doc_id}/versions", headers=ana).json()) == 4

    listed = client.get("/api/documents", headers=ana).json()
    assert [(d["id"], d["version"]) for d in listed] == [(doc_id, 4)]

    assert client.delete(f"/api/documents/{doc_id}", headers=ana).status_code == 204
    error_of(client.get(f"/api/documents/{doc_id}", headers=ana), 404, "not_found")
    assert client.get("/api/documents", headers=ana).json() == []
    with store.read() as conn:  # deleting hides the document; every version stays in the store
        kept = conn.execute(docs.document_versions.select().where(docs.document_versions.c.document_id == doc_id)).all()
    assert len(kept) == 4


def test_a_stale_save_is_409_with_the_current_version_and_changes_nothing(store):
    ana = key_for(store, "ana")
    client = make_client()
    doc_id = client.post("/api/documents", json={"title": "T", "text": "v1"}, headers=ana).json()["id"]
    assert (
        client.put(f"/api/documents/{doc_id}", json={"text": "tab A", "base_version": 1}, headers=ana).status_code
        == 200
    )
    stale = client.put(f"/api/documents/{doc_id}", json={"text": "tab B", "base_version": 1}, headers=ana)
    error = error_of(stale, 409, "version_conflict")
    assert error["details"] == [{"current_version": 2}]
    assert "reload" in error["message"]
    current = client.get(f"/api/documents/{doc_id}", headers=ana).json()
    assert (current["version"], current["text"]) == (2, "tab A")
    ahead = client.put(f"/api/documents/{doc_id}", json={"text": "x", "base_version": 7}, headers=ana)
    error_of(ahead, 409, "version_conflict")


def test_two_concurrent_saves_from_one_version_one_wins(store):
    ana = key_for(store, "ana")
    client = make_client()
    doc_id = client.post("/api/documents", json={"title": "T", "text": "v1"}, headers=ana).json()["id"]
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def save(i: int) -> None:
        barrier.wait()
        r = client.put(f"/api/documents/{doc_id}", json={"text": f"edit {i}", "base_version": 1}, headers=ana)
        statuses.append(r.status_code)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(statuses) == [200, 409, 409, 409]
    assert len(client.get(f"/api/documents/{doc_id}/versions", headers=ana).json()) == 2


def test_another_users_document_is_404_everywhere_and_untouched(store):
    ana, bob = key_for(store, "ana"), key_for(store, "bob")
    client = make_client()
    doc_id = client.post("/api/documents", json={"title": "Ana's", "text": "private"}, headers=ana).json()["id"]
    client.post("/api/documents", json={"title": "Bob's", "text": "his"}, headers=bob)

    attempts = [
        client.get(f"/api/documents/{doc_id}", headers=bob),
        client.put(f"/api/documents/{doc_id}", json={"text": "hijacked", "base_version": 1}, headers=bob),
        client.delete(f"/api/documents/{doc_id}", headers=bob),
        client.get(f"/api/documents/{doc_id}/versions", headers=bob),
        client.get(f"/api/documents/{doc_id}/versions/1", headers=bob),
        client.post(f"/api/documents/{doc_id}/restore/1", headers=bob),
    ]
    unknown = client.get("/api/documents/" + "0" * 32, headers=bob)
    for response in attempts:
        error = error_of(response, 404, "not_found")
        assert "private" not in response.text and "Ana" not in response.text
        assert error["message"] == f"no document {doc_id}"
    assert unknown.json()["error"]["message"] == f"no document {'0' * 32}"  # same shape as a real id
    assert [d["title"] for d in client.get("/api/documents", headers=bob).json()] == ["Bob's"]
    mine = client.get(f"/api/documents/{doc_id}", headers=ana).json()
    assert (mine["version"], mine["text"]) == (1, "private")


def test_bad_ids_versions_and_bodies(store):
    ana = key_for(store, "ana")
    client = make_client()
    doc_id = client.post("/api/documents", json={"title": "T", "text": "v1"}, headers=ana).json()["id"]
    error_of(client.get("/api/documents/nope", headers=ana), 404, "not_found")
    error_of(client.get("/api/documents/..%2F..%2Fetc", headers=ana), 404, "not_found")
    error_of(client.get(f"/api/documents/{doc_id}/versions/9", headers=ana), 404, "not_found")
    error_of(client.post(f"/api/documents/{doc_id}/restore/9", headers=ana), 404, "not_found")
    error_of(client.get(f"/api/documents/{doc_id}/versions/0", headers=ana), 422, "validation_error")
    error_of(client.get("/api/documents/" + "a" * 65, headers=ana), 422, "validation_error")
    error_of(client.put(f"/api/documents/{doc_id}", json={"text": "x"}, headers=ana), 422, "validation_error")
    error_of(
        client.put(f"/api/documents/{doc_id}", json={"text": "x", "base_version": 1, "owner": "bob"}, headers=ana),
        422,
        "validation_error",
    )
    error_of(client.post("/api/documents", json={"title": "", "text": "x"}, headers=ana), 422, "validation_error")


def test_size_limits(store):
    ana = key_for(store, "ana")
    client = make_client(max_document_chars=1000, max_body_bytes=64 * 1024)
    error = error_of(client.post("/api/documents", json={"text": "x" * 1001}, headers=ana), 413, "document_too_large")
    assert "1,000" in error["message"]
    doc_id = client.post("/api/documents", json={"text": "x" * 1000}, headers=ana).json()["id"]
    too_big = client.put(f"/api/documents/{doc_id}", json={"text": "y" * 1001, "base_version": 1}, headers=ana)
    error_of(too_big, 413, "document_too_large")
    error_of(client.post("/api/documents", json={"text": "z" * 100_000}, headers=ana), 413, "request_too_large")
    assert client.get(f"/api/documents/{doc_id}", headers=ana).json()["version"] == 1


def test_without_keys_the_single_user_sees_only_unowned_documents(store):
    client = make_client()  # no users yet: no keys needed
    doc_id = client.post("/api/documents", json={"title": "Mine", "text": "local"}).json()["id"]
    assert client.put(f"/api/documents/{doc_id}", json={"text": "local 2", "base_version": 1}).status_code == 200
    owned = docs.create_document(store, "Someone's", "theirs", owner="someone")

    assert [d["id"] for d in client.get("/api/documents").json()] == [doc_id]
    error_of(client.get(f"/api/documents/{owned.id}"), 404, "not_found")
    error_of(client.delete(f"/api/documents/{owned.id}"), 404, "not_found")
    assert client.get(f"/api/documents/{doc_id}").json()["owner"] is None

    ana = key_for(store, "ana")  # the first user: keys from now on, and ana does not see unowned documents
    error_of(client.get(f"/api/documents/{doc_id}"), 401, "unauthorized")
    error_of(client.get(f"/api/documents/{doc_id}", headers=ana), 404, "not_found")


def test_diff_between_versions_word_by_word(store):
    ana, ben = key_for(store, "ana"), key_for(store, "ben")
    client = make_client()
    doc = client.post("/api/documents", json={"text": "The meeting moved to 3."}, headers=ana).json()
    url = f"/api/documents/{doc['id']}"
    client.put(url, json={"text": "The meeting has moved to 3 pm.", "base_version": 1}, headers=ana)
    client.put(url, json={"text": "我们明天去公园。The meeting has moved to 3 pm.", "base_version": 2}, headers=ana)

    latest = client.get(f"{url}/diff", headers=ana)
    assert latest.status_code == 200, latest.text
    d = latest.json()
    assert (d["from_version"], d["to_version"]) == (2, 3)
    assert d["parts"][0] == {"op": "insert", "text": "我们明天去公园。"} and d["inserted"] == 8 and d["deleted"] == 0
    first = client.get(f"{url}/diff?from_version=1&to_version=2", headers=ana).json()
    changed = [(p["op"], p["text"]) for p in first["parts"] if p["op"] != "equal"]
    assert changed == [("insert", " has"), ("insert", " pm")]
    kept = {"equal", "insert"}
    assert "".join(p["text"] for p in first["parts"] if p["op"] in kept) == "The meeting has moved to 3 pm."
    assert "".join(p["text"] for p in first["parts"] if p["op"] != "insert") == "The meeting moved to 3."

    error_of(client.get(f"{url}/diff?to_version=9", headers=ana), 404, "not_found")
    error_of(client.get(f"{url}/diff?from_version=0", headers=ana), 422, "validation_error")
    assert client.get(f"{url}/diff", headers=ben).json() == {
        "error": {"type": "not_found", "message": f"no document {doc['id']}"}
    }
