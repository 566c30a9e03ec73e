"""Durability: start a document save, kill -9 the server in the middle of it, restart, check nothing is lost
or torn; many times, against real SQLite (WAL) and, when ``DRAFTSMITH_TEST_POSTGRES_URL`` is set, PostgreSQL.

The server is the real ``draftsmith serve`` (the fake model; the store is what is tested). Each round saves a
large new text (about 450,000 characters, so the write takes a while) whose first line carries the SHA-256 of
the rest, kills the server with SIGKILL after a random delay within the time a save takes, starts it again and
checks, through the API:

- lost_versions: a save the server acknowledged (200) is not there after the restart, or any version seen
  earlier is gone or its text changed;
- torn_documents: the current text (or any version's) fails its own checksum, or the current version number is
  not the last one in the history.

Each round first makes an ordinary (acknowledged) save, whose duration sets the window for the kill of the next
one. A save that was not acknowledged may or may not have landed; both are fine. At the end every version's text is
read back and checked again.

    python bench/durability.py [--rounds 100] [--backend sqlite|postgres|both]

Last line: JSON with ``lost_versions`` and ``torn_documents`` (goal 0 each) per backend, totals, and how many
kills landed while the save was in flight.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

import httpx

CHARS = 450_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_text(tag: str) -> str:
    line = f"round {tag} " + "lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 8
    body = "\n".join(line for _ in range(CHARS // len(line)))
    return f"sha256:{hashlib.sha256(body.encode()).hexdigest()}\n{body}"


def intact(text: str) -> bool:
    head, _, body = text.partition("\n")
    if not head.startswith("sha256:"):
        return text == "first"  # the document's first version
    return head == f"sha256:{hashlib.sha256(body.encode()).hexdigest()}"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Server:
    """``draftsmith serve`` in a child process, on a fixed port, over one data folder and database."""

    def __init__(self, home: str, database_url: str | None) -> None:
        self.port = free_port()
        self.env = {**os.environ, "DRAFTSMITH_HOME": home, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
        if database_url:
            self.env["DRAFTSMITH_DATABASE_URL"] = database_url
        self.proc: subprocess.Popen | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        start = time.perf_counter()
        command = [sys.executable, "-c", "from draftsmith.cli import entry; entry()", "serve", "--model", "fake",
                   "--port", str(self.port), "--log-level", "warning"]  # fmt: skip
        self.log = os.path.join(self.env["DRAFTSMITH_HOME"], "serve.log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(command, env=self.env, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(self.log, encoding="utf-8", errors="replace") as log:
                    tail = log.read()[-2000:]
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{tail}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the server did not become ready in 120 s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def run_backend(name: str, database_url: str | None, rounds: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    home = tempfile.mkdtemp(prefix=f"draftsmith-durability-{name}-")
    server = Server(home, database_url)
    server.start()
    client = httpx.Client(base_url=server.base, timeout=60)
    doc = client.post("/api/documents", json={"title": f"durability {uuid.uuid4().hex[:6]}", "text": "first"}).json()
    doc_id = doc["id"]
    known: dict[int, str] = {1: digest("first")}  # version -> sha256 of its text, as seen or acknowledged
    # How long a save takes here: the kill lands somewhere inside that window.
    timing_text = make_text("timing")
    start = time.perf_counter()
    saved = client.put(f"/api/documents/{doc_id}", json={"text": timing_text, "base_version": 1})
    save_s = time.perf_counter() - start
    saved.raise_for_status()
    known[2] = digest(timing_text)
    current = 2
    lost = torn = acknowledged = in_flight = errors = 0
    restart_s: list[float] = []
    for n in range(rounds):
        # An ordinary save first: it is acknowledged, so it must survive the kill below; and its duration, on the
        # server as it is now, sets the window the kill lands in.
        steady = make_text(f"{n}-steady")
        start = time.perf_counter()
        r = client.put(f"/api/documents/{doc_id}", json={"text": steady, "base_version": current})
        save_s = time.perf_counter() - start
        if r.status_code == 200:
            acknowledged += 1
            current = r.json()["version"]
            known[current] = digest(steady)
        else:
            errors += 1
        text = make_text(f"{n}")
        outcome: dict[str, Any] = {}

        def save(text: str = text, base: int = current, outcome: dict[str, Any] = outcome) -> None:
            try:
                r = httpx.put(
                    f"{server.base}/api/documents/{doc_id}", json={"text": text, "base_version": base}, timeout=60
                )
                outcome["status"] = r.status_code
                if r.status_code == 200:
                    outcome["version"] = r.json()["version"]
            except httpx.HTTPError as exc:
                outcome["error"] = type(exc).__name__

        worker = threading.Thread(target=save)
        worker.start()
        time.sleep(rng.uniform(0.2, 1.3) * save_s)
        server.kill()
        worker.join(60)
        if "status" not in outcome:
            in_flight += 1
        restart_s.append(server.start())
        now = client.get(f"/api/documents/{doc_id}")
        history = client.get(f"/api/documents/{doc_id}/versions")
        if now.status_code != 200 or history.status_code != 200:
            errors += 1
            torn += 1
            continue
        body, versions = now.json(), [v["version"] for v in history.json()]
        if not intact(body["text"]) or body["version"] != max(versions):
            torn += 1
        if outcome.get("status") == 200:
            acknowledged += 1
            known[outcome["version"]] = digest(text)
        if body["version"] not in known and body["version"] == current + 1 and digest(body["text"]) == digest(text):
            known[body["version"]] = digest(text)  # landed without the answer reaching us: fine
        missing = [v for v in known if v not in versions]
        lost += len(missing)
        for v in missing:
            known.pop(v)
        if body["version"] in known and digest(body["text"]) != known[body["version"]]:
            lost += 1
        current = body["version"]
        progress = f"{name} round {n + 1}/{rounds}: lost {lost}, torn {torn}, version {current}"
        print(progress, file=sys.stderr, flush=True)
    # Every version seen, read back once more.
    for version, sha in sorted(known.items()):
        r = client.get(f"/api/documents/{doc_id}/versions/{version}")
        if r.status_code != 200 or digest(r.json()["text"]) != sha:
            lost += 1
        elif not intact(r.json()["text"]):
            torn += 1
    client.close()
    server.stop()
    return {
        "backend": name,
        "rounds": rounds,
        "lost_versions": lost,
        "torn_documents": torn,
        "acknowledged_saves": acknowledged,
        "kills_mid_request": in_flight,
        "versions_kept": len(known),
        "api_errors": errors,
        "save_ms": round(save_s * 1000, 1),
        "restart_p50_s": round(sorted(restart_s)[len(restart_s) // 2], 2) if restart_s else None,
    }


def postgres_url(base: str) -> str:
    """A fresh schema on the test server, so each run starts from an empty database."""
    import sqlalchemy as sa

    schema = f"durability_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()
    return (
        sa.engine.make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    pg = os.environ.get("DRAFTSMITH_TEST_POSTGRES_URL")
    results = []
    if args.backend in ("sqlite", "both"):
        results.append(run_backend("sqlite", None, args.rounds, args.seed))
        print(json.dumps(results[-1]), flush=True)
    if args.backend in ("postgres", "both"):
        if pg:
            results.append(run_backend("postgres", postgres_url(pg), args.rounds, args.seed))
            print(json.dumps(results[-1]), flush=True)
        else:
            print("postgres: skipped (set DRAFTSMITH_TEST_POSTGRES_URL; bash .ci/postgres starts one)", flush=True)
    print(
        json.dumps(
            {
                "lost_versions": sum(r["lost_versions"] for r in results),
                "torn_documents": sum(r["torn_documents"] for r in results),
                "rounds": sum(r["rounds"] for r in results),
                "kills_mid_request": sum(r["kills_mid_request"] for r in results),
                "backends": {r["backend"]: {k: v for k, v in r.items() if k != "backend"} for r in results},
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
