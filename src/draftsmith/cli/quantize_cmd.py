"""draftsmith models quantize / compare: make smaller GGUFs with llama.cpp's quantizer and measure them."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import typer
from rich.table import Table

from draftsmith.cli.common import StageBar, err, out, print_json, warn
from draftsmith.errors import InputError

TYPES_HELP = "f16, q8_0, q6_k, q5_k_m, q4_k_m, q4_0, q3_k_m"


def register(app: typer.Typer) -> None:
    app.command("quantize")(quantize)
    app.command("compare")(compare)


def quantize(
    source: str = typer.Argument(..., help="Model to quantise: a bundled name, a local model name or a .gguf path."),
    qtype: str = typer.Option(..., "--type", "-t", help=f"Quantisation type: {TYPES_HELP}."),
    name: str = typer.Option(None, "--name", "-n", help="Name of the result (default: SOURCE-TYPE)."),
    allow_requantize: bool = typer.Option(
        False, "--allow-requantize", help="Accept an already quantised source (quality loss compounds)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing model of that name."),
    threads: int = typer.Option(
        None, "--threads", min=1, help="CPU threads for the quantizer (default: n_threads, else all cores)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Quantise an F16/BF16/F32 GGUF (or, with --allow-requantize, a quantised one) into your models folder.

    The result opens with --model NAME; `models list` shows its type and where it came from.
    """
    from draftsmith.config import load_settings
    from draftsmith.models import quantize as q

    q.check_type(qtype)  # an unknown type fails before a bundled model is assembled
    bar = StageBar(f"quantizing → {qtype.lower()}", err.is_terminal and not json_out)
    try:
        with err.status("preparing the source model…") if err.is_terminal else contextlib.nullcontext():
            q.resolve_source(source)  # a bundled model is assembled once, under a spinner
        result = q.quantize(
            source,
            qtype,
            name=name,
            allow_requantize=allow_requantize,
            force=force,
            threads=threads or load_settings().n_threads,
            progress=lambda done, total, tensor: bar.show(total, done, tensor),
        )
    finally:
        bar.stop()
    if json_out:
        print_json(result)
        return
    warn(result.warnings)
    typer.echo(
        f"saved {result.name} ({result.type}, {result.size_bytes / 1e6:,.0f} MB, from {result.source_type} "
        f"{result.source}) in {result.seconds:.1f} s; use it with --model {result.name}"
    )


def compare(
    names: list[str] = typer.Argument(..., help="Models to compare (bundled names, local model names, .gguf paths)."),
    text: Path = typer.Option(..., "--text", exists=True, dir_okay=False, help="Your text, for perplexity."),
    tokens: int = typer.Option(64, "--tokens", min=1, help="Tokens generated to time generation speed."),
    ppl_tokens: int = typer.Option(4096, "--ppl-tokens", min=0, help="Score at most this many tokens (0: all)."),
    window: int = typer.Option(512, "--window", min=16, help="Perplexity window (tokens of context)."),
    threads: int = typer.Option(None, "--threads", min=1, help="CPU threads, the same for every model."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Size, load time, tokens/s and perplexity on your text, for each model: pick a quantisation with numbers."""
    import os

    from draftsmith.config import load_settings
    from draftsmith.evaluation.model_compare import compare_models

    try:
        content = text.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {text} as UTF-8 text: {exc}") from None
    threads = threads or load_settings().n_threads or os.cpu_count() or 1
    started = time.perf_counter()
    status = err.status("measuring…") if err.is_terminal and not json_out else None
    if status:
        status.start()
    try:
        rows = compare_models(
            names,
            content,
            tokens=tokens,
            window=window,
            ppl_tokens=ppl_tokens or None,
            threads=threads,
            progress=(lambda msg: status.update(msg)) if status else None,
        )
    finally:
        if status:
            status.stop()
    if json_out:
        print_json([r.model_dump() for r in rows])
        return
    table = Table("name", "quant", "MB", "load s", "tok/s", "ppl", box=None)
    for r in rows:
        ppl = f"{r.ppl:.2f}" if r.ppl is not None else "-"
        table.add_row(r.name, r.quant or "?", f"{r.size_mb:,.0f}", f"{r.load_s:.2f}", f"{r.tok_s:.1f}", ppl)
    out.print(table)
    scored = rows[0].ppl_tokens if rows else 0
    err.print(
        f"{threads} thread(s), {tokens} generated tokens, perplexity over {scored} tokens of {text.name} "
        f"(window {window}); {time.perf_counter() - started:.0f} s"
    )
