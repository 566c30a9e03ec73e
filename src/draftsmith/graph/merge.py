"""Entity curation: merge two entities, split an alias off again, and the review queue of proposed merges.

A merge moves every alias and triple of one entity to the other (duplicate triples are joined: provenance
united, the stronger status kept). A split moves an alias back to an entity of its own, with the triples whose
provenance shows they were stated under that name. A rejected review item is never proposed again.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from draftsmith.errors import InputError
from draftsmith.graph.graph import _STATUS_RANK, Entity, ReviewItem, _count, bump, entity, find_entity, graph_row
from draftsmith.graph.resolve import entity_key
from draftsmith.store.db import Store
from draftsmith.store.graph import kg_aliases, kg_entities, kg_provenance, kg_review, kg_triples


def merge_into(
    conn: Connection, graph_id: str, keep: int, other: int, confidence: float = 1.0, rule: str = "user"
) -> None:
    """Move ``other``'s aliases and triples to ``keep`` and delete ``other``. Duplicate triples are joined
    (provenance united, the stronger status kept)."""
    if keep == other:
        return
    conn.execute(
        kg_aliases.update()
        .where(kg_aliases.c.entity_id == other)
        .values(entity_id=keep, rule=rule, confidence=confidence)
    )
    moving = conn.execute(
        sa.select(kg_triples).where(sa.or_(kg_triples.c.subject_id == other, kg_triples.c.object_id == other))
    ).all()
    for t in moving:
        s = keep if t.subject_id == other else t.subject_id
        o = keep if t.object_id == other else t.object_id
        twin = conn.execute(
            sa.select(kg_triples).where(
                kg_triples.c.graph_id == graph_id,
                kg_triples.c.subject_id == s,
                kg_triples.c.predicate == t.predicate,
                kg_triples.c.object_id == o,
                kg_triples.c.id != t.id,
            )
        ).first()
        if s == o:  # a fact between the two merged names (X sameAs Y) says nothing any more
            conn.execute(kg_triples.delete().where(kg_triples.c.id == t.id))
        elif twin is None:
            conn.execute(kg_triples.update().where(kg_triples.c.id == t.id).values(subject_id=s, object_id=o))
        else:
            status = max((t.status, twin.status), key=lambda x: _STATUS_RANK.get(x, 0))
            conn.execute(
                kg_triples.update()
                .where(kg_triples.c.id == twin.id)
                .values(status=status, confidence=max(t.confidence, twin.confidence))
            )
            for p in conn.execute(sa.select(kg_provenance).where(kg_provenance.c.triple_id == t.id)).all():
                exists = _count(
                    conn,
                    kg_provenance,
                    kg_provenance.c.triple_id == twin.id,
                    kg_provenance.c.passage_hash == p.passage_hash,
                )
                if not exists:
                    conn.execute(kg_provenance.insert().values(**{**p._mapping, "triple_id": twin.id}))
            conn.execute(kg_triples.delete().where(kg_triples.c.id == t.id))
    conn.execute(kg_review.delete().where(sa.or_(kg_review.c.entity_a == other, kg_review.c.entity_b == other)))
    conn.execute(kg_entities.delete().where(kg_entities.c.id == other))


def merge_entities(store: Store, name: str, keep: str, other: str, *, owner: str = "") -> Entity:
    """``kg merge A B``: B becomes an alias of A (everything said about B is now said about A)."""
    with store.write() as conn:
        row = graph_row(conn, name, owner)
        a, b = find_entity(conn, row.id, keep), find_entity(conn, row.id, other)
        if a == b:
            raise InputError(f"{keep!r} and {other!r} are already one entity")
        merge_into(conn, row.id, a, b)
        bump(conn, row.id)
        return entity(conn, a)


def split_entity(store: Store, name: str, entity_name: str, alias: str, *, owner: str = "") -> Entity:
    """``kg split ENTITY ALIAS``: the alias becomes an entity of its own again, with the facts that were
    extracted under that name."""
    from draftsmith.store.graph import kg_provenance as prov

    with store.write() as conn:
        row = graph_row(conn, name, owner)
        eid = find_entity(conn, row.id, entity_name)
        key = entity_key(alias)
        owner_of = conn.scalar(
            sa.select(kg_aliases.c.entity_id).where(kg_aliases.c.graph_id == row.id, kg_aliases.c.key == key)
        )
        if owner_of != eid:
            raise InputError(f"{alias!r} is not an alias of {entity_name!r} (see kg show {entity_name!r})")
        current = conn.execute(sa.select(kg_entities).where(kg_entities.c.id == eid)).one()
        if entity_key(current.name) == key:
            raise InputError(f"{alias!r} is the entity's own name; split off one of its other aliases")
        new = conn.execute(
            kg_entities.insert().values(
                graph_id=row.id, name=alias.strip(), type=current.type, description="", created_at=time.time()
            )
        ).inserted_primary_key[0]
        conn.execute(
            kg_aliases.update()
            .where(kg_aliases.c.graph_id == row.id, kg_aliases.c.key == key)
            .values(entity_id=new, rule="user", confidence=1.0)
        )
        for t in conn.execute(
            sa.select(kg_triples).where(sa.or_(kg_triples.c.subject_id == eid, kg_triples.c.object_id == eid))
        ).all():
            texts = conn.execute(
                sa.select(prov.c.subject_text, prov.c.object_text).where(prov.c.triple_id == t.id)
            ).all()
            said_s = any(entity_key(s) == key for s, _ in texts)
            said_o = any(entity_key(o) == key for _, o in texts)
            values = {}
            if t.subject_id == eid and said_s:
                values["subject_id"] = new
            if t.object_id == eid and said_o:
                values["object_id"] = new
            if values:
                conn.execute(kg_triples.update().where(kg_triples.c.id == t.id).values(**values))
        bump(conn, row.id)
        return entity(conn, new)


def review_queue(store: Store, name: str, *, owner: str = "", status: str = "open") -> list[ReviewItem]:
    with store.read() as conn:
        row = graph_row(conn, name, owner)
        rows = conn.execute(
            sa.select(kg_review)
            .where(kg_review.c.graph_id == row.id, kg_review.c.status == status)
            .order_by(kg_review.c.confidence.desc(), kg_review.c.id)
        ).all()
        return [
            ReviewItem(
                id=r.id,
                keep=entity(conn, r.entity_a),
                other=entity(conn, r.entity_b),
                confidence=r.confidence,
                reason=r.reason,
                status=r.status,
            )
            for r in rows
        ]


def decide_review(store: Store, name: str, item: int, accept: bool, *, owner: str = "") -> ReviewItem:
    """Accept (merge) or reject a proposed merge; a rejected pair is not proposed again."""
    with store.write() as conn:
        row = graph_row(conn, name, owner)
        r = conn.execute(sa.select(kg_review).where(kg_review.c.graph_id == row.id, kg_review.c.id == item)).first()
        if r is None or r.status != "open":
            raise InputError(f"no open review item {item} (see kg review {name})")
        result = ReviewItem(
            id=r.id,
            keep=entity(conn, r.entity_a),
            other=entity(conn, r.entity_b),
            confidence=r.confidence,
            reason=r.reason,
            status="merged" if accept else "rejected",
        )
        if accept:
            merge_into(conn, row.id, r.entity_a, r.entity_b)
        else:
            conn.execute(kg_review.update().where(kg_review.c.id == r.id).values(status="rejected"))
        bump(conn, row.id)
        return result
