"""draftsmith eval (run, list, show, compare, report) and draftsmith optimize."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import typer
from rich.table import Table

from draftsmith.cli.common import ModelOpt, err, out, print_json

app = typer.Typer(help="Evaluate operations on data sets: run, list, show, compare, report.", no_args_is_help=True)

TASKS_HELP = "correct, translate, rewrite, summarize, write or continue"


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="eval")
    root.command("optimize")(optimize)


def _store():
    from draftsmith.store.db import open_store

    return open_store()


def _model(spec: str | None):
    from draftsmith.cli.common import assistant

    return assistant(spec).model


def _metrics(value: str | None) -> list[str] | None:
    return [m.strip() for m in value.split(",") if m.strip()] if value else None


@contextmanager
def _progress(label: str):
    """A progress callback drawing a bar on a terminal (nothing otherwise)."""
    if not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err)
    task = bar.add_task(label, total=None)
    with bar:
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _show_aggregates(run) -> None:
    metrics = (run.aggregates or {}).get("metrics") or {}
    table = Table(box=None, title=f"run {run.id} ({run.task}, {run.status})", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, _fmt(value))
    out.print(table)
    by_category = (run.aggregates or {}).get("by_category") or {}
    if len(by_category) > 1:
        cats = Table(box=None, title="by category", title_justify="left")
        cats.add_column("category")
        names = list(metrics)
        for name in names:
            cats.add_column(name, justify="right")
        for cat, figures in by_category.items():
            cats.add_row(cat, *(_fmt(figures.get(n, "")) for n in names))
        out.print(cats)
    out.print(
        f"items {run.items_done} done, {run.items_failed} failed of {run.items_total} · tokens "
        f"{run.prompt_tokens}+{run.completion_tokens} · {run.elapsed_s:.1f} s · model {run.model} · "
        f"template {run.template or '-'} {run.template_version or ''}",
        style="dim",
    )
    for line in (run.aggregates or {}).get("skipped_lines") or []:
        err.print(f"[yellow]skipped:[/] {line}")


@app.command("run")
def run_cmd(
    task: str = typer.Option(None, "--task", help=f"The operation: {TASKS_HELP}."),
    data: Path = typer.Option(None, "--data", help="JSONL data set (schema: see 'draftsmith eval run --help')."),
    template: str = typer.Option(None, "--template", "-t", help="Template to evaluate (default: the task's)."),
    model: str = ModelOpt,
    limit: int = typer.Option(None, "--limit", min=1, help="Only the first N items."),
    metrics: str = typer.Option(
        None,
        "--metrics",
        help="Comma-separated metrics (default: those that fit the task); add judge, perplexity, style.",
    ),
    lang: str = typer.Option(None, "--lang", "-l", help="Language of the outputs (default: detected)."),
    to: str = typer.Option(None, "--to", help="translate: target language for items without tgt_lang."),
    style: str = typer.Option(None, "--style", help="rewrite: style for items without one."),
    words: int = typer.Option(None, "--words", min=1, help="summarize/continue: length for items without one."),
    tokenize: str = typer.Option(
        None, "--tokenize", help="'ptb' for pre-tokenised data like JFLEG: detokenise inputs, re-tokenise outputs."
    ),
    mode: str = typer.Option(None, "--mode", help="correct: hybrid, llm or detectors (default: the operation's)."),
    judge_model: str = typer.Option(None, "--judge-model", help="Model for the judge metric (default: --model)."),
    judge_template: str = typer.Option(None, "--judge-template", help="Rubric template (default: judge-quality)."),
    concurrency: int = typer.Option(1, "--concurrency", "-j", min=1, max=256, help="Items in flight at once."),
    on_error: str = typer.Option("stop", "--on-error", help="Malformed data lines: stop (default) or skip."),
    resume: str = typer.Option(None, "--resume", help="Continue an interrupted run (its id, or 'last')."),
    name: str = typer.Option(None, "--name", help="A name for the run."),
    json_out: bool = typer.Option(False, "--json", help="Print the run as JSON."),
) -> None:
    """Run an operation over a data set, score it, and store everything (resumable).

    Data: one JSON object per line. correct: {"id", "source", "references": [...], "m2"?};
    translate: {"source", "reference", "src_lang"?, "tgt_lang"}; rewrite: {"source", "style", "references"?};
    summarize: {"source", "reference", "words"?}; write: {"instruction" or "vars", "references"?};
    continue: {"source", "references"?}. Any item may have "category" (report bars) and "lang".
    """
    from draftsmith.errors import InputError
    from draftsmith.evaluation.runner import EvalConfig, resume_eval, run_eval

    store = _store()
    if resume:
        from draftsmith.store.runs import get_run

        stored = get_run(store, resume)
        spec = model or stored.config.get("model") or None
        with _progress(f"eval {stored.id}") as progress:
            run = resume_eval(store, stored.id, _model(spec), concurrency=concurrency, progress=progress)
    else:
        if not task or data is None:
            raise InputError("give --task and --data (or --resume RUN)")
        if on_error not in ("stop", "skip"):
            raise InputError("--on-error must be 'stop' or 'skip'")
        from draftsmith.config import load_settings

        spec = model or load_settings().model
        loaded = _model(spec)
        cfg = EvalConfig(
            task=task,
            data=str(data),
            template=template,
            model=spec,
            metrics=_metrics(metrics),
            limit=limit,
            lang=lang,
            to=to,
            style=style,
            words=words,
            tokenize=tokenize,
            mode=mode,
            judge_model=judge_model,
            judge_template=judge_template,
            concurrency=concurrency,
            on_error=on_error,
            name=name,
        )
        judge = _model(judge_model) if judge_model else None
        with _progress(f"eval {task}") as progress:
            run = run_eval(store, loaded, cfg, progress=progress, judge_model=judge)
    if json_out:
        print_json(run)
        return
    _show_aggregates(run)


@app.command("list")
def list_cmd(
    limit: int = typer.Option(50, "--limit", min=1, help="How many runs, newest first."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List evaluation runs, newest first."""
    import datetime

    from draftsmith.store.runs import list_runs

    found = list_runs(_store(), limit=limit)
    if json_out:
        print_json([r.model_dump(exclude={"config"}) for r in found])
        return
    table = Table(box=None)
    for column in ("id", "when", "kind", "task", "status", "items", "model", "template", "scores"):
        table.add_column(column, no_wrap=column != "scores")
    for r in found:
        when = datetime.datetime.fromtimestamp(r.created_at).strftime("%Y-%m-%d %H:%M")
        figures = ((r.aggregates or {}).get("metrics") or {}).items()
        scores = " ".join(f"{k}={v:.2f}" for k, v in list(figures)[:4] if isinstance(v, int | float))
        table.add_row(
            r.id, when, r.kind, r.task, r.status, f"{r.items_done}/{r.items_total}", r.model, r.template or "-", scores
        )
    out.print(table)


