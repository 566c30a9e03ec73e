"""kg build: a knowledge graph from a knowledge base's passages, incremental and resumable.

Passages are identified by the sha256 of their text. A build extracts only the passages the graph has not
seen; passages that are gone (a file removed or changed) have their facts retracted — the ``extracted`` triples
no other passage states are deleted, the user's (``validated``, ``user``) stay. Each passage is saved in its own
transaction with the ledger row that marks it done, so an interrupted build keeps what it finished and the same
command resumes. A rebuild with nothing new reads two lists of hashes and returns.

Before they are saved, extracted predicates are normalised (``graph.predicates``): onto the bundled vocabulary and
the predicates the graph already holds, by lexical form and — with an embedder — by e5 similarity, so one relation
keeps one name across passages.

Each passage is shown worked examples (``graph.examples``): the ``EXAMPLES_PER_PASSAGE`` texts nearest to it of a
bank that, by default, holds the user's own validated facts with their passages and the bundled examples
(``graph_bank``). The bank opens with the first passage to extract, so an unchanged rebuild reads no bank and
loads no embedder.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import sqlalchemy as sa
from pydantic import BaseModel, Field

from draftsmith.errors import InputError
from draftsmith.graph import resolve
from draftsmith.graph.examples import ExampleBank, graph_bank
from draftsmith.graph.extract import Extraction, extract_triples
from draftsmith.graph.graph import add_alias, bump, ensure_entity, ensure_graph, upsert_triple
from draftsmith.graph.merge import merge_into
from draftsmith.graph.predicates import PredicateNormaliser
from draftsmith.knowledge.kb import kb_row
from draftsmith.models.base import Model
from draftsmith.store.db import Store
from draftsmith.store.graph import kg_entities, kg_passages, kg_provenance, kg_review, kg_triples
from draftsmith.store.knowledge import kb_chunks, kb_documents

EXAMPLES_PER_PASSAGE = 3


class BuildProgress(BaseModel):
    passages_done: int
    passages_total: int
    stage: str  # extracting, saved, resolving
    triples: int = 0


class BuildReport(BaseModel):
    graph: str
    kb: str
    passages: int = 0  # passages in the knowledge base
    processed: int = 0  # extracted by this run
    unchanged: int = 0  # already in the graph
    retracted_passages: int = 0  # gone from the knowledge base since the last build
    triples_added: int = 0
    triples_retracted: int = 0
    skipped: int = 0  # triples dropped after a retry (entities absent from the passage, empty fields)
    invalid_outputs: int = 0  # model answers that were not valid JSON of the schema
    retried: int = 0
    merged: int = 0
    review: int = 0  # merges waiting in the review queue
    seconds: float = 0.0
    errors: list[str] = Field(default_factory=list)


OnProgress = Callable[[BuildProgress], None]
Extractor = Callable[[str], Extraction]
BankSource = Callable[..., ExampleBank | None]  # (store, graph_id, embedder) → the bank, called when first needed


def passage_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_graph(
    store: Store,
    name: str,
    model: Model | Callable[[], Model] | None,
    *,
    kb: str | None = None,
    owner: str = "",
    on_progress: OnProgress | None = None,
    extractor: Extractor | None = None,
    embedder=None,
    limit: int | None = None,
    examples: ExampleBank | BankSource | None = graph_bank,
) -> BuildReport:
    """Build or update graph ``name`` from knowledge base ``kb`` (default: the same name). ``model`` may be a
    function that opens it, so a build with nothing to do never loads a model. Each passage is shown the
    ``EXAMPLES_PER_PASSAGE`` nearest worked examples of ``examples``: a bank (``graph.examples``), a function
    ``(store, graph_id, embedder)`` that opens one when the first passage needs it — by default ``graph_bank``,
    the user's validated facts and the bundled examples, used when there is an ``embedder`` — or None for none."""
    start = time.perf_counter()
    kb_name = kb or name
    if model is None and extractor is None:
        raise InputError("kg build needs a model to extract relations")
    opened: dict[str, Model] = {}

    def the_model() -> Model | None:
        """A model given as a function opens only when a passage needs it (an unchanged rebuild never does)."""
        if model is None or isinstance(model, Model):
            return model
        if "m" not in opened:
            opened["m"] = model()
        return opened["m"]

    banks: list[ExampleBank | None] = []

    def bank() -> ExampleBank | None:
        """The examples, opened when the first passage needs them (an unchanged rebuild never does)."""
        if not banks:
            if examples is None or isinstance(examples, ExampleBank):
                banks.append(examples)
            else:
                banks.append(examples(store, g.id, embedder))
        return banks[0]

    def extract_one(text: str) -> Extraction:
        shown_from = bank()
        shown = shown_from.nearest(text, EXAMPLES_PER_PASSAGE) if shown_from is not None else []
        return extract_triples(the_model(), text, examples=shown)  # type: ignore[arg-type]

    extract = extractor or extract_one
    names: list[PredicateNormaliser] = []

    def normaliser() -> PredicateNormaliser:
        """Opened when a passage needs it: the bundled vocabulary plus every predicate the graph holds."""
        if not names:
            with store.read() as conn:
                held = conn.scalars(sa.select(kg_triples.c.predicate).where(kg_triples.c.graph_id == g.id).distinct())
                names.append(PredicateNormaliser(list(held), embedder=embedder, store=store))
        return names[0]

    with store.write() as conn:
        kb_r = kb_row(conn, kb_name, owner)
        g = ensure_graph(conn, name, owner, kb_id=kb_r.id)
    with store.read() as conn:
        rows = conn.execute(
            sa.select(kb_chunks.c.id, kb_chunks.c.text, kb_documents.c.source)
            .select_from(kb_chunks.join(kb_documents, kb_documents.c.id == kb_chunks.c.doc_id))
            .where(kb_chunks.c.kb_id == kb_r.id)
            .order_by(kb_chunks.c.id)
        ).all()
        done = set(conn.scalars(sa.select(kg_passages.c.passage_hash).where(kg_passages.c.graph_id == g.id)))
    current: dict[str, tuple[int, str, str]] = {}
    for r in rows:
        current.setdefault(passage_hash(r.text), (r.id, r.text, r.source))
    report = BuildReport(graph=g.name, kb=kb_r.name, passages=len(current))
    if not current:
        raise InputError(f"knowledge base {kb_name!r} has no passages; add documents with: draftsmith kb add")
    gone = done - set(current)
    todo = [h for h in current if h not in done]
    report.unchanged = len(current) - len(todo)
    if limit is not None:
        todo = todo[:limit]
    if gone:
        report.retracted_passages = len(gone)
        report.triples_retracted = _retract(store, g.id, gone)
    total = len(todo)
    for i, h in enumerate(todo):
        chunk_id, text, source = current[h]
        if on_progress:
            on_progress(
                BuildProgress(passages_done=i, passages_total=total, stage="extracting", triples=report.triples_added)
            )
        found = extract(text)
        found.triples = normaliser().triples(found.triples)
        report.skipped += found.skipped
        report.invalid_outputs += found.invalid_outputs
        report.retried += found.retried
        report.errors.extend(f"passage {chunk_id}: {e}" for e in found.errors[:2])
        report.triples_added += _save_passage(store, g.id, h, chunk_id, source, text, found)
        report.processed += 1
        if on_progress:
            on_progress(
                BuildProgress(passages_done=i + 1, passages_total=total, stage="saved", triples=report.triples_added)
            )
    if todo or gone:
        if on_progress:
            on_progress(BuildProgress(passages_done=total, passages_total=total, stage="resolving"))
        ready = model if isinstance(model, Model) else opened.get("m")  # confirm zh/en pairs with a model only if open
        report.merged, report.review = resolve_entities(store, g.id, model=ready, embedder=embedder)
    report.errors = report.errors[:50]
    report.seconds = time.perf_counter() - start
    return report


