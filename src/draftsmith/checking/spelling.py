"""English spelling: Hunspell's en_US dictionary decides what is a word; a frequency list ranks suggestions.

The dictionary is Debian's ``hunspell-en-us`` (SCOWL-derived, read with the pure-Python ``spylls``). When it is
missing, the word list bundled with ``symspellpy`` (82,765 words with Google Books n-gram counts, MIT) decides
instead: it knows fewer inflections, so it is the weaker fallback. Suggestions are the list's words within one
edit (insert, delete, replace, swap of neighbours) — or, failing that, one deletion plus one edit — that the
dictionary accepts, ranked by frequency and by how typical the slip is. An unknown word that is common on the
web (``wordfreq``: email, colour, covid) is a gap in the dictionary, not a mistake, and is not flagged.

Precision first: names (capitalised words inside a sentence), acronyms, words with digits, underscores or inner
capitals, non-English letters, code and URLs, and the user's own words are never flagged, and a paragraph in
which many words are unknown (another language, or code) is skipped.
"""

from __future__ import annotations

import math
import os
import re
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

from draftsmith.checking.problem import Problem, register
from draftsmith.checking.text import Protected, at_sentence_start, split_words

DICTIONARY_PATHS = (
    "/usr/share/hunspell/en_US",
    "/usr/share/myspell/en_US",
    "/usr/share/myspell/dicts/en_US",
    "/usr/local/share/hunspell/en_US",
    "/opt/homebrew/share/hunspell/en_US",
)
SPELLING = register("EN_SPELLING", "spelling", "A word that is not in the English dictionary.")
CASE = register("EN_NAME_CASE", "spelling", "A name or other proper noun written in lower case.")
JOINED = register("EN_MISSING_APOSTROPHE", "spelling", "A contraction without its apostrophe, or two words joined.")

WORD = re.compile(r"(?<![\w@#/\\&'’-])[A-Za-z]+(?:['’][A-Za-z]+)*(?:-[A-Za-z]+(?:['’][A-Za-z]+)*)*(?![\w@/\\&])")
# Contractions without the apostrophe and words run together: unknown to the dictionary, one sure fix each.
# fmt: off
JOINED_WORDS = {
    "dont": "don't", "doesnt": "doesn't", "didnt": "didn't", "isnt": "isn't", "arent": "aren't",
    "wasnt": "wasn't", "werent": "weren't", "couldnt": "couldn't", "shouldnt": "shouldn't",
    "wouldnt": "wouldn't", "havent": "haven't", "hasnt": "hasn't", "hadnt": "hadn't", "mustnt": "mustn't",
    "im": "I'm", "ive": "I've", "youre": "you're", "youve": "you've", "youll": "you'll", "theyre": "they're",
    "theyve": "they've", "theyll": "they'll", "weve": "we've", "thats": "that's", "whats": "what's",
    "theres": "there's", "hes": "he's", "shes": "she's", "itll": "it'll", "wouldve": "would've",
    "couldve": "could've", "shouldve": "should've", "alot": "a lot", "infact": "in fact", "atleast": "at least",
    "aswell": "as well", "eachother": "each other", "thankyou": "thank you", "incase": "in case",
    "noone": "no one", "everytime": "every time", "inspite": "in spite", "alittle": "a little",
}
# fmt: on
MAX_UNKNOWN_SHARE = 0.5  # above this share of unknown words a paragraph is not English prose: skip it
COMMON_ZIPF = 3.1  # an unknown word this frequent on the web is a word the dictionary lacks (email, colour, covid)
FUNCTION_WORDS = frozenset(
    split_words(
        "the of and to a in is it you that he was for on are with as i his they be at one have this from or had by "
        "but not what all were we when your can said there use an each which she do how their if will up other about "
        "out many then them these so some her would make like him into time has look two more go see no way could my "
        "than been who its now did get come made may part me our very just because"
    )
)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _find_dictionary() -> str | None:
    env = os.environ.get("DRAFTSMITH_HUNSPELL")
    for base in (env, *DICTIONARY_PATHS) if env else DICTIONARY_PATHS:
        if base and Path(base + ".dic").is_file() and Path(base + ".aff").is_file():
            return base
    return None


