"""``/api/<operation>``: one POST endpoint per writing operation, and the template list.

Each endpoint builds an ``Assistant`` over the app's model (so defaults match the CLI and the Python
API), runs the operation in a worker thread behind the model's queue, and answers with the
operation's typed result, or streams it as Server-Sent Events when the body says ``"stream": true``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from draftsmith.assistant import Assistant
from draftsmith.config import Settings
from draftsmith.feedback import issue
from draftsmith.feedback.personal import applied
from draftsmith.models.base import Model
from draftsmith.safety.secrets import scrub_secrets
from draftsmith.server.auth import Principal, check_budget, current_user, record_tokens, token_cap
from draftsmith.server.errors import ApiError, validation_error
from draftsmith.server.guards import Guards, texts_of
from draftsmith.server.runner import ModelGate, run_operation, stream_operation
from draftsmith.server.schemas import (
    ContinueRequest,
    CorrectRequest,
    OutlineRequest,
    RewriteRequest,
    SummarizeRequest,
    TemplateInfo,
    TitleRequest,
    TranslateRequest,
    WriteRequest,
    error_responses,
    event_stream,
)
from draftsmith.server.state import ServerConfig, get_model, get_store
from draftsmith.store.db import Store
from draftsmith.writing.base import OnText, Result
from draftsmith.writing.correct import CorrectionResult
from draftsmith.writing.summarize import OutlineResult, TitleResult

router = APIRouter(prefix="/api", tags=["operations"])

Operation = Callable[[Assistant, OnText], BaseModel]
ERRORS = error_responses(400, 401, 403, 413, 422, 429, 502, 503)
STREAMED = {
    200: {
        "description": "The result as JSON; with `stream: true`, Server-Sent Events",
        "content": event_stream(
            "token",
            "done",
            "error",
            data='JSON: {"text": delta} (token), the result (done), {"error": {"type", "message"}} (error)',
        ),
    },
    **ERRORS,
}


class Context:
    """What every operation endpoint needs: the request, the caller, the model (the dependency tests
    override), the store, and the app's settings, limits and gate."""

    def __init__(
        self,
        request: Request,
        model: Model = Depends(get_model),
        principal: Principal = Depends(current_user),
        store: Store = Depends(get_store),
    ) -> None:
        state = request.app.state
        self.request, self.model, self.principal, self.store = request, model, principal, store
        self.settings: Settings = state.settings
        self.config: ServerConfig = state.server_config
        self.gate: ModelGate = state.gate

    async def run(self, body: BaseModel, operation: Operation) -> Any:
        """Run ``operation`` for ``body``: content policy on the way in and out, PII masking, the caller's
        token budget, then the model's queue; streamed when the body says so."""
        guards = Guards(self.request, getattr(body, "redact_pii", False))
        guards.screen(texts_of(body))
        await check_budget(self.principal, self.store)
        assistant = Assistant(guards.model(self.model), settings=self.settings)
        metrics = self.request.app.state.metrics

        def work(on_text: OnText) -> BaseModel:
            with applied(self.store, self.principal.user_id):  # the caller's muted rules and words (feedback)
                result = operation(assistant, guards.watch(on_text))
            if isinstance(getattr(result, "model", None), str):
                result.model = scrub_secrets(result.model)  # type: ignore[attr-defined]
            guards.finish(getattr(result, "text", ""), result)
            source = getattr(body, "text", None)
            if isinstance(source, str):  # feedback ids for the edits or the whole text shown (one insert)
                issue.operation_result(
                    self.store, result, source, owner=self.principal.user_id, category=getattr(body, "style", None)
                )
            metrics.observe_result(result)
            usage = getattr(result, "usage", None)
            if usage is not None:
                record_tokens(self.request, self.principal, self.store, usage.total_tokens)
            return result

        if getattr(body, "stream", False):
            release = stream_slot(self.request, self.principal)
            try:
                return await stream_operation(
                    self.request, self.gate, work, OperationEvents(), ping_s=self.config.sse_ping_s, on_done=release
                )
            except BaseException:
                release()
                raise
        return await run_operation(self.request, self.gate, work)


def stream_slot(request: Request, principal: Principal) -> Callable[[], None]:
    """Take one of the caller's stream slots (429 when their key has ``max_streams_per_key`` open)."""
    return request.app.state.streams.acquire(principal.key_id or "local")


class OperationEvents:
    """SSE for operations: ``token`` events with ``{"text": delta}``, then ``done`` with the result JSON,
    or ``error`` with ``{"error": {"type", "message"}}``."""

    def start(self) -> Iterable[dict[str, Any]]:
        return ()

    def text(self, text: str) -> Iterable[dict[str, Any]]:
        yield {"event": "token", "data": json.dumps({"text": text}, ensure_ascii=False)}

    def done(self, result: BaseModel) -> Iterable[dict[str, Any]]:
        yield {"event": "done", "data": result.model_dump_json()}

    def error(self, error: ApiError) -> Iterable[dict[str, Any]]:
        yield {"event": "error", "data": json.dumps(error.body(), ensure_ascii=False)}


def check_max_tokens(value: int | None, cap: int, field: str = "max_tokens") -> None:
    if value is not None and value > cap:
        raise validation_error(
            [{"loc": ("body", field), "msg": f"must be at most {cap} on this server", "type": "less_than_equal"}]
        )


