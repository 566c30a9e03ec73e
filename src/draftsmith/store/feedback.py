"""Feedback on what was shown to a user: each suggestion (an edit, a problem, a rewrite, a completion…) gets an
opaque id when it is shown, and the user's answers to it (accept, reject, edited after accepting) are events.

Everything is owned: a suggestion and its events belong to the user it was shown to (``owner``; ``None`` is the
local user of the command line and of a server without keys). Every read and write names the owner, and another
user's id is answered exactly like an id that does not exist (``SuggestionNotFound``).

Texts are bounded: the passage shown (``context``) keeps at most ``MAX_CONTEXT`` characters around the span
(``start``/``end`` into the kept context), the flagged text and the suggestion at most ``MAX_FRAGMENT``.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from draftsmith.errors import InputError
from draftsmith.store.db import METADATA, Store

MAX_CONTEXT = 4000
MAX_FRAGMENT = 4000
MAX_FINAL = 8000
EVENTS: tuple[str, ...] = ("accept", "reject", "edited_after_accept")
UNANSWERED_DAYS = 30  # suggestions nobody answered are dropped after this long (see ``add_suggestions``)
REUSE_HOURS = 24  # an unanswered suggestion shown again unchanged within this long keeps its id (``reuse``)

suggestions = sa.Table(
    "feedback_suggestions",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=True, index=True),
    sa.Column("batch", sa.String(32), nullable=True, index=True),  # shown together (one text, one call)
    sa.Column("operation", sa.String(32), nullable=False),
    sa.Column("template", sa.String(100), nullable=True),
    sa.Column("template_version", sa.String(64), nullable=True),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("category", sa.String(32), nullable=True),
    sa.Column("rule_id", sa.String(64), nullable=True),
    sa.Column("language", sa.String(16), nullable=True),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("start", sa.Integer, nullable=False),
    sa.Column("end", sa.Integer, nullable=False),
    sa.Column("original", sa.Text, nullable=False),
    sa.Column("suggestion", sa.Text, nullable=False),
    sa.Column("shown_at", sa.Float, nullable=False),
    sa.Column("answered", sa.Boolean, nullable=False, server_default=sa.false()),
    # what identifies a suggestion shown again unchanged (``add_suggestions(reuse=True)``): a hash of its row
    sa.Column("fingerprint", sa.String(40), nullable=True, index=True),
)

events = sa.Table(
    "feedback_events",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("suggestion_id", sa.String(32), sa.ForeignKey("feedback_suggestions.id"), nullable=False, index=True),
    sa.Column("owner", sa.String(200), nullable=True, index=True),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("final_text", sa.Text, nullable=True),
    sa.Column("at", sa.Float, nullable=False),
)


def m0001_suggestions_and_events(conn: Connection) -> None:
    suggestions.create(conn, checkfirst=True)
    events.create(conn, checkfirst=True)


def m0002_fingerprints(conn: Connection) -> None:
    from draftsmith.store.db import add_column

    add_column(conn, "feedback_suggestions", sa.Column("fingerprint", sa.String(40), nullable=True))
    for index in suggestions.indexes:
        if index.name == "ix_feedback_suggestions_fingerprint":
            index.create(conn, checkfirst=True)


MIGRATIONS = [m0001_suggestions_and_events, m0002_fingerprints]


class SuggestionNotFound(InputError):
    """No such suggestion (or not the caller's)."""


class Shown(BaseModel):
    """One thing shown to a user, as the shell describes it. ``context[start:end]`` is ``original``."""

    operation: str = Field(min_length=1, max_length=32)
    context: str = Field("", max_length=1_000_000)
    start: int | None = Field(None, ge=0)
    end: int | None = Field(None, ge=0)
    original: str = Field("", max_length=1_000_000)
    suggestion: str = Field("", max_length=1_000_000)
    template: str | None = Field(None, max_length=100)
    template_version: str | None = Field(None, max_length=64)
    model: str | None = Field(None, max_length=200)
    category: str | None = Field(None, max_length=32)
    rule_id: str | None = Field(None, max_length=64)
    language: str | None = Field(None, max_length=16)


class Suggestion(BaseModel):
    """A stored suggestion with its latest answer (``decision``: accept, reject, or None while unanswered)."""

    id: str
    batch: str | None
    operation: str
    template: str | None
    template_version: str | None
    model: str | None
    category: str | None
    rule_id: str | None
    language: str | None
    context: str
    start: int
    end: int
    original: str
    suggestion: str
    shown_at: float
    decision: str | None = None
    edited: bool = False
    final_text: str | None = None
    decided_at: float | None = None


class Event(BaseModel):
    suggestion_id: str
    event: str
    final_text: str | None
    at: float


def _owned(column: sa.Column, owner: str | None) -> sa.ColumnElement[bool]:
    return column.is_(None) if owner is None else column == owner


def _bounded(shown: Shown) -> dict:
    """The row values of ``shown``: the context cut to a window around the span, fragments cut to size."""
    if shown.context:
        context = shown.context
        found = context.find(shown.original) if shown.original else -1
        start = shown.start if shown.start is not None else max(found, 0)
        end = shown.end if shown.end is not None else start + (len(shown.original) if found >= 0 else 0)
    else:  # the whole text was the suggestion's subject (a rewrite, a summary)
        context, start, end = shown.original, 0, len(shown.original)
    start = min(start, len(context))
    end = min(max(end, start), len(context))
    if len(context) > MAX_CONTEXT:
        room = max(MAX_CONTEXT - (end - start), 0) // 2
        lo = max(0, min(start - room, len(context) - MAX_CONTEXT))
        context = context[lo : lo + MAX_CONTEXT]
        start, end = min(start - lo, len(context)), min(end - lo, len(context))
    return {
        "operation": shown.operation,
        "template": shown.template,
        "template_version": shown.template_version,
        "model": shown.model,
        "category": shown.category,
        "rule_id": shown.rule_id,
        "language": shown.language,
        "context": context,
        "start": start,
        "end": end,
        "original": shown.original[:MAX_FRAGMENT],
        "suggestion": shown.suggestion[:MAX_FRAGMENT],
    }


def add_suggestions(store: Store, shown: Sequence[Shown], *, owner: str | None, reuse: bool = False) -> list[str]:
    """Store what was shown (one batch, one insert) and return one id per item, in order. With ``reuse``, an item
    identical to one of the owner's unanswered suggestions shown within ``REUSE_HOURS`` keeps that id instead
    (a checker re-run on unchanged text shows the same problems again: one suggestion, not one per run).
    Also drops this owner's suggestions never answered within ``UNANSWERED_DAYS``, so showing alone never grows
    the store."""
    now = time.time()
    batch = uuid.uuid4().hex
    rows = [_bounded(s) for s in shown]
    prints = [_fingerprint(r) for r in rows]
    ids: list[str | None] = [None] * len(rows)
    with store.write() as conn:
        conn.execute(
            suggestions.delete().where(
                _owned(suggestions.c.owner, owner),
                suggestions.c.answered.is_(False),
                suggestions.c.shown_at < now - UNANSWERED_DAYS * 86400,
            )
        )
        if reuse and rows:
            free: dict[str, list[str]] = {}
            for start in range(0, len(prints), 500):
                found = conn.execute(
                    sa.select(suggestions.c.id, suggestions.c.fingerprint)
                    .where(
                        _owned(suggestions.c.owner, owner),
                        suggestions.c.answered.is_(False),
                        suggestions.c.shown_at >= now - REUSE_HOURS * 3600,
                        suggestions.c.fingerprint.in_(set(prints[start : start + 500])),
                    )
                    .order_by(suggestions.c.shown_at, suggestions.c.id)
                )
                for row in found:
                    free.setdefault(row.fingerprint, []).append(row.id)
            for n, fingerprint in enumerate(prints):  # each stored suggestion answers for one shown item
                if free.get(fingerprint):
                    ids[n] = free[fingerprint].pop(0)
        new = [n for n, i in enumerate(ids) if i is None]
        for n in new:
            ids[n] = uuid.uuid4().hex
        if new:
            conn.execute(
                suggestions.insert(),
                [
                    {
                        "id": ids[n],
                        "owner": owner,
                        "batch": batch,
                        "shown_at": now,
                        "answered": False,
                        "fingerprint": prints[n],
                        **rows[n],
                    }
                    for n in new
                ],
            )
    return [i for i in ids if i is not None]


def _fingerprint(row: dict) -> str:
    """What makes two shown suggestions the same one: everything but when and in which batch."""
    return hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:40]


