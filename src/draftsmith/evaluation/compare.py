"""Comparing runs: the figures side by side, and paired bootstrap confidence intervals of the differences.

Paired bootstrap (Koehn 2004): resample the items both runs share, with replacement, ``samples`` times; on each
resample compute every metric for both runs *on the same items* and keep the difference. The 2.5th and 97.5th
percentiles of the differences are the 95% interval; ``p`` is the share of resamples where the difference is
≤ 0 (for TER and perplexity, lower is better, so where it is ≥ 0).

Corpus metrics are resampled through per-item sufficient statistics, so a resample costs a sum, not a re-score:
sacrebleu's own statistics for BLEU/chrF/TER, GLEU's n-gram counts per reference draw (``gleu.py``), ERRANT's
TP/FP/FN; per-item means (ROUGE, judge scores, perplexity, lengths) are resampled as means. Distinct-n is not
additive over items, and is recomputed on each resample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from draftsmith.errors import InputError
from draftsmith.evaluation.text import is_unsegmented
from draftsmith.store.runs import ItemRecord

LOWER_IS_BETTER = frozenset({"ter", "perplexity", "length_std"})


@dataclass
class Statistic:
    """A metric as per-item rows that add up, and the figures computed from sums of rows (or from subsets)."""

    rows: np.ndarray | None  # (items, k); None: use ``recompute``
    from_sums: Callable[[np.ndarray], np.ndarray] | None = None  # (resamples, k) → (resamples,)
    recompute: Callable[[np.ndarray], float] | None = None  # item indices → figure

    def values(self, counts: np.ndarray) -> np.ndarray:
        """The figure on each resample; ``counts[b, i]`` is how often resample b drew item i."""
        if self.rows is not None and self.from_sums is not None:
            return self.from_sums(counts @ self.rows)
        assert self.recompute is not None
        return np.array([self.recompute(np.repeat(np.arange(len(row)), row.astype(int))) for row in counts])


def _rowwise(fn: Callable[[np.ndarray], float]) -> Callable[[np.ndarray], np.ndarray]:
    return lambda sums: np.array([fn(row) for row in sums])


def _sacrebleu_stat(name: str, hyps: list[str], refs: list[list[str]], lang: str) -> Statistic:
    from sacrebleu.metrics import BLEU, CHRF, TER

    from draftsmith.evaluation.metrics import _streams, bleu_tokenizer

    if name == "bleu":
        metric = BLEU(tokenize=bleu_tokenizer(lang))
    elif name == "chrf":
        metric = CHRF()
    else:
        cjk = is_unsegmented(lang)
        metric = TER(normalized=cjk, asian_support=cjk)
    rows = np.array(metric._extract_corpus_statistics(hyps, _streams(refs)), dtype=np.float64)
    return Statistic(rows, _rowwise(lambda s: float(metric._compute_score_from_stats(list(s)).score)))


def _gleu_stat(hyps: list[str], refs: list[list[str]], sources: list[str], lang: str) -> Statistic:
    from draftsmith.evaluation.gleu import ITERATIONS, ORDER, item_stats, reference_draws

    def tokens(text: str) -> list[str]:
        return [ch for ch in text if not ch.isspace()] if is_unsegmented(lang) else text.split()

    per_item = [
        item_stats(tokens(s), tokens(h), [tokens(r) for r in rs]) for s, h, rs in zip(sources, hyps, refs, strict=True)
    ]
    counts = [len(rows) for rows in per_item]
    iterations = 1 if max(counts) == 1 else ITERATIONS
    draws = np.array(reference_draws(counts, iterations), dtype=np.int64)  # (iterations, items)
    width = 2 + 2 * ORDER
    stats = np.array([[rows[draws[j, i]] for j in range(iterations)] for i, rows in enumerate(per_item)], float)
    flat = stats.reshape(len(per_item), iterations * width)  # each item keeps its own reference draws

    def from_sums(sums: np.ndarray) -> np.ndarray:
        grid = sums.reshape(len(sums), iterations, width)  # one corpus GLEU per reference draw, as gleu.py
        hyp_len, ref_len, nums, dens = grid[..., 0], grid[..., 1], grid[..., 2::2], grid[..., 3::2]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_p = np.log(nums / dens).sum(axis=-1) / ORDER
            value = np.exp(np.minimum(0.0, 1.0 - ref_len / hyp_len) + log_p)
        value[(grid == 0).any(axis=-1)] = 0.0
        return 100.0 * value.mean(axis=-1)

    return Statistic(flat, from_sums)


def _mean_stat(values: Sequence[float | None]) -> Statistic:
    rows = np.array([[v, 1.0] if v is not None else [0.0, 0.0] for v in values], dtype=np.float64)

    def means(sums: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return sums[:, 0] / sums[:, 1]

    return Statistic(rows, means)


def statistics(task: str, records: Sequence[ItemRecord], metric: str, lang: str) -> Statistic:
    """The bootstrap statistic of one aggregate figure over ``records`` (in a fixed item order)."""
    hyps = [r.hypothesis for r in records]
    refs = [r.references for r in records]
    if metric in ("bleu", "chrf", "ter"):
        return _sacrebleu_stat(metric, hyps, refs, lang)
    if metric in ("bleu_vs_source", "chrf_vs_source"):
        return _sacrebleu_stat(metric.split("_")[0], hyps, [[r.source] for r in records], lang)
    if metric == "gleu":
        return _gleu_stat(hyps, refs, [r.source for r in records], lang)
    if metric in ("errant_f05", "errant_p", "errant_r"):
        from draftsmith.evaluation.gec import f_beta

        rows = np.array([[r.scores.get(f"errant_{k}", 0) for k in ("tp", "fp", "fn")] for r in records], float)

        def errant(s: np.ndarray) -> float:
            tp, fp, fn = s
            if metric == "errant_p":
                return 100 * (tp / (tp + fp) if tp + fp else 1.0)
            if metric == "errant_r":
                return 100 * (tp / (tp + fn) if tp + fn else 1.0)
            return 100 * f_beta(int(tp), int(fp), int(fn))

        return Statistic(rows, _rowwise(errant))
    if metric in ("distinct_1", "distinct_2", "length_std", "compression", "length_vs_ref"):
        from draftsmith.evaluation.metrics import score

        name = "distinct_n" if metric.startswith("distinct") else "length"
        sources = [r.source for r in records] if task not in ("write", "continue") else None

        def recompute(idx: np.ndarray) -> float:
            pick = [int(i) for i in idx]
            out = score(
                task,
                [hyps[i] for i in pick],
                [refs[i] for i in pick] if all(refs) else None,
                [sources[i] for i in pick] if sources else None,
                lang,
                metrics=[name],
            )
            return float(out.get(metric, float("nan")))

        return Statistic(None, recompute=recompute)
    # Per-item means: rouge1/2/L, length_mean, judge_*, perplexity.
    return _mean_stat([r.scores.get(metric) for r in records])


@dataclass
class Difference:
    metric: str
    base: float
    other: float
    delta: float
    low: float
    high: float
    p: float  # share of resamples where the other run is not better
    items: int


def paired_bootstrap(
    task: str,
    base: Sequence[ItemRecord],
    other: Sequence[ItemRecord],
    metrics: Sequence[str],
    *,
    lang: str = "en",
    samples: int = 1000,
    seed: int = 12345,
    confidence: float = 0.95,
) -> list[Difference]:
    """Differences ``other − base`` with a paired bootstrap interval, over the items both runs have."""
    by_id = {r.item_id: r for r in other}
    shared = [r for r in base if r.item_id in by_id]
    if not shared:
        raise InputError("the runs share no items (compare runs over the same data set)")
    paired = [by_id[r.item_id] for r in shared]
    n = len(shared)
    rng = np.random.default_rng(seed)
    counts = np.zeros((samples, n), dtype=np.float64)
    for b in range(samples):
        np.add.at(counts[b], rng.integers(0, n, n), 1.0)
    ones = np.ones((1, n))
    out = []
    for metric in metrics:
        a_stat = statistics(task, shared, metric, lang)
        b_stat = statistics(task, paired, metric, lang)
        a_full, b_full = a_stat.values(ones)[0], b_stat.values(ones)[0]
        deltas = b_stat.values(counts) - a_stat.values(counts)
        deltas = deltas[~np.isnan(deltas)]
        if deltas.size == 0:
            continue
        tail = (1 - confidence) / 2
        low, high = np.quantile(deltas, [tail, 1 - tail])
        worse = deltas >= 0 if metric in LOWER_IS_BETTER else deltas <= 0
        out.append(
            Difference(
                metric=metric,
                base=float(a_full),
                other=float(b_full),
                delta=float(b_full - a_full),
                low=float(low),
                high=float(high),
                p=float(np.mean(worse)),
                items=n,
            )
        )
    return out


def comparable_metrics(aggregates: Sequence[dict]) -> list[str]:
    """The figures every run has (in the first run's order), without the per-item ERRANT counts."""
    names = [set(a.get("metrics", {})) for a in aggregates]
    first = list(aggregates[0].get("metrics", {}))
    return [m for m in first if all(m in s for s in names)]
