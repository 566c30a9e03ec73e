"""The one interface every model backend implements.

A backend streams text for chat messages, can constrain output to a JSON schema, and can score a
continuation by log-probability. ``complete`` and ``json`` are built on ``stream`` here, so a new
backend implements ``stream`` and ``score`` (and may override the others when it can do better).
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from draftsmith.errors import ModelError


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class GenParams(BaseModel):
    """Sampling settings. ``json_schema`` asks for output that validates against the schema."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    top_k: int = Field(40, ge=0)
    repeat_penalty: float = Field(1.05, ge=0.0)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = None
    json_schema: dict[str, Any] | None = None
    # Prompt-lookup speculative decoding: drafts tokens by matching the prompt; pays off when the
    # output mostly copies the input (correction, light edits). Same output at temperature 0.
    speculative: bool = False


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Prompt tokens whose KV state was reused from the previous call instead of evaluated (raw completion).
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Timings(BaseModel):
    first_token_s: float | None = None
    total_s: float = 0.0
    tokens_per_s: float | None = None


class Chunk(BaseModel):
    """A piece of streamed text. The last chunk of a stream carries ``finish_reason`` and ``usage``."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


class Completion(BaseModel):
    text: str
    model: str
    finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    timings: Timings = Field(default_factory=Timings)


class Score(BaseModel):
    """Log-probability of a continuation given a context (natural log, summed over its tokens)."""

    logprob: float
    tokens: int

    @property
    def mean_logprob(self) -> float:
        return self.logprob / max(self.tokens, 1)


class Model(ABC):
    """A language model behind draftsmith's operations."""

    name: str = "model"

    @abstractmethod
    def stream(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]:
        """Yield text chunks as they are generated; the last one has finish_reason and usage."""

    @abstractmethod
    def score(self, context: str, continuation: str) -> Score:
        """Log-probability of ``continuation`` right after ``context`` (raw text, no chat template)."""

    def stream_text(self, prompt: str, params: GenParams) -> Iterator[Chunk]:
        """Continue ``prompt`` as raw text (no chat template), e.g. a document up to the cursor.

        Backends that keep a KV cache reuse the longest common token prefix with the previous call, so
        a prompt that grows by a few characters costs only the new tokens (``usage.cached_tokens``).
        """
        raise ModelError(f"model {self.name} ({type(self).__name__}) cannot complete raw text; use a GGUF model")

    def count_tokens(self, text: str) -> int:
        """Token count; backends with a tokenizer override this rough estimate."""
        cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff")
        return cjk + (len(text) - cjk) // 4 + 1

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "backend": type(self).__name__}

    def complete(self, messages: list[Message], params: GenParams) -> Completion:
        return collect(self.name, self.stream(messages, params))

    def json(self, messages: list[Message], schema: dict[str, Any], params: GenParams) -> Any:
        """Generate output constrained to ``schema`` and parse it."""
        params = params.model_copy(update={"json_schema": schema})
        text = self.complete(messages, params).text
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"model {self.name} returned malformed JSON ({exc.msg} at char {exc.pos})") from None


def collect(model_name: str, chunks: Iterator[Chunk]) -> Completion:
    """Drain a stream into a Completion, timing the first token and the decode rate."""
    start = time.perf_counter()
    first: float | None = None
    parts: list[str] = []
    last = Chunk()
    for chunk in chunks:
        if chunk.text:
            if first is None:
                first = time.perf_counter() - start
            parts.append(chunk.text)
        last = chunk
    total = time.perf_counter() - start
    usage = last.usage or Usage()
    decode_time = total - (first or 0.0)
    rate = (usage.completion_tokens - 1) / decode_time if usage.completion_tokens > 1 and decode_time > 0 else None
    return Completion(
        text="".join(parts),
        model=model_name,
        finish_reason=last.finish_reason,
        usage=usage,
        timings=Timings(first_token_s=first, total_s=total, tokens_per_s=rate),
    )
