"""Evaluation runs as a user meets them: stored runs, resume, bad data, compare with intervals, HTML reports.

Plumbing runs on FakeModel and on the stdlib fake OpenAI server; one test at the end runs the real 0.5B model.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from draftsmith.errors import DraftsmithError, InputError, ModelError
from draftsmith.evaluation import ptb
from draftsmith.evaluation.compare import paired_bootstrap
from draftsmith.evaluation.datasets import load_dataset, load_jfleg
from draftsmith.evaluation.metrics import score
from draftsmith.evaluation.runner import EvalConfig, RunInterrupted, resume_eval, run_eval
from draftsmith.models.base import GenParams, Message
from draftsmith.models.fake import FakeModel, echo_responder
from draftsmith.store import runs
from draftsmith.store.db import Store

DATA = Path(os.environ.get("DRAFTSMITH_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
JFLEG = DATA / "jfleg"

# Learner sentences (PTB-tokenised like JFLEG) and their corrections.
PAIRS = [
    ("She go to school every day .", "She goes to school every day ."),
    ("I has a cat and two dog .", "I have a cat and two dogs ."),
    ("He do n't like apples .", "He does n't like apples ."),
    ("They was at home yesterday .", "They were at home yesterday ."),
    ("We is happy with the result .", "We are happy with the result ."),
    ("My brother play football on Sunday .", "My brother plays football on Sunday ."),
]
FIXES = {ptb.detokenize(src): ptb.detokenize(ref) for src, ref in PAIRS}


def fixer(messages: list[Message], params: GenParams) -> str:
    """A 'model' that corrects the sentences above and echoes anything else."""
    text = echo_responder(messages, params)
    return FIXES.get(text.strip(), text)


def correct_rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        src, ref = PAIRS[i % len(PAIRS)]
        rows.append({"id": f"s{i}", "source": src, "references": [ref, src], "category": ["verbs", "nouns"][i % 2]})
    return rows


def write_rows(path: Path, rows: list[dict | str]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


PG_URL = os.environ.get("DRAFTSMITH_TEST_POSTGRES_URL")


@pytest.fixture
def store(tmp_path: Path):
    s = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    yield s
    s.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path: Path):
    """SQLite, and PostgreSQL when DRAFTSMITH_TEST_POSTGRES_URL names a server (a fresh schema per test)."""
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    else:
        if not PG_URL:
            pytest.skip("no PostgreSQL server: set DRAFTSMITH_TEST_POSTGRES_URL")
        import uuid

        import sqlalchemy as sa

        schema = f"t_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        admin.dispose()
        url = sa.engine.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        s = Store(url.render_as_string(hide_password=False))
    yield s
    s.close()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_rows(tmp_path / "gec.jsonl", correct_rows(12))


def config(data: Path, **kw) -> EvalConfig:
    return EvalConfig(task="correct", data=str(data), model="fake", tokenize="ptb", **kw)


# -- a stored run ------------------------------------------------------------------------------------------------


def test_a_run_stores_config_model_template_outputs_scores_tokens_and_time(any_store: Store, data: Path) -> None:
    store = any_store
    run = run_eval(store, FakeModel(fixer), config(data))
    assert run.status == "done" and run.items_done == 12 and run.items_failed == 0
    assert run.model == "fake" and run.template == "correct" and run.template_version.startswith("builtin:")
    assert run.config["tokenize"] == "ptb" and run.data_path == str(data.resolve()) and run.data_digest
    assert run.prompt_tokens > 0 and run.completion_tokens > 0 and run.elapsed_s > 0
    items = runs.get_items(store, run.id)
    assert [r.item_id for r in items] == [f"s{i}" for i in range(12)]
    first = items[0]
    assert first.output == "She goes to school every day."  # what the operation returned
    assert first.hypothesis == "She goes to school every day ."  # tokenised like the references, then scored
    assert set(first.scores) == {"gleu", "chrf"}
    # The aggregates are the corpus metrics of the stored hypotheses.
    expected = score("correct", [r.hypothesis for r in items], [r.references for r in items], [r.source for r in items])
    assert run.aggregates["metrics"] == pytest.approx(expected)
    assert set(run.aggregates["by_category"]) == {"verbs", "nouns"}
    assert run.aggregates["metrics"]["gleu"] > run_eval(store, FakeModel(), config(data)).aggregates["metrics"]["gleu"]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_resumed_run_gives_the_same_aggregates_as_an_uninterrupted_one(
    any_store: Store, data: Path, concurrency: int
) -> None:
    store = any_store
    whole = run_eval(store, FakeModel(fixer), config(data, concurrency=concurrency))
    calls = {"n": 0}

    def flaky(messages: list[Message], params: GenParams) -> str:
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt  # the user pressed Ctrl-C in the middle of the run
        return fixer(messages, params)

    with pytest.raises(RunInterrupted, match=r"resume it with: draftsmith eval run --resume \w+") as caught:
        run_eval(store, FakeModel(flaky), config(data, concurrency=concurrency))
    assert caught.value.exit_code == 130
    broken = runs.list_runs(store)[0]
    assert broken.status == "interrupted" and 0 < broken.items_done < 12 and broken.aggregates is None
    model = FakeModel(fixer)
    resumed = resume_eval(store, broken.id, model)
    assert len(model.calls) == 12 - broken.items_done  # only the missing items were run again
    assert resumed.status == "done" and resumed.items_done == 12
    assert resumed.aggregates == whole.aggregates
    with pytest.raises(InputError, match="already complete"):
        resume_eval(store, broken.id, model)


def test_resume_refuses_changed_data_and_another_model(store: Store, data: Path) -> None:
    def stop(messages, params):
        raise KeyboardInterrupt

    with pytest.raises(RunInterrupted):
        run_eval(store, FakeModel(stop), config(data))
    run_id = runs.list_runs(store)[0].id
    with pytest.raises(InputError, match="used model fake, not other"):
        resume_eval(store, run_id, FakeModel(name="other"))
    write_rows(data, correct_rows(13))
    with pytest.raises(InputError, match="data changed"):
        resume_eval(store, run_id, FakeModel())


def test_failed_items_are_recorded_and_retried_on_resume(store: Store, data: Path) -> None:
    def broken(messages, params):
        raise ModelError("server on fire")

    with pytest.raises(DraftsmithError, match=r"stopped: 4 items failed; the last: server on fire.*--resume"):
        run_eval(store, FakeModel(broken), config(data, max_failures=3))
    run = runs.list_runs(store)[0]
    assert run.status == "failed" and run.items_failed == 4
    resumed = resume_eval(store, run.id, FakeModel(fixer))
    assert resumed.items_done == 12 and resumed.items_failed == 0


# -- bad input -----------------------------------------------------------------------------------------------


def test_a_malformed_line_is_reported_with_its_number(tmp_path: Path) -> None:
    rows: list[dict | str] = [*correct_rows(2), '{"id": "x", "source": "oops"', *correct_rows(4)[2:]]
    path = write_rows(tmp_path / "bad.jsonl", rows)
    with pytest.raises(InputError, match=r"bad.jsonl:line 3: not valid JSON.*--on-error skip"):
        load_dataset(path, "correct")
    kept = load_dataset(path, "correct", on_error="skip")
    assert [i.id for i in kept.items] == ["s0", "s1", "s2", "s3"]
    assert kept.skipped == ["line 3: not valid JSON (Expecting ',' delimiter at column 29)"]
    path.write_text('{"id": 1, "source": "fine"}\n{"id": 1, "source": "again"}\n["a list"]\n')
    with pytest.raises(InputError, match="line 2: id '1' was already used on line 1"):
        load_dataset(path, "correct")
    assert load_dataset(path, "correct", on_error="skip").skipped[-1] == "line 3: expected a JSON object, got list"


@pytest.mark.parametrize(
    ("task", "row", "message"),
    [
        ("correct", {"id": "a"}, "line 1: task 'correct' needs a non-empty text field 'source'"),
        ("write", {"references": ["x"]}, "needs 'instruction'"),
        ("correct", {"source": "a", "references": "x", "words": -1}, "'words' must be a positive integer"),
        ("correct", {"source": "a", "references": [1]}, "'references' must be a list of strings"),
    ],
)
def test_items_missing_what_their_task_needs_are_refused(tmp_path: Path, task: str, row: dict, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        load_dataset(write_rows(tmp_path / "d.jsonl", [row]), task)


def test_an_empty_data_set_is_refused(tmp_path: Path, store: Store) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(InputError, match="the data set is empty"):
        run_eval(store, FakeModel(), config(empty))
    with pytest.raises(InputError, match=r"empty \(1 malformed lines skipped\)"):
        load_dataset(write_rows(tmp_path / "bad.jsonl", ["{nope"]), "correct", on_error="skip")
    with pytest.raises(InputError, match="does not exist"):
        load_dataset(tmp_path / "missing.jsonl", "correct")
    assert runs.list_runs(store) == []


def test_a_missing_reference_field_names_the_lines_before_any_model_call(tmp_path: Path, store: Store) -> None:
    rows = correct_rows(5)
    del rows[1]["references"], rows[3]["references"]
    path = write_rows(tmp_path / "d.jsonl", rows)
    model = FakeModel()
    with pytest.raises(InputError, match=r"'gleu' needs \"references\".*line 2 \(id 's1'\), line 4 \(id 's3'\)"):
        run_eval(store, model, config(path))
    assert model.calls == [] and runs.list_runs(store) == []
    # Metrics that need no reference still run.
    more = FakeModel("And then the bell rang twice.")
    run = run_eval(store, more, EvalConfig(task="continue", data=str(path), model="fake"))
    assert {"distinct_1", "length_mean"} <= set(run.aggregates["metrics"])


def test_a_metric_that_does_not_fit_the_task_is_refused(store: Store, data: Path) -> None:
    with pytest.raises(InputError, match=r"metric 'rouge' does not fit task 'correct'; use one of: gleu, chrf"):
        run_eval(store, FakeModel(), config(data, metrics=["rouge"]))
    with pytest.raises(InputError, match="unknown metric 'glue'"):
        run_eval(store, FakeModel(), config(data, metrics=["glue"]))
    with pytest.raises(InputError, match="'errant' needs \"m2\""):
        run_eval(store, FakeModel(), config(data, metrics=["errant"]))
    with pytest.raises(InputError, match="needs a target language"):
        run_eval(store, FakeModel(), EvalConfig(task="translate", data=str(data), model="fake"))
    assert runs.list_runs(store) == []


# -- model-based metrics -------------------------------------------------------------------------------------


def test_judge_scores_each_item_with_the_rubric_template(store: Store, data: Path) -> None:
    def model(messages: list[Message], params: GenParams) -> str:
        if params.json_schema:  # the judge asks for JSON
            assert "Output to rate" in messages[-1].content
            return json.dumps({"fluency": 4, "adequacy": 5, "instruction_following": 3, "rationale": "fine"})
        return fixer(messages, params)

    run = run_eval(store, FakeModel(model), config(data, metrics=["gleu", "judge", "perplexity"], limit=4))
    metrics = run.aggregates["metrics"]
    assert metrics["judge_fluency"] == 4 and metrics["judge_mean"] == pytest.approx(4.0)
    assert metrics["perplexity"] > 1
    item = runs.get_items(store, run.id)[0]
    assert item.extra["judge_rationale"] == "fine" and "judge_adequacy" in item.scores


def test_a_judge_answer_out_of_range_fails_the_item_not_the_run(store: Store, data: Path) -> None:
    def model(messages, params):
        if params.json_schema:
            return json.dumps({"fluency": 9, "adequacy": 5, "instruction_following": 3, "rationale": ""})
        return fixer(messages, params)

    with pytest.raises(DraftsmithError, match="expected an integer 1–5"):
        run_eval(store, FakeModel(model), config(data, metrics=["judge"], limit=4, max_failures=2))
    assert runs.list_runs(store)[0].items_failed == 3


def _style_ready() -> bool:
    try:
        from draftsmith.style.profile import adherence  # noqa: F401
        from draftsmith.style.store import load_for_text  # noqa: F401

        return True
    except ImportError:
        return False


@pytest.mark.skipif(not _style_ready(), reason="the style profiles (draftsmith.style.profile) are not available")
def test_style_adherence_of_rewrites(store: Store, tmp_path: Path) -> None:
    text = (
        "We are pleased to inform you that the committee has approved your application. "
        "The decision was reached after careful consideration of all submitted documents."
    )
    rows = [{"id": i, "source": text, "style": "formal"} for i in range(2)]
    path = write_rows(tmp_path / "r.jsonl", rows)
    run = run_eval(store, FakeModel(), EvalConfig(task="rewrite", data=str(path), model="fake", metrics=["style"]))
    assert 0.0 <= run.aggregates["metrics"]["style_adherence"] <= 1.0
    del rows[1]["style"]
    with pytest.raises(InputError, match=r"'style' needs \"style\" \(or --style\).*line 2"):
        run_eval(store, FakeModel(), EvalConfig(task="rewrite", data=str(write_rows(path, rows)), metrics=["style"]))


# -- compare and report ------------------------------------------------------------------------------------


def test_compare_gives_paired_bootstrap_intervals(store: Store, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "d.jsonl", correct_rows(30))
    echo = run_eval(store, FakeModel(), config(path))
    fixed = run_eval(store, FakeModel(fixer), config(path))
    a, b = runs.get_items(store, echo.id), runs.get_items(store, fixed.id)
    diffs = {d.metric: d for d in paired_bootstrap("correct", a, b, ["gleu", "chrf"], samples=500)}
    gleu = diffs["gleu"]
    assert gleu.base == pytest.approx(echo.aggregates["metrics"]["gleu"])
    assert gleu.other == pytest.approx(fixed.aggregates["metrics"]["gleu"])
    assert 0 < gleu.low < gleu.delta < gleu.high and gleu.p == 0.0
    same = paired_bootstrap("correct", b, b, ["gleu"], samples=200)[0]
    assert same.delta == same.low == same.high == 0.0


def test_html_report_has_plots_per_category_bars_and_worst_examples(store: Store, tmp_path: Path) -> None:
    rows = correct_rows(10)
    rows[0]["source"] = "Use <b>bold</b> & go ."
    path = write_rows(tmp_path / "d.jsonl", rows)
    run = run_eval(store, FakeModel(fixer), config(path))
    from draftsmith.evaluation.report import write_report

    out = write_report(run, runs.get_items(store, run.id), tmp_path / "report" / "r.html")
    page = out.read_text(encoding="utf-8")
    assert page.count("src='data:image/png;base64,") >= 4  # two distributions, two category bars
    assert "By category" in page and "Worst 10 items by gleu" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; go" in page and "<b>bold</b>" not in page
    assert "She goes to school every day ." in page  # a reference beside the output


# -- concurrency against an OpenAI-compatible server -----------------------------------------------------------


def test_concurrent_requests_overlap_on_an_openai_compatible_server(store: Store, tmp_path: Path) -> None:
    from draftsmith.models.openai_compat import OpenAICompatModel
    from fake_openai_server import FakeOpenAI

    server = FakeOpenAI().start()
    try:
        path = write_rows(tmp_path / "c.jsonl", [{"id": i, "source": f"Story {i} begins."} for i in range(8)])
        model = OpenAICompatModel(server.url, "fake-model", retries=0)
        server.queue(*["hang:0.4"] * 8)
        start = time.perf_counter()
        run = run_eval(store, model, EvalConfig(task="continue", data=str(path), model="x", concurrency=8))
        elapsed = time.perf_counter() - start
        model.close()
    finally:
        server.stop()
    assert run.items_done == 8
    assert {r.output for r in runs.get_items(store, run.id)} == {"Hello, world!"}
    assert len(server.calls("/chat/completions")) == 8
    assert elapsed < 8 * 0.4 / 2  # one at a time would take 3.2 s


# -- the command line --------------------------------------------------------------------------------------


def test_cli_run_list_show_compare_report(capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    from draftsmith.cli import main

    assert (
        main(
            [
                "eval",
                "run",
                "--task",
                "correct",
                "--data",
                str(data),
                "--model",
                "fake",
                "--tokenize",
                "ptb",
                "--name",
                "echo",
                "--json",
            ]
        )
        == 0
    )
    first = json.loads(capsys.readouterr().out)
    assert first["status"] == "done" and first["aggregates"]["metrics"]["gleu"] > 0
    assert main(["eval", "run", "--task", "correct", "--data", str(data), "--model", "fake", "--limit", "4",
                 "--mode", "llm"]) == 0  # fmt: skip
    assert "gleu" in capsys.readouterr().out
    assert main(["eval", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["items_total"] for r in listed] == [4, 12]
    assert main(["eval", "show", "last", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["mode"] == "llm"
    assert main(["eval", "show", "echo", "--items", "2"]) == 0
    shown = capsys.readouterr().out
    assert "She go to school every day ." in shown and "s1" in shown
    assert main(["eval", "compare", "echo", "last"]) == 0
    assert "Δ [95% CI]" in capsys.readouterr().out
    report = tmp_path / "r.html"
    assert main(["eval", "report", first["id"][:6], "--html", "-o", str(report)]) == 0
    assert report.exists() and capsys.readouterr().out.strip() == str(report)


def test_cli_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from draftsmith.cli import main

    bad = write_rows(tmp_path / "bad.jsonl", [*correct_rows(1), "not json"])
    assert main(["eval", "run", "--task", "correct", "--data", str(bad), "--model", "fake"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.jsonl:line 2: not valid JSON" in err[0]
    assert main(["eval", "run", "--task", "correct", "--data", str(bad), "--model", "fake", "--on-error", "skip"]) == 0
    assert "skipped: line 2" in capsys.readouterr().err
    assert main(["eval", "show", "nosuchrun"]) == 2
    assert "no evaluation run 'nosuchrun'" in capsys.readouterr().err
    assert (
        main(
            [
                "eval",
                "run",
                "--task",
                "correct",
                "--data",
                str(bad),
                "--model",
                "fake",
                "--on-error",
                "skip",
                "--metrics",
                "bleu",
            ]
        )
        == 2
    )
    assert "does not fit task 'correct'" in capsys.readouterr().err


# -- JFLEG tokenisation and ERRANT --------------------------------------------------------------------------


def test_ptb_tokenisation_matches_jfleg() -> None:
    assert ptb.tokenize("I don't know, it's Bob's car (really).") == "I do n't know , it 's Bob 's car ( really ) ."
    assert ptb.tokenize("We can't go to the U.S. at 3.5% now.") == "We ca n't go to the U.S. at 3.5 % now ."
    assert ptb.detokenize("He did n't say `` yes '' , did he ?") == 'He didn\'t say "yes", did he?'


@pytest.mark.skipif(not JFLEG.is_dir(), reason=f"JFLEG not found at {JFLEG} (set DRAFTSMITH_DATA)")
def test_jfleg_lines_survive_detokenise_then_tokenise() -> None:
    items = load_jfleg(JFLEG, "test")
    assert len(items) == 747 and len(items[0].references) == 4
    same = sum(ptb.tokenize(ptb.detokenize(i.source)) == " ".join(i.source.split()) for i in items)
    assert same / len(items) > 0.95  # the rest differ only in quote style (`` '' vs ")


def _errant_ready() -> bool:
    try:
        from draftsmith.evaluation.gec import _annotator

        _annotator()
        return True
    except Exception:
        return False


@pytest.mark.skipif(not _errant_ready(), reason="errant or an English spaCy model is not installed")
def test_errant_f05_from_m2_references(store: Store, tmp_path: Path) -> None:
    m2 = "S She go to school .\nA 1 2|||R:VERB:SVA|||goes|||REQUIRED|||-NONE-|||0\n"
    rows = [{"id": "a", "source": "She go to school .", "references": ["She goes to school ."], "m2": m2}]
    rows.append(
        {
            "id": "b",
            "source": "I has a cat .",
            "references": ["I have a cat ."],
            "m2": "S I has a cat .\nA 1 2|||R:VERB:SVA|||have|||REQUIRED|||-NONE-|||0\n",
        }
    )
    path = write_rows(tmp_path / "m2.jsonl", rows)

    def half(messages, params):  # fixes the first sentence only
        text = echo_responder(messages, params)
        return text.replace("She go", "She goes")

    run = run_eval(store, FakeModel(half), config(path))
    metrics = run.aggregates["metrics"]
    assert metrics["errant_p"] == 100.0 and metrics["errant_r"] == 50.0
    assert metrics["errant_f05"] == pytest.approx(100 * 1.25 * 0.5 / (0.25 + 0.5))


# -- the real model ----------------------------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.skipif(not JFLEG.is_dir(), reason=f"JFLEG not found at {JFLEG} (set DRAFTSMITH_DATA)")
def test_real_model_tiny_correct_run_on_jfleg(store: Store) -> None:
    from draftsmith.models.loader import load_model

    model = load_model("qwen2.5-0.5b")
    items = load_jfleg(JFLEG, "test", limit=3)
    run = run_eval(store, model, EvalConfig(task="correct", model="qwen2.5-0.5b", tokenize="ptb"), items)
    assert run.status == "done" and run.items_done == 3 and run.items_failed == 0
    stored = runs.get_items(store, run.id)
    assert all(r.output.strip() for r in stored)
    assert all(" ," not in r.output for r in stored)  # the model saw plain text, not JFLEG's spacing
    assert 0 < run.aggregates["metrics"]["gleu"] <= 100
    assert run.completion_tokens > 0
