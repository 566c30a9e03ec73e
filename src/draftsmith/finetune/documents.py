"""Continuation examples from the user's documents: the text so far → the next sentences.

Documents are ``.txt``/``.md`` files, folders of them, or a knowledge base (``draftsmith kb``, its chunks joined
back into documents). Every example of one paragraph shares a group, so no paragraph is split between train and
test.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from draftsmith.errors import InputError
from draftsmith.finetune.data import INSTRUCTIONS, Example, _read_text
from draftsmith.languages import detect_language
from draftsmith.writing.segment import sentences

DOC_SUFFIXES = (".txt", ".md", ".markdown", ".rst")
_CONTEXT_WORDS = 120  # words (CJK: characters × 2) of context before the target
_TARGET_SENTENCES = 2


def document_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DOC_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path} does not exist")
    return files


def continuation_examples(text: str, origin: str) -> list[Example]:
    """Text so far (within the paragraph, plus the end of the previous one) → the next sentences."""
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    examples: list[Example] = []
    previous = ""
    for number, paragraph in enumerate(paragraphs, 1):
        if paragraph.startswith(("```", "|")):  # code blocks and tables are not prose to continue
            continue
        spans = [paragraph[s.start : s.end] for s in sentences(paragraph)]
        for start in range(1, len(spans), _TARGET_SENTENCES):
            context = _tail(" ".join([previous, *spans[:start]]).strip())
            target = " ".join(spans[start : start + _TARGET_SENTENCES])
            lang = detect_language(target)
            examples.append(
                Example(
                    task="continue",
                    instruction=INSTRUCTIONS["continue"],
                    input=context,
                    output=target,
                    lang=lang,
                    origin=f"{origin}#{number}",
                    group=f"{origin}#{number}",
                )
            )
        previous = paragraph
    return examples


def _tail(text: str) -> str:
    """The last ~_CONTEXT_WORDS words of ``text`` (CJK text: the last 2 × that many characters)."""
    if detect_language(text) in ("zh", "ja"):
        return text[-2 * _CONTEXT_WORDS :]
    words = text.split()
    return " ".join(words[-_CONTEXT_WORDS:])


def read_documents(paths: Iterable[Path]) -> list[Example]:
    examples = []
    for file in document_files(paths):
        examples.extend(continuation_examples(_read_text(file), file.name))
    return examples


def read_knowledge_base(name: str, owner: str = "") -> list[Example]:
    """Continuation examples from the documents of a knowledge base (``draftsmith kb``), rebuilt from its chunks."""
    try:
        import sqlalchemy as sa

        from draftsmith.knowledge.kb import kb_row
        from draftsmith.store.db import open_store
        from draftsmith.store.knowledge import kb_chunks, kb_documents
    except ImportError as exc:
        raise InputError(f"knowledge bases are not available here ({exc.name} is missing); use --from-docs") from None
    store = open_store()
    with store.read() as conn:
        kb_id = kb_row(conn, name, owner).id
        docs = conn.execute(
            sa.select(kb_documents.c.id, kb_documents.c.source).where(kb_documents.c.kb_id == kb_id)
        ).all()
        rows = conn.execute(
            sa.select(kb_chunks.c.doc_id, kb_chunks.c.text)
            .where(kb_chunks.c.kb_id == kb_id)
            .order_by(kb_chunks.c.doc_id, kb_chunks.c.ordinal)
        ).all()
    chunks: dict[str, list[str]] = {}
    for doc_id, text in rows:
        chunks.setdefault(doc_id, []).append(text)
    examples = []
    for doc_id, source in sorted(docs, key=lambda row: row[1]):
        text = join_overlapping(chunks.get(doc_id, []))
        examples.extend(continuation_examples(text, f"kb:{name}/{Path(source).name}"))
    return examples


def join_overlapping(pieces: Sequence[str], longest: int = 2000) -> str:
    """Chunks back into one text: a chunk that starts with the end of the text so far adds only the rest."""
    text = ""
    for piece in pieces:
        cut = next(
            (n for n in range(min(len(text), len(piece), longest), 15, -1) if text.endswith(piece[:n])),
            0,
        )
        rest = piece[cut:]
        text = text + rest if cut else (text + "\n\n" + piece if text else piece)
    return text
