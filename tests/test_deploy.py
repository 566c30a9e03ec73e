"""Deployment: the Prometheus rules (promtool), a real Prometheus scraping a real ``draftsmith serve``, the
Grafana dashboard and alerts against the metrics the server really exports, the Kubernetes manifests
(kubernetes-validate, offline schemas) and the compose file (docker-compose config), ``serve --workers``
sharing one key's rate limit through the store, and SIGTERM draining a stream.

Tools that come from Debian packages (promtool and prometheus from ``prometheus``, ``docker-compose``) are
looked up on PATH; a test that needs a missing one is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
COMPOSE = shutil.which("docker-compose")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not found (Debian package prometheus)")
needs_prometheus = pytest.mark.skipif(PROMETHEUS is None, reason="prometheus not found (Debian package prometheus)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Any, timeout: float, what: str, proc: subprocess.Popen[str] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited ({proc.returncode}): {proc.stdout.read()[-3000:]}")  # type: ignore[union-attr]
        with contextlib.suppress(httpx.HTTPError, OSError):
            value = check()
            if value:
                return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@contextlib.contextmanager
def draftsmith_serve(*args: str, timeout: float = 60) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``draftsmith serve ARGS`` in a child process on a free loopback port; yields (base URL, process)."""
    port = free_port()
    command = [sys.executable, "-c", "from draftsmith.cli import entry; entry()", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--log-level", "warning", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{url}/readyz", timeout=2).status_code == 200, timeout, "draftsmith serve", proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


# -- alerting rules -----------------------------------------------------------------------------------------------


