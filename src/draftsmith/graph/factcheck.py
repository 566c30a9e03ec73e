"""factcheck: each claim of a text is supported, contradicted or not found in a knowledge graph.

1. The text is split into sentences; each sentence is a claim.
2. The claim's facts are extracted like a passage's (``extract_triples``: JSON schema, names checked against the
   claim), and their predicates normalised onto the predicates the graph holds (``graph.predicates``, the same
   step ``kg build`` takes, with the graph's predicates as the only vocabulary). A claim the model finds no fact
   in is still looked up by the names it mentions.
3. Each claim fact is compared with the graph's facts about its subject (and, reversed, its object):
   - the graph states the same object (``match.same_object``) under a related predicate → **supported**;
   - the graph states, under the same predicate (``match.PredicateMatcher.same``), only other objects of the same
     kind — another date, another number, another entity → **contradicted**; a date or number also contradicts
     when the graph holds exactly one value of that kind for the subject under a related predicate;
   - otherwise → **not found**.
   When no claim fact settles it (the model found none, or none about the graph's entities), the dates and numbers
   the sentence writes are compared with the graph's values for an entity it names, under a predicate whose words
   it uses ("recorded on …" for recordDate); then facts linking two names the sentence mentions support it.
4. With a knowledge base, the claim's best passages come along as evidence too.

A claim is contradicted if any of its facts is, supported if any is (and none contradicted), else not found.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from draftsmith.errors import InputError
from draftsmith.graph.extract import Triple, extract_triples, normalise, predicate_words, tokens, value_type
from draftsmith.graph.graph import TripleInfo, entity_id, graph_row, triples
from draftsmith.graph.match import (
    GENERIC_WORDS,
    RELATED_COSINE,
    PredicateMatcher,
    date_parts,
    kind,
    numbers,
    same_object,
)
from draftsmith.graph.predicates import PredicateNormaliser
from draftsmith.graph.resolve import entity_key
from draftsmith.knowledge.retrieve import Passage
from draftsmith.models.base import Model
from draftsmith.store.db import Store
from draftsmith.store.graph import kg_aliases, kg_triples

Verdict = Literal["supported", "contradicted", "not_found"]


class Evidence(BaseModel):
    triple: TripleInfo
    relation: Literal["supports", "contradicts"]


class ClaimCheck(BaseModel):
    claim: str
    start: int
    end: int
    verdict: Verdict
    claim_triples: list[Triple] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    reason: str = ""


class FactCheckResult(BaseModel):
    graph: str
    claims: list[ClaimCheck] = Field(default_factory=list)
    supported: int = 0
    contradicted: int = 0
    not_found: int = 0
    invalid_outputs: int = 0
    skipped: int = 0
    warnings: list[str] = Field(default_factory=list)


def split_claims(text: str) -> list[tuple[int, int, str]]:
    """Sentences of ``text`` that can state a fact (at least two words or six characters)."""
    from draftsmith.writing.segment import sentences

    out = []
    for line_start, line in _lines(text):
        for span in sentences(line):
            piece = line[span.start : span.end].strip()
            if len(piece) >= 6 and any(ch.isalnum() for ch in piece) and not piece.startswith("#"):
                out.append((line_start + span.start, line_start + span.end, piece))
    return out


def _lines(text: str):
    pos = 0
    for line in text.split("\n"):
        yield pos, line
        pos += len(line) + 1


class GraphFacts:
    """The graph's facts, indexed by entity, and name lookup through aliases."""

    def __init__(self, store: Store, name: str, owner: str = "") -> None:
        import sqlalchemy as sa

        with store.read() as conn:
            row = graph_row(conn, name, owner)
            self.graph_id = row.id
            self.facts = triples(conn, row.id, kg_triples.c.status.in_(("extracted", "validated", "user")))
            self.aliases = dict(
                conn.execute(
                    sa.select(kg_aliases.c.key, kg_aliases.c.entity_id).where(kg_aliases.c.graph_id == row.id)
                ).all()
            )
        self.store = store
        self.by_subject: dict[int, list[TripleInfo]] = {}
        self.by_object: dict[int, list[TripleInfo]] = {}
        for t in self.facts:
            self.by_subject.setdefault(t.subject_id, []).append(t)
            self.by_object.setdefault(t.object_id, []).append(t)

    def resolve(self, name: str, claim: str = "") -> int | None:
        """The entity a claim's subject or object names: by alias; else the one entity whose name holds all of
        its words, preferring entities the claim names in full ("1147" in "the asteroid 1147 Stavropolis")."""
        found = self.aliases.get(entity_key(name))
        if found is not None:
            return found
        with self.store.read() as conn:
            found = entity_id(conn, self.graph_id, name)
        if found is not None:
            return found
        words = set(tokens(name))
        if not words:
            return None
        holding = {e for key, e in self.aliases.items() if words <= set(key.split())}
        named = holding & self.mentioned(claim) if claim else set()
        # a bare number or year only stands for a name the claim spells out in full
        for pool in (named,) if value_type(name) else (named, holding):
            if len(pool) == 1:
                return next(iter(pool))
        return None

    def mentioned(self, text: str) -> set[int]:
        """Entities whose alias occurs in ``text`` (whole words)."""
        padded = f" {normalise(text)} "
        return {e for key, e in self.aliases.items() if len(key) >= 3 and f" {key} " in padded}


