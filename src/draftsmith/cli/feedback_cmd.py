"""``draftsmith feedback``: what you accepted and rejected, what the detectors learned from it, and your records.

The command line acts for the local user (the records without an owner, shared with a server run without keys).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from draftsmith.cli.common import err, out, print_json
from draftsmith.errors import InputError

app = typer.Typer(
    help="Your answers to suggestions: acceptance rates, muted rules, export, purge.", no_args_is_help=True
)


def _store():
    from draftsmith.feedback.personal import local_store

    return local_store()


@app.command()
def stats(
    by: str = typer.Option(
        "operation",
        "--by",
        "-b",
        help="Group by operation, template, version, model, category, rule or language (comma-separated for several).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the rates as JSON."),
) -> None:
    """Acceptance rates with 95% confidence intervals (Wilson) from your answers, and how much was shown."""
    from draftsmith import feedback
    from draftsmith.feedback.rates import parse_by

    names = parse_by(by)
    rows = feedback.stats(_store(), names)
    if json_out:
        print_json([r.model_dump() for r in rows])
        return
    if not rows:
        err.print("no suggestions shown yet; try: draftsmith correct --interactive FILE")
        return
    edits = any(r.edited for r in rows)
    columns = [*names, "shown", "answered", "accepted", "rate [95% CI]", "of shown", *(["edited"] if edits else [])]
    table = Table(*columns, box=None)
    for r in rows:
        rate = "-" if r.rate is None else f"{r.rate:.0%} [{r.low:.0%}–{r.high:.0%}]"
        table.add_row(
            *r.key.values(),
            "-" if r.shown is None else str(r.shown),
            str(r.answered),
            str(r.accepted),
            rate,
            "-" if r.of_shown is None else f"{r.of_shown:.0%}",
            *([str(r.edited)] if edits else []),
        )
    out.print(table)
    if not any(r.answered for r in rows):
        err.print("nothing answered yet: draftsmith feedback list shows the ids; answer with feedback accept|reject")


@app.command("list")
def list_(
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=10000, help="How many, newest first."),
    json_out: bool = typer.Option(False, "--json", help="Print them as JSON."),
) -> None:
    """Your latest suggestions with their ids and answers (answer one with feedback accept|reject ID)."""
    from draftsmith.store import feedback as fb

    rows = fb.recent(_store(), owner=None, limit=limit)
    if json_out:
        print_json([r.model_dump() for r in rows])
        return
    for r in rows:
        what = f"{r.original!r} -> {r.suggestion!r}" if r.original else repr(r.suggestion[:60])
        rule = r.rule_id or r.category or "-"
        typer.echo(f"{r.id}\t{r.operation}\t{rule}\t{r.decision or 'unanswered'}\t{what}")


def _answer(suggestion_id: str, event: str, final_text: str | None = None) -> None:
    from draftsmith import feedback

    feedback.record(_store(), suggestion_id, event, final_text=final_text)
    err.print(f"{event} recorded for {suggestion_id}")


@app.command()
def accept(suggestion_id: str = typer.Argument(..., help="The suggestion's id.")) -> None:
    """Record that you accepted a suggestion."""
    _answer(suggestion_id, "accept")


@app.command()
def reject(suggestion_id: str = typer.Argument(..., help="The suggestion's id.")) -> None:
    """Record that you rejected a suggestion."""
    _answer(suggestion_id, "reject")


@app.command()
def edited(
    suggestion_id: str = typer.Argument(..., help="The suggestion's id."),
    text: str = typer.Option(..., "--text", "-t", help="The text you kept after changing the accepted suggestion."),
) -> None:
    """Record that you accepted a suggestion and then changed it (the final text is kept for fine-tuning)."""
    _answer(suggestion_id, "edited_after_accept", text)


@app.command()
def muted(json_out: bool = typer.Option(False, "--json", help="Print them as JSON.")) -> None:
    """Rules muted for you and your personal dictionary, learned from your answers (see docs/architecture.md)."""
    from draftsmith.feedback.personal import MUTE_MIN_ANSWERS, MUTE_REJECT_SHARE, personal

    found = personal(_store(), None)
    if json_out:
        print_json(found)
        return
    if not found.rules and not found.words:
        err.print(
            f"nothing muted: a rule is muted after {MUTE_MIN_ANSWERS}+ answers with {MUTE_REJECT_SHARE:.0%}+ "
            "rejected; a word is accepted after 2+ rejected spelling flags"
        )
    for rule, (rejected, answered) in found.rules.items():
        typer.echo(f"rule\t{rule}\t{rejected}/{answered} rejected")
    for word, (rejected, answered) in found.words.items():
        typer.echo(f"word\t{word}\t{rejected}/{answered} rejected")


@app.command()
def export(
    out_file: Path = typer.Option(None, "--out", "-o", help="Write here (default: stdout)."),
    as_eval: str = typer.Option(
        None,
        "--as-eval",
        help="Write the texts you answered suggestions of this task (e.g. correct) about as an eval/optimize data "
        "set: references are what you kept, 'feedback' holds your answers (for --metric acceptance).",
    ),
) -> None:
    """Your answered suggestions as JSONL (or, with --as-eval, as evaluation items with your answers)."""
    from draftsmith import feedback

    store = _store()
    if as_eval:
        from draftsmith.feedback.pairs import decision_items
        from draftsmith.store.feedback import answered

        found = decision_items(answered(store, owner=None), as_eval)
        lines = [json.dumps(item, ensure_ascii=False) for item in found]
        if not lines:
            raise InputError(f"no answered {as_eval} suggestions to export yet")
    else:
        lines = list(feedback.export_lines(store))
    text = "".join(line + "\n" for line in lines)
    if out_file is None:
        sys.stdout.write(text)
        return
    from draftsmith.cli.io import write_atomic

    write_atomic(out_file, text)
    err.print(f"{len(lines)} record(s) written to {out_file}")


@app.command()
def purge(yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Delete all your suggestions and answers (muted rules and personal words go with them)."""
    from draftsmith import feedback

    if not yes:
        typer.confirm("Delete all your feedback records (there is no undo)?", abort=True)
    count = feedback.purge(_store(), owner=None)
    err.print(f"{count} suggestion(s) and their answers deleted")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="feedback")
