"""Knowledge bases: the user's documents, their chunks, embeddings and search-index snapshots.

- ``kb_bases``: one row per knowledge base; ``generation`` goes up on every change, so a cached index
  knows when it is stale.
- ``kb_documents``: one row per ingested file (identified by its absolute path), with the sha256 of its
  bytes: re-adding an unchanged file is a no-op, a changed one replaces its chunks.
- ``kb_chunks``: the passages search returns, with their location (page / heading / lines) as JSON and
  their BM25 tokens (space-joined), so an index can be rebuilt without re-tokenising.
- ``kb_embeddings``: the embedding cache, keyed by (sha256 of the embedded text, model): a text is
  embedded once, whatever knowledge base or file it comes from. Vectors are little-endian float32 bytes
  (BYTEA on PostgreSQL, BLOB on SQLite), so both backends store exactly the same thing.
- ``kb_index``: a snapshot of a knowledge base's search index (chunk ids, the dense matrix, the BM25
  sparse matrix and vocabulary) for one generation, so a new process loads one row instead of rebuilding.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from draftsmith.store.db import METADATA

kb_bases = sa.Table(
    "kb_bases",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False, server_default=""),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("embed_model", sa.String(100), nullable=False),
    sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("owner", "name", name="uq_kb_bases_owner_name"),
)

kb_documents = sa.Table(
    "kb_documents",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kb_id", sa.String(32), sa.ForeignKey("kb_bases.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("bytes", sa.Integer, nullable=False),
    sa.Column("chars", sa.Integer, nullable=False),
    sa.Column("chunks", sa.Integer, nullable=False),
    sa.Column("added_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("kb_id", "source", name="uq_kb_documents_kb_source"),
)

kb_chunks = sa.Table(
    "kb_chunks",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kb_id", sa.String(32), sa.ForeignKey("kb_bases.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column(
        "doc_id", sa.String(32), sa.ForeignKey("kb_documents.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("ordinal", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("embed_hash", sa.String(64), nullable=False),
    sa.Column("tokens", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
)

kb_embeddings = sa.Table(
    "kb_embeddings",
    METADATA,
    sa.Column("text_hash", sa.String(64), primary_key=True),
    sa.Column("model", sa.String(100), primary_key=True),
    sa.Column("dim", sa.Integer, nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),
)

kb_index = sa.Table(
    "kb_index",
    METADATA,
    sa.Column("kb_id", sa.String(32), sa.ForeignKey("kb_bases.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("built_at", sa.Float, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)


def m0001_knowledge_bases(conn: Connection) -> None:
    for table in (kb_bases, kb_documents, kb_chunks, kb_embeddings, kb_index):
        table.create(conn, checkfirst=True)


MIGRATIONS = [m0001_knowledge_bases]
