"""``/api/kg``: the caller's knowledge graphs: list, create, show, remove, curate triples, read entities and
paths, export, fact-check a text, and build from one of the caller's knowledge bases.

Each user has their own namespace of graphs (the store's ``owner``); another user's graph answers 404, exactly as
one that does not exist. A graph is created with ``POST /api/kg`` (or by a build's first run through it): every
route under ``/api/kg/{kg_name}`` needs the graph to exist already, so a name that is not the caller's never acts.

``facts`` lists what the graph knows about the names a text mentions (the editor's graph-facts panel; no model).
Fact checks, grounded writing (``write --kg``) and builds use the model: each is one job in the model's queue, like
any operation. A build is
bounded: one request extracts at most ``limit`` new passages (``kg build`` is incremental and resumable, so the
same request again continues where it stopped).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from draftsmith.errors import InputError
from draftsmith.graph.build import BuildReport
from draftsmith.graph.factcheck import FactCheckResult
from draftsmith.graph.facts import RelatedFacts
from draftsmith.graph.graph import Entity, GraphInfo, TripleInfo
from draftsmith.graph.query import EntityView, PathResult
from draftsmith.server.auth import Principal, check_budget, current_user, token_cap
from draftsmith.server.errors import ApiError
from draftsmith.server.routes_ops import ERRORS, STREAMED, Context, check_max_tokens
from draftsmith.server.runner import run_operation
from draftsmith.server.schemas import KbName, KgWriteRequest, _Request, error_responses
from draftsmith.server.state import get_store
from draftsmith.store.db import Store
from draftsmith.writing.grounded import GroundedResult

router = APIRouter(prefix="/api/kg", tags=["knowledge graphs"])
KgParam = PathParam(min_length=1, max_length=100, description="the knowledge graph's name")
TripleParam = PathParam(ge=1, le=2**62, description="a triple's id (from GET /api/kg/{kg_name}/entities/{entity})")
EntityParam = PathParam(min_length=1, max_length=400, description="an entity's name or one of its aliases")
MEDIA = {"json": "application/json", "graphml": "application/xml", "cypher": "text/plain; charset=utf-8"}
BUILD_LIMIT = 200  # passages one build request extracts at most


class GraphExport(BaseModel):
    """``GET /api/kg/{kg_name}/export`` as JSON (``kg export --format json``)."""

    graph: str
    entities: list[Entity]
    triples: list[TripleInfo]


# -- bodies ------------------------------------------------------------------------------------------------


class KgCreate(_Request):
    name: KbName


class KgTripleCreate(_Request):
    subject: str = Field(min_length=1, max_length=400)
    predicate: str = Field(min_length=1, max_length=200)
    object: str = Field(min_length=1, max_length=400)
    validated: bool = Field(True, description="status validated (checked by a person); false: status user")


class KgFactsRequest(_Request):
    text: str = Field(min_length=1, max_length=200_000, description="the text whose named entities are looked up")
    limit: int = Field(12, ge=1, le=50, description="at most this many facts")


class KgFactcheckRequest(_Request):
    text: str = Field(min_length=1, max_length=50_000, description="the text whose sentences are checked")
    kb: KbName | None = Field(None, description="one of your knowledge bases: its best passages come as evidence")
    passages: int = Field(2, ge=1, le=5, description="passages per claim (with kb)")


# -- scoping ------------------------------------------------------------------------------------------------


class Graphs:
    """The caller's knowledge graphs: every call is scoped to the caller as owner."""

    def __init__(self, principal: Principal = Depends(current_user), store: Store = Depends(get_store)) -> None:
        self.store = store
        self.owner = principal.user_id or ""

    async def visible(self, name: str) -> GraphInfo:
        """The graph if the caller has one by that name (404 otherwise)."""
        from draftsmith.graph.graph import get_graph

        try:
            return await run_in_threadpool(lambda: get_graph(self.store, name, owner=self.owner))
        except InputError:
            raise _not_found(name) from None

    async def kb_visible(self, name: str) -> None:
        """404 unless the caller has a knowledge base by that name."""
        from draftsmith.knowledge.kb import kb_row

        def find() -> None:
            with self.store.read() as conn:
                kb_row(conn, name, self.owner)

        try:
            await run_in_threadpool(find)
        except InputError:
            raise ApiError(404, "not_found", f"no knowledge base {name}") from None


