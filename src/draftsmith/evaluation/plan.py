"""What a run does (``EvalConfig``) and which metrics it computes (``plan_metrics``), checked before any model call.

``plan_metrics`` refuses an unknown metric, one that does not fit the task, and one whose field (references, an M2
block, a style) some items lack, naming the first such lines; it also settles the one language the run is scored in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel, Field

from draftsmith.errors import InputError
from draftsmith.evaluation.datasets import Item, check_task
from draftsmith.evaluation.metrics import METRICS, TASK_METRICS

# Metrics computed per item by a model or a tool, beyond the corpus metrics of ``score``; each fits the tasks
# listed. ``style`` is the style area's adherence score against the item's style (or --style).
EXTRA_METRICS: dict[str, tuple[str, ...]] = {
    "judge": ("correct", "translate", "rewrite", "summarize", "write", "continue"),
    "perplexity": ("correct", "translate", "rewrite", "summarize", "write", "continue"),
    "errant": ("correct",),
    "style": ("rewrite", "write", "continue"),
    # agreement with a user's recorded answers about each item (evaluation/acceptance.py)
    "acceptance": ("correct", "translate", "rewrite", "summarize", "continue"),
}
PER_ITEM_MEANS = ("judge_", "perplexity", "style_adherence", "acceptance")  # aggregated as the mean over items
TOKENIZERS = ("ptb",)


class EvalConfig(BaseModel):
    """What a run does; stored with the run and reused by ``--resume``."""

    task: str
    data: str | None = None
    template: str | None = None
    model: str = ""
    metrics: list[str] | None = None
    limit: int | None = None
    lang: str | None = None
    to: str | None = None  # translate: target language for items without tgt_lang
    style: str | None = None  # rewrite: style for items without one
    words: int | None = None  # summarize/continue: length for items without one
    temperature: float | None = None
    seed: int | None = None
    tokenize: str | None = None  # "ptb": the model sees detokenised text; outputs are re-tokenised to score
    mode: str | None = None  # correct: hybrid, llm or detectors (default: the operation's own)
    judge_template: str | None = None
    judge_model: str | None = None
    scorer_model: str | None = None
    on_error: str = "stop"
    concurrency: int = Field(1, ge=1, le=256)
    max_failures: int | None = None
    name: str | None = None


class Plan(BaseModel):
    corpus: list[str]  # metrics of ``score``
    extras: list[str]  # EXTRA_METRICS
    lang: str


def plan_metrics(cfg: EvalConfig, items: Sequence[Item]) -> Plan:
    """Check the chosen metrics against the task and the items before any model call."""
    task = check_task(cfg.task)
    if not items:
        raise InputError("the data set is empty; nothing to evaluate")
    fitting = (*TASK_METRICS[task], *(m for m, tasks in EXTRA_METRICS.items() if task in tasks))
    chosen = list(cfg.metrics) if cfg.metrics else list(TASK_METRICS[task])
    if not cfg.metrics and task == "correct" and all(item.m2 for item in items):
        chosen.append("errant")
    for name in chosen:
        if name not in METRICS and name not in EXTRA_METRICS:
            raise InputError(f"unknown metric {name!r}; task {task!r} can use: {', '.join(fitting)}")
        if name not in fitting:
            raise InputError(f"metric {name!r} does not fit task {task!r}; use one of: {', '.join(fitting)}")
        needs = METRICS[name].needs if name in METRICS else ()
        if "references" in needs:
            _require(items, lambda i: bool(i.references), name, '"references": [...] (or "reference")', fitting)
        if name == "errant":
            _require(items, lambda i: bool(i.m2), name, '"m2": "S …\\nA …" (an M2 block)', fitting)
        if name == "acceptance":
            need = '"feedback": [...] (recorded answers: draftsmith feedback export --as-eval TASK)'
            _require(items, lambda i: bool(i.feedback), name, need, fitting)
        if name == "style" and not cfg.style:
            _require(items, lambda i: bool(i.style), name, '"style" (or --style)', fitting)
    if cfg.tokenize is not None and cfg.tokenize not in TOKENIZERS:
        raise InputError(f"unknown tokenisation {cfg.tokenize!r}; use: {', '.join(TOKENIZERS)}")
    return Plan(
        corpus=[m for m in dict.fromkeys(chosen) if m in METRICS],
        extras=[m for m in dict.fromkeys(chosen) if m in EXTRA_METRICS],
        lang=_run_language(cfg, items),
    )


def _require(items: Sequence[Item], ok: Callable[[Item], bool], metric: str, field: str, fitting) -> None:
    missing = [i for i in items if not ok(i)]
    if missing:
        where = ", ".join(f"line {i.line} (id {i.id!r})" if i.line else f"id {i.id!r}" for i in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        others = [m for m in fitting if m in EXTRA_METRICS or "references" not in METRICS[m].needs]
        raise InputError(
            f"metric {metric!r} needs {field} on every item; missing on {where}{more}; add it, or choose "
            f"--metrics that do not need it ({', '.join(others)})"
        )


def _run_language(cfg: EvalConfig, items: Sequence[Item]) -> str:
    from draftsmith.languages import check_language, detect_language

    if cfg.lang:
        return check_language(cfg.lang)
    if cfg.task == "translate":
        langs = {item.tgt_lang or cfg.to for item in items}
        if None in langs:
            raise InputError("task 'translate' needs a target language: 'tgt_lang' on every item, or --to LANG")
    else:
        langs = {item.lang or detect_language(item.source or item.instruction or "") for item in items}
    codes = sorted({check_language(code) for code in langs if code})
    if len(codes) > 1:
        raise InputError(
            f"the items are in several languages ({', '.join(codes)}); metrics tokenise per language, so run "
            "one data set per language, or pass --lang to score them all as one"
        )
    return codes[0] if codes else "en"
