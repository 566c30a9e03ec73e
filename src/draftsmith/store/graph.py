"""Knowledge graphs: entities, their aliases, triples, where each triple came from, and merges to review.

- ``kg_graphs``: one row per graph, per owner (like knowledge bases); ``kb_id`` names the knowledge base it is
  built from (none for a graph made only by hand); ``generation`` goes up on every change.
- ``kg_entities``: one node each: display name, type (PERSON, ORG, GPE, DATE, VALUE, …), description.
- ``kg_aliases``: every surface form that resolves to an entity, by its normalised key (unique per graph),
  with the confidence and the rule that put it there (``exact``, ``acronym``, ``table``, ``model``, ``user``).
- ``kg_triples``: (subject, predicate, object) between entities, with a confidence and a status:
  ``extracted`` (owned by the builder: replaced or deleted when its passages change), ``validated`` and
  ``user`` (owned by the user: a rebuild never overwrites or deletes them).
- ``kg_provenance``: which passage (by the sha256 of its text) stated a triple, with the surface forms used,
  so a changed passage retracts exactly its own facts and ``kg split`` knows which facts an alias stated.
- ``kg_passages``: the passages a build has processed (by text hash): the incremental-build ledger.
- ``kg_review``: proposed merges below the automatic threshold, waiting for ``kg merge`` or a rejection.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from draftsmith.store.db import METADATA

kg_graphs = sa.Table(
    "kg_graphs",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False, server_default=""),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kb_id", sa.String(32), nullable=True),
    sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("owner", "name", name="uq_kg_graphs_owner_name"),
)

kg_entities = sa.Table(
    "kg_entities",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("graph_id", sa.String(32), sa.ForeignKey("kg_graphs.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("type", sa.String(40), nullable=False, server_default="THING"),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", sa.Float, nullable=False),
)

kg_aliases = sa.Table(
    "kg_aliases",
    METADATA,
    sa.Column("graph_id", sa.String(32), sa.ForeignKey("kg_graphs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("alias", sa.Text, nullable=False),
    sa.Column("entity_id", sa.Integer, sa.ForeignKey("kg_entities.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("confidence", sa.Float, nullable=False, server_default="1"),
    sa.Column("rule", sa.String(20), nullable=False, server_default="exact"),
)

kg_triples = sa.Table(
    "kg_triples",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("graph_id", sa.String(32), sa.ForeignKey("kg_graphs.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column(
        "subject_id", sa.Integer, sa.ForeignKey("kg_entities.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("predicate", sa.String(200), nullable=False),
    sa.Column("object_id", sa.Integer, sa.ForeignKey("kg_entities.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("confidence", sa.Float, nullable=False, server_default="1"),
    sa.Column("status", sa.String(16), nullable=False, server_default="extracted"),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("graph_id", "subject_id", "predicate", "object_id", name="uq_kg_triples_spo"),
)

kg_provenance = sa.Table(
    "kg_provenance",
    METADATA,
    sa.Column("triple_id", sa.Integer, sa.ForeignKey("kg_triples.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("passage_hash", sa.String(64), primary_key=True),
    sa.Column("chunk_id", sa.Integer, nullable=True),
    sa.Column("source", sa.Text, nullable=False, server_default=""),
    sa.Column("subject_text", sa.Text, nullable=False, server_default=""),
    sa.Column("object_text", sa.Text, nullable=False, server_default=""),
)

kg_passages = sa.Table(
    "kg_passages",
    METADATA,
    sa.Column("graph_id", sa.String(32), sa.ForeignKey("kg_graphs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("passage_hash", sa.String(64), primary_key=True),
    sa.Column("chunk_id", sa.Integer, nullable=True),
    sa.Column("triples", sa.Integer, nullable=False, server_default="0"),
    sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
    sa.Column("processed_at", sa.Float, nullable=False),
)

kg_review = sa.Table(
    "kg_review",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("graph_id", sa.String(32), sa.ForeignKey("kg_graphs.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("entity_a", sa.Integer, sa.ForeignKey("kg_entities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("entity_b", sa.Integer, sa.ForeignKey("kg_entities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False, server_default="open"),
    sa.Column("created_at", sa.Float, nullable=False),
)

TABLES = (kg_graphs, kg_entities, kg_aliases, kg_triples, kg_provenance, kg_passages, kg_review)


def m0001_knowledge_graphs(conn: Connection) -> None:
    for table in TABLES:
        table.create(conn, checkfirst=True)


MIGRATIONS = [m0001_knowledge_graphs]
