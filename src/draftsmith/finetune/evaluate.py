"""Base vs tuned on held-out examples: greedy outputs scored with draftsmith.evaluation, plus loss and style.

Each system (``base``: the adapter switched off; ``tuned``: on; ``parent``: the adapter a continual run started
from) answers every example; per task the report holds the metrics ``evaluation.metrics`` fits to it, the mean loss
per reference token, and style adherence (``style.profile``) to a profile learned from the training outputs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from draftsmith.errors import DraftsmithError
from draftsmith.finetune import lora
from draftsmith.finetune.data import Example, load_split

# Our task names → the writing task whose metrics fit them (evaluation.metrics.TASK_METRICS).
METRIC_TASK = {
    "rewrite": "rewrite",
    "style": "rewrite",
    "translate": "translate",
    "correct": "correct",
    "summarize": "summarize",
    "continue": "continue",
}
_STYLE_TASKS = ("rewrite", "style", "continue")
_BLOCK = 10  # outputs per block scored for style adherence (one line is too short to measure a style)


class TaskReport(BaseModel):
    task: str
    lang: str
    examples: int
    scores: dict[str, dict[str, float]] = Field(description="system → metric → value")
    notes: list[str] = Field(default_factory=list)


class EvalReport(BaseModel):
    split: str
    systems: list[str]
    tasks: list[TaskReport]
    samples: list[dict[str, str]] = Field(default_factory=list, description="a few inputs with each system's output")
    seconds: float = 0.0

    def gains(self, metric: str, tuned: str = "tuned", base: str = "base") -> dict[str, float]:
        """tuned − base for one metric, per task that has it."""
        return {
            t.task: t.scores[tuned][metric] - t.scores[base][metric]
            for t in self.tasks
            if metric in t.scores.get(tuned, {}) and metric in t.scores.get(base, {})
        }


Systems = dict[str, Callable[[], AbstractContextManager[Any]]]


def systems_for(model: Any, parent: str | None = None) -> Systems:
    """``base`` (adapter off), optionally ``parent`` (a second adapter loaded under that name), ``tuned``."""
    out: Systems = {"base": model.disable_adapter}
    if parent:
        out["parent"] = lambda: _adapter(model, parent)
    out["tuned"] = contextlib.nullcontext
    return out


@contextlib.contextmanager
def _adapter(model: Any, name: str) -> Iterator[None]:
    active = model.active_adapter
    model.set_adapter(name)
    try:
        yield
    finally:
        model.set_adapter(active)


def generate(
    model: Any,
    tokenizer: Any,
    examples: list[Example],
    *,
    device: str = "cpu",
    batch_size: int = 16,
    max_new_tokens: int = 96,
    eos_ids: set[int] | None = None,
) -> list[str]:
    """Greedy answers, batched with left padding (prompts sorted by length to pad little)."""
    import torch

    prompts = [lora.prompt_text(tokenizer, ex) for ex in examples]
    budgets = [
        min(max_new_tokens, int(1.5 * len(tokenizer(ex.output, add_special_tokens=False)["input_ids"])) + 8)
        for ex in examples
    ]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    eos = sorted(eos_ids or {tokenizer.eos_token_id})
    outputs = [""] * len(prompts)
    model.eval()
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        side, tokenizer.padding_side = tokenizer.padding_side, "left"
        try:
            encoded = tokenizer(
                [prompts[i] for i in chunk], add_special_tokens=False, padding=True, return_tensors="pt"
            )
        finally:
            tokenizer.padding_side = side
        encoded = {k: v.to(device) for k, v in encoded.items() if k in ("input_ids", "attention_mask")}
        with torch.inference_mode():
            sequences = model.generate(
                **encoded,
                max_new_tokens=max(budgets[i] for i in chunk),
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                eos_token_id=eos,
                pad_token_id=pad,
            )
        width = encoded["input_ids"].shape[1]
        for row, i in enumerate(chunk):
            outputs[i] = tokenizer.decode(sequences[row, width:], skip_special_tokens=True).strip()
    return outputs


def evaluate(
    model: Any,
    tokenizer: Any,
    examples: list[Example],
    *,
    systems: Systems,
    style_texts: dict[str, list[str]] | None = None,
    device: str = "cpu",
    pad_id: int | None = None,
    eos_ids: set[int] | None = None,
    max_len: int = 256,
    batch_size: int = 16,
    split: str = "test",
    on_progress: Callable[[str], None] | None = None,
) -> EvalReport:
    """Every system answers every example; scores per task and system."""
    from draftsmith.finetune.train import mean_loss

    started = time.perf_counter()
    say = on_progress or (lambda message: None)
    pad = pad_id if pad_id is not None else (tokenizer.pad_token_id or tokenizer.eos_token_id)
    by_task: dict[str, list[Example]] = {}
    for ex in examples:
        by_task.setdefault(ex.task, []).append(ex)
    answers: dict[str, dict[str, list[str]]] = {name: {} for name in systems}
    losses: dict[str, dict[str, float]] = {name: {} for name in systems}
    for name, switch in systems.items():
        with switch():
            for task, items in by_task.items():
                say(f"{name}: answering {len(items)} {task} examples")
                answers[name][task] = generate(
                    model, tokenizer, items, device=device, batch_size=batch_size, eos_ids=eos_ids
                )
                encoded = [e for e in (lora.encode(tokenizer, ex, max_len) for ex in items) if e is not None]
                losses[name][task] = mean_loss(model, encoded, pad, device, batch_size) if encoded else float("nan")
    reports = []
    for task, items in by_task.items():
        lang = _main_language(items)
        scores: dict[str, dict[str, float]] = {}
        notes: list[str] = []
        profile = _style_profile(task, (style_texts or {}).get(task), notes)
        for name in systems:
            hyps = answers[name][task]
            figures = score_task(task, hyps, items, lang)
            figures["loss"] = losses[name][task]
            if profile is not None:
                figures["adherence"] = adherence(hyps, profile)
            scores[name] = figures
        reports.append(TaskReport(task=task, lang=lang, examples=len(items), scores=scores, notes=notes))
    samples = [
        {"task": ex.task, "input": ex.input, "reference": ex.output, **{n: answers[n][ex.task][i] for n in systems}}
        for task, items in by_task.items()
        for i, ex in enumerate(items[:3])
    ]
    return EvalReport(
        split=split, systems=list(systems), tasks=reports, samples=samples, seconds=time.perf_counter() - started
    )


def score_task(task: str, hyps: list[str], items: list[Example], lang: str) -> dict[str, float]:
    from draftsmith.evaluation import metrics

    refs = [ex.output for ex in items]
    sources = [ex.input for ex in items]
    kind = METRIC_TASK.get(task, "rewrite")
    safe = [h if h.strip() else "-" for h in hyps]  # an empty answer scores 0, not an error
    figures = metrics.score(kind, safe, refs=refs, sources=sources, lang=lang)
    if kind in ("continue", "summarize"):  # their default metrics do not look at the reference
        figures["chrf"] = metrics.chrf(safe, refs, lang)
    return figures


def _main_language(items: list[Example]) -> str:
    from collections import Counter

    from draftsmith.languages import LANGUAGES

    lang = Counter(ex.lang or "en" for ex in items).most_common(1)[0][0]
    return lang if lang in LANGUAGES else "en"


def _blocks(lines: list[str]) -> list[str]:
    return ["\n".join(lines[i : i + _BLOCK]) for i in range(0, len(lines), _BLOCK) if any(lines[i : i + _BLOCK])]


def _style_profile(task: str, texts: list[str] | None, notes: list[str]) -> Any:
    """A style profile of the training outputs of ``task``, or None (with a note) when it cannot be learned."""
    if task not in _STYLE_TASKS or not texts:
        return None
    try:
        from draftsmith.style import profile
    except ImportError:
        return None
    try:
        return profile.learn(f"finetune-{task}", _blocks(texts))
    except DraftsmithError as exc:
        notes.append(f"no style adherence: {exc}")
        return None


def adherence(hyps: list[str], style: Any) -> float:
    """Mean adherence (0–1) of the outputs, scored in blocks of ``_BLOCK`` lines; an unscorable block counts 0."""
    from draftsmith.style import profile

    values = []
    for block in _blocks([h for h in hyps if h.strip()]) or [""]:
        try:
            values.append(profile.adherence(block, style).score)
        except DraftsmithError:
            values.append(0.0)
    return sum(values) / len(values)


def evaluate_adapter(
    adapter: Path,
    data_dir: Path,
    *,
    base: str | None = None,
    split: str = "test",
    limit: int | None = None,
    device: str = "auto",
    on_progress: Callable[[str], None] | None = None,
) -> EvalReport:
    """Open the adapter's base, put the adapter on it, and compare base vs tuned on a split of a data set."""
    meta = lora.read_meta(adapter)
    base = base or meta.get("base")
    if not base:
        raise DraftsmithError(f"{adapter} does not record its base model; give --base")
    dev, dtype = lora.pick_device(device)
    opened = lora.open_base(base, dev, dtype)
    model = lora.load_adapter(opened.model, adapter, base, trainable=False)
    examples = load_split(data_dir, split)[:limit]  # type: ignore[arg-type]
    train_outputs: dict[str, list[str]] = {}
    for ex in load_split(data_dir, "train"):
        train_outputs.setdefault(ex.task, []).append(ex.output)
    return evaluate(
        model,
        opened.tokenizer,
        examples,
        systems=systems_for(model),
        style_texts=train_outputs,
        device=dev,
        pad_id=opened._pad_id,
        eos_ids=opened._eos_ids,
        split=split,
        on_progress=on_progress,
    )
