"""``draftsmith correct --interactive``: review the edits one by one, like ``git add -p``.

Each edit is shown with its line before and after; the answer is ``y`` (accept), ``n`` (reject), ``a`` (accept
this one and the rest), ``q`` (stop: this one and the rest stay unanswered) or ``?`` (help). Every answer is
recorded as feedback for the local user as soon as it is given, so the detectors learn from it
(``draftsmith feedback muted``) and ``finetune prepare --from-edits`` can use it. The accepted edits are
written to FILE at the end (atomically); nothing is written when none was accepted.
"""

from __future__ import annotations

from pathlib import Path

import typer

from draftsmith.cli.common import err
from draftsmith.cli.io import write_atomic
from draftsmith.errors import InputError
from draftsmith.writing.correct import CorrectionResult
from draftsmith.writing.edits import Edit, apply_edits

HELP = """y - accept this edit
n - reject this edit
a - accept this edit and all the remaining ones
q - quit; do not apply this edit or any remaining ones
? - print help"""
WINDOW = 70  # characters of the line shown either side of an edit


def check_interactive(file: Path | None, *, json_out: bool, apply: bool, in_place: bool) -> None:
    if file is None or str(file) == "-":
        raise InputError("--interactive needs a FILE (stdin is where your answers come from)")
    if json_out or apply or in_place:
        raise InputError("--interactive writes the accepted edits to FILE; leave out --json, --apply and --in-place")


def review(text: str, result: CorrectionResult, file: Path) -> list[Edit]:
    """Ask about each edit, record the answers, write the accepted ones to ``file``; returns them."""
    from draftsmith import feedback
    from draftsmith.feedback import issue
    from draftsmith.feedback.personal import local_store

    edits = result.edits
    if not edits:
        err.print("no corrections needed")
        return []
    store = local_store()
    shown = feedback.from_edits(text, edits, result, rules=issue.detector_rules(text, result.language))
    ids = feedback.shown(store, shown)
    accepted: list[Edit] = []
    answered = 0
    accept_rest = False
    for number, (edit, item, sid) in enumerate(zip(edits, shown, ids, strict=True), 1):
        if not accept_rest:
            _show(text, edit, item, number, len(edits))
            answer = _ask()
            if answer == "q":
                break
            accept_rest = answer == "a"
        event = "accept" if accept_rest or answer == "y" else "reject"
        feedback.record(store, sid, event)
        answered += 1
        if event == "accept":
            accepted.append(edit)
    if accepted:
        write_atomic(file, apply_edits(text, accepted))
    left = len(edits) - answered
    tail = f"; {left} left unanswered" if left else ""
    where = f"; written to {file}" if accepted else "; the file is unchanged"
    err.print(f"{len(accepted)} of {len(edits)} edit(s) accepted{tail}{where}")
    return accepted


def _show(text: str, edit: Edit, item, number: int, total: int) -> None:
    line = text.count("\n", 0, edit.start) + 1
    col = edit.start - (text.rfind("\n", 0, edit.start) + 1) + 1
    context, start, end = item.context, item.start, item.end
    lo, hi = max(0, start - WINDOW), min(len(context), end + WINDOW)
    before = ("…" if lo else "") + context[lo:start]
    after = context[end:hi] + ("…" if hi < len(context) else "")
    typer.echo(f"({number}/{total}) {line}:{col} [{edit.category}] {edit.reason}")
    typer.echo(f"- {before}{context[start:end]}{after}")
    typer.echo(f"+ {before}{edit.replacement}{after}")


def _ask() -> str:
    while True:
        try:
            answer = typer.prompt("Apply this edit [y,n,a,q,?]", default="", show_default=False, prompt_suffix="? ")
        except typer.Abort:  # end of input: stop like q
            typer.echo("")
            return "q"
        answer = answer.strip().lower()[:1]
        if answer in ("y", "n", "a", "q"):
            return answer
        typer.echo(HELP)
