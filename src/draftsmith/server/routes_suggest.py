"""``/api/suggest``: autocomplete at the cursor (``next``), stopping it (``cancel``), and word alternatives.

Autocomplete keeps an ``AutocompleteSession`` per (user, editor session), so consecutive keystrokes reuse the
model's cache and shift shown suggestions instead of regenerating them. A new keystroke cancels the one before
it: a request still waiting in the model's queue returns at once marked ``cancelled``, one generating stops at
its next token. Closing the connection stops it too. Sessions are bounded per user and in all (least recently
used go first); a user can only reach their own sessions, since the key includes the user.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI

from draftsmith.feedback import issue
from draftsmith.models.base import Chunk, GenParams, Model
from draftsmith.server.auth import Principal, check_budget, record_tokens
from draftsmith.server.guards import Guards
from draftsmith.server.routes_ops import Context
from draftsmith.server.runner import run_operation
from draftsmith.server.schemas import (
    SuggestCancelled,
    SuggestCancelRequest,
    SuggestNextRequest,
    SuggestWordsRequest,
    error_responses,
)
from draftsmith.suggest.autocomplete import AutocompleteSession, SuggestResult
from draftsmith.suggest.words import WordsResult

router = APIRouter(prefix="/api/suggest", tags=["suggestions"])
ERRORS = error_responses(400, 401, 403, 413, 422, 429, 502, 503)
SESSIONS_PER_USER = 16
SESSIONS_TOTAL = 1024


class _Stoppable(Model):
    """The served model, checking before each token whether the request it works for was dropped."""

    def __init__(self, model: Model) -> None:
        self.inner = model
        self.check: Callable[[], None] = lambda: None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.inner.name

    def stream(self, messages: Any, params: GenParams) -> Iterator[Chunk]:
        return self._checked(self.inner.stream(messages, params))

    def stream_text(self, prompt: str, params: GenParams) -> Iterator[Chunk]:
        return self._checked(self.inner.stream_text(prompt, params))

    def score(self, context: str, continuation: str) -> Any:
        return self.inner.score(context, continuation)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def _checked(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        try:
            for chunk in chunks:
                self.check()
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()


class _Session:
    def __init__(self, model: Model, body: SuggestNextRequest, anonymous: bool) -> None:
        from draftsmith.suggest.profile import load_profile

        self.model = _Stoppable(model)
        self.options = (body.n, body.max_tokens, body.lang, model)
        profile = load_profile() if anonymous else None  # the data folder's profile is the local user's
        self.auto = AutocompleteSession(
            self.model, n=body.n, max_tokens=body.max_tokens, lang=body.lang, profile=profile
        )
        self.latest = 0  # the newest request's number; older ones give up
        self.used = time.monotonic()


class Sessions:
    """The autocomplete sessions of one app, by (user, session id)."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, str], _Session] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, owner: str, body: SuggestNextRequest, model: Model, anonymous: bool) -> tuple[_Session, int]:
        """The session (created, or replaced when the options changed) and this request's number in it."""
        key = (owner, body.session)
        with self._lock:
            session = self._items.get(key)
            if session is None or session.options != (body.n, body.max_tokens, body.lang, model):
                if session is not None:
                    session.auto.cancel()
                session = self._items[key] = _Session(model, body, anonymous)
                self._evict(owner)
            self._items.move_to_end(key)
            session.used = time.monotonic()
            session.latest += 1
            return session, session.latest

    def cancel(self, owner: str, session_id: str) -> bool:
        with self._lock:
            session = self._items.get((owner, session_id))
            if session is None:
                return False
            session.latest += 1
        session.auto.cancel()
        return True

    def _evict(self, owner: str) -> None:
        mine = [k for k in self._items if k[0] == owner]
        for key in mine[: max(len(mine) - SESSIONS_PER_USER, 0)]:
            self._items.pop(key).auto.cancel()
        while len(self._items) > SESSIONS_TOTAL:
            self._items.popitem(last=False)[1].auto.cancel()


_REGISTRY_LOCK = threading.Lock()


def sessions_of(app: FastAPI) -> Sessions:
    with _REGISTRY_LOCK:
        found = getattr(app.state, "suggest_sessions", None)
        if found is None:
            found = app.state.suggest_sessions = Sessions()
        return found


def _owner(principal: Principal) -> str:
    return principal.user_id or ""


@router.post("/next", response_model=SuggestResult, responses=ERRORS)
async def suggest_next(body: SuggestNextRequest, ctx: Context = Depends()) -> Any:
    """Suggestions to insert at the cursor, for one keystroke of an editor session. A newer request of the same
    session (or ``/cancel``) stops this one: its answer is then marked ``cancelled``."""
    guards = Guards(ctx.request)
    guards.screen([body.text[-4000:]])
    await check_budget(ctx.principal, ctx.store)
    session, number = sessions_of(ctx.request.app).open(
        _owner(ctx.principal), body, guards.model(ctx.model), ctx.principal.anonymous
    )
    session.auto.cancel()  # the keystroke before this one stops generating now, not when we get the model

    def work(on_text: Callable[[str], None]) -> SuggestResult:
        if session.latest != number:  # a newer keystroke arrived while this one waited in the queue
            return SuggestResult(
                cursor=body.cursor or len(body.text), language=body.lang or "", model="", cancelled=True
            )

        def check() -> None:
            on_text("")  # raises when the client has gone
            if session.latest != number:
                session.auto.cancel()

        session.model.check = check
        result = session.auto.feed(body.text, body.cursor)
        guards.finish(" ".join(s.text for s in result.suggestions))
        record_tokens(ctx.request, ctx.principal, ctx.store, result.usage.total_tokens)
        issue.completions(ctx.store, body.text, result, owner=ctx.principal.user_id)  # ids for Tab / Esc
        return result

    return await run_operation(ctx.request, ctx.gate, work)


@router.post("/cancel", response_model=SuggestCancelled, responses=error_responses(401, 403, 422, 429))
async def suggest_cancel(body: SuggestCancelRequest, ctx: Context = Depends()) -> Any:
    """Stop the session's suggestion in flight (the editor calls this on Esc or when the document closes)."""
    found = sessions_of(ctx.request.app).cancel(_owner(ctx.principal), body.session)
    return SuggestCancelled(session=body.session, cancelled=found)


@router.post("/words", response_model=WordsResult, responses=ERRORS)
async def suggest_words(body: SuggestWordsRequest, ctx: Context = Depends()) -> Any:
    """Alternatives for a word or phrase in its sentence: synonym lists ranked by the model in context."""
    from draftsmith.suggest.words import suggest_words as find

    guards = Guards(ctx.request)
    guards.screen([body.phrase, body.context or ""])
    await check_budget(ctx.principal, ctx.store)
    model = guards.model(ctx.model)

    def work(on_text: Callable[[str], None]) -> WordsResult:
        result = find(model, body.phrase, body.context, lang=body.lang, n=body.n, use_llm=body.use_llm)
        issue.alternatives(ctx.store, result, owner=ctx.principal.user_id)
        return result

    return await run_operation(ctx.request, ctx.gate, work)
