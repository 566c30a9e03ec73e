"""The HTTP API: every operation's endpoint, streaming, cancellation on disconnect, errors as JSON,
the bounded queue, and the OpenAI-compatible routes. Plumbing runs on FakeModel; one test runs the
real bundled model behind a real uvicorn server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from draftsmith.config import Settings, load_settings
from draftsmith.errors import ModelError
from draftsmith.models.base import Chunk, GenParams, Message, Usage
from draftsmith.models.fake import FakeModel
from draftsmith.models.openai_compat import OpenAICompatModel
from draftsmith.server import ServerConfig, create_app, get_model
from draftsmith.writing import correct as correct_op
from draftsmith.writing.base import Result
from draftsmith.writing.correct import CorrectionResult
from draftsmith.writing.summarize import OutlineResult, TitleResult
from security.probes.live import serve as live_server

SETTINGS = Settings(model="fake", prefix_cache=False)
LONG = " ".join(f"word{i}" for i in range(400))


def make_client(model, **config) -> TestClient:
    return TestClient(create_app(SETTINGS, model, config=ServerConfig(**config)))


class CountingModel(FakeModel):
    """A slow fake that counts the tokens it produced and, like llama.cpp, holds a lock while streaming."""

    def __init__(self, text: str = LONG, delay_s: float = 0.02):
        super().__init__(text, delay_s=delay_s)
        self.produced = 0
        self.lock = threading.Lock()

    def stream(self, messages, params):
        if not self.lock.acquire(timeout=2):
            raise ModelError("model lock still held by an abandoned stream")
        try:
            for chunk in super().stream(messages, params):
                self.produced += bool(chunk.text)
                yield chunk
        finally:
            self.lock.release()


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs from SSE lines; the event name defaults to 'message'."""
    event, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield event, "\n".join(data)


def assert_json_error(response: httpx.Response, status: int, kind: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text
    error = response.json()["error"]
    assert error["message"]
    if kind:
        assert error["type"] == kind
    return error


# -- every operation --------------------------------------------------------------------------------------


def fixer(messages: list[Message], params: GenParams) -> str:
    """Echo the text to correct, with one grammar fix."""
    from draftsmith.models.fake import echo_responder

    return echo_responder(messages, params).replace("She go ", "She goes ")


OPERATIONS = [
    ("write", {"instruction": "a haiku about rain"}, "Rain on the roof.", Result),
    ("rewrite", {"text": "hey, the meeting moved to 3.", "style": "formal"}, "The meeting is now at 3.", Result),
    ("translate", {"text": "Good morning.", "to": "zh"}, "早上好。", Result),
    ("correct", {"text": "She go to school every day."}, fixer, CorrectionResult),
    ("continue", {"text": "The rain had stopped.", "words": 20}, "We walked out into the wet street.", Result),
    ("summarize", {"text": "A long text. " * 20, "words": 10}, "A short summary.", Result),
    ("outline", {"topic": "city parks", "sections": 2}, "# Why parks\n- shade\n# Costs\n- upkeep", OutlineResult),
    ("title", {"text": "A story about a lighthouse.", "count": 2}, "1. The Keeper\n2. Light in the Storm", TitleResult),
]


@pytest.mark.parametrize(("name", "body", "answer", "result_type"), OPERATIONS, ids=[o[0] for o in OPERATIONS])
def test_each_operation_returns_its_typed_result(name, body, answer, result_type):
    response = make_client(FakeModel(answer)).post(f"/api/{name}", json=body)
    assert response.status_code == 200, response.text
    result = result_type.model_validate(response.json())
    assert result.operation == name
    assert result.model == "fake"
    assert result.text.strip()
    assert result.usage.completion_tokens > 0
    if name == "correct":
        assert result.text == "She goes to school every day."
        assert [(e.original, e.replacement) for e in result.edits] == [("go", "goes")]
    if name == "outline":
        assert [s.title for s in result.sections] == ["Why parks", "Costs"]
    if name == "title":
        assert result.titles == ["The Keeper", "Light in the Storm"]


def test_the_api_result_matches_the_python_api():
    model = FakeModel(fixer)
    body = make_client(model).post("/api/correct", json={"text": "She go to school."}).json()
    direct = correct_op.correct(model, "She go to school.")
    assert all(e.pop("suggestion_id") for e in body["edits"])  # the server adds the feedback ids it recorded
    assert body["edits"] == [e.model_dump(exclude={"suggestion_id"}) for e in direct.edits]
    assert body["text"] == direct.text


def test_templates_are_listed():
    client = make_client(FakeModel())
    templates = client.get("/api/templates").json()
    names = {t["name"] for t in templates}
    assert {"news-brief", "correct", "translate"} <= names
    news = client.get("/api/templates", params={"category": "news"}).json()
    assert news and all(t["category"] == "news" for t in news)
    assert all("path" not in t for t in templates)  # no server file paths


def test_health_ready_and_openapi():
    client = make_client(FakeModel())
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "model": "fake"}
    spec = client.get("/openapi.json").json()
    ops = {"write", "rewrite", "translate", "correct", "continue", "summarize", "outline", "title"}
    assert {f"/api/{op}" for op in ops} <= set(spec["paths"])
    assert "/v1/chat/completions" in spec["paths"]


