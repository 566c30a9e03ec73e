"""The prompt optimiser and template versions: history, diff, revert; a winner is written only if it wins held-out.

FakeModel responders stand in for a model whose quality depends on the prompt, so each decision is predictable;
one test at the end runs the real 0.5B model with a small budget.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from draftsmith.errors import InputError, TemplateError
from draftsmith.evaluation import ptb
from draftsmith.evaluation.datasets import Item, load_jfleg, split_items
from draftsmith.evaluation.optimize import OptimizeConfig, optimize, plan_rungs
from draftsmith.evaluation.variants import Variant, apply_variant, edit_front_matter
from draftsmith.models.base import GenParams, Message
from draftsmith.models.fake import FakeModel, echo_responder
from draftsmith.prompts import history
from draftsmith.prompts.registry import get_template, user_template_dir
from draftsmith.prompts.template import BUILTIN_DIR
from draftsmith.store import runs
from draftsmith.store.db import Store

DATA = Path(os.environ.get("DRAFTSMITH_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
JFLEG = DATA / "jfleg"
BUILTIN_CORRECT = (BUILTIN_DIR / "correct.md").read_text(encoding="utf-8")
BUILTIN_SHOTS = BUILTIN_CORRECT.count("  - vars:")  # the built-in correct template's few-shot examples
MAGIC = "MAGIC: fix every error, change nothing else, and output only the corrected text."

SUBJECTS = ["She", "He", "My sister", "The teacher", "Our neighbour", "This boy"]
PLACES = ["school", "work", "the market", "the park", "church", "the library", "town"]


def make_items(n: int, prefix: str) -> list[Item]:
    items = []
    for i in range(n):
        subject, place = SUBJECTS[i % len(SUBJECTS)], PLACES[(i // len(SUBJECTS)) % len(PLACES)]
        src = f"{subject} go to {place} every day ."
        ref = f"{subject} goes to {place} every day ."
        items.append(Item(id=f"{prefix}{i}", source=src, references=[ref], category="sva", lang="en"))
    return items


def fix(text: str) -> str:
    return text.replace(" go to ", " goes to ")


def responder(fix_when):
    """A model that corrects the sentence when ``fix_when(messages, text)`` says so, proposes MAGIC instructions."""

    def answer(messages: list[Message], params: GenParams) -> str:
        if "Write an improved instruction" in messages[-1].content:
            return MAGIC
        text = echo_responder(messages, params)
        return fix(text) if fix_when(messages, text) else text

    return answer


def has_magic(messages: list[Message], text: str) -> bool:
    return messages[0].role == "system" and messages[0].content.startswith("MAGIC")


@pytest.fixture
def store(tmp_path: Path):
    s = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    yield s
    s.close()


def opt_files() -> list[str]:
    folder = user_template_dir()
    return sorted(p.name for p in folder.glob("*-opt*.md")) if folder.exists() else []


# -- template versions -------------------------------------------------------------------------------------------


def test_saving_versions_keeps_the_history_and_the_builtin(draftsmith_home: Path) -> None:
    assert history.history("correct") == []
    assert history.describe_version("correct").startswith("builtin:")
    new_text = edit_front_matter(BUILTIN_CORRECT, {"system": "Fix grammar only.\nOutput only the text.\n"})
    v2 = history.save_version("correct", new_text, note="shorter", origin="optimize")
    assert v2.version == 2
    versions = history.history("correct")
    assert [(v.version, v.origin) for v in versions] == [(1, "builtin"), (2, "optimize")]
    assert history.version_text("correct", 1) == BUILTIN_CORRECT
    assert get_template("correct").system == "Fix grammar only.\nOutput only the text.\n"
    assert get_template("correct").source == "user"
    assert history.describe_version("correct").startswith("user v2:")
    assert history.save_version("correct", new_text).version == 2  # the same text again is no new version
    diff = history.diff("correct")
    assert diff.startswith("--- correct.md@1\n+++ correct.md@current\n")
    first_line = BUILTIN_CORRECT.split("system: |\n", 1)[1].splitlines()[0]  # the built-in prompt's first line
    assert f" system: |\n-{first_line}" in diff and "+  Fix grammar only." in diff
    # A hand edit of the live file is kept as a version before the next one is written.
    live = user_template_dir() / "correct.md"
    live.write_text(new_text.replace("Fix grammar only.", "Fix grammar, please."), encoding="utf-8")
    reverted = history.revert("correct", 1)
    assert [v.origin for v in history.history("correct")] == ["builtin", "optimize", "hand-edit", "revert"]
    assert reverted.version == 4 and live.read_text(encoding="utf-8") == BUILTIN_CORRECT
    assert "Fix grammar, please." in history.version_text("correct", 3)
    with pytest.raises(TemplateError, match=r"no version 9 \(versions: 1, 2, 3, 4\)"):
        history.version_text("correct", 9)
    with pytest.raises(TemplateError, match="unknown template 'corect'"):
        history.history("corect")


def test_a_version_that_would_not_load_is_refused(draftsmith_home: Path) -> None:
    with pytest.raises(TemplateError, match="front matter"):
        history.save_version("correct", "no front matter")
    with pytest.raises(TemplateError, match="not 'correct'"):
        history.save_version("correct", BUILTIN_CORRECT.replace("name: correct", "name: other"))
    assert not (user_template_dir() / "correct.md").exists()


def test_templates_history_diff_revert_commands(capsys: pytest.CaptureFixture[str]) -> None:
    from draftsmith.cli import main

    history.save_version("correct", edit_front_matter(BUILTIN_CORRECT, {"temperature": 0.2}), note="warmer")
    assert main(["templates", "history", "correct"]) == 0
    shown = capsys.readouterr().out
    assert "builtin" in shown and "warmer" in shown and "2 (live)" in shown
    assert main(["templates", "diff", "correct", "1", "2"]) == 0
    assert "-temperature: 0\n+temperature: 0.2\n" in capsys.readouterr().out
    assert main(["templates", "revert", "correct", "1"]) == 0
    assert "version 3 is live" in capsys.readouterr().out
    assert get_template("correct").temperature == 0
    assert main(["templates", "history", "correct", "--json"]) == 0
    assert [v["version"] for v in json.loads(capsys.readouterr().out)] == [1, 2, 3]
    assert main(["templates", "revert", "correct", "7"]) == 2
    assert "has no version 7" in capsys.readouterr().err


def test_a_variant_changes_only_the_lines_it_replaces() -> None:
    variant = Variant("v", "test", {"system": "Be brief.\nOutput only the text.", "temperature": 0.3})
    text = apply_variant(BUILTIN_CORRECT, variant, "correct")
    old = BUILTIN_CORRECT.splitlines()
    system_block = old[old.index("system: |") : old.index("examples:")]
    assert [ln for ln in old if ln not in text.splitlines()] == ["temperature: 0", *system_block]
    assert "temperature: 0.3\nsystem: |-\n  Be brief.\n  Output only the text.\nexamples:" in text
    assert text.split("\n---\n", 1)[1] == BUILTIN_CORRECT.split("\n---\n", 1)[1]  # the body is untouched


# -- the search --------------------------------------------------------------------------------------------------


def test_rungs_fit_the_budget_and_grow() -> None:
    rungs = plan_rungs(8, 60, 196, 8)
    assert rungs == [10, 20, 40]
    cost = 8 * 10 + 5 * 10 + 3 * 20
    assert cost <= 196
    assert plan_rungs(3, 10, 1000, 4)[-1] == 10
    assert plan_rungs(8, 60, 20, 8) == []


def test_typical_examples_show_the_usual_edit_with_the_consensus_answer() -> None:
    from draftsmith.evaluation.variants import typical_examples, word_edits

    words = ["the", "cat", "sat", "on", "a", "mat", "near", "our", "old", "red", "door", "today"]
    pool = []
    for i in range(40):
        text = " ".join(words[: 8 + i % 3])
        if i % 4 == 0:  # a quarter of the pool is already correct
            refs = [text] * 3
        elif i % 8 == 7:  # a heavy rewrite: not typical
            refs = ["a dog stood by one door and barked loudly at us"] * 3
        else:  # two word edits; the references mostly agree
            fixed = text.replace("cat", "dog").replace("mat", "rug")
            refs = [fixed, fixed, fixed.replace("sat", "lay")]
        source = text.replace("sat", "sit") if i % 4 else text
        pool.append(Item(id=f"t{i}", source=source, references=refs))
    template = get_template("correct")
    picked = typical_examples(template, pool, 4, 0, None)
    assert len(picked) == 4 and all(set(e) == {"vars", "output"} for e in picked)
    unchanged = [e for e in picked if e["vars"]["text"] == e["output"]]
    assert len(unchanged) == 1 and picked.index(unchanged[0]) not in (0, 3)  # one, among the others
    for e in picked:
        if e not in unchanged:
            assert "dog" in e["output"] and "lay" not in e["output"]  # the consensus reference, not the odd one
            assert word_edits(e["vars"]["text"], e["output"]) == 3  # "cat sit" → "dog sat", "mat" → "rug"
    assert typical_examples(template, pool, 4, 0, None) == picked  # seeded
    assert typical_examples(template, pool[:3], 4, 0, None) == []  # too small a pool


def test_a_winner_on_dev_and_held_out_is_written_as_a_new_version(store: Store) -> None:
    items = make_items(42, "d")
    heldout, dev, train = split_items(items, [12, 20], seed=1)
    model = FakeModel(responder(has_magic))
    cfg = OptimizeConfig(metric="gleu", budget=80, rewrites=2, shots=[2], tokenize="ptb", min_rung=4)
    result = optimize(model, "correct", train, dev, heldout, cfg, store=store)
    assert result.winner.startswith("instr-")
    assert result.search_calls <= 80
    assert result.dev_after > result.dev_before
    assert result.heldout_after > result.heldout_before and result.heldout_low > 0
    assert result.written_version == 2 and result.decision.startswith("wrote version 2")
    assert get_template("correct").system.startswith("MAGIC")
    assert [v.origin for v in history.history("correct")] == ["builtin", "optimize"]
    assert "optimize: instr-" in history.history("correct")[-1].note
    assert opt_files() == []  # the trial templates are gone
    # The held-out checks are stored runs that 'eval compare' can use.
    assert set(result.base_runs) == {"base", result.winner}
    stored = runs.get_run(store, result.base_runs[result.winner])
    assert stored.kind == "optimize" and stored.aggregates["metrics"]["gleu"] == pytest.approx(result.heldout_after)


def test_few_shot_examples_come_from_the_training_split(store: Store) -> None:
    items = make_items(40, "d")
    heldout, dev, train = split_items(items, [10, 16], seed=2)
    train_sources = {ptb.detokenize(i.source) for i in train}

    def with_examples(messages: list[Message], text: str) -> bool:
        shots = [m.content for m in messages if m.role == "assistant"]
        return len(shots) > BUILTIN_SHOTS  # more examples than the template's own

    result = optimize(
        FakeModel(responder(with_examples)),
        "correct",
        train,
        dev,
        heldout,
        OptimizeConfig(metric="gleu", budget=60, rewrites=0, shots=[2], shots_plus=True, tokenize="ptb", min_rung=4),
        store=None,
    )
    assert result.winner == "shots+2" and result.written_version == 2
    examples = get_template("correct").examples
    assert len(examples) == BUILTIN_SHOTS + 2
    assert {e.vars["text"] for e in examples[BUILTIN_SHOTS:]} <= train_sources


def test_nothing_is_written_when_no_variant_beats_the_template(store: Store) -> None:
    items = make_items(30, "d")
    heldout, dev, train = split_items(items, [8, 12], seed=3)
    model = FakeModel(responder(lambda m, t: False))
    result = optimize(
        model,
        "correct",
        train,
        dev,
        heldout,
        OptimizeConfig(metric="gleu", budget=40, rewrites=1, shots=[2], tokenize="ptb", min_rung=4),
    )
    assert result.winner == "base" and result.written_version is None
    assert result.decision.startswith("no variant beat")
    assert history.history("correct") == [] and opt_files() == []


def test_a_dev_winner_that_loses_on_held_out_is_not_written(store: Store) -> None:
    items = make_items(30, "d")
    heldout, dev, train = split_items(items, [8, 12], seed=4)
    held_sources = {ptb.detokenize(i.source) for i in heldout}

    def overfit(messages: list[Message], params: GenParams) -> str:
        if "Write an improved instruction" in messages[-1].content:
            return MAGIC
        text = echo_responder(messages, params)
        if has_magic(messages, text):
            return text.replace(" every ", " ") if text in held_sources else fix(text)
        return text

    result = optimize(
        FakeModel(overfit),
        "correct",
        train,
        dev,
        heldout,
        OptimizeConfig(metric="gleu", budget=40, rewrites=1, shots=[], tokenize="ptb", min_rung=4),
    )
    assert result.winner.startswith("instr-") and result.dev_after > result.dev_before
    assert result.heldout_after < result.heldout_before
    assert result.written_version is None and result.decision.startswith("not written")
    assert history.history("correct") == []


def test_a_second_model_can_propose_the_rewrites_within_the_same_budget() -> None:
    items = make_items(40, "d")
    heldout, dev, train = split_items(items, [10, 16], seed=7)
    proposer = FakeModel(MAGIC, name="fake-proposer")
    model = FakeModel(responder(has_magic))
    cfg = OptimizeConfig(metric="gleu", budget=50, rewrites=2, shots=[], tokenize="ptb", min_rung=4, write=False)
    result = optimize(model, "correct", train, dev, heldout, cfg, proposer=proposer)
    assert len(proposer.calls) == 2
    assert not any("Write an improved instruction" in m[-1].content for m in model.calls)
    assert result.search_calls == len(model.calls) - result.heldout_calls + 2 <= 50
    assert result.winner.startswith("instr-") and result.decision.startswith("would write")


def test_the_budget_is_a_hard_limit(store: Store) -> None:
    items = make_items(60, "d")
    heldout, dev, train = split_items(items, [10, 40], seed=5)
    model = FakeModel(responder(has_magic))
    cfg = OptimizeConfig(metric="gleu", budget=30, rewrites=3, shots=[2, 4], tokenize="ptb", min_rung=3)
    result = optimize(model, "correct", train, dev, heldout, cfg)
    assert result.search_calls <= 30
    assert len(model.calls) == result.search_calls + result.heldout_calls


def test_an_interrupted_search_resumes_to_the_same_result(tmp_path: Path) -> None:
    from draftsmith.evaluation.optimize import journal_path
    from draftsmith.evaluation.runner import RunInterrupted

    items = make_items(40, "d")
    heldout, dev, train = split_items(items, [10, 16], seed=6)
    cfg = OptimizeConfig(
        metric="gleu", budget=60, rewrites=2, shots=[2], tokenize="ptb", min_rung=4, write=False, samples=200
    )
    whole_model = FakeModel(responder(has_magic))
    whole = optimize(whole_model, "correct", train, dev, heldout, cfg)
    assert not journal_path("correct", "fake", BUILTIN_CORRECT).exists()  # a finished search leaves no journal

    asked = {"n": 0}

    def pressed_ctrl_c(messages: list[Message], params: GenParams) -> str:
        asked["n"] += 1
        if asked["n"] == 25:
            raise KeyboardInterrupt
        return responder(has_magic)(messages, params)

    with pytest.raises(RunInterrupted, match="run the same command again to resume") as caught:
        optimize(FakeModel(pressed_ctrl_c), "correct", train, dev, heldout, cfg)
    assert caught.value.exit_code == 130
    assert journal_path("correct", "fake", BUILTIN_CORRECT).exists() and opt_files() == []
    model = FakeModel(responder(has_magic))
    resumed = optimize(model, "correct", train, dev, heldout, cfg)
    assert len(model.calls) == len(whole_model.calls) - 24  # only what the first try did not finish is asked
    same = {"candidates", "winner", "dev_before", "dev_after", "heldout_before", "heldout_after", "heldout_low"}
    assert resumed.model_dump(include=same) == whole.model_dump(include=same)
    assert resumed.search_calls == whole.search_calls and resumed.winner.startswith("instr-")
    # --fresh: a kept journal is dropped and everything is asked again.
    asked["n"] = 0
    with pytest.raises(RunInterrupted):
        optimize(FakeModel(pressed_ctrl_c), "correct", train, dev, heldout, cfg)
    model = FakeModel(responder(has_magic))
    optimize(model, "correct", train, dev, heldout, cfg.model_copy(update={"resume": False}))
    assert len(model.calls) == len(whole_model.calls)


def test_bad_optimiser_input_is_refused() -> None:
    items = make_items(20, "d")
    cfg = OptimizeConfig(metric="gleu", budget=40)
    with pytest.raises(InputError, match="must be disjoint"):
        optimize(FakeModel(), "correct", [], items[:10], items[5:15], cfg)
    with pytest.raises(InputError, match="summarize cannot be optimised"):
        optimize(FakeModel(), "summarize", [], items[:10], items[10:], cfg)
    with pytest.raises(InputError, match="'rouge' does not fit task 'correct'"):
        optimize(FakeModel(), "correct", [], items[:10], items[10:], cfg.model_copy(update={"metric": "rouge"}))
    with pytest.raises(InputError, match="too small to compare even two variants"):
        optimize(FakeModel(), "correct", [], items[:10], items[10:], cfg.model_copy(update={"budget": 5}))
    assert opt_files() == []


def test_optimize_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from draftsmith.cli import main

    path = tmp_path / "gec.jsonl"
    path.write_text(
        "".join(i.model_dump_json(include={"id", "source", "references"}) + "\n" for i in make_items(40, "x"))
        + '{"id": "bad", "source": \n'
    )
    assert main(["optimize", "correct", "--data", str(path), "--metric", "gleu", "--model", "fake"]) == 2
    assert "gec.jsonl:line 41: not valid JSON" in capsys.readouterr().err
    code = main(
        [
            "optimize",
            "--on-error",
            "skip",
            "correct",
            "--data",
            str(path),
            "--metric",
            "gleu",
            "--budget",
            "40",
            "--dev-size",
            "12",
            "--heldout-size",
            "10",
            "--tokenize",
            "ptb",
            "--model",
            "fake",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "gec.jsonl: line 41: not valid JSON" in " ".join(captured.err.split())  # skipped, and said so
    result = json.loads(captured.out)
    assert result["winner"] == "base" and result["written_version"] is None and result["heldout_items"] == 10
    assert result["search_calls"] <= 40


# -- the real model ----------------------------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.skipif(not JFLEG.is_dir(), reason=f"JFLEG not found at {JFLEG} (set DRAFTSMITH_DATA)")
def test_real_model_tiny_optimise_writes_only_a_held_out_winner(store: Store) -> None:
    from draftsmith.models.loader import load_model

    model = load_model("qwen2.5-0.5b")
    pool = load_jfleg(JFLEG, "dev", limit=60)
    heldout, dev, train = split_items(pool, [6, 6], seed=0)
    cfg = OptimizeConfig(metric="gleu", budget=16, rewrites=1, shots=[2], tokenize="ptb", min_rung=4, samples=200)
    result = optimize(model, "correct", train, dev, heldout, cfg, store=store)
    assert result.search_calls <= 16
    assert result.heldout_items == 6 and result.heldout_before is not None
    if result.written_version is not None:
        assert result.heldout_after > result.heldout_before
        assert [v.origin for v in history.history("correct")] == ["builtin", "optimize"]
    else:
        assert history.history("correct") == []
    assert opt_files() == []
