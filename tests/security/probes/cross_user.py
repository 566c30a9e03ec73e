"""Group 2, no cross-user access: every route that takes an object's id (found in the route list) is called by
bob with alice's ids and must answer 404, exactly as for an id that does not exist, and change nothing. Each
kind of object (the collection its routes hang under) needs a factory that makes one for alice and a snapshot
of it; a route under a collection without a factory is itself a failure, so new object types cannot slip by."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from .core import Findings, RouteInfo, Target, bearer, error_type

Factory = Callable[[httpx.Client, str], dict[str, Any]]  # (client, owner's key) -> path parameter values
Snapshot = Callable[[httpx.Client, str, dict[str, Any]], Any]


def _make_document(client: httpx.Client, key: str) -> dict[str, Any]:
    created = client.post("/api/documents", json={"title": "alice's plan", "text": "first"}, headers=bearer(key))
    created.raise_for_status()
    doc = created.json()
    saved = client.put(f"/api/documents/{doc['id']}", json={"text": "second", "base_version": 1}, headers=bearer(key))
    saved.raise_for_status()
    return {"doc_id": doc["id"], "version": 1, "_current": 2}


def _document_state(client: httpx.Client, key: str, ids: dict[str, Any]) -> Any:
    doc = client.get(f"/api/documents/{ids['doc_id']}", headers=bearer(key))
    versions = client.get(f"/api/documents/{ids['doc_id']}/versions", headers=bearer(key))
    listed = client.get("/api/documents", headers=bearer(key))
    return doc.status_code, doc.text, versions.text, ids["doc_id"] in listed.text


def _make_kb(client: httpx.Client, key: str) -> dict[str, Any]:
    name = f"kb-{secrets.token_hex(6)}"
    client.post("/api/kb", json={"name": name}, headers=bearer(key)).raise_for_status()
    doc = b"# Plans\n\nAlice's secret plan: the library opens in 2027 and costs four million.\n"
    up = client.post(f"/api/kb/{name}/documents?filename=plan.md", content=doc, headers=bearer(key), timeout=120)
    up.raise_for_status()
    return {"kb_name": name, "doc_name": up.json()["name"]}


def _kb_state(client: httpx.Client, key: str, ids: dict[str, Any]) -> Any:
    kb = client.get(f"/api/kb/{ids['kb_name']}", headers=bearer(key))
    listed = client.get("/api/kb", headers=bearer(key))
    return kb.status_code, kb.text, ids["kb_name"] in listed.text


SAMPLE = (
    "The committee met on Tuesday to review the budget. Members argued about the cost of the new library, and the "
    "chair asked for a clearer plan before the vote. Several residents spoke in favour of the project. "
)


def _make_profile(client: httpx.Client, key: str) -> dict[str, Any]:
    samples = [SAMPLE + f"Note {i}: the weather was mild and the hall was full." for i in range(5)]
    made = client.post("/api/styles/profiles", json={"name": "alices-voice", "samples": samples}, headers=bearer(key))
    made.raise_for_status()
    return {"profile_id": made.json()["id"]}


def _profile_state(client: httpx.Client, key: str, ids: dict[str, Any]) -> Any:
    got = client.get(f"/api/styles/profiles/{ids['profile_id']}", headers=bearer(key))
    listed = client.get("/api/styles/profiles", headers=bearer(key))
    return got.status_code, got.text, ids["profile_id"] in listed.text


def _make_run(client: httpx.Client, key: str) -> dict[str, Any]:
    items = [{"id": i, "source": "Alice write well.", "references": ["Alice writes well."]} for i in range(2)]
    started = client.post("/api/eval/runs", json={"task": "correct", "items": items}, headers=bearer(key))
    started.raise_for_status()
    run_id = started.json()["id"]
    for _ in range(600):  # a finished run's state no longer changes by itself
        if client.get(f"/api/eval/runs/{run_id}", headers=bearer(key)).json().get("status") != "running":
            break
        time.sleep(0.05)
    return {"run_id": run_id}


def _run_state(client: httpx.Client, key: str, ids: dict[str, Any]) -> Any:
    got = client.get(f"/api/eval/runs/{ids['run_id']}", headers=bearer(key))
    listed = client.get("/api/eval/runs", headers=bearer(key))
    return got.status_code, got.text, ids["run_id"] in listed.text


# collection path -> (make one for the owner, read its whole state as the owner)
FACTORIES: dict[str, tuple[Factory, Snapshot]] = {
    "/api/documents": (_make_document, _document_state),
    "/api/kb": (_make_kb, _kb_state),
    "/api/styles/profiles": (_make_profile, _profile_state),
    "/api/eval/runs": (_make_run, _run_state),
}


def _make_feedback(client: httpx.Client, key: str) -> dict[str, Any]:
    item = {
        "operation": "check",
        "context": "Teh cat.",
        "original": "Teh",
        "suggestion": "The",
        "rule_id": "EN_SPELLING",
    }
    shown = client.post("/v1/feedback/shown", json={"items": [item]}, headers=bearer(key))
    shown.raise_for_status()
    suggestion_id = shown.json()["ids"][0]
    client.post(
        "/v1/feedback", json={"suggestion_id": suggestion_id, "event": "accept"}, headers=bearer(key)
    ).raise_for_status()
    return {"suggestion_id": suggestion_id}


def _feedback_state(client: httpx.Client, key: str, ids: dict[str, Any]) -> Any:
    one = client.get(f"/v1/feedback/{ids['suggestion_id']}", headers=bearer(key))
    listed = client.get("/v1/feedback", headers=bearer(key))
    return one.status_code, one.text, ids["suggestion_id"] in listed.text


FACTORIES["/v1/feedback"] = (_make_feedback, _feedback_state)


def _make_graph(client: httpx.Client, key: str) -> dict[str, Any]:
    name = _make_kb(client, key)["kb_name"]  # the graph is named like its knowledge base (so build has one)
    client.post("/api/kg", json={"name": name}, headers=bearer(key)).raise_for_status()
    fact = {"subject": "Alice Example", "predicate": "plans", "object": "Secret Library"}
    added = client.post(f"/api/kg/{name}/triples", json=fact, headers=bearer(key))
    added.raise_for_status()
    return {"kg_name": name, "triple_id": added.json()["id"], "entity": "Alice Example"}


def _graph_state(client: httpx.Client, key: str, ids: dict[str, Any]) -> Any:
    got = client.get(f"/api/kg/{ids['kg_name']}", headers=bearer(key))
    exported = client.get(f"/api/kg/{ids['kg_name']}/export?format=json", headers=bearer(key))
    listed = client.get("/api/kg", headers=bearer(key))
    return got.status_code, got.text, exported.text, ids["kg_name"] in listed.text


FACTORIES["/api/kg"] = (_make_graph, _graph_state)


# Routes that name another of the caller's objects in their body, not in the path: (method, path, body field, the
# collection whose factory makes that object, its key in the factory's ids, the rest of a valid body). A path's own
# object ({kg_name}) is bob's: a graph he makes first, so only the body's reference can fail.
BODY_REFERENCES: list[tuple[str, str, str, str, str, dict[str, Any]]] = [
    ("POST", "/api/rewrite", "profile_id", "/api/styles/profiles", "profile_id", {"text": "bob was here"}),
    ("POST", "/api/styles/score", "profile_id", "/api/styles/profiles", "profile_id", {"text": "bob was here"}),
    ("POST", "/api/kg/{kg_name}/write", "kb", "/api/kb", "kb_name", {"instruction": "bob was here"}),
    ("POST", "/api/kg/{kg_name}/factcheck", "kb", "/api/kb", "kb_name", {"text": "bob was here"}),
]
REFERENCE_FIELDS = frozenset({"profile_id", "kb"})  # body fields that name an object of the caller's


def body_references(openapi: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(method, path, field) of every route whose JSON body has a field that names one of the caller's objects."""
    found = set()
    for path, operations in openapi.get("paths", {}).items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content is None:
                continue
            for name in _schema(openapi, content.get("schema", {})).get("properties", {}):
                if name in REFERENCE_FIELDS:
                    found.add((method.upper(), path, name))
    return found


