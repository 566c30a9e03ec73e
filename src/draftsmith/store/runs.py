"""Evaluation runs: what was run (config, model, template version), every item's output and scores, the totals.

Items are written one transaction each as they finish, so an interrupted run keeps its work and a resumed run
skips what is done. Aggregates are always computed from the stored items (``finish_run``), so a resumed run ends
with exactly the figures an uninterrupted one would have.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from draftsmith.errors import InputError
from draftsmith.store.db import METADATA, Store

eval_runs = sa.Table(
    "eval_runs",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("kind", sa.String(32), nullable=False),  # eval, or optimize (a held-out check of the optimiser)
    sa.Column("task", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # running, interrupted, failed, done
    sa.Column("model", sa.String(300), nullable=False),
    sa.Column("template", sa.String(100), nullable=True),
    sa.Column("template_version", sa.String(64), nullable=True),
    sa.Column("data_path", sa.Text, nullable=True),
    sa.Column("data_digest", sa.String(64), nullable=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("items_total", sa.Integer, nullable=False),
    sa.Column("aggregates", sa.JSON, nullable=True),
    sa.Column("prompt_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("completion_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("elapsed_s", sa.Float, nullable=False, default=0.0),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
)

eval_items = sa.Table(
    "eval_items",
    METADATA,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("eval_runs.id"), primary_key=True),
    sa.Column("item_id", sa.String(200), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("category", sa.String(200), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("references", sa.JSON, nullable=False),
    sa.Column("output", sa.Text, nullable=False),
    sa.Column("hypothesis", sa.Text, nullable=False),  # the output as scored (e.g. PTB-tokenised for JFLEG)
    sa.Column("scores", sa.JSON, nullable=False),
    sa.Column("extra", sa.JSON, nullable=True),  # judge rationale, warnings, edits count …
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("prompt_tokens", sa.Integer, nullable=False),
    sa.Column("completion_tokens", sa.Integer, nullable=False),
    sa.Column("elapsed_s", sa.Float, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_eval_items_run_position", "run_id", "position"),
)


def m0001_eval_runs_and_items(conn: Connection) -> None:
    eval_runs.create(conn, checkfirst=True)
    eval_items.create(conn, checkfirst=True)


MIGRATIONS = [m0001_eval_runs_and_items]


class RunNotFound(InputError):
    """No run with that id (or id prefix)."""


class RunInfo(BaseModel):
    id: str
    name: str | None = None
    kind: str = "eval"
    task: str
    status: str
    model: str
    template: str | None = None
    template_version: str | None = None
    data_path: str | None = None
    data_digest: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    items_total: int
    items_done: int = 0
    items_failed: int = 0
    aggregates: dict[str, Any] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    elapsed_s: float = 0.0
    created_at: float
    finished_at: float | None = None


class ItemRecord(BaseModel):
    item_id: str
    position: int
    category: str
    source: str
    references: list[str]
    output: str
    hypothesis: str
    scores: dict[str, float] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    elapsed_s: float = 0.0


def create_run(
    store: Store,
    *,
    task: str,
    model: str,
    config: dict[str, Any],
    items_total: int,
    template: str | None = None,
    template_version: str | None = None,
    data_path: str | None = None,
    data_digest: str | None = None,
    name: str | None = None,
    kind: str = "eval",
) -> str:
    run_id = uuid.uuid4().hex[:12]
    with store.write() as conn:
        conn.execute(
            eval_runs.insert().values(
                id=run_id,
                name=name,
                kind=kind,
                task=task,
                status="running",
                model=model,
                template=template,
                template_version=template_version,
                data_path=data_path,
                data_digest=data_digest,
                config=config,
                items_total=items_total,
                aggregates=None,
                prompt_tokens=0,
                completion_tokens=0,
                elapsed_s=0.0,
                created_at=time.time(),
                finished_at=None,
            )
        )
    return run_id


def save_item(store: Store, run_id: str, record: ItemRecord) -> None:
    """Store one finished item (replacing an earlier failed attempt at it) in one transaction."""
    with store.write() as conn:
        conn.execute(eval_items.delete().where(eval_items.c.run_id == run_id, eval_items.c.item_id == record.item_id))
        conn.execute(eval_items.insert().values(run_id=run_id, created_at=time.time(), **record.model_dump()))


def done_item_ids(store: Store, run_id: str) -> set[str]:
    """Items finished without an error (a failed item is tried again on resume)."""
    with store.read() as conn:
        return set(
            conn.scalars(
                sa.select(eval_items.c.item_id).where(eval_items.c.run_id == run_id, eval_items.c.error.is_(None))
            )
        )


def get_items(store: Store, run_id: str) -> list[ItemRecord]:
    """A run's stored items in data set order."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(eval_items).where(eval_items.c.run_id == run_id).order_by(eval_items.c.position)
        ).all()
    fields = ItemRecord.model_fields
    return [ItemRecord(**{k: v for k, v in row._mapping.items() if k in fields}) for row in rows]


