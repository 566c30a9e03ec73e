"""Accepted suggestions as training and evaluation pairs: (the text shown, the text the user kept).

Edits inside a passage (corrections, problems, word alternatives) are grouped by the passage they were shown in
(one batch, one context): the pair's output is the passage with every accepted edit applied (an edit changed
after accepting contributes the user's final text) and every rejected edit left out, so the pair teaches what
this user wants changed and what they want left alone. Whole-text suggestions (rewrites, summaries,
translations) pair the source with the accepted text; completions pair the text before the cursor with the
accepted continuation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from draftsmith.store.feedback import MAX_CONTEXT, MAX_FRAGMENT, Suggestion

# operation -> fine-tuning task
TASKS = {
    "correct": "correct",
    "check": "correct",
    "suggest-words": "correct",
    "rewrite": "rewrite",
    "style": "style",
    "translate": "translate",
    "summarize": "summarize",
    "suggest-next": "continue",
    "continue": "continue",
}
CONTINUATIONS = frozenset({"suggest-next", "continue"})


class Pair(BaseModel):
    task: str
    input: str
    output: str
    lang: str | None = None
    origin: str
    category: str | None = None


def _whole(s: Suggestion) -> bool:
    return s.start == 0 and s.end == len(s.context) and s.operation not in ("correct", "check", "suggest-words")


def _cut(s: Suggestion) -> bool:
    """The store kept only part of a long text: no usable pair."""
    return len(s.context) >= MAX_CONTEXT or len(s.suggestion) >= MAX_FRAGMENT


def pairs(suggestions: Sequence[Suggestion]) -> list[Pair]:
    """Pairs from answered suggestions, in the order they were shown; groups without an accepted edit are skipped."""
    out: list[Pair] = []
    groups: dict[tuple[str | None, str, str], list[Suggestion]] = {}
    for s in suggestions:
        task = TASKS.get(s.operation)
        if task is None or s.decision is None or (_cut(s) and (_whole(s) or s.operation in CONTINUATIONS)):
            continue
        kept = s.final_text if s.edited and s.final_text is not None else s.suggestion
        if s.operation in CONTINUATIONS:
            if s.decision == "accept" and kept.strip():
                out.append(Pair(task=task, input=s.context, output=kept, lang=s.language, origin=f"feedback:{s.id}"))
        elif _whole(s):
            if s.decision == "accept" and kept.strip() and kept != s.context:
                out.append(Pair(task=task, input=s.context, output=kept, lang=s.language, origin=f"feedback:{s.id}"))
        else:
            groups.setdefault((s.batch or s.id, s.context, task), []).append(s)
    for (_, context, task), edits in groups.items():
        accepted = sorted((e for e in edits if e.decision == "accept"), key=lambda e: (e.start, e.end))
        if not accepted:
            continue
        text, last = [], 0
        for e in accepted:
            if e.start < last:  # overlaps an earlier accepted edit: keep the first
                continue
            kept = e.final_text if e.edited and e.final_text is not None else e.suggestion
            text += [context[last : e.start], kept]
            last = e.end
        text.append(context[last:])
        output = "".join(text)
        if output.strip() and output != context:
            categories = sorted({e.category for e in accepted if e.category})
            out.append(
                Pair(
                    task=task,
                    input=context,
                    output=output,
                    lang=accepted[0].language,
                    origin=f"feedback:{accepted[0].batch or accepted[0].id}",
                    category=",".join(categories) or None,
                )
            )
    return out


def sft_examples(suggestions: Sequence[Suggestion]) -> list:
    """``finetune.data.Example`` objects for ``finetune prepare --from-edits``."""
    from draftsmith.finetune.data import Example, instruction_for

    examples = []
    for p in pairs(suggestions):
        lang = p.lang if p.lang and p.lang not in ("auto", "-") else None
        examples.append(
            Example(
                task=p.task,
                instruction=instruction_for(p.task, lang),
                input=p.input.strip(),
                output=p.output.strip(),
                lang=lang,
                origin=p.origin,
                group=p.origin,
            )
        )
    return examples


def eval_items(suggestions: Sequence[Suggestion], task: str = "correct") -> list[dict]:
    """Evaluation items (``source``, ``references``, ``category``) of one task: what the user accepted becomes the
    reference, so ``draftsmith optimize TASK --data FILE`` tunes a template toward it (and draws few-shots from it)."""
    items: list[dict] = []
    seen: set[str] = set()
    for p in pairs(suggestions):
        if p.task != task:
            continue
        item_id, n = p.origin, 1
        while item_id in seen:  # passages of one batch share its origin; ids must be unique in a data set
            n += 1
            item_id = f"{p.origin}-{n}"
        seen.add(item_id)
        item = {"id": item_id, "source": p.input, "references": [p.output], "category": p.category or "all"}
        items.append(item | ({"lang": p.lang} if p.lang else {}))
    return items


def decision_items(suggestions: Sequence[Suggestion], task: str = "correct") -> list[dict]:
    """Evaluation items of one task carrying every answer the user gave (``"feedback"``, see
    ``evaluation/acceptance.py``): one item per passage shown with edits, or per text given whole-text
    suggestions. The reference is what the user ended with where that is known: the passage with the accepted
    edits (the passage itself when every edit was rejected), or each accepted text."""
    groups: dict[tuple[str, str], list[Suggestion]] = {}
    for s in suggestions:
        if TASKS.get(s.operation) != task or s.decision is None:
            continue
        whole = _whole(s) or s.operation in CONTINUATIONS
        if whole and _cut(s):
            continue
        key = ("whole", s.context) if whole else (s.batch or s.id, s.context)
        groups.setdefault(key, []).append(s)
    items = []
    for (kind, context), answers in groups.items():
        if kind != "whole":
            answers.sort(key=lambda s: (s.start, s.end))
        first = answers[0]
        decisions: list[dict[str, Any]] = []
        for s in answers:
            edited = s.final_text if s.edited else None
            span = {} if kind == "whole" else {"start": s.start, "end": s.end}
            decisions.append({**span, "shown": s.suggestion, "kept": edited, "accepted": s.decision == "accept"})
        if kind == "whole":
            references = [d["kept"] or d["shown"] for d in decisions if d["accepted"]]
        else:
            references = [_apply_accepted(context, answers)]
        item: dict = {"id": f"feedback:{first.id}", "source": context, "feedback": decisions}
        if references:
            item["references"] = list(dict.fromkeys(references))
        if first.language and first.language not in ("auto", "-"):
            item["tgt_lang" if task == "translate" else "lang"] = first.language
        if task == "rewrite" and first.category:
            item["style"] = first.category  # a rewrite's style is recorded as its category
        if task == "continue":
            item["words"] = max(1, max(len(d["shown"].split()) for d in decisions))
        items.append(item)
    return items


def _apply_accepted(context: str, answers: Sequence[Suggestion]) -> str:
    """``context`` with the accepted edits among ``answers`` applied (an overlapping later one is left out)."""
    text, last = [], 0
    for e in sorted((a for a in answers if a.decision == "accept"), key=lambda a: (a.start, a.end)):
        if e.start < last:
            continue
        text += [context[last : e.start], e.final_text if e.edited and e.final_text is not None else e.suggestion]
        last = e.end
    text.append(context[last:])
    return "".join(text)
