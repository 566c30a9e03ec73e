"""Worked examples chosen per passage: the nearest texts of a bank of (text, triples) pairs, by e5 similarity.

A few examples that resemble the passage teach the model the relation names and the directions a graph uses for
that kind of text far better than fixed ones ("kNN few-shot"): a passage about an airport gets airports'
``runwayName``, ``cityServed`` and ``elevationAboveTheSeaLevel``. ``extract.extract_triples`` takes them as
``examples`` and puts them after the template's own examples, so the fixed part of the prompt stays one prefix
(the model's KV cache keeps it between passages).

- ``Example``: a text and the triples it states, each subject and object written as the text writes it (the
  extractor checks that names occur in the passage, so an example must show names as written).
- ``as_written``: a reference triple's ends (DBpedia style: ``Alan_Shepard``, ``"1923-11-18"``,
  ``Turn_Me_On_(album)``) found in the text (``Alan Shepard``, ``November of 1923``, ``Turn Me On``) with
  ``match.same_object``; a text with an end it cannot find is no example (``from_reference`` gives None).
- ``ExampleBank.nearest``: the ``k`` bank texts closest to the passage by e5 cosine (``query:`` side for both, a
  symmetric task), the closest last (nearest the passage), identical texts skipped.

The bank ``kg build`` uses by default (``graph_bank``): the user's own examples first, then those of an
``--examples`` file, then the bundled ones; ``kg build --no-examples`` uses none.

- The user's own (``user_examples``): each passage that stated a triple the user validated (``kg validate``, or
  ``kg add`` of a fact a passage states), with all of that passage's validated triples, ends as the passage writes
  them (the surface forms the provenance kept, found again with ``as_written``), the passage cut to the sentences
  that hold them. A fact added by hand that no passage states has no text and gives no example. The user's
  examples are listed first, so where one is exactly as near as a bundled one it wins; in practice they win by
  being near, since they come from the same documents. An example shows only the facts the user validated, so a
  passage whose facts are all validated teaches best.
- The bundled bank (``data/examples.jsonl``, ``bundled_examples``): 112 short encyclopaedic texts (1–3 sentences;
  19 of them Chinese) about airports, astronauts, athletes and teams, buildings and monuments, cities, countries
  and regions, politicians, universities, companies and organisations, vehicles, books, films, music, television,
  food, celestial bodies, scientists, rivers, lakes and mountains, with their facts under relation names from
  the bundled vocabulary (``data/predicates.txt``). They were written for draftsmith from general knowledge —
  not drawn from WebNLG or any other data set — and are under the project's licence. The figure they give on the
  WebNLG benchmark is in docs/architecture.md (``bench/kg_extraction.py --bank bundled``).
- Vectors: every bank text's e5 query vector is cached in the store by content hash (``knowledge.embed``'s
  ``kb_embeddings``, under the embedder's ``:query`` name, as ``graph.predicates`` caches predicate words), so a
  build embeds a bank text once, ever; the bank is opened only when a passage needs extracting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from draftsmith.errors import InputError
from draftsmith.graph.extract import normalise, occurs_in, tokens, value_type
from draftsmith.graph.match import bare, date_parts, same_object

MAX_SPAN_WORDS = 10
BUNDLED = Path(__file__).parent / "data" / "examples.jsonl"  # the bank written for draftsmith (see the docstring)


class Example(BaseModel):
    """A text and the facts it states, names as the text writes them."""

    text: str
    triples: list[list[str]]


def _clean(name: str) -> str:
    """A DBpedia-style name as plain words: underscores, surrounding quotes and a bracketed note removed."""
    name = name.replace("_", " ").strip().strip('"').strip()
    return re.sub(r"\s*\([^)]*\)\s*$", "", name).strip() or name


def _spans(text: str) -> list[str]:
    words = text.split()
    out = []
    for i in range(len(words)):
        for j in range(i + 1, min(len(words), i + MAX_SPAN_WORDS) + 1):
            span = " ".join(words[i:j]).strip(".,;:!?()[]\"'")
            if span:
                out.append(span)
    return list(dict.fromkeys(out))


def as_written(name: str, text: str) -> str | None:
    """How ``text`` writes ``name`` (a reference triple's subject or object), or None when it does not."""
    plain = _clean(name)
    spans = _spans(text)
    if occurs_in(plain, text) == 1.0:  # written so, up to case and punctuation: the text's own spelling
        key = normalise(plain)
        return next((s for s in spans if normalise(s) == key), plain)
    found = [s for s in spans if same_object(s, name)]
    if not found:
        return None
    if value_type(name) or value_type(plain):  # a date: the span with the most of its parts, then the shortest
        parts = [p is not None for p in date_parts(name)]

        def date_rank(s: str) -> tuple[int, int]:
            got = date_parts(s)
            return (sum(a and b is not None for a, b in zip(parts, got, strict=True)), -len(s.split()))

        return max(found, key=date_rank)
    want = set(tokens(bare(name)))

    def rank(s: str) -> tuple[float, int]:
        have = set(tokens(s))
        return (len(want & have) / len(want | have) if want | have else 0.0, -len(s.split()))

    return max(found, key=rank)


def from_reference(text: str, triples: Iterable[Sequence[str]]) -> Example | None:
    """An example from a text and its reference triples, every end as the text writes it; None if one is not."""
    out = []
    for s, p, o in triples:
        s_text, o_text = as_written(s, text), as_written(o, text)
        if s_text is None or o_text is None or normalise(s_text) == normalise(o_text):
            return None
        out.append([s_text, p, o_text])
    return Example(text=text, triples=out) if out else None


def read_examples(path: Path) -> tuple[list[Example], int]:
    """The examples of a JSON-lines file ``{"text": ..., "triples": [[s, p, o], ...]}`` (ends as written or DBpedia
    style) and how many lines gave none; a line of another shape is an ``InputError`` naming its number."""
    try:
        raw = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text; save it as UTF-8 JSON lines") from None
    lines = [(n, line) for n, line in enumerate(raw.splitlines(), 1) if line.strip()]
    found: list[Example] = []
    for n, line in lines:
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{path}:{n}: not JSON ({getattr(exc, 'msg', exc)})") from None
        triples = item.get("triples") if isinstance(item, dict) else None
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("text"), str)
            or not isinstance(triples, list)
            or not all(isinstance(t, list) and len(t) == 3 and all(isinstance(x, str) for x in t) for t in triples)
        ):
            raise InputError(
                f'{path}:{n}: expected {{"text": "...", "triples": [["subject", "relation", "object"], ...]}}'
            )
        example = from_reference(item["text"], triples)
        if example is not None:
            found.append(example)
    if lines and not found:
        raise InputError(
            f"{path} has no usable example ({len(lines)} line(s)): each needs a text in which every triple's "
            "subject and object appear as written"
        )
    return found, len(lines) - len(found)


