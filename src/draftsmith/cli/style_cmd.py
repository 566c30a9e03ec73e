"""draftsmith style: list, show, learn, score, compare, remove."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from draftsmith.cli.common import err, out, print_json

app = typer.Typer(
    help="Writing styles: presets and styles learned from your texts, and how well a text fits one.",
    no_args_is_help=True,
)

JsonOpt = typer.Option(False, "--json", help="Print JSON.")


def _read(path: Path, what: str = "input") -> str:
    from draftsmith.cli.io import read_input
    from draftsmith.config import load_settings

    return read_input(path, load_settings().max_input_chars, what)


def _bar(score: float) -> str:
    filled = round(score * 20)
    return "█" * filled + "·" * (20 - filled)


@app.command("list")
def list_(json_out: bool = JsonOpt) -> None:
    """List the styles: built-in presets, your presets and your learned styles."""
    from draftsmith.style.presets import get_style, list_styles, style_kind, style_path
    from draftsmith.style.store import preset_language, read_learned

    rows = []
    for name in list_styles():
        kind = style_kind(name)
        try:
            style = get_style(name)
            description = style.description
            if kind == "learned":
                language = read_learned(style_path(name)).language
            else:
                language = preset_language(style.examples) if style.examples else ""
        except Exception as exc:  # one broken user file must not hide the others
            description, language = f"(invalid: {exc})", ""
        rows.append({"name": name, "kind": kind, "language": language, "description": description})
    if json_out:
        print_json(rows)
        return
    table = Table(box=None)
    for column in ("name", "kind", "language", "description"):
        table.add_column(column, no_wrap=column != "description")
    for row in rows:
        table.add_row(row["name"], row["kind"], row["language"] or "any", row["description"])
    out.print(table)


@app.command()
def show(
    name: str = typer.Argument(..., help="Style name."),
    lang: str = typer.Option(None, "--lang", "-l", help="For a preset: the language of its profile (en, zh)."),
    json_out: bool = JsonOpt,
) -> None:
    """Show a style: description, rules, its typical feature values and a few exemplars."""
    from draftsmith.style.features import FEATURES
    from draftsmith.style.presets import get_style, style_kind
    from draftsmith.style.store import load

    profile = load(name, lang)
    if json_out:
        print_json(profile.model_dump(exclude={"wording"}))
        return
    kind = style_kind(name)
    out.print(f"[bold]{profile.name}[/] ({kind}, {profile.language}): {profile.description}")
    given = get_style(name).rules if kind != "learned" else []
    for title, rules in (("Rules", given), ("Rules measured from its texts" if given else "Rules", profile.rules)):
        if rules:
            out.print(f"\n[bold]{title}[/]")
            for rule in rules:
                out.print(f"  - {rule}")
    out.print("\n[bold]Typical values[/] (mean ± spread over passages)")
    spec = FEATURES[profile.language]
    for key, stat in profile.features.items():
        if key in spec and spec[key].group not in ("function_words", "punctuation") and key != "wording":
            out.print(f"  {spec[key].label}: {stat.mean:.2f} ± {stat.std:.2f}{spec[key].unit}")
    if profile.exemplars:
        out.print("\n[bold]Exemplars[/]")
        for exemplar in profile.exemplars[:3]:
            out.print(f"  > {exemplar}")


@app.command()
def learn(
    name: str = typer.Argument(..., help="Name for the style (letters, digits, '-' or '_')."),
    files: list[Path] = typer.Argument(..., help="At least 5 sample texts written in the style (UTF-8)."),
    description: str = typer.Option(None, "--description", "-d", help="One line saying what the style is."),
    force: bool = typer.Option(False, "--force", help="Replace a style of yours with the same name."),
    json_out: bool = JsonOpt,
) -> None:
    """Learn a style from your sample texts: stylometric profile, rules and exemplar passages."""
    from draftsmith.style import profile as P
    from draftsmith.style.store import check_name, save

    check_name(name)
    texts = [_read(path, f"sample {path}") for path in files]
    profile = P.learn(name, texts, sources=[str(p) for p in files], description=description)
    path = save(profile, force=force)
    if json_out:
        print_json({"name": name, "path": str(path), "language": profile.language, "rules": profile.rules})
        return
    unit = "characters" if profile.language == "zh" else "words"
    err.print(f"learned style {name!r} from {profile.texts} texts ({profile.length:,} {unit}, {profile.language})")
    for rule in profile.rules:
        out.print(f"  - {rule}")
    typer.echo(str(path))


@app.command()
def score(
    file: Path = typer.Argument(None, help="Text to score (UTF-8). Omit or use '-' to read stdin.", show_default=False),
    style: str = typer.Option(..., "--style", "-s", help="Style name (preset or learned)."),
    top: int = typer.Option(5, "--top", min=0, max=20, help="How many differences to show."),
    json_out: bool = JsonOpt,
) -> None:
    """Adherence of a text to a style (0–1) and the features that differ most."""
    from draftsmith.style.profile import adherence
    from draftsmith.style.store import load_for_text

    text = _read(file)
    report = adherence(text, load_for_text(style, text), top=top)
    if json_out:
        print_json(report)
        return
    typer.echo(f"{report.score:.2f}  {_bar(report.score)}  adherence to {style!r}")
    if report.differences:
        typer.echo("Differs most in:")
        for d in report.differences:
            typer.echo(f"  - {d.message}")
    else:
        typer.echo("Typical of the style in every measured feature.")


@app.command()
def compare(
    file_a: Path = typer.Argument(..., help="First text (UTF-8)."),
    file_b: Path = typer.Argument(..., help="Second text (UTF-8)."),
    top: int = typer.Option(5, "--top", min=0, max=20, help="How many differences to show."),
    json_out: bool = JsonOpt,
) -> None:
    """How alike two texts are in style (0–1) and where they differ most."""
    from draftsmith.style.profile import compare as compare_texts

    report = compare_texts(_read(file_a), _read(file_b), top=top)
    if json_out:
        print_json(report)
        return
    typer.echo(f"{report.similarity:.2f}  {_bar(report.similarity)}  style similarity (A = {file_a}, B = {file_b})")
    if report.differences:
        typer.echo("Differs most in:")
        for d in report.differences:
            typer.echo(f"  - {d.message}")


@app.command()
def remove(name: str = typer.Argument(..., help="A style of yours (learned or your own preset).")) -> None:
    """Delete one of your styles (built-in presets stay)."""
    from draftsmith.style.store import remove as remove_style

    path = remove_style(name)
    err.print(f"removed style {name!r} ({path})")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="style")
