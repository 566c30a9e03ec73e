"""``/api/documents``: the caller's documents, every saved version, what changed between two, and restoring one.

A save (``PUT``) names the version it edited (``base_version``); if someone saved in between, the answer is
409 with the current version in ``details`` and nothing changes. Nothing is ever overwritten: every save,
restore and delete keeps the earlier versions in the store. Each user sees only their own documents: another
user's id answers 404, exactly as an id that does not exist (never 403, which would confirm it exists).
Without keys (a single-user server) the caller sees the documents that have no owner.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from draftsmith.server.auth import Principal, current_user
from draftsmith.server.errors import ApiError
from draftsmith.server.schemas import DocumentCreate, DocumentSave, DocumentSummary, error_responses
from draftsmith.server.state import ServerConfig, get_store
from draftsmith.store import documents as docs
from draftsmith.store.db import Store

router = APIRouter(prefix="/api/documents", tags=["documents"])
DocId = Path(min_length=1, max_length=64, description="the document's id")
VersionNo = Path(ge=1, le=2**31 - 1, description="a version number (1 is the first save)")


class Documents:
    """The caller's view of the store: every call is scoped to the caller as owner."""

    def __init__(
        self, request: Request, principal: Principal = Depends(current_user), store: Store = Depends(get_store)
    ) -> None:
        self.store = store
        self.principal = principal
        self.owner = principal.user_id
        self.config: ServerConfig = request.app.state.server_config

    def check_size(self, text: str) -> None:
        limit = self.config.max_document_chars
        if len(text) > limit:
            raise ApiError(
                413, "document_too_large", f"the document has {len(text):,} characters; the limit is {limit:,}"
            )

    def visible(self, doc_id: str) -> docs.Document:
        """The current version, if the caller may see it (404 otherwise)."""
        try:
            doc = docs.get_document(self.store, doc_id, owner=self.owner)
        except docs.DocumentNotFound:
            raise _not_found(doc_id) from None
        if self.owner is None and doc.owner is not None:  # anonymous: only documents without an owner
            raise _not_found(doc_id)
        return doc

    def author(self) -> str | None:
        return None if self.principal.anonymous else self.principal.name


def _not_found(doc_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no document {doc_id}")


def _conflict(exc: docs.VersionConflict, current: int) -> ApiError:
    return ApiError(409, "version_conflict", str(exc), details=[{"current_version": current}])


@router.get("", response_model=list[DocumentSummary])
def list_documents(ds: Documents = Depends()) -> Any:
    """The caller's documents, most recently changed first."""
    rows = docs.list_documents(ds.store, owner=ds.owner)
    if ds.owner is None:
        rows = [r for r in rows if r["owner"] is None]
    return [
        DocumentSummary(id=r["id"], title=r["title"], version=r["version"], updated_at=r["updated_at"]) for r in rows
    ]


@router.post("", response_model=docs.Document, status_code=201, responses=error_responses(413, 422))
def create_document(body: DocumentCreate, ds: Documents = Depends()) -> Any:
    """Create a document (its first version)."""
    ds.check_size(body.text)
    return docs.create_document(ds.store, body.title, body.text, owner=ds.owner, author=ds.author())


@router.get("/{doc_id}", response_model=docs.Document, responses=error_responses(404))
def get_document(doc_id: str = DocId, ds: Documents = Depends()) -> Any:
    """The current version of a document."""
    return ds.visible(doc_id)


@router.put("/{doc_id}", response_model=docs.Document, responses=error_responses(404, 409, 413, 422))
def save_document(body: DocumentSave, doc_id: str = DocId, ds: Documents = Depends()) -> Any:
    """Save a new version, if the document is still at ``base_version`` (409 with the current one if not)."""
    ds.check_size(body.text)
    current = ds.visible(doc_id)
    try:
        return docs.save_document(
            ds.store,
            doc_id,
            body.text,
            base_version=body.base_version,
            title=body.title,
            owner=ds.owner,
            author=ds.author(),
            note=body.note,
        )
    except docs.VersionConflict as exc:
        raise _conflict(exc, ds.visible(doc_id).version) from None
    except docs.DocumentNotFound:
        raise _not_found(current.id) from None


@router.delete("/{doc_id}", status_code=204, response_class=Response, responses=error_responses(404))
def delete_document(doc_id: str = DocId, ds: Documents = Depends()) -> Response:
    """Remove a document from the list (its versions stay in the store)."""
    ds.visible(doc_id)
    try:
        docs.delete_document(ds.store, doc_id, owner=ds.owner)
    except docs.DocumentNotFound:
        raise _not_found(doc_id) from None
    return Response(status_code=204)


@router.get("/{doc_id}/versions", response_model=list[docs.VersionInfo], responses=error_responses(404))
def list_versions(doc_id: str = DocId, ds: Documents = Depends()) -> Any:
    """Every saved version, oldest first (without the texts)."""
    ds.visible(doc_id)
    return docs.history(ds.store, doc_id, owner=ds.owner)


@router.get("/{doc_id}/versions/{version}", response_model=docs.Document, responses=error_responses(404))
def get_version(doc_id: str = DocId, version: int = VersionNo, ds: Documents = Depends()) -> Any:
    """One saved version's title and text."""
    ds.visible(doc_id)
    try:
        return docs.get_document(ds.store, doc_id, owner=ds.owner, version=version)
    except docs.DocumentNotFound:
        raise ApiError(404, "not_found", f"document {doc_id} has no version {version}") from None


@router.get("/{doc_id}/diff", response_model=docs.DocumentDiff, responses=error_responses(404, 422))
def diff(
    doc_id: str = DocId,
    from_version: int | None = Query(None, ge=1, le=2**31 - 1, description="default: the one before to_version"),
    to_version: int | None = Query(None, ge=1, le=2**31 - 1, description="default: the current version"),
    ds: Documents = Depends(),
) -> Any:
    """What changed between two versions, word by word: kept, inserted and deleted parts in order."""
    ds.visible(doc_id)
    try:
        return docs.diff_versions(ds.store, doc_id, from_version, to_version, owner=ds.owner)
    except docs.DocumentNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None


@router.post("/{doc_id}/restore/{version}", response_model=docs.Document, responses=error_responses(404, 409))
def restore_version(doc_id: str = DocId, version: int = VersionNo, ds: Documents = Depends()) -> Any:
    """Make an old version current again, as a new version (the history keeps everything)."""
    current = ds.visible(doc_id)
    try:
        return docs.restore_version(ds.store, doc_id, version, owner=ds.owner, author=ds.author())
    except docs.VersionConflict as exc:
        raise _conflict(exc, ds.visible(doc_id).version) from None
    except docs.DocumentNotFound:
        raise ApiError(404, "not_found", f"document {current.id} has no version {version}") from None
