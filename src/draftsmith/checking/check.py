"""The checker's public API: list problems without rewriting anything (like LanguageTool's check API).

``check_text`` returns every problem of a string; ``iter_problems`` and ``iter_problems_stream`` yield them
paragraph by paragraph, so a document of any size is checked with bounded memory. Offsets are characters
(code points) into the original text; ``line`` and ``column`` are 1-based.

Each paragraph is checked by the detectors for the scripts it contains: English spelling and grammar rules
on Latin text (skipped when the paragraph does not look like English), Chinese confusion sets on Han text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TextIO

from draftsmith.checking.problem import RULES, Problem
from draftsmith.checking.text import Paragraph, Protected, paragraphs_of, read_chunks, stream_paragraphs
from draftsmith.errors import InputError

ENGLISH = ("en",)
CHINESE = ("zh", "zh-tw")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]{2}")
# When two problems overlap, the one from the earlier rule here wins.
_PRIORITY = ("EN_MISSING_APOSTROPHE", "EN_SPELLING", "EN_NAME_CASE", "ZH_COMMON_MISWRITING")
# Rules a user muted and words they accept, learned from their feedback: a shell sets a provider for the calls
# it makes on a user's behalf (draftsmith.feedback.personal); every Checker built meanwhile applies them.
PERSONAL: ContextVar[Callable[[], tuple[Iterable[str], Iterable[str]]] | None] = ContextVar("personal", default=None)


class Checker:
    """Runs the detectors on paragraphs. Options: language, rules to skip, the user's own words."""

    def __init__(
        self,
        lang: str | None = None,
        *,
        disabled: Iterable[str] = (),
        words: Iterable[str] | None = None,
    ):
        self.lang = _language(lang)
        self.disabled = frozenset(d.strip().upper() for d in disabled if d.strip())
        unknown = sorted(self.disabled - set(RULES) - set(_all_rule_ids()))
        if unknown:
            raise InputError(f"unknown rule {', '.join(unknown)}; see 'draftsmith check --list-rules'")
        self.words = frozenset(w.strip().lower() for w in (load_user_words() if words is None else words) if w.strip())
        if (personal := PERSONAL.get()) is not None:
            muted, own = personal()
            self.disabled, self.words = self.disabled | frozenset(muted), self.words | frozenset(own)
        self._chinese = self.lang in (None, *CHINESE)  # English words are spelled-checked in Chinese text too

    def check_paragraph(self, par: Paragraph) -> list[Problem]:
        """Problems in one paragraph, with offsets, lines and columns in the whole document."""
        if par.code:
            return []
        text = par.text
        protected = Protected(text)
        found: list[Problem] = []
        if _LATIN.search(text):
            found.extend(self._check_english(text, protected))
        if self._chinese and _HAN.search(text):
            from draftsmith.checking.chinese import chinese_checker

            found.extend(p for p in chinese_checker().check(text, protected) if p.rule_id not in self.disabled)
        return _place(_resolve_overlaps(found, text), par)

    def _check_english(self, text: str, protected: Protected) -> list[Problem]:
        from draftsmith.checking.rules import check_rules
        from draftsmith.checking.spelling import check_spelling, looks_english, speller

        sp = speller()
        if not looks_english(text, protected, sp, self.words):
            return []
        found: list[Problem] = []
        if self.lang not in CHINESE:
            found.extend(check_rules(text, protected, self.disabled))
        if not {"EN_SPELLING", "EN_NAME_CASE", "EN_MISSING_APOSTROPHE"} <= self.disabled:
            found.extend(p for p in check_spelling(text, protected, sp, self.words) if p.rule_id not in self.disabled)
        return found

    def iter_paragraphs(self, paragraphs: Iterable[Paragraph]) -> Iterator[Problem]:
        seen_text = False
        for par in paragraphs:
            seen_text = seen_text or bool(par.text.strip())
            yield from self.check_paragraph(par)
        if not seen_text:
            raise InputError("the text is empty; give some text (a file, an argument, or stdin)")


