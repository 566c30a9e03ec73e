"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 (tests/fake_openai_server.py)."""

from __future__ import annotations

import socket
import time

import pytest

from draftsmith.errors import ModelError
from draftsmith.models.base import GenParams, Message, Model
from draftsmith.models.openai_compat import OpenAICompatModel, parse_spec
from fake_openai_server import JSON_TOKENS, TOKENS, USAGE, FakeOpenAI

MESSAGES = [Message(role="system", content="Be brief."), Message(role="user", content="Say hello.")]
SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "words": {"type": "integer"}},
    "required": ["title", "words"],
}


@pytest.fixture(scope="module")
def server():
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(server, monkeypatch):
    monkeypatch.delenv("DRAFTSMITH_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def model(fake):
    m = OpenAICompatModel(fake.url, "fake-model", timeout=5.0, retries=2, backoff=0.01)
    yield m
    m.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- model specs and discovery -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("openai:http://localhost:8000/v1#qwen", ("http://localhost:8000/v1", "qwen")),
        ("openai:https://api.example.com/v1", ("https://api.example.com/v1", None)),
        ("openai:http://127.0.0.1:8080/v1/#org/model:q4", ("http://127.0.0.1:8080/v1", "org/model:q4")),
        ("openai:http://localhost:11434/v1#", ("http://localhost:11434/v1", None)),
    ],
)
def test_parse_spec_splits_url_and_model(spec, expected):
    assert parse_spec(spec) == expected


@pytest.mark.parametrize("spec", ["openai:", "openai:localhost:8000/v1", "qwen2.5-1.5b", "openai:http://#m"])
def test_parse_spec_rejects_what_is_not_an_endpoint(spec):
    with pytest.raises(ModelError, match="openai:http://host:port/v1"):
        parse_spec(spec)


def test_without_a_model_name_the_first_served_model_is_used(fake):
    m = OpenAICompatModel(fake.url + "/", retries=0)
    try:
        assert m.model == "fake-model"
        assert m.name == f"openai:{fake.url}#fake-model"
        assert m.info() == {
            "name": f"openai:{fake.url}#fake-model",
            "backend": "OpenAICompatModel",
            "base_url": fake.url,
            "model": "fake-model",
        }
        assert [r.path for r in fake.requests] == ["/models"]
    finally:
        m.close()


def test_model_discovery_failure_is_explained(fake):
    fake.queue("status:404")
    with pytest.raises(ModelError, match=r"/v1/models was not found \(HTTP 404"):
        OpenAICompatModel(fake.url, retries=0)


# -- streaming -----------------------------------------------------------------------------------


def test_stream_yields_tokens_in_order_then_finish_and_usage(model, fake):
    chunks = list(model.stream(MESSAGES, GenParams(max_tokens=32, temperature=0.2, stop=["\n\n"], seed=7)))

    assert [c.text for c in chunks[:-1]] == TOKENS
    assert "".join(c.text for c in chunks) == "Hello, world!"
    last = chunks[-1]
    assert last.text == "" and last.finish_reason == "stop"
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (7, 4)

    (call,) = fake.calls("/chat/completions")
    body = call.body
    assert body["model"] == "fake-model"
    assert body["messages"] == [m.model_dump() for m in MESSAGES]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (body["max_tokens"], body["temperature"], body["top_p"]) == (32, 0.2, 0.95)
    assert body["stop"] == ["\n\n"] and body["seed"] == 7
    assert "response_format" not in body


def test_stream_without_usage_counts_deltas(model, fake):
    fake.queue("no_usage")
    last = list(model.stream(MESSAGES, GenParams()))[-1]
    assert last.finish_reason == "stop"
    assert last.usage.completion_tokens == len(TOKENS)
    assert last.usage.prompt_tokens > 0


def test_complete_through_the_stream_matches_the_non_streaming_endpoint(model, fake):
    via_stream = Model.complete(model, MESSAGES, GenParams())
    direct = model.complete(MESSAGES, GenParams())
    assert via_stream.text == direct.text == "Hello, world!"
    assert direct.finish_reason == "stop" and direct.model == f"openai:{fake.url}#fake-model"
    assert direct.usage.completion_tokens == USAGE["completion_tokens"]
    assert direct.timings.total_s > 0 and direct.timings.tokens_per_s
    assert fake.calls("/chat/completions")[-1].body["stream"] is False


