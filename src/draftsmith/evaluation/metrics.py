"""Automatic metrics over lists of outputs, and which of them fit which writing task.

Every function scores a whole corpus: ``hyps[i]`` is the system output for item ``i``, ``refs[i]`` its reference
(a string) or references (a list of strings; items may have different numbers), ``sources[i]`` its input. Scores
are on sacrebleu's 0–100 scale (TER: lower is better); ``distinct_n`` is a ratio in [0, 1]; lengths are counts of
words, or of characters for Chinese and Japanese.

- BLEU, chrF, TER: ``sacrebleu`` corpus scores, BLEU tokenised with ``zh`` for Chinese (``char`` for Japanese),
  TER with its Asian-character support for both.
- ROUGE-1/2/L F1: ``rouge_score``, averaged over items; with several references an item keeps its best one
  (``score_multi``). English uses rouge_score's own tokenizer; other languages a Unicode one (see ``text.py``), since
  the default drops every non-ASCII character and so scores any Chinese pair 0.
- GLEU: the official JFLEG computation, see ``gleu.py``.

``score(task, ...)`` computes the metrics of ``TASK_METRICS[task]`` (or a chosen subset) and raises ``InputError``
for a metric that does not fit the task, or a field a metric needs and did not get.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from draftsmith.errors import InputError
from draftsmith.evaluation.gleu import corpus_gleu
from draftsmith.evaluation.text import RougeTokenizer, is_unsegmented, require, units
from draftsmith.languages import check_language

References = Sequence[str | Sequence[str]]
"""Per item: one reference string, or a list of them."""


# --- input checks ------------------------------------------------------------------------------------------------


def _reference_lists(refs: References, n_items: int) -> list[list[str]]:
    if len(refs) != n_items:
        raise InputError(f"got {n_items} outputs but {len(refs)} references; give one reference entry per item")
    lists = [[item] if isinstance(item, str) else list(item) for item in refs]
    for i, item in enumerate(lists):
        if not item:
            raise InputError(f"item {i + 1} has an empty list of references; give at least one reference per item")
        if not all(isinstance(ref, str) for ref in item):
            raise InputError(f"item {i + 1} has a reference that is not text")
    return lists


def _check_sources(sources: Sequence[str], n_items: int) -> list[str]:
    if isinstance(sources, str):
        raise InputError("sources must be a list of strings, one per item, not a single string")
    if len(sources) != n_items:
        raise InputError(f"got {n_items} outputs but {len(sources)} sources; give one source per item")
    for i, source in enumerate(sources):
        if not isinstance(source, str):
            raise InputError(f"source {i + 1} is not text ({type(source).__name__}); give one string per item")
    return list(sources)


def _check_hyps(hyps: Sequence[str]) -> list[str]:
    if isinstance(hyps, str):
        raise InputError("outputs must be a list of strings, one per item, not a single string")
    if not hyps:
        raise InputError("nothing to score: the list of outputs is empty")
    for i, hyp in enumerate(hyps):
        if not isinstance(hyp, str):
            raise InputError(f"output {i + 1} is not text ({type(hyp).__name__}); give one string per item")
    return list(hyps)


def _streams(ref_lists: list[list[str]]) -> list[list[str | None]]:
    """Per-item reference lists → sacrebleu's reference streams, padded with None where an item has fewer."""
    width = max(len(item) for item in ref_lists)
    return [[item[k] if k < len(item) else None for item in ref_lists] for k in range(width)]


# --- sacrebleu ---------------------------------------------------------------------------------------------------


def _sacrebleu() -> Any:
    return require("sacrebleu.metrics", "BLEU, chrF and TER")


def bleu_tokenizer(lang: str) -> str:
    """The sacrebleu tokenizer for a language: ``zh`` for Chinese, ``char`` for Japanese, else ``13a``."""
    lang = check_language(lang)
    return {"zh": "zh", "zh-tw": "zh", "ja": "char"}.get(lang, "13a")


def bleu(hyps: Sequence[str], refs: References, lang: str = "en") -> float:
    """Corpus BLEU (0–100), sacrebleu defaults, tokenised for ``lang``."""
    hyps = _check_hyps(hyps)
    metric = _sacrebleu().BLEU(tokenize=bleu_tokenizer(lang))
    return float(metric.corpus_score(hyps, _streams(_reference_lists(refs, len(hyps)))).score)


def chrf(hyps: Sequence[str], refs: References, lang: str = "en") -> float:
    """Corpus chrF (0–100), sacrebleu defaults (character 6-grams, beta 2); works on any script as is."""
    check_language(lang)
    hyps = _check_hyps(hyps)
    metric = _sacrebleu().CHRF()
    return float(metric.corpus_score(hyps, _streams(_reference_lists(refs, len(hyps)))).score)


