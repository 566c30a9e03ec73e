"""Edits between an original and a corrected text: spans into the original, a category and a reason.

The diff runs on word tokens (single characters for CJK), so an edit covers whole words and each
edit's ``original`` is exactly ``text[start:end]``. Applying all edits yields the corrected text.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

if TYPE_CHECKING:
    from draftsmith.checking import Problem

Category = Literal["spelling", "grammar", "punctuation", "word choice", "style"]

_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[A-Za-z0-9\u00c0-\u024f]+(?:['’][A-Za-z]+)?|\s+|[^\sA-Za-z0-9]")
_PUNCT = re.compile(r"^[^\w\s]+$")

ARTICLES = {"a", "an", "the"}
PREPOSITIONS = {"in", "on", "at", "to", "for", "of", "with", "by", "from", "about", "into", "onto", "over", "under"}
VERB_GROUPS = [
    {"is", "are", "was", "were", "am", "be", "been", "being"},
    {"has", "have", "had", "having"},
    {"do", "does", "did", "done", "doing"},
]
PRONOUNS = {
    "i",
    "me",
    "my",
    "mine",
    "he",
    "him",
    "his",
    "she",
    "her",
    "hers",
    "we",
    "us",
    "our",
    "they",
    "them",
    "their",
    "it",
    "its",
    "who",
    "whom",
    "whose",
}


class Edit(BaseModel):
    start: int
    end: int
    original: str
    replacement: str
    category: Category
    reason: str
    suggestion_id: str | None = None  # set by the shell that shows it: answer with POST /v1/feedback

    @classmethod
    def from_finding(cls, text: str, problem: Problem) -> Edit:
        """A detector's finding on ``text`` as an edit: its first suggestion, its category, its message as reason."""
        return cls(
            start=problem.start,
            end=problem.end,
            original=text[problem.start : problem.end],
            replacement=problem.suggestions[0],
            category=problem.category,
            reason=problem.message,
        )


def tokenize(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]


def diff_edits(original: str, corrected: str, lang: str = "en") -> list[Edit]:
    """The edits that turn ``original`` into ``corrected``, each classified and explained."""
    a_spans, b_spans = tokenize(original), tokenize(corrected)
    a_tok = [original[s:e] for s, e in a_spans]
    b_tok = [corrected[s:e] for s, e in b_spans]
    matcher = difflib.SequenceMatcher(None, a_tok, b_tok, autojunk=False)
    edits: list[Edit] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        start = a_spans[i1][0] if i1 < len(a_spans) else len(original)
        end = a_spans[i2 - 1][1] if i2 > i1 else start
        b_start = b_spans[j1][0] if j1 < len(b_spans) else len(corrected)
        b_end = b_spans[j2 - 1][1] if j2 > j1 else b_start
        old, new = original[start:end], corrected[b_start:b_end]
        if old == new:
            continue
        category, reason = classify(old, new, lang)
        edits.append(Edit(start=start, end=end, original=old, replacement=new, category=category, reason=reason))
    return _merge_touching(edits, original, lang)


def _merge_touching(edits: list[Edit], original: str, lang: str) -> list[Edit]:
    """Join edits that touch (no text between them) into one edit."""
    merged: list[Edit] = []
    for edit in edits:
        prev = merged[-1] if merged else None
        if prev and edit.start == prev.end:
            old = original[prev.start : edit.end]
            new = prev.replacement + edit.replacement
            category, reason = classify(old, new, lang)
            merged[-1] = Edit(
                start=prev.start, end=edit.end, original=old, replacement=new, category=category, reason=reason
            )
        else:
            merged.append(edit)
    return merged


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits (any order) to ``text``."""
    out, pos = [], 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < pos:
            raise ValueError("edits overlap")
        out.append(text[pos : edit.start])
        out.append(edit.replacement)
        pos = edit.end
    out.append(text[pos:])
    return "".join(out)


def classify(old: str, new: str, lang: str = "en") -> tuple[Category, str]:
    """A category and a one-line reason a learner understands."""
    o, n = old.strip(), new.strip()
    zh = lang in ("zh", "zh-tw") or bool(re.search(r"[\u4e00-\u9fff]", o + n))
    if not o and not n:  # only spacing changed
        if len(old) > len(new):
            return "punctuation", "多余的空格：删去" if zh else "Spacing: remove the extra space."
        return "punctuation", "缺少空格：加上空格" if zh else "Spacing: add a space."
    if (not o or _PUNCT.match(o)) and (not n or _PUNCT.match(n)):
        if not o:
            return "punctuation", (f"缺少标点：加上“{n}”" if zh else f"Missing punctuation: add '{n}'.")
        if not n:
            return "punctuation", (f"多余的标点“{o}”" if zh else f"Unneeded punctuation: remove '{o}'.")
        return "punctuation", (f"标点使用不当：“{o}”应为“{n}”" if zh else f"Punctuation: '{o}' should be '{n}'.")
    if zh:
        if len(o) == len(n) and len(o) <= 2:
            return "spelling", f"错别字：“{o}”应为“{n}”（音近或形近字）"
        if not o:
            return "grammar", f"成分残缺：需要补上“{n}”"
        if not n:
            return "grammar", f"成分赘余：删去“{o}”"
        return "grammar", f"用词或语法不当：“{o}”改为“{n}”"
    if o.lower() == n.lower():
        return "spelling", f"Capitalisation: write '{n}'."
    ow, nw = o.lower().split(), n.lower().split()
    if not ow:
        if (nw and nw[-1] in ARTICLES | {"a", "an"}) or set(nw) <= ARTICLES:
            return "grammar", f"Missing article: add '{n}'."
        if set(nw) <= PREPOSITIONS:
            return "grammar", f"Missing preposition: add '{n}'."
        return "grammar", f"Missing word: add '{n}'."
    if not nw:
        if set(ow) <= ARTICLES:
            return "grammar", f"Unneeded article: remove '{o}'."
        return "style" if len(ow) > 2 else "grammar", f"Unneeded word{'s' if len(ow) > 1 else ''}: remove '{o}'."
    if len(ow) == 1 and len(nw) == 1:
        a, b = ow[0], nw[0]
        if {a, b} <= ARTICLES:
            return "grammar", f"Article: use '{n}' here, not '{o}'."
        if {a, b} <= PREPOSITIONS:
            return "grammar", f"Preposition: '{o}' should be '{n}' in this phrase."
        if {a, b} <= PRONOUNS:
            return "grammar", f"Pronoun form: '{o}' should be '{n}' here."
        if any({a, b} <= group for group in VERB_GROUPS):
            return "grammar", f"Verb agreement/tense: '{o}' should be '{n}' to match its subject and time."
        if _inflection(a, b):
            return "grammar", f"Word form: '{o}' should be '{n}' (agreement, tense or number)."
        if difflib.SequenceMatcher(None, a, b).ratio() >= 0.7:
            return "spelling", f"Spelling: '{o}' is spelled '{n}'."
        return "word choice", f"Word choice: '{n}' fits better than '{o}' here."
    if len(ow) + len(nw) <= 4:
        return "grammar", f"Grammar: '{o}' should be '{n}'."
    return "style", f"Clearer phrasing: '{o}' → '{n}'."


def _inflection(a: str, b: str) -> bool:
    """True when one word looks like an inflected form of the other (go/goes, walk/walked, child/children)."""
    short, long_ = sorted((a, b), key=len)
    if len(short) < 2:
        return False
    stem = short[:-1] if short.endswith("e") or short.endswith("y") else short
    return long_.startswith(stem) and len(long_) - len(stem) <= 4
