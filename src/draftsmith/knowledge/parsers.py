"""Document parsers: one per format behind the small ``Parser`` protocol.

A parser turns a file's bytes into ``Block``s (a heading, a paragraph, a list item, a table row…) with
where each came from: page (PDF), heading path (Markdown, HTML, DOCX) and line range (text, Markdown).
A file that cannot be read raises ``ParseError`` with a reason a user understands (encrypted, corrupt,
not UTF-8…); ingest skips it and carries on with the rest of the batch.

``ParseLimits`` bound what one file may cost before a parser commits memory or time to it: a ZIP package
(.docx) is checked from its directory (entries, total unpacked size, compression ratio) before anything is
unpacked; a PDF's page count is read from its page tree before pages are walked, and extraction stops at a
time budget; HTML is scanned for element count and nesting depth before it is parsed; text and Markdown are
refused above a line count (a file of blank lines costs far more as a list of lines than as bytes). The
file-size cap itself is applied by the caller before the bytes are read (``kb.MAX_FILE_BYTES``).
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class ParseError(Exception):
    """This file cannot be ingested; the message says why."""


@dataclass(frozen=True)
class ParseLimits:
    """What one file may cost; ``None`` turns a limit off (``ParseLimits.off()`` turns them all off)."""

    max_lines: int | None = 2_000_000  # text and Markdown
    max_unzipped_bytes: int | None = 256 * 1024 * 1024  # .docx: all members together, as their directory says
    max_zip_entries: int | None = 10_000
    max_zip_ratio: float | None = 200.0  # .docx: unpacked ÷ packed size of any member over 1 MB unpacked
    max_pdf_pages: int | None = 5_000
    max_html_elements: int | None = 100_000  # html.parser builds ~10k elements a second on a busy core
    max_html_depth: int | None = 1_000
    max_seconds: float | None = 120.0  # checked between pages (PDF)

    @classmethod
    def off(cls) -> ParseLimits:
        return cls(**{name: None for name in cls.__dataclass_fields__})


DEFAULT_LIMITS = ParseLimits()


def _over(value: float, limit: float | None) -> bool:
    return limit is not None and value > limit


@dataclass
class Block:
    text: str
    kind: str = "paragraph"  # heading, paragraph, list, code, table
    level: int = 0  # heading level (1 = top)
    page: int | None = None
    line_start: int | None = None
    line_end: int | None = None
    paragraph: int | None = None  # paragraph number (DOCX, which has no lines or pages)
    headings: list[str] = field(default_factory=list)  # the heading path this block sits under


@dataclass
class ParsedDocument:
    title: str
    format: str
    blocks: list[Block]

    @property
    def chars(self) -> int:
        return sum(len(b.text) for b in self.blocks)


class Parser(Protocol):
    format: str
    suffixes: tuple[str, ...]

    def parse(self, data: bytes, name: str, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument: ...


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
        raise ParseError("looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text (bad byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def _lines(text: str, limits: ParseLimits) -> list[str]:
    count = text.count("\n") + 1  # counted before splitting: the list of a blank-line file is the cost
    if _over(count, limits.max_lines):
        raise ParseError(f"too many lines ({count:,}; the limit is {limits.max_lines:,})")
    return text.splitlines()


def _with_headings(blocks: list[Block]) -> list[Block]:
    """Fill each block's heading path from the heading blocks before it."""
    path: list[tuple[int, str]] = []
    for block in blocks:
        if block.kind == "heading":
            path = [(lvl, t) for lvl, t in path if lvl < block.level]
            path.append((block.level, block.text))
        block.headings = [t for _, t in path]
    return blocks


