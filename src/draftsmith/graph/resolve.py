"""Entity resolution: which names are one entity, and how sure we are.

Rules, strongest first (confidence in brackets):

- same key after normalisation — case, width, quotes, underscores, a leading "the" [1.0]: one entity from the
  start (the alias table of the store maps every key to its entity);
- a disambiguation in brackets dropped, ``Turn Me On (album)`` / ``Turn Me On`` [0.9];
- a row of the alias table (``data/aliases.tsv``: Chinese and English names of the same thing, common
  abbreviations) [0.95];
- an abbreviation made of the initials of the other name, ``IBM`` / ``International Business Machines`` [0.85];
- a Chinese and an English name that the embedding model puts close together and the language model confirms
  [0.7];
- one name's words all inside the other's, ``Vik`` / ``Tomas Vik`` [0.6].

At ``MERGE_AT`` and above the builder merges; between ``REVIEW_AT`` and ``MERGE_AT`` the pair goes to the review
queue (``kg review``, then ``kg merge A B`` or a rejection). Dates and values are never merged by rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

from pydantic import BaseModel

from draftsmith.graph.extract import normalise, tokens, value_type
from draftsmith.models.base import GenParams, Message, Model

MERGE_AT = 0.8
REVIEW_AT = 0.5
CROSS_SCRIPT_COSINE = 0.88  # e5 cosine of two names in different scripts worth asking the model about

_SMALL = {"of", "and", "the", "for", "de", "du", "des", "la", "le", "&", "a", "an", "in", "on", "at"}


class Candidate(BaseModel):
    """Two entities (by id) that may be one, with the rule that says so."""

    a: int
    b: int
    confidence: float
    rule: str
    reason: str


class EntityRef(BaseModel):
    id: int
    name: str
    type: str = "THING"


def entity_key(name: str) -> str:
    """The form an alias is stored under: normalised, without a leading article."""
    key = normalise(name)
    key = re.sub(r"^(?:the|a|an) ", "", key)
    return key[:400]


def variant_keys(name: str) -> list[str]:
    """Other keys the same name is found under: without a bracketed disambiguation."""
    out = []
    bare = re.sub(r"\s*[(（][^)）]*[)）]\s*", " ", name).strip()
    if bare and bare != name.strip():
        out.append(entity_key(bare))
    return [k for k in out if k]


def acronym(name: str) -> str:
    """``International Business Machines`` → ``ibm``; empty for names of one word."""
    words = [w for w in re.findall(r"[A-Za-z][\w'-]*", name) if w.lower() not in _SMALL]
    if len(words) < 2:
        return ""
    return "".join(w[0] for w in words).lower()


def is_cjk_name(name: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in name)


@lru_cache(maxsize=1)
def alias_table() -> dict[str, int]:
    """Key → group number for the bundled table of names that mean the same thing."""
    groups: dict[str, int] = {}
    text = resources.files("draftsmith.graph").joinpath("data/aliases.tsv").read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines()):
        if not line.strip() or line.startswith("#"):
            continue
        for name in line.split("\t"):
            if name.strip():
                groups[entity_key(name)] = number
    return groups


def candidates(entities: Sequence[EntityRef]) -> list[Candidate]:
    """Pairs of entities that rules say may be one (each pair once, strongest rule)."""
    names = [e for e in entities if value_type(e.name) is None and e.type not in ("DATE", "VALUE")]
    by_key: dict[str, EntityRef] = {entity_key(e.name): e for e in names}
    found: dict[tuple[int, int], Candidate] = {}

    def propose(a: EntityRef, b: EntityRef, confidence: float, rule: str, reason: str) -> None:
        if a.id == b.id:
            return
        pair = (min(a.id, b.id), max(a.id, b.id))
        if pair not in found or found[pair].confidence < confidence:
            # the entity kept is the one with the longer (fuller) name
            keep, other = (a, b) if len(a.name) >= len(b.name) else (b, a)
            found[pair] = Candidate(a=keep.id, b=other.id, confidence=confidence, rule=rule, reason=reason)

    table = alias_table()
    groups: dict[int, list[EntityRef]] = {}
    acronyms: dict[str, list[EntityRef]] = {}
    for e in names:
        key = entity_key(e.name)
        for variant in variant_keys(e.name):
            if variant in by_key:
                propose(e, by_key[variant], 0.9, "variant", f"{e.name!r} is {by_key[variant].name!r} with a note")
        if key in table:
            groups.setdefault(table[key], []).append(e)
        short = acronym(e.name)
        if short and len(short) >= 2:
            acronyms.setdefault(short, []).append(e)
    for members in groups.values():
        for other in members[1:]:
            propose(members[0], other, 0.95, "table", f"{members[0].name!r} and {other.name!r} name the same thing")
    for e in names:
        compact = entity_key(e.name).replace(" ", "")
        if 2 <= len(compact) <= 8 and e.name.replace(".", "").replace(" ", "").isupper():
            for long in acronyms.get(compact.lower(), []):
                propose(long, e, 0.85, "acronym", f"{e.name!r} is the initials of {long.name!r}")
    # one name's words inside the other's (same type, or one of them untyped)
    index: dict[str, list[EntityRef]] = {}
    for e in names:
        for w in set(tokens(e.name)):
            index.setdefault(w, []).append(e)
    for e in names:
        words = set(tokens(e.name))
        if not words or is_cjk_name(e.name):
            continue
        rarest = min(words, key=lambda w: len(index.get(w, [])))
        for other in index.get(rarest, []):
            if other.id == e.id or len(tokens(other.name)) <= len(words):
                continue
            if words <= set(tokens(other.name)) and _compatible(e.type, other.type):
                propose(other, e, 0.6, "contained", f"every word of {e.name!r} is in {other.name!r}")
    return sorted(found.values(), key=lambda c: -c.confidence)


def _compatible(a: str, b: str) -> bool:
    return a == b or "THING" in (a, b) or "MISC" in (a, b)


def cross_script_candidates(
    entities: Sequence[EntityRef], embedder, model: Model | None, *, limit: int = 50
) -> list[Candidate]:
    """Chinese/English pairs close in the multilingual embedding space, confirmed by the model (if given)."""
    zh = [e for e in entities if is_cjk_name(e.name) and e.type not in ("DATE", "VALUE")]
    en = [e for e in entities if not is_cjk_name(e.name) and value_type(e.name) is None]
    if not zh or not en or embedder is None:
        return []
    import numpy as np

    en_vectors = np.stack([embedder.query(e.name) for e in en])
    out: list[Candidate] = []
    for e in zh[:limit]:
        sims = en_vectors @ embedder.query(e.name)
        best = int(np.argmax(sims))
        if float(sims[best]) < CROSS_SCRIPT_COSINE:
            continue
        other = en[best]
        if model is not None and not same_entity(model, e.name, other.name):
            continue
        out.append(
            Candidate(
                a=other.id,
                b=e.id,
                confidence=0.7,
                rule="model",
                reason=f"{e.name!r} and {other.name!r} look like one name in two languages",
            )
        )
    return out


def same_entity(model: Model, a: str, b: str) -> bool:
    """Ask the model whether two names (often in two languages) refer to the same thing."""
    schema = {"type": "object", "properties": {"same": {"type": "boolean"}}, "required": ["same"]}
    messages = [
        Message(role="system", content="You decide whether two names refer to the same real-world thing."),
        Message(role="user", content=f'Do "{a}" and "{b}" name the same thing? Answer JSON {{"same": true|false}}.'),
    ]
    try:
        answer = model.json(messages, schema, GenParams(max_tokens=20, temperature=0.0))
    except Exception:  # a model that cannot answer confirms nothing
        return False
    return bool(isinstance(answer, dict) and answer.get("same") is True)
