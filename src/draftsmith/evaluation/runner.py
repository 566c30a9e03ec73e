"""Evaluation runs: an operation over a data set, scored, with every item stored as it finishes.

``run_eval`` calls the writing operation for each item the way a user would (``correct``, ``translate``, …),
``concurrency`` items at a time (a thread pool: an OpenAI-compatible server answers them in parallel; the local
llama.cpp model takes them one by one behind its lock). Each finished item (output, per-item scores, tokens,
time) is committed to the store at once, so Ctrl-C keeps the work done: the run is marked ``interrupted`` and
``resume_eval`` (``eval run --resume RUN``) does only the rest. Aggregates are computed from the stored items in
data-set order, so a resumed run reports exactly what an uninterrupted one would.

An item whose operation fails (a model error) is stored with its error and scored as an empty output; after
``max_failures`` failed items the run stops, keeping what it has. Resuming retries the failed items.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from draftsmith.errors import DraftsmithError, InputError
from draftsmith.evaluation import ptb
from draftsmith.evaluation.datasets import Item, items_digest, load_dataset
from draftsmith.evaluation.metrics import score
from draftsmith.evaluation.plan import PER_ITEM_MEANS, EvalConfig, Plan, plan_metrics
from draftsmith.models.base import Model
from draftsmith.store import runs
from draftsmith.store.db import Store

Progress = Callable[[int, int], None]


class RunInterrupted(DraftsmithError):
    """The run was stopped (Ctrl-C); what finished is stored and the run can be resumed."""

    exit_code = 130


# -- one item -------------------------------------------------------------------------------------------------


def run_operation(model: Model, cfg: EvalConfig, item: Item, lang: str) -> tuple[str, Any]:
    """Call the task's writing operation on one item; returns the output text and the operation's result."""
    from draftsmith.writing import continuation, correct, generate, rewrite, summarize, translate

    source = ptb.detokenize(item.source) if cfg.tokenize == "ptb" else item.source
    task = cfg.task
    if task == "correct":
        mode = {"mode": cfg.mode} if cfg.mode else {}
        result = correct.correct(model, source, lang=lang, template=cfg.template or "correct", **mode)
    elif task == "translate":
        to = item.tgt_lang or cfg.to
        result = translate.translate(
            model,
            source,
            to=to,
            source=item.src_lang,
            template=cfg.template or "translate",
            temperature=cfg.temperature,
        )
    elif task == "rewrite":
        style = item.style or cfg.style
        if not style:
            raise InputError(f"item {item.id!r}: task 'rewrite' needs 'style' on the item, or --style")
        result = rewrite.rewrite(
            model,
            source,
            style=style,
            lang=lang,
            template=cfg.template or "rewrite",
            temperature=cfg.temperature,
            seed=cfg.seed,
        )
    elif task == "summarize":
        if cfg.template not in (None, "summarize"):
            raise InputError(
                "summarize always uses the 'summarize' template; to evaluate a variant, save it as a user "
                "template named 'summarize' (draftsmith templates new summarize --from summarize)"
            )
        result = summarize.summarize(
            model, source, words=item.words or cfg.words or 80, lang=lang, temperature=cfg.temperature, seed=cfg.seed
        )
    elif task == "write":
        result = generate.write(
            model,
            item.instruction,
            template=item.template or cfg.template,
            variables=item.vars,
            lang=lang,
            temperature=cfg.temperature,
            seed=cfg.seed,
        )
    else:
        result = continuation.continue_text(
            model,
            source,
            words=item.words or cfg.words or 100,
            lang=lang,
            template=cfg.template or "continue",
            temperature=cfg.temperature,
            seed=cfg.seed,
        )
    return result.text, result


def item_scores(task: str, plan: Plan, item: Item, hypothesis: str) -> dict[str, float]:
    """Per-item figures of the corpus metrics (for distributions, worst examples and the bootstrap)."""
    if not plan.corpus:
        return {}
    refs = [item.references] if item.references else None
    sources = [item.source] if task not in ("write", "continue") else None
    figures = score(task, [hypothesis], refs, sources, plan.lang, metrics=plan.corpus)
    figures.pop("length_std", None)
    return figures


_ERRANT_LOCK = threading.Lock()  # spaCy pipelines are not documented as thread-safe


class Evaluator:
    """Runs and scores items; shared by ``run_eval`` and the optimiser (which keeps results in memory)."""

    def __init__(
        self,
        model: Model,
        cfg: EvalConfig,
        plan: Plan,
        *,
        judge_model: Model | None = None,
        scorer: Model | None = None,
    ) -> None:
        self.model, self.cfg, self.plan = model, cfg, plan
        self.judge_model = judge_model or model
        self.scorer = scorer or model
        self.judge_template = None
        if "judge" in plan.extras:
            from draftsmith.evaluation.judge import load_judge

            self.judge_template = load_judge(cfg.judge_template)

    def evaluate(self, item: Item, position: int) -> runs.ItemRecord:
        start = time.perf_counter()
        error = None
        prompt_tokens = completion_tokens = 0
        extra: dict[str, Any] = {}
        try:
            output, result = run_operation(self.model, self.cfg, item, self.plan.lang)
            prompt_tokens, completion_tokens = result.usage.prompt_tokens, result.usage.completion_tokens
            if result.warnings:
                extra["warnings"] = result.warnings
        except DraftsmithError as exc:
            output, error = "", str(exc)
        hypothesis = ptb.tokenize(output) if self.cfg.tokenize == "ptb" else output
        scores = item_scores(self.cfg.task, self.plan, item, hypothesis)
        if error is None:
            try:
                scores.update(self._extras(item, output, hypothesis, extra))
            except DraftsmithError as exc:  # a judge that answered nonsense fails the item, not the run
                error = f"scoring: {exc}"
        return runs.ItemRecord(
            item_id=item.id,
            position=position,
            category=item.category,
            source=item.source or item.instruction or "",
            references=item.references,
            output=output,
            hypothesis=hypothesis,
            scores=scores,
            extra=extra,
            error=error,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            elapsed_s=time.perf_counter() - start,
        )

    def _extras(self, item: Item, output: str, hypothesis: str, extra: dict[str, Any]) -> dict[str, float]:
        out: dict[str, float] = {}
        if "errant" in self.plan.extras and item.m2:
            from draftsmith.evaluation.gec import item_counts

            with _ERRANT_LOCK:
                tp, fp, fn = item_counts(item.m2, hypothesis)
            out.update(errant_tp=tp, errant_fp=fp, errant_fn=fn)
        if "perplexity" in self.plan.extras:
            from draftsmith.evaluation.judge import perplexity

            value = perplexity(self.scorer, item.source if self.cfg.task == "continue" else "", output)
            if value is not None:
                out["perplexity"] = value
        if "acceptance" in self.plan.extras and item.feedback:
            from draftsmith.evaluation.acceptance import agreement

            value = agreement(item.source, output, item.feedback, self.plan.lang)
            if value is not None:
                out["acceptance"] = value
        if "style" in self.plan.extras:
            from draftsmith.evaluation.judge import style_adherence

            out["style_adherence"] = style_adherence(item.style or self.cfg.style or "", output)
        if self.judge_template is not None:
            from draftsmith.evaluation.judge import judge_item

            figures, notes = judge_item(
                self.judge_model,
                self.judge_template,
                task=self.cfg.task,
                source=item.source or item.instruction or "",
                output=output,
                reference=item.references[0] if item.references else "",
            )
            out.update(figures)
            extra.update(notes)
        return out


def run_items(
    evaluator: Evaluator,
    items: Sequence[tuple[int, Item]],
    on_record: Callable[[runs.ItemRecord], None],
    *,
    concurrency: int = 1,
    progress: Progress | None = None,
    max_failures: int | None = None,
) -> int:
    """Evaluate ``(position, item)`` pairs, ``concurrency`` at a time; ``on_record`` gets each finished one in the
    calling thread. Returns the number of failed items. Ctrl-C lets running items finish (and be recorded),
    cancels the rest, and re-raises ``KeyboardInterrupt``."""
    total, done, failed = len(items), 0, 0
    limit = max_failures if max_failures is not None else max(3, total // 10)
    last_error = ""
    pool = cf.ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="eval")
    pending: set[cf.Future[runs.ItemRecord]] = set()
    queue = list(items)
    try:
        while queue or pending:
            while queue and len(pending) < concurrency:
                position, item = queue.pop(0)
                pending.add(pool.submit(evaluator.evaluate, item, position))
            finished, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                record = future.result()
                on_record(record)
                done += 1
                if record.error:
                    failed += 1
                    last_error = record.error
                if progress:
                    progress(done, total)
            if failed > limit:
                queue.clear()
                for future in cf.as_completed(pending):
                    on_record(future.result())
                pending = set()
                raise _TooManyFailures(failed, last_error)
    except BaseException:
        for future in pending:
            future.cancel()
        for future in pending:
            if not future.cancelled():
                with contextlib.suppress(BaseException):  # the first failure is the one reported
                    on_record(future.result())
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return failed


class _TooManyFailures(DraftsmithError):
    def __init__(self, failed: int, last: str) -> None:
        super().__init__(f"{failed} items failed; the last: {last}")
        self.failed = failed


# -- aggregates -----------------------------------------------------------------------------------------------


def aggregate(task: str, plan: Plan, records: Sequence[runs.ItemRecord]) -> dict[str, Any]:
    """Corpus figures over the records (in data-set order), per category too, plus means of per-item extras."""
    records = sorted(records, key=lambda r: r.position)

    def figures(group: Sequence[runs.ItemRecord]) -> dict[str, float]:
        hyps = [r.hypothesis for r in group]
        refs = [r.references for r in group] if all(r.references for r in group) else None
        sources = [r.source for r in group] if task not in ("write", "continue") else None
        out = score(task, hyps, refs, sources, plan.lang, metrics=plan.corpus) if plan.corpus else {}
        names = sorted({k for r in group for k in r.scores if k.startswith(PER_ITEM_MEANS)})
        for name in names:
            values = [r.scores[name] for r in group if name in r.scores]
            out[name] = sum(values) / len(values)
        if "errant" in plan.extras:
            from draftsmith.evaluation.gec import f_beta

            tp, fp, fn = (sum(int(r.scores.get(f"errant_{k}", 0)) for r in group) for k in ("tp", "fp", "fn"))
            out["errant_p"] = 100 * (tp / (tp + fp) if tp + fp else 1.0)
            out["errant_r"] = 100 * (tp / (tp + fn) if tp + fn else 1.0)
            out["errant_f05"] = 100 * f_beta(tp, fp, fn)
        return out

    categories = sorted({r.category for r in records})
    return {
        "metrics": figures(records),
        "by_category": {c: figures([r for r in records if r.category == c]) for c in categories},
        "items": len(records),
        "failed": sum(1 for r in records if r.error),
        "lang": plan.lang,
    }


# -- runs in the store ----------------------------------------------------------------------------------------


def template_version(cfg: EvalConfig) -> tuple[str | None, str | None]:
    """The template a run uses and a fingerprint of its current file."""
    from draftsmith.prompts.history import describe_version

    name = cfg.template or {"write": None, "continue": "continue"}.get(cfg.task, cfg.task)
    if name is None:
        return None, None
    return name, describe_version(name)


def run_eval(
    store: Store,
    model: Model,
    cfg: EvalConfig,
    items: Sequence[Item] | None = None,
    *,
    resume: str | None = None,
    progress: Progress | None = None,
    judge_model: Model | None = None,
    scorer: Model | None = None,
    kind: str = "eval",
) -> runs.RunInfo:
    """Start a run over ``items`` (or the config's data file), or resume one; returns the finished run."""
    digest, skipped = None, []
    if items is None:
        if not cfg.data:
            raise InputError("no data: give --data FILE.jsonl")
        dataset = load_dataset(cfg.data, cfg.task, on_error=cfg.on_error, limit=cfg.limit)  # type: ignore[arg-type]
        items, digest, skipped = dataset.items, dataset.digest, dataset.skipped
        cfg = cfg.model_copy(update={"data": str(Path(cfg.data).resolve())})
    else:
        items = list(items)[: cfg.limit] if cfg.limit else list(items)
        digest = items_digest(items) if items else None
    plan = plan_metrics(cfg, items)
    template, version = template_version(cfg)
    if resume is None:
        run_id = runs.create_run(
            store,
            task=cfg.task,
            model=model.name,
            config=cfg.model_dump(),
            items_total=len(items),
            template=template,
            template_version=version,
            data_path=cfg.data,
            data_digest=digest,
            name=cfg.name,
            kind=kind,
        )
        done: set[str] = set()
    else:
        run_id = resume
        run = runs.get_run(store, run_id)
        if run.data_digest and digest and run.data_digest != digest:
            raise InputError(
                f"run {run_id}: the data changed since the run started; start a new run instead of resuming"
            )
        if run.template_version != version:
            raise InputError(
                f"run {run_id} used template {template} {run.template_version}, now it is {version}; "
                "resuming would mix two versions; start a new run"
            )
        done = runs.done_item_ids(store, run_id)
        runs.set_status(store, run_id, "running")
    todo = [(pos, item) for pos, item in enumerate(items) if item.id not in done]
    evaluator = Evaluator(model, cfg, plan, judge_model=judge_model, scorer=scorer)
    start = time.perf_counter()
    offset = len(items) - len(todo)

    def report(n: int, total: int) -> None:
        if progress:
            progress(offset + n, len(items))

    if progress:
        progress(offset, len(items))
    try:
        run_items(
            evaluator,
            todo,
            lambda record: runs.save_item(store, run_id, record),
            concurrency=cfg.concurrency,
            progress=report,
            max_failures=cfg.max_failures,
        )
    except KeyboardInterrupt:
        runs.set_status(store, run_id, "interrupted", add_elapsed=time.perf_counter() - start)
        left = len(items) - len(runs.done_item_ids(store, run_id))
        raise RunInterrupted(
            f"interrupted: run {run_id} stored {len(items) - left} of {len(items)} items; "
            f"resume it with: draftsmith eval run --resume {run_id}"
        ) from None
    except _TooManyFailures as exc:
        runs.set_status(store, run_id, "failed", add_elapsed=time.perf_counter() - start)
        raise DraftsmithError(
            f"run {run_id} stopped: {exc}; fix the cause, then: draftsmith eval run --resume {run_id}"
        ) from None
    except BaseException:
        runs.set_status(store, run_id, "failed", add_elapsed=time.perf_counter() - start)
        raise
    records = runs.get_items(store, run_id)
    aggregates = {**aggregate(cfg.task, plan, records), "skipped_lines": skipped}
    runs.finish_run(store, run_id, aggregates, add_elapsed=time.perf_counter() - start)
    return runs.get_run(store, run_id)


def resume_eval(store: Store, ref: str, model: Model, **kwargs: Any) -> runs.RunInfo:
    """Continue a stored run with its stored configuration (the data file must be unchanged)."""
    run = runs.get_run(store, ref)
    if run.status == "done":
        raise InputError(f"run {run.id} is already complete; see: draftsmith eval show {run.id}")
    cfg = EvalConfig(**run.config)
    concurrency = kwargs.pop("concurrency", None)
    if concurrency:
        cfg = cfg.model_copy(update={"concurrency": concurrency})
    if cfg.data is None:
        raise InputError(f"run {run.id} was made from items in memory, not a data file; it cannot be resumed")
    if model.name != run.model:
        raise InputError(f"run {run.id} used model {run.model}, not {model.name}; resume it with --model {run.model}")
    return run_eval(store, model, cfg, resume=run.id, **kwargs)
