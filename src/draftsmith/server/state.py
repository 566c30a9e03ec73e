"""What one app holds (settings, server limits, the model, the gate) and the dependencies that hand it out.

The model opens once per app, in a background thread at startup, so ``/healthz`` answers while a large
model loads and ``/readyz`` says when it is ready. Routes get it through ``get_model``; tests replace that
dependency (``app.dependency_overrides[get_model] = lambda: FakeModel()``) or pass ``model=`` to ``create_app``.
"""

from __future__ import annotations

import logging
import threading
import time

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from draftsmith.config import Settings
from draftsmith.errors import DraftsmithError, ModelError
from draftsmith.models.base import Model
from draftsmith.models.loader import load_model
from draftsmith.server.errors import ApiError

log = logging.getLogger("draftsmith.server")
RELOAD_AFTER_S = 10.0  # a model that failed to open is tried again after this long


class ServerConfig(BaseModel):
    """Limits of the HTTP server (the model and operations are configured by ``Settings``)."""

    model_config = ConfigDict(extra="forbid")

    concurrency: int = Field(1, ge=1, le=64, description="operations running on the model at once")
    queue_size: int = Field(8, ge=0, le=10_000, description="requests waiting for the model; more are refused (429)")
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="largest request body accepted (413 above)")
    max_tokens_cap: int = Field(8192, ge=1, description="largest max_tokens a request may ask for (422 above)")
    sse_ping_s: float = Field(15.0, ge=0, description="keep-alive comment interval on event streams (0: off)")


class ModelSlot:
    """The app's one model: given, or opened from ``settings.model`` in a background thread."""

    def __init__(self, settings: Settings, model: Model | None = None) -> None:
        self.settings = settings
        self.model = model
        self.error: DraftsmithError | None = None
        self._failed_at = 0.0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.model.name if self.model is not None else self.settings.model

    @property
    def loading(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Begin opening the model unless it is open, opening, or failed only moments ago."""
        with self._lock:
            if self.model is not None or self.loading:
                return
            if self.error is not None and time.monotonic() - self._failed_at < RELOAD_AFTER_S:
                return
            self._thread = threading.Thread(target=self._load, name="draftsmith-model-load", daemon=True)
            self._thread.start()

    def get(self) -> Model:
        """The open model, or a 503 saying it is loading or why it could not be opened."""
        if self.model is not None:
            return self.model
        self.start()
        if self.model is not None:
            return self.model
        if self.error is not None and not self.loading:
            raise ApiError(
                503, "model_unavailable", f"the model could not be opened: {self.error}", {"Retry-After": "10"}
            )
        raise ApiError(
            503, "model_loading", f"the model {self.name} is still loading; retry shortly", {"Retry-After": "2"}
        )

    def _load(self) -> None:
        start = time.perf_counter()
        try:
            model = load_model(None, self.settings)
        except DraftsmithError as exc:
            self.error, self._failed_at = exc, time.monotonic()
            log.error("model %s could not be opened: %s", self.settings.model, exc)
            return
        except Exception as exc:
            self.error, self._failed_at = ModelError(f"{type(exc).__name__}: {exc}"), time.monotonic()
            log.error("model %s could not be opened", self.settings.model, exc_info=exc)
            return
        self.model, self.error = model, None
        log.info("model %s ready in %.1f s", model.name, time.perf_counter() - start)


async def get_model(request: Request) -> Model:
    """The model every operation runs on (override this dependency in tests)."""
    slot: ModelSlot = request.app.state.model_slot
    return slot.get()
