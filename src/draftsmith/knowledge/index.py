"""The search index of one knowledge base: BM25 (bm25s) over jieba/Latin tokens, and a dense matrix.

Tokenisation: Latin-script words and numbers are lower-cased, English stop words dropped; runs of Chinese
characters are cut by jieba in search mode (which also emits the shorter words inside long ones, so
"人工智能" matches "智能"). A mixed query ("Python 的 GIL 是什么") yields tokens from both.

The index is a snapshot of a knowledge base at one ``generation``: chunk ids in row order, the
L2-normalised float32 embedding matrix, and the BM25 sparse matrix with its vocabulary. It is saved in
the store (``kb_index``) as one compressed-free ``.npz`` blob, so opening a knowledge base in a new
process reads one row instead of re-tokenising and re-stacking every chunk.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from dataclasses import dataclass

import numpy as np

_LATIN = re.compile(r"[a-z0-9\u00c0-\u024f\u0400-\u04ff]+(?:['’][a-z]+)?")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_TOKEN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z0-9\u00c0-\u024f\u0400-\u04ff'’]+")

_ZH_STOP_WORDS = (
    "的 了 和 是 在 也 有 就 都 而 及 与 着 或 一个 没有 我们 你们 "
    "他们 这 那 之 其 但 被 把 从 对 于 上 中 下 为 以 吗 呢 吧 "
    "啊 么 什么 怎么 如何 哪 哪些 哪个 谁 是否 一 个 这个 那个 这些 "
    "那些 所 所以 因为 如果 还 又 很 "
)
_ZH_STOP = frozenset(_ZH_STOP_WORDS.split())
_jieba_lock = threading.Lock()
_jieba_ready = False


def _en_stop() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | {"s", "t", "also", "which", "whose", "whom", "what", "where", "when", "who"}


_EN_STOP: frozenset[str] | None = None


def _jieba():
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_ready = True
    return jieba


def tokenize(text: str) -> list[str]:
    """BM25 tokens of ``text`` (English and Chinese, mixed freely)."""
    global _EN_STOP
    if _EN_STOP is None:
        _EN_STOP = _en_stop()
    out: list[str] = []
    for run in _TOKEN_RUN.findall(text):
        if _CJK_RUN.fullmatch(run):
            out.extend(t for t in _jieba().cut_for_search(run) if t not in _ZH_STOP)
        else:
            out.extend(w for w in _LATIN.findall(run.lower()) if w not in _EN_STOP)
    return out


def content_tokens(text: str) -> set[str]:
    """Tokens that carry content, for overlap checks (numbers and words of 2+ characters, CJK words)."""
    return {t for t in tokenize(text) if len(t) > 1 or t.isdigit() or _CJK_RUN.match(t)}


REDUCE_ABOVE = 20_000  # chunks; smaller knowledge bases scan the full vectors only
REDUCED_DIM = 128
RESCORE = 4


@dataclass
class Hit:
    row: int
    score: float
    bm25_rank: int | None = None
    dense_rank: int | None = None
    bm25_score: float | None = None
    cosine: float | None = None


class Index:
    """BM25 + dense search over the rows of one knowledge base snapshot."""

    def __init__(
        self, chunk_ids: np.ndarray, dense: np.ndarray, bm25, proj: np.ndarray | None = None, reduced=None
    ) -> None:
        self.chunk_ids = chunk_ids
        self.dense = dense
        self.bm25 = bm25
        self.proj = proj  # (dim, REDUCED_DIM) principal directions, for large knowledge bases only
        self.reduced = reduced  # dense @ proj: a third of the memory to scan

    def __len__(self) -> int:
        return len(self.chunk_ids)

    @classmethod
    def build(cls, chunk_ids: list[int], tokens: list[list[str]], dense: np.ndarray) -> Index:
        import bm25s

        bm25 = bm25s.BM25()
        # bm25s needs at least one token per document; an all-stop-word chunk gets an empty marker.
        bm25.index([t or [""] for t in tokens], show_progress=False)
        dense = np.ascontiguousarray(dense, dtype=np.float32)
        proj = reduced = None
        if len(dense) > REDUCE_ABOVE:
            proj = _principal_directions(dense, REDUCED_DIM)
            reduced = np.ascontiguousarray(dense @ proj)
        return cls(np.asarray(chunk_ids, dtype=np.int64), dense, bm25, proj, reduced)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        vocab = json.dumps(self.bm25.vocab_dict, ensure_ascii=False).encode("utf-8")
        np.savez(
            buf,
            chunk_ids=self.chunk_ids,
            dense=self.dense,
            bm25_data=self.bm25.scores["data"],
            bm25_indices=self.bm25.scores["indices"],
            bm25_indptr=self.bm25.scores["indptr"],
            bm25_num_docs=np.array([self.bm25.scores["num_docs"]], dtype=np.int64),
            vocab=np.frombuffer(vocab, dtype=np.uint8),
            **({"proj": self.proj, "reduced": self.reduced} if self.proj is not None else {}),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Index:
        import bm25s

        arrays = np.load(io.BytesIO(data), allow_pickle=False)
        bm25 = bm25s.BM25()
        bm25.scores = {
            "data": arrays["bm25_data"],
            "indices": arrays["bm25_indices"],
            "indptr": arrays["bm25_indptr"],
            "num_docs": int(arrays["bm25_num_docs"][0]),
        }
        bm25.vocab_dict = json.loads(arrays["vocab"].tobytes().decode("utf-8"))
        bm25.nonoccurrence_array = None  # the default (lucene) method has no non-occurrence term
        proj = arrays["proj"] if "proj" in arrays.files else None
        reduced = np.ascontiguousarray(arrays["reduced"]) if "reduced" in arrays.files else None
        return cls(arrays["chunk_ids"], np.ascontiguousarray(arrays["dense"]), bm25, proj, reduced)

    # -- search -------------------------------------------------------------------------------------

    def bm25_scores(self, query_tokens: list[str]) -> np.ndarray:
        known = [t for t in query_tokens if t in self.bm25.vocab_dict]
        if not known:
            return np.zeros(len(self), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)

    def dense_top(self, q: np.ndarray, depth: int) -> list[int]:
        """Rows by cosine to ``q``, best first. Large indexes scan the reduced matrix for ``RESCORE`` times
        as many candidates, then rank those by their exact cosine."""
        if self.reduced is None:
            return _top(self.dense @ q, depth)
        candidates = np.asarray(_top(self.reduced @ (q @ self.proj), min(len(self), depth * RESCORE)))
        exact = self.dense[candidates] @ q
        return [int(candidates[i]) for i in _top(exact, depth)]

    def search(
        self,
        query_tokens: list[str],
        query_vector: np.ndarray | None,
        k: int = 10,
        *,
        mode: str = "hybrid",
        candidates: int = 50,
        rrf_k: int = 60,
    ) -> list[Hit]:
        """Top ``k`` rows. ``hybrid`` fuses the BM25 and dense rankings by reciprocal rank
        (score = Σ 1/(rrf_k + rank)); ``bm25`` and ``dense`` use one side only."""
        n = len(self)
        if n == 0:
            return []
        depth = min(n, max(candidates, k))
        bm25_top: list[int] = []
        dense_top: list[int] = []
        bm25_all = None
        if mode in ("hybrid", "bm25"):
            bm25_all = self.bm25_scores(query_tokens)
            bm25_top = [i for i in _top(bm25_all, depth) if bm25_all[i] > 0]
        q = None
        if mode in ("hybrid", "dense") and query_vector is not None:
            q = query_vector.astype(np.float32, copy=False)
            dense_top = self.dense_top(q, depth)
        hits: dict[int, Hit] = {}
        for rank, row in enumerate(bm25_top, start=1):
            hit = hits.setdefault(row, Hit(row=row, score=0.0))
            hit.bm25_rank, hit.score = rank, hit.score + 1.0 / (rrf_k + rank)
        for rank, row in enumerate(dense_top, start=1):
            hit = hits.setdefault(row, Hit(row=row, score=0.0))
            hit.dense_rank, hit.score = rank, hit.score + 1.0 / (rrf_k + rank)
        for hit in hits.values():
            if bm25_all is not None:
                hit.bm25_score = float(bm25_all[hit.row])
            if q is not None:
                hit.cosine = float(self.dense[hit.row] @ q)
        if mode == "bm25":
            ordered = sorted(hits.values(), key=lambda h: (-(h.bm25_score or 0.0), h.row))
            for h in ordered:
                h.score = h.bm25_score or 0.0
        elif mode == "dense":
            ordered = sorted(hits.values(), key=lambda h: (-(h.cosine or 0.0), h.row))
            for h in ordered:
                h.score = h.cosine or 0.0
        else:
            ordered = sorted(hits.values(), key=lambda h: (-h.score, h.row))
        return ordered[:k]


def _principal_directions(dense: np.ndarray, k: int, sample: int = 20_000) -> np.ndarray:
    """The top-``k`` eigenvectors of the (uncentred) second moment of the vectors: projecting onto them
    keeps dot products as well as any ``k`` dimensions can."""
    rows = dense if len(dense) <= sample else dense[np.random.default_rng(0).choice(len(dense), sample, False)]
    moment = (rows.T @ rows) / len(rows)
    _, vectors = np.linalg.eigh(moment.astype(np.float64))
    return np.ascontiguousarray(vectors[:, ::-1][:, :k], dtype=np.float32)


def _top(scores: np.ndarray, k: int) -> list[int]:
    if k >= len(scores):
        order = np.argsort(-scores, kind="stable")
    else:
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.argsort(-scores[part], kind="stable")]
    return [int(i) for i in order]
