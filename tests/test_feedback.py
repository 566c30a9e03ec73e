"""The feedback loop: ids for what is shown, answers per user (another user's id is not found and nothing is
recorded), acceptance rates with Wilson intervals, purge, muted rules and the personal dictionary applied to the
detectors, the CLI (including ``correct --interactive`` fed through stdin), the HTTP routes, and
``finetune prepare --from-edits``."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from draftsmith import feedback
from draftsmith.checking import check_text
from draftsmith.cli import app
from draftsmith.config import Settings
from draftsmith.errors import InputError
from draftsmith.feedback.pairs import eval_items, pairs
from draftsmith.feedback.personal import MUTE_MIN_ANSWERS, applied, personal
from draftsmith.feedback.rates import rates, wilson
from draftsmith.store import accounts, db, open_store
from draftsmith.store import feedback as fb
from draftsmith.writing.correct import correct

DOUBLE = "The cat sat  on the mat."  # EN_DOUBLE_SPACE at 11..13


@pytest.fixture
def store():
    s = open_store()
    yield s
    db.close_all()


def spaces(n: int = 1) -> list[fb.Shown]:
    return [
        fb.Shown(
            operation="check",
            context=DOUBLE,
            start=11,
            end=13,
            original="  ",
            suggestion=" ",
            rule_id="EN_DOUBLE_SPACE",
            category="punctuation",
        )
        for _ in range(n)
    ]


def spelling(word: str, n: int = 1) -> list[fb.Shown]:
    return [
        fb.Shown(
            operation="check", context=f"I use {word} daily.", original=word, suggestion="x", rule_id="EN_SPELLING"
        )
        for _ in range(n)
    ]


# -- store -----------------------------------------------------------------------------------------------------


def test_ids_are_issued_per_item_and_answers_are_owned(store):
    ids = feedback.shown(store, spaces(2), owner="alice")
    assert len(set(ids)) == 2 and all(len(i) == 32 for i in ids)
    event = feedback.record(store, ids[0], "accept", owner="alice")
    assert event.event == "accept"

    with pytest.raises(fb.SuggestionNotFound, match="no suggestion"):
        feedback.record(store, ids[1], "reject", owner="bob")  # someone else's id
    with pytest.raises(fb.SuggestionNotFound):
        feedback.record(store, "0" * 32, "reject", owner="alice")  # no such id
    with pytest.raises(fb.SuggestionNotFound):
        feedback.record(store, ids[1], "reject")  # the local user is not alice either
    suggestion, events = fb.get_suggestion(store, ids[1], owner="alice")
    assert suggestion.decision is None and events == []  # nothing was recorded by the refused answers

    with pytest.raises(InputError, match="final text"):
        feedback.record(store, ids[1], "edited_after_accept", owner="alice")
    with pytest.raises(InputError, match="unknown feedback event"):
        feedback.record(store, ids[1], "maybe", owner="alice")


def test_latest_answer_wins_and_edits_keep_the_final_text(store):
    (sid,) = feedback.shown(store, spaces(1))
    feedback.record(store, sid, "reject")
    feedback.record(store, sid, "accept")
    feedback.record(store, sid, "edited_after_accept", final_text=" , ")
    suggestion, events = fb.get_suggestion(store, sid, owner=None)
    assert [e.event for e in events] == ["reject", "accept", "edited_after_accept"]
    assert suggestion.decision == "accept" and suggestion.edited and suggestion.final_text == " , "


def test_long_texts_are_kept_as_a_bounded_window_around_the_span(store):
    text = "word " * 5000 + "Teh" + " word" * 5000
    start = text.index("Teh")
    (sid,) = feedback.shown(
        store, [fb.Shown(operation="check", context=text, start=start, end=start + 3, original="Teh", suggestion="The")]
    )
    s, _ = fb.get_suggestion(store, sid, owner=None)
    assert len(s.context) <= fb.MAX_CONTEXT
    assert s.context[s.start : s.end] == "Teh"


# -- stats ---------------------------------------------------------------------------------------------------------


def test_wilson_interval_matches_the_textbook_values():
    low, high = wilson(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(0, 5)
    assert low == 0.0 and 0.4 < high < 0.45  # never a zero-width interval at the edge


def test_stats_by_rule_and_version(store):
    ids = feedback.shown(store, spaces(4) + spelling("Teh", 2))
    for i in ids[:3]:
        feedback.record(store, i, "reject")
    for i in ids[3:]:
        feedback.record(store, i, "accept")
    by_rule = {r.key["rule"]: r for r in feedback.stats(store, "rule")}
    assert (by_rule["EN_DOUBLE_SPACE"].answered, by_rule["EN_DOUBLE_SPACE"].accepted) == (4, 1)
    assert by_rule["EN_DOUBLE_SPACE"].low < 0.25 < by_rule["EN_DOUBLE_SPACE"].high
    assert by_rule["EN_SPELLING"].rate == 1.0
    both = feedback.stats(store, "operation,version")
    assert both[0].key == {"operation": "check", "version": "-@-"} and both[0].answered == 6
    with pytest.raises(InputError, match="cannot group by colour"):
        feedback.stats(store, "colour")
    assert rates([], "model") == []


def test_purge_deletes_only_the_callers_records(store):
    mine = feedback.shown(store, spaces(2), owner="alice")
    theirs = feedback.shown(store, spaces(1), owner="bob")
    feedback.record(store, mine[0], "accept", owner="alice")
    feedback.record(store, theirs[0], "reject", owner="bob")
    assert feedback.purge(store, owner="alice") == 2
    assert feedback.stats(store, owner="alice") == []
    assert feedback.stats(store, owner="bob")[0].rejected == 1
    with pytest.raises(fb.SuggestionNotFound):
        feedback.record(store, mine[1], "accept", owner="alice")


# -- what the detectors learn --------------------------------------------------------------------------------------


def test_a_mostly_rejected_rule_is_muted_for_that_user_only(store):
    ids = feedback.shown(store, spaces(MUTE_MIN_ANSWERS), owner="alice")
    for i in ids[:-1]:
        feedback.record(store, i, "reject", owner="alice")
    assert "EN_DOUBLE_SPACE" not in personal(store, "alice").muted  # 4 answers: not enough to judge
    feedback.record(store, ids[-1], "accept", owner="alice")
    assert personal(store, "alice").rules == {"EN_DOUBLE_SPACE": (4, 5)}  # 80% rejected

    with applied(store, "alice"):
        assert not [p for p in check_text(DOUBLE, "en") if p.rule_id == "EN_DOUBLE_SPACE"]
        assert correct(None, DOUBLE, mode="detectors").edits == []
    with applied(store, "bob"):
        assert [p.rule_id for p in check_text(DOUBLE, "en")] == ["EN_DOUBLE_SPACE"]
    assert [p.rule_id for p in check_text(DOUBLE, "en")] == ["EN_DOUBLE_SPACE"]  # outside the block: unchanged


def test_rejected_spelling_flags_build_a_personal_dictionary(store):
    text = "Our team loves the frobnicator tool."
    assert [p.flagged for p in check_text(text, "en") if p.rule_id == "EN_SPELLING"] == ["frobnicator"]
    ids = feedback.shown(store, spelling("frobnicator", 2) + spelling("Teh", 1))
    for i in ids:
        feedback.record(store, i, "reject")
    learned = personal(store, None)
    assert learned.dictionary == {"frobnicator"}  # 'Teh' was rejected only once
    assert "EN_SPELLING" not in learned.muted  # spelling rules teach words, they are never muted whole
    with applied(store, None):
        assert not [p for p in check_text(text, "en") if p.rule_id == "EN_SPELLING"]


# -- pairs for fine-tuning and evaluation ----------------------------------------------------------------------------


def test_accepted_edits_of_one_passage_become_one_pair(store):
    text = "Teh cat sat on teh mat."
    items = [
        fb.Shown(operation="correct", context=text, start=0, end=3, original="Teh", suggestion="The"),
        fb.Shown(operation="correct", context=text, start=15, end=18, original="teh", suggestion="the"),
        fb.Shown(operation="correct", context=text, start=8, end=11, original="sat", suggestion="sits"),
    ]
    a, b, c = feedback.shown(store, items)
    feedback.record(store, a, "accept")
    feedback.record(store, b, "edited_after_accept", final_text="a")
    feedback.record(store, c, "reject")
    rewrite = feedback.from_result(
        type("R", (), {"operation": "rewrite", "text": "Hey there.", "model": "fake", "template": None})(), "Hello."
    )
    (r,) = feedback.shown(store, [rewrite])
    feedback.record(store, r, "accept")
    found = pairs(fb.answered(store, owner=None))
    assert [(p.task, p.input, p.output) for p in found] == [
        ("rewrite", "Hello.", "Hey there."),
        ("correct", text, "The cat sat on a mat."),
    ]
    assert eval_items(fb.answered(store, owner=None))[0]["references"] == ["The cat sat on a mat."]


# -- the command line ----------------------------------------------------------------------------------------------

runner = CliRunner()


def invoke(*args: str, input: str | None = None):
    result = runner.invoke(app, list(args), input=input)
    return result


def test_correct_interactive_records_each_answer_and_writes_the_accepted_edits(tmp_path):
    path = tmp_path / "essay.txt"
    path.write_text("Teh cat sat on teh mat.\ni like it  very much.\n", encoding="utf-8")
    result = invoke("correct", "--interactive", "--mode", "detectors", str(path), input="y\nn\nwhat\ny\nq\n")
    assert result.exit_code == 0, result.output
    assert "(1/4)" in result.output and "+ The cat sat on teh mat." in result.output
    assert "a - accept this edit and all the remaining ones" in result.output  # help after an unknown answer
    assert path.read_text(encoding="utf-8") == "The cat sat on teh mat.\nI like it  very much.\n"
    assert "2 of 4 edit(s) accepted; 1 left unanswered" in result.output

    listed = json.loads(invoke("feedback", "list", "--json").output)
    assert sorted(str(s["decision"]) for s in listed) == ["None", "accept", "accept", "reject"]
    assert {s["rule_id"] for s in listed} == {"EN_SPELLING", "EN_LOWERCASE_I", "EN_DOUBLE_SPACE"}
    stats = json.loads(invoke("feedback", "stats", "--by", "rule", "--json").output)
    assert {r["key"]["rule"]: (r["shown"], r["answered"], r["accepted"]) for r in stats} == {
        "EN_SPELLING": (2, 2, 1),
        "EN_LOWERCASE_I": (1, 1, 1),
        "EN_DOUBLE_SPACE": (1, 0, 0),  # shown, left unanswered: in the denominator only
    }
    assert [r["rate"] for r in stats if r["key"]["rule"] == "EN_DOUBLE_SPACE"] == [None]
    table = invoke("feedback", "stats", "--by", "category")
    assert "spelling" in table.output and "95% CI" in table.output


def test_interactive_a_accepts_the_rest_and_needs_a_file(tmp_path):
    path = tmp_path / "essay.txt"
    path.write_text("Teh cat sat on teh mat.\n", encoding="utf-8")
    result = invoke("correct", "-p", "--mode", "detectors", str(path), input="a\n")
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") == "The cat sat on the mat.\n"
    assert "(2/2)" not in result.output  # 'a' answered the rest without asking
    refused = invoke("correct", "--interactive", "--mode", "detectors", input="Teh cat.\n")
    assert refused.exit_code != 0 and "needs a FILE" in str(refused.exception or refused.output)


def test_cli_answers_mute_a_rule_for_check(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text(DOUBLE + "\n", encoding="utf-8")
    first = invoke("check", "--format", "json", str(path))
    assert "EN_DOUBLE_SPACE" in first.output
    store = open_store()
    ids = feedback.shown(store, spaces(MUTE_MIN_ANSWERS))
    for sid in ids:
        assert invoke("feedback", "reject", sid).exit_code == 0
    assert "EN_DOUBLE_SPACE\t5/5 rejected" in invoke("feedback", "muted").output
    again = invoke("check", "--format", "json", str(path))
    assert again.exit_code == 0 and "EN_DOUBLE_SPACE" not in again.output
    unknown = invoke("feedback", "accept", "f" * 32)
    assert unknown.exit_code != 0 and "no suggestion" in str(unknown.exception)

    exported = tmp_path / "mine.jsonl"
    assert invoke("feedback", "export", "--out", str(exported)).exit_code == 0
    assert len(exported.read_text(encoding="utf-8").splitlines()) == MUTE_MIN_ANSWERS
    assert invoke("feedback", "purge", input="n\n").exit_code != 0  # not confirmed: nothing deleted
    assert invoke("feedback", "purge", "--yes").exit_code == 0
    assert invoke("feedback", "export").output == ""
    assert "EN_DOUBLE_SPACE" in invoke("check", "--format", "json", str(path)).output
    db.close_all()


def test_finetune_prepare_from_edits(tmp_path):
    store = open_store()
    for n in range(48):
        text = f"Teh report number {n} is late."
        (sid,) = feedback.shown(
            store, [fb.Shown(operation="correct", context=text, start=0, end=3, original="Teh", suggestion="The")]
        )
        feedback.record(store, sid, "accept")
    out = tmp_path / "data"
    result = invoke("finetune", "prepare", "--from-edits", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    assert sum(sum(c.values()) for c in manifest["counts"].values()) == 48
    assert "feedback" in manifest["sources"]
    example = json.loads((out / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert example["task"] == "correct" and example["output"].startswith("The report number")

    items = tmp_path / "accepted.jsonl"  # the same records as a data set for eval/optimize
    assert invoke("feedback", "export", "--as-eval", "correct", "--out", str(items)).exit_code == 0
    first = json.loads(items.read_text(encoding="utf-8").splitlines()[0])
    assert first["source"] == "Teh report number 0 is late." and first["references"] == ["The report number 0 is late."]
    assert invoke("feedback", "export", "--as-eval", "rewrite").exit_code != 0  # none accepted: says so
    db.close_all()


def test_from_edits_without_answers_says_what_to_do(tmp_path):
    result = invoke("finetune", "prepare", "--from-edits", "--out", str(tmp_path / "d"))
    assert result.exit_code != 0 and "correct --interactive" in str(result.exception)


# -- HTTP ------------------------------------------------------------------------------------------------------------


def key_for(store, name: str) -> dict[str, str]:
    accounts.add_user(store, name, requests_per_minute=0)
    key, _ = accounts.create_key(store, name)
    return {"Authorization": f"Bearer {key}"}


def test_http_feedback_is_per_user_and_others_ids_are_404(store):
    from draftsmith.models.fake import FakeModel
    from draftsmith.server import create_app

    alice, bob = key_for(store, "alice"), key_for(store, "bob")
    client = TestClient(create_app(Settings(model="fake", prefix_cache=False), FakeModel()))
    item = {"operation": "check", "context": DOUBLE, "start": 11, "end": 13, "original": "  ", "suggestion": " "}
    item["rule_id"] = "EN_DOUBLE_SPACE"
    shown = client.post("/v1/feedback/shown", json={"items": [item] * 5}, headers=alice)
    assert shown.status_code == 201, shown.text
    ids = shown.json()["ids"]

    stolen = client.post("/v1/feedback", json={"suggestion_id": ids[0], "event": "accept"}, headers=bob)
    assert stolen.status_code == 404 and stolen.json()["error"]["type"] == "not_found"
    assert client.get(f"/v1/feedback/{ids[0]}", headers=bob).status_code == 404
    unknown = client.post("/v1/feedback", json={"suggestion_id": "0" * 32, "event": "accept"}, headers=alice)
    assert unknown.status_code == 404
    assert client.get(f"/v1/feedback/{ids[0]}", headers=alice).json()["events"] == []  # nothing recorded

    for sid in ids:
        answer = client.post("/v1/feedback", json={"suggestion_id": sid, "event": "reject"}, headers=alice)
        assert answer.status_code == 201, answer.text
    edited = client.post("/v1/feedback", json={"suggestion_id": ids[0], "event": "edited_after_accept"}, headers=alice)
    assert edited.status_code == 422

    stats = client.get("/v1/feedback/stats", params={"by": "rule"}, headers=alice).json()
    assert stats[0]["key"] == {"rule": "EN_DOUBLE_SPACE"} and stats[0]["rejected"] == 5
    assert client.get("/v1/feedback/stats", headers=bob).json() == []
    assert client.get("/v1/feedback/stats", params={"by": "nope"}, headers=alice).status_code == 400
    assert client.get("/v1/feedback/muted", headers=alice).json()["rules"] == {"EN_DOUBLE_SPACE": [5, 5]}
    assert client.get("/v1/feedback/muted", headers=bob).json()["rules"] == {}
    export = client.get("/v1/feedback/export", headers=alice)
    assert export.headers["content-type"].startswith("application/x-ndjson")
    assert len(export.text.splitlines()) == 5 and client.get("/v1/feedback/export", headers=bob).text == ""
    assert len(client.get("/v1/feedback", headers=alice).json()) == 5

    assert client.delete("/v1/feedback", headers=bob).json() == {"deleted": 0}
    assert client.get(f"/v1/feedback/{ids[0]}", headers=alice).status_code == 200  # bob's purge left alice's
    assert client.delete("/v1/feedback", headers=alice).json() == {"deleted": 5}
    assert client.get(f"/v1/feedback/{ids[0]}", headers=alice).status_code == 404
    assert client.post("/v1/feedback", json={"suggestion_id": ids[0], "event": "x"}, headers=alice).status_code == 422
    assert client.get("/v1/feedback", headers={}).status_code == 401
