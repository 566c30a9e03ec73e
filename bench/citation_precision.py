"""Citation precision of write --kb on labelled (question, supporting passage) items built from WebNLG.

    python bench/citation_precision.py [--model qwen2.5-0.5b] [--items 60] [--passages 4]

Items: the first N of the fixed WebNLG questions (bench/kb_sets.py; built once from one triple each, saved in
bench/data/webnlg_questions.jsonl). The knowledge base is all 2,155 WebNLG texts (one document each, shared
with bench/retrieval_quality.py). A passage *contains the supporting fact* when its WebNLG text lists the
question's triple (the labels of the data set, not a text match).

For each item, ``write_grounded`` answers "Answer the question in one or two sentences: <question>" with
the top passages of a hybrid search, at temperature 0. citation_precision = supporting citations / all
citations in the final output (after our citation check); raw_citation_precision is the same for the
model's own [n] markers before the check (invalid ids count as wrong there).

Last line: JSON with citation_precision (goal >= 0.9).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kb_sets
from draftsmith.models.base import Chunk, GenParams, Message, Model, Score
from draftsmith.models.loader import load_model
from draftsmith.writing.grounded import _CITE, _numbers, write_grounded


class Recording(Model):
    """Passes calls through to a model and keeps the text of the last answer."""

    def __init__(self, inner: Model) -> None:
        self.inner = inner
        self.name = inner.name
        self.last = ""

    def stream(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]:
        parts = []
        for chunk in self.inner.stream(messages, params):
            parts.append(chunk.text)
            yield chunk
        self.last = "".join(parts)

    def score(self, context: str, continuation: str) -> Score:
        return self.inner.score(context, continuation)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen2.5-0.5b")
    ap.add_argument("--items", type=int, default=60)
    ap.add_argument("--passages", type=int, default=4)
    ap.add_argument("--store", default=None)
    ap.add_argument("--verbose", action="store_true", help="print each answer and whether its citations hold")
    args = ap.parse_args()
    store = kb_sets.bench_store(args.store)
    rows = kb_sets.webnlg()
    triples = {r["id"]: {tuple(t) for t in r["triples"]} for r in rows}
    kb_sets.ingest(store, "webnlg", kb_sets.write_docs("webnlg", {r["id"]: r["text"] for r in rows}))
    model = Recording(load_model(args.model))
    items = kb_sets.webnlg_questions()[: args.items]
    good = total = raw_good = raw_total = unsupported = sentences = hit = answered = 0
    started = time.perf_counter()
    for i, item in enumerate(items):
        fact = tuple(item["triple"])
        result = write_grounded(
            model,
            f"Answer the question in one or two sentences: {item['question']}",
            store=store,
            kb="webnlg",
            passages=args.passages,
            length=40,
            temperature=0.0,
            seed=0,
        )
        supports = {n: fact in triples[kb_sets.source_id(p.source)] for n, p in enumerate(result.passages, 1)}
        hit += any(supports.values())
        refs = {r.n: fact in triples[kb_sets.source_id(r.source)] for r in result.references}
        cited = [n for s in result.sentences for n in s.citations]
        good += sum(refs[n] for n in cited)
        total += len(cited)
        answered += bool(cited)
        for m in _CITE.finditer(model.last):
            for n in _numbers(m.group(1) or m.group(2)):
                raw_total += 1
                raw_good += supports.get(n, False)
        unsupported += result.unsupported
        if args.verbose:
            marks = {n: "ok" if ok else "WRONG" for n, ok in refs.items()}
            print(f"Q {item['question']}\nA {result.body}\n  refs {marks}", file=sys.stderr)
        sentences += len(result.sentences)
        if i % 10 == 0:
            print(f"  {i}/{len(items)} precision so far {good}/{total}", file=sys.stderr, flush=True)
    print(
        json.dumps(
            {
                "citation_precision": round(good / total, 4) if total else None,
                "citations": total,
                "raw_citation_precision": round(raw_good / raw_total, 4) if raw_total else None,
                "raw_citations": raw_total,
                "items": len(items),
                "answers_with_citation": round(answered / len(items), 4),
                "support_retrieved_at_k": round(hit / len(items), 4),
                "passages_k": args.passages,
                "unsupported_sentences": unsupported,
                "sentences": sentences,
                "model": args.model,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
