"""The optimiser's answer journal: every model answer of a search, kept on disk as it arrives, so an interrupted
search resumes where it stopped and ends exactly as an uninterrupted one would.

An answer is keyed by what decides it: the model's name, the chat messages and the sampling settings. A search
asks in the same order every time, so when the journal replays the answers it has (each still counted against the
budget, as the first run counted it) the search takes the same decisions, and the model is asked only what is
missing. The journal is one JSONL file (one answer a line, appended and flushed when the answer is complete; a
line torn by a crash is ignored); the optimiser removes it when the search finishes.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

from draftsmith.models.base import Chunk, GenParams, Message, Model, Score


class AnswerJournal:
    """Model answers by prompt, loaded from and appended to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.answers: dict[str, list[Chunk]] = {}
        self._lock = threading.Lock()
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    self.answers[entry["key"]] = [Chunk.model_validate(c) for c in entry["chunks"]]
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short when the run was killed
        self.replayed = 0

    def __len__(self) -> int:
        return len(self.answers)

    @staticmethod
    def key(model: str, messages: list[Message], params: GenParams) -> str:
        data = json.dumps(
            [model, [m.model_dump() for m in messages], params.model_dump(mode="json")], ensure_ascii=False
        )
        return hashlib.sha256(data.encode("utf-8")).hexdigest()

    def get(self, key: str) -> list[Chunk] | None:
        with self._lock:
            return self.answers.get(key)

    def put(self, key: str, chunks: list[Chunk]) -> None:
        line = json.dumps({"key": key, "chunks": [c.model_dump(mode="json") for c in chunks]}, ensure_ascii=False)
        with self._lock:
            self.answers[key] = chunks
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def discard(self) -> None:
        with self._lock:
            self.answers.clear()
            self.path.unlink(missing_ok=True)


class ReplayModel(Model):
    """A model that answers from the journal when it can, and journals every answer it has to ask for."""

    def __init__(self, inner: Model, journal: AnswerJournal) -> None:
        self.inner, self.journal = inner, journal
        self.name = inner.name

    def stream(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]:
        key = AnswerJournal.key(self.name, messages, params)
        known = self.journal.get(key)
        if known is not None:
            self.journal.replayed += 1
            return iter([c.model_copy() for c in known])
        return self._record(key, self.inner.stream(messages, params))

    def _record(self, key: str, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        seen: list[Chunk] = []
        for chunk in chunks:
            seen.append(chunk)
            yield chunk
        self.journal.put(key, seen)  # only a complete answer is kept

    def score(self, context: str, continuation: str) -> Score:
        return self.inner.score(context, continuation)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)
