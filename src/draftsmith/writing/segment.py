"""Split long text at paragraph and sentence boundaries so it can be processed piece by piece.

Segments are spans of the original; the text between them is whitespace only, and is put back
verbatim when results are stitched, so nothing is dropped or duplicated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
# A sentence ends at . ! ? … (plus closing quotes/brackets) before whitespace, or at CJK end marks.
_SENTENCE_END = re.compile(r"(?:[.!?…][\"'”’)\]]*(?=\s)|[。！？；][”’」』）]*)(\s*)")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def _pieces(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[Span]:
    out, pos = [], start
    for match in pattern.finditer(text, start, end):
        cut, resume = match.span(1) if pattern.groups else match.span()
        if cut > pos:
            out.append(Span(pos, cut))
        pos = resume
    if pos < end:
        out.append(Span(pos, end))
    return [_trim(text, s) for s in out if text[s.start : s.end].strip()]


def _trim(text: str, span: Span) -> Span:
    s, e = span.start, span.end
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return Span(s, e)


def _hard_split(text: str, span: Span, max_chars: int) -> list[Span]:
    out, s = [], span.start
    while span.end - s > max_chars:
        cut = text.rfind(" ", s + 1, s + max_chars + 1)
        cut = cut if cut > s else s + max_chars
        out.append(_trim(text, Span(s, cut)))
        s = cut
    out.append(_trim(text, Span(s, span.end)))
    return [p for p in out if p.end > p.start]


# A full stop after an initial or a title does not end a sentence ("Abraham A. Ribicoff", "Dr. Lee").
_ABBREVIATION_END = re.compile(r"(?:^|[\s(])(?:[A-Z]|Mr|Mrs|Ms|Dr|St|Prof|Gen|Col|Capt|Lt)\.$")


def sentences(text: str) -> list[Span]:
    """Sentence spans (trimmed) of a text, in order; a span ending in an initial or a title is joined to the
    next one."""
    out: list[Span] = []
    for span in _pieces(text, 0, len(text), _SENTENCE_END):
        if out and _ABBREVIATION_END.search(text[out[-1].start : out[-1].end]):
            out[-1] = Span(out[-1].start, span.end)
        else:
            out.append(span)
    return out


def split_segments(text: str, max_chars: int = 1200) -> list[Span]:
    """Spans of at most ``max_chars`` (unless a single word is longer), cut at the best boundary."""
    units: list[Span] = []
    for para in _pieces(text, 0, len(text), _PARAGRAPH):
        if para.end - para.start <= max_chars:
            units.append(para)
            continue
        for sent in _pieces(text, para.start, para.end, _SENTENCE_END):
            if sent.end - sent.start <= max_chars:
                units.append(sent)
            else:
                units.extend(_hard_split(text, sent, max_chars))
    segments: list[Span] = []
    for unit in units:
        if (
            segments
            and unit.end - segments[-1].start <= max_chars
            and "\n\n" not in text[segments[-1].end : unit.start]
        ):
            segments[-1] = Span(segments[-1].start, unit.end)
        else:
            segments.append(unit)
    return segments


def stitch(text: str, spans: list[Span], outputs: list[str]) -> str:
    """Rebuild a document: each span replaced by its output, the whitespace between kept."""
    parts, pos = [], 0
    for span, out in zip(spans, outputs, strict=True):
        parts.append(text[pos : span.start])
        parts.append(out)
        pos = span.end
    parts.append(text[pos:])
    return "".join(parts)


def map_segments(text: str, fn: Callable[[str], str], max_chars: int = 1200) -> str:
    spans = split_segments(text, max_chars)
    return stitch(text, spans, [fn(text[s.start : s.end]) for s in spans])
