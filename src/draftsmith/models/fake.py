"""A deterministic model for plumbing tests and benchmarks of everything around the model.

``fake`` echoes the text of the last user message (after any ``Text:`` marker), so operations that
should preserve text can be checked for dropped or duplicated pieces. ``fake:<text>`` always answers
``<text>``. A custom ``responder`` can compute any answer from the messages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

from draftsmith.models.base import Chunk, GenParams, Message, Model, Score, Usage

Responder = Callable[[list[Message], GenParams], str]

_MARKERS = re.compile(r"(?:^|\n)(?:Text|文本|Input)[:：]\s*\n?(?:\"\"\"|```)?\n?", re.I)


def echo_responder(messages: list[Message], params: GenParams) -> str:
    text = messages[-1].content
    found = list(_MARKERS.finditer(text))
    if found:
        text = text[found[-1].end() :]
        text = re.sub(r"\n?(?:\"\"\"|```)\s*$", "", text)
    return text


class FakeModel(Model):
    def __init__(self, responder: Responder | str | None = None, *, delay_s: float = 0.0, name: str = "fake"):
        if isinstance(responder, str):
            fixed = responder
            self.responder: Responder = lambda m, p: fixed
        else:
            self.responder = responder or echo_responder
        self.delay_s = delay_s
        self.name = name
        self.calls: list[list[Message]] = []
        self._last_prompt = ""

    def stream(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]:
        self.calls.append(messages)
        text = self.responder(messages, params)
        prompt_tokens = sum(self.count_tokens(m.content) for m in messages)
        yield from self._emit(text, params, Usage(prompt_tokens=prompt_tokens))

    def stream_text(self, prompt: str, params: GenParams) -> Iterator[Chunk]:
        """Raw completion: the responder sees the prompt as one user message; a KV cache is simulated."""
        messages = [Message(role="user", content=prompt)]
        self.calls.append(messages)
        text = self.responder(messages, params)
        last, self._last_prompt = self._last_prompt, prompt
        shared = next(
            (i for i, (a, b) in enumerate(zip(last, prompt, strict=False)) if a != b), min(len(last), len(prompt))
        )
        usage = Usage(prompt_tokens=self.count_tokens(prompt), cached_tokens=self.count_tokens(prompt[:shared]) - 1)
        yield from self._emit(text, params, usage)

    def _emit(self, text: str, params: GenParams, usage: Usage) -> Iterator[Chunk]:
        pieces = re.findall(r"\s*\S+|\s+", text)
        finish = "stop"
        if len(pieces) > params.max_tokens:
            pieces, finish = pieces[: params.max_tokens], "length"
        for stop in params.stop:
            joined = "".join(pieces)
            if stop and stop in joined:
                pieces, finish = [joined[: joined.index(stop)]], "stop"
        for piece in pieces:
            if self.delay_s:
                time.sleep(self.delay_s)
            yield Chunk(text=piece)
        yield Chunk(finish_reason=finish, usage=usage.model_copy(update={"completion_tokens": len(pieces)}))

    def score(self, context: str, continuation: str) -> Score:
        # Prefers continuations that repeat words from the context: enough to test ranking plumbing.
        words = set(context.lower().split())
        cont = continuation.lower().split() or [""]
        hits = sum(w in words for w in cont)
        return Score(logprob=-float(len(cont) - hits) - 0.1 * len(cont), tokens=len(cont))
