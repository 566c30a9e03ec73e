"""The FastAPI app: operations under ``/api``, documents under ``/api/documents``, OpenAI-compatible routes
under ``/v1``, health probes, metrics, OpenAPI docs at ``/docs``. ``create_app`` builds one app with its own
model, store, queue and limits."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import Response

from draftsmith import __version__
from draftsmith.config import Settings, load_settings
from draftsmith.models.base import Model
from draftsmith.models.loader import redacts
from draftsmith.safety.content import load_policy
from draftsmith.safety.names import warm_up as warm_up_names
from draftsmith.safety.secrets import remember, scrub_secrets, url_password
from draftsmith.server import (
    routes_check,
    routes_documents,
    routes_eval,
    routes_feedback,
    routes_kb,
    routes_kg,
    routes_openai,
    routes_ops,
    routes_style,
    routes_suggest,
    routes_web,
)
from draftsmith.server.auth import current_user, metrics_access
from draftsmith.server.errors import BodyLimit, install_error_handlers
from draftsmith.server.guards import StreamLimit
from draftsmith.server.logs import AccessLog, install_secret_filter, quiet_body_loggers
from draftsmith.server.metrics import Metrics, MetricsMiddleware
from draftsmith.server.runner import ModelGate
from draftsmith.server.schemas import Health, Ready, error_responses
from draftsmith.server.state import ModelSlot, ServerConfig, StoreSlot, get_model
from draftsmith.store.db import Store

DESCRIPTION = """\
draftsmith's writing operations over HTTP. Every error is JSON: `{"error": {"type", "message"}}`.

Operations that take `"stream": true` answer with Server-Sent Events: `token` events carrying
`{"text": "<delta>"}`, then one `done` event with the same JSON result as without streaming (or an
`error` event). Closing the connection stops the model.

Requests share one model behind a bounded queue; when it is full the answer is 429 with Retry-After.

**Keys.** Once the server has users (or runs with `auth_required`), every `/api` and `/v1` route needs an
API key: `Authorization: Bearer ds_…` or `X-API-Key: ds_…` (create one with `draftsmith keys create USER`).
401 means no or a bad key, 403 a disabled user, 429 a spent rate (per key, per minute) or token budget
(per user, per UTC day), each with Retry-After. `/healthz`, `/readyz` and these docs need no key;
`/metrics` needs an admin's key unless the server makes it public.
"""


def create_app(
    settings: Settings | None = None,
    model: Model | None = None,
    *,
    config: ServerConfig | None = None,
    store: Store | None = None,
) -> FastAPI:
    """An app serving ``model`` (default: open ``settings.model`` in the background at startup) over
    ``store`` (default: ``settings.database_url``, or SQLite in the data folder, opened on first use)."""
    settings = settings or load_settings()
    config = config or ServerConfig()
    if config.redact_pii is None:
        config = config.model_copy(update={"redact_pii": redacts(None, settings)})
    slot = ModelSlot(settings, model)
    store_slot = StoreSlot(settings, store)
    gate = ModelGate(config.concurrency, config.queue_size)
    # Secrets that could reach an answer or a log line by way of an upstream's or a database's error message.
    remember(
        settings.openai_api_key,
        url_password(settings.database_url),
        url_password(settings.model.removeprefix("openai:")),
    )
    install_secret_filter("draftsmith.server", "draftsmith.access")
    quiet_body_loggers()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        slot.start()
        if config.redact_pii and config.redact_names:
            warm_up_names()
        try:
            yield
        finally:
            gate.shutdown()
            store_slot.close()

    app = FastAPI(
        title="draftsmith",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by routes_web from vendored Swagger UI (no CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.server_config = config
    app.state.model_slot = slot
    app.state.store_slot = store_slot
    app.state.content_policy = load_policy(config.content_policy) if config.content_filter != "off" else None
    app.state.gate = gate
    app.state.streams = StreamLimit(config.max_streams_per_key)
    app.state.started_at = time.time()
    metrics = Metrics(lambda: gate.admitted)
    metrics.watch(gate, slot, store_slot, config)  # queue capacity, model ready, store disk, token budgets
    app.state.metrics = metrics
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes, max_header_bytes=config.max_header_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(AccessLog)  # every answer gets a request id and one log line
    routes_web.install(app)  # the editor at /, /static, /docs; security headers on every answer (outermost)
    keyed = [Depends(current_user)]  # every /api and /v1 route; FastAPI runs it once per request
    refusals = error_responses(401, 403, 429)  # what current_user answers, declared on every keyed route
    for routes in (
        routes_ops,
        routes_documents,
        routes_feedback,
        routes_openai,
        routes_check,
        routes_suggest,
        routes_kb,
        routes_kg,
        routes_style,
        routes_eval,
    ):
        app.include_router(routes.router, dependencies=keyed, responses=refusals)

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Any:
        """The process is up (the model may still be loading)."""
        return Health()

    @app.get("/readyz", response_model=Ready, tags=["health"], responses=error_responses(503))
    async def readyz(model: Model = Depends(get_model)) -> Any:
        """The model is open and requests will be served."""
        return Ready(model=scrub_secrets(model.name))

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        dependencies=[Depends(metrics_access)],
        responses=error_responses(401, 403),
    )
    async def prometheus() -> Response:
        """Prometheus metrics: requests, latency, errors, generated tokens, decode rate, queue depth.
        Needs an admin's key unless the server makes metrics public."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    metrics.routes.update(app.openapi()["paths"])  # every documented route, included routers too
    metrics.routes.update(path for route in app.routes if (path := getattr(route, "path", None)))
    return app
