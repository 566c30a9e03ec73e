"""write --kg: facts about the entities a request names, as a compact numbered list the draft cites.

The facts go to ``writing/grounded.write_grounded`` as passages of one line each (``Eiffel Tower — height —
330 metres``), numbered after any knowledge-base passages, so the model cites them as ``[n]`` and the same
checker keeps, re-attributes or flags the citations; the reference list names the graph and the fact id.
"""

from __future__ import annotations

import sqlalchemy as sa

from draftsmith.errors import InputError
from draftsmith.graph.extract import normalise, predicate_words
from draftsmith.graph.graph import TripleInfo, graph_row, triples
from draftsmith.knowledge.chunking import Location
from draftsmith.knowledge.retrieve import Passage
from draftsmith.store.db import Store
from draftsmith.store.graph import kg_aliases, kg_triples

_RANK = {"validated": 0, "user": 1, "extracted": 2}


def facts_for(store: Store, kg: str, text: str, *, owner: str = "", limit: int = 12) -> list[TripleInfo]:
    """The graph's facts about entities ``text`` names: facts linking two named entities first, then the
    user's (validated) facts, then the most confident."""
    padded = f" {normalise(text)} "
    compact = padded.replace(" ", "")
    with store.read() as conn:
        row = graph_row(conn, kg, owner)
        aliases = conn.execute(
            sa.select(kg_aliases.c.key, kg_aliases.c.entity_id).where(kg_aliases.c.graph_id == row.id)
        ).all()
        named = set()
        for key, entity in aliases:
            cjk = any("\u3400" <= ch <= "\u9fff" for ch in key)
            if (cjk and len(key) >= 2 and key.replace(" ", "") in compact) or (len(key) >= 3 and f" {key} " in padded):
                named.add(entity)
        if not named:
            return []
        found = triples(
            conn, row.id, sa.or_(kg_triples.c.subject_id.in_(named), kg_triples.c.object_id.in_(named)), sources=False
        )
    found.sort(key=lambda t: (-(t.subject_id in named and t.object_id in named), _RANK.get(t.status, 3), -t.confidence))
    return found[:limit]


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
