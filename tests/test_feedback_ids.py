"""Every suggestion shown has an id, from every path: ``check``/``correct``/``rewrite``/``continue``/``suggest`` on
the command line (in ``--json``, SARIF), the API answers of those operations (streamed ones in the ``done``
event), recorded per user as shown (the denominator of ``feedback stats``), and answered the way the web editor
answers them (another user's id: 404, nothing recorded). The editor itself is driven in
``tests/test_feedback_web.py``."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from draftsmith.cli import app
from draftsmith.config import Settings
from draftsmith.feedback.personal import MUTE_MIN_ANSWERS
from draftsmith.models.fake import FakeModel, echo_responder
from draftsmith.store import accounts, db, open_store
from draftsmith.store import feedback as fb

TEXT = "The cat sat  on the mat. I has a dog.\n\nTeh end.\n"
runner = CliRunner()


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def store():
    s = open_store()
    yield s
    db.close_all()


@pytest.fixture
def essay(tmp_path):
    path = tmp_path / "essay.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


# -- the command line --------------------------------------------------------------------------------------------


def test_check_json_carries_ids_that_stay_while_unanswered_and_can_be_answered(essay, store):
    first = json.loads(invoke("check", "--format", "json", str(essay)).output)
    ids = [p["suggestion_id"] for p in first["problems"]]
    assert len(ids) == 3 and all(len(i) == 32 for i in ids) and len(set(ids)) == 3
    again = json.loads(invoke("check", "--format", "json", str(essay)).output)
    assert [p["suggestion_id"] for p in again["problems"]] == ids  # shown again unchanged: the same suggestions

    answered = invoke("feedback", "accept", ids[1])
    assert answered.exit_code == 0 and f"accept recorded for {ids[1]}" in answered.output
    suggestion, events = fb.get_suggestion(store, ids[1], owner=None)
    assert suggestion.rule_id == "EN_SVA_BE_HAVE" and suggestion.decision == "accept" and len(events) == 1
    third = json.loads(invoke("check", "--format", "json", str(essay)).output)
    new = [p["suggestion_id"] for p in third["problems"]]
    assert new[0] == ids[0] and new[2] == ids[2] and new[1] != ids[1]  # an answered one is shown anew

    sarif = json.loads(invoke("check", "--format", "sarif", str(essay)).output)
    assert [r["properties"]["suggestionId"] for r in sarif["runs"][0]["results"]] == new

    rows = {r["key"]["operation"]: r for r in json.loads(invoke("feedback", "stats", "--json").output)}
    assert rows["check"]["shown"] == 4 and rows["check"]["answered"] == 1 and rows["check"]["of_shown"] == 0.25


def test_check_no_record_leaves_the_store_alone(essay, draftsmith_home):
    out = invoke("check", "--format", "json", "--no-record", str(essay))
    assert out.exit_code == 1 and all(p["suggestion_id"] is None for p in json.loads(out.output)["problems"])
    assert not (draftsmith_home / "data" / "draftsmith.db").exists() and not list(draftsmith_home.rglob("*.db"))


def test_correct_rewrite_continue_and_suggest_json_carry_ids(essay, tmp_path, store):
    corrected = json.loads(invoke("correct", "--mode", "detectors", "--json", str(essay)).output)
    edit_ids = [e["suggestion_id"] for e in corrected["edits"]]
    assert len(edit_ids) == 3 and all(edit_ids)
    assert invoke("feedback", "reject", edit_ids[0]).exit_code == 0

    short = tmp_path / "short.txt"
    short.write_text("The cat sat on the mat.", encoding="utf-8")
    rewrite = json.loads(invoke("rewrite", str(short), "--style", "formal", "--model", "fake", "--json").output)
    assert rewrite["suggestion_id"] and rewrite["operation"] == "rewrite"
    shown, _ = fb.get_suggestion(store, rewrite["suggestion_id"], owner=None)
    assert shown.category == "formal" and shown.template == "rewrite" and shown.template_version.startswith("builtin")

    nxt = json.loads(invoke("suggest", "next", str(short), "--model", "fake", "--json").output)
    assert nxt["suggestions"] and all(s["suggestion_id"] for s in nxt["suggestions"])
    words = invoke(
        "suggest", "words", "happy", "--context", "I am happy today.", "--model", "fake", "--no-llm", "--json"
    )
    candidates = json.loads(words.output)["candidates"]
    assert candidates and all(c["suggestion_id"] for c in candidates)
    completion, _ = fb.get_suggestion(store, nxt["suggestions"][0]["suggestion_id"], owner=None)
    assert completion.operation == "suggest-next" and completion.start == completion.end == len(completion.context)
    alternative, _ = fb.get_suggestion(store, candidates[0]["suggestion_id"], owner=None)
    assert alternative.original == "happy" and alternative.context[alternative.start : alternative.end] == "happy"

    listed = invoke("feedback", "list", "--limit", "100").output
    assert rewrite["suggestion_id"] in listed and edit_ids[1] in listed


def test_stats_by_every_dimension_once_ids_come_from_all_paths(essay, tmp_path, store):
    checked = json.loads(invoke("check", "--format", "json", str(essay)).output)["problems"]
    corrected = json.loads(invoke("correct", "--mode", "detectors", "--json", str(essay)).output)["edits"]
    short = tmp_path / "short.txt"
    short.write_text("The cat sat on the mat.", encoding="utf-8")
    rewrite = json.loads(invoke("rewrite", str(short), "--style", "formal", "--model", "fake", "--json").output)
    for sid in (checked[0]["suggestion_id"], corrected[1]["suggestion_id"], rewrite["suggestion_id"]):
        assert invoke("feedback", "accept", sid).exit_code == 0
    assert invoke("feedback", "reject", checked[2]["suggestion_id"]).exit_code == 0

    def stats(by: str) -> dict:
        result = invoke("feedback", "stats", "--by", by, "--json")
        assert result.exit_code == 0, result.output
        return {tuple(r["key"].values()): r for r in json.loads(result.output)}

    by_op = stats("operation")
    assert {k: (r["shown"], r["answered"], r["accepted"]) for k, r in by_op.items()} == {
        ("check",): (3, 2, 1),
        ("correct",): (3, 1, 1),
        ("rewrite",): (1, 1, 1),
    }
    assert stats("template")[("rewrite",)]["accepted"] == 1
    assert stats("model")[("detectors",)]["shown"] == 6 and stats("model")[("fake",)]["of_shown"] == 1.0
    by_category = stats("category")
    assert by_category[("spelling",)]["rejected"] == 1 and by_category[("formal",)]["accepted"] == 1
    versions = stats("version")
    assert any(k[0].startswith("rewrite@builtin:") for k in versions)
    assert stats("rule")[("EN_SPELLING",)]["rate"] == 0.0
    table = invoke("feedback", "stats", "--by", "operation,model")
    assert table.exit_code == 0 and "shown" in table.output and "detectors" in table.output


# -- the API, answered the way the editor answers -------------------------------------------------------------------


OWNERS: dict[str, str] = {}  # user name -> user id (the owner of their records)


def key_for(store, name: str) -> dict[str, str]:
    OWNERS[name] = accounts.add_user(store, name, requests_per_minute=0).id
    key, _ = accounts.create_key(store, name)
    return {"Authorization": f"Bearer {key}"}


def corrects(messages, params) -> str:
    """A fake model that fixes TEXT's errors when asked about it, and echoes otherwise."""
    text = echo_responder(messages, params)
    return text.replace("has", "have").replace("Teh", "The").replace("  ", " ") if "I has" in text else text