def no_cross_user_reference(t: Target) -> Findings:
    """Bob names alice's object in a request body (rewrite with her profile, write from her knowledge base): 404,
    exactly as for an id that does not exist, and her object does not change."""
    f = Findings("cross-user (bodies)")
    with t.client() as client:
        made: dict[str, dict[str, Any]] = {}
        bobs_graph = f"bob-{secrets.token_hex(6)}"
        f.check(client.post("/api/kg", json={"name": bobs_graph}, headers=bearer(t.keys.bob)).status_code == 201,
                "bob cannot make a graph of his own")  # fmt: skip
        for method, path, name, collection, key, rest in BODY_REFERENCES:
            make, snapshot = FACTORIES[collection]
            if collection not in made:
                made[collection] = make(client, t.keys.alice)
            ids = made[collection]
            before = snapshot(client, t.keys.alice, ids)
            url = RouteInfo(path, method).url(kg_name=bobs_graph)
            where = f"{method} {path} ({name})"
            theirs = client.request(method, url, json={**rest, name: ids[key]}, headers=bearer(t.keys.bob))
            f.check(theirs.status_code == 404, f"{where}: bob naming alice's object got {theirs.status_code}")
            f.check(error_type(theirs) == "not_found", f"{where}: bob's answer is not a not_found error")
            unknown = client.request(
                method, url, json={**rest, name: secrets.token_hex(16)}, headers=bearer(t.keys.bob)
            )
            f.check(
                (unknown.status_code, error_type(unknown)) == (theirs.status_code, error_type(theirs)),
                f"{where}: alice's object answers {theirs.status_code}, an unknown one {unknown.status_code}",
            )
            f.check(snapshot(client, t.keys.alice, ids) == before, f"{where}: bob's request changed alice's object")
    return f