def _not_found(name: str) -> ApiError:
    return ApiError(404, "not_found", f"no knowledge graph {name}")


def _triple_not_found(kg_name: str, triple_id: int) -> ApiError:
    return ApiError(404, "not_found", f"no triple {triple_id} in knowledge graph {kg_name}")


def _owner(ctx: Context) -> str:
    return ctx.principal.user_id or ""


# -- graphs -------------------------------------------------------------------------------------------------


@router.get("", response_model=list[GraphInfo])
async def list_graphs(kg: Graphs = Depends()) -> Any:
    """The caller's knowledge graphs with their counts."""
    from draftsmith.graph.graph import list_graphs as listed

    return await run_in_threadpool(lambda: listed(kg.store, owner=kg.owner))


@router.post("", response_model=GraphInfo, status_code=201, responses=error_responses(400, 422))
async def create_graph(body: KgCreate, kg: Graphs = Depends()) -> Any:
    """Create an empty knowledge graph (an existing one of the caller's by that name is returned as it is)."""
    from draftsmith.graph.graph import ensure_graph, get_graph

    def create() -> GraphInfo:
        with kg.store.write() as conn:
            ensure_graph(conn, body.name, kg.owner)
        return get_graph(kg.store, body.name, owner=kg.owner)

    return await run_in_threadpool(create)


@router.get("/{kg_name}", response_model=GraphInfo, responses=error_responses(404))
async def get_graph(kg_name: str = KgParam, kg: Graphs = Depends()) -> Any:
    """A knowledge graph's counts: entities, triples, validated triples, merges waiting for review."""
    return await kg.visible(kg_name)


@router.delete("/{kg_name}", status_code=204, response_class=Response, responses=error_responses(404))
async def delete_graph(kg_name: str = KgParam, kg: Graphs = Depends()) -> Response:
    """Remove a knowledge graph with its entities, triples and review queue (its knowledge base stays)."""
    from draftsmith.graph.graph import remove_graph

    await kg.visible(kg_name)
    await run_in_threadpool(lambda: remove_graph(kg.store, kg_name, owner=kg.owner))
    return Response(status_code=204)


# -- curation -----------------------------------------------------------------------------------------------


@router.post("/{kg_name}/triples", response_model=TripleInfo, status_code=201, responses=error_responses(400, 404, 422))
async def add_triple(body: KgTripleCreate, kg_name: str = KgParam, kg: Graphs = Depends()) -> Any:
    """Add a fact by hand (``kg add``): status ``validated`` (or ``user``); its entities are created as needed.
    A rebuild never overwrites or deletes it."""
    from draftsmith.graph.graph import add_triple as add

    await kg.visible(kg_name)
    return await run_in_threadpool(
        lambda: add(
            kg.store, kg_name, body.subject, body.predicate, body.object, owner=kg.owner, validated=body.validated
        )
    )


async def _curate(kg: Graphs, kg_name: str, triple_id: int, action: Any) -> TripleInfo:
    await kg.visible(kg_name)
    try:
        return await run_in_threadpool(lambda: action(kg.store, kg_name, str(triple_id), owner=kg.owner))
    except InputError as exc:
        if f"no triple {triple_id} " in str(exc):
            raise _triple_not_found(kg_name, triple_id) from None
        raise