@pytest.fixture
def client():
    from draftsmith.server import create_app

    return TestClient(create_app(Settings(model="fake", prefix_cache=False), FakeModel(corrects)))


def answer(client, headers, sid: str, event: str, final_text: str | None = None):
    body = {"suggestion_id": sid, "event": event}
    if final_text is not None:
        body["final_text"] = final_text
    return client.post("/v1/feedback", json=body, headers=headers)


def test_api_answers_carry_ids_per_user_and_others_ids_are_404(store, client):
    alice, bob = key_for(store, "alice"), key_for(store, "bob")
    checked = client.post("/api/check", json={"text": TEXT}, headers=alice)
    assert checked.status_code == 200, checked.text
    problems = checked.json()["problems"]
    assert len(problems) == 3 and all(p["suggestion_id"] for p in problems)

    stolen = answer(client, bob, problems[0]["suggestion_id"], "accept")
    assert stolen.status_code == 404 and stolen.json()["error"]["type"] == "not_found"
    suggestion, events = fb.get_suggestion(store, problems[0]["suggestion_id"], owner=OWNERS["alice"])
    assert suggestion.decision is None and events == []  # nothing recorded for bob's attempt
    assert answer(client, alice, problems[0]["suggestion_id"], "accept").status_code == 201
    # What the editor sends for a fix other than the first suggestion, and for "Ignore":
    edited = answer(client, alice, problems[2]["suggestion_id"], "edited_after_accept", "Tech")
    assert edited.status_code == 201
    assert answer(client, alice, problems[1]["suggestion_id"], "reject").status_code == 201
    assert fb.get_suggestion(store, problems[2]["suggestion_id"], owner=OWNERS["alice"])[0].final_text == "Tech"

    corrected = client.post("/api/correct", json={"text": TEXT}, headers=alice).json()
    assert corrected["edits"] and all(e["suggestion_id"] for e in corrected["edits"])
    rewrite = client.post("/api/rewrite", json={"text": "The cat sat.", "style": "formal"}, headers=alice).json()
    assert rewrite["suggestion_id"] and answer(client, alice, rewrite["suggestion_id"], "accept").status_code == 201
    assert fb.get_suggestion(store, rewrite["suggestion_id"], owner=OWNERS["alice"])[0].category == "formal"

    streamed = client.post(
        "/api/rewrite", json={"text": "The dog ran.", "style": "casual", "stream": True}, headers=alice
    )
    done = streamed.text.split("event: done", 1)[1].split("data: ", 1)[1].split("\n", 1)[0]
    continued = json.loads(done)
    assert continued["suggestion_id"] and answer(client, alice, continued["suggestion_id"], "reject").status_code == 201

    nxt = client.post(
        "/api/suggest/next", json={"session": "s1", "text": "The quick brown fox", "n": 1}, headers=alice
    ).json()
    ghost = nxt["suggestions"][0]["suggestion_id"]
    assert answer(client, bob, ghost, "accept").status_code == 404  # Tab in bob's editor cannot answer alice's
    assert answer(client, alice, ghost, "accept").status_code == 201
    words = client.post(
        "/api/suggest/words", json={"phrase": "happy", "context": "I am happy.", "use_llm": False}, headers=alice
    ).json()
    assert all(c["suggestion_id"] for c in words["candidates"])

    stats = {r["key"]["operation"]: r for r in client.get("/v1/feedback/stats", headers=alice).json()}
    assert stats["check"]["shown"] == 3 and stats["check"]["answered"] == 3 and stats["check"]["accepted"] == 2
    assert stats["suggest-next"]["accepted"] == 1
    assert (stats["rewrite"]["accepted"], stats["rewrite"]["rejected"]) == (1, 1)
    assert stats["correct"]["shown"] == len(corrected["edits"]) and stats["correct"]["answered"] == 0
    assert client.get("/v1/feedback/stats", headers=bob).json() == []


def test_rejections_from_the_editor_mute_the_rule_in_its_underlines(store, client):
    alice = key_for(store, "alice")
    text = "The cat sat  on the mat."
    for _ in range(MUTE_MIN_ANSWERS):
        (problem,) = client.post("/api/check", json={"text": text}, headers=alice).json()["problems"]
        assert problem["rule_id"] == "EN_DOUBLE_SPACE"
        assert answer(client, alice, problem["suggestion_id"], "reject").status_code == 201  # "Ignore"
    assert client.post("/api/check", json={"text": text}, headers=alice).json()["problems"] == []
    bob = key_for(store, "bob")
    assert len(client.post("/api/check", json={"text": text}, headers=bob).json()["problems"]) == 1


def test_a_recheck_of_unchanged_text_records_nothing_new(store, client):
    first = client.post("/api/check", json={"text": TEXT}).json()["problems"]
    second = client.post("/api/check", json={"text": TEXT}).json()["problems"]
    assert [p["suggestion_id"] for p in first] == [p["suggestion_id"] for p in second]
    assert len(fb.recent(store, owner=None)) == 3