def set_status(store: Store, run_id: str, status: str, *, add_elapsed: float = 0.0) -> None:
    with store.write() as conn:
        conn.execute(
            eval_runs.update()
            .where(eval_runs.c.id == run_id)
            .values(status=status, elapsed_s=eval_runs.c.elapsed_s + add_elapsed)
        )


def finish_run(
    store: Store, run_id: str, aggregates: dict[str, Any], *, status: str = "done", add_elapsed: float = 0.0
) -> None:
    """Record the aggregates (computed from the stored items) and the token totals."""
    with store.write() as conn:
        totals = conn.execute(
            sa.select(
                sa.func.coalesce(sa.func.sum(eval_items.c.prompt_tokens), 0),
                sa.func.coalesce(sa.func.sum(eval_items.c.completion_tokens), 0),
            ).where(eval_items.c.run_id == run_id)
        ).one()
        conn.execute(
            eval_runs.update()
            .where(eval_runs.c.id == run_id)
            .values(
                status=status,
                aggregates=aggregates,
                prompt_tokens=int(totals[0]),
                completion_tokens=int(totals[1]),
                elapsed_s=eval_runs.c.elapsed_s + add_elapsed,
                finished_at=time.time(),
            )
        )


def resolve_run(store: Store, ref: str) -> str:
    """A full run id from an id, a unique prefix of one, a run name, or ``last``."""
    with store.read() as conn:
        if ref == "last":
            found = conn.scalar(sa.select(eval_runs.c.id).order_by(eval_runs.c.created_at.desc()).limit(1))
            if found is None:
                raise RunNotFound("there are no evaluation runs yet; start one with 'draftsmith eval run'")
            return found
        ids = list(conn.scalars(sa.select(eval_runs.c.id).where(eval_runs.c.id.startswith(ref, autoescape=True))))
        if not ids:
            ids = list(conn.scalars(sa.select(eval_runs.c.id).where(eval_runs.c.name == ref)))
    if not ids:
        raise RunNotFound(f"no evaluation run {ref!r}; see 'draftsmith eval list'")
    if len(ids) > 1:
        raise RunNotFound(f"{ref!r} matches {len(ids)} runs ({', '.join(sorted(ids)[:5])}); give more of the id")
    return ids[0]


def get_run(store: Store, ref: str) -> RunInfo:
    run_id = resolve_run(store, ref)
    with store.read() as conn:
        row = conn.execute(sa.select(eval_runs).where(eval_runs.c.id == run_id)).one()
        counts = _counts(conn, [run_id]).get(run_id, (0, 0))
    return _info(row, counts)


def list_runs(store: Store, *, limit: int = 50) -> list[RunInfo]:
    with store.read() as conn:
        rows = conn.execute(sa.select(eval_runs).order_by(eval_runs.c.created_at.desc()).limit(limit)).all()
        counts = _counts(conn, [r.id for r in rows])
    return [_info(row, counts.get(row.id, (0, 0))) for row in rows]


def _counts(conn: Connection, run_ids: list[str]) -> dict[str, tuple[int, int]]:
    if not run_ids:
        return {}
    failed = sa.func.sum(sa.case((eval_items.c.error.is_not(None), 1), else_=0))
    rows = conn.execute(
        sa.select(eval_items.c.run_id, sa.func.count(), failed)
        .where(eval_items.c.run_id.in_(run_ids))
        .group_by(eval_items.c.run_id)
    )
    return {r[0]: (int(r[1]), int(r[2] or 0)) for r in rows}


def _info(row: sa.Row, counts: tuple[int, int]) -> RunInfo:
    fields = RunInfo.model_fields
    data = {k: v for k, v in row._mapping.items() if k in fields}
    return RunInfo(**data, items_done=counts[0] - counts[1], items_failed=counts[1])