# ``feedback stats`` dimensions → the columns they group by
GROUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "operation": ("operation",),
    "template": ("template",),
    "version": ("template", "template_version"),
    "model": ("model",),
    "category": ("category",),
    "rule": ("rule_id",),
    "language": ("language",),
}


def shown_counts(store: Store, *, owner: str | None, by: Sequence[str]) -> list[tuple[dict[str, str | None], int]]:
    """How many suggestions the owner was shown (answered or not), grouped by the ``GROUP_COLUMNS`` of ``by``:
    the denominator of what was accepted. Unanswered ones are kept ``UNANSWERED_DAYS``, so the counts cover
    at least that long."""
    names = list(dict.fromkeys(c for dim in by for c in GROUP_COLUMNS[dim]))
    columns = [suggestions.c[n] for n in names]
    query = sa.select(*columns, sa.func.count().label("n")).where(_owned(suggestions.c.owner, owner)).group_by(*columns)
    with store.read() as conn:
        return [({n: row._mapping[n] for n in names}, int(row.n)) for row in conn.execute(query)]


def record_event(
    store: Store, suggestion_id: str, event: str, *, owner: str | None, final_text: str | None = None
) -> Event:
    """Record the owner's answer to one of their suggestions; an unknown or someone else's id records nothing."""
    if event not in EVENTS:
        raise InputError(f"unknown feedback event {event!r}; use one of: {', '.join(EVENTS)}")
    if event == "edited_after_accept" and final_text is None:
        raise InputError("an edited_after_accept event needs the final text the user kept")
    if final_text is not None and len(final_text) > MAX_FINAL:
        raise InputError(f"the final text has {len(final_text):,} characters; the limit is {MAX_FINAL:,}")
    now = time.time()
    with store.write() as conn:
        found = conn.execute(
            sa.select(suggestions.c.id).where(suggestions.c.id == suggestion_id, _owned(suggestions.c.owner, owner))
        ).first()
        if found is None:
            raise SuggestionNotFound(f"no suggestion {suggestion_id}; ids come from what draftsmith showed you")
        conn.execute(
            events.insert().values(suggestion_id=suggestion_id, owner=owner, event=event, final_text=final_text, at=now)
        )
        conn.execute(suggestions.update().where(suggestions.c.id == suggestion_id).values(answered=True))
    return Event(suggestion_id=suggestion_id, event=event, final_text=final_text, at=now)


