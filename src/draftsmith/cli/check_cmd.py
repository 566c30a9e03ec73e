"""The checker's commands: ``check`` (list problems, never rewrite) and ``readability``.

``check`` reads its input in chunks and prints problems as they are found, so a large file needs little
memory. Exit codes: 0 no problems, 1 problems found (usable in CI), 2 bad input. Each problem is recorded as shown
to the local user (``feedback/issue.py``; its ``suggestion_id`` is in the JSON and SARIF output), unless
``--no-record``.
"""

from __future__ import annotations

import codecs
import io
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import typer

from draftsmith.cli.common import err, print_json
from draftsmith.errors import InputError

FORMATS = ("text", "json", "sarif")


def check(
    file: Path = typer.Argument(None, help="Text or Markdown file (UTF-8). Omit or use '-' to read stdin."),
    fmt: str = typer.Option("text", "--format", "-f", help="Output: text, json or sarif (SARIF 2.1.0)."),
    lang: str = typer.Option(None, "--lang", "-l", help="en or zh (default: by script, paragraph by paragraph)."),
    disable: list[str] = typer.Option(
        None, "--disable", "-d", help="Rule id to skip, e.g. EN_DOUBLE_SPACE (repeatable)."
    ),
    words: Path = typer.Option(
        None, "--words", help="File of extra words to accept, one per line (besides <data dir>/dictionary.txt)."
    ),
    list_rules: bool = typer.Option(False, "--list-rules", help="List the rules and exit."),
    record: bool = typer.Option(
        True,
        "--record/--no-record",
        help="Record the problems shown, each with an id (in --format json and sarif) to answer with "
        "draftsmith feedback accept|reject ID; --no-record leaves the feedback store alone.",
    ),
) -> None:
    """List spelling and grammar problems without rewriting (exit 1 when there are any)."""
    from draftsmith.checking import Checker
    from draftsmith.checking.check import _all_rule_ids, load_user_words
    from draftsmith.checking.problem import RULES

    if list_rules:
        _all_rule_ids()
        for info in RULES.values():
            typer.echo(f"{info.id}\t{info.lang}\t{info.category}\t{info.description}")
        return
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    accepted = load_user_words() + (load_user_words(words) if words else [])
    checker = Checker(lang, disabled=disable or [], words=accepted)
    name = "stdin" if file is None or str(file) == "-" else str(file)
    with _open(file) as stream:
        paragraphs = _Tracked(_paragraphs(stream))
        problems = _first_checked(_decoded(checker.iter_paragraphs(paragraphs), name))
        if record:
            problems = _with_ids(problems, paragraphs)
        out = sys.stdout
        if fmt == "sarif":
            from draftsmith.checking.sarif import write_sarif

            count = write_sarif(problems, out, _uri(file))
        elif fmt == "json":
            count = _write_json(problems, out, name)
        else:
            count = _write_text(problems, out, name)
    out.flush()
    if fmt == "text":
        err.print(f"{count} problem(s) found" if count else "no problems found")
    if count:
        raise typer.Exit(1)