def ter(hyps: Sequence[str], refs: References, lang: str = "en") -> float:
    """Corpus TER (edits per reference word × 100; lower is better); CJK split into characters for zh/ja."""
    lang = check_language(lang)
    hyps = _check_hyps(hyps)
    cjk = is_unsegmented(lang)
    metric = _sacrebleu().TER(normalized=cjk, asian_support=cjk)
    return float(metric.corpus_score(hyps, _streams(_reference_lists(refs, len(hyps)))).score)


# --- ROUGE -------------------------------------------------------------------------------------------------------


def rouge(hyps: Sequence[str], refs: References, lang: str = "en", use_stemmer: bool = False) -> dict[str, float]:
    """Mean ROUGE-1, ROUGE-2 and ROUGE-L F1 (0–100) over items, best reference per item.

    English uses rouge_score's default tokenizer (``use_stemmer`` adds its Porter stemmer), so figures match the
    package's; every other language uses ``RougeTokenizer`` (jieba words for Chinese).
    """
    lang = check_language(lang)
    hyps = _check_hyps(hyps)
    ref_lists = _reference_lists(refs, len(hyps))
    scorer_module = require("rouge_score.rouge_scorer", "ROUGE")
    tokenizer = None if lang == "en" else RougeTokenizer(lang)
    scorer = scorer_module.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=use_stemmer, tokenizer=tokenizer)
    sums = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for hyp, item_refs in zip(hyps, ref_lists, strict=True):
        scores = scorer.score_multi(item_refs, hyp)
        for key in sums:
            sums[key] += scores[key].fmeasure
    return {key: 100.0 * total / len(hyps) for key, total in sums.items()}


# --- GLEU --------------------------------------------------------------------------------------------------------


def gleu(hyps: Sequence[str], refs: References, sources: Sequence[str], lang: str = "en") -> float:
    """Corpus GLEU (0–100) for grammatical error correction, as JFLEG's official script computes it.

    Words are whitespace-separated tokens, as in the script (JFLEG text is pre-tokenised); Chinese and Japanese are
    scored on characters. ``gleu(sources, refs, sources)`` on JFLEG test gives the published 40.54.
    """
    lang = check_language(lang)
    hyps = _check_hyps(hyps)
    ref_lists = _reference_lists(refs, len(hyps))
    sources = _check_sources(sources, len(hyps))

    def tokens(text: str) -> list[str]:
        return [ch for ch in text if not ch.isspace()] if is_unsegmented(lang) else text.split()

    return 100.0 * corpus_gleu(
        [tokens(s) for s in sources],
        [tokens(h) for h in hyps],
        [[tokens(r) for r in item] for item in ref_lists],
    )


# --- diversity and length ----------------------------------------------------------------------------------------


def distinct_n(hyps: Sequence[str], orders: Sequence[int] = (1, 2)) -> dict[str, float]:
    """Distinct-n (Li et al. 2016): distinct n-grams over all n-grams of all outputs, per order, in [0, 1].

    Units are words, or characters for CJK text; 0 when the outputs have no n-gram of that order.
    """
    hyps = _check_hyps(hyps)
    result = {}
    for n in orders:
        if n < 1:
            raise InputError(f"distinct-n needs n ≥ 1, got {n}")
        grams: Counter[tuple[str, ...]] = Counter()
        for hyp in hyps:
            toks = units(hyp)
            grams.update(tuple(toks[i : i + n]) for i in range(len(toks) + 1 - n))
        total = sum(grams.values())
        result[f"distinct_{n}"] = len(grams) / total if total else 0.0
    return result


def length_stats(
    hyps: Sequence[str], sources: Sequence[str] | None = None, refs: References | None = None
) -> dict[str, float]:
    """Output length in words (CJK: characters): mean and standard deviation per item.

    With ``sources``, ``compression`` is total output length over total source length (0.3 = a third as long);
    with ``refs``, ``length_vs_ref`` is total output length over total length of each item's first reference.
    A ratio whose denominator is 0 (empty sources or references) is left out rather than infinite.
    """
    hyps = _check_hyps(hyps)
    lengths = [len(units(h)) for h in hyps]
    mean = sum(lengths) / len(lengths)
    result = {"length_mean": mean, "length_std": math.sqrt(sum((x - mean) ** 2 for x in lengths) / len(lengths))}
    if sources is not None:
        source_total = sum(len(units(s)) for s in _check_sources(sources, len(hyps)))
        if source_total:
            result["compression"] = sum(lengths) / source_total
    if refs is not None:
        ref_total = sum(len(units(item[0])) for item in _reference_lists(refs, len(hyps)))
        if ref_total:
            result["length_vs_ref"] = sum(lengths) / ref_total
    return result


