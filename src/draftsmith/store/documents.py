"""Documents and their versions: every save keeps the previous text; nothing is ever overwritten.

A save names the version it was based on (``base_version``); if someone saved in between, it is refused
with ``VersionConflict`` and nothing changes, so two editors never silently lose each other's work.
"""

from __future__ import annotations

import time
import uuid
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from draftsmith.errors import InputError, StoreError
from draftsmith.store.db import METADATA, Store

documents = sa.Table(
    "documents",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=True, index=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("deleted_at", sa.Float, nullable=True),
)

document_versions = sa.Table(
    "document_versions",
    METADATA,
    sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("author", sa.String(200), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)


def m0001_documents_and_versions(conn: Connection) -> None:
    documents.create(conn, checkfirst=True)
    document_versions.create(conn, checkfirst=True)


MIGRATIONS = [m0001_documents_and_versions]


class VersionConflict(StoreError):
    """The document changed since the version the caller edited."""

    exit_code = 5


class DocumentNotFound(InputError):
    """No such document (or not the caller's)."""


class Document(BaseModel):
    id: str
    owner: str | None
    title: str
    version: int
    text: str
    created_at: float
    updated_at: float


class VersionInfo(BaseModel):
    version: int
    title: str
    author: str | None
    note: str | None
    created_at: float
    chars: int


def create_document(
    store: Store, title: str, text: str, *, owner: str | None = None, author: str | None = None
) -> Document:
    now = time.time()
    doc_id = uuid.uuid4().hex
    with store.write() as conn:
        conn.execute(
            documents.insert().values(
                id=doc_id, owner=owner, title=title, version=1, created_at=now, updated_at=now, deleted_at=None
            )
        )
        conn.execute(
            document_versions.insert().values(
                document_id=doc_id, version=1, title=title, text=text, author=author, note="created", created_at=now
            )
        )
    return Document(id=doc_id, owner=owner, title=title, version=1, text=text, created_at=now, updated_at=now)


def get_document(store: Store, doc_id: str, *, owner: str | None = None, version: int | None = None) -> Document:
    with store.read() as conn:
        row = _row(conn, doc_id, owner)
        wanted = version or row.version
        text_row = conn.execute(
            sa.select(document_versions.c.text, document_versions.c.title).where(
                document_versions.c.document_id == doc_id, document_versions.c.version == wanted
            )
        ).first()
    if text_row is None:
        raise DocumentNotFound(f"document {doc_id} has no version {wanted} (it has 1…{row.version})")
    return Document(
        id=row.id,
        owner=row.owner,
        title=text_row.title,
        version=wanted,
        text=text_row.text,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_documents(store: Store, *, owner: str | None = None) -> list[dict]:
    query = sa.select(documents).where(documents.c.deleted_at.is_(None)).order_by(documents.c.updated_at.desc())
    if owner is not None:
        query = query.where(documents.c.owner == owner)
    with store.read() as conn:
        return [
            {"id": r.id, "title": r.title, "version": r.version, "owner": r.owner, "updated_at": r.updated_at}
            for r in conn.execute(query)
        ]


def save_document(
    store: Store,
    doc_id: str,
    text: str,
    *,
    base_version: int,
    title: str | None = None,
    owner: str | None = None,
    author: str | None = None,
    note: str | None = None,
) -> Document:
    """Store ``text`` as the next version, if the document is still at ``base_version``."""
    now = time.time()
    with store.write() as conn:
        row = _row(conn, doc_id, owner)
        if row.version != base_version:
            raise VersionConflict(
                f"document {doc_id} is at version {row.version}, not {base_version}: someone saved in between; "
                "reload it, merge your changes and save again (nothing was changed)"
            )
        new_version = row.version + 1
        new_title = title if title is not None else row.title
        updated = conn.execute(
            documents.update()
            .where(documents.c.id == doc_id, documents.c.version == base_version)
            .values(version=new_version, title=new_title, updated_at=now)
        )
        if updated.rowcount != 1:  # a concurrent writer on a backend without IMMEDIATE locking
            raise VersionConflict(f"document {doc_id} changed while saving; reload it and save again")
        conn.execute(
            document_versions.insert().values(
                document_id=doc_id,
                version=new_version,
                title=new_title,
                text=text,
                author=author,
                note=note,
                created_at=now,
            )
        )
    return Document(
        id=doc_id,
        owner=row.owner,
        title=new_title,
        version=new_version,
        text=text,
        created_at=row.created_at,
        updated_at=now,
    )


def history(store: Store, doc_id: str, *, owner: str | None = None) -> list[VersionInfo]:
    with store.read() as conn:
        _row(conn, doc_id, owner)
        rows = conn.execute(
            sa.select(document_versions)
            .where(document_versions.c.document_id == doc_id)
            .order_by(document_versions.c.version)
        )
        return [
            VersionInfo(
                version=r.version,
                title=r.title,
                author=r.author,
                note=r.note,
                created_at=r.created_at,
                chars=len(r.text),
            )
            for r in rows
        ]


def restore_version(
    store: Store, doc_id: str, version: int, *, owner: str | None = None, author: str | None = None
) -> Document:
    """Make an old version current again, as a new version (the history keeps everything)."""
    old = get_document(store, doc_id, owner=owner, version=version)
    current = get_document(store, doc_id, owner=owner)
    return save_document(
        store,
        doc_id,
        old.text,
        base_version=current.version,
        title=old.title,
        owner=owner,
        author=author,
        note=f"restored version {version}",
    )


class DiffPart(BaseModel):
    op: Literal["equal", "insert", "delete"]
    text: str


class DocumentDiff(BaseModel):
    id: str
    from_version: int
    to_version: int
    parts: list[DiffPart]
    inserted: int = 0  # characters
    deleted: int = 0


def diff_versions(
    store: Store,
    doc_id: str,
    from_version: int | None = None,
    to_version: int | None = None,
    *,
    owner: str | None = None,
) -> DocumentDiff:
    """What changed between two versions, word by word (CJK: character by character): the parts in order, each
    kept, inserted or deleted; joining the kept and inserted parts gives ``to_version``'s text. Defaults: the
    current version, against the one before it."""
    import difflib

    from draftsmith.writing.edits import tokenize

    new = get_document(store, doc_id, owner=owner, version=to_version)
    old = get_document(store, doc_id, owner=owner, version=from_version or max(new.version - 1, 1))
    a = [old.text[i:j] for i, j in tokenize(old.text)]
    b = [new.text[i:j] for i, j in tokenize(new.text)]
    parts: list[DiffPart] = []

    def add(op: Literal["equal", "insert", "delete"], text: str) -> None:
        if not text:
            return
        if parts and parts[-1].op == op:
            parts[-1].text += text
        else:
            parts.append(DiffPart(op=op, text=text))

    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            add("equal", "".join(a[i1:i2]))
        else:
            add("delete", "".join(a[i1:i2]))
            add("insert", "".join(b[j1:j2]))
    return DocumentDiff(
        id=doc_id,
        from_version=old.version,
        to_version=new.version,
        parts=parts,
        inserted=sum(len(p.text) for p in parts if p.op == "insert"),
        deleted=sum(len(p.text) for p in parts if p.op == "delete"),
    )


def delete_document(store: Store, doc_id: str, *, owner: str | None = None) -> None:
    """Hide a document from lists; its versions stay in the store."""
    with store.write() as conn:
        _row(conn, doc_id, owner)
        conn.execute(documents.update().where(documents.c.id == doc_id).values(deleted_at=time.time()))


def _row(conn: Connection, doc_id: str, owner: str | None) -> sa.Row:
    query = sa.select(documents).where(documents.c.id == doc_id, documents.c.deleted_at.is_(None))
    if owner is not None:
        query = query.where(documents.c.owner == owner)
    row = conn.execute(query).first()
    if row is None:
        raise DocumentNotFound(f"no document {doc_id}")
    return row