@app.command()
def show(
    run: str = typer.Argument(..., help="Run id (or a unique prefix, a name, or 'last')."),
    items: int = typer.Option(0, "--items", min=0, help="Also print the first N items."),
    json_out: bool = typer.Option(False, "--json", help="Print the run (and items) as JSON."),
) -> None:
    """Show a run: configuration, aggregates, and optionally its items."""
    from draftsmith.store.runs import get_items, get_run

    store = _store()
    info = get_run(store, run)
    records = get_items(store, info.id)[:items] if items else []
    if json_out:
        print_json({**info.model_dump(), "items": [r.model_dump() for r in records]})
        return
    _show_aggregates(info)
    for r in records:
        out.print(f"[bold]{r.item_id}[/] ({r.category}) " + " ".join(f"{k}={_fmt(v)}" for k, v in r.scores.items()))
        out.print(f"  source: {r.source}", markup=False)
        out.print(f"  output: {r.output}" if not r.error else f"  failed: {r.error}", markup=False)


@app.command()
def compare(
    run_ids: list[str] = typer.Argument(..., help="Two or more runs; the first is the baseline."),
    metrics: str = typer.Option(None, "--metrics", help="Comma-separated figures (default: all the runs share)."),
    samples: int = typer.Option(1000, "--samples", min=100, help="Bootstrap resamples."),
    seed: int = typer.Option(12345, "--seed", help="Bootstrap seed."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Compare runs: a table of figures, and paired bootstrap 95% intervals of each run's change vs the first."""
    from draftsmith.errors import InputError
    from draftsmith.evaluation.compare import comparable_metrics, paired_bootstrap
    from draftsmith.store.runs import get_items, get_run

    if len(run_ids) < 2:
        raise InputError("give at least two runs to compare")
    store = _store()
    infos = [get_run(store, r) for r in run_ids]
    tasks = {i.task for i in infos}
    if len(tasks) > 1:
        raise InputError(f"the runs are of different tasks ({', '.join(sorted(tasks))}); compare runs of one task")
    names = _metrics(metrics) or comparable_metrics([i.aggregates or {} for i in infos])
    names = [n for n in names if not n.startswith("errant_") or n == "errant_f05"]
    if not names:
        raise InputError("the runs share no figures to compare (are they finished? see 'draftsmith eval show RUN')")
    base = get_items(store, infos[0].id)
    lang = (infos[0].aggregates or {}).get("lang", "en")
    results = {
        i.id: paired_bootstrap(i.task, base, get_items(store, i.id), names, lang=lang, samples=samples, seed=seed)
        for i in infos[1:]
    }
    if json_out:
        print_json({"base": infos[0].id, "differences": {k: [d.__dict__ for d in v] for k, v in results.items()}})
        return
    table = Table(box=None)
    table.add_column("metric")
    table.add_column(infos[0].id + " (base)", justify="right")
    for i in infos[1:]:
        table.add_column(i.id, justify="right")
        table.add_column("Δ [95% CI]", justify="right")
    for name in names:
        row = [name]
        first = next((d.base for v in results.values() for d in v if d.metric == name), None)
        row.append(_fmt(first) if first is not None else "-")
        for i in infos[1:]:
            d = next((d for d in results[i.id] if d.metric == name), None)
            if d is None:
                row += ["-", "-"]
                continue
            mark = " *" if (d.low > 0 or d.high < 0) else ""
            row += [_fmt(d.other), f"{d.delta:+.3f} [{d.low:+.3f}, {d.high:+.3f}]{mark}"]
        table.add_row(*row)
    out.print(table)
    shared = next(iter(results.values()))[0].items if results and next(iter(results.values())) else 0
    out.print(f"paired bootstrap over {shared} shared items, {samples} resamples; * = interval excludes 0", style="dim")


@app.command()
def report(
    run: str = typer.Argument(..., help="Run id (or a unique prefix, a name, or 'last')."),
    html: bool = typer.Option(True, "--html/--no-html", help="Write an HTML report (the only format for now)."),
    output: Path = typer.Option(None, "--out", "-o", help="Where to write it (default: eval-RUN.html)."),
    worst: int = typer.Option(10, "--worst", min=0, help="How many worst examples to show."),
) -> None:
    """Write an HTML report: figures, score distributions, per-category bars, worst examples."""
    from draftsmith.errors import InputError
    from draftsmith.evaluation.report import write_report
    from draftsmith.store.runs import get_items, get_run

    if not html:
        raise InputError("only --html reports exist; use 'eval show RUN --json' for data")
    store = _store()
    info = get_run(store, run)
    path = write_report(info, get_items(store, info.id), output or Path(f"eval-{info.id}.html"), worst=worst)
    typer.echo(str(path))


def _feedback_items(task: str, *, with_answers: bool) -> list:
    """The local user's feedback as evaluation items of ``task``: every answered text with its answers
    (``with_answers``, for --metric acceptance), or only what was accepted (few-shot candidates)."""
    from draftsmith.errors import InputError
    from draftsmith.evaluation.datasets import parse_item
    from draftsmith.feedback.pairs import decision_items, eval_items
    from draftsmith.feedback.personal import local_store
    from draftsmith.store.feedback import answered

    store = local_store(create=False)
    records = answered(store, owner=None) if store is not None else []
    raw = decision_items(records, task) if with_answers else eval_items(records, task)
    if not raw:
        raise InputError(
            f"no answered {task} suggestions recorded yet; answer some first (draftsmith correct --interactive, "
            "feedback accept|reject ID, or the editor), or give --data"
        )
    return [parse_item(item, task, n) for n, item in enumerate(raw, start=1)]


def optimize(
    template: str = typer.Argument(..., help="The template to improve (e.g. correct)."),
    data: Path = typer.Option(
        None,
        "--data",
        help="JSONL data set (the template's task schema). With --metric acceptance, default: your recorded answers.",
    ),
    metric: str = typer.Option(
        ...,
        "--metric",
        help="The figure to improve, e.g. gleu, chrf, rougeL, judge, or acceptance (agreement with the "
        "suggestions you accepted and rejected; see docs/optimize.md).",
    ),
    shots_from: str = typer.Option(
        "data",
        "--shots-from",
        help="Few-shot examples from the training split of the data (data) or from the suggestions you accepted "
        "(feedback).",
    ),
    budget: int = typer.Option(200, "--budget", min=1, help="Model calls the search may use."),
    heldout: Path = typer.Option(None, "--heldout", help="Held-out JSONL (default: split off --data)."),
    dev_size: int = typer.Option(None, "--dev-size", min=1, help="Dev items to search on (default: 60)."),
    heldout_size: int = typer.Option(None, "--heldout-size", min=1, help="Held-out items (default: 25% of data)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the splits, examples and proposals."),
    tokenize: str = typer.Option(None, "--tokenize", help="'ptb' for pre-tokenised data like JFLEG."),
    model: str = ModelOpt,
    proposer: str = typer.Option(
        None, "--proposer", help="Model that writes the instruction rewrites (default: --model); same budget."
    ),
    concurrency: int = typer.Option(1, "--concurrency", "-j", min=1, max=256, help="Items in flight at once."),
    fresh: bool = typer.Option(
        False, "--fresh", help="Start over instead of resuming an interrupted search of the same template."
    ),
    on_error: str = typer.Option("stop", "--on-error", help="Malformed data lines: stop (default) or skip."),
    significant: bool = typer.Option(False, "--require-significant", help="Write only if the 95% CI is above 0."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Search and confirm, but write nothing."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Improve a template on a dev split; write it as a new version only if it wins on held-out items."""
    from draftsmith.errors import InputError
    from draftsmith.evaluation.datasets import load_dataset, split_items
    from draftsmith.evaluation.optimize import OptimizeConfig
    from draftsmith.evaluation.optimize import optimize as run_optimize
    from draftsmith.prompts.registry import get_template

    if on_error not in ("stop", "skip"):
        raise InputError("--on-error must be 'stop' or 'skip'")
    if shots_from not in ("data", "feedback"):
        raise InputError("--shots-from must be 'data' or 'feedback'")
    task = get_template(template).task
    if data is None:
        if metric != "acceptance":
            raise InputError("--data is needed (or --metric acceptance, which uses your recorded answers)")
        items = _feedback_items(task, with_answers=True)
        err.print(f"data: {len(items)} text(s) you answered {task} suggestions about", markup=False)
    else:
        dataset = load_dataset(data, task, on_error=on_error)  # type: ignore[arg-type]
        items = dataset.items
        for message in dataset.skipped:
            err.print(f"skipped {data}: {message}", markup=False)
    if heldout is not None:
        held_set = load_dataset(heldout, task, on_error=on_error)  # type: ignore[arg-type]
        held = held_set.items
        for message in held_set.skipped:
            err.print(f"skipped {heldout}: {message}", markup=False)
        dev, train = split_items(items, [min(dev_size or 60, len(items))], seed)
    else:
        n_held = heldout_size or max(1, len(items) // 4)
        n_dev = min(dev_size or 60, max(1, len(items) - n_held))
        held, dev, train = split_items(items, [n_held, n_dev], seed)
    if shots_from == "feedback":  # what you accepted, minus any text the search is scored on
        scored = {item.source for item in (*dev, *held)}
        train = [item for item in _feedback_items(task, with_answers=False) if item.source not in scored]
        if not train:
            raise InputError(f"no accepted {task} suggestions to draw examples from (outside the dev/held-out items)")
        err.print(f"few-shot candidates: {len(train)} accepted {task} suggestion(s)", markup=False)
    cfg = OptimizeConfig(
        metric=metric,
        budget=budget,
        seed=seed,
        tokenize=tokenize,
        concurrency=concurrency,
        require_significant=significant,
        write=not dry_run,
        resume=not fresh,
    )
    err.print(f"optimising {template} ({task}): {len(train)} train, {len(dev)} dev, {len(held)} held-out items")
    result = run_optimize(
        _model(model),
        template,
        train,
        dev,
        held,
        cfg,
        store=_store(),
        log=lambda m: err.print(m, markup=False),
        proposer=_model(proposer) if proposer else None,
    )
    if json_out:
        print_json(result.model_dump(exclude={"winner_text"}))
        return
    table = Table(box=None, title=f"dev {metric} per variant", title_justify="left")
    for column in ("variant", "description", metric, "dev items"):
        table.add_column(column)
    for c in result.candidates:
        table.add_row(c.key, c.description, _fmt(c.dev_score) if c.dev_score is not None else "-", str(c.dev_items))
    out.print(table)
    out.print(
        f"held-out {metric}: {_fmt(result.heldout_before)} → {_fmt(result.heldout_after)}"
        + (
            f" (95% CI of the change [{result.heldout_low:+.3f}, {result.heldout_high:+.3f}])"
            if result.heldout_low is not None
            else ""
        )
        + f" · calls: {result.search_calls} search + {result.heldout_calls} held-out"
    )
    out.print(result.decision)
