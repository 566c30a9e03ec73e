"""The writing commands: write, rewrite, translate, correct, continue, summarize, outline, title."""

from __future__ import annotations

from pathlib import Path

import typer

from draftsmith.cli.common import (
    JsonOpt,
    LangOpt,
    ModelOpt,
    assistant,
    err,
    finish_stream,
    parse_vars,
    print_json,
    record_shown,
    streamer,
    warn,
)
from draftsmith.cli.io import read_input, write_atomic
from draftsmith.errors import InputError
from draftsmith.style.presets import get_style
from draftsmith.style.select import DEFAULT_CANDIDATES

FileArg = typer.Argument(None, help="Input file (UTF-8). Omit or use '-' to read stdin.", show_default=False)


def _text(file: Path | None, a) -> str:
    return read_input(file, a.settings.max_input_chars)


def write(
    instruction: str = typer.Argument(None, help="What to write, e.g. 'a haiku about rain'.", show_default=False),
    template: str = typer.Option(None, "--template", "-t", help="Built-in or user template name."),
    var: list[str] = typer.Option(None, "--var", "-v", help="Template variable NAME=VALUE (repeatable)."),
    length: int = typer.Option(None, "--length", "-n", min=1, max=20000, help="Target length in words."),
    style: str = typer.Option(None, "--style", "-s", help="Style preset, e.g. casual, academic."),
    lang: str = typer.Option(None, "--lang", "-l", help="Output language (default: the instruction's)."),
    temperature: float = typer.Option(None, "--temperature", min=0.0, max=2.0, help="Sampling temperature."),
    seed: int = typer.Option(None, "--seed", help="Sampling seed for repeatable drafts."),
    max_tokens: int = typer.Option(None, "--max-tokens", min=1, help="Hard cap on generated tokens."),
    kb: str = typer.Option(None, "--kb", help="Ground the draft in this knowledge base (cites passages as [n])."),
    kg: str = typer.Option(None, "--kg", help="Ground the draft in this knowledge graph's facts (cited as [n])."),
    candidates: int = typer.Option(
        1,
        "--candidates",
        min=1,
        max=8,
        help="With --style: drafts to make; the one that fits the style best is kept and printed once chosen.",
    ),
    model: str = ModelOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Draft text from an instruction or a prompt template (streams while generating)."""
    if style:
        get_style(style)
    a = assistant(model)
    if kg:  # the graph's facts as numbered lines, with --kb passages too (see cli/kg_cmd.py)
        from draftsmith.cli.kg_cmd import write_with_kg

        opts = dict(length=length, style=style, lang=lang, temperature=temperature, seed=seed, max_tokens=max_tokens)
        return write_with_kg(a, instruction, kg, kb, json_out, template=template, **opts)
    if kb:  # grounded: retrieve, cite, check (see cli/kb_cmd.py)
        from draftsmith.cli.kb_cmd import write_with_kb

        opts = dict(length=length, style=style, lang=lang, temperature=temperature, seed=seed, max_tokens=max_tokens)
        return write_with_kb(a, instruction, kb, json_out, template=template, **opts)
    result = a.write(
        instruction,
        template=template,
        variables=parse_vars(var),
        length=length,
        style=style,
        lang=lang,
        temperature=temperature,
        seed=seed,
        max_tokens=max_tokens,
        on_text=streamer(not json_out),
        candidates=candidates,
    )
    _done(result, json_out)


def rewrite(
    file: Path = FileArg,
    style: str = typer.Option(
        ..., "--style", "-s", help="academic, news, literary, marketing, casual, formal, concise, or a user style."
    ),
    candidates: int = typer.Option(
        None,
        "--candidates",
        min=1,
        max=8,
        help="Drafts per piece; the one that fits the style best while keeping the content is kept (default "
        f"{DEFAULT_CANDIDATES}); when none fits better than the text itself, as many again are drawn, more boldly, "
        "and then each sentence is restyled on its own. Above 1, each piece is printed once chosen; 1 streams the "
        "model's draft as written.",
    ),
    seed: int = typer.Option(None, "--seed", help="Sampling seed for repeatable rewrites."),
    lang: str = LangOpt,
    model: str = ModelOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Rewrite a text in another style, keeping its meaning; several drafts are scored against the style."""
    get_style(style)
    a = assistant(model)
    text = _text(file, a)
    result = a.rewrite(text, style=style, lang=lang, seed=seed, candidates=candidates, on_text=streamer(not json_out))
    _shown(result, text, category=style)
    _done(result, json_out)


def translate(
    file: Path = FileArg,
    to: str = typer.Option(..., "--to", help="Target language: en, zh, ja, fr, de, es, …"),
    source: str = typer.Option(None, "--from", help="Source language (default: detected)."),
    term: list[str] = typer.Option(None, "--term", help="Fixed translation SOURCE=TARGET (repeatable)."),
    model: str = ModelOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Translate, keeping Markdown structure (headings, lists, code, links) and your terms."""
    from draftsmith.languages import check_language

    check_language(to)
    glossary = parse_vars(term)
    a = assistant(model)
    text = _text(file, a)
    result = a.translate(text, to=to, source=source, glossary=glossary, on_text=streamer(not json_out))
    _shown(result, text)
    _done(result, json_out)


def correct(
    file: Path = FileArg,
    apply: bool = typer.Option(False, "--apply", help="Print the corrected text instead of the edits."),
    in_place: bool = typer.Option(False, "--in-place", "-i", help="Rewrite FILE with the corrections (atomic)."),
    lang: str = typer.Option(None, "--lang", "-l", help="Language of the text (default: detected)."),
    mode: str = typer.Option(
        "hybrid", "--mode", help="hybrid (detectors + model), llm (model only) or detectors (no model)."
    ),
    model: str = ModelOpt,
    json_out: bool = JsonOpt,
    interactive: bool = typer.Option(
        False, "--interactive", "-p", help="Accept or reject edit by edit (like git add -p); writes FILE."
    ),
) -> None:
    """Fix grammar, spelling and punctuation; each edit comes with a category and a reason."""
    if in_place and (file is None or str(file) == "-"):
        raise InputError("--in-place needs a FILE")
    if interactive:  # the review loop and its feedback records: cli/review.py
        from draftsmith.cli.review import check_interactive

        check_interactive(file, json_out=json_out, apply=apply, in_place=in_place)
    a = assistant(model)
    text = _text(file, a)
    result = a.correct(text, lang=lang, mode=mode)
    warn(result.warnings)
    if interactive:
        from draftsmith.cli.review import review

        review(text, result, file)
        return
    if result.edits:  # ids for --json (and for draftsmith feedback list / accept / reject)
        from draftsmith.feedback import issue

        record_shown(lambda store: issue.correction(store, text, result))
    if in_place:
        if result.edits:
            write_atomic(file, result.text)
        err.print(f"{len(result.edits)} edit(s) applied to {file}")
    if json_out:
        print_json(
            {
                "text": result.text,
                "edits": [e.model_dump() for e in result.edits],
                "model": result.model,
                "language": result.language,
                "warnings": result.warnings,
                "usage": result.usage.model_dump(),
                "timings": result.timings.model_dump(),
            }
        )
    elif apply:
        typer.echo(result.text, nl=not result.text.endswith("\n"))
    elif not in_place:
        if not result.edits:
            err.print("no corrections needed")
        for e in result.edits:
            line = text.count("\n", 0, e.start) + 1
            col = e.start - (text.rfind("\n", 0, e.start) + 1) + 1
            typer.echo(f"{line}:{col}\t{e.original!r} -> {e.replacement!r}\t[{e.category}] {e.reason}")


def continue_(
    file: Path = FileArg,
    words: int = typer.Option(100, "--words", "-w", min=1, max=5000, help="About how many words to add."),
    lang: str = LangOpt,
    temperature: float = typer.Option(None, "--temperature", min=0.0, max=2.0),
    seed: int = typer.Option(None, "--seed"),
    model: str = ModelOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Continue a text in the same language and voice."""
    a = assistant(model)
    text = _text(file, a)
    result = a.continue_text(
        text, words=words, lang=lang, temperature=temperature, seed=seed, on_text=streamer(not json_out)
    )
    _shown(result, text)
    _done(result, json_out)


def summarize(
    file: Path = FileArg,
    words: int = typer.Option(80, "--words", "-w", min=5, max=2000, help="About how long the summary is."),
    lang: str = LangOpt,
    model: str = ModelOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Summarise a text (long texts are condensed piece by piece first)."""
    a = assistant(model)
    text = _text(file, a)
    result = a.summarize(text, words=words, lang=lang, on_text=streamer(not json_out))
    _shown(result, text)
    _done(result, json_out)


def outline(
    file: Path = typer.Argument(None, help="Source material (optional with --topic).", show_default=False),
    topic: str = typer.Option("", "--topic", "-t", help="What the piece is about."),
    sections: int = typer.Option(5, "--sections", min=1, max=20, help="How many sections."),
    lang: str = LangOpt,
    model: str = ModelOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Draft a Markdown outline from a topic and/or source text."""
    a = assistant(model)
    text = _text(file, a) if file is not None or not topic else ""
    _done(a.outline(topic=topic, text=text, sections=sections, lang=lang, on_text=streamer(not json_out)), json_out)


def title(
    file: Path = FileArg,
    count: int = typer.Option(5, "--count", "-c", min=1, max=20, help="How many headline options."),
    lang: str = LangOpt,
    model: str = ModelOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Suggest headline options for a text."""
    a = assistant(model)
    result = a.title(_text(file, a), count=count, lang=lang)
    if json_out:
        print_json(result)
    else:
        for i, t in enumerate(result.titles, 1):
            typer.echo(f"{i}. {t}")


def _shown(result, source: str, category: str | None = None) -> None:
    """The whole result is one suggestion about ``source``: its id goes into ``--json`` (and feedback list)."""
    from draftsmith.feedback import issue

    record_shown(lambda store: issue.whole(store, result, source, category=category))


def _done(result, json_out: bool) -> None:
    if json_out:
        print_json(result)
    else:
        finish_stream()
    warn(result.warnings)


def register(app: typer.Typer) -> None:
    app.command()(write)
    app.command()(rewrite)
    app.command()(translate)
    app.command()(correct)
    app.command(name="continue")(continue_)
    app.command()(summarize)
    app.command()(outline)
    app.command()(title)
