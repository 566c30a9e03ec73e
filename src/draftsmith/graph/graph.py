"""Graphs in the store: create, look up, curate (add, remove, validate), merge and split entities, review.

Every graph belongs to an owner (``""`` is the local user), like a knowledge base. Triples have a status:
``extracted`` ones belong to the builder; ``user`` (added by hand) and ``validated`` ones belong to the user, and
a rebuild never overwrites or deletes them. Removing a triple leaves a ``removed`` tombstone, so re-extracting
the passage that stated it does not bring it back.
"""

from __future__ import annotations

import difflib
import re
import time
import uuid

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from draftsmith.errors import InputError
from draftsmith.graph.extract import predicate_label, value_type
from draftsmith.graph.resolve import entity_key, variant_keys
from draftsmith.store.db import Store
from draftsmith.store.graph import kg_aliases, kg_entities, kg_graphs, kg_provenance, kg_review, kg_triples

OWNED_BY_USER = ("validated", "user")
VISIBLE = ("extracted", "validated", "user")
_STATUS_RANK = {"removed": 3, "validated": 2, "user": 1, "extracted": 0}
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class GraphInfo(BaseModel):
    name: str
    id: str
    kb_id: str | None = None
    entities: int = 0
    triples: int = 0
    validated: int = 0
    review_open: int = 0
    created_at: float
    updated_at: float


class Alias(BaseModel):
    alias: str
    confidence: float
    rule: str


class Entity(BaseModel):
    id: int
    name: str
    type: str
    description: str = ""
    aliases: list[Alias] = Field(default_factory=list)


class Source(BaseModel):
    passage_hash: str
    chunk_id: int | None = None
    source: str = ""


class TripleInfo(BaseModel):
    id: int
    subject: str
    predicate: str
    object: str
    subject_id: int
    object_id: int
    object_type: str = "THING"
    confidence: float = 1.0
    status: str = "extracted"
    sources: list[Source] = Field(default_factory=list)

    def text(self) -> str:
        return f"{self.subject} | {self.predicate} | {self.object}"


class ReviewItem(BaseModel):
    id: int
    keep: Entity
    other: Entity
    confidence: float
    reason: str
    status: str


# -- graphs ----------------------------------------------------------------------------------------------


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100 or set(name) - _NAME_CHARS:
        raise InputError(f"graph name {name!r} is not valid: use 1–100 letters, digits, '-', '_' or '.'")
    return name


def graph_row(conn: Connection, name: str, owner: str = "") -> sa.Row:
    row = conn.execute(sa.select(kg_graphs).where(kg_graphs.c.owner == owner, kg_graphs.c.name == name)).first()
    if row is None:
        known = list(conn.scalars(sa.select(kg_graphs.c.name).where(kg_graphs.c.owner == owner).order_by("name")))
        hint = f"; known: {', '.join(known)}" if known else "; build one with: draftsmith kg build KB_NAME"
        raise InputError(f"no knowledge graph named {name!r}{hint}")
    return row


def ensure_graph(conn: Connection, name: str, owner: str = "", kb_id: str | None = None) -> sa.Row:
    name = check_name(name)
    row = conn.execute(sa.select(kg_graphs).where(kg_graphs.c.owner == owner, kg_graphs.c.name == name)).first()
    if row is None:
        now = time.time()
        conn.execute(
            kg_graphs.insert().values(
                id=uuid.uuid4().hex, owner=owner, name=name, kb_id=kb_id, generation=0, created_at=now, updated_at=now
            )
        )
        row = conn.execute(sa.select(kg_graphs).where(kg_graphs.c.owner == owner, kg_graphs.c.name == name)).one()
    elif kb_id and row.kb_id and row.kb_id != kb_id:
        raise InputError(f"graph {name!r} is built from another knowledge base; choose another graph name")
    elif kb_id and not row.kb_id:
        conn.execute(kg_graphs.update().where(kg_graphs.c.id == row.id).values(kb_id=kb_id))
    return row


