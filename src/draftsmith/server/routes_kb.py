"""``/api/kb``: the caller's knowledge bases: list, create, upload documents, search, write grounded drafts,
remove documents and whole bases.

Each user has their own namespace of knowledge bases (the store's ``owner``); another user's base answers 404,
exactly as one that does not exist. An upload is the raw file as the request body; its type comes from the
``filename`` query parameter's extension, and nothing else of that name is used: the file is staged under a
generated name (``<random hex><.ext>``) in a private temporary folder, ingested, and deleted. Documents are
shown and removed by that generated name. Ingests run one at a time (they embed on the CPU).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from draftsmith.errors import InputError
from draftsmith.server.auth import Principal, current_user, token_cap
from draftsmith.server.errors import ApiError
from draftsmith.server.routes_ops import STREAMED, Context, check_max_tokens
from draftsmith.server.schemas import (
    KbCreate,
    KbDocumentOut,
    KbOut,
    KbPassageOut,
    KbSearchRequest,
    KbUploadOut,
    KbWriteRequest,
    error_responses,
)
from draftsmith.server.state import get_store
from draftsmith.store.db import Store
from draftsmith.writing.grounded import GroundedResult

router = APIRouter(prefix="/api/kb", tags=["knowledge bases"])
KbParam = PathParam(min_length=1, max_length=100, description="the knowledge base's name")
DocParam = PathParam(min_length=1, max_length=80, description="a document's stored name (from GET /api/kb/{kb})")
_INGEST = threading.Lock()


class Bases:
    """The caller's knowledge bases: every call is scoped to the caller as owner."""

    def __init__(self, principal: Principal = Depends(current_user), store: Store = Depends(get_store)) -> None:
        self.store = store
        self.owner = principal.user_id or ""

    async def visible(self, name: str) -> Any:
        """The base's row if the caller has one by that name (404 otherwise)."""
        from draftsmith.knowledge.kb import kb_row

        def find() -> Any:
            with self.store.read() as conn:
                return kb_row(conn, name, self.owner)

        try:
            return await run_in_threadpool(find)
        except InputError:
            raise _not_found(name) from None

    async def out(self, name: str) -> KbOut:
        from draftsmith.knowledge.kb import stats

        info = await run_in_threadpool(lambda: stats(self.store, name, owner=self.owner))
        return KbOut(
            name=info.name,
            embed_model=info.embed_model,
            documents=info.documents,
            chunks=info.chunks,
            created_at=info.created_at,
            documents_list=[
                KbDocumentOut(
                    name=Path(d.source).name,
                    title=d.title,
                    format=d.format,
                    chunks=d.chunks,
                    chars=d.chars,
                    bytes=d.bytes,
                    updated_at=d.updated_at,
                )
                for d in info.documents_list
            ],
        )


def _not_found(name: str) -> ApiError:
    return ApiError(404, "not_found", f"no knowledge base {name}")


@router.get("", response_model=list[KbOut])
async def list_bases(kb: Bases = Depends()) -> Any:
    """The caller's knowledge bases (without their document lists)."""
    from draftsmith.knowledge.kb import list_kbs

    infos = await run_in_threadpool(lambda: list_kbs(kb.store, owner=kb.owner))
    return [KbOut(**i.model_dump()) for i in infos]


@router.post("", response_model=KbOut, status_code=201, responses=error_responses(400, 422))
async def create_base(body: KbCreate, kb: Bases = Depends()) -> Any:
    """Create an empty knowledge base (an existing one of the caller's by that name is returned as it is)."""
    from draftsmith.knowledge.embed import default_embedder
    from draftsmith.knowledge.kb import create_kb

    def create() -> None:
        create_kb(kb.store, body.name, owner=kb.owner, embed_model=default_embedder().name)

    await run_in_threadpool(create)
    return await kb.out(body.name)


@router.get("/{kb_name}", response_model=KbOut, responses=error_responses(404))
async def get_base(kb_name: str = KbParam, kb: Bases = Depends()) -> Any:
    """A knowledge base with its documents (by their stored names)."""
    await kb.visible(kb_name)
    return await kb.out(kb_name)


@router.delete("/{kb_name}", status_code=204, response_class=Response, responses=error_responses(404))
async def delete_base(kb_name: str = KbParam, kb: Bases = Depends()) -> Response:
    """Remove a knowledge base with its documents and passages."""
    from draftsmith.knowledge.kb import remove_kb

    await kb.visible(kb_name)
    await run_in_threadpool(lambda: remove_kb(kb.store, kb_name, owner=kb.owner))
    return Response(status_code=204)


