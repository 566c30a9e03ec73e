"""Evaluation data sets: one JSON object per line, one documented schema per task.

Every task accepts ``id`` (default: the line number), ``category`` (default ``"all"``; the report draws one bar
per category) and ``lang`` (the output language; default: detected). References are ``"references": [..]`` or a
single ``"reference": "..."``; they are optional in the file and required only by the metrics that use them
(``validate_for_metrics`` names the first lines that lack them).

==============  ==================================================================================================
task            fields (required in bold)
==============  ==================================================================================================
correct         **source**, references, m2 (an M2 block for ERRANT F0.5)
translate       **source**, **tgt_lang** (or ``--to``), src_lang, references
rewrite         **source**, **style** (or ``--style``), references
summarize       **source**, references, words
write           **instruction** or **vars** (template variables), template, references
continue        **source**, references, words
==============  ==================================================================================================

A malformed line is reported with its number; ``on_error="skip"`` leaves it out and keeps the message,
``"stop"`` (the default) raises ``InputError`` at the first one.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from draftsmith.errors import InputError
from draftsmith.evaluation.acceptance import Decision

TASKS = ("correct", "translate", "rewrite", "summarize", "write", "continue")

TASK_FIELDS: dict[str, tuple[str, ...]] = {
    "correct": ("source",),
    "translate": ("source",),
    "rewrite": ("source",),
    "summarize": ("source",),
    "write": (),  # instruction or vars, checked below
    "continue": ("source",),
}
_KNOWN = {
    "id",
    "category",
    "lang",
    "source",
    "reference",
    "references",
    "m2",
    "src_lang",
    "tgt_lang",
    "style",
    "words",
    "instruction",
    "vars",
    "template",
    "feedback",
}

OnError = Literal["stop", "skip"]


class Item(BaseModel):
    """One evaluation example, as the runner and the metrics see it."""

    id: str
    line: int = 0
    category: str = "all"
    lang: str | None = None
    source: str = ""
    references: list[str] = Field(default_factory=list)
    m2: str | None = None
    src_lang: str | None = None
    tgt_lang: str | None = None
    style: str | None = None
    words: int | None = None
    instruction: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    template: str | None = None
    # a user's recorded answers about this source (metric ``acceptance``; see evaluation/acceptance.py)
    feedback: list[Decision] = Field(default_factory=list)


@dataclass
class Dataset:
    items: list[Item]
    path: str = ""
    digest: str = ""
    skipped: list[str] = field(default_factory=list)  # one message per malformed line left out


def check_task(task: str) -> str:
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; use one of: {', '.join(TASKS)}")
    return task


def parse_item(data: Any, task: str, line: int) -> Item:
    """One decoded JSON value → an Item, or InputError saying what is wrong on that line."""
    where = f"line {line}"
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(data).__name__}")
    for name in TASK_FIELDS[task]:
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{where}: task {task!r} needs a non-empty text field {name!r}")
    if task == "write" and not (data.get("instruction") or data.get("vars")):
        raise InputError(f"{where}: task 'write' needs 'instruction' (text) or 'vars' (template variables)")
    refs = data.get("references", data.get("reference"))
    if refs is None:
        references: list[str] = []
    elif isinstance(refs, str):
        references = [refs]
    elif isinstance(refs, list) and all(isinstance(r, str) for r in refs):
        references = list(refs)
    else:
        raise InputError(f"{where}: 'references' must be a list of strings (or 'reference' one string)")
    if "vars" in data and not isinstance(data["vars"], dict):
        raise InputError(f"{where}: 'vars' must be an object of template variables")
    words = data.get("words")
    if words is not None and (not isinstance(words, int) or isinstance(words, bool) or words < 1):
        raise InputError(f"{where}: 'words' must be a positive integer")
    for name in ("category", "lang", "src_lang", "tgt_lang", "style", "m2", "instruction", "template"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise InputError(f"{where}: {name!r} must be text")
    item_id = data.get("id", line)
    if not isinstance(item_id, str | int) or isinstance(item_id, bool):
        raise InputError(f"{where}: 'id' must be a string or an integer")
    answers = data.get("feedback") or []
    try:
        decisions = [Decision.model_validate(a) for a in answers] if isinstance(answers, list) else None
    except ValidationError as exc:
        problem = exc.errors()[0]
        at = ".".join(str(x) for x in problem["loc"]) or "answer"
        raise InputError(f"{where}: a 'feedback' answer is malformed ({at}: {problem['msg']})") from None
    if decisions is None:
        raise InputError(f"{where}: 'feedback' must be a list of answers (start, end, shown, kept, accepted)")
    return Item(
        id=str(item_id),
        line=line,
        category=data.get("category") or "all",
        lang=data.get("lang"),
        source=data.get("source") or "",
        references=references,
        m2=data.get("m2"),
        src_lang=data.get("src_lang"),
        tgt_lang=data.get("tgt_lang"),
        style=data.get("style"),
        words=words,
        instruction=data.get("instruction"),
        vars=data.get("vars") or {},
        template=data.get("template"),
        feedback=decisions,
    )


def load_dataset(path: str | Path, task: str, *, on_error: OnError = "stop", limit: int | None = None) -> Dataset:
    """Read a JSONL data set for ``task``. Blank lines are ignored; ids must be unique."""
    check_task(task)
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"data file {path} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot read data file {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); save the data set as UTF-8 JSONL") from None
    items: list[Item] = []
    skipped: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            item = parse_item(data, task, number)
            if item.id in seen:
                raise InputError(f"line {number}: id {item.id!r} was already used on line {seen[item.id]}")
        except InputError as exc:
            if on_error == "stop":
                raise InputError(
                    f"{path}:{exc}; fix the line, or pass --on-error skip to leave bad lines out"
                ) from None
            skipped.append(str(exc))
            continue
        seen[item.id] = number
        items.append(item)
        if limit is not None and len(items) >= limit:
            break
    if not items:
        why = f" ({len(skipped)} malformed lines skipped)" if skipped else ""
        raise InputError(f"{path}: the data set is empty{why}; give one JSON object per line")
    return Dataset(items=items, path=str(path), digest=hashlib.sha256(raw).hexdigest()[:16], skipped=skipped)


def items_digest(items: Sequence[Item]) -> str:
    """A fingerprint of the items' content (for data sets built in memory)."""
    h = hashlib.sha256()
    for item in items:
        h.update(item.model_dump_json(exclude={"line"}).encode())
    return h.hexdigest()[:16]


