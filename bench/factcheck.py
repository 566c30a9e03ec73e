"""Fact checking against a knowledge graph: true WebNLG sentences must be supported, perturbed ones contradicted.

    python bench/factcheck.py [--claims 40] [--model qwen2.5-0.5b] [--threads 1]

Data: ../shared/data/webnlg/test.jsonl (CC BY-NC-SA 4.0, evaluation use only). Claims are the texts of entries with
exactly one gold triple, one sentence long, whose object is written in the text (so the sentence states exactly
that fact). Half are kept as they are (true); half are perturbed in the text (false), a third each:
- date: the year of a date object moved by 1–9 years;
- number: a numeric object changed (scaled and rounded, so it stays plausible);
- swapped relation: the object replaced by the object of the same predicate from another entry (a real entity, in
  a relation the graph does not hold: "The location of Trane is Morelos").
The graph holds the gold triples of every claim entry plus distractors (the gold triples of 60 other entries), added
as validated facts (``graph.add_triple``), so the benchmark measures the checker, not extraction from documents.
Claims go through the product's ``graph.factcheck.factcheck`` with the real model (claim facts extracted under the
JSON schema). Selection is seeded (seed 11).

Correct = a true claim is ``supported``, a false one ``contradicted``. Last line: JSON with factcheck_accuracy
(goal ≥ 0.85), per-kind accuracy, and how many claims were found in the graph at all.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "webnlg" / "test.jsonl"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def clean(value: str) -> str:
    return value.replace("_", " ").strip().strip('"').strip()


def surface(obj: str, text: str) -> re.Match | None:
    """Where the object is written in the text (case-insensitive, without a bracketed note)."""
    bare = re.sub(r"\s*\([^)]*\)", "", clean(obj)).strip()
    if len(bare) < 2:
        return None
    return re.search(re.escape(bare), text, re.I)


def year_in(text: str, obj: str) -> re.Match | None:
    years = re.findall(r"(?<!\d)(1\d{3}|20\d{2})(?!\d)", obj)
    return re.search(rf"(?<!\d){years[0]}(?!\d)", text) if years else None


def number_in(text: str, obj: str) -> re.Match | None:
    nums = re.findall(r"\d+(?:\.\d+)?", obj.replace(",", ""))
    if not nums:
        return None
    n = nums[0]
    pattern = re.escape(n) if "." in n or len(n) <= 3 else r"\d{1,3}(?:,\d{3})+|" + re.escape(n)
    for m in re.finditer(pattern, text):
        if m.group().replace(",", "") == n:
            return m
    return None


def kind_of(obj: str) -> str:
    from draftsmith.graph.extract import value_type

    bare = re.sub(r"\s*\([^)]*\)", "", clean(obj)).strip()
    return {"DATE": "date", "VALUE": "number"}.get(value_type(bare) or "", "entity")


def perturb(entry: dict, kind: str, rng: random.Random, by_predicate: dict[str, list[str]]) -> str | None:
    s, p, o = entry["triples"][0]
    text = entry["text"]
    if kind == "date":
        m = year_in(text, o)
        if not m:
            return None
        return text[: m.start()] + str(int(m.group()) + rng.choice([-7, -4, -2, 1, 3, 6, 9])) + text[m.end() :]
    if kind == "number":
        m = number_in(text, o)
        if not m:
            return None
        value = float(m.group().replace(",", ""))
        new = value * rng.choice([0.6, 0.75, 1.3, 1.5, 2.0])
        shown = f"{new:.1f}" if "." in m.group() else (f"{round(new):,}" if "," in m.group() else str(round(new)))
        if shown == m.group():
            return None
        return text[: m.start()] + shown + text[m.end() :]
    m = surface(o, text)
    others = [
        x
        for x in by_predicate.get(p, [])
        if clean(x).lower() not in (clean(o).lower(), clean(s).lower()) and kind_of(x) == "entity"
    ]
    if not m or not others:
        return None
    other = re.sub(r"\s*\([^)]*\)", "", clean(rng.choice(others)))
    return text[: m.start()] + other + text[m.end() :]


def select(rows: list[dict], n: int, seed: int = 11) -> tuple[list[dict], list[dict]]:
    """(claims, graph entries): n claims, half true and half perturbed (date / number / swapped relation)."""
    rng = random.Random(seed)
    single = [
        r
        for r in rows
        if len(r["triples"]) == 1
        and r["text"].count(". ") == 0
        and (surface(r["triples"][0][2], r["text"]) or year_in(r["text"], r["triples"][0][2]))
    ]
    rng.shuffle(single)
    by_predicate: dict[str, list[str]] = {}
    objects: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        for s, p, o in r["triples"]:
            by_predicate.setdefault(p, []).append(o)
            objects.setdefault((s, p), set()).add(o)
    # a swap only makes a false claim where one subject has one object for the predicate (not ethnicGroup, starring)
    multi = {p for (_, p), objs in objects.items() if len(objs) > 1} | {p for p in by_predicate if "/" in p} | {"type"}
    by_predicate = {p: v for p, v in by_predicate.items() if p not in multi}
    false_kinds = ["date", "number", "entity"]
    want_false = n // 2
    per_kind = {k: want_false // 3 + (1 if i < want_false % 3 else 0) for i, k in enumerate(false_kinds)}
    claims: list[dict] = []
    used_subjects: set[str] = set()
    for r in single:
        s = r["triples"][0][0]
        if s in used_subjects:
            continue  # one claim per subject: a true and a false claim never share a subject's facts
        k = kind_of(r["triples"][0][2])
        if per_kind.get(k, 0) > 0:
            text = perturb(r, k, rng, by_predicate)
            if text and text != r["text"]:
                claims.append({**r, "claim": text, "truth": False, "kind": k})
                per_kind[k] -= 1
                used_subjects.add(s)
    # true claims, of every kind, in the proportions the false ones have
    want_true = {k: sum(c["kind"] == k for c in claims) for k in false_kinds}
    for r in single:
        s = r["triples"][0][0]
        if s in used_subjects:
            continue
        k = kind_of(r["triples"][0][2])
        if want_true.get(k, 0) > 0:
            claims.append({**r, "claim": r["text"], "truth": True, "kind": k})
            want_true[k] -= 1
            used_subjects.add(s)
    for r in single:  # the rest of the true half, of any kind
        if len(claims) >= 2 * want_false or r["triples"][0][0] in used_subjects:
            continue
        claims.append({**r, "claim": r["text"], "truth": True, "kind": kind_of(r["triples"][0][2])})
        used_subjects.add(r["triples"][0][0])
    chosen = {c["id"] for c in claims}
    distractors = [r for r in rows if r["id"] not in chosen and not (set(t[0] for t in r["triples"]) & used_subjects)]
    rng.shuffle(distractors)
    return claims, distractors[:60]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=40)
    ap.add_argument("--model", default="qwen2.5-0.5b")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("DRAFTSMITH_N_THREADS", "1")))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    from draftsmith.config import load_settings
    from draftsmith.graph import graph
    from draftsmith.graph.factcheck import factcheck
    from draftsmith.knowledge.embed import E5Embedder
    from draftsmith.models.loader import load_model
    from draftsmith.store import Store

    rows = load(args.data)
    claims, distractors = select(rows, args.claims)
    model = load_model(args.model, load_settings(n_threads=args.threads))
    embedder = E5Embedder(threads=args.threads)
    correct = {"all": [0, 0], "true": [0, 0], "false": [0, 0], "date": [0, 0], "number": [0, 0], "entity": [0, 0]}
    found_any = 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'fc.db'}")
        for r in [*claims, *distractors]:
            for s, p, o in r["triples"]:
                graph.add_triple(store, "webnlg", clean(s), p, clean(o))
        for c in claims:
            result = factcheck(model, c["claim"], store=store, kg="webnlg", embedder=embedder)
            verdicts = [x.verdict for x in result.claims]
            verdict = (
                "contradicted"
                if "contradicted" in verdicts
                else "supported"
                if "supported" in verdicts
                else "not_found"
            )
            ok = verdict == ("supported" if c["truth"] else "contradicted")
            found_any += verdict != "not_found"
            for key in ("all", "true" if c["truth"] else "false", c["kind"]):
                correct[key][0] += ok
                correct[key][1] += 1
            if args.verbose:
                extracted = [t.model_dump(include={"subject", "predicate", "object"}) for x in result.claims
                             for t in x.claim_triples]  # fmt: skip
                print(f"{'ok ' if ok else 'BAD'} {verdict:12} truth={c['truth']} {c['kind']:6} {c['claim']}  "
                      f"gold={c['triples'][0]} got={extracted}", file=sys.stderr)  # fmt: skip
        store.close()
    acc = {k: round(v[0] / v[1], 3) if v[1] else None for k, v in correct.items()}
    print(
        json.dumps(
            {
                "factcheck_accuracy": acc["all"],
                "claims": correct["all"][1],
                "true_claims_supported": acc["true"],
                "false_claims_contradicted": acc["false"],
                "accuracy_date": acc["date"],
                "accuracy_number": acc["number"],
                "accuracy_swapped_relation": acc["entity"],
                "found_in_graph": found_any,
                "model": args.model,
                "s_per_claim": round((time.perf_counter() - t0) / max(len(claims), 1), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
