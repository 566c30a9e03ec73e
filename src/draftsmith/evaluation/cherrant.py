"""Character-level F0.5 for Chinese grammatical error correction, as ChERRANT computes it (MuCGEC, Zhang et al. 2022).

A reimplementation of ChERRANT's char-level path (``parallel_to_m2.py -g char -s all`` on the source and each
correction, then ``compare_m2_for_evaluation.py``), written because ChERRANT is not packaged and pulls in LTP and
torch. What ChERRANT does, and so what this does:

- Tokens are characters, after removing all whitespace.
- Alignment: ERRANT-style weighted Levenshtein. A character equal on both sides always matches; otherwise the
  cheapest of deletion (1), insertion (1), substitution and transposition (a block of ``k + 1`` characters whose
  sorted characters agree, cost ``k``). A substitution costs a semantic part (Cilin classes; 4/6 for characters
  it does not know), a "part of speech" part (0 between two punctuation marks, 0.25 between two non-punctuation
  characters, 0.499 across) and a spelling part (0.5 unless both are Chinese; for two Chinese characters 0 when they
  share a reading or are in the confusion set, else 0.5). Every cheapest alignment is kept (only the first when the
  lengths differ by more than 10), and the edits of all of them are pooled, as ``-s all`` writes them.
- Merging: a run of non-matching operations becomes one edit, except that a run of deletions and insertions only
  stays split; ``S M S`` and ``D M I`` / ``I M D`` patterns that swap the same characters become one word-order edit;
  an edit whose two sides are equal is dropped. An edit is its source span and its correction string.
- Scoring: per sentence, the system's edits are compared with each reference's; the reference kept is the one that
  gives the best corpus F0.5 when added to the running totals, ties broken by more TP, then fewer FP, then fewer FN.
  A source with no edits in a reference (the reference equals the source, or reads 没有错误) is a "no-op" reference;
  a sentence whose only reference reads 无法标注 (unannotatable) counts nothing. P, R and F0.5 come from the summed
  TP, FP and FN; a P with no system edits is 1, as ChERRANT has it.

Differences, all in the substitution cost only (they can change which of two equally short alignments is
cheapest, never the edit distance): Cilin is not bundled, so every character is "unknown" to it (4/6), and shared
readings come from the confusion sets of ``draftsmith.checking`` (similar-sounding and similar-looking characters)
instead of pypinyin. Traditional characters in hypotheses are not converted to simplified (ChERRANT runs OpenCC
t2s on them). The number of cheapest alignments kept per pair is capped at ``MAX_ALIGNMENTS``.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from string import punctuation

_ZH_PUNCT = (
    "！？｡＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟"
    "〰〾〿–—‘'‛“”„‟…‧﹏\""
)
PUNCT = set(_ZH_PUNCT + punctuation)  # the aligner's punctuation
# the merger's: a string, tested with ``in`` (so as a substring), as ChERRANT does
MERGE_PUNCT = punctuation + _ZH_PUNCT.replace("〰〾〿", "").replace("﹏", "").rstrip('"') + "."
NO_ERROR = "没有错误"
UNANNOTATABLE = "无法标注"
MAX_ALIGNMENTS = 64

Op = tuple[str, int, int, int, int]  # (operation, src start, src end, tgt start, tgt end)
Edit = tuple[int, int, str]  # (src start, src end, correction)


def _is_chinese(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@functools.cache
def _similar() -> dict[str, frozenset[str]]:
    try:
        from draftsmith.checking.chinese import _load_confusion
    except ImportError:  # pragma: no cover - the checking package is part of the project
        return {}
    similar, _ = _load_confusion()
    return {ch: frozenset(alts) for ch, alts in similar.items()}


def sub_cost(a: str, b: str) -> float:
    """ChERRANT's char-level substitution cost between two different characters (always below 2)."""
    if a == b:
        return 0.0
    semantic = 4 / 6.0  # Cilin class unknown
    if a in PUNCT and b in PUNCT:
        pos = 0.0
    elif a not in PUNCT and b not in PUNCT:
        pos = 0.25
    else:
        pos = 0.499
    char = 0.0 if _is_chinese(a) and _is_chinese(b) and b in _similar().get(a, ()) else 0.5
    return semantic + char + pos  # ChERRANT's order of the sum, so that float ties come out the same


