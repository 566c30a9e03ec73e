"""draftsmith suggest (next, words) and draftsmith profile (learn, show, clear)."""

from __future__ import annotations

from pathlib import Path

import typer

from draftsmith.cli.common import JsonOpt, err, print_json, record_shown
from draftsmith.cli.io import read_input

app = typer.Typer(help="Suggestions: continuations at the cursor, and alternative words.", no_args_is_help=True)
profile_app = typer.Typer(
    help="Your writing profile: phrases and habits learned from your files.", no_args_is_help=True
)

SuggestModelOpt = typer.Option(
    None,
    "--model",
    "-m",
    help="Model. Default: DRAFTSMITH_MODEL / config if set, else the fastest installed "
    "(gemma3-270m, then qwen2.5-0.5b).",
)
FAST_MODELS = ("gemma3-270m", "qwen2.5-0.5b")


def _settings(model: str | None):
    from draftsmith.config import load_settings

    return load_settings(model=model)


def _fast_model(model: str | None) -> str | None:
    """The model to autocomplete with: the one asked for or configured, else the fastest installed one."""
    from draftsmith.config import setting_sources
    from draftsmith.models import catalog

    if model or setting_sources()["model"] != "default":
        return model
    for name in FAST_MODELS:
        bundled = catalog.bundled(name)
        if bundled and catalog.installed(bundled):
            return name
    return FAST_MODELS[-1]


def _profile(enabled: bool):
    from draftsmith.suggest.profile import load_profile

    return load_profile() if enabled else None


@app.command("next")
def next_(
    file: Path = typer.Argument(None, help="The document (UTF-8). Omit or use '-' for stdin.", show_default=False),
    cursor: int = typer.Option(None, "--cursor", "-c", help="Cursor position in characters (default: the end)."),
    n: int = typer.Option(3, "--n", "-n", min=1, max=10, help="How many suggestions."),
    tokens: int = typer.Option(8, "--tokens", min=1, max=128, help="Longest suggestion, in tokens."),
    lang: str = typer.Option(None, "--lang", "-l", help="Language of the document (default: detected)."),
    no_profile: bool = typer.Option(False, "--no-profile", help="Ignore your writing profile."),
    model: str = SuggestModelOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Suggest how to continue the text at the cursor (a few words, up to a sentence)."""
    from draftsmith.languages import check_language
    from draftsmith.models.loader import open_model
    from draftsmith.suggest.autocomplete import AutocompleteSession

    settings = _settings(None)
    text = read_input(file, settings.max_input_chars, "document")
    session = AutocompleteSession(
        open_model(_fast_model(model), settings),
        n=n,
        max_tokens=tokens,
        profile=_profile(not no_profile),
        lang=check_language(lang) if lang else None,
    )
    result = session.feed(text, cursor)
    if result.suggestions:  # ids for --json (and for draftsmith feedback list / accept / reject)
        from draftsmith.feedback import issue

        record_shown(lambda store: issue.completions(store, text, result))
    if json_out:
        print_json(result)
        return
    if result.skipped:
        err.print(f"no suggestion: {result.skipped}")
    elif not result.suggestions:
        err.print("no suggestion: the model had nothing that fits here")
    for i, s in enumerate(result.suggestions, 1):
        typer.echo(f"{i}. {s.text}")


@app.command("words")
def words(
    phrase: str = typer.Argument(..., help="The word or phrase to replace."),
    context: str = typer.Option(None, "--context", "-c", help="The sentence the phrase is used in."),
    n: int = typer.Option(10, "--n", "-n", min=1, max=50, help="How many alternatives."),
    lang: str = typer.Option(None, "--lang", "-l", help="Language (default: detected)."),
    no_llm: bool = typer.Option(False, "--no-llm", help="Only dictionary candidates (the model still ranks them)."),
    no_profile: bool = typer.Option(False, "--no-profile", help="Ignore your writing profile."),
    model: str = typer.Option(None, "--model", "-m", help="Model that proposes and ranks (default: config)."),
    json_out: bool = JsonOpt,
) -> None:
    """Synonyms and alternative phrasings for PHRASE, ranked by how well they fit the sentence."""
    from draftsmith.models.loader import open_model
    from draftsmith.suggest.words import suggest_words

    settings = _settings(model)
    result = suggest_words(
        open_model(settings.model, settings),
        phrase,
        context,
        lang=lang,
        n=n,
        profile=_profile(not no_profile),
        use_llm=not no_llm,
    )
    if result.candidates:
        from draftsmith.feedback import issue

        record_shown(lambda store: issue.alternatives(store, result))
    if json_out:
        print_json(result)
        return
    for w in result.warnings:
        err.print(f"[yellow]warning:[/] {w}")
    for i, c in enumerate(result.candidates, 1):
        sense = f"  ({c.sense})" if c.sense else ""
        typer.echo(f"{i}. {c.text}\t{c.score:.2f}\t{'+'.join(c.sources)}{sense}")


@profile_app.command("learn")
def learn(
    files: list[Path] = typer.Argument(..., help="Files of your own writing (UTF-8 text or Markdown)."),
    add: bool = typer.Option(False, "--add", help="Add to the existing profile instead of replacing it."),
    json_out: bool = JsonOpt,
) -> None:
    """Learn your habitual phrases, sentence lengths and punctuation from your files."""
    from draftsmith.suggest.profile import learn_profile, load_profile

    profile = learn_profile(list(files), base=load_profile() if add else None)
    path = profile.save()
    if json_out:
        print_json({"path": str(path), **profile.summary()})
        return
    err.print(f"learned from {len(files)} file(s), {profile.words:,} words; saved to {path}")
    _show(profile.summary())


@profile_app.command("show")
def show(json_out: bool = JsonOpt) -> None:
    """Show what the profile has learned."""
    from draftsmith.errors import InputError
    from draftsmith.suggest.profile import load_profile, profile_path

    profile = load_profile()
    if profile is None:
        raise InputError(f"no profile yet ({profile_path()}); build one: draftsmith profile learn FILES…")
    if json_out:
        print_json({"path": str(profile_path()), **profile.summary()})
        return
    _show(profile.summary())


@profile_app.command("clear")
def clear() -> None:
    """Delete the profile; suggestions stop using it."""
    from draftsmith.suggest.profile import clear_profile, profile_path

    removed = clear_profile()
    err.print(f"removed {profile_path()}" if removed else "there was no profile")


def _show(summary: dict) -> None:
    s = summary["sentences"]
    p = summary["punctuation"]
    typer.echo(f"files: {summary['files']}  words: {summary['words']:,}  language: {summary['language']}")
    typer.echo(f"sentences: {s['count']}, mean {s['mean']:.1f} words, median {s['median']:g}, 90% under {s['p90']:g}")
    habits = ", ".join(f"{k} {v:g}" for k, v in p["per_1000_words"].items() if v)
    typer.echo(f"punctuation per 1000 words: {habits or 'none'}")
    styles = {k: p[k] for k in ("ellipsis", "dash", "quotes") if p.get(k)}
    if styles:
        typer.echo("style: " + ", ".join(f"{k} {v}" for k, v in styles.items()))
    if summary["top_phrases"]:
        typer.echo("frequent phrases: " + "; ".join(f"{x['phrase']} ({x['count']})" for x in summary["top_phrases"]))


def register(app_: typer.Typer) -> None:
    app_.add_typer(app, name="suggest")
    app_.add_typer(profile_app, name="profile")