def test_json_schema_is_sent_as_response_format_and_parsed(model, fake):
    result = model.json(MESSAGES, SCHEMA, GenParams())

    assert result == {"title": "Draft", "words": 3}
    body = fake.calls("/chat/completions")[-1].body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": SCHEMA, "strict": True},
    }
    streamed = list(model.stream(MESSAGES, GenParams(json_schema=SCHEMA)))
    assert "".join(c.text for c in streamed) == "".join(JSON_TOKENS)
    assert fake.calls("/chat/completions")[-1].body["response_format"]["json_schema"]["schema"] == SCHEMA


# -- broken answers --------------------------------------------------------------------------------


def test_malformed_json_in_a_stream_line_is_a_model_error(model, fake):
    fake.queue("malformed")
    with pytest.raises(ModelError, match="returned malformed JSON"):
        list(model.stream(MESSAGES, GenParams()))


def test_malformed_json_body_is_a_model_error(model, fake):
    fake.queue("malformed")
    with pytest.raises(ModelError, match="returned malformed JSON"):
        model.complete(MESSAGES, GenParams())


@pytest.mark.parametrize("behaviour", ["die", "no_done"])
def test_a_stream_cut_short_raises_instead_of_returning_partial_text(model, fake, behaviour):
    fake.queue(behaviour)
    seen = []
    with pytest.raises(ModelError, match="stream ended unexpectedly after 6 characters"):
        for chunk in model.stream(MESSAGES, GenParams()):
            seen.append(chunk.text)
    assert seen == ["Hello", ","]  # what arrived was shown, but no finishing chunk claimed it was complete

    fake.queue(behaviour)
    with pytest.raises(ModelError, match="ended unexpectedly"):
        Model.complete(model, MESSAGES, GenParams())
    assert len(fake.calls("/chat/completions")) == 2  # never retried once text had been yielded


# -- errors and retries ----------------------------------------------------------------------------


def test_unreachable_port_fails_fast_with_cannot_reach(fake):
    port = free_port()  # bound then closed: nothing listens there
    m = OpenAICompatModel(f"http://127.0.0.1:{port}/v1", "m", timeout=2.0, retries=2, backoff=0.01)
    start = time.monotonic()
    with pytest.raises(ModelError) as info:
        list(m.stream(MESSAGES, GenParams()))
    assert time.monotonic() - start < 3
    message = str(info.value)
    assert message.startswith(f"cannot reach http://127.0.0.1:{port}/v1/chat/completions: connection refused")
    assert "is the server running?" in message and "tried 3 times" in message
    with pytest.raises(ModelError, match="cannot reach"):
        OpenAICompatModel(f"http://127.0.0.1:{port}/v1", retries=0)
    m.close()


def test_500_then_200_is_retried(model, fake):
    fake.queue("status:500")
    assert model.complete(MESSAGES, GenParams()).text == "Hello, world!"
    assert len(fake.calls("/chat/completions")) == 2


def test_429_with_retry_after_zero_retries_at_once(fake):
    m = OpenAICompatModel(fake.url, "fake-model", retries=3, backoff=5.0)  # backoff alone would wait 5+ s
    fake.queue("status:429", "status:429")
    start = time.monotonic()
    text = "".join(c.text for c in m.stream(MESSAGES, GenParams()))
    assert time.monotonic() - start < 2
    assert text == "Hello, world!"
    assert len(fake.calls("/chat/completions")) == 3
    m.close()


def test_retries_give_up_with_the_last_status(model, fake):
    fake.queue("status:503", "status:503", "status:503", "status:503")
    with pytest.raises(ModelError, match=r"HTTP 503 after 3 tries: fake failure 503"):
        model.complete(MESSAGES, GenParams())
    assert len(fake.calls("/chat/completions")) == 3  # the first try and retries=2


def test_client_errors_are_not_retried_and_show_the_server_message(model, fake):
    fake.queue("status:400")
    with pytest.raises(ModelError, match=r"rejected the request \(HTTP 400\): fake failure 400"):
        list(model.stream(MESSAGES, GenParams()))
    assert len(fake.calls("/chat/completions")) == 1