def test_the_openapi_document_declares_what_the_routes_answer():
    # What the OpenAPI fuzzer (tests/security/test_openapi_fuzz.py) found missing or wrong.
    spec = make_client(FakeModel()).get("/openapi.json").json()
    keyed = [(p, op) for p, ops in spec["paths"].items() if p.startswith(("/api", "/v1")) for op in ops.values()]
    assert keyed and all({"401", "403", "429"} <= set(op["responses"]) for _, op in keyed)
    events = {}
    for path in ("/api/write", "/v1/chat/completions"):
        event = spec["paths"][path]["post"]["responses"]["200"]["content"]["text/event-stream"]["schema"]
        assert event["required"] == ["event", "data"]  # one event, as Open API 3.1 tools read it
        events[path] = event["properties"]["event"]["enum"]
    assert events == {"/api/write": ["token", "done", "error"], "/v1/chat/completions": ["message"]}
    export = spec["paths"]["/api/kg/{kg_name}/export"]["get"]["responses"]["200"]["content"]
    assert export["application/json"]["schema"] == {"$ref": "#/components/schemas/GraphExport"}


def test_a_model_that_cannot_open_is_503_and_the_dependency_can_be_overridden(tmp_path):
    app = create_app(Settings(model=str(tmp_path / "missing.gguf")))
    client = TestClient(app)
    assert client.get("/healthz").status_code == 200
    deadline = time.monotonic() + 5
    while (response := client.get("/readyz")).json()["error"]["type"] == "model_loading":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    error = assert_json_error(response, 503, "model_unavailable")
    assert "does not exist" in error["message"]
    assert response.headers["retry-after"]

    app.dependency_overrides[get_model] = lambda: FakeModel("ok then")
    assert client.get("/readyz").status_code == 200
    assert client.post("/api/write", json={"instruction": "anything"}).json()["text"] == "ok then"


# -- streaming ------------------------------------------------------------------------------------------------


def test_stream_sends_tokens_in_order_then_the_result():
    text = "alpha beta gamma delta epsilon zeta"
    client = make_client(FakeModel(text, delay_s=0.01))
    with client.stream("POST", "/api/write", json={"instruction": "greek letters", "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = list(sse_events(response.iter_lines()))
    tokens = [json.loads(data)["text"] for event, data in events if event == "token"]
    assert len(tokens) > 1
    assert "".join(tokens) == text
    assert [event for event, _ in events][-1] == "done"
    assert Result.model_validate_json(events[-1][1]).text == text


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("rewrite", {"text": "one two three", "style": "casual"}),
        ("continue", {"text": "It began to rain.", "words": 30}),
        ("summarize", {"text": "Some long text here.", "words": 20}),
        ("translate", {"text": "Good morning.", "to": "fr"}),
    ],
)
def test_other_operations_stream_too(name, body):
    client = make_client(FakeModel("un deux trois quatre", delay_s=0.005))
    with client.stream("POST", f"/api/{name}", json={**body, "stream": True}) as response:
        events = list(sse_events(response.iter_lines()))
    assert events[-1][0] == "done"
    tokens = "".join(json.loads(d)["text"] for e, d in events if e == "token")
    assert "un deux trois" in tokens
    assert json.loads(events[-1][1])["operation"] == name