def check_claim_triple(
    ct: Triple, graph: GraphFacts, matcher: PredicateMatcher, claim: str = ""
) -> tuple[Verdict, list[Evidence]]:
    subject = graph.resolve(ct.subject, claim)
    reverse = graph.resolve(ct.object, claim)
    if subject is None and reverse is None:
        return "not_found", []
    facts = graph.by_subject.get(subject, []) if subject is not None else []
    # supported: same object, related predicate (either direction)
    for t in facts:
        if same_object(ct.object, t.object) and matcher.similarity(ct.predicate, t.predicate) >= RELATED_COSINE:
            return "supported", [Evidence(triple=t, relation="supports")]
    if reverse is not None:
        for t in graph.by_subject.get(reverse, []):
            if same_object(ct.subject, t.object) and matcher.similarity(ct.predicate, t.predicate) >= RELATED_COSINE:
                return "supported", [Evidence(triple=t, relation="supports")]
    for t in facts:  # the same object under a looser predicate still supports ("wrote" vs "author")
        if same_object(ct.object, t.object):
            return "supported", [Evidence(triple=t, relation="supports")]
    # contradicted: the same predicate with only other objects of the same kind
    claim_kind = kind(ct.object)
    same_pred = [t for t in facts if matcher.same(ct.predicate, t.predicate) and kind(t.object) == claim_kind]
    if same_pred:
        return "contradicted", [Evidence(triple=t, relation="contradicts") for t in same_pred[:3]]
    if claim_kind in ("DATE", "VALUE"):
        values = [t for t in facts if kind(t.object) == claim_kind]
        related = [t for t in values if matcher.similarity(ct.predicate, t.predicate) >= RELATED_COSINE]
        if len(values) == 1 and related:
            return "contradicted", [Evidence(triple=related[0], relation="contradicts")]
    if subject is None and reverse is not None:  # "X is the capital of France" vs (France, capital, Paris)
        rev = [t for t in graph.by_subject.get(reverse, []) if matcher.same(ct.predicate, t.predicate)]
        if rev and all(kind(t.object) == kind(ct.subject) for t in rev):
            return "contradicted", [Evidence(triple=t, relation="contradicts") for t in rev[:3]]
    return "not_found", []


