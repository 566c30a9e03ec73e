"""Search a knowledge base: hybrid BM25 + dense ranking fused by reciprocal rank, optional LLM rerank.

The index of a knowledge base is loaded once per process and generation: from the snapshot in the store
when it is current, else rebuilt from the stored chunk tokens and cached vectors (and the snapshot saved).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal

import numpy as np
import sqlalchemy as sa
from pydantic import BaseModel

from draftsmith.errors import InputError
from draftsmith.knowledge.chunking import Location
from draftsmith.knowledge.embed import Embedder, cached_vectors, default_embedder, embed_passages
from draftsmith.knowledge.index import Index, tokenize
from draftsmith.knowledge.kb import kb_row
from draftsmith.models.base import Model
from draftsmith.store.db import Store
from draftsmith.store.knowledge import kb_bases, kb_chunks, kb_documents, kb_index

MAX_QUERY_CHARS = 2000
Mode = Literal["hybrid", "bm25", "dense"]


class Passage(BaseModel):
    """A retrieved chunk: its text, where it comes from, and how it ranked."""

    chunk_id: int
    kb: str
    source: str
    title: str
    location: Location
    text: str
    score: float
    bm25_rank: int | None = None
    dense_rank: int | None = None
    cosine: float | None = None
    rerank: float | None = None

    def where(self) -> str:
        """``file name, p. 3, § Heading`` for a reference list."""
        from pathlib import Path

        label = self.location.label()
        return f"{Path(self.source).name}, {label}" if label else Path(self.source).name


_CACHE: dict[tuple[str, str], tuple[int, Index]] = {}
_CACHE_LOCK = threading.Lock()


def check_query(query: str | None) -> str:
    if query is None or not query.strip():
        raise InputError("the search query is empty; give a few words or a question")
    if len(query) > MAX_QUERY_CHARS:
        raise InputError(
            f"the search query is too long ({len(query):,} characters; the limit is {MAX_QUERY_CHARS:,}); "
            "search with a sentence or a few keywords"
        )
    return query.strip()


def load_index(store: Store, kb_id: str, generation: int, embedder: Embedder) -> Index:
    key = (store.url, kb_id)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached and cached[0] == generation:
            return cached[1]
        with store.read() as conn:
            row = conn.execute(sa.select(kb_index).where(kb_index.c.kb_id == kb_id)).first()
        index = Index.from_bytes(row.data) if row is not None and row.generation == generation else None
        if index is None:  # none stored, an older generation, or an older snapshot layout
            index = _rebuild(store, kb_id, generation, embedder)
        _CACHE[key] = (generation, index)
        return index


def _rebuild(store: Store, kb_id: str, generation: int, embedder: Embedder) -> Index:
    with store.read() as conn:
        rows = conn.execute(
            sa.select(
                kb_chunks.c.id, kb_chunks.c.tokens, kb_chunks.c.embed_hash, kb_chunks.c.text, kb_chunks.c.location
            )
            .where(kb_chunks.c.kb_id == kb_id)
            .order_by(kb_chunks.c.id)
        ).all()
    hashes = [r.embed_hash for r in rows]
    vectors = cached_vectors(store, embedder.name, hashes)
    missing = [r for r in rows if r.embed_hash not in vectors]
    if missing:  # only if the cache was cleared by hand: embed again from the stored text
        texts = [_index_text(r.text, Location.model_validate_json(r.location)) for r in missing]
        for r, v in zip(missing, embed_passages(store, embedder, texts), strict=True):
            vectors[r.embed_hash] = v
    if not rows:  # nothing to search (and nothing worth storing)
        return Index(np.zeros(0, dtype=np.int64), np.zeros((0, embedder.dim), np.float32), None)
    dense = np.stack([vectors[h] for h in hashes])
    index = Index.build([r.id for r in rows], [r.tokens.split() for r in rows], dense)
    with store.write() as conn:
        current = conn.scalar(sa.select(kb_bases.c.generation).where(kb_bases.c.id == kb_id))
        if current == generation:
            conn.execute(kb_index.delete().where(kb_index.c.kb_id == kb_id))
            conn.execute(
                kb_index.insert().values(
                    kb_id=kb_id, generation=generation, built_at=time.time(), data=index.to_bytes()
                )
            )
    return index


_EMBED_POOL: ThreadPoolExecutor | None = None


def _embed_query_async(embedder: Embedder, query: str) -> Future:
    global _EMBED_POOL
    if _EMBED_POOL is None:
        _EMBED_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="draftsmith-query-embed")
    return _EMBED_POOL.submit(embedder.query, query)


def _index_text(text: str, location: Location) -> str:
    return f"{location.heading}\n{text}" if location.heading else text


def retrieve_passages(
    store: Store,
    kb: str,
    query: str,
    k: int = 5,
    *,
    mode: Mode = "hybrid",
    owner: str = "",
    embedder: Embedder | None = None,
    rerank_model: Model | None = None,
    exclude: set[int] | None = None,
) -> list[Passage]:
    """The ``k`` best passages of knowledge base ``kb`` for ``query``, best first."""
    query = check_query(query)
    if k < 1:
        raise InputError("k must be at least 1")
    embedder = embedder or default_embedder()
    # The query vector is computed on another core while this thread looks up the index and runs BM25
    # (the embedding engine releases the GIL); it is joined before the dense side needs it.
    with store.read() as conn:
        row = kb_row(conn, kb, owner)  # an unknown name fails here, before any embedding starts
    pending = _embed_query_async(embedder, query) if mode != "bm25" else None
    try:
        index = load_index(store, row.id, row.generation, embedder)
        if len(index) == 0:
            raise InputError(f"knowledge base {kb!r} has no documents; add some: draftsmith kb add {kb} FILE…")
        want = k + len(exclude or ()) + (2 * k if rerank_model else 0)
        tokens = tokenize(query)
        bm25 = index.bm25_scores(tokens) if mode != "dense" else None
    except BaseException:
        if pending is not None:
            pending.cancel()  # if it already runs, its vector is simply not used
        raise
    vector = pending.result() if pending is not None else None
    hits = index.search(tokens, vector, want, mode=mode, bm25_all=bm25)
    ids = [int(index.chunk_ids[h.row]) for h in hits]
    with store.read() as conn:
        found = {
            r.id: r
            for r in conn.execute(
                sa.select(
                    kb_chunks.c.id, kb_chunks.c.text, kb_chunks.c.location, kb_documents.c.source, kb_documents.c.title
                )
                .select_from(kb_chunks.join(kb_documents, kb_documents.c.id == kb_chunks.c.doc_id))
                .where(kb_chunks.c.id.in_(ids))
            )
        }
    passages = []
    for hit, chunk_id in zip(hits, ids, strict=True):
        r = found.get(chunk_id)
        if r is None or (exclude and chunk_id in exclude):
            continue
        passages.append(
            Passage(
                chunk_id=chunk_id,
                kb=row.name,
                source=r.source,
                title=r.title,
                location=Location.model_validate_json(r.location),
                text=r.text,
                score=round(hit.score, 6),
                bm25_rank=hit.bm25_rank,
                dense_rank=hit.dense_rank,
                cosine=None if hit.cosine is None else round(hit.cosine, 4),
            )
        )
    if rerank_model is not None:
        passages = rerank(rerank_model, query, passages)
    return passages[:k]


def rerank(model: Model, query: str, passages: list[Passage]) -> list[Passage]:
    """Reorder by the model's log-odds that the passage is relevant ("yes" vs "no" after a short prompt).
    Costs two scoring calls per passage; ties keep the fused order."""
    for p in passages:
        context = (
            f"Passage:\n{p.text[:1500]}\n\nQuestion: {query}\n"
            "Does the passage help answer the question? Answer yes or no.\nAnswer:"
        )
        p.rerank = round(model.score(context, " yes").logprob - model.score(context, " no").logprob, 4)
    return sorted(passages, key=lambda p: -(p.rerank or 0.0))