@needs_promtool
def test_alert_rules_pass_their_promtool_unit_tests() -> None:
    check = subprocess.run(
        [PROMTOOL, "check", "rules", "alerts.yml"], cwd=DEPLOY / "prometheus", capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run(
        [PROMTOOL, "test", "rules", "alerts_test.yml"], cwd=DEPLOY / "prometheus", capture_output=True, text=True
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "SUCCESS" in tests.stdout


@needs_promtool
def test_prometheus_config_is_valid() -> None:
    check = subprocess.run(
        [PROMTOOL, "check", "config", "prometheus.yml"], cwd=DEPLOY / "prometheus", capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


@needs_promtool
def test_a_malformed_rule_fails_with_promtools_message(tmp_path: Path) -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    rules["groups"][0]["rules"].append(
        {"alert": "Broken", "expr": "sum(rate(draftsmith_requests_total[5m]) > ", "labels": {"severity": "info"}}
    )
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    shutil.copy(DEPLOY / "prometheus" / "alerts_test.yml", tmp_path)
    for command in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]):
        result = subprocess.run([PROMTOOL, *command], cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode != 0
        assert "parse error" in (result.stdout + result.stderr), result.stdout + result.stderr


@needs_promtool
def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    """The unit tests really compare: an alert expected on the healthy instance makes them fail."""
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", tmp_path)
    text = (DEPLOY / "prometheus" / "alerts_test.yml").read_text()
    (tmp_path / "alerts_test.yml").write_text(
        text.replace("the model queue is 100% full", "the model queue is 99% full")
    )
    result = subprocess.run(
        [PROMTOOL, "test", "rules", "alerts_test.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "DraftsmithQueueSaturated" in result.stdout + result.stderr


# -- metric names: alerts and dashboard use what the server exports -----------------------------------------------


def exported_metrics() -> set[str]:
    """Sample names on /metrics of an app that has answered a few requests and has a user with a budget."""
    from fastapi.testclient import TestClient

    from draftsmith.models.fake import FakeModel
    from draftsmith.server import ServerConfig, create_app
    from draftsmith.store import accounts
    from draftsmith.store.db import open_store

    store = open_store()
    accounts.add_user(store, "ann", role="admin", tokens_per_day=1000)
    key, _ = accounts.create_key(store, "ann")

    def answer(messages: list[Any], params: Any) -> str:
        if "boom" in messages[-1].content:
            raise RuntimeError("a bug")  # answered 500: the errors counter gets a sample
        return "Fine words here."

    app = create_app(model=FakeModel(answer), store=store, config=ServerConfig(public_metrics=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = {"authorization": f"Bearer {key}"}
        assert client.post("/api/continue", json={"text": "One two."}, headers=headers).status_code == 200
        assert client.post("/api/continue", json={"text": "boom"}, headers=headers).status_code == 500
        text = client.get("/metrics").text
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


QUERY_FUNCTIONS = {
    "sum", "rate", "irate", "increase", "histogram_quantile", "max", "min", "avg", "by", "without", "on", "or",
    "and", "unless", "count", "topk", "predict_linear", "le", "clamp_min", "clamp_max", "bool", "ignoring",
    "group_left", "time", "vector", "scalar", "abs", "delta", "deriv", "offset", "sort_desc", "label_replace",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that name metrics (labels, functions and ranges removed)."""
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\((?:job|instance|route|le|user_id|operation|status|method)(?:\s*,\s*\w+)*\)", "", expr)
    expr = re.sub(r'"[^"]*"', "", expr)
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr))
    return {w for w in words if w not in QUERY_FUNCTIONS and not re.fullmatch(r"e\d*|Inf|NaN|\$\w+", w)}


def test_alerts_and_dashboard_use_only_exported_metrics() -> None:
    exported = exported_metrics()
    for name in (
        "draftsmith_requests_total",
        "draftsmith_errors_total",
        "draftsmith_request_seconds_bucket",
        "draftsmith_generated_tokens_total",
        "draftsmith_queue_depth",
        "draftsmith_queue_capacity",
        "draftsmith_model_ready",
        "draftsmith_store_disk_free_bytes",
        "draftsmith_store_disk_size_bytes",
        "draftsmith_token_budget_used_ratio",
    ):
        assert name in exported, name
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"][0]["rules"]
    recorded = {rule["record"] for rule in rules if "record" in rule}
    known = exported | recorded | {"up"}
    alerts = {rule["alert"] for rule in rules if "alert" in rule}
    assert {
        "DraftsmithHighErrorRate",
        "DraftsmithHighLatencyP95",
        "DraftsmithQueueSaturated",
        "DraftsmithDown",
    } <= alerts
    assert {"DraftsmithBackendDown", "DraftsmithTokenBudgetNearlySpent", "DraftsmithStoreDiskLow"} <= alerts
    for rule in rules:
        assert metric_names(rule["expr"]) <= known, (rule.get("alert") or rule.get("record"), rule["expr"])

    dashboard = json.loads((DEPLOY / "grafana" / "draftsmith.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert len(exprs) >= 8
    used: set[str] = set()
    for expr in exprs:
        names = metric_names(expr)
        assert names <= known, (expr, names - known)
        used |= names
    assert {"draftsmith_generated_tokens_total", "draftsmith_decode_tokens_per_second_bucket"} <= used
    assert {"draftsmith_queue_depth", "draftsmith_request_seconds_bucket", "draftsmith_errors_total"} <= used


def test_budget_and_disk_gauges_read_the_store(tmp_path: Path) -> None:
    from draftsmith.server.metrics import budget_use, store_folder
    from draftsmith.store import accounts
    from draftsmith.store.db import Store

    store = Store(f"sqlite:///{tmp_path / 'metrics.db'}")
    with_budget = accounts.add_user(store, "a", tokens_per_day=200)
    default = accounts.add_user(store, "b")  # the server's default budget
    accounts.add_user(store, "c", tokens_per_day=0)  # unlimited: no series
    accounts.add_tokens(store, with_budget.id, 180)
    accounts.add_tokens(store, default.id, 50)
    assert dict(budget_use(store, 100)) == {with_budget.id: 0.9, default.id: 0.5}
    assert dict(budget_use(store, 0)) == {with_budget.id: 0.9}
    accounts.set_disabled(store, "a")
    assert dict(budget_use(store, 0)) == {}
    assert store_folder(store.url) == tmp_path.resolve()
    store.close()


# -- a real Prometheus scraping a real draftsmith serve ------------------------------------------------------------


@pytest.mark.slow
@needs_prometheus
def test_prometheus_scrapes_a_running_server(tmp_path: Path) -> None:
    with draftsmith_serve("--model", "fake", "--public-metrics") as (url, _):
        for _ in range(3):
            assert httpx.post(f"{url}/api/correct", json={"text": "One two."}, timeout=30).status_code == 200
        target = url.removeprefix("http://")
        port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(DEPLOY / "prometheus" / "alerts.yml")],
            "scrape_configs": [{"job_name": "draftsmith", "static_configs": [{"targets": [target]}]}],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        prometheus = subprocess.Popen(
            [
                PROMETHEUS,  # type: ignore[list-item]
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        api = f"http://127.0.0.1:{port}/api/v1"
        try:

            def query(expr: str) -> list[dict[str, Any]]:
                response = httpx.get(f"{api}/query", params={"query": expr}, timeout=5)
                if response.status_code == 503:  # still starting
                    return []
                answer = response.json()
                assert answer["status"] == "success", answer
                return answer["data"]["result"]

            served = 'draftsmith_requests_total{job="draftsmith",route="/api/correct",status="200"}'
            result = wait_for(lambda: query(served), 60, "draftsmith metrics in Prometheus", prometheus)
            assert float(result[0]["value"][1]) == 3
            assert query('up{job="draftsmith"}')[0]["value"][1] == "1"
            for name in ("draftsmith_queue_capacity", "draftsmith_model_ready", "draftsmith_store_disk_free_bytes"):
                assert query(name), name
            assert query("draftsmith_request_seconds_count")
            rules = httpx.get(f"{api}/rules", timeout=5).json()["data"]["groups"][0]["rules"]
            assert {r["name"] for r in rules} >= {"DraftsmithHighErrorRate", "DraftsmithStoreDiskLow"}
            assert all(r["health"] != "err" for r in rules), [r for r in rules if r["health"] == "err"]
        finally:
            prometheus.terminate()
            prometheus.wait(10)


# -- Kubernetes manifests and the compose file --------------------------------------------------------------------


def k8s_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_kubernetes_manifests_validate_offline() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")
    docs = k8s_documents()
    version = kubernetes_validate.latest_version()
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap"} <= kinds


def test_kubernetes_manifests_fit_together() -> None:
    docs = k8s_documents()
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    deployment = next(d for d in by_kind["Deployment"] if d["metadata"]["name"] == "draftsmith")
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    container = next(c for c in pod["spec"]["containers"] if c["name"] == "draftsmith")
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    args = container["args"]
    assert "--allow-remote" in args and "--drain-timeout" in args
    drain = float(args[args.index("--drain-timeout") + 1])
    assert pod["spec"]["terminationGracePeriodSeconds"] > drain + 5  # preStop pause + drain + exit
    secrets = [
        e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})
    ]
    assert "draftsmith-secrets" in secrets
    configmaps = {d["metadata"]["name"] for d in by_kind["ConfigMap"]}
    volumes = {v["configMap"]["name"] for v in pod["spec"]["volumes"] if "configMap" in v}
    assert volumes <= configmaps
    for service in by_kind["Service"]:
        if service["metadata"]["name"] == "draftsmith":
            assert service["spec"]["selector"].items() <= labels.items()
    pdb = by_kind["PodDisruptionBudget"][0]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = by_kind["HorizontalPodAutoscaler"][0]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "draftsmith"
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    assert metrics["Pods"]["pods"]["metric"]["name"] == "draftsmith_queue_depth"
    adapter = next(d for d in by_kind["ConfigMap"] if "config.yaml" in d.get("data", {}))
    assert "draftsmith_queue_depth" in adapter["data"]["config.yaml"]


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose not found (Debian package docker-compose)")
def test_compose_file_is_valid(tmp_path: Path) -> None:
    env = {**os.environ, "POSTGRES_PASSWORD": "test-only", "DOCKER_HOST": f"unix://{tmp_path / 'none.sock'}"}
    result = subprocess.run(
        [COMPOSE, "-f", str(DEPLOY / "compose.yaml"), "config"],  # type: ignore[list-item]
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {"draftsmith", "model-server", "postgres", "prometheus", "entry"} <= set(services)
    draftsmith = services["draftsmith"]
    assert "postgresql" in str(draftsmith["environment"]["DRAFTSMITH_DATABASE_URL"])
    assert str(draftsmith["environment"]["DRAFTSMITH_MODEL"]).startswith("openai:http://model-server:8000")


def test_compose_file_parses() -> None:
    """Without docker-compose: the file is YAML with the services the docs describe."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert {"draftsmith", "model-server", "postgres", "prometheus", "entry"} <= set(compose["services"])
    build = compose["services"]["draftsmith"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).exists()


# -- serve --workers: limits shared through the store ---------------------------------------------------------------


def test_serve_help_explains_workers_and_drain() -> None:
    from typer.testing import CliRunner

    from draftsmith.cli import app

    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200", "TERM": "dumb"})
    text = re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", result.output))
    assert "--workers" in text and "its own copy of the model" in text
    assert "--drain-timeout" in text


@pytest.mark.slow
def test_two_workers_never_admit_more_than_a_keys_limit() -> None:
    from draftsmith.store import accounts
    from draftsmith.store.db import open_store

    limit = 5
    store = open_store()
    accounts.add_user(store, "bob", role="user", requests_per_minute=limit)
    key, _ = accounts.create_key(store, "bob")
    with draftsmith_serve("--model", "fake", "--workers", "2", "--public-metrics") as (url, _):
        start = time.monotonic()

        def one(_: int) -> int:
            headers = {"authorization": f"Bearer {key}", "connection": "close"}
            return httpx.get(f"{url}/api/templates", headers=headers, timeout=30).status_code

        with ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(one, range(48)))
        elapsed = time.monotonic() - start
        # Both workers answered: each has its own registry, so /metrics (on fresh connections) shows two
        # different creation times for the 429 series.
        created = set()
        for _ in range(30):
            text = httpx.get(f"{url}/metrics", headers={"connection": "close"}, timeout=10).text
            created |= set(
                re.findall(r'draftsmith_requests_created\{[^}]*route="/api/templates"[^}]*status="429"\} (\S+)', text)
            )
            if len(created) == 2:
                break
    assert set(codes) <= {200, 429}
    refill = int(elapsed * limit / 60)
    assert limit <= codes.count(200) <= limit + refill, (codes.count(200), elapsed)
    assert len(created) == 2, "every request went to one worker; the test did not exercise two"


# -- SIGTERM drains ---------------------------------------------------------------------------------------------------


class SlowUpstream:
    """An OpenAI-compatible chat server on loopback that streams ``words`` words, one every ``delay_s``."""

    def __init__(self, words: int, delay_s: float) -> None:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                try:
                    for i in range(upstream.words):
                        self._event({"choices": [{"index": 0, "delta": {"content": f" w{i}"}, "finish_reason": None}]})
                        time.sleep(upstream.delay_s)
                    self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                    self.wfile.write(b"data: [DONE]\n\n")
                except OSError:
                    pass  # draftsmith stopped reading: the stream was cancelled

            def _event(self, payload: dict[str, Any]) -> None:
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()

        self.words, self.delay_s = words, delay_s
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.model = f"openai:http://127.0.0.1:{self.server.server_address[1]}/v1#slow"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def read_events(response: httpx.Response, on_first: Any) -> list[tuple[str, str]]:
    """(event, data) pairs of an SSE response; ``on_first`` runs after the first text arrives."""
    events, event, fired = [], "message", False
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            events.append((event, line[5:].strip()))
            event = "message"
            if not fired and len(events) >= 2:
                fired = True
                on_first()
    return events


@pytest.fixture
def slow_upstream() -> Iterator[Any]:
    made: list[SlowUpstream] = []
    yield lambda words, delay_s: made.append(SlowUpstream(words, delay_s)) or made[-1]
    for upstream in made:
        upstream.close()


def test_a_draining_app_refuses_new_work_but_stays_alive() -> None:
    import asyncio

    from draftsmith.models.fake import FakeModel
    from draftsmith.server import create_app
    from draftsmith.server.lifecycle import Drain

    drain = Drain(create_app(model=FakeModel()), timeout=5)

    async def run() -> dict[str, int]:
        transport = httpx.ASGITransport(app=drain)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            before = (await client.get("/readyz")).status_code
            drain.begin()
            answers = {path: await client.get(path) for path in ("/readyz", "/healthz", "/api/templates")}
        assert answers["/readyz"].json()["error"]["type"] == "shutting_down"
        assert answers["/api/templates"].headers["retry-after"] == "5"
        return {"before": before, **{path: r.status_code for path, r in answers.items()}}

    assert asyncio.run(run()) == {"before": 200, "/readyz": 503, "/healthz": 200, "/api/templates": 503}


@pytest.mark.slow
def test_sigterm_lets_a_stream_in_flight_finish(slow_upstream: Any) -> None:
    upstream = slow_upstream(12, 0.15)  # about 2 s of text
    with draftsmith_serve("--model", upstream.model, "--drain-timeout", "20") as (url, proc):
        body = {"model": "slow", "messages": [{"role": "user", "content": "go"}], "stream": True}
        sent = {}

        def terminate() -> None:
            sent["at"] = time.monotonic()
            os.kill(proc.pid, signal.SIGTERM)

        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=30) as response:
            assert response.status_code == 200
            events = read_events(response, terminate)
        code = proc.wait(20)
        took = time.monotonic() - sent["at"]
    assert events[-1] == ("message", "[DONE]")
    text = "".join(
        json.loads(d)["choices"][0]["delta"].get("content", "") for _, d in events[:-1] if '"choices": [{' in d
    )
    assert text == "".join(f" w{i}" for i in range(12))
    assert code in (0, -signal.SIGTERM), proc.stdout.read()  # type: ignore[union-attr]
    assert took < 15
    with pytest.raises(httpx.ConnectError):  # the port is closed
        httpx.get(f"{url}/healthz", timeout=2)


@pytest.mark.slow
def test_sigterm_ends_a_long_stream_with_a_clean_error_event(slow_upstream: Any) -> None:
    upstream = slow_upstream(200, 0.1)  # 20 s: longer than the drain timeout
    with draftsmith_serve("--model", upstream.model, "--drain-timeout", "1.5") as (url, proc):
        body = {"instruction": "Write about rivers.", "stream": True, "max_tokens": 400}
        sent = {}

        def terminate() -> None:
            sent["at"] = time.monotonic()
            os.kill(proc.pid, signal.SIGTERM)

        with httpx.stream("POST", f"{url}/api/write", json=body, timeout=30) as response:
            assert response.status_code == 200
            events = read_events(response, terminate)  # raises if the body is cut off mid-chunk
        ended = time.monotonic() - sent["at"]
        code = proc.wait(20)
    assert [e for e, _ in events[:-1]] == ["token"] * (len(events) - 1)
    assert events[-1][0] == "error"
    assert json.loads(events[-1][1])["error"]["type"] == "shutting_down"
    assert 1.0 <= ended < 6, ended
    assert code in (0, -signal.SIGTERM), proc.stdout.read()  # type: ignore[union-attr]
