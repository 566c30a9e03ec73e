"""The optimiser on a user's feedback: the ``acceptance`` metric (agreement of a variant's outputs with the
suggestions the user accepted and rejected on the same texts), data sets made from the recorded answers,
``optimize --metric acceptance`` without ``--data``, and ``--shots-from feedback``. FakeModel responders make each
decision predictable; one test runs the real 0.5B model on a tiny budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from draftsmith import feedback
from draftsmith.errors import InputError
from draftsmith.evaluation.acceptance import Decision, agreement
from draftsmith.evaluation.datasets import Item, load_dataset, parse_item, split_items
from draftsmith.evaluation.optimize import OptimizeConfig, optimize
from draftsmith.evaluation.plan import EvalConfig, plan_metrics
from draftsmith.feedback.pairs import decision_items
from draftsmith.models.base import GenParams, Message
from draftsmith.models.fake import FakeModel, echo_responder
from draftsmith.prompts import history
from draftsmith.prompts.registry import get_template
from draftsmith.store import db, open_store
from draftsmith.store import feedback as fb

MAGIC = "MAGIC: fix every error, change nothing else, and output only the corrected text."
SUBJECTS = ["She", "He", "My sister", "The teacher", "Our neighbour", "This boy"]
PLACES = ["school", "work", "the market", "the park", "church", "the library", "town"]


def sentence(i: int) -> str:
    return f"{SUBJECTS[i % len(SUBJECTS)]} go to {PLACES[(i // len(SUBJECTS)) % len(PLACES)]} every day."


def fix(text: str) -> str:
    return text.replace(" go to ", " goes to ")


def magic_fixes(messages: list[Message], params: GenParams) -> str:
    """Corrects the agreement error only under the MAGIC instruction; proposes MAGIC when asked."""
    if "Write an improved instruction" in messages[-1].content:
        return MAGIC
    text = echo_responder(messages, params)
    return fix(text) if messages[0].role == "system" and messages[0].content.startswith("MAGIC") else text


def record_answers(store, n: int, owner: str | None = None) -> None:
    """A user who accepted every "go → goes" and rejected every "every day → everyday"."""
    for i in range(n):
        text = sentence(i)
        go, every = text.index(" go ") + 1, text.index("every day")
        shown = [
            fb.Shown(operation="correct", context=text, start=go, end=go + 2, original="go", suggestion="goes"),
            fb.Shown(
                operation="correct",
                context=text,
                start=every,
                end=every + 9,
                original="every day",
                suggestion="everyday",
            ),
        ]
        accept, reject = feedback.shown(store, shown, owner=owner)
        feedback.record(store, accept, "accept", owner=owner)
        feedback.record(store, reject, "reject", owner=owner)


@pytest.fixture
def store():
    s = open_store()
    yield s
    db.close_all()


# -- the metric ---------------------------------------------------------------------------------------------------


def test_agreement_counts_what_the_user_chose_over_each_span():
    src = "I has a dog. Teh end."
    wanted = [
        Decision(start=2, end=5, shown="have", accepted=True),
        Decision(start=13, end=16, shown="The", accepted=False),
    ]
    assert agreement(src, "I have a dog. Teh end.", wanted) == 1.0  # made the accepted edit, left the rejected one
    assert agreement(src, "I have a dog. The end.", wanted) == 0.5  # also made the rejected one
    assert agreement(src, src, wanted) == 0.5
    assert agreement(src, "I have got a dog. Teh end.", wanted) == 0.5  # another change there is not what was kept
    insertion = [Decision(start=5, end=5, shown=",", accepted=True)]
    assert agreement("Hello world", "Hello, world", insertion) == 1.0
    assert agreement("Hello world", "Hello world", insertion) == 0.0
    kept = [Decision(start=2, end=5, shown="have", kept="had", accepted=True)]  # accepted, then changed
    assert agreement(src, "I had a dog. Teh end.", kept) == 1.0 and agreement(src, "I have a dog. Teh end.", kept) == 0
    whole = [Decision(shown="The committee approved the plan.", accepted=True)]
    assert agreement("x", "The committee approved the plan.", whole) == 1.0
    assert agreement("x", "Totally different words here.", whole) < 0.3
    rejected = [Decision(shown="The committee approved the plan.", accepted=False)]
    assert agreement("x", "The committee approved the plan.", rejected) == 0.0
    assert agreement("x", "anything", []) is None


def test_recorded_answers_become_items_with_their_decisions(store, tmp_path):
    record_answers(store, 2)
    (sid,) = feedback.shown(
        store, [fb.Shown(operation="rewrite", original="hi there", suggestion="Greetings.", category="formal")]
    )
    feedback.record(store, sid, "edited_after_accept", final_text="Good day.")
    answered = fb.answered(store, owner=None)
    items = decision_items(answered, "correct")
    assert len(items) == 2
    first = items[0]
    assert first["source"] == sentence(0) and first["references"] == [fix(sentence(0))]
    assert [(d["shown"], d["accepted"]) for d in first["feedback"]] == [("goes", True), ("everyday", False)]
    (rewrite,) = decision_items(answered, "rewrite")
    assert rewrite["style"] == "formal" and rewrite["references"] == ["Good day."]
    assert rewrite["feedback"] == [{"shown": "Greetings.", "kept": "Good day.", "accepted": True}]

    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    loaded = load_dataset(path, "correct").items
    assert loaded[0].feedback[0] == Decision(start=4, end=6, shown="goes", accepted=True)
    with pytest.raises(InputError, match="line 3: a 'feedback' answer is malformed"):
        parse_item({"source": "x", "feedback": [{"shown": "y"}]}, "correct", 3)
    with pytest.raises(InputError, match=r"acceptance.*needs .feedback"):
        plan_metrics(EvalConfig(task="correct", metrics=["acceptance"]), [Item(id="1", source="x", lang="en")])


# -- the optimiser ------------------------------------------------------------------------------------------------


def feedback_items(store, n: int) -> list[Item]:
    record_answers(store, n)
    return [parse_item(raw, "correct", k) for k, raw in enumerate(decision_items(fb.answered(store, owner=None)), 1)]


def test_acceptance_picks_the_variant_that_does_what_the_user_accepted(store):
    heldout, dev, train = split_items(feedback_items(store, 36), [10, 16], seed=1)
    cfg = OptimizeConfig(metric="acceptance", budget=60, rewrites=1, shots=[2], min_rung=4)
    result = optimize(FakeModel(magic_fixes), "correct", train, dev, heldout, cfg, store=store)
    assert result.metric == "acceptance" and result.winner.startswith("instr-")
    assert result.dev_before == pytest.approx(0.5) and result.dev_after == pytest.approx(1.0)
    assert result.heldout_after == pytest.approx(1.0) and result.heldout_low > 0
    assert result.written_version == 2 and get_template("correct").system.startswith("MAGIC")
    assert [v.origin for v in history.history("correct")] == ["builtin", "optimize"]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    from draftsmith.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_optimize_command_uses_recorded_answers_and_feedback_shots(store, capsys, monkeypatch, tmp_path: Path):
    code, _, err = run_cli(capsys, "optimize", "correct", "--metric", "acceptance", "--model", "fake")
    assert code == 2 and "no answered correct suggestions recorded yet" in " ".join(err.split())
    code, _, err = run_cli(capsys, "optimize", "correct", "--metric", "gleu", "--model", "fake")
    assert code == 2 and "--data is needed" in err

    record_answers(store, 40)
    args = ["optimize", "correct", "--metric", "acceptance", "--model", "fake", "--budget", "30", "--dry-run"]
    code, out, err = run_cli(capsys, *args, "--json")
    assert code == 0, err
    assert "data: 40 text(s) you answered correct suggestions about" in err
    result = json.loads(out)
    assert result["metric"] == "acceptance" and result["heldout_items"] == 10 and result["dev_before"] == 0.5
    assert result["written_version"] is None and history.history("correct") == []

    data = tmp_path / "dev.jsonl"  # a data set of other texts; the examples come from what the user accepted
    names = ["Anna", "Ben", "Carl", "Dora", "Emil", "Fay", "Gus", "Hal", "Ida", "Jon", "Kim", "Lea"]
    rows = [{"id": n, "source": f"{n} go to the river.", "references": [f"{n} goes to the river."]} for n in names]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    seen: list[str] = []

    def shots(messages: list[Message], params: GenParams) -> str:
        seen.extend(m.content for m in messages if m.role == "assistant")
        return echo_responder(messages, params)

    from draftsmith.cli import eval_cmd

    monkeypatch.setattr(eval_cmd, "_model", lambda name: FakeModel(shots))
    args = ["optimize", "correct", "--data", str(data), "--metric", "gleu", "--shots-from", "feedback"]
    code, out, err = run_cli(capsys, *args, "--budget", "30", "--dry-run", "--json")
    assert code == 0, err
    assert "few-shot candidates: 40 accepted correct suggestion(s)" in err
    accepted = {fix(sentence(i)) for i in range(40)}
    assert accepted & set(seen)  # the few-shot answers shown to the model are texts the user accepted


# -- the real model -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_model():
    from draftsmith.config import load_settings
    from draftsmith.errors import ModelError
    from draftsmith.models.loader import load_model

    try:
        return load_model("qwen2.5-0.5b", load_settings(n_threads=1))
    except ModelError as exc:
        pytest.skip(str(exc))


@pytest.mark.model
def test_real_model_tiny_acceptance_search(store, small_model):
    heldout, dev, train = split_items(feedback_items(store, 16), [4, 6], seed=0)
    cfg = OptimizeConfig(metric="acceptance", budget=12, rewrites=1, shots=[2], min_rung=3, samples=200, write=False)
    result = optimize(small_model, "correct", train, dev, heldout, cfg)
    assert result.search_calls <= 12 and result.heldout_items == 4
    assert 0.0 <= result.heldout_before <= 1.0 and 0.0 <= result.dev_before <= 1.0
    assert result.written_version is None and history.history("correct") == []
