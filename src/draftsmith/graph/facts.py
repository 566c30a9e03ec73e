"""write --kg: facts about the entities a request names, as a compact numbered list the draft cites; and the
same facts with the passages they were read from, for the editor's graph-facts panel (``related_facts``).

The facts go to ``writing/grounded.write_grounded`` as passages of one line each (``Eiffel Tower — height —
330 metres``), numbered after any knowledge-base passages, so the model cites them as ``[n]`` and the same
checker keeps, re-attributes or flags the citations; the reference list names the graph and the fact id.
"""

from __future__ import annotations

from pathlib import PurePath

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from draftsmith.errors import InputError
from draftsmith.graph.extract import normalise, predicate_words
from draftsmith.graph.graph import TripleInfo, graph_row, triples
from draftsmith.knowledge.chunking import Location
from draftsmith.knowledge.retrieve import Passage
from draftsmith.store.db import Store
from draftsmith.store.graph import kg_aliases, kg_entities, kg_triples
from draftsmith.store.knowledge import kb_bases, kb_chunks, kb_documents

_RANK = {"validated": 0, "user": 1, "extracted": 2}


def named_entities(conn: Connection, graph_id: str, text: str) -> set[int]:
    """The ids of the graph's entities that ``text`` names (by any alias: whole words, or a CJK substring)."""
    padded = f" {normalise(text)} "
    compact = padded.replace(" ", "")
    aliases = conn.execute(
        sa.select(kg_aliases.c.key, kg_aliases.c.entity_id).where(kg_aliases.c.graph_id == graph_id)
    ).all()
    named = set()
    for key, entity in aliases:
        cjk = any("\u3400" <= ch <= "\u9fff" for ch in key)
        if (cjk and len(key) >= 2 and key.replace(" ", "") in compact) or (len(key) >= 3 and f" {key} " in padded):
            named.add(entity)
    return named


def _facts_about(conn: Connection, graph_id: str, named: set[int], limit: int, sources: bool) -> list[TripleInfo]:
    if not named:
        return []
    where = sa.or_(kg_triples.c.subject_id.in_(named), kg_triples.c.object_id.in_(named))
    found = triples(conn, graph_id, where, sources=sources)
    found.sort(key=lambda t: (-(t.subject_id in named and t.object_id in named), _RANK.get(t.status, 3), -t.confidence))
    return found[:limit]


def facts_for(store: Store, kg: str, text: str, *, owner: str = "", limit: int = 12) -> list[TripleInfo]:
    """The graph's facts about entities ``text`` names: facts linking two named entities first, then the
    user's (validated) facts, then the most confident."""
    with store.read() as conn:
        row = graph_row(conn, kg, owner)
        return _facts_about(conn, row.id, named_entities(conn, row.id, text), limit, sources=False)


def fact_line(t: TripleInfo) -> str:
    return f"{t.subject} — {predicate_words(t.predicate)} — {t.object}"


def fact_passages(facts: list[TripleInfo], kg: str) -> list[Passage]:
    """Facts as one-line passages for the grounded writer (chunk id = −triple id, so they never clash)."""
    return [
        Passage(
            chunk_id=-t.id,
            kb=f"kg:{kg}",
            source=f"knowledge graph {kg}",
            title=f"fact {t.id}",
            location=Location(heading=f"fact {t.id}"),
            text=fact_line(t),
            score=1.0,
        )
        for t in facts
    ]


def grounding_for(store: Store, kg: str, instruction: str, *, owner: str = "", limit: int = 12) -> list[Passage]:
    """``write --kg``: the fact passages for an instruction; an InputError when the graph knows none of its names."""
    facts = facts_for(store, kg, instruction, owner=owner, limit=limit)
    if not facts:
        raise InputError(
            f"knowledge graph {kg!r} has no facts about the names in this request; see: draftsmith kg show {kg} ENTITY"
        )
    return fact_passages(facts, kg)


def kg_grounding(
    store: Store, kg: str, instruction: str, *, kb: str | None = None, passages: int = 6, owner: str = ""
) -> list[Passage]:
    """``write --kg NAME [--kb NAME]``: the knowledge base's best passages for the instruction (with ``kb``), then
    the graph's facts about the names it mentions; without ``kb`` the graph must know one of them."""
    if not kb:
        return grounding_for(store, kg, instruction, owner=owner)
    from draftsmith.knowledge.retrieve import retrieve_passages
    from draftsmith.writing.grounded import query_for

    found = retrieve_passages(store, kb, query_for(instruction), passages, owner=owner)
    return found + fact_passages(facts_for(store, kg, instruction, owner=owner), kg)


# -- the editor's graph facts: the facts about what a text names, with the passages they were read from ----------


class FactPassage(BaseModel):
    """A passage a fact was extracted from: its document (the stored file name), where in it, the text."""

    document: str
    title: str
    where: str
    text: str


class RelatedFact(BaseModel):
    triple: TripleInfo
    line: str = Field(description="the fact in words: subject — predicate — object")
    passages: list[FactPassage] = Field(
        default_factory=list, description="where it was read (none for a fact added by hand)"
    )


class RelatedFacts(BaseModel):
    graph: str
    entities: list[str] = Field(description="the graph's entities the text names")
    facts: list[RelatedFact]


def related_facts(
    store: Store, kg: str, text: str, *, owner: str = "", limit: int = 12, per_fact: int = 2
) -> RelatedFacts:
    """The graph's facts about the entities ``text`` names, each with up to ``per_fact`` passages it was read from
    (only passages of the owner's own knowledge bases that still exist)."""
    with store.read() as conn:
        row = graph_row(conn, kg, owner)
        named = named_entities(conn, row.id, text)
        facts = _facts_about(conn, row.id, named, limit, sources=True)
        names = conn.scalars(sa.select(kg_entities.c.name).where(kg_entities.c.id.in_(named))).all() if named else []
        wanted = {s.chunk_id for t in facts for s in t.sources[:per_fact] if s.chunk_id is not None}
        chunks = {}
        if wanted:
            query = (
                sa.select(kb_chunks.c.id, kb_chunks.c.text, kb_chunks.c.location, kb_documents.c.source,
                          kb_documents.c.title)
                .select_from(kb_chunks.join(kb_documents, kb_documents.c.id == kb_chunks.c.doc_id)
                             .join(kb_bases, kb_bases.c.id == kb_chunks.c.kb_id))
                .where(kb_chunks.c.id.in_(wanted), kb_bases.c.owner == owner)
            )  # fmt: skip
            chunks = {r.id: r for r in conn.execute(query)}
    out = []
    for t in facts:
        shown: list[FactPassage] = []
        for s in t.sources:
            s.source = PurePath(s.source).name  # a server's staging folder is nobody's business
            r = chunks.get(s.chunk_id) if s.chunk_id is not None else None
            if r is not None and len(shown) < per_fact:
                where = Location.model_validate_json(r.location).label()
                shown.append(FactPassage(document=PurePath(r.source).name, title=r.title, where=where, text=r.text))
        out.append(RelatedFact(triple=t, line=fact_line(t), passages=shown))
    return RelatedFacts(graph=kg, entities=sorted(names), facts=out)