def collection_of(route: RouteInfo) -> str:
    return route.path.split("{", 1)[0].rstrip("/")


def _schema(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def example_body(openapi: dict[str, Any], route: RouteInfo, ids: dict[str, Any]) -> dict[str, Any] | None:
    """A body with every required field filled (version fields with the object's current version), so a route
    that forgot the owner check would act on it."""
    operation = openapi.get("paths", {}).get(route.path, {}).get(route.method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return {} if route.has_body else None
    schema = _schema(openapi, content.get("schema", {}))
    body: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if name not in schema.get("required", []):
            continue
        kinds = {p.get("type") for p in prop.get("anyOf", [prop])}
        if "integer" in kinds:
            body[name] = ids.get("_current", 1) if "version" in name else max(int(prop.get("minimum", 1)), 1)
        elif "number" in kinds:
            body[name] = 0.5
        elif "boolean" in kinds:
            body[name] = False
        elif "array" in kinds:
            body[name] = []
        elif "object" in kinds:
            body[name] = {}
        else:
            body[name] = "bob was here"
    return body


def no_cross_user_access(t: Target) -> Findings:
    f = Findings("cross-user")
    by_collection: dict[str, list[RouteInfo]] = {}
    for route in t.protected():
        if route.params:
            by_collection.setdefault(collection_of(route), []).append(route)
    f.check(bool(by_collection), "no route takes an object id; is the route walk broken?")
    with t.client() as client:
        for collection, routes in sorted(by_collection.items()):
            if collection not in FACTORIES:
                f.check(False, f"{collection}: no factory for this object type; add one to cross_user.FACTORIES")
                continue
            make, snapshot = FACTORIES[collection]
            ids = make(client, t.keys.alice)
            before = snapshot(client, t.keys.alice, ids)
            f.check(before[0] == 200, f"{collection}: alice cannot read her own object ({before[0]})")
            unknown = {k: (secrets.token_hex(16) if isinstance(v, str) else v) for k, v in ids.items()}
            for route in sorted(routes, key=lambda r: r.method == "DELETE"):
                for how, headers in (("Bearer", bearer(t.keys.bob)), ("X-API-Key", {"X-API-Key": t.keys.bob})):
                    name = f"{route.method} {route.path} ({how})"
                    body = example_body(t.openapi, route, ids)
                    theirs = client.request(route.method, route.url(**ids), json=body, headers=headers)
                    f.check(theirs.status_code == 404, f"{name}: bob with alice's ids got {theirs.status_code}")
                    f.check(error_type(theirs) == "not_found", f"{name}: bob's answer is not a not_found error")
                    none = client.request(route.method, route.url(**unknown), json=body, headers=headers)
                    f.check(
                        (none.status_code, error_type(none)) == (theirs.status_code, error_type(theirs)),
                        f"{name}: alice's id answers {theirs.status_code}, an unknown id {none.status_code} "
                        "(the difference tells bob the id exists)",
                    )
                    after = snapshot(client, t.keys.alice, ids)
                    f.check(after == before, f"{name}: bob's request changed alice's object")
            listed = client.get(collection, headers=bearer(t.keys.bob))
            f.check(listed.status_code == 200, f"GET {collection} as bob: {listed.status_code}")
            for name, value in ids.items():
                if isinstance(value, str) and not name.startswith("_"):
                    f.check(value not in listed.text, f"GET {collection}: bob's list shows alice's {name}")
    return f
