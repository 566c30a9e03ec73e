"""``/api/kg``: knowledge graphs over HTTP: create, curate, read, export, fact-check, build; scoped per user."""

from __future__ import annotations

import io
import json

import networkx as nx
import pytest
from fastapi.testclient import TestClient

from draftsmith.config import Settings
from draftsmith.models.fake import FakeModel
from draftsmith.server import ServerConfig, create_app
from draftsmith.store import accounts, db, open_store

SETTINGS = Settings(model="fake", prefix_cache=False)
FACTS = [
    ("Eiffel Tower", "completionDate", "1889"),
    ("Eiffel Tower", "location", "Paris"),
    ("Paris", "capitalOf", "France"),
]


def answer(*triples: tuple[str, str, str]) -> str:
    return json.dumps({"triples": [list(t) for t in triples]})


def responder(messages, params) -> str:
    """Claims and passages → the facts the fake model 'extracts' from them (from the passage, not the worked
    examples shown before it)."""
    text = messages[-1].content
    text = text[max(text.rfind("Text:\n"), 0) :]
    if "1901" in text:
        return answer(("Eiffel Tower", "completionDate", "1901"))
    if "was completed in 1889" in text:
        return answer(("Eiffel Tower", "completionDate", "1889"))
    if "Gustave Eiffel designed" in text:
        return answer(("Gustave Eiffel", "designed", "Eiffel Tower"))
    return answer()


@pytest.fixture
def store():
    s = open_store()
    yield s
    db.close_all()


def key_for(store, name: str) -> dict[str, str]:
    accounts.add_user(store, name, requests_per_minute=0)
    key, _ = accounts.create_key(store, name)
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(SETTINGS, FakeModel(responder), config=ServerConfig()))


def make_city(client: TestClient, headers: dict[str, str]) -> list[dict]:
    assert client.post("/api/kg", json={"name": "city"}, headers=headers).status_code == 201
    added = []
    for s, p, o in FACTS:
        got = client.post("/api/kg/city/triples", json={"subject": s, "predicate": p, "object": o}, headers=headers)
        assert got.status_code == 201, got.text
        added.append(got.json())
    return added


def test_create_curate_show_paths_and_export(store, client):
    ana = key_for(store, "ana")
    added = make_city(client, ana)
    assert {t["status"] for t in added} == {"validated"}
    info = client.get("/api/kg/city", headers=ana).json()
    assert (info["name"], info["triples"], info["validated"]) == ("city", 3, 3)
    assert [g["name"] for g in client.get("/api/kg", headers=ana).json()] == ["city"]

    shown = client.get("/api/kg/city/entities/Eiffel Tower", headers=ana)
    assert shown.status_code == 200, shown.text
    assert shown.json()["entity"]["name"] == "Eiffel Tower"
    assert {t["predicate"] for t in shown.json()["outgoing"]} == {"completionDate", "location"}
    assert client.get("/api/kg/city/entities/Colosseum", headers=ana).status_code == 404

    found = client.get("/api/kg/city/paths", params={"source": "Eiffel Tower", "target": "France"}, headers=ana)
    assert found.status_code == 200, found.text
    assert found.json()["paths"][0]["entities"] == ["Eiffel Tower", "Paris", "France"]
    missing = client.get("/api/kg/city/paths?source=Paris", headers=ana)
    assert missing.status_code == 400 and missing.json()["error"]["type"] == "input_error"

    as_json = client.get("/api/kg/city/export?format=json", headers=ana)
    assert as_json.status_code == 200 and as_json.headers["content-type"].startswith("application/json")
    assert len(json.loads(as_json.text)["triples"]) == 3
    graphml = client.get("/api/kg/city/export", params={"format": "graphml"}, headers=ana)
    g = nx.read_graphml(io.BytesIO(graphml.content))
    assert g.number_of_edges() == 3 and {d["name"] for _, d in g.nodes(data=True)} >= {"Paris", "France"}
    cypher = client.get("/api/kg/city/export?format=cypher", headers=ana)
    assert cypher.status_code == 200 and "MERGE" in cypher.text
    bad = client.get("/api/kg/city/export?format=xml", headers=ana)
    assert bad.status_code == 422 and bad.json()["error"]["type"] == "validation_error"

    tid = added[1]["id"]
    removed = client.delete(f"/api/kg/city/triples/{tid}", headers=ana)
    assert removed.status_code == 200 and removed.json()["status"] == "removed"
    assert client.get("/api/kg/city", headers=ana).json()["triples"] == 2
    again = client.post(f"/api/kg/city/triples/{tid}/validate", headers=ana)
    assert again.status_code == 200 and again.json()["status"] == "validated"
    assert client.post("/api/kg/city/triples/999999/validate", headers=ana).status_code == 404
    assert client.delete("/api/kg/city/triples/999999", headers=ana).json()["error"]["type"] == "not_found"
    bad_triple = client.post("/api/kg/city/triples", json={"subject": "x", "predicate": "p"}, headers=ana)
    assert bad_triple.status_code == 422

    assert client.delete("/api/kg/city", headers=ana).status_code == 204
    assert client.get("/api/kg/city", headers=ana).status_code == 404


