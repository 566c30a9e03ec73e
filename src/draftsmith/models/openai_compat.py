"""A model served over an OpenAI-compatible HTTP API (llama.cpp server, vLLM, Ollama, LM Studio, OpenAI).

Chosen with a model spec ``openai:<base_url>[#model]``, e.g. ``openai:http://localhost:8000/v1#qwen``.
Chat goes to ``{base}/chat/completions``; scoring needs ``{base}/completions`` with ``echo`` and
``logprobs``, which only some servers offer (vLLM, llama-cpp-python started with ``logits_all``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx

from draftsmith.errors import ModelError
from draftsmith.models.base import Chunk, Completion, GenParams, Message, Model, Score, Timings, Usage

SPEC_PREFIX = "openai:"
KEY_ENV = "DRAFTSMITH_OPENAI_API_KEY"
# Statuses that mean "busy or briefly broken, try again": rate limit, gateway and overload errors.
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# A Retry-After longer than this is not waited out; the call fails and says how long the server asked for.
MAX_RETRY_AFTER_S = 30.0
# Establishing a connection never needs the full generation timeout.
MAX_CONNECT_TIMEOUT_S = 10.0


def parse_spec(spec: str) -> tuple[str, str | None]:
    """Split ``openai:<base_url>[#model]`` into the base URL (no trailing slash) and the model id."""
    rest = spec[len(SPEC_PREFIX) :] if spec.startswith(SPEC_PREFIX) else ""
    url, _, model = rest.partition("#")
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1]) == 0:
        raise ModelError(
            f"model spec {spec!r} is not an OpenAI-compatible endpoint; "
            "write it as openai:http://host:port/v1 or openai:http://host:port/v1#model"
        )
    return url, model.strip() or None


class _StatusError(ModelError):
    """An HTTP error answer, kept with its status so callers can explain it in their own terms."""

    def __init__(self, message: str, status: int, server_message: str) -> None:
        super().__init__(message)
        self.status = status
        self.server_message = server_message


