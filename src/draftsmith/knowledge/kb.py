"""Knowledge bases: create, add files, remove, list, stats. Search lives in ``retrieve``.

Ingest is resumable: each file is parsed, chunked and embedded, then saved in one store transaction (its
document row, its chunks, the knowledge base's new generation). Interrupting an ingest (Ctrl-C, a crash)
keeps every file finished before it and the embeddings of finished batches; running the same command again
skips the unchanged files by content hash and re-uses the cached embeddings.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from draftsmith.errors import InputError
from draftsmith.knowledge.chunking import Chunk, chunk_document
from draftsmith.knowledge.embed import Embedder, default_embedder, embed_passages, text_hash
from draftsmith.knowledge.index import tokenize
from draftsmith.knowledge.parsers import SUFFIXES, ParsedDocument, ParseError, parse_file
from draftsmith.store.db import Store
from draftsmith.store.knowledge import kb_bases, kb_chunks, kb_documents, kb_index

MAX_FILE_BYTES = 100 * 1024 * 1024
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class KnowledgeBaseInfo(BaseModel):
    name: str
    id: str
    embed_model: str
    documents: int = 0
    chunks: int = 0
    created_at: float
    updated_at: float


class DocumentInfo(BaseModel):
    source: str
    title: str
    format: str
    chunks: int
    chars: int
    bytes: int
    updated_at: float


class KbStats(KnowledgeBaseInfo):
    chars: int = 0
    bytes: int = 0
    formats: dict[str, int] = Field(default_factory=dict)
    embedded_chunks: int = 0
    documents_list: list[DocumentInfo] = Field(default_factory=list)


class Skipped(BaseModel):
    path: str
    reason: str


class IngestReport(BaseModel):
    kb: str
    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)
    ignored: int = 0  # files in named folders with a type no parser reads
    chunks: int = 0  # chunks written by this run
    embedded: int = 0  # vectors computed by this run (the rest came from the cache)
    seconds: float = 0.0


class IngestProgress(BaseModel):
    """One step of an ingest, for progress bars: ``files_done`` of ``files_total``, the current file."""

    files_done: int
    files_total: int
    path: str
    stage: str  # reading, embedding, saved, unchanged, skipped
    chunks_done: int = 0
    chunks_total: int = 0


OnProgress = Callable[[IngestProgress], None]


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100 or set(name) - _NAME_CHARS:
        raise InputError(f"knowledge base name {name!r} is not valid: use 1–100 letters, digits, '-', '_' or '.'")
    return name


def _info(conn: Connection, row: sa.Row) -> KnowledgeBaseInfo:
    docs = conn.scalar(sa.select(sa.func.count()).select_from(kb_documents).where(kb_documents.c.kb_id == row.id))
    chunks = conn.scalar(sa.select(sa.func.count()).select_from(kb_chunks).where(kb_chunks.c.kb_id == row.id))
    return KnowledgeBaseInfo(
        name=row.name,
        id=row.id,
        embed_model=row.embed_model,
        documents=docs or 0,
        chunks=chunks or 0,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def kb_row(conn: Connection, name: str, owner: str = "") -> sa.Row:
    row = conn.execute(sa.select(kb_bases).where(kb_bases.c.owner == owner, kb_bases.c.name == name)).first()
    if row is None:
        known = list(conn.scalars(sa.select(kb_bases.c.name).where(kb_bases.c.owner == owner).order_by("name")))
        hint = f"; known: {', '.join(known)}" if known else "; create one with: draftsmith kb add NAME FILE…"
        raise InputError(f"no knowledge base named {name!r}{hint}")
    return row


def create_kb(store: Store, name: str, *, owner: str = "", embed_model: str | None = None) -> KnowledgeBaseInfo:
    """Create (or return the existing) knowledge base ``name``."""
    name = check_name(name)
    with store.write() as conn:
        row = conn.execute(sa.select(kb_bases).where(kb_bases.c.owner == owner, kb_bases.c.name == name)).first()
        if row is None:
            now = time.time()
            conn.execute(
                kb_bases.insert().values(
                    id=uuid.uuid4().hex,
                    owner=owner,
                    name=name,
                    embed_model=embed_model or default_embedder().name,
                    generation=0,
                    created_at=now,
                    updated_at=now,
                )
            )
            row = conn.execute(sa.select(kb_bases).where(kb_bases.c.owner == owner, kb_bases.c.name == name)).one()
        return _info(conn, row)


def get_kb(store: Store, name: str, *, owner: str = "") -> KnowledgeBaseInfo:
    with store.read() as conn:
        return _info(conn, kb_row(conn, name, owner))


def list_kbs(store: Store, *, owner: str = "") -> list[KnowledgeBaseInfo]:
    with store.read() as conn:
        rows = conn.execute(sa.select(kb_bases).where(kb_bases.c.owner == owner).order_by(kb_bases.c.name)).all()
        return [_info(conn, r) for r in rows]


def remove_kb(store: Store, name: str, *, owner: str = "") -> KnowledgeBaseInfo:
    """Delete a knowledge base with its documents and chunks (cached embeddings stay for re-use)."""
    with store.write() as conn:
        row = kb_row(conn, name, owner)
        info = _info(conn, row)
        conn.execute(kb_index.delete().where(kb_index.c.kb_id == row.id))
        conn.execute(kb_chunks.delete().where(kb_chunks.c.kb_id == row.id))
        conn.execute(kb_documents.delete().where(kb_documents.c.kb_id == row.id))
        conn.execute(kb_bases.delete().where(kb_bases.c.id == row.id))
    return info


def remove_documents(store: Store, name: str, paths: Iterable[str | Path], *, owner: str = "") -> list[str]:
    """Remove files from a knowledge base; returns the sources removed. Unknown paths raise InputError."""
    wanted = [str(Path(p).expanduser().resolve()) for p in paths]
    with store.write() as conn:
        row = kb_row(conn, name, owner)
        present = dict(
            conn.execute(
                sa.select(kb_documents.c.source, kb_documents.c.id).where(
                    kb_documents.c.kb_id == row.id, kb_documents.c.source.in_(wanted)
                )
            ).all()
        )
        missing = [w for w in wanted if w not in present]
        if missing:
            raise InputError(f"not in knowledge base {name!r}: {', '.join(missing)} (nothing was removed)")
        ids = list(present.values())
        conn.execute(kb_chunks.delete().where(kb_chunks.c.doc_id.in_(ids)))
        conn.execute(kb_documents.delete().where(kb_documents.c.id.in_(ids)))
        _bump(conn, row.id)
    return list(present)


def stats(store: Store, name: str, *, owner: str = "") -> KbStats:
    with store.read() as conn:
        row = kb_row(conn, name, owner)
        info = _info(conn, row)
        docs = conn.execute(
            sa.select(kb_documents).where(kb_documents.c.kb_id == row.id).order_by(kb_documents.c.source)
        ).all()
        from draftsmith.store.knowledge import kb_embeddings

        embedded = conn.scalar(
            sa.select(sa.func.count())
            .select_from(kb_chunks.join(kb_embeddings, kb_embeddings.c.text_hash == kb_chunks.c.embed_hash))
            .where(kb_chunks.c.kb_id == row.id, kb_embeddings.c.model == row.embed_model)
        )
    formats: dict[str, int] = {}
    for d in docs:
        formats[d.format] = formats.get(d.format, 0) + 1
    return KbStats(
        **info.model_dump(),
        chars=sum(d.chars for d in docs),
        bytes=sum(d.bytes for d in docs),
        formats=formats,
        embedded_chunks=embedded or 0,
        documents_list=[
            DocumentInfo(
                source=d.source,
                title=d.title,
                format=d.format,
                chunks=d.chunks,
                chars=d.chars,
                bytes=d.bytes,
                updated_at=d.updated_at,
            )
            for d in docs
        ],
    )


def _bump(conn: Connection, kb_id: str) -> None:
    conn.execute(
        kb_bases.update()
        .where(kb_bases.c.id == kb_id)
        .values(generation=kb_bases.c.generation + 1, updated_at=time.time())
    )


def collect_files(
    paths: Iterable[str | Path], *, follow_symlinks: bool = False
) -> tuple[list[Path], list[Skipped], int]:
    """Files to ingest: named files as given, folders searched recursively for supported types.

    Returns (files, skipped, ignored): a named path that is missing or unsupported is skipped with its
    reason; files in folders with a type no parser reads (and hidden files) are only counted. A symlink
    found inside a folder that leads out of it is skipped with its reason unless ``follow_symlinks``: adding a
    folder must not ingest what lies outside it (a link to ~/.ssh in a shared folder, for one)."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    ignored = 0
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            root = path.resolve()
            for found in sorted(path.rglob("*")):
                if not found.is_file():
                    continue
                if any(part.startswith(".") for part in found.relative_to(path).parts):
                    continue
                if found.suffix.lower() not in SUFFIXES:
                    ignored += 1
                    continue
                target = found.resolve()
                if not follow_symlinks and root not in target.parents:
                    skipped.append(
                        Skipped(
                            path=str(found),
                            reason="a symlink that leads out of the folder; add its target by name, "
                            "or pass --follow-symlinks",
                        )
                    )
                    continue
                files.append(target)
        elif not path.exists():
            skipped.append(Skipped(path=str(path), reason="does not exist"))
        elif path.suffix.lower() not in SUFFIXES:
            skipped.append(
                Skipped(
                    path=str(path),
                    reason=f"unsupported file type {path.suffix or '(none)'!r}; "
                    f"supported: {', '.join(sorted(SUFFIXES))}",
                )
            )
        else:
            files.append(path.resolve())
    unique = list(dict.fromkeys(files))
    return unique, skipped, ignored


