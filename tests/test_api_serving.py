"""The serving endpoints beyond the writing operations, on a real SQLite store and the fake model: check,
readability, autocomplete sessions (state, cancellation), word alternatives, knowledge bases (upload under
generated names, search, grounded write, remove), styles (list, score, learn per user), evaluation runs (start in
the background, show, compare), and the per-key max_tokens cap. Each user sees only their own objects."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from draftsmith.config import Settings
from draftsmith.models.base import Chunk, GenParams
from draftsmith.models.fake import FakeModel
from draftsmith.server import ServerConfig, create_app
from draftsmith.store import accounts, db, open_store

SETTINGS = Settings(model="fake", prefix_cache=False)
ENGLISH = (
    "The committee met on Tuesday to review the budget. Members argued about the cost of the new library, "
    "and the chair asked for a clearer plan before the vote. Several residents spoke in favour of the project."
)


@pytest.fixture
def store():
    s = open_store()
    yield s
    db.close_all()


def key_for(store, name: str, **limits) -> dict[str, str]:
    accounts.add_user(store, name, requests_per_minute=0)
    key, _ = accounts.create_key(store, name, **limits)
    return {"Authorization": f"Bearer {key}"}


def client_for(model=None, **config) -> TestClient:
    return TestClient(create_app(SETTINGS, model or FakeModel(), config=ServerConfig(**config)))


def test_check_reports_offsets_rule_ids_and_suggestions(store):
    ana = key_for(store, "ana")
    text = "This is a sentense with a error."
    r = client_for().post("/api/check", json={"text": text, "lang": "en"}, headers=ana)
    assert r.status_code == 200, r.text
    problems = r.json()["problems"]
    spelled = next(p for p in problems if p["flagged"] == "sentense")
    assert text[spelled["start"] : spelled["end"]] == "sentense"
    assert spelled["rule_id"] and "sentence" in spelled["suggestions"] and spelled["message"]
    assert client_for().post("/api/check", json={"text": "  "}, headers=ana).status_code == 400


def test_readability_figures(store):
    ana = key_for(store, "ana")
    r = client_for().post("/api/readability", json={"text": ENGLISH}, headers=ana)
    assert r.status_code == 200, r.text
    assert r.json()["language"] == "en" and r.json()["sentences"]["count"] == 3


def test_autocomplete_keeps_state_across_keystrokes_and_sessions_are_per_user(store):
    ana, ben = key_for(store, "ana"), key_for(store, "ben")
    model = FakeModel(lambda m, p: " quick brown fox jumps over the lazy dog.")
    client = client_for(model)
    first = client.post("/api/suggest/next", json={"session": "s1", "text": "The"}, headers=ana)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["suggestions"] and body["suggestions"][0]["text"].startswith(" quick") and not body["shifted"]
    calls = len(model.calls)
    typed = client.post("/api/suggest/next", json={"session": "s1", "text": "The qu"}, headers=ana).json()
    assert typed["shifted"] and typed["suggestions"][0]["text"].startswith("ick")
    assert len(model.calls) == calls  # shifted, not regenerated
    # ben's session of the same name is his own: nothing shown to ana is shifted for him
    other = client.post("/api/suggest/next", json={"session": "s1", "text": "The qu"}, headers=ben).json()
    assert not other["shifted"]
    cancelled = client.post("/api/suggest/cancel", json={"session": "s1"}, headers=ben).json()
    assert cancelled == {"session": "s1", "cancelled": True}
    assert client.post("/api/suggest/cancel", json={"session": "nope"}, headers=ben).json()["cancelled"] is False


def test_a_new_keystroke_cancels_the_one_in_flight(store):
    ana = key_for(store, "ana")
    started = threading.Event()

    class Slow(FakeModel):
        def stream_text(self, prompt: str, params: GenParams):
            for word in ([" one", " two", " three", " four", " five", " six"] * 20)[: params.max_tokens]:
                started.set()
                time.sleep(0.05)
                yield Chunk(text=word)

    client = client_for(Slow(), concurrency=1, queue_size=4)
    results: dict[str, dict] = {}

    def keystroke(name: str, text: str) -> None:
        body = {"session": "doc", "text": text, "max_tokens": 64, "n": 1}
        results[name] = client.post("/api/suggest/next", json=body, headers=ana).json()
        results[name]["_at"] = time.perf_counter()

    first = threading.Thread(target=keystroke, args=("first", "Count"))
    first.start()
    assert started.wait(10)
    begun = time.perf_counter()
    keystroke("second", "Count:")
    first.join(10)
    assert results["first"]["cancelled"] is True, results["first"]
    assert results["first"]["_at"] - begun < 1.5  # it stopped at once, not after its 64 tokens (3.2 s)


def test_suggest_words_lists_alternatives(store):
    ana = key_for(store, "ana")
    r = client_for().post(
        "/api/suggest/words",
        json={"phrase": "big", "context": "It was a big house.", "use_llm": False, "n": 5},
        headers=ana,
    )
    assert r.status_code == 200, r.text
    assert r.json()["phrase"] == "big"


def test_knowledge_base_upload_search_write_remove(store):
    ana, ben = key_for(store, "ana"), key_for(store, "ben")
    client = client_for(FakeModel("The library will cost four million [1]."))
    assert client.post("/api/kb", json={"name": "notes"}, headers=ana).status_code == 201
    doc = b"# Library\n\nThe new library will cost four million euros and open in 2027.\n"
    up = client.post("/api/kb/notes/documents?filename=../../etc/passwd.md", content=doc, headers=ana)
    assert up.status_code == 201, up.text
    stored = up.json()["name"]
    assert stored.endswith(".md") and "passwd" not in stored and "/" not in stored
    shown = client.get("/api/kb/notes", headers=ana).json()
    assert [d["name"] for d in shown["documents_list"]] == [stored]
    bad = client.post("/api/kb/notes/documents?filename=x.exe", content=b"MZ", headers=ana)
    assert bad.status_code == 400
    hits = client.post("/api/kb/notes/search", json={"query": "library cost"}, headers=ana)
    assert hits.status_code == 200 and hits.json()[0]["document"] == stored
    wrote = client.post("/api/kb/notes/write", json={"instruction": "How much will the library cost?"}, headers=ana)
    assert wrote.status_code == 200, wrote.text
    refs = wrote.json()["references"]
    assert refs and refs[0]["source"] == stored
    # ben has no knowledge base "notes": 404 everywhere, and his list is empty
    assert client.get("/api/kb/notes", headers=ben).status_code == 404
    assert client.post("/api/kb/notes/search", json={"query": "library"}, headers=ben).status_code == 404
    assert client.get("/api/kb", headers=ben).json() == []
    assert client.delete(f"/api/kb/notes/documents/{stored}", headers=ana).status_code == 204
    assert client.get("/api/kb/notes", headers=ana).json()["documents"] == 0
    assert client.delete("/api/kb/notes", headers=ana).status_code == 204
    assert client.get("/api/kb/notes", headers=ana).status_code == 404


def test_styles_list_score_and_learn_per_user(store):
    ana, ben = key_for(store, "ana"), key_for(store, "ben")
    client = client_for()
    listed = client.get("/api/styles", headers=ana).json()
    names = [s["name"] for s in listed["styles"]]
    assert {"academic", "casual", "formal"} <= set(names) and listed["profiles"] == []
    scored = client.post("/api/styles/score", json={"text": ENGLISH, "style": "news"}, headers=ana)
    assert scored.status_code == 200, scored.text
    assert 0 <= scored.json()["score"] <= 1
    samples = [ENGLISH + f" Sample {i} adds a sentence about the weather, which was mild." for i in range(6)]
    learned = client.post("/api/styles/profiles", json={"name": "minutes", "samples": samples}, headers=ana)
    assert learned.status_code == 201, learned.text
    pid = learned.json()["id"]
    assert client.get(f"/api/styles/profiles/{pid}", headers=ana).json()["name"] == "minutes"
    mine = client.post("/api/styles/score", json={"text": ENGLISH, "profile_id": pid}, headers=ana)
    assert mine.status_code == 200 and mine.json()["score"] > 0.5
    assert client.get(f"/api/styles/profiles/{pid}", headers=ben).status_code == 404
    assert client.post("/api/styles/score", json={"text": ENGLISH, "profile_id": pid}, headers=ben).status_code == 404
    assert client.get("/api/styles", headers=ben).json()["profiles"] == []
    assert client.delete(f"/api/styles/profiles/{pid}", headers=ben).status_code == 404
    assert client.delete(f"/api/styles/profiles/{pid}", headers=ana).status_code == 204


def test_eval_runs_start_show_compare_per_user(store):
    ana, ben = key_for(store, "ana"), key_for(store, "ben")
    client = client_for(FakeModel(lambda m, p: "The cat sat on the mat."))
    items = [
        {"id": i, "source": "The cat sit on the mat.", "references": ["The cat sat on the mat."]} for i in range(3)
    ]
    ids = []
    for _ in range(2):
        started = client.post("/api/eval/runs", json={"task": "correct", "items": items}, headers=ana)
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        ids.append(run_id)
        for _ in range(200):
            run = client.get(f"/api/eval/runs/{run_id}", headers=ana).json()
            if run["status"] != "running":
                break
            time.sleep(0.05)
        assert run["status"] == "done", run
    assert [r["id"] for r in client.get("/api/eval/runs", headers=ana).json()] == ids[::-1]
    assert client.get("/api/eval/runs", headers=ben).json() == []
    assert client.get(f"/api/eval/runs/{ids[0]}", headers=ben).status_code == 404
    compared = client.post("/api/eval/compare", json={"runs": ids}, headers=ana)
    assert compared.status_code == 200, compared.text
    assert compared.json()["base"] == ids[0] and compared.json()["differences"]
    assert client.post("/api/eval/compare", json={"runs": ids}, headers=ben).status_code == 404


def test_per_key_max_tokens_cap_is_the_lower_of_key_user_and_server(store):
    capped = key_for(store, "ana", max_tokens=50)
    accounts.add_user(store, "ben", requests_per_minute=0, max_tokens=80)
    ben_key, _ = accounts.create_key(store, "ben")
    ben = {"Authorization": f"Bearer {ben_key}"}
    client = client_for(max_tokens_cap=60)
    for headers, cap in ((capped, 50), (ben, 60)):
        over = client.post("/api/write", json={"instruction": "x", "max_tokens": cap + 1}, headers=headers)
        assert over.status_code == 422, over.text
        assert (
            client.post("/api/write", json={"instruction": "x", "max_tokens": cap}, headers=headers).status_code == 200
        )
        chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": cap + 1}
        assert client.post("/v1/chat/completions", json=chat, headers=headers).status_code == 422
    accounts.set_limits(store, "ben", max_tokens=40)
    assert client.post("/api/write", json={"instruction": "x", "max_tokens": 41}, headers=ben).status_code == 422
    assert [k.max_tokens for k in accounts.list_keys(store, "ana")] == [50]


def test_max_tokens_columns_are_added_to_an_old_store(tmp_path):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = db.Store(url, migrate=False)
    with old.write() as conn:
        db.schema_migrations.create(conn, checkfirst=True)
        conn.execute(
            sa.text(
                "CREATE TABLE users (id VARCHAR(32) PRIMARY KEY, name VARCHAR(64), role VARCHAR(16), "
                "requests_per_minute INTEGER, tokens_per_day INTEGER, created_at FLOAT, disabled_at FLOAT)"
            )
        )
        conn.execute(
            sa.text(
                "CREATE TABLE api_keys (id VARCHAR(12) PRIMARY KEY, user_id VARCHAR(32), hash VARCHAR(64),"
                " label VARCHAR(200), created_at FLOAT, expires_at FLOAT, revoked_at FLOAT, "
                "last_used_at FLOAT, bucket_tokens FLOAT, bucket_at FLOAT)"
            )
        )
        conn.execute(
            sa.text(
                "CREATE TABLE token_usage (user_id VARCHAR(32), day VARCHAR(10), tokens BIGINT, "
                "requests INTEGER, PRIMARY KEY (user_id, day))"
            )
        )
        conn.execute(db.schema_migrations.insert().values(area="accounts", version=1, name="m0001", applied_at=0.0))
    old.close()
    store = db.Store(url)
    accounts.add_user(store, "eve", max_tokens=10)
    key, _ = accounts.create_key(store, "eve", max_tokens=5)
    assert accounts.authenticate(store, key).max_tokens == 5
    store.close()


def test_rewrite_with_the_callers_own_learned_profile(store):
    ana, ben = key_for(store, "ana"), key_for(store, "ben")
    model = FakeModel(lambda m, p: "The board met on Monday to go over the plan.")
    client = client_for(model)
    samples = [ENGLISH + f" Sample {i} adds a sentence about the weather, which was mild." for i in range(6)]
    pid = client.post("/api/styles/profiles", json={"name": "minutes", "samples": samples}, headers=ana).json()["id"]
    text = "hey so the board got together monday and went over the plan"
    got = client.post("/api/rewrite", json={"text": text, "profile_id": pid, "seed": 1}, headers=ana)
    assert got.status_code == 200, got.text
    assert got.json()["style"] == "minutes" and got.json()["text"].startswith("The board met on Monday")
    prompt = "\n".join(m.content for m in model.calls[-1])
    assert "Sample lines in this style" in prompt and "committee met on Tuesday" in prompt  # used as learned
    streamed = client.post("/api/rewrite", json={"text": text, "profile_id": pid, "stream": True}, headers=ana)
    assert streamed.status_code == 200 and "event: done" in streamed.text
    for who, body in ((ben, {"profile_id": pid}), (ana, {"profile_id": "0" * 32})):
        missing = client.post("/api/rewrite", json={"text": text, **body}, headers=who)
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found", missing.text
    for body in ({}, {"style": "formal", "profile_id": pid}):
        both = client.post("/api/rewrite", json={"text": text, **body}, headers=ana)
        assert both.status_code == 400 and both.json()["error"]["type"] == "input_error"
    plain = client.post("/api/rewrite", json={"text": text, "style": "formal"}, headers=ana)
    assert plain.status_code == 200 and plain.json()["style"] == "formal"
    assert "Sample lines in this style" not in "\n".join(m.content for m in model.calls[-1])