def get_suggestion(store: Store, suggestion_id: str, *, owner: str | None) -> tuple[Suggestion, list[Event]]:
    with store.read() as conn:
        row = conn.execute(
            sa.select(suggestions).where(suggestions.c.id == suggestion_id, _owned(suggestions.c.owner, owner))
        ).first()
        if row is None:
            raise SuggestionNotFound(f"no suggestion {suggestion_id}")
        found = conn.execute(
            sa.select(events).where(events.c.suggestion_id == suggestion_id).order_by(events.c.at, events.c.id)
        ).all()
    history = [Event(suggestion_id=e.suggestion_id, event=e.event, final_text=e.final_text, at=e.at) for e in found]
    return _decided(row, history), history


def answered(
    store: Store, *, owner: str | None, operations: Iterable[str] | None = None, limit: int | None = None
) -> list[Suggestion]:
    """The owner's answered suggestions with their latest decision, oldest first."""
    query = sa.select(suggestions).where(_owned(suggestions.c.owner, owner), suggestions.c.answered.is_(True))
    if operations is not None:
        query = query.where(suggestions.c.operation.in_(list(operations)))
    query = query.order_by(suggestions.c.shown_at, suggestions.c.id)
    with store.read() as conn:
        rows = conn.execute(query).all()
        by_id: dict[str, list[Event]] = {}
        found = conn.execute(sa.select(events).where(_owned(events.c.owner, owner)).order_by(events.c.at, events.c.id))
        for e in found:
            by_id.setdefault(e.suggestion_id, []).append(
                Event(suggestion_id=e.suggestion_id, event=e.event, final_text=e.final_text, at=e.at)
            )
    out = [_decided(r, by_id.get(r.id, [])) for r in rows]
    return out[-limit:] if limit else out


def recent(store: Store, *, owner: str | None, limit: int = 100) -> list[Suggestion]:
    """The owner's latest suggestions (answered or not), newest first, with their decisions."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(suggestions)
            .where(_owned(suggestions.c.owner, owner))
            .order_by(suggestions.c.shown_at.desc(), suggestions.c.id)
            .limit(limit)
        ).all()
        ids = [r.id for r in rows]
        found = conn.execute(
            sa.select(events).where(events.c.suggestion_id.in_(ids)).order_by(events.c.at, events.c.id)
        ).all()
    by_id: dict[str, list[Event]] = {}
    for e in found:
        by_id.setdefault(e.suggestion_id, []).append(
            Event(suggestion_id=e.suggestion_id, event=e.event, final_text=e.final_text, at=e.at)
        )
    return [_decided(r, by_id.get(r.id, [])) for r in rows]


def purge(store: Store, *, owner: str | None) -> int:
    """Delete every suggestion and event of ``owner``; returns how many suggestions went."""
    with store.write() as conn:
        mine = sa.select(suggestions.c.id).where(_owned(suggestions.c.owner, owner))
        conn.execute(events.delete().where(events.c.suggestion_id.in_(mine)))
        conn.execute(events.delete().where(_owned(events.c.owner, owner)))
        return conn.execute(suggestions.delete().where(_owned(suggestions.c.owner, owner))).rowcount or 0


def _decided(row: sa.Row, history: list[Event]) -> Suggestion:
    """The latest accept/reject wins; ``edited_after_accept`` counts as accepted and keeps the final text."""
    decision: str | None = None
    edited = False
    final: str | None = None
    at: float | None = None
    for e in history:
        if e.event == "reject":
            decision, edited, final = "reject", False, None
        else:
            decision = "accept"
            if e.event == "edited_after_accept":
                edited, final = True, e.final_text
            else:
                edited, final = False, None
        at = e.at
    fields = {k: v for k, v in row._mapping.items() if k in Suggestion.model_fields}
    return Suggestion(**fields, decision=decision, edited=edited, final_text=final, decided_at=at)
