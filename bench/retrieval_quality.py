"""Retrieval quality of knowledge-base search: BM25 vs hybrid (BM25 + dense, RRF) on WebNLG questions, and
cross-lingual recall (English query → its Chinese sentence among all 4,354 HSK sentences).

    python bench/retrieval_quality.py [--questions 400] [--xling-queries 0 (=all)] [--store URL]

How the sets are built: see bench/kb_sets.py (WebNLG: question from one triple, relevant = texts stating
it; HSK: English sentence → its Chinese sentence). Everything goes through the real pipeline: files are
ingested with ``kb.add_files`` and searched with ``retrieve_passages`` (modes bm25, dense, hybrid).

Last line: JSON with ndcg10_bm25, ndcg10_hybrid (goal hybrid >= bm25 + 0.03) and xling_recall10 (goal >= 0.85).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kb_sets
from draftsmith.knowledge.retrieve import retrieve_passages


def ndcg10(ranked: list[str], relevant: set[str]) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, doc in enumerate(ranked[:10]) if doc in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    return dcg / ideal if ideal else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=400)
    ap.add_argument("--xling-queries", type=int, default=0, help="how many HSK queries (0: all 4,354)")
    ap.add_argument("--store", default=None, help="store URL (default: SQLite in ~/.cache/draftsmith-bench)")
    args = ap.parse_args()
    store = kb_sets.bench_store(args.store)
    started = time.perf_counter()

    # (a) WebNLG
    rows = kb_sets.webnlg()
    folder = kb_sets.write_docs("webnlg", {r["id"]: r["text"] for r in rows})
    report = kb_sets.ingest(store, "webnlg", folder)
    print(f"webnlg: {len(report.added)} added, {len(report.unchanged)} unchanged, {report.embedded} embedded",
          file=sys.stderr)  # fmt: skip
    questions = kb_sets.webnlg_questions()[: args.questions]
    scores: dict[str, list[float]] = {"bm25": [], "dense": [], "hybrid": []}
    for q in questions:
        relevant = set(q["relevant"])
        for mode in scores:
            hits = retrieve_passages(store, "webnlg", q["question"], 10, mode=mode)
            scores[mode].append(ndcg10([kb_sets.source_id(h.source) for h in hits], relevant))
    ndcg = {m: sum(v) / len(v) for m, v in scores.items()}
    print(f"webnlg nDCG@10 over {len(questions)} questions: {ndcg}", file=sys.stderr)

    # (b) HSK cross-lingual
    sentences = kb_sets.hsk()
    by_text: dict[str, str] = {}
    docs = {}
    for s in sentences:
        if s["zh"] not in by_text:
            by_text[s["zh"]] = s["id"]
            docs[s["id"]] = s["zh"]
    folder = kb_sets.write_docs("hsk-zh", docs)
    report = kb_sets.ingest(store, "hsk-zh", folder)
    print(f"hsk: {len(report.added)} added, {len(report.unchanged)} unchanged, {report.embedded} embedded",
          file=sys.stderr)  # fmt: skip
    queries = sentences if not args.xling_queries else sentences[:: max(1, len(sentences) // args.xling_queries)]
    recall: dict[str, list[int]] = {"hybrid": [], "dense": [], "bm25": []}
    for n, s in enumerate(queries):
        target = by_text[s["zh"]]
        for mode in recall:
            if mode == "bm25" and n % 10:  # BM25 cannot match across scripts; a tenth of the queries shows it
                continue
            hits = retrieve_passages(store, "hsk-zh", s["en"], 10, mode=mode)
            recall[mode].append(int(target in {kb_sets.source_id(h.source) for h in hits}))
        if n % 500 == 0:
            print(f"  xling {n}/{len(queries)}", file=sys.stderr, flush=True)
    xr = {m: sum(v) / len(v) for m, v in recall.items() if v}
    print(
        json.dumps(
            {
                "ndcg10_bm25": round(ndcg["bm25"], 4),
                "ndcg10_dense": round(ndcg["dense"], 4),
                "ndcg10_hybrid": round(ndcg["hybrid"], 4),
                "hybrid_minus_bm25": round(ndcg["hybrid"] - ndcg["bm25"], 4),
                "webnlg_questions": len(questions),
                "webnlg_corpus": len(rows),
                "xling_recall10": round(xr["hybrid"], 4),
                "xling_recall10_dense": round(xr["dense"], 4),
                "xling_recall10_bm25": round(xr["bm25"], 4),
                "xling_queries": len(queries),
                "xling_corpus": len(docs),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
