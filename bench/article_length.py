"""Article length control: share of articles whose length is within ±20% of the words asked for.

    python bench/article_length.py [--model qwen2.5-0.5b] [--topics 5] [--sizes 800,1500] [--store URL]

Topics are WebNLG categories, written from the WebNLG knowledge base (all 2,155 texts; see
bench/kb_sets.py), so every section retrieves real passages and cites them. Length is counted as a writer
would (words; CJK characters), title and headings included, citation markers and the reference list
excluded (``longform.words_of``). The full run (5 topics x {800, 1500}) takes well over half an hour on
two cores with the 0.5B model; --topics and --sizes bound it, and --only runs some topics (to split a run
over processes; the shares of the shards' JSON lines combine by article count). The JSON says exactly what ran.

Last line: JSON with length_within_20pct (goal 1.0).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kb_sets
from draftsmith.models.loader import load_model
from draftsmith.writing.longform import write_article

TOPICS = [
    "Airports and how they serve their cities",
    "Astronauts and their missions",
    "Famous dishes and their ingredients",
    "Universities and their campuses",
    "Football clubs and their grounds",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen2.5-0.5b")
    ap.add_argument("--topics", type=int, default=5)
    ap.add_argument("--sizes", default="800,1500")
    ap.add_argument("--store", default=None)
    ap.add_argument("--only", default=None, help="comma-separated topic indexes (0-4) to run, for sharding a run")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    picked = [int(i) for i in args.only.split(",")] if args.only else list(range(args.topics))
    store = kb_sets.bench_store(args.store)
    rows = kb_sets.webnlg()
    kb_sets.ingest(store, "webnlg", kb_sets.write_docs("webnlg", {r["id"]: r["text"] for r in rows}))
    model = load_model(args.model)
    runs = []
    started = time.perf_counter()
    for topic in [TOPICS[i] for i in picked]:
        for words in sizes:
            t = time.perf_counter()
            result = write_article(model, topic, store=store, kb="webnlg", words=words, temperature=0.5, seed=1)
            runs.append(
                {
                    "topic": topic,
                    "target": words,
                    "words": result.words,
                    "ratio": round(result.words / words, 3),
                    "sections": len(result.sections),
                    "references": len(result.references),
                    "unsupported": result.unsupported,
                    "seconds": round(time.perf_counter() - t, 1),
                }
            )
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    within = [abs(r["words"] - r["target"]) <= 0.2 * r["target"] for r in runs]
    print(
        json.dumps(
            {
                "length_within_20pct": round(sum(within) / len(within), 4),
                "articles": len(runs),
                "topics": len(picked),
                "topic_indexes": picked,
                "sizes": sizes,
                "model": args.model,
                "ratios": [r["ratio"] for r in runs],
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
