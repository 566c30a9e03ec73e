"""Labelled retrieval sets built from ../shared/data (no BEIR copy is available offline), and the bench store.

(a) WebNLG (``../shared/data/webnlg/test.jsonl``): corpus = all 2,155 texts, one document each. Queries =
    natural-language questions made from one triple each by a fixed template per predicate (the subject and
    the predicate's words; the object is the answer, so it is not in the question). Relevant = every text
    whose triple list contains that exact triple. Triples are sampled once (seed 13) among those whose
    object is written literally in at least one relevant text and that at most 8 texts state; the questions
    are saved in ``bench/data/webnlg_questions.jsonl`` and reused, so every run asks the same questions.
(b) HSK (``../shared/data/hsk-zh-en/sentences.jsonl``): corpus = the 4,354 Chinese sentences; the query is
    a sentence's English translation and the single relevant item is its Chinese sentence (sentences with
    an identical Chinese text count as the same item).

Documents are written once as .txt files under ``~/.cache/draftsmith-bench`` and ingested with the real
pipeline (``kb.add_files``) into a store there; embeddings are cached in it, so a second run is fast.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
QUESTIONS = Path(__file__).resolve().parent / "data" / "webnlg_questions.jsonl"
CACHE = Path.home() / ".cache" / "draftsmith-bench"

TEMPLATES = {
    "location": "Where is {s} located?",
    "birthPlace": "Where was {s} born?",
    "deathPlace": "Where did {s} die?",
    "birthDate": "When was {s} born?",
    "deathDate": "When did {s} die?",
    "country": "Which country is {s} in?",
    "capital": "What is the capital of {s}?",
    "leader": "Who is the leader of {s}?",
    "leaderName": "Who is the leader of {s}?",
    "nationality": "What is the nationality of {s}?",
    "almaMater": "Where did {s} study?",
    "occupation": "What is the occupation of {s}?",
    "author": "Who wrote {s}?",
    "director": "Who directed {s}?",
    "producer": "Who produced {s}?",
    "manager": "Who manages {s}?",
    "club": "Which club does {s} play for?",
    "ground": "Where does {s} play its home games?",
    "architect": "Who was the architect of {s}?",
    "genre": "What genre is {s}?",
    "language": "What language is spoken in {s}?",
    "runwayLength": "How long is the runway of {s}?",
    "elevationAboveTheSeaLevel": "How high above sea level is {s}?",
    "populationTotal": "What is the population of {s}?",
    "foundingDate": "When was {s} founded?",
    "founder": "Who founded {s}?",
    "ingredient": "What is an ingredient of {s}?",
    "mainIngredient": "What is the main ingredient of {s}?",
    "operator": "Who operates {s}?",
    "owner": "Who owns {s}?",
    "creator": "Who created {s}?",
    "spouse": "Who is the spouse of {s}?",
    "isPartOf": "What is {s} part of?",
    "city": "In which city is {s}?",
    "region": "In which region is {s}?",
    "cityServed": "Which city does {s} serve?",
    "numberOfStudents": "How many students does {s} have?",
    "academicStaffSize": "How many academic staff does {s} have?",
    "manufacturer": "Who manufactures {s}?",
    "publisher": "Who published {s}?",
    "starring": "Who stars in {s}?",
    "recordLabel": "Which record label released {s}?",
    "associatedBand/associatedMusicalArtist": "Which band or artist is associated with {s}?",
    "team": "Which team did {s} play for?",
}


def label(entity: str) -> str:
    """DBpedia style → words: underscores to spaces, a trailing disambiguation in brackets dropped."""
    text = entity.replace("_", " ").strip('"')
    text = re.sub(r"\s*\([^)]*\)$", "", text)
    return text.strip()


def predicate_words(predicate: str) -> str:
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", predicate.split("/")[0]).lower()
    return words


def question(triple: list[str]) -> str:
    s, p, _ = triple
    template = TEMPLATES.get(p)
    if template:
        return template.format(s=label(s))
    return f"What is the {predicate_words(p)} of {label(s)}?"


def webnlg() -> list[dict]:
    return [json.loads(line) for line in (DATA / "webnlg" / "test.jsonl").open(encoding="utf-8")]


def hsk() -> list[dict]:
    return [json.loads(line) for line in (DATA / "hsk-zh-en" / "sentences.jsonl").open(encoding="utf-8")]


def _stated(text: str, obj: str) -> bool:
    value = label(obj).split(" (")[0].lower()
    return bool(value) and value in text.lower()


def webnlg_questions(n: int = 400, rebuild: bool = False) -> list[dict]:
    """The fixed question set (built once, then read from bench/data)."""
    if QUESTIONS.exists() and not rebuild:
        return [json.loads(line) for line in QUESTIONS.open(encoding="utf-8")]
    rows = webnlg()
    stating: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for r in rows:
        for t in r["triples"]:
            stating[tuple(t)].append(r["id"])
    texts = {r["id"]: r["text"] for r in rows}
    candidates = [
        t for t, ids in stating.items() if len(ids) <= 8 and any(_stated(texts[i], t[2]) for i in ids)
    ]  # fmt: skip
    candidates.sort()
    random.Random(13).shuffle(candidates)
    out = [
        {"qid": f"q{i:04d}", "question": question(list(t)), "triple": list(t), "relevant": sorted(stating[t])}
        for i, t in enumerate(candidates[:n])
    ]
    QUESTIONS.parent.mkdir(parents=True, exist_ok=True)
    with QUESTIONS.open("w", encoding="utf-8") as fh:
        for q in out:
            fh.write(json.dumps(q, ensure_ascii=False) + "\n")
    return out


def write_docs(name: str, docs: dict[str, str]) -> Path:
    """One .txt per document under the bench cache (rewritten only when missing or different)."""
    folder = CACHE / name
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, text in docs.items():
        path = folder / f"{doc_id}.txt"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return folder


def bench_store(url: str | None = None):
    from draftsmith.store import Store

    CACHE.mkdir(parents=True, exist_ok=True)
    return Store(url or f"sqlite:///{CACHE / 'bench.db'}")


def ingest(store, kb_name: str, folder: Path, *, verbose: bool = True):
    import sys

    from draftsmith.knowledge import kb

    last = {"pct": -1}

    def progress(p) -> None:
        pct = int(100 * p.files_done / max(p.files_total, 1))
        if verbose and pct // 10 != last["pct"] // 10:
            last["pct"] = pct
            print(f"  ingest {kb_name}: {p.files_done}/{p.files_total}", file=sys.stderr, flush=True)

    return kb.add_files(store, kb_name, [folder], on_progress=progress)


def source_id(source: str) -> str:
    return Path(source).stem