def test_another_user_gets_404_and_changes_nothing(store, client):
    ana, ben = key_for(store, "ana"), key_for(store, "ben")
    added = make_city(client, ana)
    before = client.get("/api/kg/city/export?format=json", headers=ana).text
    tid = added[0]["id"]
    fact = {"subject": "Ben", "predicate": "owns", "object": "Paris"}
    attempts = [
        client.get("/api/kg/city", headers=ben),
        client.get("/api/kg/city/entities/Paris", headers=ben),
        client.get("/api/kg/city/paths?source=Paris&target=France", headers=ben),
        client.get("/api/kg/city/export?format=graphml", headers=ben),
        client.post("/api/kg/city/triples", json=fact, headers=ben),
        client.post(f"/api/kg/city/triples/{tid}/validate", headers=ben),
        client.delete(f"/api/kg/city/triples/{tid}", headers=ben),
        client.post("/api/kg/city/factcheck", json={"text": "Paris is the capital of France."}, headers=ben),
        client.post("/api/kg/city/build?kb=city", headers=ben),
        client.delete("/api/kg/city", headers=ben),
    ]
    for got in attempts:
        assert got.status_code == 404, (got.request.method, got.request.url, got.text)
        assert got.json() == {"error": {"type": "not_found", "message": "no knowledge graph city"}}
    assert client.get("/api/kg", headers=ben).json() == []
    assert client.get("/api/kg/city/export?format=json", headers=ana).text == before
    assert client.get("/api/kg/city", headers=ana).json()["triples"] == 3
    assert client.get("/api/kg", headers=key_for(store, "cy")).json() == []
    assert client.get("/api/kg").status_code == 401


def test_factcheck_gives_verdicts_with_evidence(store, client):
    ana = key_for(store, "ana")
    make_city(client, ana)
    text = "The Eiffel Tower was completed in 1889. The Eiffel Tower was completed in 1901."
    got = client.post("/api/kg/city/factcheck", json={"text": text}, headers=ana)
    assert got.status_code == 200, got.text
    result = got.json()
    assert [c["verdict"] for c in result["claims"]] == ["supported", "contradicted"]
    assert result["claims"][1]["evidence"][0]["triple"]["object"] == "1889"
    assert (result["supported"], result["contradicted"]) == (1, 1)
    assert client.post("/api/kg/city/factcheck", json={"text": text, "kb": "nope"}, headers=ana).status_code == 404
    empty = client.post("/api/kg/city/factcheck", json={"text": ""}, headers=ana)
    assert empty.status_code == 422 and "error" in empty.json()
    assert client.post("/api/kg", json={"name": "blank"}, headers=ana).status_code == 201
    nothing = client.post("/api/kg/blank/factcheck", json={"text": text}, headers=ana)
    assert nothing.status_code == 400 and nothing.json()["error"]["type"] == "input_error"


def test_build_from_the_callers_own_knowledge_base(store, client):
    ana, ben = key_for(store, "ana"), key_for(store, "ben")
    assert client.post("/api/kb", json={"name": "notes"}, headers=ana).status_code == 201
    doc = b"# Tower\n\nGustave Eiffel designed the Eiffel Tower.\n"
    assert client.post("/api/kb/notes/documents?filename=t.md", content=doc, headers=ana).status_code == 201
    assert client.post("/api/kg", json={"name": "notes"}, headers=ana).status_code == 201
    built = client.post("/api/kg/notes/build", headers=ana)
    assert built.status_code == 200, built.text
    report = built.json()
    assert (report["graph"], report["kb"], report["processed"], report["triples_added"]) == ("notes", "notes", 1, 1)
    again = client.post("/api/kg/notes/build?kb=notes&limit=5", headers=ana).json()
    assert (again["processed"], again["unchanged"]) == (0, 1)
    shown = client.get("/api/kg/notes/entities/Gustave Eiffel", headers=ana).json()
    assert shown["incoming"][0]["subject"] == "Eiffel Tower"  # (Eiffel Tower, designer, Gustave Eiffel)
    # ben's graph of the same name cannot read ana's knowledge base
    assert client.post("/api/kg", json={"name": "notes"}, headers=ben).status_code == 201
    theirs = client.post("/api/kg/notes/build?kb=notes", headers=ben)
    assert theirs.status_code == 404 and theirs.json()["error"]["message"] == "no knowledge base notes"
    assert client.get("/api/kg/notes", headers=ben).json()["triples"] == 0
    assert client.post("/api/kg/notes/build?limit=0", headers=ana).status_code == 422


# -- the editor's graph facts and write --kg over HTTP ----------------------------------------------------------


def citing(messages, params) -> str:
    """The grounded writer's prompt → a sentence citing the fact passage that states 1889."""
    import re

    text = messages[-1].content
    if "Source passages" not in text:
        return responder(messages, params)
    n = re.search(r'<passage id="(\d+)">[^<]*1889', text)
    return f"The Eiffel Tower was completed in 1889 [{n.group(1) if n else 1}]."


