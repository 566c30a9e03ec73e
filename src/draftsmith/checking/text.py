"""Text helpers for the detectors: spans never to check (code, URLs, …), sentence starts, paragraph streaming.

Paragraphs are cut at blank lines; a paragraph longer than ``MAX_PARAGRAPH`` characters is cut at a
sentence end (else a space) so memory stays bounded however long a line is. Fenced code blocks are
passed through as one unit and never checked.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

MAX_PARAGRAPH = 8_000
READ_CHARS = 64 * 1024

_PROTECTED = re.compile(
    r"`[^`\n]+`"  # inline code
    r"|\b(?:https?|ftp|file)://[^\s<>()\"'`]+"  # URLs
    r"|\bwww\.[^\s<>()\"'`]+"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail addresses
    r"|\]\([^)\s]*\)"  # Markdown link targets
    r"|^\[[^\]\n]+\]:\s*\S+"  # Markdown reference definitions
    r"|</?[A-Za-z][^<>\n]{0,200}>"  # HTML tags and <autolinks>
    r"|(?<!\w)[@#][\w-]+"  # @mentions, #hashtags
    r"|(?:[~.]?/|\b[A-Za-z]:\\)[^\s]*"  # paths
    r"|\b\w+(?:[./\\]\w+)*\.(?:py|js|ts|md|txt|json|yaml|yml|toml|html|css|csv|pdf|png|jpg|exe|sh|rs|go|java|c|h|cpp)\b"
    r"|\b\w+(?:\.\w+)*\([^()\n]{0,80}\)"  # calls like print(x), os.path.join(a)
    r"|\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b"  # dotted names: os.path, example.com
    r"|\{\{[^}\n]*\}\}|\$[^$\n]{1,80}\$"  # template placeholders, inline maths
    r"|^(?: {4}|\t).*$",  # indented code lines
    re.M,
)


def split_words(text: str) -> list[str]:
    """A word list written as one string (keeps long lists of words readable)."""
    return text.split()


_FENCE = re.compile(r"^[ \t]*(```|~~~)", re.M)
_ABBREVIATIONS = frozenset(
    split_words(
        "mr mrs ms dr prof sr jr st vs etc e.g i.e eg ie cf al approx dept est fig figs inc ltd co corp no nos vol pp "
        "p ca jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun a.m p.m am pm u.s ph.d "
        "resp misc min max avg gen gov lt col sgt capt rev ave blvd rd mt ft in oz lb lbs km kg cm mm"
    )
)
_PREV_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)\.[\"'”’)\]]*\s*$")


@dataclass(frozen=True)
class Paragraph:
    """A piece of the document to check: its text, where it starts (characters) and on which line (1-based)."""

    text: str
    offset: int
    line: int
    code: bool = False  # a fenced code block: skipped by every detector
    column: int = 0  # characters before it on its first line (a long line cut in pieces)


def protected_spans(text: str) -> list[tuple[int, int]]:
    """Sorted, merged spans of code, URLs, e-mail addresses, paths, tags and similar non-prose."""
    spans: list[tuple[int, int]] = []
    for m in _PROTECTED.finditer(text):
        s, e = m.span()
        if spans and s <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(e, spans[-1][1]))
        else:
            spans.append((s, e))
    return spans


class Protected:
    """Answers 'does this span touch code or a URL?' with a binary search."""

    def __init__(self, text: str):
        self.spans = protected_spans(text)
        self.starts = [s for s, _ in self.spans]

    def overlaps(self, start: int, end: int) -> bool:
        """Does [start, end) overlap a protected span? An insertion (start == end) counts when strictly inside."""
        if end == start:
            i = bisect.bisect_left(self.starts, start) - 1
            return i >= 0 and self.spans[i][1] > start
        i = bisect.bisect_left(self.starts, end) - 1
        return i >= 0 and self.spans[i][1] > start


def at_sentence_start(text: str, pos: int) -> bool:
    """True when ``pos`` starts a sentence: paragraph or line start, or after . ! ? that is not an abbreviation."""
    j = pos - 1
    while j >= 0 and text[j] in " \t\"'“‘([*_":
        j -= 1
    if j < 0 or text[j] == "\n":
        return True
    # a list marker or heading at the start of the line counts as a line start
    line_start = text.rfind("\n", 0, j + 1) + 1
    head = text[line_start : j + 1]
    if re.fullmatch(r"\s*(?:[-*+>]|#{1,6}|\d{1,3}[.)])", head):
        return True
    if text[j] in "!?。！？":
        return True
    if text[j] == ":" and j + 1 < len(text) and text[j + 1] == "\n":
        return True
    if text[j] != ".":
        return False
    if j >= 1 and text[j - 1] == ".":  # an ellipsis usually continues the sentence
        return False
    m = _PREV_WORD.search(text, max(0, j - 20), j + 1)
    if m:
        word = m.group(1).lower()
        if word in _ABBREVIATIONS or len(word) == 1 or "." in word:
            return False
    return not (j >= 1 and text[j - 1].isdigit())


def paragraphs_of(text: str) -> Iterator[Paragraph]:
    """The paragraphs of a string (see ``stream_paragraphs``)."""
    return stream_paragraphs(_chunks_of(text))


def _chunks_of(text: str) -> Iterator[str]:
    for i in range(0, len(text), READ_CHARS):
        yield text[i : i + READ_CHARS]


def read_chunks(stream: TextIO) -> Iterator[str]:
    while True:
        chunk = stream.read(READ_CHARS)
        if not chunk:
            return
        yield chunk


_BLANK = re.compile(r"\n[ \t\r\f\v]*\n")


def stream_paragraphs(chunks: Iterable[str]) -> Iterator[Paragraph]:
    """Cut a stream of text chunks into paragraphs, keeping absolute offsets and line numbers.

    Memory holds at most one chunk plus one paragraph. Text between paragraphs is whitespace only.
    """
    buf, offset, line, column = "", 0, 1, 0
    in_fence: str | None = None
    for final, chunk in _with_end(chunks):
        buf += chunk
        while buf:
            cut = _next_cut(buf, in_fence, final=final)
            if cut is None:
                break
            end, resume, is_code, in_fence = cut
            piece = buf[:end]
            if piece.strip():
                yield Paragraph(piece, offset, line, is_code, column)
            newlines = buf.count("\n", 0, resume)
            line += newlines
            column = resume - buf.rfind("\n", 0, resume) - 1 if newlines else column + resume
            offset += resume
            buf = buf[resume:]


def _with_end(chunks: Iterable[str]) -> Iterator[tuple[bool, str]]:
    """Each chunk with a flag that says it is the last; an empty last chunk flushes what is left."""
    yield from ((False, c) for c in chunks)
    yield True, ""


def _next_cut(buf: str, in_fence: str | None, final: bool) -> tuple[int, int, bool, str | None] | None:
    """(end of piece, where the next starts, piece is code, fence state after) or None to read more."""
    if in_fence is None:
        fence = _FENCE.search(buf)
        limit = fence.start() if fence else len(buf)
        blank = _BLANK.search(buf, 0, limit)
        if blank:
            return blank.start() + 1, blank.end(), False, None
        if fence and fence.start() > 0:
            return fence.start(), fence.start(), False, None
        if not fence:
            if len(buf) > MAX_PARAGRAPH:
                cut = _soft_cut(buf, MAX_PARAGRAPH)
                return cut, cut, False, None
            return (len(buf), len(buf), False, None) if final else None
        marker, body = fence.group(1), buf.find("\n") + 1
        if body == 0:  # the opening line is not complete yet
            return (len(buf), len(buf), True, None) if final else None
    else:
        marker, body = in_fence, 0
    close = re.compile(rf"^[ \t]*{re.escape(marker)}[^\n]*(?:\n|\Z)", re.M).search(buf, body)
    if close and (close.group().endswith("\n") or final):
        return close.end(), close.end(), True, None
    if len(buf) > MAX_PARAGRAPH or final:
        nl = buf.rfind("\n", 0, MAX_PARAGRAPH) + 1 or min(len(buf), MAX_PARAGRAPH)
        return nl, nl, True, marker
    return None


_SOFT_END = re.compile(r"[.!?。！？；;]['\"”’)\]]*\s+|[。！？]")


def _soft_cut(buf: str, limit: int) -> int:
    """A cut at or before ``limit``: after the last sentence end in the second half, else a space, else hard."""
    best = 0
    for m in _SOFT_END.finditer(buf, limit // 2, limit):
        best = m.end()
    if best:
        return best
    space = max(buf.rfind(" ", limit // 2, limit), buf.rfind("\n", limit // 2, limit))
    if space > 0:
        return space + 1
    cut = limit
    if 0 < cut < len(buf) and "\udc00" <= buf[cut] <= "\udfff":  # never split a surrogate pair
        cut -= 1
    return cut
