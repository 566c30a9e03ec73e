"""A small OpenAI-compatible server on 127.0.0.1 for tests, with scripted failures.

Each request takes the next behaviour from ``script`` (``"ok"`` once it is empty):

- ``ok``: a normal answer (SSE when the request asks to stream).
- ``echo``: the last message's text as the answer, streamed a word (or punctuation mark) per event.
- ``no_usage``: a stream without the usage chunk.
- ``malformed``: a broken JSON line in a stream, or a broken JSON body.
- ``die``: a stream that sends two tokens, then the connection drops mid-body.
- ``no_done``: a stream that sends two tokens and ends cleanly without finish_reason or [DONE].
- ``status:<code>``: that HTTP status with an OpenAI-style error body (429 adds ``Retry-After: 0``).
- ``hang:<seconds>``: wait before answering.
- ``no_offsets``: /completions logprobs without ``text_offset``.
- ``no_echo``: /completions that ignores echo and returns no logprobs.
- ``echo_unsupported``: /completions answers 400 "echo is not supported with logprobs".
- ``logits_all_off``: /completions answers 500 as llama-cpp-python does when started without logits_all.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKENS = ["Hello", ",", " world", "!"]
JSON_TOKENS = ['{"title": ', '"Draft"', ', "words": 3}']
USAGE = {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11}
MODELS = ["fake-model", "other-model"]
GENERATED = " and"  # the one token /completions generates after an echoed prompt


def tokenize(text: str) -> list[str]:
    """Words with their leading space, and punctuation: enough to test offset alignment."""
    return re.findall(r" ?\w+| ?[^\w ]| +", text)


def fake_logprob(index: int) -> float | None:
    """The fake's log-probability for the token at ``index``; the first token has none, as in OpenAI."""
    return None if index == 0 else -(index + 1) / 10


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None


@dataclass
class FakeOpenAI:
    script: deque[str] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def queue(self, *behaviours: str) -> None:
        self.script.extend(behaviours)

    def reset(self) -> None:
        self.script.clear()
        self.requests.clear()

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def next_behaviour(self) -> str:
        return self.script.popleft() if self.script else "ok"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_fake: FakeOpenAI

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._handle(None)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._handle(json.loads(raw) if raw else None)

    def _handle(self, body: Any) -> None:
        fake = self.server_fake
        path = self.path.removeprefix("/v1")
        fake.requests.append(Recorded(self.command, path, {k.lower(): v for k, v in self.headers.items()}, body))
        behaviour = fake.next_behaviour()
        try:
            if behaviour.startswith("hang:"):
                if fake._stop.wait(float(behaviour[5:])):
                    return
                behaviour = "ok"
            if behaviour.startswith("status:"):
                self._error(int(behaviour[7:]))
            elif self.command == "GET" and path == "/models":
                self._json({"object": "list", "data": [{"id": m, "object": "model"} for m in MODELS]})
            elif path == "/chat/completions":
                self._chat(body, behaviour)
            elif path == "/completions":
                self._completion(body, behaviour)
            else:
                self._error(404)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # -- answers --------------------------------------------------------------------------------------

    def _chat(self, body: dict[str, Any], behaviour: str) -> None:
        tokens = JSON_TOKENS if body.get("response_format") else TOKENS
        if behaviour == "echo":
            tokens = tokenize(str(body["messages"][-1]["content"]))
        if not body.get("stream"):
            if behaviour == "malformed":
                self._raw(200, b'{"choices": [ {"message": oops', "application/json")
                return
            message = {"role": "assistant", "content": "".join(tokens)}
            self._json(
                {
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": USAGE,
                }
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._event({"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
        for i, token in enumerate(tokens):
            if behaviour in ("die", "no_done") and i == 2:
                if behaviour == "die":
                    self.wfile.write(b'40\r\ndata: {"choices": [{"delta"')  # half a chunk, then gone
                    self.wfile.flush()
                    self.close_connection = True
                else:
                    self.wfile.write(b"0\r\n\r\n")
                return
            if behaviour == "malformed" and i == 2:
                self._chunk(b'data: {"choices": [{"delta": {"content": "wor\n\n')
                continue
            self._event({"choices": [{"index": 0, "delta": {"content": token}, "finish_reason": None}]})
        self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if behaviour != "no_usage" and (body.get("stream_options") or {}).get("include_usage"):
            self._event({"choices": [], "usage": USAGE})
        self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _completion(self, body: dict[str, Any], behaviour: str) -> None:
        if behaviour == "echo_unsupported":
            self._error(400, "echo is not supported with logprobs")
            return
        if behaviour == "logits_all_off":
            self._error(500, "logprobs is not supported for models created with logits_all=False")
            return
        prompt = body["prompt"]
        tokens = [*tokenize(prompt), GENERATED] if body.get("echo") else [GENERATED]
        offsets, position = [], 0 if body.get("echo") else len(prompt)
        for token in tokens:
            offsets.append(position)
            position += len(token)
        logprobs: dict[str, Any] | None = {
            "tokens": tokens,
            "token_logprobs": [fake_logprob(i) for i in range(len(tokens))],
            "top_logprobs": [None for _ in tokens],
            "text_offset": offsets,
        }
        if behaviour == "no_offsets":
            del logprobs["text_offset"]
        if behaviour == "no_echo":
            logprobs = None
        text = prompt + GENERATED if body.get("echo") else GENERATED
        self._json(
            {
                "object": "text_completion",
                "choices": [{"index": 0, "text": text, "logprobs": logprobs, "finish_reason": "length"}],
                "usage": {"prompt_tokens": len(tokens) - 1, "completion_tokens": 1},
            }
        )

    def _error(self, status: int, message: str | None = None) -> None:
        message = message or {401: "Incorrect API key provided", 404: "no such route"}.get(
            status, f"fake failure {status}"
        )
        headers = {"Retry-After": "0"} if status == 429 else {}
        body = json.dumps({"error": {"message": message, "type": "fake", "code": status}}).encode()
        self._raw(status, body, "application/json", headers)

    # -- wire helpers ---------------------------------------------------------------------------------

    def _json(self, payload: Any) -> None:
        self._raw(200, json.dumps(payload).encode(), "application/json")

    def _raw(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _event(self, payload: Any) -> None:
        self._chunk(f"data: {json.dumps(payload)}\n\n".encode())

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()
