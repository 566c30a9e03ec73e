"""Throughput of 1, 2 and 4 `draftsmith serve` processes behind one entry point, and one key's rate limit across them.

Each server is a real `draftsmith serve --model fake` child process on its own loopback port; the entry point
is client-side round robin over the ports (request i goes to port i mod N). The work is CPU-bound: POST
/api/check (grammar and spelling detectors, no model) on a ~2,500-word text with a few mistakes. The client sends with
keep-alive from threads (http.client) and never parses the answers, so it costs little next to the servers.

    python bench/scale_workers.py [--seconds 8] [--concurrency 8] [--limit 20]

Phases, one after the other, each warmed up then loaded for --seconds:
- N = 1, 2, 4 servers without users (loopback needs no key), so requests never touch the store;
- N = 1, 2, 4 servers sharing one SQLite store with keys: every request authenticates and takes one request
  from its key's bucket (a write transaction), as on a shared server; with N = 2 and 4, a key allowed
  --limit requests per minute also gets 3 × limit requests at once, round robin.

Last line: JSON with rps_1w/2w/4w, scale_2w = rps_2w ÷ rps_1w (goal ≥ 1.7 on 2 cores), scale_4w (report;
more processes than cores), the same with keys (rps_*_keyed, scale_2w_keyed), limit_overshoot = requests
admitted beyond the key's limit (the burst plus what refilled while it ran), summed over the N = 2 and 4 runs
(goal 0), server_cpu_ms_per_request_* (the servers' CPU time per answered request, from /proc: flat
across N means the work itself scales, whatever else the machine is running), the load average before and
after, and the number of cores. Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx

CLEAN = (
    "The committee met on a quiet morning in the old library beside the river. Members read the report "
    "carefully, asked questions about the budget and agreed to publish a summary before the summer. "
)
MISTAKES = "Their is a problem with the the report that we was writing, becuase the last section were missing. "


def text(words: int = 2500) -> str:
    """Mostly clean prose with a mistake every ~300 words: much checking work, a small answer to read."""
    paragraphs, count = [], 0
    while count < words:
        paragraph = CLEAN * 9 + MISTAKES
        paragraphs.append(paragraph.strip())
        count += len(paragraph.split())
    return "\n\n".join(paragraphs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@contextlib.contextmanager
def servers(count: int, env: dict[str, str], timeout: float = 90) -> Iterator[tuple[list[str], list[int]]]:
    """``count`` `draftsmith serve` processes on free loopback ports; yields their base URLs and pids."""
    procs, urls = [], []
    try:
        for _ in range(count):
            port = free_port()
            command = [sys.executable, "-c", "from draftsmith.cli import entry; entry()", "serve", "--model", "fake"]
            command += ["--port", str(port), "--queue-size", "64", "--log-level", "warning", "--drain-timeout", "2"]
            procs.append(
                subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            )
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + timeout
        for proc, url in zip(procs, urls, strict=True):
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server {url} exited: {proc.stderr.read()[-2000:]}")  # type: ignore[union-attr]
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server {url} did not get ready in {timeout:g} s")
                time.sleep(0.2)
        yield urls, [proc.pid for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def throughput(
    urls: list[str], pids: list[int], key: str | None, body: dict[str, str], seconds: float, concurrency: int
) -> tuple[float, float, float]:
    """Requests per second answered 200 with ``concurrency`` client threads, round robin over ``urls``, and
    the CPU milliseconds per request spent by the servers and by this client."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    counter = iter(range(10**9))
    lock = threading.Lock()
    done = {"ok": 0, "bad": 0}
    payload = json.dumps(body).encode()
    sent = {"content-type": "application/json", **headers}

    def worker(stop_at: float, count: bool) -> None:
        # http.client, not httpx: a keep-alive connection per server at a fraction of the client CPU
        addresses = [url.removeprefix("http://").split(":") for url in urls]
        connections = [http.client.HTTPConnection(host, int(port), timeout=60) for host, port in addresses]
        try:
            while time.monotonic() < stop_at:
                with lock:
                    i = next(counter)
                connection = connections[i % len(urls)]
                try:
                    connection.request("POST", "/api/check", body=payload, headers=sent)
                    response = connection.getresponse()
                except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                    connection.close()  # the server closed an idle keep-alive connection: reconnect once
                    connection.request("POST", "/api/check", body=payload, headers=sent)
                    response = connection.getresponse()
                response.read()
                if count:
                    with lock:
                        done["ok" if response.status == 200 else "bad"] += 1
        finally:
            for connection in connections:
                connection.close()

    for url in urls:  # the first check in a process loads the dictionaries: seconds, not part of the measure
        httpx.post(f"{url}/api/check", json=body, headers=headers, timeout=120).raise_for_status()
    warm = time.monotonic() + 1.5
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: worker(warm, False), range(concurrency)))
    start, server_cpu, client_cpu = time.monotonic(), cpu_seconds(pids), time.process_time()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: worker(start + seconds, True), range(concurrency)))
    elapsed = time.monotonic() - start
    server_cpu, client_cpu = cpu_seconds(pids) - server_cpu, time.process_time() - client_cpu
    if done["bad"]:
        print(f"  {done['bad']} requests were not answered 200", file=sys.stderr)
    answered = max(done["ok"], 1)
    return done["ok"] / elapsed, 1000 * server_cpu / answered, 1000 * client_cpu / answered