class OpenAICompatModel(Model):
    """Chat, JSON-constrained output and scoring through an OpenAI-compatible server."""

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = base_url.strip().rstrip("/")
        self.timeout = timeout
        self.retries = max(retries, 0)
        self.backoff = backoff
        key = api_key or os.environ.get(KEY_ENV) or os.environ.get("OPENAI_API_KEY")
        self._sent_key = bool(key)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        timeouts = httpx.Timeout(timeout, connect=min(timeout, MAX_CONNECT_TIMEOUT_S))
        self._client = httpx.Client(timeout=timeouts, headers=headers)
        self.name = f"{SPEC_PREFIX}{self.base_url}"
        try:
            self.model = model or self._first_model_id()
        except BaseException:
            self._client.close()
            raise
        self.name = f"{SPEC_PREFIX}{self.base_url}#{self.model}"

    # -- the Model interface ------------------------------------------------------------------------

    def stream(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]:
        url = f"{self.base_url}/chat/completions"
        response = self._send("POST", url, self._chat_body(messages, params, stream=True), stream=True)
        try:
            yield from self._read_events(response, url, messages)
        finally:
            response.close()

    def stream_text(self, prompt: str, params: GenParams) -> Iterator[Chunk]:
        """Raw completion through ``{base}/completions`` (the server keeps its own prompt cache)."""
        url = f"{self.base_url}/completions"
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": prompt,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if params.stop:
            body["stop"] = params.stop
        if params.seed is not None:
            body["seed"] = params.seed
        response = self._send("POST", url, body, stream=True)
        try:
            yield from self._read_events(response, url, [Message(role="user", content=prompt)])
        finally:
            response.close()

    def complete(self, messages: list[Message], params: GenParams) -> Completion:
        url = f"{self.base_url}/chat/completions"
        start = time.perf_counter()
        response = self._send("POST", url, self._chat_body(messages, params, stream=False))
        total = time.perf_counter() - start
        data = self._json_body(response, url)
        choice = _first_choice(data, url)
        message = choice.get("message") or {}
        text = message.get("content") or ""
        usage = _usage(data.get("usage")) or Usage(
            prompt_tokens=self._prompt_estimate(messages), completion_tokens=self.count_tokens(text)
        )
        # llama.cpp's server reports its own timings; otherwise only the round trip is known.
        server = data.get("timings") if isinstance(data.get("timings"), dict) else {}
        prompt_ms = server.get("prompt_ms")
        rate = server.get("predicted_per_second")
        if rate is None and usage.completion_tokens and total > 0:
            rate = usage.completion_tokens / total
        return Completion(
            text=text,
            model=self.name,
            finish_reason=choice.get("finish_reason"),
            usage=usage,
            timings=Timings(
                first_token_s=prompt_ms / 1000 if isinstance(prompt_ms, int | float) else None,
                total_s=total,
                tokens_per_s=rate,
            ),
        )

    def score(self, context: str, continuation: str) -> Score:
        if not continuation:
            return Score(logprob=0.0, tokens=0)
        url = f"{self.base_url}/completions"
        prompt = context + continuation
        body = {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": 1,
            "echo": True,
            "logprobs": 1,
            "temperature": 0,
        }
        try:
            # A 500 here is usually "logprobs unsupported" (llama-cpp-python), not a passing fault.
            response = self._send("POST", url, body, retry_on=RETRY_STATUS - {500})
        except _StatusError as exc:
            lowered = exc.server_message.lower()
            if exc.status in (404, 405, 501) or any(w in lowered for w in ("echo", "logprob", "logits")):
                raise self._no_scoring(f"HTTP {exc.status}: {exc.server_message or 'no detail'}") from None
            raise
        logprobs = _first_choice(self._json_body(response, url), url).get("logprobs")
        if not isinstance(logprobs, dict) or not logprobs.get("tokens") or "token_logprobs" not in logprobs:
            raise self._no_scoring("it returned no per-token log-probabilities for the prompt")
        tokens = [str(t) for t in logprobs["tokens"]]
        values = logprobs["token_logprobs"]
        offsets = logprobs.get("text_offset")
        if not isinstance(offsets, list) or len(offsets) != len(tokens):
            offsets = _aligned_offsets(tokens, prompt)
        total, counted = 0.0, 0
        start, end = len(context), len(prompt)
        for token, value, offset in zip(tokens, values, offsets, strict=False):
            # Every token that overlaps the continuation, including one that straddles the boundary.
            if offset < end and offset + len(token) > start and value is not None:
                total += float(value)
                counted += 1
        if counted == 0:
            raise self._no_scoring("it did not echo the prompt's log-probabilities")
        return Score(logprob=total, tokens=counted)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "base_url": self.base_url, "model": self.model}

    def close(self) -> None:
        self._client.close()

    # -- requests -----------------------------------------------------------------------------------

    def _chat_body(self, messages: list[Message], params: GenParams, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.model_dump() for m in messages],
            "stream": stream,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if params.stop:
            body["stop"] = params.stop
        if params.seed is not None:
            body["seed"] = params.seed
        if params.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": params.json_schema, "strict": True},
            }
        return body

    def _send(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None = None,
        *,
        stream: bool = False,
        retry_on: frozenset[int] = RETRY_STATUS,
    ) -> httpx.Response:
        """Send one request, retrying failures that happen before the server answered."""
        attempt = 0
        while True:
            request = self._client.build_request(method, url, json=body)
            try:
                response = self._client.send(request, stream=stream)
            except httpx.ReadTimeout:
                # The server accepted the request and is still working; a retry would queue it twice.
                raise ModelError(
                    f"{url} did not answer within {self.timeout:g} s; the server may be busy or the request "
                    "too long; raise request_timeout (DRAFTSMITH_REQUEST_TIMEOUT) if it is just slow"
                ) from None
            except httpx.TransportError as exc:
                if attempt < self.retries:
                    self._sleep(attempt, None)
                    attempt += 1
                    continue
                raise self._transport_error(url, exc, attempt + 1) from None
            if response.status_code < 400:
                return response
            response.read()
            response.close()
            if response.status_code in retry_on and attempt < self.retries:
                wait = _retry_after(response)
                if wait is None or wait <= MAX_RETRY_AFTER_S:
                    self._sleep(attempt, wait)
                    attempt += 1
                    continue
            raise self._status_error(response, url, attempt + 1)

    def _sleep(self, attempt: int, retry_after: float | None) -> None:
        time.sleep(retry_after if retry_after is not None else self.backoff * 2**attempt)

    def _first_model_id(self) -> str:
        url = f"{self.base_url}/models"
        data = self._json_body(self._send("GET", url), url)
        entries = data.get("data")
        ids = [e.get("id") for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
        ids = [i for i in ids if isinstance(i, str) and i]
        if not ids:
            raise ModelError(f"{url} lists no models; name one in the spec: {SPEC_PREFIX}{self.base_url}#<model>")
        return ids[0]

    # -- reading answers ----------------------------------------------------------------------------

    def _read_events(self, response: httpx.Response, url: str, messages: list[Message]) -> Iterator[Chunk]:
        """Turn server-sent events into chunks; a stream cut short is an error, never a short answer."""
        finish: str | None = None
        usage: Usage | None = None
        done = False
        deltas = chars = 0
        try:
            for raw in response.iter_lines():
                line = raw.strip()
                if line.startswith("error:"):  # llama.cpp's server reports failures this way
                    raise ModelError(f"{self.name} failed while generating: {line[6:].strip()}")
                if not line.startswith("data:"):
                    continue  # blank separators, comments, event:/id: fields
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    break
                event = _parse_json(data, url)
                if "error" in event:
                    raise ModelError(f"{self.name} failed while generating: {_error_text(event)}")
                usage = _usage(event.get("usage")) or usage
                choices = event.get("choices")
                choice = choices[0] if isinstance(choices, list) and choices else {}
                if not isinstance(choice, dict):
                    continue
                # Chat streams carry delta.content; raw /completions streams carry text.
                text = (choice.get("delta") or {}).get("content") or choice.get("text")
                if text:
                    deltas += 1
                    chars += len(text)
                    yield Chunk(text=text)
                finish = choice.get("finish_reason") or finish
        except httpx.TimeoutException:
            raise ModelError(
                f"{self.name} went silent for {self.timeout:g} s after {chars} characters; the stream "
                "ended unexpectedly and the text is incomplete; try again or raise request_timeout"
            ) from None
        except httpx.TransportError as exc:
            raise ModelError(
                f"{self.name} stream ended unexpectedly after {chars} characters ({_describe(exc)}); "
                "the text is incomplete; try again"
            ) from None
        if not done and finish is None:
            raise ModelError(
                f"{self.name} stream ended unexpectedly after {chars} characters (no finish_reason, no "
                "[DONE]); the text is incomplete; try again"
            )
        if usage is None:
            usage = Usage(prompt_tokens=self._prompt_estimate(messages), completion_tokens=deltas)
        yield Chunk(finish_reason=finish, usage=usage)

    def _json_body(self, response: httpx.Response, url: str) -> dict[str, Any]:
        return _parse_json(response.text, url)

    def _prompt_estimate(self, messages: list[Message]) -> int:
        return sum(self.count_tokens(m.content) for m in messages)

    # -- errors -------------------------------------------------------------------------------------

    def _transport_error(self, url: str, exc: httpx.TransportError, tries: int) -> ModelError:
        tried = f" (tried {tries} times)" if tries > 1 else ""
        if isinstance(exc, httpx.ConnectTimeout):
            return ModelError(
                f"cannot reach {url}: no connection within {min(self.timeout, MAX_CONNECT_TIMEOUT_S):g} s"
                f"{tried}; check the host and port, and that no firewall is in the way"
            )
        if isinstance(exc, httpx.ConnectError):
            reason = "connection refused" if "refused" in str(exc).lower() else _describe(exc)
            return ModelError(
                f"cannot reach {url}: {reason}{tried}; is the server running? "
                f"Start it, or fix the address in the model spec ({SPEC_PREFIX}<base_url>[#model])"
            )
        return ModelError(f"{url} dropped the connection ({_describe(exc)}){tried}; is the server healthy?")

    def _status_error(self, response: httpx.Response, url: str, tries: int) -> _StatusError:
        status = response.status_code
        said = _error_text(response)
        detail = f": {said}" if said else ""
        if status in (401, 403):
            hint = "" if self._sent_key else " (no key was sent)"
            text = f"{url} rejected the API key (HTTP {status}{detail}); set {KEY_ENV}{hint}"
        elif status == 404:
            text = (
                f"{url} was not found (HTTP 404{detail}); check the base URL (it usually ends in /v1) "
                f"and the model name {getattr(self, 'model', None)!r}"
            )
        elif status in RETRY_STATUS:
            tried = f" after {tries} tries" if tries > 1 else ""
            wait = _retry_after(response)
            asked = f"; it asks to retry after {wait:g} s" if wait and wait > MAX_RETRY_AFTER_S else ""
            text = f"{url} failed with HTTP {status}{tried}{detail}{asked}; the server is busy or broken"
        elif status < 500:
            text = f"{self.name} rejected the request (HTTP {status}){detail or ' with no explanation'}"
        else:
            text = f"{url} failed with HTTP {status}{detail}; check the server's log"
        return _StatusError(text, status, said)

    def _no_scoring(self, why: str) -> ModelError:
        return ModelError(
            f"scoring is not supported by this server ({self.name}): {why}; it needs /completions with "
            "echo and logprobs (vLLM does; llama-cpp-python needs --logits_all true), or use a local model"
        )


def _parse_json(text: str, url: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        sample = text[:80].replace("\n", " ")
        raise ModelError(
            f"{url} returned malformed JSON: {exc.msg} at char {exc.pos} in {sample!r}; "
            "is this an OpenAI-compatible endpoint?"
        ) from None
    if not isinstance(value, dict):
        raise ModelError(f"{url} returned JSON that is not an object; is this an OpenAI-compatible endpoint?")
    return value


def _first_choice(data: dict[str, Any], url: str) -> dict[str, Any]:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ModelError(f"{url} answered without any choices: {_error_text(data) or 'no detail'}")
    return choices[0]


def _usage(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    return Usage(
        prompt_tokens=int(value.get("prompt_tokens") or 0),
        completion_tokens=int(value.get("completion_tokens") or 0),
    )


def _error_text(source: httpx.Response | dict[str, Any]) -> str:
    """The server's own explanation, on one line: OpenAI-style, FastAPI-style or plain text."""
    if isinstance(source, httpx.Response):
        try:
            data: Any = source.json()
        except ValueError:
            return " ".join(source.text.split())[:200]
    else:
        data = source
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            data = error.get("message") or error
        elif error:
            data = error
        else:
            data = data.get("detail") or data.get("message") or ""
    return " ".join(str(data).split())[:300]


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(float(response.headers.get("retry-after", "")), 0.0)
    except ValueError:
        return None


def _aligned_offsets(tokens: list[str], prompt: str) -> list[int]:
    """Character offsets from token lengths, shifted past a leading token (e.g. BOS) not in the prompt."""
    offsets, position = [], 0
    for token in tokens:
        offsets.append(position)
        position += len(token)
    shift = "".join(tokens).find(prompt)
    return [o - max(shift, 0) for o in offsets]


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
