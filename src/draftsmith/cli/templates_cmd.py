"""draftsmith templates: list, show, new, render."""

from __future__ import annotations

import typer
from rich.table import Table

from draftsmith.cli.common import out, parse_vars, print_json

app = typer.Typer(help="Prompt templates: list, show, create and render them.", no_args_is_help=True)


@app.command("list")
def list_(
    category: str = typer.Option(None, "--category", help="Only this category (news, academic, operation, …)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the available templates (user templates replace built-ins of the same name)."""
    from draftsmith.prompts.registry import list_templates

    templates = [t for t in list_templates() if not category or t.category == category]
    if json_out:
        print_json(
            [
                {
                    "name": t.name,
                    "task": t.task,
                    "category": t.category,
                    "description": t.description,
                    "languages": t.languages,
                    "source": t.source,
                    "variables": list(t.variables),
                }
                for t in templates
            ]
        )
        return
    table = Table(box=None)
    table.add_column("name", no_wrap=True)
    table.add_column("category", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("description")
    for t in templates:
        table.add_row(t.name, t.category, t.source, t.description)
    out.print(table)


@app.command()
def show(name: str = typer.Argument(..., help="Template name.")) -> None:
    """Print a template's file (front matter and body) and where it comes from."""
    from draftsmith.prompts.registry import get_template

    template = get_template(name)
    out.print(f"# {template.source}: {template.path}", style="dim")
    typer.echo(template.path.read_text(encoding="utf-8") if template.path else template.to_text())


@app.command()
def new(
    name: str = typer.Argument(..., help="Name of the new template (lowercase, digits, - or _)."),
    base: str = typer.Option(None, "--from", help="Start from a copy of this template."),
    force: bool = typer.Option(False, "--force", help="Replace an existing user template."),
) -> None:
    """Create a user template in the data folder (it overrides a built-in of the same name)."""
    from draftsmith.errors import TemplateError
    from draftsmith.prompts.registry import new_template
    from draftsmith.prompts.template import _NAME

    if not _NAME.fullmatch(name):
        raise TemplateError(f"template name {name!r} must be lowercase letters, digits, '-' or '_'")
    path = new_template(name, base=base, force=force)
    typer.echo(str(path))


@app.command()
def render(
    name: str = typer.Argument(..., help="Template name."),
    var: list[str] = typer.Option(None, "--var", "-v", help="Variable NAME=VALUE (repeatable)."),
    lang: str = typer.Option("en", "--lang", "-l", help="Output language code."),
    style: str = typer.Option(None, "--style", "-s", help="Style preset."),
    length: int = typer.Option(None, "--length", "-n", help="Target length in words."),
    json_out: bool = typer.Option(False, "--json", help="Print the chat messages as JSON."),
) -> None:
    """Render a template to the chat messages a model would get (no model needed)."""
    from draftsmith.prompts.registry import get_template
    from draftsmith.writing.base import output_language, standard_vars

    template = get_template(name)
    values = {
        **standard_vars(output_language(lang), style or template.style, length or template.length),
        **parse_vars(var),
    }
    messages = template.render(values)
    if json_out:
        print_json([m.model_dump() for m in messages])
        return
    for m in messages:
        out.print(f"[bold]── {m.role} ──[/]")
        typer.echo(m.content)


@app.command("history")
def history_cmd(
    name: str = typer.Argument(..., help="Template name."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the saved versions of a template (written by 'optimize' or 'templates revert')."""
    import datetime

    from draftsmith.prompts.history import describe_version, history

    versions = history(name)
    if json_out:
        print_json([v.model_dump() for v in versions])
        return
    if not versions:
        out.print(f"{name}: no saved versions yet (live: {describe_version(name)})")
        return
    live = describe_version(name).rsplit(":", 1)[-1]
    table = Table(box=None)
    for column in ("version", "when", "origin", "sha", "note"):
        table.add_column(column, no_wrap=column != "note")
    for v in versions:
        mark = " (live)" if v.sha256.startswith(live) else ""
        when = datetime.datetime.fromtimestamp(v.created_at).strftime("%Y-%m-%d %H:%M")
        table.add_row(f"{v.version}{mark}", when, v.origin, v.sha256[:12], v.note)
    out.print(table)


@app.command("diff")
def diff_cmd(
    name: str = typer.Argument(..., help="Template name."),
    old: str = typer.Argument(None, help="Version number, 'builtin' or 'current' (default: the previous version)."),
    new: str = typer.Argument(None, help="Version number, 'builtin' or 'current' (default: current)."),
) -> None:
    """Show a unified diff between two versions of a template."""
    from draftsmith.prompts.history import diff

    typer.echo(diff(name, old, new), nl=False)


@app.command("revert")
def revert_cmd(
    name: str = typer.Argument(..., help="Template name."),
    version: str = typer.Argument(..., help="Version number to make live again, or 'builtin'."),
) -> None:
    """Make an earlier version live again, as a new version (nothing is deleted)."""
    from draftsmith.prompts.history import revert

    saved = revert(name, version)
    typer.echo(f"{name}: version {saved.version} is live (a copy of {version})")
