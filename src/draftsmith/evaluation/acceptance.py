"""Accepted-agreement: how well an output agrees with what a user accepted and rejected on the same input.

Live acceptance (accepted ÷ shown) cannot be measured for a template variant nobody has seen yet, so the
optimiser's ``acceptance`` metric is an offline stand-in computed from the answers already recorded
(``draftsmith feedback``): each item is a text the user was shown suggestions about, with every answer they gave
(``Decision``). A new output agrees with a decision when

- **an edit** (a correction, a detector problem, a word alternative; ``start``–``end`` is its span in the source)
  — the output has, over that span, what the user wanted there: the accepted suggestion (or the text they kept
  after changing it), or the original text when they rejected the edit. Agreement is 1 or 0.
- **a whole text** (a rewrite, translation, summary or continuation) — the output is close to an accepted text and
  far from a rejected one: chrF(output, shown) / 100 for an accepted one (the text kept, when they changed it),
  1 − that for a rejected one.

An item's score is the mean agreement over its decisions (0–1); the metric is the mean over items. Edits the new
output makes that the user was never asked about count neither way: the figure says how often a variant would
have done what this user chose, not how a user would answer its new suggestions.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from pydantic import BaseModel, Field


class Decision(BaseModel):
    """One recorded answer about an item's source. ``start``/``end``: the span of an edit in the source (both None
    for a whole-text suggestion); ``shown``: what was offered; ``kept``: the text the user kept after changing an
    accepted suggestion."""

    start: int | None = Field(None, ge=0)
    end: int | None = Field(None, ge=0)
    shown: str = Field(max_length=100_000)
    kept: str | None = Field(None, max_length=100_000)
    accepted: bool


def agreement(source: str, output: str, decisions: Sequence[Decision], lang: str = "en") -> float | None:
    """The mean agreement of ``output`` (made from ``source``) with the recorded decisions; None without any."""
    if not decisions:
        return None
    edits = [d for d in decisions if d.start is not None and d.end is not None]
    wholes = [d for d in decisions if d.start is None or d.end is None]
    values: list[float] = []
    if edits:
        opcodes = difflib.SequenceMatcher(None, source, output, autojunk=False).get_opcodes()
        for d in edits:
            values.append(1.0 if _edit_agrees(source, output, opcodes, d) else 0.0)
    for d in wholes:
        target = d.kept if d.accepted and d.kept is not None else d.shown
        close = _chrf(output, target, lang) / 100
        values.append(close if d.accepted else 1.0 - close)
    return sum(values) / len(values)


def _edit_agrees(source: str, output: str, opcodes: list, d: Decision) -> bool:
    """Whether ``output`` has, over the edit's span (widened to whole changed blocks), the text the user chose."""
    start, end = min(d.start or 0, len(source)), min(max(d.end or 0, d.start or 0), len(source))
    wanted = (d.kept if d.kept is not None else d.shown) if d.accepted else source[start:end]
    lo_src, lo_out = _left(opcodes, start)
    hi_src, hi_out = _right(opcodes, end)
    expected = source[lo_src:start] + wanted + source[end:hi_src]
    return output[lo_out:hi_out] == expected


def _left(opcodes: list, pos: int) -> tuple[int, int]:
    """Where a region starting at ``pos`` of the source starts, in the source and in the output: a change that
    covers ``pos``, or text inserted right at it, is taken in whole."""
    for tag, i1, i2, j1, _ in opcodes:
        if tag == "equal" and i1 <= pos < i2:
            return pos, j1 + (pos - i1)
        if tag != "equal" and (i1 <= pos < i2 or i1 == i2 == pos):
            return i1, j1
    return pos, opcodes[-1][4] if opcodes else 0  # pos is the end of the source


def _right(opcodes: list, pos: int) -> tuple[int, int]:
    """Where a region ending at ``pos`` of the source ends, in the source and in the output (see ``_left``)."""
    found: tuple[int, int] | None = None
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal" and i1 < pos <= i2:
            found = (pos, j1 + (pos - i1))
        elif tag != "equal" and (i1 < pos <= i2 or i1 == i2 == pos):
            found = (i2, j2)
        elif i1 >= pos and not (tag != "equal" and i1 == i2 == pos):
            break
    if found is not None:
        return found
    return pos, 0 if not opcodes else opcodes[0][3]


def _chrf(hypothesis: str, reference: str, lang: str) -> float:
    if not hypothesis.strip() or not reference.strip():
        return 100.0 if hypothesis.strip() == reference.strip() else 0.0
    from sacrebleu.metrics import CHRF

    return float(CHRF().sentence_score(hypothesis, [reference]).score)
