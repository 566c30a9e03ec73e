"""Group 6, unbounded consumption: body and header sizes, sampling values (422 on /api and /v1), the
max_tokens cap for every key, deeply nested JSON, the per-key limit on concurrent streams, the bounded
queue, and the timeout on upstream calls. The last three need the relay (a server whose model is a slow
upstream)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from .core import Findings, Target, bearer, error_type
from .upstream import HANG, SLOW

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "hi"}]
API_SAMPLING: list[tuple[str, dict[str, Any]]] = [
    ("temperature 999999", {"temperature": 999999}),
    ("temperature -1", {"temperature": -1}),
    ("temperature NaN", {"temperature": "NaN"}),
    ("temperature inf", {"temperature": "Infinity"}),
    ("top_p -1", {"top_p": -1}),
    ("n 10^6", {"n": 10**6}),
    ("max_tokens -1", {"max_tokens": -1}),
    ("max_tokens 0", {"max_tokens": 0}),
    ("max_tokens 2^63", {"max_tokens": 2**63}),
    ("seed 2^70", {"seed": 2**70}),
    ("length 10^9", {"length": 10**9}),
]
V1_SAMPLING: list[tuple[str, dict[str, Any]]] = [
    ("temperature 999999", {"temperature": 999999}),
    ("temperature NaN", {"temperature": "NaN"}),
    ("top_p -1", {"top_p": -1}),
    ("top_p 0", {"top_p": 0}),
    ("top_p 2", {"top_p": 2}),
    ("n 10^6", {"n": 10**6}),
    ("max_tokens -1", {"max_tokens": -1}),
    ("max_completion_tokens -1", {"max_completion_tokens": -1}),
    ("top_k 10^6", {"top_k": 10**6}),
    ("repeat_penalty 1e9", {"repeat_penalty": 1e9}),
    ("presence_penalty 1e9", {"presence_penalty": 1e9}),
    ("1000 stop strings", {"stop": ["x"] * 1000}),
    ("10000 messages", {"messages": MESSAGES * 10_000}),
]


def _alive(client: httpx.Client) -> bool:
    try:
        return client.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def unbounded_requests(t: Target) -> Findings:
    f = Findings("consumption")
    limit, cap = t.config.max_body_bytes, t.config.max_tokens_cap
    with t.client(t.keys.alice) as client:
        for path in ("/api/write", CHAT, "/api/documents"):
            over = b'{"text": "' + b"a" * limit + b'"}'
            r = client.post(path, content=over, headers={"Content-Type": "application/json"})
            f.check(r.status_code == 413, f"POST {path} with {len(over):,} bytes (Content-Length): {r.status_code}")

            def chunks(data: bytes = over):
                for i in range(0, len(data), 65536):
                    yield data[i : i + 65536]

            r = client.post(path, content=chunks(), headers={"Content-Type": "application/json"})
            f.check(r.status_code == 413, f"POST {path} with {len(over):,} bytes (chunked): {r.status_code}")
        r = client.post("/api/write", json={"instruction": "a" * (limit // 2)})
        f.check(r.status_code != 413, f"a body under the limit was refused ({r.status_code}); the 413s prove nothing")
        too_long = {"title": "big", "text": "a" * (t.config.max_document_chars + 1)}
        if len(too_long["text"]) < limit:
            r = client.post("/api/documents", json=too_long)
            f.check(r.status_code == 413, f"a document over max_document_chars: {r.status_code}")
        for depth in (1000, 100_000):
            nested = b'{"instruction": ' + b"[" * depth + b"]" * depth + b"}"
            r = client.post("/api/write", content=nested, headers={"Content-Type": "application/json"})
            f.check(r.status_code in (400, 413, 422), f"JSON nested {depth} deep: {r.status_code}, expected 4xx")
        for what, extra in API_SAMPLING:
            r = client.post("/api/write", json={"instruction": "x", **extra})
            f.check(r.status_code == 422, f"POST /api/write with {what}: {r.status_code}, expected 422")
        for what, extra in V1_SAMPLING:
            r = client.post(CHAT, json={"messages": MESSAGES, **extra})
            f.check(r.status_code == 422, f"POST {CHAT} with {what}: {r.status_code}, expected 422")
        f.check(_alive(client), "the server stopped answering after the body probes")
    for name, key in (("alice", t.keys.alice), ("bob", t.keys.bob), ("admin", t.keys.admin)):
        for header in (bearer(key), {"X-API-Key": key}):
            with t.client() as client:
                for path, body in (("/api/write", {"instruction": "x"}), (CHAT, {"messages": MESSAGES})):
                    for field in ("max_tokens", "max_completion_tokens") if path == CHAT else ("max_tokens",):
                        r = client.post(path, json={**body, field: cap + 1}, headers=header)
                        f.check(r.status_code == 422, f"{path} {field}={cap + 1} as {name}: {r.status_code}")
                    r = client.post(path, json={**body, "max_tokens": cap}, headers=header)
                    f.check(r.status_code == 200, f"{path} max_tokens={cap} (the cap) as {name}: {r.status_code}")
    per_key_caps(t, f)
    header_limits(t, f)
    return f


def per_key_caps(t: Target, f: Findings) -> None:
    """A key's (or its user's) own max_tokens cap, below the server's, is enforced the same way: 422 above it,
    200 at it, on /api and /v1, whichever header carries the key."""
    import secrets

    from draftsmith.store import accounts

    tag = secrets.token_hex(3)
    accounts.add_user(t.store, f"capped-{tag}", requests_per_minute=0, max_tokens=48)
    by_user, _ = accounts.create_key(t.store, f"capped-{tag}")
    by_key, _ = accounts.create_key(t.store, f"capped-{tag}", max_tokens=32)
    for who, key, cap in (("the user's cap", by_user, 48), ("the key's cap", by_key, 32)):
        for header in (bearer(key), {"X-API-Key": key}):
            with t.client() as client:
                for path, body in (("/api/write", {"instruction": "x"}), (CHAT, {"messages": MESSAGES})):
                    for field in ("max_tokens", "max_completion_tokens") if path == CHAT else ("max_tokens",):
                        r = client.post(path, json={**body, field: cap + 1}, headers=header)
                        f.check(r.status_code == 422, f"{path} {field}={cap + 1} over {who} ({cap}): {r.status_code}")
                    r = client.post(path, json={**body, "max_tokens": cap}, headers=header)
                    f.check(r.status_code == 200, f"{path} max_tokens={cap} (at {who}): {r.status_code}")


def header_limits(t: Target, f: Findings) -> None:
    """A huge header, and very many headers, are refused before any route runs; the server stays up; headers
    of an ordinary size (a long cookie) pass."""
    with t.client(t.keys.alice) as client:
        r = client.get("/api/documents", headers={"Cookie": "c=" + "a" * 8000})
        f.check(r.status_code == 200, f"an 8 KB cookie was refused ({r.status_code}); the refusals prove nothing")
    for what, headers in (
        ("one 100 KB header", {"X-Padding": "a" * 100_000}),
        ("1000 headers", {f"X-Pad-{i}": "a" * 100 for i in range(1000)}),
    ):
        with t.client(t.keys.alice, timeout=10) as client:
            try:
                status: int | str = client.get("/api/documents", headers=headers).status_code
            except httpx.HTTPError as exc:  # the server closed the connection: refused too
                status = type(exc).__name__
            f.check(status in (400, 431) or isinstance(status, str), f"{what}: {status}, expected a refusal")
            f.check(_alive(client), f"the server stopped answering after {what}")


def _start_stream(t: Target, key: str, results: list[Any], opened: threading.Event, stop: threading.Event) -> None:
    body = {"instruction": f"count {SLOW}", "stream": True}
    try:
        with (
            t.client(key, timeout=30) as client,
            client.stream("POST", "/api/write", json=body) as response,
        ):
            results.append(response.status_code)
            if response.status_code != 200:
                response.read()
                results.append(error_type(response))
            opened.set()
            stop.wait(30)
    except httpx.HTTPError as exc:
        results.append(type(exc).__name__)
        opened.set()


def stream_limits(relay: Target) -> Findings:
    """alice opens as many slow streams as her key may; one more is refused with 429, bob's is not; once hers
    are closed she may stream again."""
    f = Findings("consumption-streams")
    limit = relay.config.max_streams_per_key
    f.check(limit > 0, "the server runs without a per-key stream limit")
    stop = threading.Event()
    threads, results = [], []
    for _ in range(limit):
        result: list[Any] = []
        opened = threading.Event()
        thread = threading.Thread(target=_start_stream, args=(relay, relay.keys.alice, result, opened, stop))
        thread.start()
        threads.append(thread)
        results.append(result)
    depth = relay.wait_for_queue(at_least=limit)
    f.check(depth >= limit, f"alice's {limit} streams did not all reach the server (queue depth {depth})")
    try:
        with relay.client(relay.keys.alice, timeout=2) as client:
            for path, body in (
                ("/api/write", {"instruction": f"one more {SLOW}", "stream": True}),
                (CHAT, {"messages": [{"role": "user", "content": SLOW}], "stream": True}),
            ):
                try:
                    r = client.post(path, json=body)
                except httpx.TimeoutException:  # admitted and waiting for the model: not refused
                    f.check(False, f"stream {limit + 1} of one key on {path} was admitted, expected 429")
                    continue
                f.check(r.status_code == 429, f"stream {limit + 1} of one key on {path}: {r.status_code}, expected 429")
                f.check(error_type(r) == "too_many_streams", f"stream {limit + 1} on {path}: {error_type(r)}")
                f.check("retry-after" in r.headers, f"the stream limit's 429 on {path} has no Retry-After")
        bob: list[Any] = []
        bob_open = threading.Event()
        bob_stop = threading.Event()
        bob_thread = threading.Thread(target=_start_stream, args=(relay, relay.keys.bob, bob, bob_open, bob_stop))
        bob_thread.start()
        bob_open.wait(1.5)  # bob's stream is queued behind alice's (no answer yet) or running; never refused
        f.check(429 not in bob, f"bob's stream was refused while alice held her streams: {bob}")
        bob_stop.set()
    finally:
        stop.set()
        for thread in threads:
            thread.join(35)
    bob_thread.join(35)
    deadline = time.monotonic() + 20
    status = None
    while time.monotonic() < deadline:
        with relay.client(relay.keys.alice) as client:
            status = client.post("/api/write", json={"instruction": "again", "stream": True}).status_code
        if status == 200:
            break
        time.sleep(0.5)
    f.check(status == 200, f"alice's closed streams were not given back ({status} 20 s later)")
    return f


def queue_and_timeouts(relay: Target) -> Findings:
    """Many slow requests at once: the queue refuses the surplus with 429 + Retry-After at once; an upstream
    that never answers ends in 502 within the server's request timeout."""
    f = Findings("consumption-queue")
    capacity = relay.config.concurrency + relay.config.queue_size
    statuses: list[Any] = []
    lock = threading.Lock()

    def slow_call() -> None:
        try:
            with relay.client(relay.keys.admin, timeout=2) as client:
                r = client.post("/api/write", json={"instruction": f"wait {SLOW}"})
                status: Any = (r.status_code, r.headers.get("retry-after"))
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        with lock:
            statuses.append(status)

    relay.wait_for_queue(empty=True)
    threads = [threading.Thread(target=slow_call) for _ in range(capacity + 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    busy = [s for s in statuses if isinstance(s, tuple) and s[0] == 429]
    f.check(len(busy) >= 3, f"{capacity + 3} slow requests on a queue of {capacity}: {len(busy)} refused, {statuses}")
    f.check(all(s[1] for s in busy), "a queue-full 429 without Retry-After")
    relay.wait_for_queue(empty=True)  # the abandoned requests are cancelled
    timeout = relay.request_timeout_s
    start = time.monotonic()
    with relay.client(relay.keys.admin, timeout=timeout + 30) as client:
        r = client.post("/api/write", json={"instruction": f"wait {HANG}"})
    took = time.monotonic() - start
    f.check(r.status_code == 502, f"an upstream that never answers: {r.status_code}, expected 502")
    f.check(took < timeout + 20, f"an upstream that never answers took {took:.0f} s to fail")
    return f