def add_files(
    store: Store,
    name: str,
    paths: Iterable[str | Path],
    *,
    owner: str = "",
    embedder: Embedder | None = None,
    on_progress: OnProgress | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    batch_chunks: int = 64,
    follow_symlinks: bool = False,
) -> IngestReport:
    """Ingest files and folders into knowledge base ``name`` (created if needed). A file that cannot be
    read is skipped with its reason and the batch goes on; see the report."""
    start = time.perf_counter()
    embedder = embedder or default_embedder()
    info = create_kb(store, name, owner=owner, embed_model=embedder.name)
    if info.embed_model != embedder.name:
        raise InputError(
            f"knowledge base {name!r} was built with the embedding model {info.embed_model}, not {embedder.name}"
        )
    files, skipped, ignored = collect_files(paths, follow_symlinks=follow_symlinks)
    report = IngestReport(kb=info.name, skipped=skipped, ignored=ignored)
    total = len(files)

    def progress(done: int, path: Path, stage: str, chunks_done: int = 0, chunks_total: int = 0) -> None:
        if on_progress:
            on_progress(IngestProgress(files_done=done, files_total=total, path=str(path), stage=stage,
                                       chunks_done=chunks_done, chunks_total=chunks_total))  # fmt: skip

    with store.read() as conn:
        known = dict(
            conn.execute(
                sa.select(kb_documents.c.source, kb_documents.c.content_hash).where(kb_documents.c.kb_id == info.id)
            ).all()
        )
    # Parsed files wait here until they hold a batch of chunks, so small files share embedding batches;
    # each file is then saved in its own transaction, in order.
    pending: list[_Parsed] = []
    flushing = {"now": False}

    def flush() -> None:
        flushing["now"] = True
        texts = [c.index_text for f in pending for c in f.chunks]
        counter = {"n": 0}
        last = pending[-1]

        def embedded(n: int) -> None:
            counter["n"] += n
            progress(last.done, last.path, "embedding", counter["n"], len(texts))

        embed_passages(store, embedder, texts, on_embedded=embedded)
        report.embedded += counter["n"]
        for f in pending:
            rows = [
                {
                    "kb_id": info.id,
                    "ordinal": i,
                    "text": c.text,
                    "embed_hash": text_hash(c.index_text),
                    "tokens": " ".join(tokenize(c.index_text)),
                    "location": c.location.model_dump_json(exclude_none=True),
                }
                for i, c in enumerate(f.chunks)
            ]
            _save_document(store, info.id, f.source, f.doc.title, f.doc.format, f.digest, f.size, f.doc.chars, rows)
            (report.updated if f.source in known else report.added).append(f.source)
            known[f.source] = f.digest
            report.chunks += len(rows)
            progress(f.done + 1, f.path, "saved", len(rows), len(rows))
        pending.clear()
        flushing["now"] = False

    try:
        for done, path in enumerate(files):
            source = str(path)
            progress(done, path, "reading")
            try:
                size = path.stat().st_size
                if size > max_bytes:
                    raise ParseError(f"too large ({size / 1e6:.0f} MB; the limit is {max_bytes / 1e6:.0f} MB)")
                data = path.read_bytes()
                digest = hashlib.sha256(data).hexdigest()
                if known.get(source) == digest:
                    report.unchanged.append(source)
                    progress(done + 1, path, "unchanged")
                    continue
                parsed = parse_file(path, data)
            except OSError as exc:
                report.skipped.append(Skipped(path=source, reason=f"cannot read: {exc.strerror}"))
                progress(done + 1, path, "skipped")
                continue
            except ParseError as exc:
                report.skipped.append(Skipped(path=source, reason=str(exc)))
                progress(done + 1, path, "skipped")
                continue
            pending.append(_Parsed(done, path, source, digest, len(data), parsed, chunk_document(parsed)))
            if sum(len(f.chunks) for f in pending) >= batch_chunks:
                flush()
    except BaseException:
        # Interrupted (Ctrl-C) or failed while reading the next file: the files already parsed (less than
        # one batch) are embedded and saved first, so a re-run only has to do the rest.
        if pending and not flushing["now"]:
            flush()
        raise
    if pending:
        flush()
    report.seconds = time.perf_counter() - start
    return report


