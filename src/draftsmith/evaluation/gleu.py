"""GLEU for grammatical error correction (Napoles et al. 2015/2016), as computed by JFLEG's ``eval/gleu.py``.

A reimplementation of the official script (github.com/keisks/jfleg, ``eval/gleu.py``, the 2016 multi-reference
version), written because the script is Python 2 and the PyPI ``gleu`` package is a command-line tool with global
state. What the official script does, and so what this does:

- Per sentence and per n-gram order n = 1..4: matches are hypothesis n-grams found in the reference (clipped
  counts), minus a penalty for hypothesis n-grams that are in the source but not in that reference (the errors the
  system failed to fix); the difference is floored at 0 *per sentence*. The denominator is the number of hypothesis
  n-grams. Tokens are whitespace-separated words.
- Corpus GLEU sums those counts over the corpus for one reference per sentence, then takes the geometric mean of the
  four precisions times a BLEU brevity penalty; any zero count gives 0.
- With several references, the official figure is the mean corpus GLEU over 500 reference assignments. The script
  draws them with Python 2's ``random`` seeded ``j * 101`` for assignment ``j``; the draws are replayed here exactly
  (Python 3 seeds integers the same way; Python 2's ``randint(0, k - 1)`` is ``int(random() * k)``), so the result is
  deterministic and equals the official one: JFLEG test source 40.54, dev source 38.21, as published. Fresh random
  draws would give about 40.51, and the per-sentence mean (the ``--sent`` mode) about 32.07: neither is the
  published figure.

Items may have different numbers of references; each draw then picks ``int(random() * k)`` of that item's ``k``.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence

import numpy as np

ORDER = 4
ITERATIONS = 500


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) + 1 - n))


def item_stats(
    source: Sequence[str], hypothesis: Sequence[str], references: Sequence[Sequence[str]]
) -> list[list[int]]:
    """Sufficient statistics of one tokenised item against each of its references.

    One row per reference: [hyp_len, ref_len, num_1, den_1, ..., num_4, den_4].
    """
    hlen = len(hypothesis)
    h_grams = [_ngrams(hypothesis, n) for n in range(1, ORDER + 1)]
    s_grams = [_ngrams(source, n) for n in range(1, ORDER + 1)]
    rows = []
    for reference in references:
        row = [hlen, len(reference)]
        for n in range(1, ORDER + 1):
            hyp, src, ref = h_grams[n - 1], s_grams[n - 1], _ngrams(reference, n)
            matches = sum((hyp & ref).values())
            # n-grams of the source that this reference changed, and that the hypothesis kept
            penalty = sum(min(count, src[gram]) for gram, count in hyp.items() if gram in src and gram not in ref)
            row.append(max(matches - penalty, 0))
            row.append(max(hlen + 1 - n, 0))
        rows.append(row)
    return rows


def gleu_from_stats(stats: Sequence[int]) -> float:
    """Corpus GLEU (0–1) from summed statistics; 0 when any count is 0, as in the official script."""
    if any(value == 0 for value in stats):
        return 0.0
    hyp_len, ref_len = stats[0], stats[1]
    log_precision = sum(math.log(num / den) for num, den in zip(stats[2::2], stats[3::2], strict=True)) / ORDER
    return math.exp(min(0.0, 1.0 - ref_len / hyp_len) + log_precision)


def reference_draws(ref_counts: Sequence[int], iterations: int = ITERATIONS) -> list[list[int]]:
    """The official script's reference choice per item for each iteration, replaying its seeded draws."""
    draws = []
    rng = random.Random()
    for j in range(iterations):
        rng.seed(j * 101)
        draws.append([int(rng.random() * k) for k in ref_counts])
    return draws


def corpus_gleu(
    sources: Sequence[Sequence[str]],
    hypotheses: Sequence[Sequence[str]],
    references: Sequence[Sequence[Sequence[str]]],
    iterations: int = ITERATIONS,
) -> float:
    """Official corpus GLEU (0–1) of tokenised sentences; ``references[i]`` holds the references of item ``i``."""
    per_item = [item_stats(src, hyp, refs) for src, hyp, refs in zip(sources, hypotheses, references, strict=True)]
    if not per_item or not all(per_item):
        raise ValueError("GLEU needs at least one item, and at least one reference per item")
    ref_counts = [len(rows) for rows in per_item]
    if max(ref_counts) == 1:
        iterations = 1  # every draw picks the same references
    draws = np.array(reference_draws(ref_counts, iterations), dtype=np.int64)  # (iterations, items)
    width = 2 + 2 * ORDER
    stats = np.zeros((len(per_item), max(ref_counts), width), dtype=np.float64)  # integer counts, exact below 2**53
    for i, rows in enumerate(per_item):
        stats[i, : len(rows)] = rows
    totals = np.zeros((iterations, width), dtype=np.float64)
    for r in range(stats.shape[1]):
        totals += (draws == r).astype(np.float64) @ stats[:, r, :]
    return math.fsum(gleu_from_stats([int(v) for v in row]) for row in totals) / iterations
