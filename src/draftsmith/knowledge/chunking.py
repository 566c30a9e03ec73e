"""Structure-aware chunking: blocks → passages of about ``max_chars``, cut at block and sentence boundaries.

- A page break starts a new chunk unless the chunk so far is tiny; a chunk's location keeps its first and
  last page.
- Blocks under one heading are packed together; a new heading starts a new chunk unless the chunk so far is
  tiny (then the heading is kept as a line of its own inside it).
- A block longer than a chunk is split at sentence ends (then words), never mid-word.
- Consecutive chunks of one section overlap by their boundary sentence(s) (``overlap_chars`` at most),
  so a fact that straddles the cut is still found whole in one of them.
- Chinese text gets smaller chunks (characters carry more meaning, and more embedding tokens, each).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from draftsmith.knowledge.parsers import Block, ParsedDocument
from draftsmith.languages import detect_language, is_cjk
from draftsmith.writing.segment import sentences, split_segments

MAX_CHARS = 1000
MAX_CHARS_CJK = 450
OVERLAP_CHARS = 160
MIN_CHARS = 200  # a section shorter than this shares a chunk with the next one


class Location(BaseModel):
    """Where a passage is in its file. Any part may be missing (a .txt has no pages, a PDF no lines)."""

    page: int | None = None
    page_end: int | None = None
    heading: str | None = None
    line_start: int | None = None
    line_end: int | None = None
    paragraph_start: int | None = None
    paragraph_end: int | None = None

    def label(self) -> str:
        parts = []
        if self.page is not None:
            pages = f"{self.page}" if self.page_end in (None, self.page) else f"{self.page}–{self.page_end}"
            parts.append(f"p. {pages}" if "–" not in pages else f"pp. {pages}")
        if self.heading:
            parts.append(f"§ {self.heading}")
        if self.line_start is not None:
            end = self.line_end if self.line_end is not None else self.line_start
            parts.append(f"lines {self.line_start}–{end}" if end != self.line_start else f"line {self.line_start}")
        if self.paragraph_start is not None:
            end = self.paragraph_end if self.paragraph_end is not None else self.paragraph_start
            parts.append(f"¶ {self.paragraph_start}–{end}" if end != self.paragraph_start else f"¶ {end}")
        return ", ".join(parts)


@dataclass
class Chunk:
    text: str
    location: Location
    headings: list[str] = field(default_factory=list)

    @property
    def index_text(self) -> str:
        """What search indexes and embeds: the heading path, then the passage."""
        if self.headings:
            return " › ".join(self.headings) + "\n" + self.text
        return self.text


@dataclass
class _Piece:
    text: str
    block: Block
    section: int


def chunk_document(
    doc: ParsedDocument, max_chars: int | None = None, overlap_chars: int = OVERLAP_CHARS
) -> list[Chunk]:
    if max_chars is None:
        sample = " ".join(b.text for b in doc.blocks[:50])
        max_chars = MAX_CHARS_CJK if is_cjk(detect_language(sample)) else MAX_CHARS
    pieces: list[_Piece] = []
    section = 0
    for block in doc.blocks:
        if block.kind == "heading":
            section += 1
            pieces.append(_Piece(text=_heading_line(block), block=block, section=section))
            continue
        if len(block.text) <= max_chars:
            pieces.append(_Piece(block.text, block, section))
        else:
            for span in split_segments(block.text, max_chars - overlap_chars):
                pieces.append(_Piece(block.text[span.start : span.end], block, section))
    return _pack(pieces, max_chars, overlap_chars)


def _heading_line(block: Block) -> str:
    return "#" * max(block.level, 1) + " " + block.text


def _pack(pieces: list[_Piece], max_chars: int, overlap_chars: int, min_chars: int = MIN_CHARS) -> list[Chunk]:
    chunks: list[Chunk] = []
    current: list[_Piece] = []

    def size(items: list[_Piece]) -> int:
        return sum(len(p.text) + 2 for p in items)

    def close() -> None:
        body = [p for p in current if p.block.kind != "heading"]
        if not body:
            return
        chunks.append(_make_chunk(current, body))

    for piece in pieces:
        body = [p for p in current if p.block.kind != "heading"]
        new_page = bool(body) and piece.block.page is not None and piece.block.page != body[-1].block.page
        if (piece.block.kind == "heading" or new_page) and size(body) >= min_chars:
            close()  # a new section (or page) starts a new chunk, unless the one so far is tiny
            current = []
        if current and size(current) + len(piece.text) > max_chars:
            last_body = next((p for p in reversed(current) if p.block.kind != "heading"), None)
            close()
            current = []
            if last_body is not None and piece.section == last_body.section and piece.block.kind != "heading":
                tail = _tail(last_body.text, overlap_chars)
                if tail:
                    current.append(_Piece(tail, last_body.block, last_body.section))
        if piece.block.kind == "heading" and current and all(p.block.kind == "heading" for p in current):
            current = [piece]  # a heading directly after a heading: keep only the deeper path
            continue
        current.append(piece)
    close()
    return chunks


def _tail(text: str, limit: int) -> str:
    """The last sentence(s) of ``text`` that fit in ``limit`` characters (empty if one sentence is longer)."""
    spans = sentences(text)
    out = ""
    for span in reversed(spans):
        candidate = text[span.start : spans[-1].end]
        if len(candidate) > limit:
            break
        out = candidate
    return out if out != text else ""


def _make_chunk(items: list[_Piece], body: list[_Piece]) -> Chunk:
    first = body[0].block
    lead_headings = [p for p in items[: items.index(body[0])] if p.block.kind == "heading"]
    headings = list(first.headings)
    texts = [p.text for p in items[items.index(body[0]) :]] if lead_headings else [p.text for p in items]
    pages = [p.block.page for p in body if p.block.page is not None]
    starts = [p.block.line_start for p in body if p.block.line_start is not None]
    ends = [p.block.line_end for p in body if p.block.line_end is not None]
    paragraphs = [p.block.paragraph for p in body if p.block.paragraph is not None]
    location = Location(
        page=min(pages) if pages else None,
        page_end=max(pages) if pages else None,
        heading=" › ".join(headings) if headings else None,
        line_start=min(starts) if starts else None,
        line_end=max(ends) if ends else None,
        paragraph_start=min(paragraphs) if paragraphs else None,
        paragraph_end=max(paragraphs) if paragraphs else None,
    )
    return Chunk(text="\n\n".join(t for t in texts if t.strip()), location=location, headings=headings)