@dataclass
class _Parsed:
    done: int
    path: Path
    source: str
    digest: str
    size: int
    doc: ParsedDocument
    chunks: list[Chunk]


def _save_document(
    store: Store,
    kb_id: str,
    source: str,
    title: str,
    fmt: str,
    digest: str,
    size: int,
    chars: int,
    rows: list[dict],
) -> None:
    """One transaction: the document row (new or replaced), all its chunks, the new generation."""
    now = time.time()
    with store.write() as conn:
        old = conn.execute(
            sa.select(kb_documents.c.id, kb_documents.c.added_at).where(
                kb_documents.c.kb_id == kb_id, kb_documents.c.source == source
            )
        ).first()
        if old is not None:
            conn.execute(kb_chunks.delete().where(kb_chunks.c.doc_id == old.id))
            conn.execute(kb_documents.delete().where(kb_documents.c.id == old.id))
        doc_id = uuid.uuid4().hex
        conn.execute(
            kb_documents.insert().values(
                id=doc_id,
                kb_id=kb_id,
                source=source,
                title=title[:500],
                format=fmt,
                content_hash=digest,
                bytes=size,
                chars=chars,
                chunks=len(rows),
                added_at=old.added_at if old is not None else now,
                updated_at=now,
            )
        )
        if rows:
            conn.execute(kb_chunks.insert(), [{**r, "doc_id": doc_id} for r in rows])
        _bump(conn, kb_id)
