"""draftsmith kb: knowledge bases of the user's documents (add, search, list, remove, stats).

Also renders ``write --kb`` results (the text with [n] citations and a reference list).
"""

from __future__ import annotations

from pathlib import Path

import typer

from draftsmith.cli.common import JsonOpt, StageBar, err, out, print_json, warn
from draftsmith.errors import DraftsmithError, InputError

app = typer.Typer(
    help="Knowledge bases: your documents as grounded context for write --kb and article.",
    no_args_is_help=True,
)


def _store():
    from draftsmith.store import open_store

    return open_store()


@app.command()
def add(
    name: str = typer.Argument(..., help="Knowledge base name (created if new)."),
    paths: list[Path] = typer.Argument(..., help="Files or folders: .txt .md .html .pdf .docx", show_default=False),
    follow_symlinks: bool = typer.Option(
        False, "--follow-symlinks", help="Also ingest files that symlinks inside a folder lead to outside it."
    ),
    json_out: bool = JsonOpt,
) -> None:
    """Add files (folders are searched recursively). Unchanged files are skipped; changed ones replaced.

    Interrupt with Ctrl-C at any time: finished files are kept, and the same command resumes."""
    from draftsmith.knowledge import kb

    progress = _Bar(enabled=err.is_terminal and not json_out)
    try:
        report = kb.add_files(_store(), name, paths, on_progress=progress.update, follow_symlinks=follow_symlinks)
    except KeyboardInterrupt:
        progress.stop()
        raise IngestInterrupted(
            f"interrupted; {progress.saved} file(s) were saved to {name!r} and are kept: "
            "run the same command again to add the rest"
        ) from None
    finally:
        progress.stop()
    if json_out:
        print_json(report)
    else:
        for s in report.skipped:
            err.print(f"[yellow]skipped[/] {s.path}: {s.reason}", soft_wrap=True)
        parts = [
            f"{len(report.added)} added",
            f"{len(report.updated)} updated",
            f"{len(report.unchanged)} unchanged",
            f"{len(report.skipped)} skipped",
        ]
        if report.ignored:
            parts.append(f"{report.ignored} ignored (unsupported types in folders)")
        err.print(
            f"{report.kb}: {', '.join(parts)}; {report.chunks} chunks written, {report.embedded} embedded "
            f"in {report.seconds:.1f}s",
            soft_wrap=True,
        )
    if report.skipped:
        raise typer.Exit(1)


class IngestInterrupted(DraftsmithError):
    exit_code = 130


class _Bar(StageBar):
    """Files of the ingest, with the chunks of the file being embedded."""

    def __init__(self, enabled: bool) -> None:
        super().__init__("ingest", enabled)

    def update(self, p) -> None:
        self.saved += p.stage == "saved"
        detail = Path(p.path).name
        if p.stage == "embedding" and p.chunks_total:
            detail += f" (embedding {p.chunks_done}/{p.chunks_total})"
        self.show(p.files_total, p.files_done, detail)


@app.command()
def search(
    name: str = typer.Argument(..., help="Knowledge base name."),
    query: str = typer.Argument(..., help="What to look for (English, Chinese or mixed)."),
    k: int = typer.Option(5, "--k", "-k", min=1, max=100, help="How many passages."),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid (BM25 + dense, fused), bm25 or dense."),
    rerank: bool = typer.Option(False, "--rerank", help="Rerank with the language model (slower)."),
    model: str = typer.Option(None, "--model", "-m", help="Model for --rerank (default: the configured one)."),
    json_out: bool = JsonOpt,
) -> None:
    """Ranked passages with their file, location (page / heading / lines) and score."""
    from draftsmith.knowledge.retrieve import retrieve_passages

    if mode not in ("hybrid", "bm25", "dense"):
        raise InputError(f"--mode must be hybrid, bm25 or dense (got {mode!r})")
    rerank_model = None
    if rerank:
        from draftsmith.cli.common import assistant

        rerank_model = assistant(model).model
    passages = retrieve_passages(_store(), name, query, k, mode=mode, rerank_model=rerank_model)  # type: ignore[arg-type]
    if json_out:
        print_json([p.model_dump() for p in passages])
        return
    for i, p in enumerate(passages, 1):
        out.print(f"[bold]{i}.[/] {p.where()}  [dim]score {p.score:.4f}[/]")
        text = " ".join(p.text.split())
        out.print(f"   {text[:400]}{'…' if len(text) > 400 else ''}", markup=False)


@app.command(name="list")
def list_(json_out: bool = JsonOpt) -> None:
    """Knowledge bases with their document and chunk counts."""
    from draftsmith.knowledge import kb

    bases = kb.list_kbs(_store())
    if json_out:
        print_json([b.model_dump() for b in bases])
        return
    if not bases:
        err.print("no knowledge bases yet; create one with: draftsmith kb add NAME FILE…")
        return
    for b in bases:
        typer.echo(f"{b.name}\t{b.documents} documents\t{b.chunks} chunks")


@app.command()
def remove(
    name: str = typer.Argument(..., help="Knowledge base name."),
    paths: list[Path] = typer.Argument(None, help="Files to remove from it; omit to delete the whole base."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete a whole knowledge base without asking."),
    json_out: bool = JsonOpt,
) -> None:
    """Remove files from a knowledge base, or the whole knowledge base."""
    from draftsmith.knowledge import kb

    store = _store()
    if paths:
        removed = kb.remove_documents(store, name, paths)
        if json_out:
            print_json({"kb": name, "removed": removed})
        else:
            err.print(f"{name}: removed {len(removed)} document(s)")
        return
    info = kb.get_kb(store, name)
    if not yes and not json_out and err.is_terminal:
        typer.confirm(f"delete knowledge base {name!r} ({info.documents} documents)?", abort=True, err=True)
    kb.remove_kb(store, name)
    if json_out:
        print_json({"kb": name, "removed": True, "documents": info.documents})
    else:
        err.print(f"deleted knowledge base {name} ({info.documents} documents, {info.chunks} chunks)")


@app.command()
def stats(name: str = typer.Argument(..., help="Knowledge base name."), json_out: bool = JsonOpt) -> None:
    """Documents, chunks, formats and sizes of a knowledge base."""
    from draftsmith.knowledge import kb

    s = kb.stats(_store(), name)
    if json_out:
        print_json(s)
        return
    formats = ", ".join(f"{k} {v}" for k, v in sorted(s.formats.items())) or "none"
    out.print(f"{s.name}: {s.documents} documents ({formats}), {s.chunks} chunks, {s.chars:,} characters", markup=False)
    out.print(f"embedding model {s.embed_model}; {s.embedded_chunks}/{s.chunks} chunks embedded", markup=False)
    for d in s.documents_list:
        typer.echo(f"  {d.source}\t{d.format}\t{d.chunks} chunks")


# -- write --kb ---------------------------------------------------------------------------------------


def write_with_kb(
    a, instruction: str | None, kb_name: str, json_out: bool, *, template: str | None = None, **options
) -> None:
    """``draftsmith write --kb NAME``: a grounded draft with [n] citations and references."""
    from draftsmith.writing.grounded import write_grounded

    if template:
        raise InputError("--kb works with an instruction, not with --template")
    if not instruction:
        raise InputError("write --kb needs an instruction (what to write)")
    with err.status("retrieving passages and writing…", spinner="dots") if err.is_terminal else _nothing():
        result = write_grounded(a.model, instruction, store=_store(), kb=kb_name, **options)
    if json_out:
        print_json(result)
    else:
        typer.echo(result.text)
    warn(result.warnings)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="kb")
    from draftsmith.cli import article_cmd

    article_cmd.register(root)