def check_text(
    text: str, lang: str | None = None, *, disabled: Iterable[str] = (), words: Iterable[str] | None = None
) -> list[Problem]:
    """Every problem in ``text``, in order. Raises InputError for empty or binary-looking text."""
    return list(iter_problems(text, lang, disabled=disabled, words=words))


def iter_problems(
    text: str, lang: str | None = None, *, disabled: Iterable[str] = (), words: Iterable[str] | None = None
) -> Iterator[Problem]:
    """Problems in ``text``, paragraph by paragraph."""
    if text is None or not text.strip():
        raise InputError("the text is empty; give some text (a file, an argument, or stdin)")
    if "\x00" in text:
        raise InputError("the text contains NUL bytes; it looks like a binary file, not text")
    checker = Checker(lang, disabled=disabled, words=words)
    return checker.iter_paragraphs(paragraphs_of(text))


def iter_problems_stream(
    stream: TextIO, lang: str | None = None, *, disabled: Iterable[str] = (), words: Iterable[str] | None = None
) -> Iterator[Problem]:
    """Problems in a text stream (a file opened as text), read in chunks: memory stays bounded."""
    checker = Checker(lang, disabled=disabled, words=words)
    return checker.iter_paragraphs(stream_paragraphs(_no_nul(read_chunks(stream))))


def _no_nul(chunks: Iterator[str]) -> Iterator[str]:
    for chunk in chunks:
        if "\x00" in chunk:
            raise InputError("the input contains NUL bytes; it looks like a binary file, not text")
        yield chunk


def load_user_words(path: Path | None = None) -> list[str]:
    """The user's own words (one per line, '#' comments) from ``<data dir>/dictionary.txt`` or ``path``."""
    if path is None:
        from draftsmith.config import data_dir

        path = data_dir() / "dictionary.txt"
        if not path.is_file():
            return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the word list {path}: {exc}") from None
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def _language(lang: str | None) -> str | None:
    if lang in (None, "", "auto"):
        return None
    from draftsmith.languages import check_language

    code = check_language(lang)
    if code not in (*ENGLISH, *CHINESE):
        raise InputError(f"check supports English (en) and Chinese (zh), not {code!r}")
    return code


def _all_rule_ids() -> list[str]:
    """Importing the detectors registers their rules."""
    from draftsmith.checking import chinese, rules, spelling  # noqa: F401

    return list(RULES)


def _resolve_overlaps(problems: list[Problem], text: str) -> list[Problem]:
    """Sort by position; where problems overlap keep one (spelling before rules), merging a capital-letter fix."""

    def rank(p: Problem) -> int:
        return _PRIORITY.index(p.rule_id) if p.rule_id in _PRIORITY else len(_PRIORITY)

    out: list[Problem] = []
    for p in sorted(problems, key=lambda p: (p.start, rank(p), p.end)):
        prev = out[-1] if out else None
        if prev and p.start < max(prev.end, prev.start + 1):
            if {prev.rule_id, p.rule_id} & {"EN_SENTENCE_CAPITAL"} and prev.start == p.start:
                keep = prev if prev.rule_id != "EN_SENTENCE_CAPITAL" else p
                fixed = [s[:1].upper() + s[1:] for s in keep.suggestions]
                out[-1] = keep.model_copy(update={"suggestions": fixed})
            elif rank(p) < rank(prev):
                out[-1] = p
            continue
        out.append(p)
    return out


def _place(problems: list[Problem], par: Paragraph) -> list[Problem]:
    """Shift paragraph offsets to document offsets and add 1-based line and column numbers."""
    out = []
    text = par.text
    for p in problems:
        nl = text.rfind("\n", 0, p.start)
        line = par.line + text.count("\n", 0, p.start)
        column = p.start - nl if nl >= 0 else p.start + 1 + par.column
        out.append(
            p.model_copy(
                update={"start": p.start + par.offset, "end": p.end + par.offset, "line": line, "column": column}
            )
        )
    return out