@lru_cache(maxsize=1)
def _bundled() -> tuple[Example, ...]:
    return tuple(read_examples(BUNDLED)[0])


def bundled_examples() -> list[Example]:
    """The bundled bank (``data/examples.jsonl``): short encyclopaedic texts written for draftsmith."""
    return [e.model_copy(deep=True) for e in _bundled()]


def _trimmed(text: str, triples: list[list[str]]) -> str:
    """``text`` cut to the sentences that hold an end of ``triples`` (a long passage makes a long prompt); the
    whole text when the cut would lose an end."""
    from draftsmith.writing.segment import sentences

    ends = {normalise(x) for s, _, o in triples for x in (s, o)}
    kept = [
        " ".join(text[sp.start : sp.end].split())
        for sp in sentences(text)
        if any(occurs_in(e, text[sp.start : sp.end]) == 1.0 for e in ends)
    ]
    cut = " ".join(kept)
    if kept and all(occurs_in(s, cut) == 1.0 and occurs_in(o, cut) == 1.0 for s, _, o in triples):
        return cut
    return " ".join(text.split())


def user_examples(store, graph_id: str) -> list[Example]:
    """Examples from the user's checked facts: each passage that states a ``validated`` or ``user`` triple, with
    all of its such triples, ends as the passage writes them (see the module docstring)."""
    import sqlalchemy as sa

    from draftsmith.graph.build import passage_hash
    from draftsmith.graph.graph import triple_query
    from draftsmith.store.graph import kg_provenance, kg_triples
    from draftsmith.store.knowledge import kb_chunks

    prov = kg_provenance.c
    with store.read() as conn:
        rows = conn.execute(
            triple_query(graph_id)
            .add_columns(prov.passage_hash, prov.chunk_id, prov.subject_text, prov.object_text)
            .join(kg_provenance, prov.triple_id == kg_triples.c.id)
            .where(kg_triples.c.status.in_(("validated", "user")))
            .order_by(prov.passage_hash, kg_triples.c.id)
        ).all()
        chunk_ids = sorted({r.chunk_id for r in rows if r.chunk_id is not None})
        texts: dict[int, str] = {}
        for i in range(0, len(chunk_ids), 500):  # in slices: any number of passages works
            part = chunk_ids[i : i + 500]
            texts.update(
                conn.execute(sa.select(kb_chunks.c.id, kb_chunks.c.text).where(kb_chunks.c.id.in_(part))).all()
            )
    by_passage: dict[str, list] = {}
    for r in rows:
        by_passage.setdefault(r.passage_hash, []).append(r)
    out: list[Example] = []
    for h, group in by_passage.items():
        text = next((texts[r.chunk_id] for r in group if r.chunk_id in texts), None)
        if text is None or passage_hash(text) != h:  # the passage is no longer in the knowledge base as it was
            continue
        triples: list[list[str]] = []
        for r in group:
            s = as_written(r.subject_text or r.subject, text) or as_written(r.subject, text)
            o = as_written(r.object_text or r.object, text) or as_written(r.object, text)
            if s and o and normalise(s) != normalise(o) and [s, r.predicate, o] not in triples:
                triples.append([s, r.predicate, o])
        if triples:
            out.append(Example(text=_trimmed(text, triples), triples=triples))
    return out


