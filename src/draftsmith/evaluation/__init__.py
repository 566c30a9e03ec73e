"""Evaluation: automatic metrics for every writing operation, and which fit which task.

Heavy packages (sacrebleu, rouge-score, jieba) load on first use, so importing this package is cheap.
"""

from draftsmith.evaluation.metrics import (
    METRICS,
    TASK_METRICS,
    Metric,
    bleu,
    chrf,
    distinct_n,
    gleu,
    length_stats,
    rouge,
    score,
    ter,
)

__all__ = [
    "METRICS",
    "TASK_METRICS",
    "Metric",
    "bleu",
    "chrf",
    "distinct_n",
    "gleu",
    "length_stats",
    "rouge",
    "score",
    "ter",
]
