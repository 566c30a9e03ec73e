"""Reading a graph: an entity with its facts, neighbours, paths between two entities, exports.

Traversal runs on networkx (a ``MultiDiGraph`` built from the store per call). Paths are simple paths on the
undirected view — no entity is visited twice, so cycles cannot loop — and never pass *through* a date or a
value (two people born in the same year are not connected by it).

Exports: ``graphml`` (networkx's writer), ``json`` (entities with aliases, triples with sources), ``cypher``
(``MERGE`` statements that load into Neo4j: every string single-quoted and escaped, labels and relationship
types backtick-quoted).
"""

from __future__ import annotations

import io
import itertools
import json
import re
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field

from draftsmith.errors import InputError
from draftsmith.graph.graph import Entity, TripleInfo, entity, find_entity, graph_row, info, triples
from draftsmith.store.db import Store
from draftsmith.store.graph import kg_entities, kg_triples

ExportFormat = Literal["graphml", "json", "cypher"]
FORMATS = ("graphml", "json", "cypher")


class EntityView(BaseModel):
    entity: Entity
    outgoing: list[TripleInfo] = Field(default_factory=list)
    incoming: list[TripleInfo] = Field(default_factory=list)


class Path(BaseModel):
    entities: list[str]
    triples: list[TripleInfo]


class PathResult(BaseModel):
    source: str
    target: str
    paths: list[Path] = Field(default_factory=list)
    message: str = ""


def show_entity(store: Store, name: str, entity_name: str, *, owner: str = "") -> EntityView:
    with store.read() as conn:
        row = graph_row(conn, name, owner)
        eid = find_entity(conn, row.id, entity_name)
        return EntityView(
            entity=entity(conn, eid),
            outgoing=triples(conn, row.id, kg_triples.c.subject_id == eid),
            incoming=triples(conn, row.id, kg_triples.c.object_id == eid),
        )


def neighbours(store: Store, name: str, entity_name: str, *, depth: int = 1, owner: str = "") -> list[TripleInfo]:
    """Facts within ``depth`` hops of an entity (both directions)."""
    if depth < 1 or depth > 4:
        raise InputError("--depth must be 1–4")
    import networkx as nx

    with store.read() as conn:
        row = graph_row(conn, name, owner)
        eid = find_entity(conn, row.id, entity_name)
        facts = triples(conn, row.id, sources=False)
    g = to_networkx(facts)
    near = set(nx.single_source_shortest_path_length(g.to_undirected(as_view=True), eid, cutoff=depth))
    return [t for t in facts if t.subject_id in near and t.object_id in near]


def find_paths(
    store: Store, name: str, source: str, target: str, *, max_hops: int = 4, limit: int = 5, owner: str = ""
) -> PathResult:
    """Up to ``limit`` shortest simple paths (≤ ``max_hops`` facts) between two entities, either direction."""
    import networkx as nx

    with store.read() as conn:
        row = graph_row(conn, name, owner)
        a, b = find_entity(conn, row.id, source), find_entity(conn, row.id, target)
        if a == b:
            raise InputError(f"{source!r} and {target!r} are the same entity; a path needs two")
        facts = triples(conn, row.id, sources=False)
        types = dict(
            conn.execute(sa.select(kg_entities.c.id, kg_entities.c.type).where(kg_entities.c.graph_id == row.id)).all()
        )
    g = to_networkx(facts)
    undirected = nx.Graph()
    by_pair: dict[tuple[int, int], list[TripleInfo]] = {}
    for t in facts:
        pair = (min(t.subject_id, t.object_id), max(t.subject_id, t.object_id))
        by_pair.setdefault(pair, []).append(t)
        undirected.add_edge(t.subject_id, t.object_id)
    values = {n for n, kind in types.items() if kind in ("DATE", "VALUE") and n not in (a, b)}
    undirected.remove_nodes_from(values)
    result = PathResult(source=source, target=target)
    if a not in undirected or b not in undirected:
        result.message = "no path: one of the entities has no facts linking it to others"
        return result
    try:
        for nodes in nx.shortest_simple_paths(undirected, a, b):
            if len(nodes) - 1 > max_hops or len(result.paths) >= limit:
                break
            hops = [by_pair[(min(x, y), max(x, y))][0] for x, y in itertools.pairwise(nodes)]
            result.paths.append(Path(entities=[g.nodes[n]["name"] for n in nodes], triples=hops))
    except nx.NetworkXNoPath:
        pass
    if not result.paths:
        result.message = f"no path of at most {max_hops} facts between {source!r} and {target!r}"
    return result


