"""Privacy and safety around one request's model calls: PII masking and the content policy.

``Guards`` is made per request. ``model()`` wraps the served model in a ``RedactingModel`` when the server
or the request asks for ``redact_pii`` (the server's setting is a floor: a request can turn masking on,
never off); names of people are masked with the rest unless the server's ``redact_names`` is off.
``screen()`` checks the request's texts and ``watch()``/``finish()`` the output against the content policy:
in ``block`` mode a request is refused with 400 and an output stopped with 422 (an error event once
streaming has begun), in ``warn`` mode the result carries a warning. Logs name the category, never the text.

``StreamLimit`` caps the event streams one key has open or queued at once (``max_streams_per_key``), so one
key cannot hold the model's whole queue with streams it never reads.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import Request
from pydantic import BaseModel

from draftsmith.models.base import Model
from draftsmith.safety.content import ContentPolicy, OutputWatch, Verdict
from draftsmith.safety.pii import RedactingModel, Redactor
from draftsmith.server.errors import ApiError
from draftsmith.server.state import ServerConfig
from draftsmith.writing.base import OnText

log = logging.getLogger("draftsmith.server")


def texts_of(value: Any) -> Iterable[str]:
    """Every string inside a request body (field values, list items, dict values)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, BaseModel):
        yield from texts_of(value.model_dump())
    elif isinstance(value, dict):
        for item in value.values():
            yield from texts_of(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from texts_of(item)


class Guards:
    def __init__(self, request: Request, redact_pii: bool = False) -> None:
        config: ServerConfig = request.app.state.server_config
        self.redact = config.redact_pii or redact_pii
        self.redact_names = config.redact_names
        self.mode = config.content_filter
        self.policy: ContentPolicy | None = request.app.state.content_policy if self.mode != "off" else None
        self.warnings: list[str] = []
        self._output_flagged = False

    def model(self, model: Model) -> Model:
        return RedactingModel(model, Redactor(names=self.redact_names)) if self.redact else model

    def screen(self, texts: Iterable[str]) -> None:
        """Check the request's texts before any model work."""
        if self.policy is None:
            return
        verdict = self.policy.check_all(list(texts))
        if not verdict.allowed:
            self._flag(verdict, "request", 400)

    def watch(self, on_text: OnText) -> OnText:
        """``on_text`` that checks the output as it streams (and stops the model on a block)."""
        if self.policy is None:
            return on_text
        watcher = OutputWatch(self.policy)

        def checked(text: str) -> None:
            if not self._output_flagged:
                verdict = watcher.feed(text)
                if not verdict.allowed:
                    self._output_flagged = True
                    self._flag(verdict, "output", 422)
            on_text(text)

        return checked

    def finish(self, text: str, result: Any = None) -> None:
        """Check the whole output (operations that do not stream are checked only here); add warnings."""
        if self.policy is not None and not self._output_flagged:
            verdict = self.policy.check(text)
            if not verdict.allowed:
                self._output_flagged = True
                self._flag(verdict, "output", 422)
        warnings = getattr(result, "warnings", None)
        if isinstance(warnings, list):
            warnings.extend(w for w in self.warnings if w not in warnings)

    def _flag(self, verdict: Verdict, where: str, status: int) -> None:
        log.warning("content policy: %s matched category %s (%s)", where, verdict.category, self.mode)
        if self.mode == "block":
            what = "the request was refused" if where == "request" else "the output was stopped"
            raise ApiError(
                status,
                "content_policy",
                f"{what} by the content policy: {verdict.description} ({verdict.category})",
                details=[{"category": verdict.category, "where": where}],
            )
        self.warnings.append(f"content policy: the {where} matched {verdict.category} ({verdict.description})")


class StreamLimit:
    """Event streams per key: ``acquire`` takes a slot (429 when the key has ``limit`` already) and returns
    the function that gives it back; calling that more than once is harmless."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def open(self, key: str) -> int:
        return self._open[key]

    def acquire(self, key: str) -> Callable[[], None]:
        with self._lock:
            if self.limit and self._open[key] >= self.limit:
                raise ApiError(
                    429,
                    "too_many_streams",
                    f"this key already has {self._open[key]} streams open or queued (the limit is {self.limit}); "
                    "close one, or retry when one ends",
                    {"Retry-After": "1"},
                )
            self._open[key] += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                self._open[key] -= 1
                if self._open[key] <= 0:
                    del self._open[key]

        return release
