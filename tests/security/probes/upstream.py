"""A small OpenAI-compatible upstream on loopback for the probes that need a model behind the server: one
that is slow (streams held open), one that hangs (timeouts), one that echoes the key it was sent in its
error message (as some providers do), and one that records every request (was the upstream key sent, was
any other address contacted). A marker in the last messages picks the behaviour."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "probe-model"
SLOW = "probe:slow"  # 40 tokens, 50 ms apart
HANG = "probe:hang"  # no answer for 60 s
LEAK = "probe:leak"  # 401 quoting the Authorization header it received


class Upstream:
    def __init__(self, key: str) -> None:
        self.key = key
        self.requests: list[dict[str, Any]] = []
        upstream = self

        class Handler(_Handler):
            owner = upstream

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def spec(self) -> str:
        return f"openai:{self.url}#{MODEL}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    owner: Upstream
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.owner.requests.append({"path": self.path, "authorization": self.headers.get("Authorization")})
        self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        auth = self.headers.get("Authorization") or ""
        self.owner.requests.append({"path": self.path, "authorization": auth, "body": body})
        text = " ".join(str(m.get("content", "")) for m in body.get("messages", [])[-2:])
        if auth != f"Bearer {self.owner.key}":
            self._json(401, {"error": {"message": f"Incorrect API key provided: {auth}", "type": "auth"}})
            return
        if LEAK in text:
            message = f"Incorrect API key provided: {auth.removeprefix('Bearer ')}. You can find your key at …"
            self._json(401, {"error": {"message": message, "type": "invalid_request_error"}})
            return
        if HANG in text:
            time.sleep(60)
            return
        tokens, delay = (["tick"] * 40, 0.05) if SLOW in text else (["fine", " words"], 0.0)
        if not body.get("stream"):
            usage = {"prompt_tokens": 5, "completion_tokens": len(tokens), "total_tokens": 5 + len(tokens)}
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": " ".join(tokens)},
                "finish_reason": "stop",
            }
            self._json(200, {"id": "x", "object": "chat.completion", "choices": [choice], "usage": usage})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for token in tokens:
                time.sleep(delay)
                self._event({"choices": [{"index": 0, "delta": {"content": token + " "}, "finish_reason": None}]})
            self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            usage = {"prompt_tokens": 5, "completion_tokens": len(tokens), "total_tokens": 5 + len(tokens)}
            self._event({"choices": [], "usage": usage})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except OSError:  # the server stopped reading: the stream was cancelled
            pass
        self.close_connection = True

    def _event(self, data: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _json(self, status: int, data: dict[str, Any]) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)
