"""When two triples say the same thing: object values and predicate labels compared leniently but honestly.

Used by ``factcheck`` and by ``bench/kg_extraction.py`` (so the benchmark measures what the product does).

- Names: equal after ``normalise`` (case, underscores, quotes, punctuation) and with accents folded
  (``São Paulo`` = ``Sao Paulo``, ``Cármen Lúcia`` = ``Carmen Lucia``), with any bracketed note removed
  (``Turn_Me_On_(album)`` = ``Turn Me On``), or every word of one inside the other when that one has at most
  twice as many (``Take It Off!`` = ``Take it Off``, ``Virginia, USA`` ⊇ ``Virginia``, but ``Adams County,
  Pennsylvania`` ≠ ``Pennsylvania``), or names in one row of the bundled alias table
  (``USA`` = ``United States``, ``北京`` = ``Beijing``).
- Values: the numbers in them are equal (``1,777,539`` = ``1777539``, ``17068.8 (millimetres)`` =
  ``17068.8 millimeter``); dates: the same year, and the same month and day when both give them.
- Predicates: the same lowerCamelCase label, or most of the same words (``ethnicGroups`` ~ ``ethnicGroup``,
  ``leaderName`` ~ ``leader``), or — with an embedder — an e5 cosine of at least ``SAME_COSINE`` between the
  label words (``birth place`` ~ ``place of birth``). e5 puts most short relation names above 0.85, so the bar
  is high; ``birthPlace`` / ``deathPlace`` (0.92) stay apart.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from draftsmith.graph.extract import normalise, predicate_label, predicate_words, tokens, value_type
from draftsmith.graph.resolve import alias_table, entity_key

SAME_COSINE = 0.94
RELATED_COSINE = 0.88
GENERIC_WORDS = {
    "has",
    "have",
    "is",
    "was",
    "of",
    "by",
    "in",
    "name",
    "total",
    "the",
    "a",
    "an",
    "to",
    "at",
    "on",
    "for",
}
_MONTHS = {
    m: i
    for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)
}


def fold(text: str) -> str:
    """Accents and other combining marks removed (``São`` → ``Sao``)."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def bare(name: str) -> str:
    """Normalised, accents folded, without a bracketed note."""
    return normalise(fold(re.sub(r"\s*[(（][^)）]*[)）]", " ", name.replace("_", " "))))


def numbers(text: str) -> list[float]:
    clean = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.replace("−", "-"))
    return [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", clean)]


def date_parts(text: str) -> tuple[int | None, int | None, int | None]:
    """(year, month, day) found in a date written many ways (ISO, "3 May 1961", "May 3, 1961", 1961年5月3日)."""
    t = text.lower()
    year = re.search(r"(?<!\d)(1\d{3}|20\d{2})(?!\d)", t)
    y = int(year.group(1)) if year else None
    iso = re.search(r"(\d{4})-(\d{1,2})-(\d{1,2})", t)
    if iso:
        return int(iso.group(1)), int(iso.group(2)), int(iso.group(3))
    zh = re.search(r"(\d{1,2})月(?:(\d{1,2})日)?", t)
    if zh:
        return y, int(zh.group(1)), int(zh.group(2)) if zh.group(2) else None
    month = next((n for m, n in _MONTHS.items() if re.search(rf"\b{m}[a-z]*\b", t)), None)
    day = None
    if month:
        rest = re.sub(r"(?<!\d)(1\d{3}|20\d{2})(?!\d)", " ", t)
        d = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", rest)
        day = int(d.group(1)) if d else None
    return y, month, day


def same_value(a: str, b: str) -> bool:
    kind_a, kind_b = value_type(a), value_type(b)
    if kind_a == "DATE" or kind_b == "DATE":
        ya, ma, da = date_parts(a)
        yb, mb, db = date_parts(b)
        if ya is not None and yb is not None:
            if ya != yb:
                return False
            if ma and mb and ma != mb:
                return False
            return not (da and db and da != db)
    na, nb = numbers(a), numbers(b)
    if na and nb:
        return abs(na[0] - nb[0]) <= 1e-6 * max(1.0, abs(na[0]))
    return False


def same_object(a: str, b: str) -> bool:
    """Whether two subjects/objects name the same thing or value."""
    if numbers(a) and numbers(b) and (value_type(a) or value_type(b) or kind(a) != "NAME" or kind(b) != "NAME"):
        return same_value(a, b)
    x, y = bare(a), bare(b)
    if not x or not y:
        return False
    if x == y or x.replace(" ", "") == y.replace(" ", ""):
        return True
    table = alias_table()
    group = table.get(entity_key(x))
    if group is not None and table.get(entity_key(y)) == group:
        return True
    tx, ty = set(tokens(x)), set(tokens(y))
    if not tx or not ty:
        return False
    small, large = (tx, ty) if len(tx) <= len(ty) else (ty, tx)
    stems = {w.rstrip("s") for w in large}
    inside = all(w in large or w.rstrip("s") in stems for w in small)
    return inside and len(small) * 2 >= len(large)  # "Adams County, Pennsylvania" is not "Pennsylvania"


def kind(value: str) -> str:
    """DATE, VALUE or NAME: objects of different kinds never contradict each other."""
    return value_type(value) or ("VALUE" if re.fullmatch(r"[-−+]?\d[\d,.]*", value.strip()) else "NAME")


def _pwords(predicate: str) -> set[str]:
    words = predicate_words(predicate_label(predicate) or predicate).split()
    return {w.rstrip("s") for w in words if w not in GENERIC_WORDS} or {w.rstrip("s") for w in words}


class PredicateMatcher:
    """Similarity of two predicate labels, 0–1: 1.0 same label, lexical overlap, else the e5 cosine."""

    def __init__(self, embedder=None) -> None:
        self.embedder = embedder
        self._cache: dict[str, np.ndarray] = {}

    def _vector(self, predicate: str) -> np.ndarray:
        key = predicate_words(predicate_label(predicate) or predicate)
        if key not in self._cache:
            self._cache[key] = self.embedder.query(key)
        return self._cache[key]

    def similarity(self, a: str, b: str) -> float:
        la, lb = predicate_label(a).lower(), predicate_label(b).lower()
        if la == lb:
            return 1.0
        wa, wb = _pwords(a), _pwords(b)
        lexical = len(wa & wb) / len(wa | wb) if wa and wb else 0.0
        if lexical >= 0.5:
            return 0.95
        if self.embedder is None:
            return lexical
        return float(self._vector(a) @ self._vector(b))

    def same(self, a: str, b: str) -> bool:
        return self.similarity(a, b) >= SAME_COSINE
