"""Options and helpers shared by the command modules: model loading with progress, rendering."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console

from draftsmith.assistant import Assistant
from draftsmith.config import load_settings
from draftsmith.errors import InputError

err = Console(stderr=True, highlight=False)
out = Console(highlight=False, soft_wrap=True)

ModelOpt = typer.Option(
    None,
    "--model",
    "-m",
    help="Model: qwen2.5-1.5b, qwen2.5-0.5b, a .gguf path, "
    "openai:<base_url>[#model], transformers:<path>. Default: config / DRAFTSMITH_MODEL.",
)
JsonOpt = typer.Option(False, "--json", help="Print a JSON result instead of streaming text.")
LangOpt = typer.Option(
    None, "--lang", "-l", help="Output language code (en, zh, ja, fr, de, es, …); default: the input's language."
)


def assistant(model: str | None) -> Assistant:
    """An Assistant whose model opens with a progress bar when it must first be assembled."""
    settings = load_settings(model=model)
    bar: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        if not err.is_terminal:
            return
        if "p" not in bar:
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

            bar["p"] = Progress(
                TextColumn("preparing model"), BarColumn(), DownloadColumn(), console=err, transient=True
            )
            bar["p"].start()
            bar["t"] = bar["p"].add_task("assemble", total=total)
        bar["p"].update(bar["t"], completed=done)
        if done >= total:
            bar.pop("p").stop()

    return Assistant(settings=settings, progress=progress)


def parse_vars(items: list[str] | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(f"--var {item!r} must look like NAME=VALUE")
        key, value = item.split("=", 1)
        if not key.strip():
            raise InputError(f"--var {item!r} has no name before '='")
        values[key.strip()] = value
    return values


def print_json(data: BaseModel | dict[str, Any] | list[Any]) -> None:
    if isinstance(data, BaseModel):
        text = data.model_dump_json(indent=2)
    else:
        text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write(text + "\n")


_last = {"char": "\n"}


def streamer(enabled: bool):
    """A callback that writes streamed text to stdout, or None when output is JSON."""
    if not enabled:
        return None

    def write(text: str) -> None:
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
            _last["char"] = text[-1]

    return write


def finish_stream() -> None:
    """End streamed output with exactly one newline."""
    if _last["char"] != "\n":
        sys.stdout.write("\n")
    sys.stdout.flush()


def warn(warnings: list[str]) -> None:
    for w in warnings:
        err.print(f"[yellow]warning:[/] {w}")


def record_shown(record) -> bool:
    """Give what is about to be shown its feedback ids, for the local user (``feedback/issue.py``); when the
    store is unavailable the command goes on without ids, with one warning (returns False)."""
    from draftsmith.feedback.issue import local

    problem = local(record)
    if problem:
        err.print(f"warning: {problem}", markup=False, style="yellow")
    return problem is None


class StageBar:
    """A transient Rich progress bar on stderr for staged batch work (ingest, graph builds). ``show`` draws it
    (created on first use, with its total); ``saved`` counts the items finished, for the interrupted message."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label, self.enabled = label, enabled
        self.progress: Any = None
        self.task: Any = None
        self.saved = 0

    def show(self, total: int, done: int, description: str) -> None:
        if not self.enabled:
            return
        if self.progress is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn(f"[bold]{self.label}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
                console=err,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("", total=total)
        self.progress.update(self.task, completed=done, description=description)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