# --- registry ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """What ``score`` checked and hands to each metric."""

    hyps: list[str]
    refs: list[list[str]] | None
    sources: list[str] | None
    lang: str

    @property
    def references(self) -> list[list[str]]:
        assert self.refs is not None, "score() checks Metric.needs first"
        return self.refs

    @property
    def inputs(self) -> list[str]:
        assert self.sources is not None, "score() checks Metric.needs first"
        return self.sources


@dataclass(frozen=True)
class Metric:
    """A metric ``score`` can compute: the fields it needs, and a function giving one figure or several named ones."""

    name: str
    needs: tuple[str, ...]  # of "references", "sources"
    compute: Callable[[Batch], float | dict[str, float]]
    description: str


_REFS, _SRCS, _BOTH = ("references",), ("sources",), ("references", "sources")

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("bleu", _REFS, lambda b: bleu(b.hyps, b.references, b.lang), "corpus BLEU vs the references"),
        Metric("chrf", _REFS, lambda b: chrf(b.hyps, b.references, b.lang), "corpus chrF vs the references"),
        Metric("ter", _REFS, lambda b: ter(b.hyps, b.references, b.lang), "corpus TER (lower is better)"),
        Metric("bleu_vs_source", _SRCS, lambda b: bleu(b.hyps, b.inputs, b.lang), "BLEU vs the input (kept)"),
        Metric("chrf_vs_source", _SRCS, lambda b: chrf(b.hyps, b.inputs, b.lang), "chrF vs the input (kept)"),
        Metric("rouge", _REFS, lambda b: rouge(b.hyps, b.references, b.lang), "mean ROUGE-1/2/L F1"),
        Metric("gleu", _BOTH, lambda b: gleu(b.hyps, b.references, b.inputs, b.lang), "GEC GLEU as JFLEG computes it"),
        Metric("distinct_n", (), lambda b: distinct_n(b.hyps), "distinct-1 and distinct-2 over all outputs"),
        Metric("length", (), lambda b: length_stats(b.hyps, b.sources, b.refs), "length, compression vs the input"),
    )
}
"""Every metric ``score`` knows, by name."""

TASK_METRICS: dict[str, tuple[str, ...]] = {
    "correct": ("gleu", "chrf"),
    "translate": ("bleu", "chrf", "ter"),
    "summarize": ("rouge", "length"),
    "rewrite": ("bleu", "chrf", "bleu_vs_source", "chrf_vs_source"),
    "continue": ("distinct_n", "length"),
    "write": ("distinct_n", "length"),
}
"""Which metrics fit which writing task; ``score`` computes these by default."""


def score(
    task: str,
    hyps: Sequence[str],
    refs: References | None = None,
    sources: Sequence[str] | None = None,
    lang: str = "en",
    metrics: Sequence[str] | None = None,
) -> dict[str, float]:
    """Compute the metrics that fit ``task`` (all of ``TASK_METRICS[task]``, or the named subset), one dict of figures.

    Raises ``InputError`` for an unknown task or metric, a metric that does not fit the task, a needed field
    (references, sources) that is missing, or lists of different lengths.
    """
    if task not in TASK_METRICS:
        raise InputError(f"unknown task {task!r}; use one of: {', '.join(TASK_METRICS)}")
    fitting = TASK_METRICS[task]
    chosen = tuple(fitting if metrics is None else metrics)
    if not chosen:
        raise InputError(f"no metric chosen; task {task!r} can use: {', '.join(fitting)}")
    for name in chosen:
        if name not in METRICS:
            raise InputError(f"unknown metric {name!r}; task {task!r} can use: {', '.join(fitting)}")
        if name not in fitting:
            raise InputError(f"metric {name!r} does not fit task {task!r}; use one of: {', '.join(fitting)}")
        given = {"references": refs is not None, "sources": sources is not None}
        for field in METRICS[name].needs:
            if not given[field]:
                raise InputError(f"metric {name!r} needs {field}, one per item; give them, or leave {name!r} out")
    lang = check_language(lang)
    hyp_list = _check_hyps(hyps)
    ref_lists = None if refs is None else _reference_lists(refs, len(hyp_list))
    source_list = None if sources is None else _check_sources(sources, len(hyp_list))
    batch = Batch(hyp_list, ref_lists, source_list, lang)
    result: dict[str, float] = {}
    for name in dict.fromkeys(chosen):
        figures = METRICS[name].compute(batch)
        result.update(figures if isinstance(figures, dict) else {name: figures})
    return result
