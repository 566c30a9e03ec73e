"""The prompt optimiser: propose template variants, pick the best on a dev split, confirm it on a held-out split.

1. The base template is scored on a first slice ("rung") of the dev items.
2. Variants are proposed: instruction rewrites by the model, or by a ``proposer`` model (shown the base's worst
   dev items), few-shot examples from the training split (for ``correct``, typical ones: examples that make the
   data's usual amount of change; otherwise a seeded sample), and sampling settings (not for ``correct``, which
   decodes greedily).
3. Successive halving: every variant is scored on the first rung; the better half (the base always stays) goes on
   to a rung twice as large, and so on while the budget lasts. After the first rung, the best instruction and
   the best examples are also tried together. All variants of a rung are scored on the same items (paired).
4. The dev winner and the base are scored on the held-out items, which no step above ever saw, with a paired
   bootstrap interval; the winner is written as a new version of the template file (``prompts.history``) only if
   it beats the base there (with ``require_significant``, only if the whole 95% interval is above 0).

The ``acceptance`` metric scores a variant's outputs by their agreement with a user's recorded answers
(``evaluation/acceptance.py``): items made from ``draftsmith feedback`` records, each with the accepted and
rejected suggestions shown about its text. A variant was never shown to anyone, so this is the offline stand-in
for its acceptance rate, not a measurement of it.

The budget counts model calls of the search (variant scoring and proposals); the held-out check is extra and
reported on its own. Variants are scored as user templates named ``<name>-opt<k>`` in the user template folder
(operations find templates by name); they are removed when the optimiser ends, whatever happens.

Every model answer is journaled as it arrives (``journal``); Ctrl-C raises ``RunInterrupted``, and the same search
started again replays the kept answers (counting them against the budget as before) and so ends as an
uninterrupted search would, asking the model only for the rest. ``resume=False`` (``--fresh``) starts over.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from draftsmith.config import data_dir
from draftsmith.errors import InputError
from draftsmith.evaluation.compare import LOWER_IS_BETTER, paired_bootstrap
from draftsmith.evaluation.datasets import Item
from draftsmith.evaluation.journal import AnswerJournal, ReplayModel
from draftsmith.evaluation.metrics import score
from draftsmith.evaluation.plan import EvalConfig, Plan, plan_metrics
from draftsmith.evaluation.runner import Evaluator, RunInterrupted, run_items
from draftsmith.evaluation.variants import (
    Variant,
    apply_variant,
    few_shot_variants,
    propose_instructions,
    temperature_variants,
)
from draftsmith.models.base import Chunk, GenParams, Message, Model, Score
from draftsmith.prompts import history
from draftsmith.prompts.registry import get_template, user_template_dir
from draftsmith.prompts.template import SUFFIX
from draftsmith.store.runs import ItemRecord

Log = Callable[[str], None]
# Metrics computed per item (by a model, or from the item's recorded answers) and averaged over items.
PER_ITEM = ("judge", "perplexity", "acceptance")


class BudgetExhausted(BaseException):
    """The search used its budget of model calls."""


class CountingModel(Model):
    """Counts calls to a model (a generation or a scoring is one call) and stops at a limit. With ``tally``, the
    calls also count against another counter's limit (a second model that shares one budget)."""

    def __init__(self, inner: Model, limit: int | None = None, *, tally: CountingModel | None = None) -> None:
        self.inner, self.limit, self.calls, self.tally = inner, limit, 0, tally
        self.name = inner.name

    def _count(self) -> None:
        if self.limit is not None and self.calls >= self.limit:
            raise BudgetExhausted()
        if self.tally is not None:
            self.tally._count()
        self.calls += 1

    def stream(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]:
        self._count()
        return self.inner.stream(messages, params)

    def score(self, context: str, continuation: str) -> Score:
        self._count()
        return self.inner.score(context, continuation)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