def to_networkx(facts: list[TripleInfo]):
    import networkx as nx

    g = nx.MultiDiGraph()
    for t in facts:
        g.add_node(t.subject_id, name=t.subject)
        g.add_node(t.object_id, name=t.object, type=t.object_type)
        g.add_edge(
            t.subject_id,
            t.object_id,
            key=t.id,
            id=t.id,
            predicate=t.predicate,
            status=t.status,
            confidence=t.confidence,
        )
    return g


# -- export ----------------------------------------------------------------------------------------------


def export_graph(store: Store, name: str, fmt: str, *, owner: str = "") -> str:
    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    with store.read() as conn:
        row = graph_row(conn, name, owner)
        meta = info(conn, row)
        ids = list(conn.scalars(sa.select(kg_entities.c.id).where(kg_entities.c.graph_id == row.id).order_by("id")))
        ents = [entity(conn, i) for i in ids]
        facts = triples(conn, row.id)
    if fmt == "json":
        return json.dumps(
            {
                "graph": meta.name,
                "entities": [e.model_dump() for e in ents],
                "triples": [t.model_dump() for t in facts],
            },
            ensure_ascii=False,
            indent=2,
        )
    if fmt == "graphml":
        return _graphml(ents, facts)
    return _cypher(meta.name, ents, facts)


def _graphml(ents: list[Entity], facts: list[TripleInfo]) -> str:
    import networkx as nx

    g = nx.MultiDiGraph()
    for e in ents:
        g.add_node(
            f"e{e.id}",
            name=e.name,
            type=e.type,
            description=e.description,
            aliases="; ".join(a.alias for a in e.aliases),
        )
    for t in facts:
        g.add_edge(
            f"e{t.subject_id}",
            f"e{t.object_id}",
            key=f"t{t.id}",
            predicate=t.predicate,
            status=t.status,
            confidence=float(t.confidence),
        )
    buffer = io.BytesIO()
    nx.write_graphml(g, buffer, encoding="utf-8")
    return buffer.getvalue().decode("utf-8")


def cypher_string(value: Any) -> str:
    """A Cypher string literal: single quotes, with backslashes, quotes and control characters escaped."""
    text = str(value)
    text = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    text = re.sub(r"[\x00-\x1f]", lambda m: f"\\u{ord(m.group()):04x}", text)
    return f"'{text}'"


def cypher_name(value: str) -> str:
    """A label or relationship type, backtick-quoted (a backtick inside is doubled)."""
    return "`" + value.replace("`", "``") + "`"


def _cypher(graph: str, ents: list[Entity], facts: list[TripleInfo]) -> str:
    lines = [
        f"// draftsmith knowledge graph {graph}: {len(ents)} entities, {len(facts)} triples",
        "CREATE CONSTRAINT draftsmith_entity_id IF NOT EXISTS FOR (n:Entity) REQUIRE n.id IS UNIQUE;",
    ]
    for e in ents:
        aliases = ", ".join(cypher_string(a.alias) for a in e.aliases)
        lines.append(
            f"MERGE (n:Entity {{id: {e.id}}}) SET n:{cypher_name(e.type or 'THING')}, "
            f"n.name = {cypher_string(e.name)}, n.type = {cypher_string(e.type)}, "
            f"n.description = {cypher_string(e.description)}, n.aliases = [{aliases}];"
        )
    for t in facts:
        lines.append(
            f"MATCH (a:Entity {{id: {t.subject_id}}}), (b:Entity {{id: {t.object_id}}}) "
            f"MERGE (a)-[r:{cypher_name(t.predicate)} {{id: {t.id}}}]->(b) "
            f"SET r.predicate = {cypher_string(t.predicate)}, r.status = {cypher_string(t.status)}, "
            f"r.confidence = {float(t.confidence)};"
        )
    return "\n".join(lines) + "\n"
