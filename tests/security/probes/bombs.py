"""Group 5: parser bombs. Each bomb is a small file that costs a naive parser far more memory or time than its
size: a .docx whose main part unpacks 600× (or that has 20,000 parts), a PDF whose page tree declares 5,001
pages, HTML nested 5,000 deep or with 600,000 elements, a text or Markdown file of 3,000,000 blank lines, and a
1 GiB file (sparse) next to an ordinary one in the same ``kb add`` batch. Each must end in a clear per-file
error, within a bounded time and (for the parse itself) a bounded memory peak, while the rest of the batch is
ingested."""

from __future__ import annotations

import io
import shutil
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

from .core import Findings

MAX_SECONDS = 20.0  # each bomb takes well under a second on an idle core; the bound leaves room for a loaded CI
MAX_PEAK_MB = 64.0


def _docx(body: bytes = b"", extra: dict[str, bytes] | None = None) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("An ordinary paragraph.")
    buf = io.BytesIO()
    document.save(buf)
    source = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "word/document.xml" and body:
                data = data.replace(b"<w:body>", b"<w:body>" + body)
            archive.writestr(member.filename, data)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def _pdf_pages(pages: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(72, 72)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


# name -> (file name, builder, a word the error must contain)
BOMBS: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "docx-ratio": ("bomb.docx", lambda: _docx(b"<w:p/>" * 200_000), "decompression bomb"),
    "docx-parts": ("parts.docx", lambda: _docx(extra={f"word/p{i}.xml": b"" for i in range(20_000)}), "too many parts"),
    "pdf-pages": ("pages.pdf", lambda: _pdf_pages(5_001), "too many pages"),
    "html-depth": ("deep.html", lambda: b"<div>" * 5_000 + b"x", "nested too deeply"),
    "html-elements": ("wide.html", lambda: b"<br>" * 600_000, "too many HTML elements"),
    "text-lines": ("blank.txt", lambda: b"\n" * 3_000_000, "too many lines"),
    "markdown-lines": ("blank.md", lambda: b" \n" * 3_000_000, "too many lines"),
}


def parser_bombs(limits=None, only: tuple[str, ...] | None = None, measure_memory: bool = True) -> Findings:
    """Parse each bomb with ``limits`` (the defaults when None): a ParseError naming the cause, quickly, with
    a bounded memory peak."""
    from draftsmith.knowledge.parsers import DEFAULT_LIMITS, ParseError, parse_file

    f = Findings("parser-bombs")
    for name, (file_name, build, word) in BOMBS.items():
        if only and name not in only:
            continue
        data = build()
        if measure_memory:
            tracemalloc.start()
        start = time.perf_counter()
        error = ""
        try:
            parse_file(Path(file_name), data, limits or DEFAULT_LIMITS)
        except ParseError as exc:
            error = str(exc)
        except Exception as exc:  # a crash is a failure too
            error = f"crash: {type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6 if measure_memory else 0.0
        if measure_memory:
            tracemalloc.stop()
        f.check(word in error, f"{name}: {len(data):,}-byte bomb was not refused for its cause ({error or 'parsed'})")
        f.check(seconds < MAX_SECONDS, f"{name}: took {seconds:.1f} s (bound {MAX_SECONDS} s)")
        f.check(peak_mb < MAX_PEAK_MB, f"{name}: memory peak {peak_mb:.0f} MB (bound {MAX_PEAK_MB} MB)")
    return f


def batch_goes_on(max_bytes: int | None = None) -> Findings:
    """``kb add`` of a folder holding a 1 GiB file (sparse: refused by size before a byte is read), a docx bomb
    and an ordinary note: the two are skipped with their reasons and the note is ingested."""
    import numpy as np

    from draftsmith.knowledge import kb
    from draftsmith.store.db import Store

    class FlatEmbedder:
        name, dim = "probe-embedder", 4

        def passages(self, texts):  # type: ignore[no-untyped-def]
            return np.ones((len(texts), 4), dtype=np.float32)

        def query(self, text):  # type: ignore[no-untyped-def]
            return np.ones(4, dtype=np.float32)

    f = Findings("parser-bombs-batch")
    root = Path(tempfile.mkdtemp(prefix="probe-bombs-"))
    try:
        docs = root / "docs"
        docs.mkdir()
        with open(docs / "huge.txt", "wb") as big:
            big.truncate(1 << 30)
        (docs / "bomb.docx").write_bytes(BOMBS["docx-ratio"][1]())
        (docs / "note.md").write_text("# Note\n\nThe harbour opens at dawn.\n", encoding="utf-8")
        store = Store(f"sqlite:///{root / 'kb.db'}")
        try:
            extra = {} if max_bytes is None else {"max_bytes": max_bytes}
            start = time.perf_counter()
            report = kb.add_files(store, "bombs", [docs], embedder=FlatEmbedder(), **extra)
            seconds = time.perf_counter() - start
        finally:
            store.close()
        reasons = {Path(s.path).name: s.reason for s in report.skipped}
        f.check("too large" in reasons.get("huge.txt", ""), f"the 1 GiB file was not refused by size: {reasons}")
        f.check("bomb" in reasons.get("bomb.docx", ""), f"the docx bomb was not refused: {reasons}")
        f.check(any(p.endswith("note.md") for p in report.added), f"the ordinary note was not ingested: {report}")
        f.check(seconds < 2 * MAX_SECONDS, f"the batch took {seconds:.1f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return f