@router.post(
    "/{kb_name}/documents",
    response_model=KbUploadOut,
    status_code=201,
    responses=error_responses(400, 404, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_document(
    request: Request,
    kb_name: str = KbParam,
    filename: str = Query(
        "upload.txt", max_length=1000, description="the file's name: only its extension is used (.md, .pdf, …)"
    ),
    kb: Bases = Depends(),
) -> Any:
    """Add one document: the raw file as the body. It is stored under a generated name, never the client's."""
    from draftsmith.knowledge.kb import add_files
    from draftsmith.knowledge.parsers import SUFFIXES

    await kb.visible(kb_name)
    suffix = Path(filename.replace("\\", "/").split("/")[-1]).suffix.lower()
    if suffix not in SUFFIXES or not suffix.isascii():
        known = ", ".join(sorted(SUFFIXES))
        raise ApiError(400, "input_error", f"unsupported file type {suffix or '(none)'}; supported: {known}")
    data = await request.body()  # the body limit (413) applies on the way in
    if not data:
        raise ApiError(400, "input_error", "the upload is empty; send the file as the request body")
    stored = f"{uuid.uuid4().hex}{suffix}"

    def ingest() -> KbUploadOut:
        folder = Path(tempfile.mkdtemp(prefix="draftsmith-upload-"))
        try:
            path = folder / stored
            with open(path, "xb") as handle:  # a fresh name in a fresh private folder
                handle.write(data)
            with _INGEST:
                report = add_files(kb.store, kb_name, [path], owner=kb.owner)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if report.skipped:
            raise ApiError(400, "input_error", f"the document could not be read: {report.skipped[0].reason}")
        status = "added" if report.added else "updated" if report.updated else "unchanged"
        return KbUploadOut(kb=kb_name, name=stored, status=status, chunks=report.chunks)

    return await run_in_threadpool(ingest)


@router.delete(
    "/{kb_name}/documents/{doc_name}", status_code=204, response_class=Response, responses=error_responses(404)
)
async def delete_document(kb_name: str = KbParam, doc_name: str = DocParam, kb: Bases = Depends()) -> Response:
    """Remove one document (by its stored name) and its passages."""
    from draftsmith.knowledge.kb import remove_documents, stats

    await kb.visible(kb_name)

    def remove() -> bool:
        info = stats(kb.store, kb_name, owner=kb.owner)
        sources = [d.source for d in info.documents_list if Path(d.source).name == doc_name]
        if not sources:
            return False
        remove_documents(kb.store, kb_name, sources, owner=kb.owner)
        return True

    if not await run_in_threadpool(remove):
        raise ApiError(404, "not_found", f"no document {doc_name} in knowledge base {kb_name}")
    return Response(status_code=204)


@router.post("/{kb_name}/search", response_model=list[KbPassageOut], responses=error_responses(400, 404, 422))
async def search(body: KbSearchRequest, kb_name: str = KbParam, kb: Bases = Depends()) -> Any:
    """The passages that best match the query (hybrid BM25 + dense search by default), best first."""
    from draftsmith.knowledge.retrieve import retrieve_passages

    await kb.visible(kb_name)
    found = await run_in_threadpool(
        lambda: retrieve_passages(kb.store, kb_name, body.query, body.k, mode=body.mode, owner=kb.owner)
    )
    return [
        KbPassageOut(document=Path(p.source).name, title=p.title, where=p.location.label(), text=p.text, score=p.score)
        for p in found
    ]


@router.post("/{kb_name}/write", response_model=GroundedResult, responses={**STREAMED, **error_responses(404)})
async def write(body: KbWriteRequest, kb_name: str = KbParam, kb: Bases = Depends(), ctx: Context = Depends()) -> Any:
    """Draft from the base's passages with checked ``[n]`` citations and a reference list (``write --kb``)."""
    from draftsmith.writing.grounded import write_grounded

    await kb.visible(kb_name)
    check_max_tokens(body.max_tokens, token_cap(ctx.principal, ctx.config))
    result = await ctx.run(
        body,
        lambda a, on_text: _shown(
            write_grounded(
                a.model,
                body.instruction,
                store=kb.store,
                kb=kb_name,
                passages=body.passages,
                length=body.length,
                style=body.style,
                lang=body.lang,
                temperature=body.temperature,
                seed=body.seed,
                max_tokens=body.max_tokens,
                on_text=on_text,
                owner=kb.owner,
            )
        ),
    )
    return result


def _shown(result: GroundedResult) -> GroundedResult:
    """Sources as their stored names: the server's staging folders are nobody's business."""
    for ref in result.references:
        ref.source = Path(ref.source).name
    for passage in result.passages:
        passage.source = Path(passage.source).name
    return result
