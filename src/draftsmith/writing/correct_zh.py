"""Chinese hybrid correction: the detectors' certain findings win over the model where the two meet.

The hybrid mode gives the model the certain findings as hints, then applies those the model left out. A small model
told "时后 → 时候" sometimes edits the flagged span its own way instead (候后, a deleted 的 where 地 was meant, quotes
around the phrase), and an overlapping model edit used to keep the finding out. The findings marked certain are right
far more often than the model's own Chinese edits (on MuCGEC dev's odd ids about three in four against one in two),
so where a model edit touches a certain finding, the finding is applied and that model edit is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from draftsmith.writing.edits import Edit

if TYPE_CHECKING:
    from draftsmith.checking import Problem


def _touch(a: Edit | Problem, b: Edit | Problem) -> bool:
    return a.start <= b.end and b.start <= a.end


def apply_certain_findings(piece: str, edits: list[Edit], problems: list[Problem]) -> list[Edit]:
    """``edits`` (the model's, after the guards) with every certain finding of ``problems`` applied; a model edit
    that touches a finding is dropped, unless it makes exactly the finding's fix."""
    findings: list[Edit] = []
    for p in problems:
        if not (p.certain and p.suggestions) or any(_touch(p, f) for f in findings):
            continue
        findings.append(Edit.from_finding(piece, p))
    out = list(findings)
    for edit in edits:
        same = [f for f in findings if (f.start, f.end, f.replacement) == (edit.start, edit.end, edit.replacement)]
        if same:
            out[out.index(same[0])] = edit  # the model's own edit, with its label
        elif not any(_touch(edit, f) for f in findings):
            out.append(edit)
    return sorted(out, key=lambda e: (e.start, e.end))
