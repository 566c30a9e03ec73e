"""``/v1/feedback``: the caller's answers to what they were shown, and what is learned from them.

The answers of ``/api/check``, ``/api/correct``, ``/api/rewrite|translate|summarize|continue`` and
``/api/suggest/next|words`` already carry a ``suggestion_id`` per suggestion (recorded as shown to the caller); a
client showing suggestions of its own registers them with ``POST /v1/feedback/shown`` and gets one opaque id per
item. The user's answer is ``POST /v1/feedback`` with the id and ``accept``, ``reject`` or
``edited_after_accept`` (with the final text); the web editor sends it for Tab/Esc, fixes, "Ignore" and chips.
``GET /v1/feedback/stats`` gives acceptance rates with 95% Wilson intervals (and how much was shown),
``GET /v1/feedback/muted`` the rules muted and words accepted for the caller (``/api/correct`` and ``/api/check``
apply them), ``GET /v1/feedback/export`` the caller's records as JSONL, ``DELETE /v1/feedback`` deletes them all.

Everything is the caller's own: another user's suggestion id answers 404 exactly like an id that does not
exist, and nothing is recorded. Without keys (a single-user server) the caller is the local user.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from draftsmith.feedback.personal import Personal, personal
from draftsmith.feedback.rates import DIMENSIONS, Rate, parse_by, rates
from draftsmith.server.auth import Principal, current_user
from draftsmith.server.errors import ApiError
from draftsmith.server.schemas import error_responses
from draftsmith.server.state import get_store
from draftsmith.store import feedback as fb
from draftsmith.store.db import Store

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])
SuggestionId = Path(min_length=1, max_length=64, description="the suggestion's id (from POST /v1/feedback/shown)")
MAX_ITEMS = 500
TEXT = 100_000  # per field; the store keeps a bounded window of it


class ShownItem(BaseModel):
    """One thing shown to the user. ``context[start:end]`` is what the suggestion replaces (omit ``context`` for a
    whole-text suggestion: then ``original`` is the whole text)."""

    operation: str = Field(min_length=1, max_length=32, examples=["correct"])
    context: str = Field("", max_length=TEXT)
    start: int | None = Field(None, ge=0)
    end: int | None = Field(None, ge=0)
    original: str = Field("", max_length=TEXT)
    suggestion: str = Field("", max_length=TEXT)
    template: str | None = Field(None, max_length=100)
    template_version: str | None = Field(None, max_length=64)
    model: str | None = Field(None, max_length=200)
    category: str | None = Field(None, max_length=32)
    rule_id: str | None = Field(None, max_length=64)
    language: str | None = Field(None, max_length=16)


class ShownRequest(BaseModel):
    items: list[ShownItem] = Field(min_length=1, max_length=MAX_ITEMS)


class ShownIds(BaseModel):
    ids: list[str]


class FeedbackEvent(BaseModel):
    suggestion_id: str = Field(min_length=1, max_length=64)
    event: Literal["accept", "reject", "edited_after_accept"]
    final_text: str | None = Field(None, max_length=fb.MAX_FINAL, description="for edited_after_accept")


class SuggestionDetail(BaseModel):
    suggestion: fb.Suggestion
    events: list[fb.Event]


class Purged(BaseModel):
    deleted: int


class Feedback:
    """The caller's view of the feedback store."""

    def __init__(self, principal: Principal = Depends(current_user), store: Store = Depends(get_store)) -> None:
        self.store = store
        self.owner = principal.user_id


def _not_found(suggestion_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no suggestion {suggestion_id}")


@router.post("/shown", response_model=ShownIds, status_code=201, responses=error_responses(413, 422))
def register_shown(body: ShownRequest, f: Feedback = Depends()) -> Any:
    """Register what is shown to the caller; one id per item, in order, to answer with ``POST /v1/feedback``."""
    items = [fb.Shown(**item.model_dump()) for item in body.items]
    return ShownIds(ids=fb.add_suggestions(f.store, items, owner=f.owner))


@router.post("", response_model=fb.Event, status_code=201, responses=error_responses(404, 422))
def record(body: FeedbackEvent, f: Feedback = Depends()) -> Any:
    """Record the caller's answer to one of their suggestions (404, and nothing recorded, for any other id)."""
    if body.event == "edited_after_accept" and body.final_text is None:
        raise ApiError(422, "validation_error", "edited_after_accept needs final_text: the text the user kept")
    try:
        return fb.record_event(f.store, body.suggestion_id, body.event, owner=f.owner, final_text=body.final_text)
    except fb.SuggestionNotFound:
        raise _not_found(body.suggestion_id) from None


@router.get("", response_model=list[fb.Suggestion])
def recent(limit: int = Query(50, ge=1, le=1000), f: Feedback = Depends()) -> Any:
    """The caller's latest suggestions, newest first, with their answers."""
    return fb.recent(f.store, owner=f.owner, limit=limit)


@router.get("/stats", response_model=list[Rate], responses=error_responses(400))
def stats(
    by: str = Query("operation", max_length=200, description=f"comma-separated: {', '.join(DIMENSIONS)}"),
    f: Feedback = Depends(),
) -> Any:
    """Acceptance rates of the caller's answered suggestions, with 95% Wilson intervals, and how many of each
    group were shown (``shown``; ``of_shown`` = accepted ÷ shown)."""
    names = parse_by(by)
    return rates(fb.answered(f.store, owner=f.owner), names, fb.shown_counts(f.store, owner=f.owner, by=names))


@router.get("/muted", response_model=Personal)
def muted(f: Feedback = Depends()) -> Any:
    """Rules muted and words accepted for the caller, learned from their answers."""
    return personal(f.store, f.owner)


@router.get(
    "/export",
    response_class=Response,
    responses={200: {"description": "JSON Lines", "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
)
def export(f: Feedback = Depends()) -> Response:
    """The caller's answered suggestions, one JSON object per line."""
    lines = (s.model_dump_json() + "\n" for s in fb.answered(f.store, owner=f.owner))
    return Response("".join(lines), media_type="application/x-ndjson")


@router.delete("", response_model=Purged)
def purge(f: Feedback = Depends()) -> Any:
    """Delete all the caller's suggestions and answers (their muted rules and words go with them)."""
    return Purged(deleted=fb.purge(f.store, owner=f.owner))


@router.get("/{suggestion_id}", response_model=SuggestionDetail, responses=error_responses(404))
def get_one(suggestion_id: str = SuggestionId, f: Feedback = Depends()) -> Any:
    """One of the caller's suggestions with every answer to it."""
    try:
        suggestion, events = fb.get_suggestion(f.store, suggestion_id, owner=f.owner)
    except fb.SuggestionNotFound:
        raise _not_found(suggestion_id) from None
    return SuggestionDetail(suggestion=suggestion, events=events)