def bump(conn: Connection, graph_id: str) -> None:
    conn.execute(
        kg_graphs.update()
        .where(kg_graphs.c.id == graph_id)
        .values(generation=kg_graphs.c.generation + 1, updated_at=time.time())
    )


def _count(conn: Connection, table: sa.Table, *where) -> int:
    return conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where)) or 0


def info(conn: Connection, row: sa.Row) -> GraphInfo:
    t = kg_triples.c
    return GraphInfo(
        name=row.name,
        id=row.id,
        kb_id=row.kb_id,
        entities=_count(conn, kg_entities, kg_entities.c.graph_id == row.id),
        triples=_count(conn, kg_triples, t.graph_id == row.id, t.status.in_(VISIBLE)),
        validated=_count(conn, kg_triples, t.graph_id == row.id, t.status == "validated"),
        review_open=_count(conn, kg_review, kg_review.c.graph_id == row.id, kg_review.c.status == "open"),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def get_graph(store: Store, name: str, *, owner: str = "") -> GraphInfo:
    with store.read() as conn:
        return info(conn, graph_row(conn, name, owner))


def list_graphs(store: Store, *, owner: str = "") -> list[GraphInfo]:
    with store.read() as conn:
        rows = conn.execute(sa.select(kg_graphs).where(kg_graphs.c.owner == owner).order_by(kg_graphs.c.name)).all()
        return [info(conn, r) for r in rows]


def remove_graph(store: Store, name: str, *, owner: str = "") -> GraphInfo:
    from draftsmith.store.graph import kg_passages

    with store.write() as conn:
        row = graph_row(conn, name, owner)
        gone = info(conn, row)
        ids = sa.select(kg_triples.c.id).where(kg_triples.c.graph_id == row.id).scalar_subquery()
        conn.execute(kg_provenance.delete().where(kg_provenance.c.triple_id.in_(ids)))
        for table in (kg_review, kg_triples, kg_aliases, kg_entities, kg_passages):
            conn.execute(table.delete().where(table.c.graph_id == row.id))
        conn.execute(kg_graphs.delete().where(kg_graphs.c.id == row.id))
    return gone


# -- entities --------------------------------------------------------------------------------------------


def entity_id(conn: Connection, graph_id: str, name: str) -> int | None:
    """The entity a name resolves to (through its aliases), or None."""
    for key in (entity_key(name), *variant_keys(name)):
        found = conn.scalar(
            sa.select(kg_aliases.c.entity_id).where(kg_aliases.c.graph_id == graph_id, kg_aliases.c.key == key)
        )
        if found is not None:
            return found
    return None


def find_entity(conn: Connection, graph_id: str, name: str) -> int:
    """Like ``entity_id``, but an unknown name is an InputError with the closest known names."""
    found = entity_id(conn, graph_id, name)
    if found is not None:
        return found
    aliases = list(conn.scalars(sa.select(kg_aliases.c.alias).where(kg_aliases.c.graph_id == graph_id)))
    if not aliases:
        raise InputError("the graph is empty: build it (kg build) or add triples (kg add)")
    close = difflib.get_close_matches(name, aliases, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise InputError(f"no entity named {name!r} in this graph{hint}")


def ensure_entity(conn: Connection, graph_id: str, name: str, type_: str = "THING", description: str = "") -> int:
    """The entity for ``name``, created (with its alias keys) when no alias resolves it."""
    found = entity_id(conn, graph_id, name)
    if found is not None:
        if type_ not in ("THING", ""):
            conn.execute(
                kg_entities.update().where(kg_entities.c.id == found, kg_entities.c.type == "THING").values(type=type_)
            )
        return found
    new = conn.execute(
        kg_entities.insert().values(
            graph_id=graph_id,
            name=name.strip()[:400],
            type=type_ or "THING",
            description=description[:400],
            created_at=time.time(),
        )
    ).inserted_primary_key[0]
    add_alias(conn, graph_id, new, name, 1.0, "exact")
    for variant in variant_keys(name):
        add_alias(conn, graph_id, new, name, 0.9, "variant", key=variant)
    return new


def add_alias(
    conn: Connection, graph_id: str, entity: int, alias: str, confidence: float, rule: str, key: str | None = None
) -> None:
    key = key or entity_key(alias)
    if not key:
        return
    taken = conn.scalar(
        sa.select(kg_aliases.c.entity_id).where(kg_aliases.c.graph_id == graph_id, kg_aliases.c.key == key)
    )
    if taken is None:
        conn.execute(
            kg_aliases.insert().values(
                graph_id=graph_id,
                key=key,
                alias=alias.strip()[:400],
                entity_id=entity,
                confidence=confidence,
                rule=rule,
            )
        )


def entity(conn: Connection, entity_id_: int) -> Entity:
    row = conn.execute(sa.select(kg_entities).where(kg_entities.c.id == entity_id_)).one()
    aliases = conn.execute(
        sa.select(kg_aliases).where(kg_aliases.c.entity_id == entity_id_).order_by(kg_aliases.c.confidence.desc())
    ).all()
    seen: dict[str, Alias] = {}
    for a in aliases:
        seen.setdefault(a.alias, Alias(alias=a.alias, confidence=a.confidence, rule=a.rule))
    return Entity(id=row.id, name=row.name, type=row.type, description=row.description, aliases=list(seen.values()))


# -- triples ---------------------------------------------------------------------------------------------


def upsert_triple(
    conn: Connection, graph_id: str, subject: int, predicate: str, obj: int, confidence: float, status: str
) -> int:
    """Insert a triple, or strengthen an existing one. A triple the user owns keeps its status; a removed one
    stays removed unless the user adds or validates it again."""
    row = conn.execute(
        sa.select(kg_triples.c.id, kg_triples.c.status, kg_triples.c.confidence).where(
            kg_triples.c.graph_id == graph_id,
            kg_triples.c.subject_id == subject,
            kg_triples.c.predicate == predicate,
            kg_triples.c.object_id == obj,
        )
    ).first()
    now = time.time()
    if row is None:
        return conn.execute(
            kg_triples.insert().values(
                graph_id=graph_id,
                subject_id=subject,
                predicate=predicate,
                object_id=obj,
                confidence=confidence,
                status=status,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
    values: dict = {"updated_at": now, "confidence": max(row.confidence, confidence)}
    if status in OWNED_BY_USER and (row.status != "validated" or status == "validated"):
        values["status"] = status
    conn.execute(kg_triples.update().where(kg_triples.c.id == row.id).values(**values))
    return row.id


def triple_query(graph_id: str):
    s, o = kg_entities.alias("s"), kg_entities.alias("o")
    t = kg_triples
    return (
        sa.select(
            t.c.id,
            t.c.predicate,
            t.c.subject_id,
            t.c.object_id,
            t.c.confidence,
            t.c.status,
            s.c.name.label("subject"),
            o.c.name.label("object"),
            o.c.type.label("object_type"),
        )
        .select_from(t.join(s, s.c.id == t.c.subject_id).join(o, o.c.id == t.c.object_id))
        .where(t.c.graph_id == graph_id)
    )


def triples(conn: Connection, graph_id: str, *where, sources: bool = True, visible: bool = True) -> list[TripleInfo]:
    query = triple_query(graph_id).where(*where)
    if visible:
        query = query.where(kg_triples.c.status.in_(VISIBLE))
    rows = conn.execute(query.order_by(kg_triples.c.id)).all()
    found = {r.id: TripleInfo(**r._mapping) for r in rows}
    if sources and found:
        prov = conn.execute(sa.select(kg_provenance).where(kg_provenance.c.triple_id.in_(list(found)))).all()
        for p in prov:
            found[p.triple_id].sources.append(Source(passage_hash=p.passage_hash, chunk_id=p.chunk_id, source=p.source))
    return list(found.values())


def parse_triple_ref(ref: str) -> int | tuple[str, str, str]:
    """``12`` / ``#12`` (a triple id) or ``subject | predicate | object``."""
    ref = ref.strip()
    if re.fullmatch(r"#?\d+", ref):
        return int(ref.lstrip("#"))
    parts = [p.strip() for p in ref.split("|")]
    if len(parts) != 3 or not all(parts):
        raise InputError(f"triple {ref!r} must be an id (like 12) or 'subject | predicate | object'")
    return parts[0], parts[1], parts[2]


def _resolve_ref(conn: Connection, graph_id: str, ref: str) -> sa.Row:
    parsed = parse_triple_ref(ref)
    if isinstance(parsed, int):
        row = conn.execute(
            sa.select(kg_triples).where(kg_triples.c.graph_id == graph_id, kg_triples.c.id == parsed)
        ).first()
        if row is None:
            raise InputError(f"no triple {parsed} in this graph (see kg show ENTITY for ids)")
        return row
    s, p, o = parsed
    sid, oid = find_entity(conn, graph_id, s), find_entity(conn, graph_id, o)
    row = conn.execute(
        sa.select(kg_triples).where(
            kg_triples.c.graph_id == graph_id,
            kg_triples.c.subject_id == sid,
            kg_triples.c.predicate == predicate_label(p),
            kg_triples.c.object_id == oid,
        )
    ).first()
    if row is None:
        raise InputError(f"no triple {s} | {predicate_label(p)} | {o} in this graph")
    return row


def add_triple(
    store: Store, name: str, subject: str, predicate: str, obj: str, *, owner: str = "", validated: bool = True
) -> TripleInfo:
    """Add a fact by hand (status ``validated``, or ``user``); creates the graph and entities as needed."""
    predicate = predicate_label(predicate)
    if not subject.strip() or not obj.strip() or not predicate:
        raise InputError("a triple needs a subject, a predicate (with letters) and an object")
    with store.write() as conn:
        row = ensure_graph(conn, name, owner)
        sid = ensure_entity(conn, row.id, subject, value_type(subject) or "THING")
        oid = ensure_entity(conn, row.id, obj, value_type(obj) or "THING")
        if sid == oid:
            raise InputError(f"subject and object are the same entity ({subject!r})")
        tid = upsert_triple(conn, row.id, sid, predicate, oid, 1.0, "validated" if validated else "user")
        bump(conn, row.id)
        return triples(conn, row.id, kg_triples.c.id == tid, visible=False)[0]


def remove_triple(store: Store, name: str, ref: str, *, owner: str = "") -> TripleInfo:
    """Remove a fact: it is kept as a tombstone so a rebuild does not extract it again."""
    with store.write() as conn:
        row = graph_row(conn, name, owner)
        t = _resolve_ref(conn, row.id, ref)
        if t.status == "removed":
            raise InputError(f"triple {t.id} is already removed")
        conn.execute(
            kg_triples.update().where(kg_triples.c.id == t.id).values(status="removed", updated_at=time.time())
        )
        bump(conn, row.id)
        return triples(conn, row.id, kg_triples.c.id == t.id, visible=False)[0]


def validate_triple(store: Store, name: str, ref: str, *, owner: str = "") -> TripleInfo:
    """Mark a fact as checked by a person: re-extraction never overwrites or deletes it."""
    with store.write() as conn:
        row = graph_row(conn, name, owner)
        t = _resolve_ref(conn, row.id, ref)
        conn.execute(
            kg_triples.update()
            .where(kg_triples.c.id == t.id)
            .values(status="validated", confidence=1.0, updated_at=time.time())
        )
        bump(conn, row.id)
        return triples(conn, row.id, kg_triples.c.id == t.id, visible=False)[0]
