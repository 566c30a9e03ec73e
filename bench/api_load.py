"""Load: many concurrent streaming clients against a draftsmith server whose model is an OpenAI-compatible
upstream, all on loopback, for a fixed time.

Three processes: a fake upstream (Starlette + uvicorn) that streams ``--tokens`` tokens per answer at a fixed
``--rate`` per second per stream; a draftsmith server (``create_app`` under uvicorn, as ``draftsmith serve``
runs it) whose model is ``openai:<upstream>``, with room for every client (concurrency = clients, no per-key
stream cap: one client per user would be the real case); and this process, running ``--clients`` asyncio
clients that each stream ``/v1/chat/completions`` back to back. First the same clients go straight to the
upstream for ``--direct-s`` seconds (the baseline), then through draftsmith for ``--duration`` seconds.

    python bench/api_load.py [--clients 50] [--duration 120] [--rate 50] [--tokens 32]

Last line: JSON with ``errors`` (goal 0: failed requests and streams without [DONE]), ``p99_added_ms`` (the
larger of p99 time-to-first-token and p99 time-to-end through draftsmith minus the same straight to the
upstream), ``rss_growth_mb`` (the server's resident memory at the end minus after warm-up; goal < 50), and
the figures they come from.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = [{"role": "user", "content": "Write a short note about the weather."}]


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY on accept
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    print(sock.getsockname()[1], flush=True)
    return sock


def run_upstream(rate: float, tokens: int) -> None:
    """Child: a fake OpenAI-compatible server streaming ``tokens`` tokens at ``rate`` per second."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    interval = 1.0 / rate

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": "load", "object": "model", "created": 0}]})

    async def chat(request: Request) -> JSONResponse | StreamingResponse:
        body = await request.json()
        words = [f" w{i}" for i in range(tokens)]
        usage = {"prompt_tokens": 12, "completion_tokens": tokens, "total_tokens": 12 + tokens}
        if not body.get("stream"):
            await asyncio.sleep(interval * tokens)
            message = {"role": "assistant", "content": "".join(words)}
            return JSONResponse(
                {"id": "x", "object": "chat.completion", "created": 0, "model": "load",
                 "choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": usage}
            )  # fmt: skip

        async def events():
            for i, word in enumerate(words):
                await asyncio.sleep(interval)
                last = i == len(words) - 1
                choice = {"index": 0, "delta": {"content": word}, "finish_reason": "stop" if last else None}
                chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "load",
                         "choices": [choice]}  # fmt: skip
                if last:
                    chunk["usage"] = usage
                yield f"data: {json.dumps(chunk)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/v1/models", models), Route("/v1/chat/completions", chat, methods=["POST"])])
    sock = _listen()
    uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False)).run(sockets=[sock])


def run_server(upstream: str, clients: int) -> None:
    """Child: draftsmith serving ``openai:<upstream>``, limits sized for ``clients`` concurrent streams."""
    import uvicorn

    from draftsmith.config import Settings
    from draftsmith.server import ServerConfig, create_app

    settings = Settings(model=f"openai:{upstream}#load", prefix_cache=False, retries=0)
    config = ServerConfig(concurrency=min(clients, 64), queue_size=clients * 2, max_streams_per_key=0, sse_ping_s=0)
    app = create_app(settings, config=config)
    sock = _listen()
    uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False)).run(sockets=[sock])


def _child(*args: str, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, env=env, text=True, cwd=str(ROOT)
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def one_stream(client: httpx.AsyncClient, url: str) -> tuple[float, float]:
    """(time to first token, time to end) of one streamed chat completion, in ms; raises on any failure."""
    start = time.perf_counter()
    first = None
    done = False
    async with client.stream("POST", url, json={"messages": MESSAGES, "stream": True, "max_tokens": 64}) as r:
        if r.status_code != 200:
            raise RuntimeError(f"status {r.status_code}")
        async for line in r.aiter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                done = True
                break
            chunk = json.loads(data)
            if "error" in chunk:
                raise RuntimeError(chunk["error"].get("type", "error"))
            delta = (chunk.get("choices") or [{}])[0].get("delta", {}).get("content")
            if delta and first is None:
                first = time.perf_counter()
    if not done or first is None:
        raise RuntimeError("stream ended without [DONE]")
    return (first - start) * 1000, (time.perf_counter() - start) * 1000


async def load(base: str, clients: int, seconds: float) -> dict:
    url = f"{base}/v1/chat/completions"
    ttft: list[float] = []
    total: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)

    async def client_loop(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            try:
                first, end = await one_stream(client, url)
            except Exception as exc:
                kind = str(exc)[:60] or type(exc).__name__
                errors[kind] = errors.get(kind, 0) + 1
                await asyncio.sleep(0.1)
                continue
            ttft.append(first)
            total.append(end)

    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    return {"ttft": ttft, "total": total, "errors": errors}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load through draftsmith")
    parser.add_argument("--direct-s", type=float, default=None, help="seconds straight to the upstream (baseline)")
    parser.add_argument("--rate", type=float, default=50.0, help="upstream tokens per second per stream")
    parser.add_argument("--tokens", type=int, default=32, help="tokens per answer")
    parser.add_argument("--upstream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--server", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        return run_upstream(args.rate, args.tokens)
    if args.server:
        return run_server(args.server, args.clients)

    import tempfile

    home = tempfile.mkdtemp(prefix="draftsmith-load-")
    env = {**os.environ, "DRAFTSMITH_HOME": home, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    up, up_port = _child("--upstream", "--rate", str(args.rate), "--tokens", str(args.tokens), env=env)
    upstream = f"http://127.0.0.1:{up_port}/v1"
    server, port = _child("--server", upstream, "--clients", str(args.clients), env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        direct_s = args.direct_s if args.direct_s is not None else min(max(args.duration / 4, 10), 30)
        direct = asyncio.run(load(f"http://127.0.0.1:{up_port}", args.clients, direct_s))
        asyncio.run(load(base, args.clients, 5))  # warm-up: pools, imports, caches
        before = rss_mb(server.pid)
        through = asyncio.run(load(base, args.clients, args.duration))
        after = rss_mb(server.pid)
    finally:
        for proc in (server, up):
            proc.terminate()
            proc.wait(10)
    errors = sum(through["errors"].values())
    added_first = pct(through["ttft"], 0.99) - pct(direct["ttft"], 0.99)
    added_end = pct(through["total"], 0.99) - pct(direct["total"], 0.99)
    result = {
        "clients": args.clients,
        "duration_s": args.duration,
        "upstream_tokens_per_s": args.rate,
        "tokens_per_answer": args.tokens,
        "requests": len(through["total"]),
        "errors": errors,
        "error_kinds": through["errors"],
        "direct_errors": sum(direct["errors"].values()),
        "direct_p99_ttft_ms": round(pct(direct["ttft"], 0.99), 1),
        "direct_p99_total_ms": round(pct(direct["total"], 0.99), 1),
        "p50_ttft_ms": round(pct(through["ttft"], 0.5), 1),
        "p99_ttft_ms": round(pct(through["ttft"], 0.99), 1),
        "p99_total_ms": round(pct(through["total"], 0.99), 1),
        "p99_added_ttft_ms": round(added_first, 1),
        "p99_added_total_ms": round(added_end, 1),
        "p99_added_ms": round(max(added_first, added_end), 1),
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        "rss_growth_mb": round(after - before, 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