def write_jsonl(path: str | Path, items: Iterable[Item]) -> None:
    """Write items in the task schema (only the fields that are set)."""
    with Path(path).open("w", encoding="utf-8") as fh:
        for item in items:
            data = item.model_dump(exclude={"line"}, exclude_defaults=True)
            data["id"] = item.id
            fh.write(json.dumps(data, ensure_ascii=False) + "\n")


def load_jfleg(directory: str | Path, split: str = "dev", limit: int | None = None) -> list[Item]:
    """JFLEG's ``{split}.src`` and ``{split}.ref0..3`` as ``correct`` items (text stays pre-tokenised)."""
    directory = Path(directory)
    folder = directory / split if (directory / split).is_dir() else directory

    def lines(name: str) -> list[str]:
        path = folder / name
        if not path.exists():
            raise InputError(f"JFLEG file {path} not found; point at the folder with {split}.src and {split}.ref0..3")
        out = path.read_text(encoding="utf-8").split("\n")
        return out[:-1] if out and out[-1] == "" else out

    sources = lines(f"{split}.src")
    refs = [lines(f"{split}.ref{k}") for k in range(4)]
    items = [
        Item(id=f"{split}-{i}", line=i + 1, source=src.strip(), references=[r[i].strip() for r in refs], lang="en")
        for i, src in enumerate(sources)
    ]
    return items[:limit] if limit else items


def split_items(items: Sequence[Item], sizes: Sequence[int], seed: int = 0) -> list[list[Item]]:
    """Disjoint, seeded random subsets of the given sizes, plus the rest as the last list."""
    if sum(sizes) > len(items):
        raise InputError(f"asked for {sum(sizes)} items in splits but the data set has only {len(items)}")
    order = list(items)
    random.Random(seed).shuffle(order)
    out, start = [], 0
    for size in sizes:
        out.append(order[start : start + size])
        start += size
    out.append(order[start:])
    return out