class TextParser:
    """Plain text: paragraphs separated by blank lines, with their line ranges."""

    format = "txt"
    suffixes = (".txt", ".text")

    def parse(self, data: bytes, name: str, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
        lines = _lines(_decode(data), limits)
        return ParsedDocument(title=Path(name).stem, format=self.format, blocks=_paragraphs(lines))


def _paragraphs(lines: list[str], first_line: int = 1) -> list[Block]:
    blocks: list[Block] = []
    buf: list[str] = []
    start = first_line
    for i, line in enumerate([*lines, ""], start=first_line):
        if line.strip():
            if not buf:
                start = i
            buf.append(line.strip())
        elif buf:
            blocks.append(Block(text=_join_lines(buf), line_start=start, line_end=i - 1))
            buf = []
    return blocks


def _join_lines(lines: list[str]) -> str:
    """Join wrapped lines: a space between Latin words, nothing between CJK characters."""
    out = lines[0]
    for line in lines[1:]:
        cjk_join = re.search(r"[\u3000-\u9fff\uff00-\uffef]$", out) and re.match(r"[\u3000-\u9fff\uff00-\uffef]", line)
        out += ("" if cjk_join else " ") + line
    return out


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_MD_FENCE = re.compile(r"^\s*(```|~~~)")
_MD_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


class MarkdownParser:
    """Markdown: ATX and setext headings give the heading path; fenced code stays one block."""

    format = "md"
    suffixes = (".md", ".markdown")

    def parse(self, data: bytes, name: str, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
        lines = _lines(_decode(data), limits)
        blocks: list[Block] = []
        buf: list[str] = []
        buf_start = 0
        title = ""

        def flush(end: int) -> None:
            nonlocal buf
            if buf:
                kind = "list" if _MD_LIST.match(buf[0]) else "paragraph"
                blocks.append(Block(text=_join_lines(buf), kind=kind, line_start=buf_start, line_end=end))
                buf = []

        i = 0
        while i < len(lines):
            line, n = lines[i], i + 1
            if _MD_FENCE.match(line):
                flush(n - 1)
                j = i + 1
                while j < len(lines) and not _MD_FENCE.match(lines[j]):
                    j += 1
                code = "\n".join(lines[i + 1 : j]).strip()
                if code:
                    blocks.append(Block(text=code, kind="code", line_start=n + 1, line_end=j))
                i = j + 1
                continue
            heading = _MD_HEADING.match(line)
            setext = (
                i + 1 < len(lines) and line.strip() and not buf and re.match(r"^\s*(=+|-+)\s*$", lines[i + 1] or "x")
            )
            if heading or setext:
                flush(n - 1)
                if heading:
                    level, text = len(heading.group(1)), heading.group(2).strip()
                    i += 1
                else:
                    level, text = (1 if lines[i + 1].strip().startswith("=") else 2), line.strip()
                    i += 2
                blocks.append(Block(text=text, kind="heading", level=level, line_start=n, line_end=n))
                title = title or (text if level == 1 else "")
                continue
            if not line.strip():
                flush(n - 1)
            elif _MD_LIST.match(line) and buf:  # each list item is its own block
                flush(n - 1)
                buf, buf_start = [line.strip()], n
            else:
                if not buf:
                    buf_start = n
                buf.append(line.strip())
            i += 1
        flush(len(lines))
        return ParsedDocument(title=title or Path(name).stem, format=self.format, blocks=_with_headings(blocks))


class HtmlParser:
    """HTML through BeautifulSoup: headings h1–h6, paragraphs, list items, table rows, preformatted text;
    scripts, styles, navigation and forms are dropped."""

    format = "html"
    suffixes = (".html", ".htm", ".xhtml")
    _BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "tr", "dt", "dd", "figcaption")

    def parse(self, data: bytes, name: str, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
        from bs4 import BeautifulSoup

        _check_html_shape(data, limits)
        try:
            soup = BeautifulSoup(data, "html.parser")
        except Exception as exc:  # bs4 is lenient; this is a truly unreadable file
            raise ParseError(f"not readable as HTML ({exc})") from None
        for tag in soup(["script", "style", "noscript", "template", "nav", "form", "svg", "head"]):
            tag.decompose()
        title_tag = BeautifulSoup(data, "html.parser").title
        title = title_tag.get_text(" ", strip=True) if title_tag else ""
        blocks: list[Block] = []
        for el in soup.find_all(self._BLOCKS):
            if el.find_parent(self._BLOCKS) is not None and el.name not in ("tr",):
                continue  # nested (a <p> inside an <li>): the outer block carries its text
            if el.name == "tr":
                cells = [c.get_text(" ", strip=True) for c in el.find_all(["td", "th"])]
                text = " | ".join(c for c in cells if c)
                kind = "table"
            elif el.name == "pre":
                text, kind = el.get_text().strip("\n"), "code"
            else:
                text = " ".join(el.get_text(" ", strip=True).split())
                kind = "heading" if re.fullmatch(r"h[1-6]", el.name) else "list" if el.name == "li" else "paragraph"
            if not text:
                continue
            level = int(el.name[1]) if kind == "heading" else 0
            blocks.append(Block(text=text, kind=kind, level=level))
        if not blocks:  # no block markup at all: fall back to the visible text's paragraphs
            blocks = _paragraphs(soup.get_text("\n").splitlines())
            for b in blocks:
                b.line_start = b.line_end = None
        if not title:
            title = next((b.text for b in blocks if b.kind == "heading"), Path(name).stem)
        return ParsedDocument(title=title, format=self.format, blocks=_with_headings(blocks))


_HTML_TAG = re.compile(rb"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*?(/?)>")
_HTML_VOID = frozenset(
    b"area base br col embed hr img input link meta param source track wbr basefont frame keygen".split()
)


_HTML_OPEN = re.compile(rb"<[A-Za-z]")


def _check_html_shape(data: bytes, limits: ParseLimits) -> None:
    """Element count and nesting depth from a scan of the tags, before a tree is built (an unclosed tag counts
    as open, as the parser would nest it). The count runs in the regex engine; the depth walk only when the
    file has more opening tags than the depth limit."""
    if limits.max_html_elements is None and limits.max_html_depth is None:
        return
    opening = len(_HTML_OPEN.findall(data))
    if _over(opening, limits.max_html_elements):
        raise ParseError(f"too many HTML elements ({opening:,}; the limit is {limits.max_html_elements:,})")
    if limits.max_html_depth is None or opening <= limits.max_html_depth:
        return
    depth = 0
    for closing, tag, self_closing in _HTML_TAG.findall(data):
        if closing:
            depth = max(0, depth - 1)
        elif not self_closing and tag.lower() not in _HTML_VOID:
            depth += 1
            if depth > limits.max_html_depth:
                raise ParseError(f"HTML nested too deeply (over {limits.max_html_depth:,} levels)")


class PdfParser:
    """PDF through pypdf, page by page. Encrypted files are read only when their user password is empty."""

    format = "pdf"
    suffixes = (".pdf",)

    def parse(self, data: bytes, name: str, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError, PyPdfError

        if not data.lstrip()[:5].startswith(b"%PDF"):
            raise ParseError("not a PDF file (no %PDF header); the file may be corrupt")
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")
                except Exception:
                    opened = 0
                if not opened:
                    raise ParseError("encrypted PDF (password-protected); decrypt it first, e.g. qpdf --decrypt")
            pages = _declared_pages(reader)
            if _over(pages, limits.max_pdf_pages):
                raise ParseError(f"too many pages ({pages:,}; the limit is {limits.max_pdf_pages:,})")
            deadline = None if limits.max_seconds is None else time.monotonic() + limits.max_seconds
            blocks: list[Block] = []
            for number, page in enumerate(reader.pages, start=1):
                if deadline is not None and time.monotonic() > deadline:
                    raise ParseError(
                        f"text extraction took over {limits.max_seconds:g} s (stopped at page {number} of {pages})"
                    )
                text = page.extract_text() or ""
                for b in _pdf_paragraphs(text):
                    b.page = number
                    blocks.append(b)
            meta_title = (reader.metadata.title if reader.metadata else None) or ""
        except ParseError:
            raise
        except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ParseError(f"corrupt PDF ({type(exc).__name__}: {str(exc)[:120]})") from None
        except Exception as exc:  # pypdf raises many types on malformed input
            raise ParseError(f"cannot read PDF ({type(exc).__name__}: {str(exc)[:120]})") from None
        if not blocks:
            raise ParseError("no extractable text (a scanned PDF needs OCR first)")
        return ParsedDocument(title=str(meta_title).strip() or Path(name).stem, format=self.format, blocks=blocks)


def _declared_pages(reader) -> int:
    """The page count the page tree declares, read without walking (and flattening) the tree."""
    try:
        count = reader.trailer["/Root"]["/Pages"]["/Count"]
        return int(count)
    except Exception:
        return 0


def _pdf_paragraphs(text: str) -> list[Block]:
    """pypdf gives lines; a blank line or a line ending a sentence well short of the width ends a paragraph."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    width = max((len(ln) for ln in lines), default=0)
    blocks, buf = [], []
    for line in lines:
        if not line.strip():
            if buf:
                blocks.append(Block(text=_join_lines(buf)))
                buf = []
            continue
        buf.append(line.strip())
        if re.search(r"[.!?。！？:：]$", line) and len(line) < 0.7 * width:
            blocks.append(Block(text=_join_lines(buf)))
            buf = []
    if buf:
        blocks.append(Block(text=_join_lines(buf)))
    return blocks


class DocxParser:
    """Word .docx through python-docx: 'Heading N' and 'Title' styles give the heading path; tables by row."""

    format = "docx"
    suffixes = (".docx",)

    def parse(self, data: bytes, name: str, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
        import zipfile

        import docx
        from docx.document import Document as DocxDocument
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        if data[:4] != b"PK\x03\x04":
            if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
                raise ParseError("encrypted or legacy (.doc / OLE) Word file; save it as an unprotected .docx")
            raise ParseError("not a .docx file (not a ZIP package); the file may be corrupt")
        _check_zip(data, limits)
        try:
            document: DocxDocument = docx.Document(io.BytesIO(data))
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise ParseError(f"corrupt .docx ({type(exc).__name__}: {str(exc)[:120]})") from None
        except Exception as exc:
            raise ParseError(f"cannot read .docx ({type(exc).__name__}: {str(exc)[:120]})") from None
        blocks: list[Block] = []
        number = 0
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph):
                number += 1
                text = item.text.strip()
                if not text:
                    continue
                style = (item.style.name if item.style is not None else "") or ""
                level = _docx_heading_level(style)
                kind = "heading" if level else "list" if "List" in style else "paragraph"
                blocks.append(Block(text=text, kind=kind, level=level, paragraph=number))
            elif isinstance(item, Table):
                for row in item.rows:
                    cells: list[str] = []
                    for cell in row.cells:
                        value = cell.text.strip()
                        if value and (not cells or cells[-1] != value):  # merged cells repeat
                            cells.append(value)
                    if cells:
                        blocks.append(Block(text=" | ".join(cells), kind="table", paragraph=number))
        title = (document.core_properties.title or "").strip()
        if not title:
            title = next((b.text for b in blocks if b.kind == "heading"), Path(name).stem)
        return ParsedDocument(title=title, format=self.format, blocks=_with_headings(blocks))


def _check_zip(data: bytes, limits: ParseLimits) -> None:
    """Refuse a ZIP package whose directory promises more than the limits, before anything is unpacked
    (Python's zipfile never unpacks a member past the size its directory entry states)."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ParseError(f"corrupt .docx ({type(exc).__name__}: {str(exc)[:120]})") from None
    if _over(len(members), limits.max_zip_entries):
        raise ParseError(f"too many parts in the package ({len(members):,}; the limit is {limits.max_zip_entries:,})")
    total = sum(m.file_size for m in members)
    if _over(total, limits.max_unzipped_bytes):
        raise ParseError(
            f"unpacks to {total / 1e6:,.0f} MB (the limit is {limits.max_unzipped_bytes / 1e6:,.0f} MB): "
            "a decompression bomb or a document too large to ingest"
        )
    for m in members:
        if m.file_size > 1_000_000 and _over(m.file_size / max(m.compress_size, 1), limits.max_zip_ratio):
            raise ParseError(
                f"part {m.filename!r} unpacks {m.file_size / max(m.compress_size, 1):,.0f}× its packed size "
                f"(the limit is {limits.max_zip_ratio:g}×): a decompression bomb"
            )


def _docx_heading_level(style: str) -> int:
    if style == "Title":
        return 1
    match = re.match(r"Heading (\d)", style)
    return int(match.group(1)) if match else 0


PARSERS: tuple[Parser, ...] = (TextParser(), MarkdownParser(), HtmlParser(), PdfParser(), DocxParser())
SUFFIXES: dict[str, Parser] = {suffix: p for p in PARSERS for suffix in p.suffixes}


def parser_for(path: Path) -> Parser:
    parser = SUFFIXES.get(path.suffix.lower())
    if parser is None:
        known = ", ".join(sorted(SUFFIXES))
        raise ParseError(f"unsupported file type {path.suffix or '(no extension)'!r}; supported: {known}")
    return parser


def parse_file(path: Path, data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    doc = parser_for(path).parse(data, path.name, limits)
    if not any(b.text.strip() for b in doc.blocks):
        raise ParseError("no text found in the file")
    return doc