class Speller:
    """Word validity and ranked suggestions. One per process (see ``speller()``); thread-safe for reading."""

    def __init__(self, dictionary: str | None = None, *, use_hunspell: bool = True):
        self.source = "symspellpy word list"
        self._hunspell = None
        path = dictionary or (_find_dictionary() if use_hunspell else None)
        if path:
            from spylls.hunspell import Dictionary

            self._hunspell = Dictionary.from_files(path)
            self.source = f"hunspell {path}"
        self.counts = _word_counts()
        self.valid = lru_cache(maxsize=200_000)(self._valid)
        self.suggest = lru_cache(maxsize=20_000)(self._suggest)

    def _valid(self, word: str) -> bool:
        word = word.replace("’", "'")
        if self._hunspell is not None:
            return bool(self._hunspell.lookup(word))
        low = word.lower()
        if low in self.counts:
            return True
        return low.endswith("'s") and low[:-2] in self.counts

    def _suggest(self, word: str) -> tuple[list[str], bool]:
        """Ranked suggestions for a misspelt word, and whether the first one is certain.

        Candidates are ranked by log frequency plus a bonus for the slips people make most (two letters
        swapped, a letter doubled or undoubled, one vowel for another) and a penalty for a changed first
        letter. The first is certain when it is such a slip and beats the next by 1.5 (about 30 times likelier).
        """
        low = word.lower().replace("’", "'")
        if low in JOINED_WORDS:
            fixed = JOINED_WORDS[low]
            return [fixed if fixed.startswith("I'") else _match_case(word, fixed)], True
        found = self._known(_edits1(low))
        distance = 1
        if not found and len(low) >= 5:
            found = self._known(_edits2(low))
            distance = 2
        if not found:
            return [], False
        scored = sorted(((self._score(low, c, distance), c) for c in found), reverse=True)
        out = [_match_case(word, c) for _, c in scored[:5]]
        best, bonus = scored[0][0], _slip_bonus(low, scored[0][1].lower()) if distance == 1 else 0.0
        margin = best - scored[1][0] if len(scored) > 1 else 9.0
        certain = bonus >= 1.0 and margin >= 1.5 and (len(low) >= 4 or bonus >= 1.5)
        return out, certain

    def _score(self, word: str, candidate: str, distance: int) -> float:
        c = candidate.lower()
        score = math.log10(self.counts.get(c, 0) + 10)
        if distance == 1:
            score += _slip_bonus(word, c)
        if c[:1] != word[:1]:
            score -= 2.0
        return score - 2.0 * (distance - 1)

    def _known(self, candidates: set[str]) -> list[str]:
        out = []
        for c in candidates:
            if c not in self.counts:
                continue
            if self.valid(c):
                out.append(c)
            elif self.valid(c.title()):  # january -> January
                out.append(c.title())
        return out

    def zipf(self, word: str) -> float:
        return math.log10(self.counts.get(word.lower(), 0) + 1) - 3.4


def _match_case(original: str, word: str) -> str:
    if original[:1].isupper() and word[:1].islower():
        return word[:1].upper() + word[1:]
    return word


_VOWELS = set("aeiouy")


def _slip_bonus(word: str, cand: str) -> float:
    """How typical the one-edit slip from ``cand`` to ``word`` is: swaps and doubled letters most."""
    if len(word) == len(cand):
        diff = [i for i in range(len(word)) if word[i] != cand[i]]
        if len(diff) == 2 and diff[1] == diff[0] + 1:
            return 1.5  # neighbours swapped: recieve / receive
        if len(diff) == 1 and word[diff[0]] in _VOWELS and cand[diff[0]] in _VOWELS:
            return 1.0  # one vowel for another: seperate / separate
        return 0.0
    short, long_ = (word, cand) if len(word) < len(cand) else (cand, word)
    i = next((k for k in range(len(short)) if short[k] != long_[k]), len(short))
    if (i > 0 and long_[i] == long_[i - 1]) or (i + 1 < len(long_) and long_[i] == long_[i + 1]):
        return 1.5  # a letter doubled or undoubled: untill / until, ocasion / occasion
    return 0.3


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    swaps = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in _LETTERS if c != b[0]]
    inserts = [a + c + b for a, b in splits for c in _LETTERS]
    return set(deletes + swaps + replaces + inserts)


def _edits2(word: str) -> set[str]:
    """One deletion plus any one edit: the common two-edit slips (a doubled letter and a wrong one)."""
    out: set[str] = set()
    for i in range(len(word)):
        out |= _edits1(word[:i] + word[i + 1 :])
    return out


@lru_cache(maxsize=1)
def _word_counts() -> dict[str, int]:
    path = resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    counts: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            word, _, count = line.partition(" ")
            if count:
                counts[word] = int(count)
    return counts


_lock = threading.Lock()
_speller: dict[str, Speller] = {}


def speller() -> Speller:
    """The process-wide speller (opening the dictionary takes about a second)."""
    with _lock:
        if "en" not in _speller:
            _speller["en"] = Speller()
        return _speller["en"]


@lru_cache(maxsize=50_000)
def web_zipf(word: str) -> float:
    """How common a word is on the web (wordfreq's Zipf scale: 3 = once per million words); 0 if unknown."""
    try:
        from wordfreq import zipf_frequency
    except ImportError:  # pragma: no cover - wordfreq is a dependency of the check extra
        return 0.0
    return zipf_frequency(word.lower(), "en")


def _skip(word: str) -> bool:
    """Words never checked: acronyms, inner capitals (iPhone, McDonald), single letters, very long tokens."""
    if len(word) < 2 or len(word) > 30:
        return True
    if word.isupper():
        return True
    return any(ch.isupper() for ch in word[1:])