def burst(urls: list[str], key: str, limit: int) -> tuple[int, int, float]:
    """3 × limit requests at once with a key limited to ``limit`` per minute: (admitted, allowed, seconds)."""
    headers = {"authorization": f"Bearer {key}"}

    def one(i: int) -> int:
        return httpx.get(f"{urls[i % len(urls)]}/api/templates", headers=headers, timeout=60).status_code

    start = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(one, range(3 * limit)))
    elapsed = time.monotonic() - start
    unexpected = set(codes) - {200, 429}
    if unexpected:
        raise RuntimeError(f"unexpected answers {sorted(unexpected)}")
    allowed = limit + int(elapsed * limit / 60)  # the burst, plus what refilled while it ran
    return codes.count(200), allowed, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per phase")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--limit", type=int, default=20, help="requests per minute of the limited key")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still stops the servers (finally)

    from draftsmith.store import accounts
    from draftsmith.store.db import Store

    def home() -> tuple[dict[str, str], Store]:
        path = tempfile.mkdtemp(prefix="draftsmith-scale-")
        return {**os.environ, "DRAFTSMITH_HOME": path}, Store(f"sqlite:///{path}/data/draftsmith.db")

    body = {"text": text(), "lang": "en"}
    cores = os.cpu_count() or 1
    before = load()
    print(f"{cores} cores, load average {before} before", file=sys.stderr)
    rps: dict[str, float] = {}
    cpu: dict[str, float] = {}
    overshoot, bursts = 0, {}
    open_env, _ = home()  # no users: loopback without keys, so no request touches the store
    for count in (1, 2, 4):
        with servers(count, open_env) as (urls, pids):
            rps[f"{count}w"], cpu[f"{count}w"], client_ms = throughput(
                urls, pids, None, body, args.seconds, args.concurrency
            )
            print(
                f"{count} server(s): {rps[f'{count}w']:.1f} requests/s, {cpu[f'{count}w']:.1f} server CPU ms and "
                f"{client_ms:.1f} client CPU ms per request (load {load()})",
                file=sys.stderr,
            )
    keyed_env, store = home()  # with keys: every request reads its key and takes from its bucket in SQLite
    accounts.add_user(store, "load", requests_per_minute=0)
    fast_key, _ = accounts.create_key(store, "load")
    for count in (1, 2, 4):
        with servers(count, keyed_env) as (urls, pids):
            rps[f"{count}w_keyed"], cpu[f"{count}w_keyed"], _ = throughput(
                urls, pids, fast_key, body, args.seconds, args.concurrency
            )
            print(f"{count} server(s), keyed: {rps[f'{count}w_keyed']:.1f} requests/s", file=sys.stderr)
            if count > 1:
                name = f"limited{count}"
                accounts.add_user(store, name, requests_per_minute=args.limit)
                key, _ = accounts.create_key(store, name)
                admitted, allowed, took = burst(urls, key, args.limit)
                overshoot += max(admitted - allowed, 0)
                bursts[f"{count}w"] = {"admitted": admitted, "allowed": allowed, "seconds": round(took, 2)}
                print(f"  limit {args.limit}/min: {admitted} of {3 * args.limit} admitted", file=sys.stderr)
    store.close()
    after = load()
    result = {
        "route": "/api/check",
        **{f"rps_{k}": round(v, 1) for k, v in rps.items()},
        "scale_2w": round(rps["2w"] / rps["1w"], 2),
        "scale_4w": round(rps["4w"] / rps["1w"], 2),
        "scale_2w_keyed": round(rps["2w_keyed"] / rps["1w_keyed"], 2),
        **{f"server_cpu_ms_per_request_{k}": round(v, 1) for k, v in cpu.items()},
        "limit_overshoot": overshoot,
        "bursts": bursts,
        "cores": cores,
        "load_before": before,
        "load_after": after,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
