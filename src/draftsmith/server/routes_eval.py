"""``/api/eval``: the caller's evaluation runs: start one over an inline data set, list, show, compare.

A run started here is recorded as the caller's (``store.accounts.run_owners``); runs started with the CLI belong
to nobody and are not shown. Starting answers 202 at once with the run (status ``running``); the run itself is
one job in the model's queue (so it takes its turn like any request), over at most 100 items, and a user has at
most one run going at a time. Poll ``GET /api/eval/runs/{run_id}`` for its progress and figures.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import APIRouter, Depends, Path
from starlette.concurrency import run_in_threadpool

from draftsmith.server.errors import ApiError
from draftsmith.server.routes_ops import Context
from draftsmith.server.schemas import EvalCompare, EvalComparison, EvalDifference, EvalStart, error_responses
from draftsmith.store import accounts, runs
from draftsmith.store.db import Store

log = logging.getLogger("draftsmith.server")
router = APIRouter(prefix="/api/eval", tags=["evaluation"])
RunId = Path(min_length=1, max_length=64, description="a run's id")
_RUNNING: set[str] = set()  # owners with a run going (one app per process serves them)
_RUNNING_LOCK = threading.Lock()


def _owner(ctx: Context) -> str:
    return ctx.principal.user_id or ""


def _visible(store: Store, owner: str, run_id: str) -> runs.RunInfo:
    if not accounts.owns_run(store, owner, run_id):
        raise ApiError(404, "not_found", f"no run {run_id}")
    return runs.get_run(store, run_id)


async def visible(ctx: Context, run_id: str) -> runs.RunInfo:
    return await run_in_threadpool(_visible, ctx.store, _owner(ctx), run_id)


@router.get("/runs", response_model=list[runs.RunInfo])
async def list_runs(ctx: Context = Depends()) -> Any:
    """The caller's runs, newest first."""

    def mine() -> list[runs.RunInfo]:
        return [runs.get_run(ctx.store, r) for r in accounts.owned_runs(ctx.store, _owner(ctx))[:100]]

    return await run_in_threadpool(mine)


@router.get("/runs/{run_id}", response_model=runs.RunInfo, responses=error_responses(404))
async def show_run(run_id: str = RunId, ctx: Context = Depends()) -> Any:
    """One run: its status, progress and (once done) its figures."""
    return await visible(ctx, run_id)


@router.post("/runs", response_model=runs.RunInfo, status_code=202, responses=error_responses(400, 409, 422, 429))
async def start_run(body: EvalStart, ctx: Context = Depends()) -> Any:
    """Start a run of an operation over the items in the body; answers at once (202) while it runs."""
    from draftsmith.evaluation.datasets import items_digest, parse_item
    from draftsmith.evaluation.plan import EvalConfig, plan_metrics
    from draftsmith.evaluation.runner import run_eval, template_version

    owner = _owner(ctx)
    cfg = EvalConfig(
        task=body.task,
        template=body.template,
        model=ctx.model.name,
        metrics=body.metrics,
        lang=body.lang,
        to=body.to,
        style=body.style,
        words=body.words,
        name=body.name,
    )
    items = [parse_item(data, body.task, n) for n, data in enumerate(body.items, start=1)]
    plan_metrics(cfg, items)  # unknown metrics fail now, with 400, not in the background
    template, version = template_version(cfg)
    with _RUNNING_LOCK:
        if owner in _RUNNING:
            raise ApiError(409, "run_in_progress", "you have a run going; wait for it to finish (GET /api/eval/runs)")
        _RUNNING.add(owner)
    started = False  # once the job is queued, it takes the owner off _RUNNING itself
    try:

        def create() -> str:
            run_id = runs.create_run(
                ctx.store,
                task=cfg.task,
                model=ctx.model.name,
                config=cfg.model_dump(),
                items_total=len(items),
                template=template,
                template_version=version,
                data_digest=items_digest(items),
                name=cfg.name,
            )
            accounts.own_run(ctx.store, owner, run_id)
            return run_id

        run_id = await run_in_threadpool(create)
        model, store = ctx.model, ctx.store

        def work() -> None:
            try:
                run_eval(store, model, cfg, items, resume=run_id)
            except Exception as exc:  # stored as the run's status; the log says why
                log.warning("eval run %s failed: %s", run_id, exc)
            finally:
                with _RUNNING_LOCK:
                    _RUNNING.discard(owner)

        try:
            ctx.gate.submit(work)
            started = True
        except ApiError:
            await run_in_threadpool(runs.set_status, store, run_id, "failed")
            raise
    finally:
        if not started:
            with _RUNNING_LOCK:
                _RUNNING.discard(owner)
    return await visible(ctx, run_id)


@router.post("/compare", response_model=EvalComparison, responses=error_responses(400, 404, 422))
async def compare(body: EvalCompare, ctx: Context = Depends()) -> Any:
    """Each run's change against the first, with paired-bootstrap 95% intervals, over the items they share."""
    from draftsmith.errors import InputError
    from draftsmith.evaluation.compare import comparable_metrics, paired_bootstrap

    def work() -> EvalComparison:
        infos = [_visible(ctx.store, _owner(ctx), r) for r in body.runs]
        if len({i.task for i in infos}) > 1:
            raise InputError("the runs are of different tasks; compare runs of one task")
        names = body.metrics or comparable_metrics([i.aggregates or {} for i in infos])
        names = [n for n in names if not n.startswith("errant_") or n == "errant_f05"]
        if not names:
            raise InputError("the runs share no figures to compare (are they finished?)")
        base = runs.get_items(ctx.store, infos[0].id)
        lang = (infos[0].aggregates or {}).get("lang", "en")
        differences = []
        for info in infos[1:]:
            other = runs.get_items(ctx.store, info.id)
            for d in paired_bootstrap(info.task, base, other, names, lang=lang, samples=body.samples, seed=body.seed):
                differences.append(EvalDifference(run=info.id, **d.__dict__))
        return EvalComparison(base=infos[0].id, metrics=names, differences=differences)

    return await run_in_threadpool(work)
