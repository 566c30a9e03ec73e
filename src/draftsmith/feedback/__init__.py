"""The user-feedback loop: ids for what is shown, accept/reject answers, acceptance rates, and what is learned.

The shells (CLI, server) call ``shown(...)`` with what they are about to show a user (built from an operation's
typed result with ``from_edits``, ``from_problems`` or ``from_result``) and get one id per item; the user's
answers come back through ``record(id, event)``. Operations know nothing of this. ``feedback.issue`` does it for
the typed results of check, correct, rewrite and the other whole-text operations, and suggest (one insert per
response), writing the ids into the results.

- ``stats`` — acceptance per operation, template, version, model, category, rule or language, with 95% Wilson
  intervals (``feedback.rates``);
- ``personal`` — rules muted and words accepted for a user, applied to the detectors (``feedback.personal``);
- ``pairs`` — accepted suggestions as fine-tuning and evaluation pairs (``feedback.pairs``);
- ``export`` / ``purge`` — a user's own records as JSONL, or gone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

# The store's names, imported on first use: the command line imports ``feedback.personal`` on every start.
_STORE_NAMES = frozenset(
    {"EVENTS", "Event", "Shown", "Suggestion", "SuggestionNotFound", "answered", "get_suggestion", "purge"}
)


def __getattr__(name: str) -> Any:
    if name in _STORE_NAMES:
        from draftsmith.store import feedback as store_feedback

        return getattr(store_feedback, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    from draftsmith.checking.problem import Problem
    from draftsmith.store.db import Store
    from draftsmith.store.feedback import Event, Shown
    from draftsmith.writing.base import Result
    from draftsmith.writing.edits import Edit

__all__ = [
    "EVENTS",
    "Event",
    "Shown",
    "Suggestion",
    "SuggestionNotFound",
    "export_lines",
    "from_edits",
    "from_problems",
    "from_result",
    "get_suggestion",
    "purge",
    "record",
    "shown",
    "stats",
    "template_version",
]


def shown(store: Store, items: Sequence[Shown], *, owner: str | None = None) -> list[str]:
    """Record what is about to be shown to ``owner``; one opaque id per item, in order."""
    from draftsmith.store.feedback import add_suggestions

    return add_suggestions(store, items, owner=owner)


def record(
    store: Store, suggestion_id: str, event: str, *, owner: str | None = None, final_text: str | None = None
) -> Event:
    """Record ``owner``'s answer (accept, reject, edited_after_accept) to one of their suggestions."""
    from draftsmith.store.feedback import record_event

    return record_event(store, suggestion_id, event, owner=owner, final_text=final_text)


def stats(store: Store, by: str | Sequence[str] | None = None, *, owner: str | None = None) -> list:
    """Acceptance per group (``feedback.rates``), with how many suggestions of each group were shown."""
    from draftsmith.feedback.rates import parse_by, rates
    from draftsmith.store.feedback import answered, shown_counts

    names = parse_by(by)
    return rates(answered(store, owner=owner), names, shown_counts(store, owner=owner, by=names))


def export_lines(store: Store, *, owner: str | None = None) -> Iterator[str]:
    """Every answered suggestion of ``owner`` with its decision, one JSON object per line."""
    from draftsmith.store.feedback import answered

    for s in answered(store, owner=owner):
        yield json.dumps(s.model_dump(), ensure_ascii=False)


def template_version(name: str | None) -> str | None:
    """The live template's fingerprint (``builtin:…``, ``user v3:…``), or None when there is no template file."""
    if not name:
        return None
    from draftsmith.errors import DraftsmithError
    from draftsmith.prompts.history import describe_version

    try:
        return describe_version(name)[:64]
    except (DraftsmithError, OSError):
        return None


def _passage(text: str, start: int, end: int) -> tuple[str, int, int]:
    """The line (paragraph) around ``text[start:end]`` and the span's offsets inside it."""
    lo = text.rfind("\n", 0, start) + 1
    hi = text.find("\n", end)
    hi = len(text) if hi < 0 else hi
    return text[lo:hi], start - lo, end - lo


def from_edits(
    text: str, edits: Sequence[Edit], result: Result | None = None, *, rules: dict[tuple[int, int], str] | None = None
) -> list[Shown]:
    """One ``Shown`` per edit of a correction of ``text``; ``rules`` maps a span to the rule that flagged it."""
    from draftsmith.store.feedback import Shown

    meta = _meta(result)
    out = []
    for e in edits:
        context, start, end = _passage(text, e.start, e.end)
        out.append(
            Shown(
                operation="correct",
                context=context,
                start=start,
                end=end,
                original=e.original,
                suggestion=e.replacement,
                category=e.category,
                rule_id=(rules or {}).get((e.start, e.end)),
                **meta,
            )
        )
    return out


def from_problems(text: str, problems: Sequence[Problem], *, operation: str = "check") -> list[Shown]:
    """One ``Shown`` per detector problem (its first suggestion, if any, is what was offered)."""
    from draftsmith.store.feedback import Shown

    out = []
    for p in problems:
        context, start, end = _passage(text, p.start, p.end)
        out.append(
            Shown(
                operation=operation,
                context=context,
                start=start,
                end=end,
                original=p.flagged,
                suggestion=p.suggestions[0] if p.suggestions else "",
                category=p.category,
                rule_id=p.rule_id,
                model="detectors",
                template=None,
                template_version=None,
                language="zh" if p.rule_id.startswith("ZH_") else "en",
            )
        )
    return out


def from_result(result: Result, source: str, *, operation: str | None = None) -> Shown:
    """A whole-text suggestion (a rewrite, summary, translation) of ``source``; a completion (``suggest-next``,
    ``continue``) is offered at the end of ``source``."""
    from draftsmith.store.feedback import Shown

    op = operation or result.operation
    if op in ("suggest-next", "continue"):
        end = len(source)
        return Shown(operation=op, context=source, start=end, end=end, suggestion=result.text, **_meta(result))
    return Shown(operation=op, original=source, suggestion=result.text, **_meta(result))


def _meta(result: Any) -> dict[str, Any]:
    if result is None:
        return {}
    template = getattr(result, "template", None)
    return {
        "template": template[:100] if template else None,
        "template_version": template_version(template),
        "model": (getattr(result, "model", None) or "")[:200] or None,
        "language": getattr(result, "language", None),
    }
