"""Template variants for the prompt optimiser: instruction rewrites by the model, few-shot examples from the
training split, and sampling settings; and the edit of a template file that keeps it diffable.

A variant is the base template's file text with some top-level front-matter keys replaced (``system``,
``examples``, ``temperature``); every other line of the file stays byte for byte, so ``templates diff`` shows
only what the optimiser changed.
"""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from draftsmith.errors import TemplateError
from draftsmith.evaluation import ptb
from draftsmith.evaluation.datasets import Item
from draftsmith.models.base import Model
from draftsmith.prompts.template import Template, parse_template

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", re.S)
_KEY = re.compile(r"^([A-Za-z_][\w-]*):")

DIRECTIONS = (
    "Make it shorter and more direct.",
    "Turn it into a short numbered list of concrete checks.",
    "Stress what must not change, and what exactly the output is.",
    "Rewrite it from scratch in your own words, keeping every requirement.",
    "Address the mistakes shown above.",
)


@dataclass
class Variant:
    key: str  # short, unique: "base", "instr-1", "shots-4", "temp-0.3", …
    description: str
    updates: dict[str, Any] = field(default_factory=dict)  # front-matter keys to replace


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data and not any(line != line.rstrip() for line in data.splitlines()) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def edit_front_matter(text: str, updates: dict[str, Any]) -> str:
    """Replace (or add) top-level front-matter keys, leaving every other line of the file as it was."""
    match = _FRONT.match(text.replace("\r\n", "\n"))
    if not match:
        raise TemplateError("template text must start with '---', front matter, '---'")
    blocks: list[tuple[str | None, list[str]]] = []
    for line in match.group(1).split("\n"):
        key = _KEY.match(line)
        if key:
            blocks.append((key.group(1), [line]))
        elif blocks:
            blocks[-1][1].append(line)
        else:
            blocks.append((None, [line]))
    pending = dict(updates)
    out: list[str] = []
    for key, lines in blocks:
        if key in pending:
            value = pending.pop(key)
            if value is not None:
                out.append(_dump(key, value))
        else:
            out.append("\n".join(lines))
    out.extend(_dump(key, value) for key, value in pending.items() if value is not None)
    return "---\n" + "\n".join(out) + "\n---\n" + match.group(2)


def _dump(key: str, value: Any) -> str:
    return yaml.dump(
        {key: value}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False
    ).rstrip("\n")


def apply_variant(base_text: str, variant: Variant, name: str) -> str:
    """The file text of ``variant`` under template name ``name`` (validated: it loads)."""
    text = edit_front_matter(base_text, {**variant.updates, "name": name})
    parse_template(text)
    return text


# -- proposals ------------------------------------------------------------------------------------------------


def main_variable(template: Template) -> str | None:
    """The variable that carries the user's text (``text`` for the operation templates)."""
    if "text" in template.variables:
        return "text"
    required = [n for n, v in template.variables.items() if v.required and v.type in ("text", "string")]
    return required[0] if len(required) == 1 else None


def example_of(template: Template, item: Item, tokenize: str | None) -> dict[str, Any] | None:
    """A few-shot example from a training item: its input and first reference (as plain text)."""
    if not item.references:
        return None
    plain = ptb.detokenize if tokenize == "ptb" else (lambda s: s)
    if item.vars:
        values = dict(item.vars)
    else:
        var = main_variable(template)
        if var is None or not item.source:
            return None
        values = {var: plain(item.source)}
    return {"vars": values, "output": plain(item.references[0])}


def few_shot_variants(
    template: Template,
    train: Sequence[Item],
    shots: Sequence[int],
    seed: int,
    tokenize: str | None,
    *,
    pick: str = "random",
    plus: bool = True,
) -> list[Variant]:
    """For each k: k training examples replacing the template's own, and (with ``plus``, if it has any) added to
    them. ``pick`` is ``random`` (a seeded sample) or ``typical`` (see ``typical_examples``)."""
    pool = [ex for ex in (example_of(template, item, tokenize) for item in train) if ex]
    rng = random.Random(seed)
    own = [e.model_dump(exclude_defaults=False) for e in template.examples]
    what = "typical training examples" if pick == "typical" else "training examples"
    out = []
    for k in shots:
        if k <= 0 or len(pool) < k:
            continue
        picked = typical_examples(template, train, k, seed, tokenize) if pick == "typical" else rng.sample(pool, k)
        if not picked:
            continue
        out.append(Variant(f"shots-{k}", f"{k} {what} instead of the template's", {"examples": picked}))
        if own and plus:
            out.append(Variant(f"shots+{k}", f"the template's examples plus {k} {what}", {"examples": own + picked}))
    return out


