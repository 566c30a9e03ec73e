"""Group 12: schemathesis against the OpenAPI document of the app (issue 12: no 5xx, responses match the schema).
One test per operation, so a failure names its route; the operations come from the app itself, so a new route is
fuzzed without anyone listing it. And the harness can fail: routes that crash, lie about their body or answer an
undeclared status are caught."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from draftsmith.models.fake import FakeModel
from draftsmith.server import ServerConfig, create_app

from .conftest import SETTINGS
from .probes import provision
from .probes.fuzz import EXCLUDED, finished_run, fuzz_operation, known_objects, operations
from .probes.live import live_target

MAX_EXAMPLES = 25  # requests per operation (half of them at objects that exist); about a minute in all
OPERATIONS = operations(create_app(SETTINGS, FakeModel(), config=ServerConfig()).openapi())


@pytest.fixture(scope="module")
def fuzz_key(sec_store) -> str:
    """A user of its own (unlimited rate), so what the fuzzer makes is nobody else's business."""
    return provision(sec_store).alice


@pytest.fixture(scope="module")
def fuzz_run(target, fuzz_key) -> str:
    return finished_run(target, fuzz_key)


def test_every_operation_of_the_served_document_is_fuzzed(target):
    assert operations(target.openapi) == OPERATIONS
    assert len(OPERATIONS) > 60
    assert set(EXCLUDED) <= set(OPERATIONS)  # an exclusion outliving its route is a stale excuse


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_error_and_answers_match_the_schema(target, fuzz_key, fuzz_run, method, path):
    objects = known_objects(target, fuzz_key, fuzz_run)
    findings = fuzz_operation(target, fuzz_key, method, path, max_examples=MAX_EXAMPLES, objects=objects)
    assert not findings.failures, findings.summary()
    assert findings.total >= 1


class Count(BaseModel):
    n: int


def test_a_crashing_route_a_lying_body_and_an_undeclared_status_are_caught(sec_store, keys, fuzz_key):
    app = create_app(SETTINGS, FakeModel(), config=ServerConfig(sse_ping_s=0), store=sec_store)

    @app.post("/api/crash", response_model=Count)
    async def crash(body: Count) -> Any:
        return Count(n=100 // body.n)  # n = 0: ZeroDivisionError, a 500

    @app.get("/api/lies", response_model=Count)
    async def lies() -> Any:
        return JSONResponse({"n": "many"})  # a Response skips the response model: the document lies

    @app.get("/api/teapot", response_model=Count)
    async def teapot() -> Any:
        return JSONResponse({"n": 1}, status_code=418)

    app.openapi_schema = None  # create_app built the document before these routes existed
    with live_target(app, sec_store, keys) as t:
        crashed = fuzz_operation(t, fuzz_key, "POST", "/api/crash", max_examples=10)
        lied = fuzz_operation(t, fuzz_key, "GET", "/api/lies", max_examples=10)
        odd = fuzz_operation(t, fuzz_key, "GET", "/api/teapot", max_examples=10)
        fine = fuzz_operation(t, fuzz_key, "GET", "/healthz", max_examples=10)  # the control
        assert any("server error 500" in f and "internal_error" in f for f in crashed.failures), crashed.summary()
        assert any("violates schema" in f for f in lied.failures), lied.summary()
        assert any("Undocumented status code" in f and "418" in f for f in odd.failures), odd.summary()
        assert not fine.failures, fine.summary()
