"""What one app holds (settings, server limits, the model, the store, the gate) and the dependencies that
hand them out.

The model opens once per app, in a background thread at startup, so ``/healthz`` answers while a large
model loads and ``/readyz`` says when it is ready. Routes get it through ``get_model``; tests replace that
dependency (``app.dependency_overrides[get_model] = lambda: FakeModel()``) or pass ``model=`` to ``create_app``.
The store (documents, users, keys, limits) opens on first use and is handed out by ``get_store``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from draftsmith.config import Settings
from draftsmith.errors import DraftsmithError, ModelError
from draftsmith.models.base import Model
from draftsmith.models.loader import load_model
from draftsmith.server.errors import ApiError
from draftsmith.store.db import Store, default_url

log = logging.getLogger("draftsmith.server")
RELOAD_AFTER_S = 10.0  # a model that failed to open is tried again after this long


class ServerConfig(BaseModel):
    """Limits of the HTTP server (the model and operations are configured by ``Settings``)."""

    model_config = ConfigDict(extra="forbid")

    concurrency: int = Field(1, ge=1, le=64, description="operations running on the model at once")
    queue_size: int = Field(8, ge=0, le=10_000, description="requests waiting for the model; more are refused (429)")
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="largest request body accepted (413 above)")
    max_header_bytes: int = Field(
        32 * 1024, ge=1024, description="largest total size of a request's headers (431 above)"
    )
    max_tokens_cap: int = Field(8192, ge=1, description="largest max_tokens a request may ask for (422 above)")
    max_streams_per_key: int = Field(
        4, ge=0, description="event streams one key may have open or queued at once (429 above; 0: no limit)"
    )
    sse_ping_s: float = Field(15.0, ge=0, description="keep-alive comment interval on event streams (0: off)")
    auth_required: bool | None = Field(
        None,
        description="API keys on /api and /v1: true always, false never, unset (auto) once any user exists. "
        "`serve` sets true on a non-loopback host",
    )
    public_metrics: bool = Field(False, description="serve /metrics without a key (otherwise: admin keys only)")
    requests_per_minute: int = Field(60, ge=0, description="per-key request rate when a user has none (0: no limit)")
    tokens_per_day: int = Field(0, ge=0, description="per-user daily token budget when a user has none (0: none)")
    redact_pii: bool | None = Field(
        None,
        description="mask personal data before the model sees it, for every request "
        "(unset: the redact_pii setting; auto = on for an openai: endpoint off this machine)",
    )
    redact_names: bool = Field(
        True,
        description="where personal data is masked, names of people too (spaCy NER for English, jieba for "
        "Chinese): slower, and it can mask a word that is not a name",
    )
    content_filter: Literal["off", "block", "warn"] = Field(
        "off", description="content policy on requests and outputs: off, block (400/422) or warn (a result warning)"
    )
    content_policy: str | None = Field(None, description="a policy YAML file (default: the built-in policy)")
    max_document_chars: int = Field(500_000, ge=1, description="largest document text accepted (413 above)")


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


class StoreSlot:
    """The app's store: given, or opened (and migrated) on first use from ``settings.database_url``."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store
        self.owned = store is None
        self._lock = threading.Lock()

    def get(self) -> Store:
        if self.store is None:
            with self._lock:
                if self.store is None:
                    try:
                        self.store = Store(self.settings.database_url or default_url())
                    except DraftsmithError as exc:
                        log.error("the store could not be opened: %s", exc)
                        raise ApiError(
                            503, "store_unavailable", "the server's database cannot be opened; see the server log"
                        ) from None
        return self.store

    def close(self) -> None:
        if self.owned and self.store is not None:
            self.store.close()
            self.store = None


async def get_store(request: Request) -> Store:
    """The store documents, accounts and limits live in (override this dependency in tests)."""
    slot: StoreSlot = request.app.state.store_slot
    if slot.store is not None:
        return slot.store
    return await run_in_threadpool(slot.get)  # opening runs the migrations: not on the event loop
