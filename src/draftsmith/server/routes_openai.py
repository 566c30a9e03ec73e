"""OpenAI-compatible ``/v1/models`` and ``/v1/chat/completions``, so OpenAI SDKs, editors and
``draftsmith --model openai:http://HOST:PORT/v1`` can use the served model.

Streams follow OpenAI's chunk format (``data: {chat.completion.chunk}`` lines ending with
``data: [DONE]``); ``stream_options.include_usage`` adds a usage chunk. Sampling values are validated
(422 on temperature outside 0–2, top_p outside (0, 1], max_tokens < 1 or above the server's cap, n ≠ 1).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request

from draftsmith.config import Settings
from draftsmith.models.base import Chunk, Completion, GenParams, Message, Model, collect
from draftsmith.safety.secrets import scrub_secrets
from draftsmith.server.auth import Principal, check_budget, current_user, record_tokens, token_cap
from draftsmith.server.errors import ApiError
from draftsmith.server.guards import Guards
from draftsmith.server.routes_ops import check_max_tokens, stream_slot
from draftsmith.server.runner import ModelGate, run_operation, stream_operation
from draftsmith.server.schemas import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessageOut,
    ChatUsage,
    ModelCard,
    ModelList,
    error_responses,
    event_stream,
)
from draftsmith.server.state import ServerConfig, get_model, get_store
from draftsmith.store.db import Store

router = APIRouter(prefix="/v1", tags=["openai"])
PROMPT_OVERHEAD = 4  # tokens per message added by chat templates, roughly


@router.get("/models", response_model=ModelList)
async def models(request: Request) -> Any:
    """The one model this server serves (listed before it has finished loading)."""
    started = int(request.app.state.started_at)
    return ModelList(data=[ModelCard(id=scrub_secrets(request.app.state.model_slot.name), created=started)])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {
            "description": "A chat completion; with `stream: true`, Server-Sent Events of chunks ending in [DONE]",
            "content": event_stream(
                "message", data="a chat.completion.chunk as JSON, or an error object as JSON; then [DONE]"
            ),
        },
        **error_responses(400, 401, 403, 413, 422, 429, 502, 503),
    },
)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    served: Model = Depends(get_model),
    principal: Principal = Depends(current_user),
    store: Store = Depends(get_store),
) -> Any:
    """Chat with the served model, as OpenAI's chat completions API does."""
    settings: Settings = request.app.state.settings
    config: ServerConfig = request.app.state.server_config
    gate: ModelGate = request.app.state.gate
    cap = token_cap(principal, config)
    check_max_tokens(body.max_tokens, cap)
    check_max_tokens(body.max_completion_tokens, cap, "max_completion_tokens")
    messages = [Message(role="system" if m.role == "developer" else m.role, content=m.text()) for m in body.messages]
    base = _params(body, settings)
    requested = body.max_completion_tokens or body.max_tokens
    guards = Guards(request, body.redact_pii)
    guards.screen(m.content for m in messages)
    await check_budget(principal, store)
    model = guards.model(served)

    def work(on_text: Any) -> Completion:
        params = base.model_copy(update={"max_tokens": requested or min(cap, _room(model, messages, settings, config))})
        completion = collect(model.name, _forwarding(model.stream(messages, params), guards.watch(on_text)))
        guards.finish(completion.text)
        record_tokens(request, principal, store, completion.usage.total_tokens)
        return completion

    ident = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    name = scrub_secrets(model.name)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        events = ChunkEvents(ident, created, name, include_usage)
        release = stream_slot(request, principal)
        try:
            return await stream_operation(request, gate, work, events, ping_s=config.sse_ping_s, on_done=release)
        except BaseException:
            release()
            raise
    completion: Completion = await run_operation(request, gate, work)
    usage = completion.usage
    return ChatCompletion(
        id=ident,
        created=created,
        model=name,
        choices=[ChatChoice(message=ChatMessageOut(content=completion.text), finish_reason=completion.finish_reason)],
        usage=ChatUsage(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        ),
    )


def _params(body: ChatCompletionRequest, settings: Settings) -> GenParams:
    values: dict[str, Any] = {
        "temperature": body.temperature if body.temperature is not None else settings.temperature,
        "stop": [body.stop] if isinstance(body.stop, str) else list(body.stop or []),
        "seed": body.seed,
    }
    for name in ("top_p", "top_k", "repeat_penalty"):
        if getattr(body, name) is not None:
            values[name] = getattr(body, name)
    fmt = body.response_format
    if fmt is not None and fmt.type == "json_object":
        values["json_schema"] = {"type": "object"}
    elif fmt is not None and fmt.type == "json_schema":
        if fmt.json_schema is None:
            raise ApiError(422, "validation_error", "response_format.json_schema is required for type json_schema")
        values["json_schema"] = fmt.json_schema.schema_
    return GenParams(**values)


def _room(model: Model, messages: list[Message], settings: Settings, config: ServerConfig) -> int:
    """Default max_tokens: what is left of the context window, within the server's cap."""
    prompt = sum(model.count_tokens(m.content) + PROMPT_OVERHEAD for m in messages)
    return max(min(config.max_tokens_cap, settings.n_ctx - prompt - 16), 1)


def _forwarding(chunks: Iterator[Chunk], on_text: Any) -> Iterator[Chunk]:
    """Pass each chunk's text to ``on_text`` (which raises once the client is gone), then close the stream."""
    try:
        for chunk in chunks:
            if chunk.text:
                on_text(chunk.text)
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class ChunkEvents:
    """OpenAI's streaming format: a role chunk, content chunks, a finish chunk, optional usage, [DONE]."""

    def __init__(self, ident: str, created: int, model: str, include_usage: bool) -> None:
        self.head = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model}
        self.include_usage = include_usage

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {"data": json.dumps({**self.head, "choices": [choice], **extra}, ensure_ascii=False)}

    def start(self) -> Iterable[dict[str, Any]]:
        yield self._chunk({"role": "assistant", "content": ""})

    def text(self, text: str) -> Iterable[dict[str, Any]]:
        yield self._chunk({"content": text})

    def done(self, completion: Completion) -> Iterable[dict[str, Any]]:
        yield self._chunk({}, completion.finish_reason or "stop")
        if self.include_usage:
            usage = completion.usage
            totals = {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            }
            yield {"data": json.dumps({**self.head, "choices": [], "usage": totals})}
        yield {"data": "[DONE]"}

    def error(self, error: ApiError) -> Iterable[dict[str, Any]]:
        yield {"data": json.dumps(error.body(), ensure_ascii=False)}