def typical_examples(
    template: Template, train: Sequence[Item], k: int, seed: int, tokenize: str | None
) -> list[dict[str, Any]]:
    """``k`` training examples that show the data's usual correction, for tasks whose output edits the input.

    Each example's answer is its item's consensus reference (the one most like the other references). Inputs of
    typical length (the pool's middle half) are used; the changed ones make a typical number of word edits (from
    the median to the upper quartile of the pool's changed items), the clearest first (references that agree), and
    as many are left unchanged as the pool's share of unchanged items asks for, so the examples show how much the
    data's references change, not less.
    """
    rows = []
    for item in train:
        example = example_of(template, item, tokenize)
        answer, agreement = _consensus(item.references)
        if example is None or not item.source or answer is None:
            continue
        example = {**example, "output": _plain(answer, tokenize)}
        rows.append((example, len(item.source.split()), word_edits(item.source, answer), agreement))
    if k <= 0 or len(rows) < k:
        return []
    lengths = sorted(r[1] for r in rows)
    changed_edits = sorted(r[2] for r in rows if r[2] > 0)
    if not changed_edits:
        return []
    low, high = lengths[len(lengths) // 4], lengths[(3 * len(lengths)) // 4]
    fewest, most = changed_edits[len(changed_edits) // 2], changed_edits[(3 * len(changed_edits)) // 4]
    typical = [r for r in rows if low <= r[1] <= high]
    n_same = int(k * sum(1 for r in rows if r[2] == 0) / len(rows) + 0.5)
    rng = random.Random(seed)

    def clearest(group: list[tuple[dict[str, Any], int, int, float]], count: int) -> list[dict[str, Any]]:
        group = sorted(group, key=lambda r: -r[3])[: count * 4]
        return [r[0] for r in rng.sample(group, min(count, len(group)))]

    same = clearest([r for r in typical if r[2] == 0], n_same)
    picked = clearest([r for r in typical if fewest <= r[2] <= most], k - len(same))
    if len(picked) + len(same) < k:
        return []
    for example in same:  # unchanged examples go among the changed ones, not last
        picked.insert(len(picked) // 2, example)
    return picked


def word_edits(source: str, target: str) -> int:
    """How many words change from ``source`` to ``target`` (per differing run, the longer of its two sides)."""
    ops = difflib.SequenceMatcher(None, source.split(), target.split(), autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def _consensus(references: Sequence[str]) -> tuple[str | None, float]:
    """The reference most like the others (and how alike they are, 0–1); None without references."""
    if not references:
        return None, 0.0
    if len(references) == 1:
        return references[0], 1.0

    def alike(a: str, b: str) -> float:
        return difflib.SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio()

    scored = [
        (sum(alike(r, o) for j, o in enumerate(references) if j != i) / (len(references) - 1), i)
        for i, r in enumerate(references)
    ]
    agreement, index = max(scored, key=lambda s: (s[0], -s[1]))
    return references[index], agreement


def _plain(text: str, tokenize: str | None) -> str:
    return ptb.detokenize(text) if tokenize == "ptb" else text


def temperature_variants(template: Template, task: str, values: Sequence[float] = (0.0, 0.3, 0.7)) -> list[Variant]:
    """Sampling settings; none for ``correct``, whose operation always decodes greedily."""
    if task == "correct":
        return []
    return [
        Variant(f"temp-{t:g}", f"temperature {t:g}", {"temperature": t}) for t in values if t != template.temperature
    ]


def propose_instructions(
    model: Model,
    template: Template,
    task: str,
    count: int,
    *,
    failures: str = "",
    seed: int = 0,
) -> list[Variant]:
    """Ask the model for ``count`` rewrites of the template's system instruction (one call each)."""
    from draftsmith.prompts.registry import get_template
    from draftsmith.writing.base import clean_output, run_template, template_params

    meta = get_template("optimize-instruction")
    current = (template.system or "").strip() or f"You are a careful assistant for the task {task}."
    out: list[Variant] = []
    seen = {_normal(current)}
    for i in range(count):
        direction = DIRECTIONS[i % len(DIRECTIONS)]
        values = {"task": task, "instruction": current, "direction": direction, "failures": failures}
        params = template_params(meta, None, seed=seed + i, max_tokens=300)
        text = clean_output(run_template(model, meta, values, params).text)
        text = re.sub(r"</?instruction>", "", text).strip()
        if len(text) < 20 or _normal(text) in seen:
            continue
        seen.add(_normal(text))
        out.append(
            Variant(
                f"instr-{i + 1}",
                f"instruction rewrite ({direction.split(',')[0].rstrip('.').lower()})",
                {"system": text},
            )
        )
    return out


def _normal(text: str) -> str:
    return " ".join(text.lower().split())
