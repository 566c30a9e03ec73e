"""The FastAPI app: operations under ``/api``, OpenAI-compatible routes under ``/v1``, health probes,
OpenAPI docs at ``/docs``. ``create_app`` builds one app with its own model, queue and limits."""

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
from draftsmith.server import routes_openai, routes_ops
from draftsmith.server.errors import BodyLimit, install_error_handlers
from draftsmith.server.metrics import Metrics, MetricsMiddleware
from draftsmith.server.runner import ModelGate
from draftsmith.server.schemas import Health, Ready, error_responses
from draftsmith.server.state import ModelSlot, ServerConfig, get_model

DESCRIPTION = """\
draftsmith's writing operations over HTTP. Every error is JSON: `{"error": {"type", "message"}}`.

Operations that take `"stream": true` answer with Server-Sent Events: `token` events carrying
`{"text": "<delta>"}`, then one `done` event with the same JSON result as without streaming (or an
`error` event). Closing the connection stops the model.

Requests share one model behind a bounded queue; when it is full the answer is 429 with Retry-After.
"""


def create_app(
    settings: Settings | None = None,
    model: Model | None = None,
    *,
    config: ServerConfig | None = None,
) -> FastAPI:
    """An app serving ``model`` (default: open ``settings.model`` in the background at startup)."""
    settings = settings or load_settings()
    config = config or ServerConfig()
    slot = ModelSlot(settings, model)
    gate = ModelGate(config.concurrency, config.queue_size)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        slot.start()
        try:
            yield
        finally:
            gate.shutdown()

    app = FastAPI(
        title="draftsmith",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.server_config = config
    app.state.model_slot = slot
    app.state.gate = gate
    app.state.started_at = time.time()
    metrics = Metrics(lambda: gate.admitted)
    app.state.metrics = metrics
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(routes_ops.router)
    app.include_router(routes_openai.router)

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Any:
        """The process is up (the model may still be loading)."""
        return Health()

    @app.get("/readyz", response_model=Ready, tags=["health"], responses=error_responses(503))
    async def readyz(model: Model = Depends(get_model)) -> Any:
        """The model is open and requests will be served."""
        return Ready(model=model.name)

    @app.get("/metrics", tags=["health"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus metrics: requests, latency, errors, generated tokens, decode rate, queue depth."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    metrics.routes.update(app.openapi()["paths"])  # every documented route, included routers too
    metrics.routes.update(path for route in app.routes if (path := getattr(route, "path", None)))
    return app
