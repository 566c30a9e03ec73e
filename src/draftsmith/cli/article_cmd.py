"""draftsmith article: outline first (editable), then section by section, grounded in a knowledge base."""

from __future__ import annotations

from pathlib import Path

import typer

from draftsmith.cli.common import JsonOpt, ModelOpt, assistant, err, print_json, warn
from draftsmith.errors import InputError


def article(
    topic: str = typer.Argument(..., help="What the article is about."),
    kb: str = typer.Option(None, "--kb", help="Knowledge base to ground the article in (cited as [n])."),
    words: int = typer.Option(1500, "--words", "-w", min=100, max=20000, help="Target length (±20%)."),
    outline_file: Path = typer.Option(None, "--outline", help="Use this Markdown outline (## sections, - points)."),
    outline_only: bool = typer.Option(
        False, "--outline-only", help="Print the outline and stop (edit, then --outline)."
    ),
    sections: int = typer.Option(None, "--sections", min=2, max=12, help="How many sections (default: by length)."),
    style: str = typer.Option(None, "--style", "-s", help="Style preset, e.g. academic, news."),
    lang: str = typer.Option(None, "--lang", "-l", help="Output language (default: the topic's)."),
    temperature: float = typer.Option(None, "--temperature", min=0.0, max=2.0),
    seed: int = typer.Option(None, "--seed"),
    output: Path = typer.Option(None, "--output", "-o", help="Write the article to this file (atomic)."),
    model: str = ModelOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Write a long article: outline → sections with retrieval per section → references."""
    from draftsmith.cli.io import read_input, write_atomic
    from draftsmith.style.presets import get_style
    from draftsmith.writing import longform

    if style:
        get_style(style)
    if outline_file is not None and outline_only:
        raise InputError("--outline and --outline-only do not go together")
    store = None
    if kb:
        from draftsmith.knowledge.kb import get_kb
        from draftsmith.store import open_store

        store = open_store()
        get_kb(store, kb)  # fail fast on an unknown knowledge base
    a = assistant(model)
    plan = None
    if outline_file is not None:
        plan = longform.parse_outline_file(read_input(outline_file, a.settings.max_input_chars, "outline"), topic)

    def progress(i: int, n: int, title: str) -> None:
        if err.is_terminal and not json_out:
            err.print(f"[dim]{'outline' if i == 0 else f'section {i}/{n}: {title}'}…[/]")

    if outline_only:
        progress(0, 0, "outline")
        plan = longform.plan_outline(
            a.model, topic, words=words, lang=lang, store=store, kb=kb, sections=sections,
            temperature=temperature, seed=seed,
        )  # fmt: skip
        if json_out:
            print_json(plan)
        else:
            typer.echo(plan.markdown(), nl=False)
        return
    result = longform.write_article(
        a.model, topic, store=store, kb=kb, words=words, outline=plan, lang=lang, style=style, sections=sections,
        temperature=temperature, seed=seed, on_section=progress,
    )  # fmt: skip
    if output is not None:
        write_atomic(output, result.text + "\n")
        err.print(f"wrote {output} ({result.words} words, {len(result.references)} references)")
    if json_out:
        print_json(result)
    elif output is None:
        typer.echo(result.text)
    warn(result.warnings)


def register(root: typer.Typer) -> None:
    root.command()(article)