def looks_english(text: str, protected: Protected, sp: Speller, user_words: frozenset[str] = frozenset()) -> bool:
    """False when too many lowercase words are unknown: another language, a word list, or code."""
    total = unknown = 0
    for m in WORD.finditer(text):
        word = m.group()
        if not word.islower() or len(word) < 2 or protected.overlaps(m.start(), m.end()):
            continue
        total += 1
        if word.lower() not in user_words and not _word_ok(word, sp):
            unknown += 1
    if total < 3 or unknown / total <= 0.3:
        return True
    common = sum(1 for m in WORD.finditer(text) if m.group().lower() in FUNCTION_WORDS)
    return unknown / total <= MAX_UNKNOWN_SHARE and common / total >= 0.15


def _word_ok(word: str, sp: Speller) -> bool:
    if sp.valid(word):
        return True
    if "-" in word:
        return all(sp.valid(p) or p[:1].isupper() for p in word.split("-") if p)
    return False


def check_spelling(
    text: str, protected: Protected, sp: Speller, user_words: frozenset[str] = frozenset()
) -> list[Problem]:
    """Spelling problems in one paragraph of English (offsets into ``text``)."""
    problems: list[Problem] = []
    for m in WORD.finditer(text):
        word = m.group()
        if _skip(word) or word.lower() in user_words or word.lower() == "n't":
            continue
        start, end = m.span()
        if sp.valid(word) or protected.overlaps(start, end):
            continue
        if "-" in word:
            if all(sp.valid(p) or p[:1].isupper() or len(p) < 2 for p in word.split("-") if p):
                continue
            problem = _hyphenated(word, start, sp, user_words)
            if problem:
                problems.append(problem)
            continue
        base = re.sub(r"['’]s$", "", word)
        if base != word and (sp.valid(base) or base[:1].isupper()):
            continue
        head = re.split(r"['’]", word)[0]
        if head != word and (sp.valid(head) or len(head) < 2):
            continue  # dos and don'ts, could'nt: leave apostrophe forms to the grammar rules
        problem = _problem_for(text, word, start, end, sp)
        if problem:
            problems.append(problem)
    return problems


def _problem_for(text: str, word: str, start: int, end: int, sp: Speller) -> Problem | None:
    low = word.lower()
    if word[0].isupper():
        if low in JOINED_WORDS and at_sentence_start(text, start):
            pass  # "Dont" at a sentence start
        elif not at_sentence_start(text, start):
            return None  # a capitalised word inside a sentence: a name we do not know
        elif sp.valid(low):
            return None
    elif low not in JOINED_WORDS:
        title = word[0].upper() + word[1:]
        common_name = len(low) > 3 and web_zipf(low) >= 3.5 and text[end : end + 1] != "-"
        if common_name and sp.valid(title) and not _likely_lowercase(text, start):
            return Problem(
                start=start,
                end=end,
                flagged=word,
                rule_id=CASE.id,
                category="spelling",
                message=f"'{title}' is a name, so it starts with a capital letter.",
                suggestions=[title],
                certain=True,
            )
    if low not in JOINED_WORDS and web_zipf(word) >= COMMON_ZIPF:
        return None
    suggestions, certain = sp.suggest(word)
    if low in JOINED_WORDS:
        return Problem(
            start=start,
            end=end,
            flagged=word,
            rule_id=JOINED.id,
            category="spelling",
            message=f"Write '{suggestions[0]}': "
            + ("it needs an apostrophe." if "'" in suggestions[0] else "these are separate words."),
            suggestions=suggestions,
            certain=True,
        )
    if word[0].isupper() and not certain:
        return None  # at a sentence start a capitalised unknown word may still be a name: flag only sure slips
    if not suggestions:
        return None  # nothing close: a name, a term or a foreign word far more often than a slip
    if certain:
        message = f"Spelling: '{word}' is spelled '{suggestions[0]}'."
    else:
        message = f"Possible spelling mistake: '{word}' is not in the dictionary. Did you mean '{suggestions[0]}'?"
    return Problem(
        start=start,
        end=end,
        flagged=word,
        rule_id=SPELLING.id,
        category="spelling",
        message=message,
        suggestions=suggestions,
        certain=certain,
    )


def _hyphenated(word: str, start: int, sp: Speller, user_words: frozenset[str]) -> Problem | None:
    """Check the parts of a hyphenated word; report the first misspelt part."""
    pos = start
    for part in word.split("-"):
        if part and not (sp.valid(part) or part[:1].isupper() or len(part) < 2 or part.lower() in user_words):
            suggestions, certain = sp.suggest(part)
            if not suggestions:
                return None
            return Problem(
                start=pos,
                end=pos + len(part),
                flagged=part,
                rule_id=SPELLING.id,
                category="spelling",
                message=f"Possible spelling mistake: '{part}' is not in the dictionary. "
                f"Did you mean '{suggestions[0]}'?",
                suggestions=suggestions,
                certain=certain,
            )
        pos += len(part) + 1
    return None


def _likely_lowercase(text: str, start: int) -> bool:
    """A lowercase word right after a dot-less code-like token or inside quotes is left alone."""
    return start > 0 and text[start - 1] in "'\"`‘“"