@router.delete("/{kg_name}/triples/{triple_id}", response_model=TripleInfo, responses=error_responses(400, 404))
async def remove_triple(kg_name: str = KgParam, triple_id: int = TripleParam, kg: Graphs = Depends()) -> Any:
    """Remove a fact (``kg remove``): it stays as a ``removed`` tombstone, so a rebuild does not extract it again.
    Answers the triple with its new status."""
    from draftsmith.graph.graph import remove_triple as remove

    return await _curate(kg, kg_name, triple_id, remove)


@router.post("/{kg_name}/triples/{triple_id}/validate", response_model=TripleInfo, responses=error_responses(404))
async def validate_triple(kg_name: str = KgParam, triple_id: int = TripleParam, kg: Graphs = Depends()) -> Any:
    """Mark a fact as checked by a person (``kg validate``): re-extraction never overwrites or deletes it."""
    from draftsmith.graph.graph import validate_triple as validate

    return await _curate(kg, kg_name, triple_id, validate)


# -- reading ------------------------------------------------------------------------------------------------


@router.get("/{kg_name}/entities/{entity}", response_model=EntityView, responses=error_responses(400, 404))
async def show_entity(kg_name: str = KgParam, entity: str = EntityParam, kg: Graphs = Depends()) -> Any:
    """An entity with its aliases and its facts, both directions (``kg show``)."""
    from draftsmith.graph.query import show_entity as show

    await kg.visible(kg_name)
    try:
        return await run_in_threadpool(lambda: show(kg.store, kg_name, entity, owner=kg.owner))
    except InputError as exc:
        if "no entity named" in str(exc):
            raise ApiError(404, "not_found", str(exc)) from None
        raise


@router.get("/{kg_name}/paths", response_model=PathResult, responses=error_responses(400, 404, 422))
async def paths(
    kg_name: str = KgParam,
    source: str = Query("", max_length=400, description="one entity's name (required)"),
    target: str = Query("", max_length=400, description="the other entity's name (required)"),
    max_hops: int = Query(4, ge=1, le=6, description="at most this many facts per path"),
    limit: int = Query(5, ge=1, le=20, description="at most this many paths"),
    kg: Graphs = Depends(),
) -> Any:
    """The shortest simple paths between two entities, either direction (``kg query``); never through a date or a
    value."""
    from draftsmith.graph.query import find_paths

    await kg.visible(kg_name)
    if not source.strip() or not target.strip():
        raise ApiError(400, "input_error", "give both entities: ?source=NAME&target=NAME")
    return await run_in_threadpool(
        lambda: find_paths(kg.store, kg_name, source, target, max_hops=max_hops, limit=limit, owner=kg.owner)
    )


@router.get(
    "/{kg_name}/export",
    response_class=Response,
    responses={
        200: {
            "description": "The whole graph as JSON, GraphML or Cypher statements",
            "model": GraphExport,  # application/json
            "content": {m.split(";")[0]: {"schema": {"type": "string"}} for f, m in MEDIA.items() if f != "json"},
        },
        **error_responses(404, 422),
    },
)
async def export(
    kg_name: str = KgParam,
    fmt: Literal["json", "graphml", "cypher"] = Query("json", alias="format", description="json, graphml or cypher"),
    kg: Graphs = Depends(),
) -> Response:
    """The whole graph (``kg export``): entities with aliases, triples with their sources."""
    from draftsmith.graph.query import export_graph

    await kg.visible(kg_name)
    text = await run_in_threadpool(lambda: export_graph(kg.store, kg_name, fmt, owner=kg.owner))
    return Response(text, media_type=MEDIA[fmt])


@router.post("/{kg_name}/facts", response_model=RelatedFacts, responses=error_responses(400, 404, 422))
async def facts(body: KgFactsRequest, kg_name: str = KgParam, kg: Graphs = Depends()) -> Any:
    """The graph's facts about the entities the text names (facts linking two of them first, then validated ones),
    each with the passages it was read from. No model: names are matched by their aliases."""
    from draftsmith.graph.facts import related_facts

    await kg.visible(kg_name)
    return await run_in_threadpool(
        lambda: related_facts(kg.store, kg_name, body.text, owner=kg.owner, limit=body.limit)
    )


