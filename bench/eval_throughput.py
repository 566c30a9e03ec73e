"""Eval throughput against an OpenAI-compatible server: concurrency 1 vs N, same items, same outputs.

    python bench/eval_throughput.py                         # a fake upstream streaming at a fixed rate
    python bench/eval_throughput.py --upstream llama        # llama-cpp-python's server on the bundled 0.5B

The fake upstream (stdlib ``ThreadingHTTPServer``) answers ``/v1/chat/completions`` by streaming the user's text
back word by word, one token every ``--token-ms`` ms, each request on its own thread: a server that is never the
bottleneck, like a vLLM server with spare batch capacity. So the figure measures draftsmith's side: the runner's
thread pool, the HTTP client and the store's per-item commits. ``--upstream llama`` starts
``python -m llama_cpp.server`` instead; on a CPU it serves one request at a time, so expect a speedup near 1.

The data set is ``--items`` correction items (task ``correct``, scored with GLEU and chrF, every item committed to
a fresh SQLite store). Last line: JSON with ``concurrency_speedup`` (goal ≥ 6 with the fake upstream), both wall
times, items per second, and whether both runs stored identical outputs and aggregates.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from draftsmith.evaluation.runner import EvalConfig, run_eval
from draftsmith.models.openai_compat import OpenAICompatModel
from draftsmith.store import runs
from draftsmith.store.db import Store

SENTENCES = [
    "She go to school every day and she like it very much.",
    "I has two brother and one sister who lives in London.",
    "Yesterday we goes to the market to buy some fresh vegetable.",
    "He don't know the answer, but he try his best anyway.",
    "The childrens was playing in the park when it start raining.",
    "My teacher say that reading book is good for everyone.",
    "They was very happy because their team win the match.",
    "There is many reasons why people moves to big cities.",
]


def fake_upstream(token_s: float) -> tuple[ThreadingHTTPServer, str]:
    """An OpenAI-compatible server that streams the last user message's text back at a fixed rate."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # quiet
            pass

        def do_GET(self):
            body = json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            text = request["messages"][-1]["content"].rsplit("Text:\n", 1)[-1]
            words = text.split(" ")
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i, word in enumerate(words):
                time.sleep(token_s)
                piece = word if i == 0 else " " + word
                self._event({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
            self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            usage = {"prompt_tokens": len(request["messages"][-1]["content"]) // 4, "completion_tokens": len(words)}
            self._event({"choices": [], "usage": usage})
            self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")

        def _event(self, payload):
            self._chunk(f"data: {json.dumps(payload)}\n\n".encode())

        def _chunk(self, data: bytes):
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):  # a client closing its keep-alive socket is fine
            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def llama_upstream() -> tuple[subprocess.Popen, str]:
    from draftsmith.models.loader import resolve_gguf

    path = resolve_gguf("qwen2.5-0.5b")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--port", str(port), "--n_ctx", "4096"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("llama_cpp.server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", choices=["fake", "llama"], default="fake")
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--token-ms", type=float, default=20.0, help="fake upstream: ms per streamed token")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DRAFTSMITH_HOME"] = str(Path(tmp, "home"))
        data = Path(tmp, "items.jsonl")
        with data.open("w", encoding="utf-8") as fh:
            for i in range(args.items):
                src = SENTENCES[i % len(SENTENCES)]
                fh.write(json.dumps({"id": f"i{i}", "source": src, "references": [src], "lang": "en"}) + "\n")
        if args.upstream == "fake":
            server, url = fake_upstream(args.token_ms / 1000)
            stop = server.shutdown
        else:
            proc, url = llama_upstream()
            stop = proc.kill
        try:
            model = OpenAICompatModel(url, None, timeout=600)
            store = Store(f"sqlite:///{Path(tmp, 'runs.db')}")
            results = {}
            warm = EvalConfig(task="correct", data=str(data), model=model.name, limit=2)
            run_eval(store, model, warm)  # first use imports the metric packages; keep that out of the timing
            for concurrency in (1, args.concurrency):
                cfg = EvalConfig(task="correct", data=str(data), model=model.name, concurrency=concurrency)
                start = time.perf_counter()
                run = run_eval(store, model, cfg)
                wall = time.perf_counter() - start
                outputs = [r.output for r in runs.get_items(store, run.id)]
                results[concurrency] = (wall, run, outputs)
                print(f"concurrency {concurrency:3d}: {wall:7.2f} s, {args.items / wall:6.2f} items/s", file=sys.stderr)
            model.close()
            store.close()
        finally:
            stop()
    (wall_1, run_1, out_1), (wall_n, run_n, out_n) = results[1], results[args.concurrency]
    print(
        json.dumps(
            {
                "upstream": args.upstream,
                "items": args.items,
                "concurrency": args.concurrency,
                "token_ms": args.token_ms if args.upstream == "fake" else None,
                "wall_s_c1": round(wall_1, 3),
                f"wall_s_c{args.concurrency}": round(wall_n, 3),
                "items_per_s_c1": round(args.items / wall_1, 3),
                f"items_per_s_c{args.concurrency}": round(args.items / wall_n, 3),
                "concurrency_speedup": round(wall_1 / wall_n, 3),
                "same_outputs": out_1 == out_n,
                "same_aggregates": run_1.aggregates["metrics"] == run_n.aggregates["metrics"],
            }
        )
    )


if __name__ == "__main__":
    main()
