"""Citation precision of write --kb on labelled (question, supporting passage) items built from WebNLG.

    python bench/citation_precision.py [--model qwen2.5-0.5b] [--items 60] [--passages 4] [--dump FILE]
    python bench/citation_precision.py --replay FILE   # re-score a dump's raw answers with the current checker

Items: the first N of the fixed WebNLG questions (bench/kb_sets.py; built once from one triple each, saved in
bench/data/webnlg_questions.jsonl). The knowledge base is all 2,155 WebNLG texts (one document each, shared
with bench/retrieval_quality.py). A passage *contains the supporting fact* when its WebNLG text lists the
question's subject and predicate (the labels of the data set, not a text match). The question is made from
those two alone ("Who is the leader of Turkey?" from (Turkey, leader, Binali_Yildirim)), so every labelled
object answers it: a text labelled (Turkey, leader, Recep_Tayyip_Erdogan) supports the answer "Recep Tayyip
Erdogan leads Turkey [1]". citation_precision_exact_triple keeps the narrower rule (the cited text must list
the very triple the question was made from); on the first 0.5B run most of its misses were such other
correct answers to multi-valued predicates (leader, starring, origin, dish variation).

For each item, ``write_grounded`` answers "Answer the question in one or two sentences: <question>" with
the top passages of a hybrid search, at temperature 0. citation_precision = supporting citations / all
citations in the final output (after our citation check); raw_citation_precision is the same for the
model's own [n] markers before the check (invalid ids count as wrong there). answer_citation_precision
counts only the citations of sentences that state the answer (contain every word of the triple's object):
the strict key also counts a correct citation of a side fact ("Polydor Records is located in London [4]" in
an answer about its distributor) as wrong, since that passage does not state the question's triple.
sentence_citation_precision judges each citation against its own sentence, still by the data set's labels:
correct when the cited text's triple list holds a triple whose object the sentence names ("The leader of
Turkey is Recep Tayyip Erdogan [1]" citing a text labelled (Turkey, leader, Recep_Tayyip_Erdogan) is right,
although the question's triple names Binali Yildirim).

Last line: JSON with citation_precision (goal >= 0.9).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import unicodedata
from collections.abc import Iterator
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kb_sets
from draftsmith.knowledge.chunking import Location
from draftsmith.knowledge.embed import default_embedder
from draftsmith.knowledge.retrieve import Passage
from draftsmith.models.base import Chunk, GenParams, Message, Model, Score
from draftsmith.models.loader import load_model
from draftsmith.writing.base import clean_output
from draftsmith.writing.grounded import (
    _CITE,
    _numbers,
    check_citations,
    numbering_for,
    references_for,
    render,
    renumbered,
    strip_reference_list,
    write_grounded,
)


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


def _words(text: str) -> set[str]:
    """Lower-cased words without accents, digit groups joined ("3,990" and "3990.0" -> "3990")."""
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = re.sub(r"(?<=\d)\.0+\b", "", text)
    return set(re.findall(r"\w+", text))


def _states(sentence_words: set[str], triple: tuple[str, ...]) -> bool:
    """Whether a sentence names the object of ``triple`` (the subject may be a pronoun there)."""
    obj = _answer_words(kb_sets.label(triple[2]))
    return bool(obj) and obj <= sentence_words


def _answer_words(obj: str) -> set[str]:
    """The words of a triple's object as written in text ("Condensed_milk" -> {condensed, milk})."""
    return _words(obj.replace("_", " ").strip('"'))


