"""Ids for what a shell shows: each function records one response's suggestions as shown, in one batched insert,
and writes their ids into the typed result (``suggestion_id`` on edits, problems, completions, word candidates
and whole-text results), so the command line's ``--json``, the API's answers and the editor carry them, and an
answer can come later (``POST /v1/feedback``, ``draftsmith feedback accept|reject ID``).

The shells call these (the CLI for the local user, the server per caller); the operations never do. Detector
problems are shown again every time a text is checked unchanged, so they are recorded with ``reuse``: an
unanswered problem shown again keeps its id instead of counting twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from draftsmith.checking.problem import Problem
    from draftsmith.store.db import Store
    from draftsmith.suggest.autocomplete import SuggestResult
    from draftsmith.suggest.words import WordsResult
    from draftsmith.writing.base import Result
    from draftsmith.writing.correct import CorrectionResult

# Operations whose whole result is one suggestion about the text sent (a completion is offered at its end).
WHOLE_TEXT = frozenset({"rewrite", "style", "translate", "summarize", "continue"})


def detector_rules(text: str, language: str | None) -> dict[tuple[int, int], str]:
    """Which detector rule flags each span of ``text`` (so an answer to an edit there also counts for that rule)."""
    from draftsmith.errors import DraftsmithError

    try:
        from draftsmith.checking import check_text

        lang = language if language in ("en", "zh", "zh-tw") else None
        return {(p.start, p.end): p.rule_id for p in check_text(text, lang)}
    except (DraftsmithError, ImportError):
        return {}


def correction(store: Store, text: str, result: CorrectionResult, *, owner: str | None = None) -> None:
    """Each edit of a correction of ``text`` gets an id."""
    from draftsmith import feedback

    if not result.edits:
        return
    shown = feedback.from_edits(text, result.edits, result, rules=detector_rules(text, result.language))
    for edit, sid in zip(result.edits, feedback.shown(store, shown, owner=owner), strict=True):
        edit.suggestion_id = sid


def problems(
    store: Store, text: str, found: Sequence[Problem], *, owner: str | None = None, operation: str = "check"
) -> None:
    """Each detector problem in ``text`` gets an id (the same one while it stays unanswered and unchanged)."""
    from draftsmith import feedback
    from draftsmith.store.feedback import add_suggestions

    if not found:
        return
    shown = feedback.from_problems(text, found, operation=operation)
    for problem, sid in zip(found, add_suggestions(store, shown, owner=owner, reuse=True), strict=True):
        problem.suggestion_id = sid


def whole(store: Store, result: Result, source: str, *, owner: str | None = None, category: str | None = None) -> None:
    """A rewrite, translation, summary or continuation of ``source`` gets one id; ``category`` says more about
    it (a rewrite's style)."""
    from draftsmith import feedback

    if not result.text.strip():
        return
    shown = feedback.from_result(result, source)
    if category:
        shown.category = category[:32]
    result.suggestion_id = feedback.shown(store, [shown], owner=owner)[0]


def completions(store: Store, text: str, result: SuggestResult, *, owner: str | None = None) -> None:
    """Each completion offered at the cursor of ``text`` gets an id (recorded with the text before the cursor)."""
    from draftsmith.store.feedback import Shown, add_suggestions

    offered = [s for s in result.suggestions if s.text.strip()]
    if not offered or result.cancelled:
        return
    before = text[: min(max(result.cursor, 0), len(text))]
    shown = [
        Shown(
            operation="suggest-next",
            context=before,
            start=len(before),
            end=len(before),
            suggestion=s.text,
            model=(result.model or "")[:200] or None,
            category=s.source,
            language=result.language or None,
        )
        for s in offered
    ]
    for suggestion, sid in zip(offered, add_suggestions(store, shown, owner=owner), strict=True):
        suggestion.suggestion_id = sid


def alternatives(store: Store, result: WordsResult, *, owner: str | None = None) -> None:
    """Each alternative for a word or phrase gets an id (recorded as an edit of the phrase in its sentence)."""
    from draftsmith.store.feedback import Shown, add_suggestions

    if not result.candidates:
        return
    context = result.context or result.phrase
    start = max(context.find(result.phrase), 0)
    shown = [
        Shown(
            operation="suggest-words",
            context=context,
            start=start,
            end=start + len(result.phrase),
            original=result.phrase,
            suggestion=c.text,
            model=(result.model or "")[:200] or None,
            category="+".join(c.sources)[:32] or None,
            language=result.language or None,
        )
        for c in result.candidates
    ]
    for candidate, sid in zip(result.candidates, add_suggestions(store, shown, owner=owner), strict=True):
        candidate.suggestion_id = sid


def operation_result(store: Store, result: Any, source: str, *, owner: str | None = None, **extra: Any) -> None:
    """Ids for whatever an ``/api/<operation>`` result shows: a correction's edits, or the whole text of a
    rewrite, translation, summary or continuation; other results (drafts, outlines, titles) get none."""
    from draftsmith.writing.correct import CorrectionResult

    if isinstance(result, CorrectionResult):
        correction(store, source, result, owner=owner)
    elif getattr(result, "operation", None) in WHOLE_TEXT and isinstance(getattr(result, "text", None), str):
        whole(store, result, source, owner=owner, category=extra.get("category"))


def local(record: Callable[[Store], None]) -> str | None:
    """Run ``record`` against the local user's store (for the command line). A store that cannot be opened or
    written must not fail the command: the ids are left out and the reason is returned for one warning."""
    from draftsmith.errors import StoreError

    try:
        from draftsmith.feedback.personal import local_store

        record(local_store())
    except (StoreError, OSError) as exc:
        return f"suggestion ids left out: the feedback store is unavailable ({exc})"
    return None