@router.post("/write", response_model=Result, responses=STREAMED)
async def write(body: WriteRequest, ctx: Context = Depends()) -> Any:
    """Draft text from an instruction or a prompt template."""
    check_max_tokens(body.max_tokens, token_cap(ctx.principal, ctx.config))
    return await ctx.run(
        body,
        lambda a, on_text: a.write(
            body.instruction,
            template=body.template,
            variables=dict(body.variables),
            length=body.length,
            style=body.style,
            lang=body.lang,
            temperature=body.temperature,
            seed=body.seed,
            max_tokens=body.max_tokens,
            on_text=on_text,
        ),
    )


@router.post("/rewrite", response_model=Result, responses={**STREAMED, **error_responses(404)})
async def rewrite(body: RewriteRequest, ctx: Context = Depends()) -> Any:
    """Rewrite a text in another style, keeping its meaning: a style by name, or one of the caller's learned
    profiles by id (used like a learned style, ``rewrite --style NAME``; another user's id answers 404)."""
    from draftsmith.style.presets import session_style

    if (body.style is None) == (body.profile_id is None):
        raise ApiError(400, "input_error", "give either style (a style name) or profile_id (one of your profiles)")
    profile = await own_profile(ctx, body.profile_id) if body.profile_id is not None else None

    def run(a: Assistant, on_text: OnText) -> Result:
        if profile is None:
            return a.rewrite(body.text, style=body.style or "", lang=body.lang, temperature=body.temperature,
                             seed=body.seed, on_text=on_text)  # fmt: skip
        with session_style(profile) as style:
            return a.rewrite(body.text, style=style, lang=body.lang, temperature=body.temperature, seed=body.seed,
                             on_text=on_text)  # fmt: skip

    return await ctx.run(body, run)


async def own_profile(ctx: Context, profile_id: str) -> Any:
    """One of the caller's learned profiles (``/api/styles/profiles``) as a StyleProfile; 404 if not theirs."""
    from starlette.concurrency import run_in_threadpool

    from draftsmith.store import accounts
    from draftsmith.style.profile import StyleProfile

    found = await run_in_threadpool(accounts.get_style_profile, ctx.store, ctx.principal.user_id or "", profile_id)
    if found is None:
        raise ApiError(404, "not_found", f"no style profile {profile_id}")
    return StyleProfile.model_validate(found.profile)


@router.post("/translate", response_model=Result, responses=STREAMED)
async def translate(body: TranslateRequest, ctx: Context = Depends()) -> Any:
    """Translate, keeping Markdown structure (headings, lists, code, links) and the glossary's terms."""
    return await ctx.run(
        body,
        lambda a, on_text: a.translate(
            body.text, to=body.to, source=body.source, glossary=dict(body.glossary), on_text=on_text
        ),
    )


@router.post("/correct", response_model=CorrectionResult, responses=ERRORS)
async def correct(body: CorrectRequest, ctx: Context = Depends()) -> Any:
    """Fix grammar, spelling and punctuation; each edit has a span, a category and a reason."""
    return await ctx.run(body, lambda a, on_text: a.correct(body.text, lang=body.lang))


@router.post("/continue", response_model=Result, responses=STREAMED)
async def continue_text(body: ContinueRequest, ctx: Context = Depends()) -> Any:
    """Continue a text in the same language and voice."""
    return await ctx.run(
        body,
        lambda a, on_text: a.continue_text(
            body.text, words=body.words, lang=body.lang, temperature=body.temperature, seed=body.seed, on_text=on_text
        ),
    )


@router.post("/summarize", response_model=Result, responses=STREAMED)
async def summarize(body: SummarizeRequest, ctx: Context = Depends()) -> Any:
    """Summarise a text (long texts are condensed piece by piece first)."""
    return await ctx.run(
        body,
        lambda a, on_text: a.summarize(
            body.text, words=body.words, lang=body.lang, temperature=body.temperature, seed=body.seed, on_text=on_text
        ),
    )


@router.post("/outline", response_model=OutlineResult, responses=ERRORS)
async def outline(body: OutlineRequest, ctx: Context = Depends()) -> Any:
    """Draft a Markdown outline from a topic and/or source text."""
    return await ctx.run(
        body,
        lambda a, on_text: a.outline(
            topic=body.topic,
            text=body.text,
            sections=body.sections,
            lang=body.lang,
            temperature=body.temperature,
            seed=body.seed,
            on_text=on_text,
        ),
    )


@router.post("/title", response_model=TitleResult, responses=ERRORS)
async def title(body: TitleRequest, ctx: Context = Depends()) -> Any:
    """Suggest headline options for a text."""
    return await ctx.run(
        body,
        lambda a, on_text: a.title(
            body.text, count=body.count, lang=body.lang, temperature=body.temperature, seed=body.seed, on_text=on_text
        ),
    )


@router.get("/templates", response_model=list[TemplateInfo], tags=["templates"])
async def templates(category: str | None = Query(None, max_length=64, description="only this category")) -> Any:
    """The available prompt templates (user templates replace built-ins of the same name)."""
    from draftsmith.prompts.registry import list_templates

    return [
        TemplateInfo(
            name=t.name,
            task=t.task,
            category=t.category,
            description=t.description,
            languages=t.languages,
            source=t.source,
            variables=t.variables,
        )
        for t in list_templates()
        if not category or t.category == category
    ]
