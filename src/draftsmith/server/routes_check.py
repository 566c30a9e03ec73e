"""``/api/check`` and ``/api/readability``: the detectors and the readability figures, no model needed.

Both run in a worker thread (they are CPU work, not model work), so they do not wait in the model's queue.
Problems have character offsets into the text sent, a rule id, a message and suggestions, as
``draftsmith check --json`` prints them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from draftsmith.checking.readability import Readability
from draftsmith.server.auth import Principal, current_user
from draftsmith.server.schemas import CheckRequest, CheckResponse, ReadabilityRequest, error_responses
from draftsmith.server.state import get_store
from draftsmith.store.db import Store

router = APIRouter(prefix="/api", tags=["checking"])
ERRORS = error_responses(400, 401, 403, 413, 422, 429)


@router.post("/check", response_model=CheckResponse, responses=ERRORS)
async def check(
    body: CheckRequest, principal: Principal = Depends(current_user), store: Store = Depends(get_store)
) -> Any:
    """Grammar, spelling and style problems (English and Chinese detectors), without rewriting anything. The
    caller's muted rules and accepted words (from their feedback) are left out; each problem has a
    ``suggestion_id`` to answer with ``POST /v1/feedback`` (the same id while it stays unanswered and unchanged)."""

    def work() -> list:
        from draftsmith.checking.check import check_text
        from draftsmith.feedback import issue
        from draftsmith.feedback.personal import applied

        with applied(store, principal.user_id):
            problems = check_text(body.text, body.lang, disabled=body.disabled)
        issue.problems(store, body.text, problems, owner=principal.user_id)
        return problems

    problems = await run_in_threadpool(work)
    return CheckResponse(problems=[p.model_dump() for p in problems])


@router.post("/readability", response_model=Readability, responses=ERRORS)
async def readability(body: ReadabilityRequest) -> Any:
    """Readability figures: sentence lengths, Flesch scores and passives (English), idioms (Chinese)."""
    from draftsmith.checking.readability import readability as measure

    return await run_in_threadpool(measure, body.text, body.lang)