def _align(src: str, tgt: str) -> list[list[Op]]:
    """Every cheapest alignment (or only the first when the lengths differ by more than 10)."""
    n, m = len(src), len(tgt)
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    ops: list[list[list[str]]] = [[[] for _ in range(m + 1)] for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = cost[i - 1][0] + 1
        ops[i][0] = ["D"]
    for j in range(1, m + 1):
        cost[0][j] = cost[0][j - 1] + 1
        ops[0][j] = ["I"]
    for i in range(n):
        for j in range(m):
            if src[i] == tgt[j]:
                cost[i + 1][j + 1] = cost[i][j]
                ops[i + 1][j + 1] = ["M"]
                continue
            delete = cost[i][j + 1] + 1
            insert = cost[i + 1][j] + 1
            sub = cost[i][j] + sub_cost(src[i], tgt[j])
            trans = float("inf")
            k = 1
            while i - k >= 0 and j - k >= 0 and cost[i - k + 1][j - k + 1] != cost[i - k][j - k]:
                if sorted(src[i - k : i + 1]) == sorted(tgt[j - k : j + 1]):
                    trans = cost[i - k][j - k] + k
                    break
                k += 1
            costs = [trans, sub, insert, delete]
            best = min(costs)
            cost[i + 1][j + 1] = best
            names = [f"T{k + 1}", "S", "I", "D"]
            ops[i + 1][j + 1] = [name for name, c in zip(names, costs, strict=True) if c == best]
    strategy_all = abs(n - m) <= 10
    found: list[list[Op]] = []

    # an explicit stack instead of recursion: sentences can be hundreds of characters long
    stack: list[tuple[int, int, list[Op]]] = [(n, m, [])]
    while stack and len(found) < MAX_ALIGNMENTS:
        i, j, seq = stack.pop()
        if i + j == 0:
            found.append(seq[::-1])
            continue
        choices = ops[i][j] if strategy_all else ops[i][j][:1]
        pushed = []
        for op in choices:
            if op in ("M", "S"):
                pushed.append((i - 1, j - 1, [*seq, (op, i - 1, i, j - 1, j)]))
            elif op == "D":
                pushed.append((i - 1, j, [*seq, (op, i - 1, i, j, j)]))
            elif op == "I":
                pushed.append((i, j - 1, [*seq, (op, i, i, j - 1, j)]))
            else:
                k = int(op[1:])
                pushed.append((i - k, j - k, [*seq, (op, i - k, i, j - k, j)]))
        stack.extend(reversed(pushed))  # depth first, in ChERRANT's order (T, S, I, D)
    return found


def _merge(seq: list[Op], tag: str) -> list[Op]:
    return [(tag, seq[0][1], seq[-1][2], seq[0][3], seq[-1][4])] if seq else seq


def _process(seq: list[Op]) -> list[Op]:
    if len(seq) <= 1:
        return seq
    kinds = {op[0] for op in seq}
    if kinds in ({"D"}, {"I"}):
        return _merge(seq, kinds.pop())
    if kinds == {"D", "I"}:
        return seq
    return _merge(seq, "S")


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _merge_alignment(align: list[Op], src: str, tgt: str) -> list[Op]:
    """ChERRANT's Merger at char granularity: operations → span edits."""
    edits: list[Op] = []
    for key, group in groupby(align, lambda op: op[0][0] if op[0][0] in ("M", "T") else ""):
        items = list(group)
        edits.extend(items if key == "T" else _merge(items, "M") if key == "M" else _process(items))
    filtered: list[Op] = []
    i = 0
    while i < len(edits):
        e1 = edits[i][0][0]
        if i < len(edits) - 2:
            e2, e3 = edits[i + 1][0][0], edits[i + 2][0][0]
            swap = False
            if e1 == "S" and e2 == "M" and e3 == "S":
                w1 = src[edits[i][1] : edits[i][2]]
                w2 = tgt[edits[i][3] : edits[i][4]]
                w3 = src[edits[i + 2][1] : edits[i + 2][2]]
                w4 = tgt[edits[i + 2][3] : edits[i + 2][4]]
                if min(len(w1), len(w2), len(w3), len(w4)) == 1:
                    swap = w1 == w4 and w2 == w3
                else:
                    swap = _levenshtein(w1, w4) <= 1 and _levenshtein(w2, w3) <= 1
            elif (e1 == "D" and (e2 == "M" or e2 == "T") and e3 == "I") or (
                e1 == "I" and (e2 == "M" or e2 == "T") and e3 == "D"
            ):
                if e1 == "D":
                    a, b = src[edits[i][1] : edits[i][2]], tgt[edits[i + 2][3] : edits[i + 2][4]]
                else:
                    a, b = src[edits[i + 2][1] : edits[i + 2][2]], tgt[edits[i][3] : edits[i][4]]
                if len(a) < len(b):
                    a, b = b, a
                if a not in MERGE_PUNCT and b not in MERGE_PUNCT and len(a) - len(b) <= 1:
                    one = len(b) == 1
                    swap = a == b if one else _levenshtein(a, b) <= 1 or (len(a) == len(b) and b in a + a)
            if swap:
                filtered.extend(_merge(edits[i : i + 3], f"T{edits[i + 2][2] - edits[i][1]}"))
                i += 3
                continue
        if e1 != "M":
            filtered.append(edits[i])
        i += 1
    return [_trim(edit, src, tgt) for edit in filtered if src[edit[1] : edit[2]] != tgt[edit[3] : edit[4]]]


def _trim(edit: Op, src: str, tgt: str) -> Op:
    """A substitution whose sides share a leading or trailing stretch keeps only the differing middle."""
    if edit[0] != "S":
        return edit
    tag, s1, e1, s2, e2 = edit
    changed = False
    p = 0
    while s1 + p < e1 and s2 + p < e2 and src[s1 + p] == tgt[s2 + p]:
        p += 1
    if p:
        s1, s2, changed = s1 + p, s2 + p, True
    q = 0
    while e1 - q > s1 and e2 - q > s2 and src[e1 - q - 1] == tgt[e2 - q - 1]:
        q += 1
    if q:
        e1, e2, changed = e1 - q, e2 - q, True
    if not changed:
        return edit
    tag = "I" if s1 == e1 else "D" if s2 == e2 else "S"
    return (tag, s1, e1, s2, e2)


def normalise(text: str) -> str:
    return "".join(text.split())


def char_edits(source: str, target: str) -> Counter[Edit]:
    """The pooled edits of every cheapest alignment from ``source`` to ``target`` (whitespace removed)."""
    src, tgt = normalise(source), normalise(target)
    pooled: Counter[Edit] = Counter()
    if src == tgt or tgt == NO_ERROR:
        return pooled
    seen: list[list[Op]] = []
    for align in _align(src, tgt):
        ops = _merge_alignment(align, src, tgt)
        if ops in seen:
            continue
        seen.append(ops)
        pooled.update((s1, e1, tgt[s2:e2]) for _, s1, e1, s2, e2 in ops)
    return pooled


def compare(hyp: Counter[Edit], ref: Counter[Edit]) -> tuple[int, int, int]:
    """TP, FP, FN of one system edit set against one reference's (ChERRANT's ``compareEdits``)."""
    tp = sum(ref[e] for e in hyp if e in ref)
    fp = sum(n for e, n in hyp.items() if e not in ref)
    fn = sum(n for e, n in ref.items() if e not in hyp)
    return tp, fp, fn


def f_beta(tp: int, fp: int, fn: int, beta: float = 0.5) -> tuple[float, float, float]:
    """P, R, F as ChERRANT computes them (P = 1 with no FP, R = 1 with no FN)."""
    p = tp / (tp + fp) if fp else 1.0
    r = tp / (tp + fn) if fn else 1.0
    f = (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0
    return p, r, f


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def scores(self) -> dict[str, float]:
        p, r, f = f_beta(self.tp, self.fp, self.fn)
        return {"p": p, "r": r, "f05": f, "tp": self.tp, "fp": self.fp, "fn": self.fn}


def sentence_counts(
    source: str, hypothesis: str, references: Sequence[str], running: Counts | None = None
) -> tuple[int, int, int]:
    """TP, FP, FN of one sentence against the reference that best serves the running corpus F0.5."""
    running = running or Counts()
    if all(normalise(r) == UNANNOTATABLE for r in references) and len(references) == 1:
        return 0, 0, 0
    hyp = char_edits(source, hypothesis)
    best: tuple[int, int, int] | None = None
    best_f = -1.0
    for reference in references:
        if normalise(reference) == UNANNOTATABLE:  # among other references ChERRANT counts it as one FN
            ref: Counter[Edit] = Counter() if not hyp else Counter({(-1, -1, "-NONE-"): 1})
        else:
            ref = char_edits(source, reference)
        tp, fp, fn = compare(hyp, ref)
        f = f_beta(running.tp + tp, running.fp + fp, running.fn + fn)[2]
        if best is None or (f, tp, -fp, -fn) > (best_f, best[0], -best[1], -best[2]):
            best, best_f = (tp, fp, fn), f
    assert best is not None
    return best


def corpus_f05(
    sources: Sequence[str], hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Corpus P, R, F0.5 (0-1) and the TP/FP/FN counts, in ChERRANT's char-level way."""
    total = Counts()
    for src, hyp, refs in zip(sources, hypotheses, references, strict=True):
        tp, fp, fn = sentence_counts(src, hyp, refs, total)
        total.tp, total.fp, total.fn = total.tp + tp, total.fp + fp, total.fn + fn
    return total.scores()


def load_mucgec(path: str, ids: Iterable[int] | None = None) -> list[tuple[int, str, list[str]]]:
    """MuCGEC's ``id<TAB>source<TAB>reference…`` lines as (id, source, references)."""
    wanted = set(ids) if ids is not None else None
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            item_id = int(parts[0])
            if wanted is None or item_id in wanted:
                out.append((item_id, parts[1], parts[2:]))
    return out
