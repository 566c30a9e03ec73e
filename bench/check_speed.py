"""Speed of the checker's detectors (English spelling + grammar rules) against a plain Hunspell anchor.

    python bench/check_speed.py [--rounds 3] [--anchor-sentences 150]

Text: the JFLEG dev sources (754 learner sentences, ../shared/data/jfleg, CC BY-NC-SA, read for evaluation
only), detokenised and joined into paragraphs of 8 sentences. The anchor is what a plain spell checker does:
spylls (the same Hunspell dictionary) looks up every word and asks Hunspell's own suggester for each unknown one.

Also a sanity figure of the detectors' precision on JFLEG dev: a flagged span counts as right when at least one
of the four human corrections changes it (``precision_any_ref``), and its first suggestion as right when that
correction uses it (``suggestion_precision``); ``recall_ref0`` is the share of words changed in reference 0
that a problem covers; ``flags_per_1k_words_ref0`` is how often the detectors fire on reference 0 itself
(corrected text, though it still holds some errors). The last line is one JSON object; the key figure is
``words_per_s_detectors`` (goal >= 2,000 on 2 cores), measured with dictionaries loaded (``load_s`` is the
one-time start-up) and word caches emptied before each round. ``zh_*`` figures: the Chinese detectors on the
MuCGEC dev sources (../shared/data/mucgec, Apache-2.0).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import statistics
import sys
import time
from pathlib import Path

from draftsmith.checking import Checker
from draftsmith.checking.text import paragraphs_of

JFLEG = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "jfleg" / "dev"
MUCGEC = JFLEG.parents[1] / "mucgec" / "MuCGEC_dev.txt"
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


def detokenize(line: str) -> str:
    s = line.strip()
    s = re.sub(r" (n't|'s|'re|'ve|'ll|'d|'m)\b", r"\1", s)
    s = re.sub(r" ([,.;:!?%)])", r"\1", s)
    s = re.sub(r"([($]) ", r"\1", s)
    s = re.sub(r'" (.*?) "', r'"\1"', s)
    return s


def load(name: str) -> list[str]:
    return [detokenize(line) for line in (JFLEG / name).read_text(encoding="utf-8").splitlines()]


def words_in(text: str) -> int:
    return len(_WORD.findall(text))


def bench_detectors(text: str, rounds: int) -> tuple[float, int, float]:
    start = time.perf_counter()
    checker = Checker("en", words=[])
    warm = "Warm up: I recieve it becouse she go there."
    list(checker.iter_paragraphs(paragraphs_of(warm)))
    load_s = time.perf_counter() - start
    times, found = [], 0
    for _ in range(rounds):
        from draftsmith.checking import spelling

        spelling.speller().valid.cache_clear()  # every round starts with cold word caches
        spelling.speller().suggest.cache_clear()
        spelling.web_zipf.cache_clear()
        t = time.perf_counter()
        found = sum(1 for _ in checker.iter_paragraphs(paragraphs_of(text)))
        times.append(time.perf_counter() - t)
    return statistics.median(times), found, load_s


def bench_anchor(sentences: list[str]) -> float:
    from spylls.hunspell import Dictionary

    from draftsmith.checking.spelling import _find_dictionary

    path = _find_dictionary()
    if path is None:
        return float("nan")
    d = Dictionary.from_files(path)
    t = time.perf_counter()
    for sentence in sentences:
        for w in _WORD.findall(sentence):
            if not d.lookup(w):
                list(d.suggest(w))[:5]
    elapsed = time.perf_counter() - t
    return sum(words_in(s) for s in sentences) / elapsed


def precision(sources: list[str], refs: list[list[str]]) -> dict[str, float]:
    checker = Checker("en", words=[])
    flagged = right = sugg_right = 0
    changed0 = covered0 = 0
    by_rule: dict[str, list[int]] = {}
    for i, src in enumerate(sources):
        problems = list(checker.iter_paragraphs(paragraphs_of(src))) if src.strip() else []
        changes = [_changed(src, r[i]) for r in refs]
        for p in problems:
            flagged += 1
            hit = any(_overlaps(p.start, p.end, spans) for spans, _ in changes)
            right += hit
            sugg = bool(p.suggestions) and any(
                _uses(p.start, p.end, p.suggestions[0], spans_with) for _, spans_with in changes
            )
            sugg_right += sugg
            by_rule.setdefault(p.rule_id, [0, 0])
            by_rule[p.rule_id][0] += 1
            by_rule[p.rule_id][1] += hit
        spans0, _ = changes[0]
        for s, e in spans0:
            if src[s:e].strip():
                changed0 += 1
                covered0 += any(p.start < max(e, s + 1) and p.end > s for p in problems)
    on_refs = sum(1 for r in refs[0] if r.strip() for _ in checker.iter_paragraphs(paragraphs_of(r)))
    print("per rule (flagged, confirmed by a reference):", file=sys.stderr)
    for rule, (n, ok) in sorted(by_rule.items(), key=lambda kv: -kv[1][0]):
        print(f"  {rule:32} {n:4} {ok:4}", file=sys.stderr)
    return {
        "flagged": flagged,
        "precision_any_ref": round(right / max(flagged, 1), 3),
        "suggestion_precision": round(sugg_right / max(flagged, 1), 3),
        "recall_ref0": round(covered0 / max(changed0, 1), 3),
        "flags_per_1k_words_ref0": round(on_refs * 1000 / sum(words_in(r) for r in refs[0]), 2),
    }


def chinese(path: Path = MUCGEC) -> dict[str, float]:
    """Speed and precision of the Chinese detectors on MuCGEC dev (Apache-2.0): a flag is right when a
    reference puts the suggested character at that place (references that rewrite more count it wrong)."""
    if not path.is_file():
        return {}
    checker = Checker("zh", words=[])
    rows = [line.rstrip("\n").split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
    list(checker.iter_paragraphs(paragraphs_of("我们去公圆玩。")))  # load jieba first
    flagged = right = chars = 0
    elapsed = 0.0
    for row in rows:
        src, refs = row[1], [r for r in row[2:] if r]
        chars += len(src)
        t = time.perf_counter()
        problems = list(checker.iter_paragraphs(paragraphs_of(src)))
        elapsed += time.perf_counter() - t
        subs = set()
        for ref in refs:
            for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, src, ref, autojunk=False).get_opcodes():
                if op == "replace" and i2 - i1 == j2 - j1:
                    subs.update((i1 + k, ref[j1 + k]) for k in range(i2 - i1))
        for p in problems:
            flagged += 1
            right += (p.start, p.suggestions[0][:1]) in subs
    return {
        "zh_chars_per_s": round(chars / elapsed),
        "zh_flagged": flagged,
        "zh_precision_exact_ref": round(right / max(flagged, 1), 3),
    }


def _changed(src: str, ref: str) -> tuple[list[tuple[int, int]], list[tuple[int, int, str]]]:
    """Character spans of ``src`` that ``ref`` changes (word level), with the replacement text."""
    a = [(m.start(), m.end()) for m in re.finditer(r"\w+(?:'\w+)?|[^\w\s]", src)]
    b = [(m.start(), m.end()) for m in re.finditer(r"\w+(?:'\w+)?|[^\w\s]", ref)]
    at, bt = [src[s:e] for s, e in a], [ref[s:e] for s, e in b]
    spans, spans_with = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, at, bt, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        s = a[i1][0] if i1 < len(a) else len(src)
        e = a[i2 - 1][1] if i2 > i1 else s
        new = ref[b[j1][0] : b[j2 - 1][1]] if j2 > j1 else ""
        spans.append((s, e))
        spans_with.append((s, e, new))
    return spans, spans_with


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= max(start, end - 1) and max(e, s + 1) > start for s, e in spans)


def _uses(start: int, end: int, suggestion: str, spans_with: list[tuple[int, int, str]]) -> bool:
    return any(s <= start and end <= max(e, s + 1) and suggestion.strip() in new for s, e, new in spans_with)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--anchor-sentences", type=int, default=150)
    args = parser.parse_args()
    sources = load("dev.src")
    refs = [load(f"dev.ref{k}") for k in range(4)]
    text = "\n\n".join(" ".join(sources[i : i + 8]) for i in range(0, len(sources), 8))
    words = words_in(text)
    seconds, found, load_s = bench_detectors(text, args.rounds)
    rate = words / seconds
    print(f"detectors: {words} words in {seconds:.2f} s ({rate:,.0f} words/s), {found} problems", file=sys.stderr)
    anchor = bench_anchor(sources[: args.anchor_sentences])
    print(f"anchor (spylls lookup + suggest): {anchor:,.0f} words/s", file=sys.stderr)
    quality = precision(sources, refs)
    zh = chinese()
    print(
        json.dumps(
            {
                "words_per_s_detectors": round(rate),
                "words": words,
                "problems": found,
                "load_s": round(load_s, 2),
                "anchor_words_per_s_spylls": round(anchor),
                "speedup_vs_anchor": round(rate / anchor, 1),
                **quality,
                **zh,
            }
        )
    )


if __name__ == "__main__":
    main()