def test_related_facts_name_the_entities_and_carry_their_passages(store, client):
    ana, ben = key_for(store, "ana"), key_for(store, "ben")
    make_city(client, ana)
    got = client.post("/api/kg/city/facts", json={"text": "We visited the Eiffel Tower in Paris."}, headers=ana)
    assert got.status_code == 200, got.text
    result = got.json()
    assert result["graph"] == "city" and result["entities"] == ["Eiffel Tower", "Paris"]
    lines = [f["line"] for f in result["facts"]]
    assert lines[0] == "Eiffel Tower — location — Paris"  # the fact linking two named entities comes first
    assert set(lines) == {"Eiffel Tower — location — Paris", "Eiffel Tower — completion date — 1889",
                          "Paris — capital of — France"}  # fmt: skip
    assert all(f["passages"] == [] for f in result["facts"])  # added by hand: read from no passage
    few = client.post("/api/kg/city/facts", json={"text": "Paris", "limit": 1}, headers=ana).json()
    assert len(few["facts"]) == 1
    assert client.post("/api/kg/city/facts", json={"text": "Rome"}, headers=ana).json()["facts"] == []
    theirs = client.post("/api/kg/city/facts", json={"text": "Paris"}, headers=ben)
    assert theirs.status_code == 404 and theirs.json()["error"]["type"] == "not_found"
    assert client.post("/api/kg/city/facts", json={"text": ""}, headers=ana).status_code == 422

    # a built graph: each fact comes with the passage it was read from, under the document's stored name
    assert client.post("/api/kb", json={"name": "notes"}, headers=ana).status_code == 201
    doc = b"# Tower\n\nGustave Eiffel designed the Eiffel Tower.\n"
    stored = client.post("/api/kb/notes/documents?filename=t.md", content=doc, headers=ana).json()["name"]
    assert client.post("/api/kg", json={"name": "notes"}, headers=ana).status_code == 201
    assert client.post("/api/kg/notes/build", headers=ana).status_code == 200
    built = client.post("/api/kg/notes/facts", json={"text": "Who designed the Eiffel Tower?"}, headers=ana).json()
    (fact,) = built["facts"]
    assert fact["line"] == "Eiffel Tower — designer — Gustave Eiffel"  # the thing first (canonical_direction)
    (passage,) = fact["passages"]
    assert passage["document"] == stored and "Gustave Eiffel designed" in passage["text"]
    assert passage["where"] and [s["source"] for s in fact["triple"]["sources"]] == [stored]

    # write --kg --kb: the knowledge base's passages first, then the graph's facts, all citable
    writer = TestClient(create_app(SETTINGS, FakeModel(citing), config=ServerConfig()))
    body = {"instruction": "Who designed the Eiffel Tower?", "kb": "notes"}
    both = writer.post("/api/kg/notes/write", json=body, headers=ana)
    assert both.status_code == 200, both.text
    assert [p["source"] for p in both.json()["passages"]] == [stored, "knowledge graph notes"]


def test_write_from_the_graph_json_and_streamed_per_user(store):
    client = TestClient(create_app(SETTINGS, FakeModel(citing), config=ServerConfig()))
    ana, ben = key_for(store, "ana"), key_for(store, "ben")
    make_city(client, ana)
    body = {"instruction": "A sentence about when the Eiffel Tower was completed."}
    got = client.post("/api/kg/city/write", json=body, headers=ana)
    assert got.status_code == 200, got.text
    result = got.json()
    assert result["text"].startswith("The Eiffel Tower was completed in 1889 [")
    cited = {r["text"] for r in result["references"]}
    assert cited == {"Eiffel Tower — completion date — 1889"}
    assert all(r["source"] == "knowledge graph city" for r in result["references"])

    with client.stream("POST", "/api/kg/city/write", json={**body, "stream": True}, headers=ana) as streamed:
        assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
        events = "".join(streamed.iter_text())
    assert "event: token" in events and "event: done" in events and "completion date" in events

    nothing = client.post("/api/kg/city/write", json={"instruction": "A poem about Rome."}, headers=ana)
    assert nothing.status_code == 400 and "no facts about the names" in nothing.json()["error"]["message"]
    assert client.post("/api/kg/city/write", json={**body, "kb": "nope"}, headers=ana).status_code == 404
    theirs = client.post("/api/kg/city/write", json=body, headers=ben)
    assert theirs.status_code == 404 and theirs.json()["error"]["message"] == "no knowledge graph city"
    # ben's graph of the same name cannot draw on ana's knowledge base
    assert client.post("/api/kb", json={"name": "atlas"}, headers=ana).status_code == 201
    assert client.post("/api/kg", json={"name": "city"}, headers=ben).status_code == 201
    theirs_kb = client.post("/api/kg/city/write", json={**body, "kb": "atlas"}, headers=ben)
    assert theirs_kb.status_code == 404 and theirs_kb.json()["error"]["message"] == "no knowledge base atlas"