def _save_passage(store: Store, graph_id: str, h: str, chunk_id: int, source: str, text: str, found: Extraction) -> int:
    """One transaction: the passage's entities, triples, provenance and its ledger row."""
    added = 0
    with store.write() as conn:
        for t in found.triples:
            description = _first_sentence_with(text, t.subject)
            sid = ensure_entity(conn, graph_id, t.subject, t.subject_type, description)
            oid = ensure_entity(conn, graph_id, t.object, t.object_type)
            if sid == oid:
                continue
            tid = upsert_triple(conn, graph_id, sid, t.predicate, oid, t.confidence, "extracted")
            exists = conn.scalar(
                sa.select(sa.func.count())
                .select_from(kg_provenance)
                .where(kg_provenance.c.triple_id == tid, kg_provenance.c.passage_hash == h)
            )
            if not exists:
                conn.execute(
                    kg_provenance.insert().values(
                        triple_id=tid,
                        passage_hash=h,
                        chunk_id=chunk_id,
                        source=source,
                        subject_text=t.subject,
                        object_text=t.object,
                    )
                )
                added += 1
        conn.execute(
            kg_passages.insert().values(
                graph_id=graph_id,
                passage_hash=h,
                chunk_id=chunk_id,
                triples=len(found.triples),
                skipped=found.skipped,
                processed_at=time.time(),
            )
        )
        bump(conn, graph_id)
    return added


