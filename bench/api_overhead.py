"""What the HTTP layer adds to an operation: the same call in-process vs over HTTP on loopback.

The server is a real uvicorn in a child process (so client and server do not share a GIL), serving
a fast fake model; the client keeps its connection alive, as API clients do. Runs alternate
(in-process, HTTP, in-process, ...) after a warm-up.

    python bench/api_overhead.py [--rounds 300]

Last line: JSON with overhead_p50_ms (goal <= 5): median HTTP time minus median in-process time for
`correct` on one sentence; stream_overhead_p50_ms is the same for a streamed `write` of 40 tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import httpx

from draftsmith.assistant import Assistant
from draftsmith.config import Settings
from draftsmith.models.fake import FakeModel

SENTENCE = "She go to school every day."
DRAFT = " ".join(f"word{i}" for i in range(40))
SETTINGS = Settings(model="fake", prefix_cache=False)


def fake_model() -> FakeModel:
    """Echoes text to correct; answers every other prompt with a fixed 40-token draft."""

    def respond(messages, params):
        from draftsmith.models.fake import echo_responder

        last = messages[-1].content
        return echo_responder(messages, params) if SENTENCE in last else DRAFT

    return FakeModel(respond)


def serve() -> None:
    """Child process: serve the fake model on an ephemeral loopback port, print the port."""
    import uvicorn

    from draftsmith.server import create_app

    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when the listening
    # socket says TCP, and without it every response waits ~40 ms for Nagle and delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    print(sock.getsockname()[1], flush=True)
    app = create_app(SETTINGS, fake_model())
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def stream_write(http: httpx.Client) -> str:
    with http.stream("POST", "/api/write", json={"instruction": "anything", "stream": True}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("event: done"):
                return line
    raise RuntimeError("stream ended without a done event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return

    env = {**os.environ, "DRAFTSMITH_HOME": tempfile.mkdtemp(prefix="draftsmith-bench-")}
    os.environ.update(env)
    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, env=env, text=True)
    try:
        port = int(child.stdout.readline())
        assistant = Assistant(fake_model(), settings=SETTINGS)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not become ready")
                time.sleep(0.05)

            def over_http() -> None:
                response = http.post("/api/correct", json={"text": SENTENCE})
                response.raise_for_status()

            cases = {
                "correct": (lambda: assistant.correct(SENTENCE), over_http),
                "stream": (
                    lambda: assistant.write("anything", on_text=lambda t: None),
                    lambda: stream_write(http),
                ),
            }
            results: dict[str, tuple[float, float]] = {}
            for name, (local, remote) in cases.items():
                for _ in range(args.warmup):
                    local()
                    remote()
                local_ms, remote_ms = [], []
                for _ in range(args.rounds):
                    local_ms.append(timed(local))
                    remote_ms.append(timed(remote))
                results[name] = (statistics.median(local_ms), statistics.median(remote_ms))
                p90 = statistics.quantiles(remote_ms, n=10)[-1]
                print(
                    f"{name:8} in-process p50 {results[name][0]:.2f} ms, HTTP p50 {results[name][1]:.2f} ms "
                    f"(p90 {p90:.2f} ms), {args.rounds} rounds"
                )
    finally:
        child.terminate()
        child.wait(10)
    local, remote = results["correct"]
    s_local, s_remote = results["stream"]
    print(
        json.dumps(
            {
                "overhead_p50_ms": round(remote - local, 3),
                "in_process_p50_ms": round(local, 3),
                "http_p50_ms": round(remote, 3),
                "stream_overhead_p50_ms": round(s_remote - s_local, 3),
                "rounds": args.rounds,
            }
        )
    )


if __name__ == "__main__":
    main()