# -- model work ---------------------------------------------------------------------------------------------


@router.post("/{kg_name}/write", response_model=GroundedResult, responses={**STREAMED, **error_responses(404)})
async def write(body: KgWriteRequest, kg_name: str = KgParam, ctx: Context = Depends()) -> Any:
    """Draft from the graph's facts about the names the instruction mentions, cited as ``[n]`` and checked, with a
    reference list (``write --kg``); with ``kb``, that knowledge base's best passages come first."""
    from draftsmith.graph.facts import kg_grounding
    from draftsmith.server.routes_kb import _shown
    from draftsmith.writing.grounded import write_grounded

    kg = Graphs(ctx.principal, ctx.store)
    await kg.visible(kg_name)
    if body.kb:
        await kg.kb_visible(body.kb)
    check_max_tokens(body.max_tokens, token_cap(ctx.principal, ctx.config))

    def draft(a: Any, on_text: Any) -> GroundedResult:
        found = kg_grounding(kg.store, kg_name, body.instruction, kb=body.kb, passages=body.passages, owner=kg.owner)
        return _shown(
            write_grounded(
                a.model,
                body.instruction,
                store=kg.store,
                kb=body.kb or f"kg:{kg_name}",
                retrieved=found,
                length=body.length,
                style=body.style,
                lang=body.lang,
                temperature=body.temperature,
                seed=body.seed,
                max_tokens=body.max_tokens,
                on_text=on_text,
                owner=kg.owner,
            )
        )

    return await ctx.run(body, draft)


@router.post("/{kg_name}/factcheck", response_model=FactCheckResult, responses={**ERRORS, **error_responses(404)})
async def factcheck(body: KgFactcheckRequest, kg_name: str = KgParam, ctx: Context = Depends()) -> Any:
    """Each sentence of the text: supported, contradicted or not found in the graph, with the graph's triples
    as evidence (and, with ``kb``, that knowledge base's best passages)."""
    from draftsmith.graph.factcheck import factcheck as run

    kg = Graphs(ctx.principal, ctx.store)
    await kg.visible(kg_name)
    if body.kb:
        await kg.kb_visible(body.kb)
    return await ctx.run(
        body,
        lambda a, on_text: run(
            a.model, body.text, store=ctx.store, kg=kg_name, kb=body.kb, owner=kg.owner, passages=body.passages
        ),
    )


@router.post("/{kg_name}/build", response_model=BuildReport, responses={**ERRORS, **error_responses(404)})
async def build(
    kg_name: str = KgParam,
    kb: str | None = Query(
        None, min_length=1, max_length=100, description="one of your knowledge bases (default: the graph's name)"
    ),
    limit: int = Query(50, ge=1, le=BUILD_LIMIT, description="extract at most this many new passages this request"),
    ctx: Context = Depends(),
) -> Any:
    """Extract entities and relations from a knowledge base's passages into the graph (``kg build``): only new or
    changed passages, at most ``limit`` of them; send the same request again to continue. One job in the model's
    queue."""
    from draftsmith.graph.build import build_graph
    from draftsmith.knowledge.embed import default_embedder

    kg = Graphs(ctx.principal, ctx.store)
    await kg.visible(kg_name)
    kb_name = kb or kg_name
    await kg.kb_visible(kb_name)
    await check_budget(ctx.principal, ctx.store)
    model, store, owner = ctx.model, ctx.store, _owner(ctx)

    def work(on_text: Any) -> BuildReport:
        # on_text("") between passages: a client that left stops the build there (what is saved stays saved)
        return build_graph(
            store,
            kg_name,
            model,
            kb=kb_name,
            owner=owner,
            on_progress=lambda _: on_text(""),
            embedder=default_embedder(),
            limit=limit,
        )

    return await run_operation(ctx.request, ctx.gate, work)