def cached_bank(found: Sequence[Example], embedder, store=None) -> ExampleBank:
    """A bank whose text vectors come from the store's embedding cache (the e5 ``query`` side, by content hash),
    embedding only the texts it has not seen; without a store (or an embedder with no cache name), embedded now."""
    if store is None or not getattr(embedder, "name", None) or not found:
        return ExampleBank(found, embedder)
    from draftsmith.graph.predicates import QueryVectors
    from draftsmith.knowledge.embed import embed_passages

    return ExampleBank(found, embedder, embed_passages(store, QueryVectors(embedder), [e.text for e in found]))


def graph_bank(
    store, graph_id: str, embedder, *, extra: Sequence[Example] = (), bundled: bool = True, user: bool = True
) -> ExampleBank | None:
    """The bank ``kg build`` shows examples from: the user's own examples of graph ``graph_id``, then ``extra``
    (an ``--examples`` file), then the bundled bank; None without an embedder (nearness needs one)."""
    if embedder is None:
        return None
    own = user_examples(store, graph_id) if user and store is not None else []
    found = [*own, *extra, *(bundled_examples() if bundled else [])]
    return cached_bank(found, embedder, store) if found else None


class ExampleBank:
    """Examples and their e5 vectors; ``nearest`` picks the ones for a passage."""

    def __init__(self, examples: Iterable[Example], embedder, vectors: np.ndarray | None = None) -> None:
        self.examples = list(examples)
        self.embedder = embedder
        if vectors is None:
            vectors = (
                np.stack([np.asarray(embedder.query(e.text), dtype=np.float32) for e in self.examples])
                if self.examples
                else np.zeros((0, getattr(embedder, "dim", 1)), dtype=np.float32)
            )
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.left_out = 0  # lines of the file it was read from that gave no example (``from_jsonl``)
        if len(self.vectors) != len(self.examples):
            raise ValueError("one vector per example")

    @classmethod
    def from_jsonl(cls, path: Path, embedder) -> ExampleBank:
        """A bank from JSON lines ``{"text": ..., "triples": [[s, p, o], ...]}`` (``read_examples``); ``left_out``
        counts the lines whose ends ``from_reference`` cannot find in their text."""
        found, left_out = read_examples(path)
        bank = cls(found, embedder)
        bank.left_out = left_out
        return bank

    def __len__(self) -> int:
        return len(self.examples)

    def nearest(self, passage: str, k: int = 3) -> list[Example]:
        """The ``k`` examples closest to ``passage``, closest last; texts equal to the passage are skipped."""
        if k <= 0 or not self.examples:
            return []
        scores = self.vectors @ np.asarray(self.embedder.query(passage), dtype=np.float32)
        key = normalise(passage)
        chosen: list[Example] = []
        seen: set[str] = {key}
        for i in np.argsort(-scores, kind="stable"):
            example = self.examples[int(i)]
            text = normalise(example.text)
            if text in seen:
                continue
            seen.add(text)
            chosen.append(example)
            if len(chosen) == k:
                break
        return chosen[::-1]