def readability(
    file: Path = typer.Argument(None, help="Text file (UTF-8). Omit or use '-' to read stdin."),
    lang: str = typer.Option(None, "--lang", "-l", help="en or zh (default: detected)."),
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Readability: sentence lengths, passive voice, long words, Flesch scores (English); idioms (Chinese)."""
    from draftsmith.checking.readability import readability as measure
    from draftsmith.cli.io import read_input
    from draftsmith.config import load_settings

    text = read_input(file, load_settings().max_input_chars)
    r = measure(text, lang)
    if json_out:
        print_json(r)
        return
    s = r.sentences
    rows = [
        ("language", r.language),
        ("words" if r.language == "en" else "characters", str(r.words)),
        ("sentences", str(s.count)),
        ("sentence length", f"mean {s.mean}, median {s.median:g}, 90% ≤ {s.p90:g}, longest {s.longest}"),
        ("long sentences", f"{s.long_share:.0%}"),
        ("length histogram", ", ".join(f"{k}: {v}" for k, v in s.histogram.items())),
    ]
    if r.language == "en":
        rows += [
            ("Flesch reading ease", f"{r.flesch_reading_ease} (60-70 is plain English; higher is easier)"),
            ("Flesch-Kincaid grade", str(r.flesch_kincaid_grade)),
            ("long words (7+ letters)", f"{r.long_word_share:.0%}"),
            ("complex words (3+ syllables)", f"{r.complex_word_share:.0%}"),
            ("passive voice", f"{r.passive_share:.0%} of sentences ({r.passive_method})"),
        ]
        rows += [("  e.g.", ex) for ex in r.passive_examples[:3]]
    else:
        rows += [
            ("punctuation per sentence", str(r.punctuation_per_sentence)),
            ("idioms (成语)", f"{r.idioms} ({r.idioms_per_1000_chars} per 1,000 characters)"),
        ]
        if r.idiom_examples:
            rows.append(("  e.g.", "、".join(r.idiom_examples)))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        typer.echo(f"{key:<{width}}  {value}")


# -- input and output -------------------------------------------------------------------------------


class _open:
    """The input as a text stream: a file (UTF-8, BOM accepted, UTF-16 by BOM) or stdin. Line ends are kept."""

    def __init__(self, path: Path | None):
        self.path = path
        self.stream: TextIO | None = None

    def __enter__(self) -> TextIO:
        if self.path is None or str(self.path) == "-":
            if sys.stdin is None or sys.stdin.isatty():
                raise InputError("no input: give a FILE or pipe text on stdin")
            raw = sys.stdin.buffer
            head = raw.peek(8192)[:8192] if hasattr(raw, "peek") else b""
        else:
            if not self.path.exists():
                raise InputError(f"{self.path} does not exist")
            if self.path.is_dir():
                raise InputError(f"{self.path} is a folder; give a text file")
            try:
                raw = open(self.path, "rb")
            except OSError as exc:
                raise InputError(f"cannot read {self.path}: {exc.strerror}") from None
            head = raw.peek(8192)[:8192]
        source = "stdin" if self.path is None or str(self.path) == "-" else str(self.path)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        elif b"\x00" in head:
            raise InputError(f"{source} looks like a binary file, not text")
        else:
            encoding = "utf-8-sig"
        self.stream = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
        return self.stream

    def __exit__(self, *exc: object) -> None:
        if self.stream is not None and self.path is not None and str(self.path) != "-":
            self.stream.close()
        elif self.stream is not None:
            self.stream.detach()


def _uri(path: Path | None) -> str:
    """The SARIF artifact URI: file:// for an absolute path, a relative reference otherwise."""
    if path is None or str(path) == "-":
        return "stdin"
    return path.as_uri() if path.is_absolute() else path.as_posix()


def _paragraphs(stream: TextIO):
    from draftsmith.checking.check import _no_nul
    from draftsmith.checking.text import read_chunks, stream_paragraphs

    return stream_paragraphs(_no_nul(read_chunks(stream)))


def _first_checked(problems: Iterator) -> Iterator:
    """Find the first problem before any output is written, so empty or unreadable input prints nothing."""
    first = next(problems, None)
    return itertools.chain([first], problems) if first is not None else iter(())


def _decoded(problems: Iterator, source: str) -> Iterator:
    """Turn a decoding failure in the middle of the stream into a clear input error."""
    try:
        yield from problems
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source} is not UTF-8 text (bad byte 0x{exc.object[exc.start]:02x}); "
            "convert it first, e.g. iconv -f GB18030 -t UTF-8"
        ) from None


class _Tracked:
    """The paragraphs being checked, remembering the one whose problems are coming out."""

    def __init__(self, paragraphs: Iterator) -> None:
        self.paragraphs, self.current = paragraphs, None

    def __iter__(self) -> Iterator:
        for paragraph in self.paragraphs:
            self.current = paragraph
            yield paragraph


ID_BATCH = 200  # problems recorded per insert while a long input streams through


def _with_ids(problems: Iterator, paragraphs: _Tracked) -> Iterator:
    """The problems with their feedback ids (the local user's; an unanswered problem shown again keeps its id),
    recorded ``ID_BATCH`` at a time; without a usable store they go on without ids, after one warning."""
    from draftsmith import feedback
    from draftsmith.cli.common import record_shown
    from draftsmith.store.feedback import add_suggestions

    usable = True
    batch: list = []
    shown: list = []

    def flush() -> list:
        nonlocal usable

        def record(store) -> None:
            for problem, sid in zip(batch, add_suggestions(store, shown, owner=None, reuse=True), strict=True):
                problem.suggestion_id = sid

        if usable and batch:
            usable = record_shown(record)
        out = list(batch)
        batch.clear()
        shown.clear()
        return out

    for p in problems:
        par = paragraphs.current
        lo = par.offset if par is not None else 0
        local = p.model_copy(update={"start": p.start - lo, "end": p.end - lo})
        batch.append(p)
        shown.extend(feedback.from_problems(par.text if par is not None else p.flagged, [local]))
        if len(batch) >= ID_BATCH:
            yield from flush()
    yield from flush()


def _write_text(problems: Iterator, out: TextIO, name: str) -> int:
    count = 0
    for p in problems:
        fix = f" → {' / '.join(repr(s) for s in p.suggestions[:3])}" if p.suggestions else ""
        out.write(f"{name}:{p.line}:{p.column}: {p.severity}: {p.message}{fix} [{p.rule_id}]\n")
        count += 1
    return count


def _write_json(problems: Iterator, out: TextIO, name: str) -> int:
    out.write(f'{{"source": {json.dumps(name, ensure_ascii=False)}, "problems": [')
    count = 0
    for p in problems:
        out.write(("\n  " if count == 0 else ",\n  ") + p.model_dump_json())
        count += 1
    out.write(f'\n], "count": {count}}}\n')
    return count


def register(app: typer.Typer) -> None:
    app.command()(check)
    app.command()(readability)