def _rechecked(item: dict) -> SimpleNamespace:
    """A dumped item's raw answer through the current citation check, shaped like a GroundedResult."""
    numbered = {
        p["n"]: Passage(chunk_id=p["chunk_id"], kb="webnlg", source=f"{p['source']}.txt", title="",
                        location=Location(), text=p["text"], score=0.0)
        for p in item["passages"]
    }  # fmt: skip
    raw = strip_reference_list(clean_output(item["raw"]))
    grounding = check_citations(raw, numbered, embedder=default_embedder())
    numbering = numbering_for(grounding.sentences())
    return SimpleNamespace(
        passages=list(numbered.values()),
        sentences=renumbered(grounding.sentences(), numbering),
        references=references_for(numbering, numbered),
        unsupported=sum(s.flagged for s in grounding.sentences()),
        body=render(grounding, numbering, "en"),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen2.5-0.5b")
    ap.add_argument("--items", type=int, default=60)
    ap.add_argument("--passages", type=int, default=4)
    ap.add_argument("--store", default=None)
    ap.add_argument("--verbose", action="store_true", help="print each answer and whether its citations hold")
    ap.add_argument("--dump", default=None, help="write each item (raw answer, passages, checked sentences) as JSONL")
    ap.add_argument("--replay", default=None, help="score the raw answers of a --dump file again (no model)")
    args = ap.parse_args()
    store = kb_sets.bench_store(args.store)
    rows = kb_sets.webnlg()
    triples = {r["id"]: {tuple(t) for t in r["triples"]} for r in rows}
    asked = {r["id"]: {(t[0], t[1]) for t in r["triples"]} for r in rows}  # (subject, predicate) pairs
    replay = [json.loads(line) for line in open(args.replay, encoding="utf-8")] if args.replay else None  # noqa: SIM115
    if replay is None:
        kb_sets.ingest(store, "webnlg", kb_sets.write_docs("webnlg", {r["id"]: r["text"] for r in rows}))
        model = Recording(load_model(args.model))
    items = kb_sets.webnlg_questions()[: args.items] if replay is None else replay
    good = total = raw_good = raw_total = unsupported = sentences = hit = answered = 0
    answer_good = answer_total = sentence_good = sentence_total = exact_good = 0
    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None  # noqa: SIM115
    started = time.perf_counter()
    for i, item in enumerate(items):
        fact = tuple(item["triple"])
        if replay is None:
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
            last = model.last
        else:
            result, last = _rechecked(item), item["raw"]
        supports = {n: fact[:2] in asked[kb_sets.source_id(p.source)] for n, p in enumerate(result.passages, 1)}
        hit += any(supports.values())
        exact = {r.n: fact in triples[kb_sets.source_id(r.source)] for r in result.references}
        refs = {r.n: fact[:2] in asked[kb_sets.source_id(r.source)] for r in result.references}
        cited = [n for s in result.sentences for n in s.citations]
        good += sum(refs[n] for n in cited)
        exact_good += sum(exact[n] for n in cited)
        total += len(cited)
        answered += bool(cited)
        for m in _CITE.finditer(last):
            for n in _numbers(m.group(1) or m.group(2)):
                raw_total += 1
                raw_good += supports.get(n, False)
        by_n = {r.n: triples[kb_sets.source_id(r.source)] for r in result.references}
        for sent in result.sentences:  # a citation whose passage's triples include one the sentence states
            said = _words(sent.text)
            sentence_total += len(sent.citations)
            sentence_good += sum(any(_states(said, t) for t in by_n[n]) for n in sent.citations)
        answer_words = _answer_words(kb_sets.label(fact[2]))
        for sent in result.sentences:  # sentences that state the answer (its object's words)
            if sent.citations and answer_words and answer_words <= _words(sent.text):
                answer_total += len(sent.citations)
                answer_good += sum(refs[n] for n in sent.citations)
        unsupported += result.unsupported
        if dump:
            dump.write(json.dumps({
                "qid": item["qid"], "question": item["question"], "triple": item["triple"], "raw": last,
                "passages": [{"n": n, "chunk_id": p.chunk_id, "source": kb_sets.source_id(p.source), "text": p.text,
                              "supports": supports[n]} for n, p in enumerate(result.passages, 1)],
                "sentences": [{"text": s.text, "citations": s.citations, "ok": [refs[n] for n in s.citations],
                               "flagged": s.flagged} for s in result.sentences],
            }, ensure_ascii=False) + "\n")  # fmt: skip
            dump.flush()
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
                "citation_precision_exact_triple": round(exact_good / total, 4) if total else None,
                "citations": total,
                "raw_citation_precision": round(raw_good / raw_total, 4) if raw_total else None,
                "answer_citation_precision": round(answer_good / answer_total, 4) if answer_total else None,
                "sentence_citation_precision": round(sentence_good / sentence_total, 4) if sentence_total else None,
                "answer_citations": answer_total,
                "raw_citations": raw_total,
                "items": len(items),
                "answers_with_citation": round(answered / len(items), 4),
                "support_retrieved_at_k": round(hit / len(items), 4),
                "passages_k": args.passages,
                "unsupported_sentences": unsupported,
                "sentences": sentences,
                "model": args.model if replay is None else f"replay of {args.replay}",
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
