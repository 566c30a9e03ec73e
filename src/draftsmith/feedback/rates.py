"""Acceptance rates with Wilson score intervals, grouped by what made the suggestion.

The rate is accepted ÷ answered (accepted + rejected), where an edit made after accepting still counts as
accepted (and is counted again under ``edited``); its 95% interval is Wilson's. Suggestions shown but never
answered do not enter it (a checker lists many problems nobody is asked about), but they are counted: ``shown``
is every suggestion of the group shown to the user (answered or not, unanswered ones kept 30 days), and
``of_shown`` = accepted ÷ shown, the figure editor telemetry usually calls the acceptance rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel

from draftsmith.errors import InputError
from draftsmith.store.feedback import Suggestion

DIMENSIONS: tuple[str, ...] = ("operation", "template", "version", "model", "category", "rule", "language")
Z_95 = 1.959964


class Rate(BaseModel):
    """One group's figures; ``low``–``high`` is the 95% Wilson interval of ``rate``."""

    key: dict[str, str]
    answered: int
    accepted: int
    rejected: int
    edited: int
    rate: float | None  # accepted ÷ answered; None while nothing of the group was answered
    low: float
    high: float
    shown: int | None = None  # every suggestion of the group shown (None when not counted)
    of_shown: float | None = None  # accepted ÷ shown


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion: honest for small n and for rates near 0 or 1."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def parse_by(by: str | Sequence[str] | None) -> list[str]:
    """``operation``, ``model,category`` or a list of those; refuses unknown names."""
    if by is None:
        return ["operation"]
    names = [part.strip() for item in ([by] if isinstance(by, str) else by) for part in item.split(",")]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in DIMENSIONS]
    if unknown or not names:
        raise InputError(f"cannot group by {', '.join(unknown) or 'nothing'}; use one of: {', '.join(DIMENSIONS)}")
    return names


def value_of(s: Suggestion | dict, dimension: str) -> str:
    """The group a suggestion (or a row of ``store.feedback.shown_counts``) falls in, for one dimension."""
    get = s.get if isinstance(s, dict) else lambda name: getattr(s, name, None)
    if dimension == "version":
        return f"{get('template') or '-'}@{get('template_version') or '-'}"
    if dimension == "rule":
        return get("rule_id") or "-"
    return get(dimension) or "-"


def rates(
    suggestions: Sequence[Suggestion],
    by: str | Sequence[str] | None = None,
    shown: Sequence[tuple[dict, int]] | None = None,
) -> list[Rate]:
    """Acceptance per group, most answered first. ``shown`` (``store.feedback.shown_counts`` for the same
    grouping) adds the denominator, and the groups shown but not answered yet."""
    names = parse_by(by)
    groups: dict[tuple[str, ...], list[Suggestion]] = {}
    for s in suggestions:
        if s.decision is not None:
            groups.setdefault(tuple(value_of(s, n) for n in names), []).append(s)
    counts: dict[tuple[str, ...], int] | None = None
    if shown is not None:
        counts = {}
        for row, n in shown:
            key = tuple(value_of(row, name) for name in names)
            counts[key] = counts.get(key, 0) + n
            groups.setdefault(key, [])
    out = []
    for key, items in groups.items():
        accepted = sum(s.decision == "accept" for s in items)
        low, high = wilson(accepted, len(items))
        seen = None if counts is None else max(counts.get(key, 0), len(items))
        out.append(
            Rate(
                key=dict(zip(names, key, strict=True)),
                answered=len(items),
                accepted=accepted,
                rejected=len(items) - accepted,
                edited=sum(s.edited for s in items),
                rate=accepted / len(items) if items else None,
                low=low,
                high=high,
                shown=seen,
                of_shown=accepted / seen if seen else None,
            )
        )
    return sorted(out, key=lambda r: (-r.answered, -(r.shown or 0), tuple(r.key.values())))


def acceptance(suggestions: Sequence[Suggestion]) -> float | None:
    """The overall acceptance rate of answered suggestions (None when none was answered)."""
    decided = [s for s in suggestions if s.decision is not None]
    return sum(s.decision == "accept" for s in decided) / len(decided) if decided else None