class OptimizeConfig(BaseModel):
    metric: str
    budget: int = Field(200, ge=1)
    seed: int = 0
    # Few variants, so that a budget of about 200 calls still scores the finalists on 50+ dev items.
    rewrites: int = Field(2, ge=0)
    shots: list[int] = Field(default_factory=lambda: [2, 4, 6])
    # typical: examples that show the data's usual edit (tasks whose answer edits the input); auto: typical for
    # correct, random otherwise. shots_plus: also try each set added to the template's own examples.
    shot_pick: Literal["auto", "typical", "random"] = "auto"
    shots_plus: bool = False
    temperatures: list[float] = Field(default_factory=lambda: [0.0, 0.3, 0.7])
    min_rung: int = Field(8, ge=1)
    tokenize: str | None = None
    lang: str | None = None
    concurrency: int = Field(1, ge=1)
    require_significant: bool = False
    write: bool = True
    samples: int = 1000
    resume: bool = True  # replay the answers an interrupted search of the same template and model kept


class Candidate(BaseModel):
    key: str
    description: str
    dev_score: float | None = None
    dev_items: int = 0


class OptimizeResult(BaseModel):
    template: str
    task: str
    metric: str
    candidates: list[Candidate]
    winner: str
    dev_before: float | None
    dev_after: float | None
    dev_items: int
    heldout_before: float | None = None
    heldout_after: float | None = None
    heldout_low: float | None = None
    heldout_high: float | None = None
    heldout_p: float | None = None
    heldout_items: int = 0
    search_calls: int = 0
    heldout_calls: int = 0
    written_version: int | None = None
    decision: str = ""
    base_runs: dict[str, str] = Field(default_factory=dict)  # stored held-out runs, when a store is given
    winner_text: str | None = None


def _better(metric: str, a: float, b: float) -> bool:
    """Whether ``a`` is strictly better than ``b``."""
    return a < b if metric in LOWER_IS_BETTER else a > b


def plan_rungs(candidates: int, n_dev: int, budget: int, min_rung: int, per_item: float = 1.0) -> list[int]:
    """Rung sizes for successive halving that fit ``budget`` calls, maximising the size of the last rung."""
    best: list[int] = []
    for first in range(min(min_rung, n_dev), n_dev + 1):
        rungs, alive, cost, size = [first], candidates, first * candidates * per_item, first
        if cost > budget:
            break
        while size < n_dev and alive > 2:
            alive = max(2, math.ceil(alive / 2) + (1 if len(rungs) == 1 else 0))  # +1: the combined variant
            nxt = min(n_dev, size * 2)
            if cost + alive * (nxt - size) * per_item > budget:
                break
            cost += alive * (nxt - size) * per_item
            rungs.append(nxt)
            size = nxt
        if not best or (rungs[-1], rungs[0]) > (best[-1], best[0]):
            best = rungs
    return best


class _Scorer:
    """Scores variants on dev items, caching (variant, item) results, under a call budget."""

    def __init__(self, model: CountingModel, task: str, plan: Plan, cfg: OptimizeConfig, base_name: str):
        self.model, self.task, self.plan, self.cfg, self.base_name = model, task, plan, cfg, base_name
        self.cache: dict[tuple[str, str], ItemRecord] = {}
        self.files: dict[str, str] = {}  # variant key → template name on disk

    def records(self, key: str, items: Sequence[Item]) -> list[ItemRecord]:
        todo = [(pos, item) for pos, item in enumerate(items) if (key, item.id) not in self.cache]
        if todo:
            eval_cfg = EvalConfig(
                task=self.task,
                template=self.files[key],
                tokenize=self.cfg.tokenize,
                lang=self.plan.lang,
                metrics=[self.cfg.metric] if self.cfg.metric in PER_ITEM else None,
            )
            evaluator = Evaluator(self.model, eval_cfg, self.plan)
            got: list[ItemRecord] = []
            run_items(evaluator, todo, got.append, concurrency=self.cfg.concurrency, max_failures=len(todo))
            for record in got:
                self.cache[(key, record.item_id)] = record
        return [self.cache[(key, item.id)] for item in items]

    def value(self, key: str, items: Sequence[Item]) -> float:
        return metric_value(self.task, self.cfg.metric, self.plan, self.records(key, items))


def metric_value(task: str, metric: str, plan: Plan, records: Sequence[ItemRecord]) -> float:
    """The optimised figure over records: a corpus metric, or the mean of a per-item one."""
    if metric in PER_ITEM:
        name = _bootstrap_name(metric)
        values = [r.scores[name] for r in records if name in r.scores]
        return sum(values) / len(values) if values else float("nan")
    refs = [r.references for r in records] if all(r.references for r in records) else None
    sources = [r.source for r in records] if task not in ("write", "continue") else None
    figures = score(task, [r.hypothesis for r in records], refs, sources, plan.lang, metrics=[_corpus_name(metric)])
    if metric not in figures:
        raise InputError(f"metric {metric!r} gives {', '.join(figures)}; optimise one of those")
    return figures[metric]