class BreaksMidway(FakeModel):
    def stream(self, messages, params):
        yield Chunk(text="first words")
        raise ModelError("model fake failed while generating: out of memory")


def test_a_failure_mid_stream_is_an_error_event():
    client = make_client(BreaksMidway())
    with client.stream("POST", "/api/write", json={"instruction": "x", "stream": True}) as response:
        events = list(sse_events(response.iter_lines()))
    assert events[0] == ("token", json.dumps({"text": "first words"}))
    assert events[-1][0] == "error"
    assert json.loads(events[-1][1])["error"] == {
        "type": "model_error",
        "message": "model fake failed while generating: out of memory",
    }


def test_a_failure_before_the_first_token_is_a_plain_http_error():
    response = make_client(FakeModel()).post("/api/rewrite", json={"text": "hi", "style": "nope", "stream": True})
    assert "unknown style" in assert_json_error(response, 400, "input_error")["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/write", {"instruction": "go on", "stream": True}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "go on"}], "stream": True}),
    ],
)
def test_closing_the_stream_stops_the_model(path, body):
    model = CountingModel()
    app = create_app(SETTINGS, model, config=ServerConfig(queue_size=0))
    with live_server(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        with http.stream("POST", path, json=body) as response:
            assert response.status_code == 200
            seen = 0
            for line in response.iter_lines():
                seen += line.startswith("data:")
                if seen >= 4:
                    break
        time.sleep(0.3)
        stopped_at = model.produced
        time.sleep(0.3)
        assert model.produced == stopped_at, "the model kept generating after the client left"
        assert stopped_at < 100, f"{stopped_at} of 400 tokens produced"
        # The queue slot and the model's lock were released: the next request runs (queue_size=0).
        model.delay_s = 0
        assert http.post("/api/write", json={"instruction": "again"}).status_code == 200


def test_a_client_that_gives_up_on_a_plain_request_stops_the_model_too():
    model = CountingModel()
    with live_server(create_app(SETTINGS, model)) as url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/api/write", json={"instruction": "go on"}, timeout=0.3)
        time.sleep(0.3)
        stopped_at = model.produced
        time.sleep(0.3)
        assert model.produced == stopped_at
        assert stopped_at < 100


def test_a_request_abandoned_in_the_queue_never_reaches_the_model():
    entered, release = threading.Event(), threading.Event()

    def blocking(messages, params):
        entered.set()
        release.wait(10)
        return "done"

    model = FakeModel(blocking)
    with live_server(create_app(SETTINGS, model, config=ServerConfig(queue_size=1))) as url:
        first = threading.Thread(target=lambda: httpx.post(f"{url}/api/summarize", json={"text": "a b"}, timeout=10))
        first.start()
        try:
            assert entered.wait(5)
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(f"{url}/api/write", json={"instruction": "queued"}, timeout=0.3)
            time.sleep(0.2)
        finally:
            release.set()
            first.join(10)
        assert len(model.calls) == 1
        assert httpx.post(f"{url}/api/write", json={"instruction": "next"}, timeout=10).status_code == 200


# -- errors ----------------------------------------------------------------------------------------------------


class Silent(FakeModel):
    def stream(self, messages, params):
        yield Chunk(finish_reason="stop", usage=Usage())


class Crashes(FakeModel):
    def stream(self, messages, params):
        raise RuntimeError("secret internal detail")
        yield Chunk()


def test_errors_are_json_with_the_right_status():
    client = make_client(FakeModel())
    assert_json_error(client.post("/api/correct", json={"text": "   "}), 400, "input_error")
    assert_json_error(client.post("/api/translate", json={"text": "hello", "to": "xx"}), 400, "input_error")
    assert_json_error(client.post("/api/write", json={"template": "no-such-template"}), 422, "template_error")
    error = assert_json_error(client.post("/api/write", json={"instruction": "x", "temprature": 1}), 422)
    assert error["type"] == "validation_error" and "temprature" in error["message"]
    assert_json_error(client.post("/api/correct", json={}), 422, "validation_error")
    assert_json_error(client.post("/api/correct", json={"text": ""}), 422, "validation_error")
    assert_json_error(client.post("/api/write", json={"instruction": "x", "max_tokens": 10**6}), 422)
    bad_json = client.post("/api/correct", content=b"{not json", headers={"content-type": "application/json"})
    assert_json_error(bad_json, 422, "validation_error")
    assert_json_error(client.get("/api/nothing-here"), 404, "not_found")
    assert_json_error(client.get("/api/correct"), 405, "method_not_allowed")
    assert_json_error(make_client(Silent()).post("/api/write", json={"instruction": "x"}), 502, "model_error")
    crashed = assert_json_error(make_client(Crashes()).post("/api/write", json={"instruction": "x"}), 500)
    assert crashed == {"type": "internal_error", "message": "internal error; the server log has the details"}


def test_a_body_that_is_not_utf8_is_a_422_like_bad_json():
    # Found by the OpenAPI fuzzer (tests/security/test_openapi_fuzz.py): FastAPI answered an undeclared 400.
    client = make_client(FakeModel())
    json_type = {"content-type": "application/json"}
    not_utf8 = client.put("/api/documents/x", content=b'{"text": "\xb7\xdd"}', headers=json_type)
    error = assert_json_error(not_utf8, 422, "validation_error")
    assert error["details"] == [{"loc": ["body"], "msg": "the body is not JSON in UTF-8", "type": "json_invalid"}]


def test_oversized_bodies_are_refused_with_413():
    client = make_client(FakeModel(), max_body_bytes=64 * 1024)
    body = json.dumps({"text": "x" * 100_000}).encode()
    declared = client.post("/api/correct", content=body, headers={"content-type": "application/json"})
    assert "larger than" in assert_json_error(declared, 413, "request_too_large")["message"]
    chunked = client.post(
        "/api/correct", content=iter([body[:50_000], body[50_000:]]), headers={"content-type": "application/json"}
    )
    assert_json_error(chunked, 413, "request_too_large")
    small = client.post(
        "/api/correct", content=iter([b'{"text": ', b'"She go."}']), headers={"content-type": "application/json"}
    )
    assert small.status_code == 200, small.text


def test_a_full_queue_answers_429_with_retry_after():
    entered, release = threading.Event(), threading.Event()

    def blocking(messages, params):
        entered.set()
        release.wait(10)
        return "done"

    client = make_client(FakeModel(blocking), concurrency=1, queue_size=0)
    first: dict = {}
    worker = threading.Thread(target=lambda: first.update(r=client.post("/api/summarize", json={"text": "a b c"})))
    worker.start()
    try:
        assert entered.wait(5)
        busy = client.post("/api/write", json={"instruction": "x"})
        assert "busy" in assert_json_error(busy, 429, "busy")["message"]
        assert int(busy.headers["retry-after"]) >= 1
        chat = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
        assert_json_error(chat, 429, "busy")
    finally:
        release.set()
        worker.join(10)
    assert first["r"].status_code == 200
    assert client.post("/api/write", json={"instruction": "x"}).status_code == 200


# -- OpenAI-compatible --------------------------------------------------------------------------------------------

CHAT = "/v1/chat/completions"


def test_openai_models_and_non_streamed_chat():
    client = make_client(FakeModel("Hello there, friend."))
    assert client.get("/v1/models").json()["data"][0]["id"] == "fake"
    response = client.post(CHAT, json={"model": "anything", "messages": [{"role": "user", "content": "Hi"}]})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["object"] == "chat.completion" and data["id"].startswith("chatcmpl-")
    assert data["choices"][0]["message"] == {"role": "assistant", "content": "Hello there, friend."}
    assert data["choices"][0]["finish_reason"] == "stop"
    usage = data["usage"]
    assert usage["completion_tokens"] == 3 and usage["total_tokens"] == usage["prompt_tokens"] + 3


def test_openai_streamed_chat_ends_with_done():
    client = make_client(FakeModel("one two three four", delay_s=0.005))
    body = {
        "messages": [{"role": "user", "content": "count"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with client.stream("POST", CHAT, json=body) as response:
        data = [d for _, d in sse_events(response.iter_lines())]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "one two three four"
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4


@pytest.mark.parametrize(
    "extra",
    [
        {"temperature": 999999},
        {"temperature": -0.1},
        {"top_p": 0},
        {"top_p": -1},
        {"top_p": 1.5},
        {"max_tokens": 0},
        {"max_tokens": -1},
        {"max_tokens": 10**7},
        {"max_completion_tokens": 10**7},
        {"n": 1000000},
        {"messages": []},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
        {"messages": [{"role": "tool", "content": "x"}]},
        {"response_format": {"type": "json_schema"}},
    ],
)
def test_openai_bad_parameters_are_422(extra):
    body = {"messages": [{"role": "user", "content": "hi"}], **extra}
    assert_json_error(make_client(FakeModel()).post(CHAT, json=body), 422, "validation_error")


def test_openai_clients_work_against_the_server():
    """draftsmith's own openai: backend and the official SDK, through a real socket."""
    with live_server(create_app(SETTINGS, FakeModel(fixer))) as url:
        remote = OpenAICompatModel(f"{url}/v1", retries=0)
        try:
            assert remote.model == "fake"
            assert correct_op.correct(remote, "She go to school.").text == "She goes to school."
        finally:
            remote.close()
        openai = pytest.importorskip("openai")
        sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        reply = sdk.chat.completions.create(model="fake", messages=[{"role": "user", "content": "Text: hi there"}])
        assert reply.choices[0].message.content == "hi there"
        assert reply.usage.completion_tokens == 2
        parts = sdk.chat.completions.create(
            model="fake", messages=[{"role": "user", "content": "Text: a b c"}], stream=True
        )
        assert "".join(p.choices[0].delta.content or "" for p in parts if p.choices) == "a b c"
        with pytest.raises(openai.UnprocessableEntityError):
            sdk.chat.completions.create(model="fake", messages=[{"role": "user", "content": "x"}], temperature=5)


# -- the serve command ----------------------------------------------------------------------------------------


def test_serve_refuses_a_remote_address_without_allow_remote():
    import typer
    from typer.testing import CliRunner

    from draftsmith.cli.serve_cmd import check_bind, is_loopback, register

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    check_bind("0.0.0.0", allow_remote=True)
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # keep 'serve' a subcommand
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--model", "fake"])
    assert result.exit_code != 0
    assert "no authentication" in str(result.exception)
    assert "--allow-remote" in CliRunner().invoke(app, ["serve", "--help"]).output


# -- the real model, end to end ------------------------------------------------------------------------------


@pytest.mark.model
def test_real_model_over_http():
    app = create_app(load_settings(model="qwen2.5-0.5b"))
    with live_server(app) as url, httpx.Client(base_url=url, timeout=120) as http:
        deadline = time.monotonic() + 180
        while (ready := http.get("/readyz")).status_code != 200:
            assert ready.json()["error"]["type"] == "model_loading", ready.text
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert ready.json()["model"] == "qwen2.5-0.5b"

        fixed = http.post("/api/correct", json={"text": "She go to school every day."})
        assert fixed.status_code == 200, fixed.text
        assert "goes" in fixed.json()["text"]
        assert any(e["replacement"] == "goes" for e in fixed.json()["edits"])

        body = {
            "messages": [{"role": "user", "content": "Name three colours."}],
            "stream": True,
            "max_tokens": 24,
            "temperature": 0,
        }
        with http.stream("POST", "/v1/chat/completions", json=body) as response:
            data = [d for _, d in sse_events(response.iter_lines())]
        assert data[-1] == "[DONE]"
        text = "".join(json.loads(d)["choices"][0]["delta"].get("content", "") for d in data[:-1])
        assert len(text.split()) >= 2


def test_metrics_count_requests_tokens_and_errors_with_bounded_labels() -> None:
    with make_client(FakeModel("She goes to school.")) as client:
        assert client.post("/api/write", json={"instruction": "x"}).status_code == 200
        assert client.post("/api/write", json={}).status_code in (400, 422)
        for i in range(5):  # random paths must not create new label values
            client.get(f"/probe-{i}")
        resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    assert 'draftsmith_requests_total{method="POST",route="/api/write",status="200"} 1.0' in text
    assert 'draftsmith_requests_total{method="GET",route="other",status="404"} 5.0' in text
    assert "probe-" not in text
    assert 'draftsmith_generated_tokens_total{operation="write"}' in text
    assert 'draftsmith_request_seconds_bucket{le="0.005",route="/api/write"}' in text
    assert "draftsmith_queue_depth 0.0" in text
