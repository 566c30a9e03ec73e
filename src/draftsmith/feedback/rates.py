"""Acceptance rates with Wilson score intervals, grouped by what made the suggestion.

Only answered suggestions count: the rate is accepted ÷ (accepted + rejected), where an edit made after
accepting still counts as accepted (and is counted again under ``edited``). Suggestions shown but never
answered are left out, because a command line lists many problems nobody is asked about.
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
    rate: float
    low: float
    high: float


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


def value_of(s: Suggestion, dimension: str) -> str:
    if dimension == "version":
        return f"{s.template or '-'}@{s.template_version or '-'}"
    if dimension == "rule":
        return s.rule_id or "-"
    return getattr(s, dimension) or "-"


def rates(suggestions: Sequence[Suggestion], by: str | Sequence[str] | None = None) -> list[Rate]:
    """Acceptance per group, most answered first."""
    names = parse_by(by)
    groups: dict[tuple[str, ...], list[Suggestion]] = {}
    for s in suggestions:
        if s.decision is not None:
            groups.setdefault(tuple(value_of(s, n) for n in names), []).append(s)
    out = []
    for key, items in groups.items():
        accepted = sum(s.decision == "accept" for s in items)
        low, high = wilson(accepted, len(items))
        out.append(
            Rate(
                key=dict(zip(names, key, strict=True)),
                answered=len(items),
                accepted=accepted,
                rejected=len(items) - accepted,
                edited=sum(s.edited for s in items),
                rate=accepted / len(items),
                low=low,
                high=high,
            )
        )
    return sorted(out, key=lambda r: (-r.answered, tuple(r.key.values())))


def acceptance(suggestions: Sequence[Suggestion]) -> float | None:
    """The overall acceptance rate of answered suggestions (None when none was answered)."""
    decided = [s for s in suggestions if s.decision is not None]
    return sum(s.decision == "accept" for s in decided) / len(decided) if decided else None