def _first_sentence_with(text: str, name: str) -> str:
    from draftsmith.writing.segment import sentences

    for span in sentences(text):
        piece = text[span.start : span.end]
        if name.lower() in piece.lower():
            return " ".join(piece.split())[:300]
    return ""


def _retract(store: Store, graph_id: str, gone: set[str]) -> int:
    """Forget passages that left the knowledge base: their provenance, and the extracted triples only they
    stated. Triples the user owns (validated, user) stay, and so do tombstones of removed ones."""
    with store.write() as conn:
        hashes = list(gone)
        ids = sa.select(kg_triples.c.id).where(kg_triples.c.graph_id == graph_id).scalar_subquery()
        conn.execute(
            kg_provenance.delete().where(kg_provenance.c.passage_hash.in_(hashes), kg_provenance.c.triple_id.in_(ids))
        )
        conn.execute(
            kg_passages.delete().where(kg_passages.c.graph_id == graph_id, kg_passages.c.passage_hash.in_(hashes))
        )
        stated = sa.select(kg_provenance.c.triple_id).scalar_subquery()
        orphans = kg_triples.c.graph_id == graph_id, kg_triples.c.status == "extracted", kg_triples.c.id.not_in(stated)
        count = conn.scalar(sa.select(sa.func.count()).select_from(kg_triples).where(*orphans)) or 0
        conn.execute(kg_triples.delete().where(*orphans))
        _drop_lonely_entities(conn, graph_id)
        bump(conn, graph_id)
    return count


def _drop_lonely_entities(conn, graph_id: str) -> None:
    used = sa.union(sa.select(kg_triples.c.subject_id), sa.select(kg_triples.c.object_id)).subquery()
    conn.execute(
        kg_entities.delete().where(kg_entities.c.graph_id == graph_id, kg_entities.c.id.not_in(sa.select(used.c[0])))
    )


def resolve_entities(store: Store, graph_id: str, *, model: Model | None = None, embedder=None) -> tuple[int, int]:
    """Merge entities the rules are sure about; queue the less sure pairs for review. Returns (merged, queued)."""
    with store.read() as conn:
        ents = [
            resolve.EntityRef(id=r.id, name=r.name, type=r.type)
            for r in conn.execute(sa.select(kg_entities).where(kg_entities.c.graph_id == graph_id)).all()
        ]
        decided = {
            (min(a, b), max(a, b))
            for a, b in conn.execute(
                sa.select(kg_review.c.entity_a, kg_review.c.entity_b).where(kg_review.c.graph_id == graph_id)
            ).all()
        }
    found = resolve.candidates(ents)
    if embedder is not None:
        found += resolve.cross_script_candidates(ents, embedder, model)
    merged = queued = 0
    gone: set[int] = set()
    with store.write() as conn:
        for c in found:
            if c.a in gone or c.b in gone:
                continue
            if c.confidence >= resolve.MERGE_AT:
                other_name = conn.scalar(sa.select(kg_entities.c.name).where(kg_entities.c.id == c.b))
                merge_into(conn, graph_id, c.a, c.b, c.confidence, c.rule)
                add_alias(conn, graph_id, c.a, other_name or "", c.confidence, c.rule)
                gone.add(c.b)
                merged += 1
            elif c.confidence >= resolve.REVIEW_AT and (min(c.a, c.b), max(c.a, c.b)) not in decided:
                conn.execute(
                    kg_review.insert().values(
                        graph_id=graph_id,
                        entity_a=c.a,
                        entity_b=c.b,
                        confidence=c.confidence,
                        reason=c.reason,
                        status="open",
                        created_at=time.time(),
                    )
                )
                decided.add((min(c.a, c.b), max(c.a, c.b)))
                queued += 1
        if merged or queued:
            bump(conn, graph_id)
    return merged, queued