def test_401_asks_for_the_api_key(model, fake):
    fake.queue("status:401")
    with pytest.raises(ModelError, match=r"rejected the API key .*set DRAFTSMITH_OPENAI_API_KEY"):
        model.complete(MESSAGES, GenParams())
    assert len(fake.calls("/chat/completions")) == 1


def test_404_points_at_the_base_url_and_model(model, fake):
    fake.queue("status:404")
    with pytest.raises(ModelError, match=r"not found \(HTTP 404.*check the base URL.*'fake-model'"):
        model.complete(MESSAGES, GenParams())


def test_a_server_that_never_answers_times_out(fake):
    m = OpenAICompatModel(fake.url, "fake-model", timeout=0.3, retries=2, backoff=0.01)
    fake.queue("hang:3")
    start = time.monotonic()
    with pytest.raises(ModelError, match=r"did not answer within 0.3 s"):
        m.complete(MESSAGES, GenParams())
    assert time.monotonic() - start < 2
    m.close()


# -- API key ---------------------------------------------------------------------------------------


def test_api_key_from_env_is_sent_as_bearer(fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    m = OpenAICompatModel(fake.url, "fake-model", retries=0)
    m.complete(MESSAGES, GenParams())
    monkeypatch.setenv("DRAFTSMITH_OPENAI_API_KEY", "sk-draftsmith")
    m2 = OpenAICompatModel(fake.url, "fake-model", retries=0)
    m2.complete(MESSAGES, GenParams())
    m3 = OpenAICompatModel(fake.url, "fake-model", api_key="sk-explicit", retries=0)
    m3.complete(MESSAGES, GenParams())
    sent = [r.headers.get("authorization") for r in fake.calls("/chat/completions")]
    assert sent == ["Bearer sk-openai", "Bearer sk-draftsmith", "Bearer sk-explicit"]
    for each in (m, m2, m3):
        each.close()


def test_no_key_sends_no_authorization_header(model, fake):
    model.complete(MESSAGES, GenParams())
    assert "authorization" not in fake.calls("/chat/completions")[0].headers


# -- scoring ---------------------------------------------------------------------------------------
# The fake tokenizes "The cat sat on the mat" as The| cat| sat| on| the| mat, then generates " and";
# token i has log-probability -(i+1)/10 (none for the first).


def test_score_sums_only_the_continuation_tokens(model, fake):
    score = model.score("The cat", " sat on the mat")
    assert score.tokens == 4
    assert score.logprob == pytest.approx(-(0.3 + 0.4 + 0.5 + 0.6))
    (call,) = fake.calls("/completions")
    assert call.body == {
        "model": "fake-model",
        "prompt": "The cat sat on the mat",
        "max_tokens": 1,
        "echo": True,
        "logprobs": 1,
        "temperature": 0,
    }


def test_score_without_text_offsets_aligns_by_token_text(model, fake):
    fake.queue("no_offsets")
    score = model.score("The cat", " sat on the mat")
    assert (score.tokens, score.logprob) == (4, pytest.approx(-1.8))


def test_score_counts_a_token_that_straddles_the_boundary(model, fake):
    score = model.score("The cat s", "at on the mat")  # " sat" starts in the context
    assert (score.tokens, score.logprob) == (4, pytest.approx(-1.8))


def test_score_prefers_the_likelier_continuation(model, fake):
    shorter = model.score("The cat", " sat")
    longer = model.score("The cat", " sat on the mat")
    assert shorter.logprob > longer.logprob and shorter.tokens == 1


@pytest.mark.parametrize("behaviour", ["echo_unsupported", "logits_all_off", "no_echo", "status:404"])
def test_score_on_a_server_without_echo_logprobs_says_so(fake, behaviour):
    m = OpenAICompatModel(fake.url, "fake-model", retries=3, backoff=1.0)
    fake.queue(behaviour, behaviour, behaviour, behaviour)
    start = time.monotonic()
    with pytest.raises(ModelError, match="scoring is not supported by this server"):
        m.score("The cat", " sat")
    assert time.monotonic() - start < 1  # a deterministic refusal is not retried
    assert len(fake.calls("/completions")) == 1
    m.close()