ALIASES = {"rouge": "rougeL", "distinct_n": "distinct_2", "length": "length_mean"}


def _corpus_name(metric: str) -> str:
    """The ``score`` metric that computes a figure (rougeL → rouge)."""
    if metric.startswith("rouge"):
        return "rouge"
    if metric.startswith("distinct"):
        return "distinct_n"
    if metric.startswith("length") or metric == "compression":
        return "length"
    return metric


def _failures(records: Sequence[ItemRecord], metric: str, count: int = 3) -> str:
    """The base's worst dev items as text for the instruction-rewrite prompt."""
    key = next(
        (k for k in (metric, "gleu", "chrf", "rougeL", "judge_mean") if records and k in records[0].scores), None
    )
    ranked = sorted(records, key=lambda r: r.scores.get(key, 0.0)) if key else list(records)
    parts = []
    for r in ranked[:count]:
        if r.references:
            parts.append(f"Input: {r.source}\nExpected: {r.references[0]}\nGot: {r.output}")
    return "\n\n".join(parts)


def optimize(
    model: Model,
    name: str,
    train: Sequence[Item],
    dev: Sequence[Item],
    heldout: Sequence[Item],
    cfg: OptimizeConfig,
    *,
    store: Any = None,
    log: Log | None = None,
    proposer: Model | None = None,
) -> OptimizeResult:
    """Search variants of template ``name`` on ``dev`` and confirm the winner on ``heldout`` (see the module doc).

    ``proposer`` writes the instruction rewrites (default: ``model``); its calls count against the same budget.
    """
    say = log or (lambda message: None)
    base = get_template(name)
    task = base.task
    if task == "summarize":
        raise InputError("summarize cannot be optimised yet: the operation always uses the 'summarize' template")
    if not dev or not heldout:
        raise InputError("the optimiser needs dev items and held-out items (both non-empty)")
    dev_ids, held_ids, train_ids = ({i.id for i in group} for group in (dev, heldout, train))
    shared = (dev_ids & held_ids) | (train_ids & held_ids) | (train_ids & dev_ids)
    if shared:
        raise InputError(
            f"train, dev and held-out items must be disjoint (shared ids: {', '.join(sorted(shared)[:3])})"
        )
    cfg = cfg.model_copy(update={"metric": ALIASES.get(cfg.metric, cfg.metric)})
    metric_arg = [cfg.metric] if cfg.metric in PER_ITEM else [_corpus_name(cfg.metric)]
    plan = plan_metrics(EvalConfig(task=task, metrics=metric_arg, tokenize=cfg.tokenize, lang=cfg.lang), dev)
    base_text, _ = history._live_text(name)
    journal = AnswerJournal(journal_path(name, model.name, base_text))
    if not cfg.resume:
        journal.discard()
    elif len(journal):
        say(f"resuming an interrupted search: {len(journal)} model answers are kept and replayed")
    model = ReplayModel(model, journal)
    counter = CountingModel(model, limit=cfg.budget)
    writer = counter if proposer is None else CountingModel(ReplayModel(proposer, journal), tally=counter)
    scorer = _Scorer(counter, task, plan, cfg, name)
    tag = secrets.token_hex(3)
    written: list[str] = []

    def install(variant: Variant) -> None:
        file_name = f"{name}-opt{tag}-{len(written)}"[:64]
        path = user_template_dir() / f"{file_name}{SUFFIX}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(apply_variant(base_text, variant, file_name), encoding="utf-8")
        written.append(str(path))
        scorer.files[variant.key] = file_name

    variants: dict[str, Variant] = {}
    candidates: dict[str, Candidate] = {}

    def add(variant: Variant) -> None:
        if variant.key not in variants:
            install(variant)
            variants[variant.key] = variant
            candidates[variant.key] = Candidate(key=variant.key, description=variant.description)

    try:
        add(Variant("base", "the template as it is"))
        pick = cfg.shot_pick if cfg.shot_pick != "auto" else ("typical" if task == "correct" else "random")
        few = few_shot_variants(base, train, cfg.shots, cfg.seed, cfg.tokenize, pick=pick, plus=cfg.shots_plus)
        temps = temperature_variants(base, task, cfg.temperatures) if cfg.temperatures else []
        slots = _interleave([None] * cfg.rewrites, few, temps)  # None: an instruction rewrite to propose
        per_item = 2.0 if cfg.metric == "judge" else 1.0
        rungs: list[int] = []
        while slots:  # fewer variants when the budget cannot score them all on a first rung
            rewrites = slots.count(None)
            rungs = plan_rungs(1 + len(slots), len(dev), cfg.budget - rewrites, cfg.min_rung, per_item)
            if rungs:
                break
            slots.pop()
        if not rungs:
            raise InputError(
                f"a budget of {cfg.budget} calls is too small to compare even two variants on {cfg.min_rung} dev items"
            )
        say(f"{len(slots)} variants besides the template; dev items per round: {rungs}")
        alive = ["base"]
        try:
            scorer.value("base", dev[: rungs[0]])
            failures = _failures(scorer.records("base", dev[: rungs[0]]), cfg.metric)
            for variant in propose_instructions(
                writer, base, task, slots.count(None), failures=failures, seed=cfg.seed
            ):
                add(variant)
            for variant in slots:
                if variant is not None:
                    add(variant)
            alive = list(variants)
            size, level = rungs[0], 0
            while True:
                subset = dev[:size]
                for key in alive:
                    candidates[key].dev_score = scorer.value(key, subset)
                    candidates[key].dev_items = size
                    say(f"  {key:12s} {cfg.metric} {candidates[key].dev_score:.3f} on {size} dev items")
                if size >= len(dev) or len(alive) < 2:
                    break
                ranked = sorted(alive, key=lambda k: candidates[k].dev_score, reverse=cfg.metric not in LOWER_IS_BETTER)
                keep = max(2, math.ceil(len(alive) / 2))
                survivors = list(dict.fromkeys(["base", *ranked[:keep]]))[:keep]  # the base always goes on
                combined = _combine(ranked, variants) if level == 0 else None
                # The next rung doubles the items, or takes as many more as the budget left pays for.
                left, n = cfg.budget - counter.calls, len(survivors)
                extra = min(size, len(dev) - size)
                if combined is not None and per_item * (n * extra + size + extra) > left:
                    combined = None  # it would not fit; keep the budget for the variants already scored
                if combined is None and per_item * n * extra > left:
                    extra = int(left // (n * per_item))
                if extra < 1:
                    break
                alive = survivors
                if combined is not None:
                    add(combined)
                    alive.append(combined.key)
                size, level = size + extra, level + 1
        except BudgetExhausted:
            say("budget used up; choosing among the variants scored on the most dev items")
        search_calls = counter.calls
        scored = [c for c in candidates.values() if c.dev_score is not None]
        top_size = max((c.dev_items for c in scored if c.key == "base"), default=0)
        finalists = [c for c in scored if c.dev_items == top_size]
        best = candidates["base"]
        for cand in finalists:
            if (
                cand.dev_score is not None
                and best.dev_score is not None
                and _better(cfg.metric, cand.dev_score, best.dev_score)
            ):
                best = cand
        result = OptimizeResult(
            template=name,
            task=task,
            metric=cfg.metric,
            candidates=list(candidates.values()),
            winner=best.key,
            dev_before=candidates["base"].dev_score,
            dev_after=best.dev_score,
            dev_items=top_size,
            search_calls=search_calls,
        )
        _confirm(model, result, scorer, variants, plan, heldout, cfg, store, base_text, name, say)
        journal.discard()
        return result
    except KeyboardInterrupt:
        raise RunInterrupted(
            f"interrupted: the optimiser kept {len(journal)} model answers; run the same command again to resume "
            "where it stopped (the result is the same as an uninterrupted run's), or add --fresh to start over"
        ) from None
    finally:
        for path in written:
            with contextlib.suppress(OSError):
                os.remove(path)


def journal_path(name: str, model: str, base_text: str) -> Path:
    """Where the answers of a search of template ``name`` (as it is now) with ``model`` are kept until it ends."""
    digest = hashlib.sha256(f"{model}\n{base_text}".encode()).hexdigest()[:16]
    return data_dir() / "optimize" / f"{name}-{digest}.jsonl"


def _interleave(*groups: Sequence[Variant | None]) -> list[Variant | None]:
    """One of each kind in turn, so a smaller budget drops a little of every kind."""
    out: list[Variant | None] = []
    for i in range(max((len(g) for g in groups), default=0)):
        out.extend(g[i] for g in groups if i < len(g))
    return out


def _combine(ranked: Sequence[str], variants: dict[str, Variant]) -> Variant | None:
    """The best instruction rewrite with the best few-shot examples, when both are in the better half."""
    half = ranked[: max(2, math.ceil(len(ranked) / 2))]
    instr = next((k for k in half if k.startswith("instr-")), None)
    shots = next((k for k in half if k.startswith("shots")), None)
    if not instr or not shots:
        return None
    updates = {**variants[instr].updates, **variants[shots].updates}
    return Variant(f"{instr}+{shots}", f"{variants[instr].description} with {variants[shots].description}", updates)


def _confirm(
    model: Model,
    result: OptimizeResult,
    scorer: _Scorer,
    variants: dict[str, Variant],
    plan: Plan,
    heldout: Sequence[Item],
    cfg: OptimizeConfig,
    store: Any,
    base_text: str,
    name: str,
    say: Log,
) -> None:
    """Score base and winner on the held-out items; write the winner if it wins there."""
    counter = CountingModel(model)
    held_scorer = _Scorer(counter, result.task, plan, cfg, name)
    held_scorer.files = scorer.files
    keys = ["base"] if result.winner == "base" else ["base", result.winner]
    records = {key: held_scorer.records(key, heldout) for key in keys}
    result.heldout_items = len(heldout)
    result.heldout_before = metric_value(result.task, cfg.metric, plan, records["base"])
    if store is not None:
        result.base_runs = _store_runs(store, model, result, records, plan, cfg)
    if result.winner == "base":
        result.heldout_after = result.heldout_before
        result.heldout_calls = counter.calls
        result.decision = "no variant beat the template on the dev items; nothing written"
        return
    result.heldout_after = metric_value(result.task, cfg.metric, plan, records[result.winner])
    result.heldout_calls = counter.calls
    names = [_bootstrap_name(cfg.metric)]
    diffs = paired_bootstrap(
        result.task, records["base"], records[result.winner], names, lang=plan.lang, samples=cfg.samples, seed=cfg.seed
    )
    if diffs:
        result.heldout_low, result.heldout_high, result.heldout_p = diffs[0].low, diffs[0].high, diffs[0].p
    wins = _better(cfg.metric, result.heldout_after, result.heldout_before)
    if cfg.require_significant and wins and result.heldout_low is not None:
        wins = result.heldout_high < 0 if cfg.metric in LOWER_IS_BETTER else result.heldout_low > 0
    text = apply_variant(base_text, variants[result.winner], name)
    result.winner_text = text
    summary = (
        f"{result.winner} ({variants[result.winner].description}): held-out {cfg.metric} "
        f"{result.heldout_before:.2f} → {result.heldout_after:.2f}"
        + (f", 95% CI of the change [{result.heldout_low:+.2f}, {result.heldout_high:+.2f}]" if diffs else "")
    )
    if not wins:
        result.decision = f"not written: {summary} is not a win on the held-out items"
    elif not cfg.write:
        result.decision = f"would write (dry run): {summary}"
    else:
        version = history.save_version(name, text, note=f"optimize: {summary}", origin="optimize")
        result.written_version = version.version
        result.decision = f"wrote version {version.version}: {summary}"
    say(result.decision)


def _bootstrap_name(metric: str) -> str:
    return {"judge": "judge_mean"}.get(metric, metric)


def _store_runs(store, model, result, records, plan, cfg) -> dict[str, str]:
    """Keep the held-out evaluations as runs, so 'eval compare' and 'eval report' work on them."""
    from draftsmith.evaluation.runner import aggregate
    from draftsmith.store import runs

    out = {}
    for key, recs in records.items():
        run_id = runs.create_run(
            store,
            task=result.task,
            model=model.name,
            config={"task": result.task, "template": result.template, "variant": key, "metric": cfg.metric},
            items_total=len(recs),
            template=result.template,
            template_version=f"optimize:{key}",
            name=f"optimize {result.template} {key} held-out",
            kind="optimize",
        )
        for record in recs:
            runs.save_item(store, run_id, record)
        runs.finish_run(store, run_id, aggregate(result.task, plan, recs))
        out[key] = run_id
    return out
