"""Group 12: schemathesis against the OpenAPI document the app itself serves (issue 12: "no 5xx, responses match
the schema"). Every operation gets schema-valid and schema-breaking requests (Hypothesis, derandomized) with a valid
key, half of them aimed at objects that exist (a document, a knowledge base and its document, a graph and its
triple, a style profile, a suggestion, made fresh for each operation, and one finished eval run), after one request
it accepts where random values seldom pass its checks (``good_requests``). Every answer must be:

- no server error: no 5xx, except a declared 502 ``model_error`` (the fake model's echo is not a valid answer to
  every operation; that the app says so is its job);
- a status the operation declares, with a declared content type, a body and headers that match the schema
  (schemathesis' ``status_code_conformance``, ``content_type_conformance``, ``response_schema_conformance``,
  ``response_headers_conformance``). Event streams are checked event by event against their declared event schema.

And every operation must answer with success at least once, so its success body is checked, not only its errors.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core import NOT_SET
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .core import Findings, Target

METHODS = ("get", "put", "post", "delete", "patch")
CHECKS = (status_code_conformance, content_type_conformance, response_schema_conformance, response_headers_conformance)
# A check that cannot judge a route for a reason outside the app, with the reason. Nothing else is left out.
EXCLUDED: dict[tuple[str, str], tuple[Any, str]] = {
    ("GET", "/v1/feedback/muted"): (
        response_schema_conformance,
        "schemathesis 4.32 rewrites `prefixItems` (a tuple[int, int] under additionalProperties, valid Open API "
        "3.1) to Draft 4's `items: [...]` and then refuses its own rewrite as an invalid schema",
    ),
}
SERVER_ERROR_OK = {502: "model_error"}  # declared, and the model's doing (see the module's docstring)
TIMEOUT_S = 30.0
EVAL_RUN = {"task": "correct", "name": "fuzz", "items": [{"source": "teh cat", "reference": "the cat"}]}
NOTE = b"# Rivers\n\nAlice met Bob by the river in Paris. The river was calm and the town slept.\n"
# Operations that need never answer with success here, and why. Every other one must, at least once: a check of
# success bodies that never sees one proves nothing.
NO_SUCCESS_NEEDED = {("GET", "/metrics"): "needs an admin's key; the fuzzer is a user"}


def good_requests(objects: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    """A request each of these operations answers with success (or a stream), sent before the fuzzer's: random
    values seldom get past their checks (a known style, a language, a graph's entity names, a version)."""
    stream = {"stream": True}
    text = "The river was calm and the town slept. Nobody spoke of it again."
    samples = [f"{i}. {text} " * 3 for i in range(5)]
    return {
        ("POST", "/api/write"): {"body": {"instruction": "A note about rivers.", **stream}},
        ("POST", "/api/rewrite"): {"body": {"text": text, "style": "formal", **stream}},
        ("POST", "/api/translate"): {"body": {"text": text, "to": "zh", **stream}},
        ("POST", "/api/continue"): {"body": {"text": text, **stream}},
        ("POST", "/api/summarize"): {"body": {"text": text, **stream}},
        ("POST", "/v1/chat/completions"): {"body": {"messages": [{"role": "user", "content": text}], **stream}},
        ("PUT", "/api/documents/{doc_id}"): {"body": {"text": text, "base_version": 1}},
        ("POST", "/v1/feedback"): {"body": {"suggestion_id": objects.get("suggestion_id", "x"), "event": "accept"}},
        ("POST", "/api/styles/score"): {"body": {"text": text, "style": "formal"}},
        ("POST", "/api/styles/profiles"): {"body": {"name": "mine", "samples": samples}},
        ("POST", "/api/eval/runs"): {"body": EVAL_RUN},
        ("POST", "/api/eval/compare"): {"body": {"runs": [objects.get("run_id", "x")] * 2}},
        ("POST", "/api/kb/{kb_name}/documents"): {
            "query": {"filename": "more.md"},
            "body": NOTE.replace(b"Paris", b"Rome"),
            "media_type": "application/octet-stream",
        },
        ("POST", "/api/kb/{kb_name}/search"): {"body": {"query": "river"}},
        ("POST", "/api/kb/{kb_name}/write"): {"body": {"instruction": "Write about the river.", **stream}},
        ("GET", "/api/kg/{kg_name}/paths"): {"query": {"source": "Alice", "target": "Bob"}},
        ("POST", "/api/kg/{kg_name}/build"): {"query": {"kb": "fuzz-kb"}},
        ("POST", "/api/kg/{kg_name}/factcheck"): {"body": {"text": "Alice knows Bob."}},
        ("POST", "/api/kg/{kg_name}/write"): {"body": {"instruction": "Write about Alice.", **stream}},
        ("DELETE", "/api/kb/{kb_name}/documents/{doc_name}"): {},
    }


@dataclass
class FuzzFindings(Findings):
    statuses: dict[int, int] = field(default_factory=dict)  # what the requests got: how far the fuzzer reached


def operations(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the OpenAPI document."""
    return sorted((m.upper(), p) for p, ops in openapi["paths"].items() for m in ops if m in METHODS)


def finished_run(target: Target, key: str, timeout_s: float = 60.0) -> str:
    """The id of an eval run of the caller's, started through the API and waited for (one runs at a time)."""
    with target.client(key, timeout=TIMEOUT_S) as client:
        response = client.post("/api/eval/runs", json=EVAL_RUN)
        if response.status_code != 202:
            raise RuntimeError(f"POST /api/eval/runs → {response.status_code} {response.text[:200]}")
        run_id = response.json()["id"]
        deadline = time.monotonic() + timeout_s
        while client.get(f"/api/eval/runs/{run_id}").json()["status"] == "running":
            if time.monotonic() > deadline:
                raise RuntimeError(f"eval run {run_id} still running after {timeout_s:.0f} s")
            time.sleep(0.1)
    return run_id


def known_objects(target: Target, key: str, run_id: str | None = None) -> dict[str, str]:
    """One object of each kind the caller owns, made through the API, as path parameters (``{doc_id}``...);
    the eval run is ``run_id`` (runs cannot be deleted, so one serves every operation)."""
    found: dict[str, str] = {"run_id": run_id} if run_id else {}
    with target.client(key, timeout=TIMEOUT_S) as client:

        def made(method: str, url: str, body: Any) -> dict[str, Any]:
            response = client.request(method, url, json=body)
            if response.status_code >= 300:
                raise RuntimeError(f"{method} {url} → {response.status_code} {response.text[:200]}")
            return response.json()

        found["doc_id"] = made("POST", "/api/documents", {"title": "fuzz", "text": "Alice met Bob in Paris."})["id"]
        found["version"] = "1"
        found["kb_name"] = made("POST", "/api/kb", {"name": "fuzz-kb"})["name"]
        note = client.post("/api/kb/fuzz-kb/documents", params={"filename": "note.md"}, content=NOTE)
        if note.status_code != 201:
            raise RuntimeError(f"POST /api/kb/fuzz-kb/documents → {note.status_code} {note.text[:200]}")
        found["doc_name"] = note.json()["name"]
        found["kg_name"] = made("POST", "/api/kg", {"name": "fuzz-kg"})["name"]
        triple = {"subject": "Alice", "predicate": "knows", "object": "Bob"}
        found["triple_id"] = str(made("POST", "/api/kg/fuzz-kg/triples", triple)["id"])
        found["entity"] = "Alice"
        sample = "The river was calm, the town slept and nobody spoke of it again. " * 3
        profile = {"name": "fuzz", "samples": [f"{i}. {sample}" for i in range(5)]}
        found["profile_id"] = made("POST", "/api/styles/profiles", profile)["id"]
        shown = {"items": [{"operation": "correct", "original": "teh", "suggestion": "the"}]}
        found["suggestion_id"] = made("POST", "/v1/feedback/shown", shown)["ids"][0]
    return found


def _schema(target: Target, key: str) -> Any:
    config = schemathesis.Config.from_dict({"auth": {"openapi": {"HTTPBearer": {"bearer": key}}}})
    return schemathesis.openapi.from_dict(target.openapi, config=config)


def _one_line(text: str) -> str:
    text = re.sub(r"Reproduce with:.*", "", text, flags=re.S)  # the curl line repeats the key (filtered anyway)
    text = re.sub(r"^\s*Schemathesis found \d+ distinct failures?\s*-?", "", text)
    return re.sub(r"\s+", " ", text).strip()[:400]


def _server_error(response: Any, case: Any, declared: Iterable[str]) -> str | None:
    status = response.status_code
    if status < 500:
        return None
    try:
        kind = response.json()["error"]["type"]
    except (ValueError, KeyError, TypeError):
        kind = None
    if SERVER_ERROR_OK.get(status) == kind and str(status) in declared:
        return None
    return f"server error {status} {response.text[:200]!r}"


def fuzz_operation(
    target: Target,
    key: str,
    method: str,
    path: str,
    *,
    max_examples: int = 15,
    objects: dict[str, str] | None = None,
    schema: Any = None,
    random_seed: int | None = None,
) -> FuzzFindings:
    """Fuzz one operation of ``target`` (as ``key``'s user); one check per request, failures named by route.
    The same requests every time unless ``random_seed`` asks for others (to look further than CI does)."""
    findings = FuzzFindings(f"fuzz {method} {path}")
    schema = schema or _schema(target, key)
    operation = schema[path][method]
    declared = set(target.openapi["paths"][path][method.lower()].get("responses", {}))
    excluded = EXCLUDED.get((method, path))
    checks = [c for c in CHECKS if not excluded or c is not excluded[0]]
    strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    names = re.findall(r"\{(\w+)\}", path)
    if objects and names and all(n in objects for n in names):
        known = {n: objects[n] for n in names}
        strategies += [operation.as_strategy(mode, path_parameters=known) for mode in GenerationMode]
    seen: set[str] = set()

    def check(case: Any, headers: dict[str, str] | None = None) -> None:
        problem = None
        try:
            response = case.call(base_url=target.base_url, headers=headers, timeout=TIMEOUT_S)
            findings.statuses[response.status_code] = findings.statuses.get(response.status_code, 0) + 1
            problem = _server_error(response, case, declared)
            if problem is None:
                case.validate_response(response, checks=checks)
        except (Failure, FailureGroup) as exc:
            problem = _one_line(str(exc))
        except requests.RequestException as exc:  # hung or dropped: as bad as a 5xx
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            body = _one_line(repr(case.body))[:200] if case.body is not NOT_SET else "none"
            problem = f"{method} {path}: {problem} (sent {case.formatted_path} query={case.query} body={body})"
        findings.total += 1
        if problem and (first := problem.split(" (sent ")[0]) not in seen:  # each distinct failure once
            seen.add(first)
            findings.failures.append(problem)

    good = good_requests(objects or {}).get((method, path))
    if good is not None and (not names or (objects and all(n in objects for n in names))):
        path_parameters = {n: objects[n] for n in names} if objects and names else None
        case = operation.Case(path_parameters=path_parameters, **good)
        check(case, {"Authorization": f"Bearer {key}"})

    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=random_seed is None,  # the same requests on every run: CI is reproducible
        database=None,
        phases=[Phase.explicit, Phase.generate],  # failures are collected, not raised: nothing to shrink
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        check(case)

    (seed(random_seed)(run) if random_seed is not None else run)()
    if (method, path) not in NO_SUCCESS_NEEDED:
        reached = any(200 <= status < 300 for status in findings.statuses)
        findings.check(
            reached,
            f"{method} {path}: never answered with success ({findings.statuses}); add a request "
            "it accepts to good_requests, so its success body is checked too",
        )
    return findings


def fuzz_openapi(target: Target, key: str, *, max_examples: int = 15, random_seed: int | None = None) -> Findings:
    """Every operation of ``target``'s OpenAPI document (what ``bench/security_probes.py`` runs)."""
    findings = Findings("fuzz")
    schema = _schema(target, key)
    run_id = finished_run(target, key)
    for method, path in operations(target.openapi):
        objects = known_objects(target, key, run_id)
        options = {"max_examples": max_examples, "objects": objects, "schema": schema, "random_seed": random_seed}
        findings.extend(fuzz_operation(target, key, method, path, **options))
    return findings