def factcheck(
    model: Model,
    text: str,
    *,
    store: Store,
    kg: str,
    kb: str | None = None,
    owner: str = "",
    embedder=None,
    passages: int = 2,
) -> FactCheckResult:
    """Check every claim of ``text`` against graph ``kg`` (and show passages of ``kb`` as evidence)."""
    if not text or not text.strip():
        raise InputError("the text to check is empty")
    graph = GraphFacts(store, kg, owner)
    result = FactCheckResult(graph=kg)
    if not graph.facts:
        raise InputError(f"knowledge graph {kg!r} is empty: build it (kg build) or add triples (kg add)")
    if embedder is None:
        from draftsmith.knowledge.embed import default_embedder

        embedder = default_embedder()
    matcher = PredicateMatcher(embedder)
    names = PredicateNormaliser({t.predicate for t in graph.facts}, embedder=embedder, store=store, bundled=False)
    claims = split_claims(text)
    if not claims:
        raise InputError("found no sentence to check in the text")
    for start, end, claim in claims:
        found = extract_triples(model, claim)
        result.invalid_outputs += found.invalid_outputs
        result.skipped += found.skipped
        found.triples = [names.triple(t) for t in found.triples]
        check = ClaimCheck(claim=claim, start=start, end=end, verdict="not_found", claim_triples=found.triples)
        verdicts = []
        for ct in found.triples:
            verdict, evidence = check_claim_triple(ct, graph, matcher, claim)
            verdicts.append(verdict)
            check.evidence.extend(evidence)
        if "contradicted" in verdicts:
            check.verdict = "contradicted"
            check.evidence = [e for e in check.evidence if e.relation == "contradicts"]
            check.reason = "the graph states something else"
        elif "supported" in verdicts:
            check.verdict = "supported"
            check.reason = "the graph states this"
        else:
            verdict, evidence = _value_check(claim, graph)
            lexical = _lexical_support(claim, graph) if verdict == "not_found" else []
            if verdict != "not_found":
                check.verdict, check.evidence = verdict, evidence
                check.reason = f"the graph's value for what this sentence names ({evidence[0].triple.predicate})"
            elif lexical:
                check.verdict, check.evidence = "supported", lexical
                check.reason = "the graph links the names this sentence mentions"
            else:
                check.reason = "no fact in the graph about this" if not found.triples else "the graph does not say"
        if kb:
            from draftsmith.knowledge.retrieve import retrieve_passages

            check.passages = retrieve_passages(store, kb, claim[:1000], passages, owner=owner, embedder=embedder)
        result.claims.append(check)
    result.supported = sum(c.verdict == "supported" for c in result.claims)
    result.contradicted = sum(c.verdict == "contradicted" for c in result.claims)
    result.not_found = sum(c.verdict == "not_found" for c in result.claims)
    return result


def _lexical_support(claim: str, graph: GraphFacts) -> list[Evidence]:
    """Facts whose subject and object are both named in the claim (when the model found no usable fact)."""
    named = graph.mentioned(claim)
    padded = f" {normalise(claim)} "
    out = []
    for e in named:
        for t in graph.by_subject.get(e, []):
            if t.object_id in named or f" {normalise(t.object)} " in padded:
                out.append(Evidence(triple=t, relation="supports"))
    return out[:3]


def _value_check(claim: str, graph: GraphFacts) -> tuple[Verdict, list[Evidence]]:
    """When the model found no usable fact: the dates and numbers the claim writes, compared with the values the
    graph holds for an entity the claim names, under a predicate whose words the claim uses ("recorded on",
    "revenue"). A matching value supports; only other values of that kind contradict."""
    named = graph.mentioned(claim)
    if not named:
        return "not_found", []
    rest = f" {normalise(claim)} "
    for key, e in graph.aliases.items():  # numbers inside names ("1147 Stavropolis") are not claimed values
        if e in named and len(key) >= 3:
            rest = rest.replace(f" {key} ", " ")
    words = rest.split()
    years = {y for y in (date_parts(w)[0] for w in words) if y is not None}
    values = numbers(" ".join(w for w in words if not re.fullmatch(r"1\d{3}|20\d{2}", w)))
    for e in named:
        for t in graph.by_subject.get(e, []):
            fact_kind = kind(t.object)
            if fact_kind == "NAME" or not _predicate_in(t.predicate, words):
                continue
            if fact_kind == "DATE" and years:
                year = date_parts(t.object)[0]
                if year in years:
                    return "supported", [Evidence(triple=t, relation="supports")]
                return "contradicted", [Evidence(triple=t, relation="contradicts")]
            if fact_kind == "VALUE" and values:
                fact_values = numbers(t.object)
                if fact_values and any(abs(v - fact_values[0]) <= 1e-6 * max(1.0, abs(v)) for v in values):
                    return "supported", [Evidence(triple=t, relation="supports")]
                if fact_values:
                    return "contradicted", [Evidence(triple=t, relation="contradicts")]
    return "not_found", []


def _predicate_in(predicate: str, words: list[str]) -> bool:
    """Whether the claim uses a word of the predicate (by its first five letters: "recorded" for recordDate)."""
    wanted = [w for w in predicate_words(predicate).split() if w not in GENERIC_WORDS and len(w) >= 3]
    return any(any(x.startswith(w[:5]) for x in words) for w in wanted)
