"""The search index of one knowledge base: BM25 (bm25s) over jieba/Latin tokens, and a dense matrix.

Tokenisation: Latin-script words and numbers are lower-cased, English stop words dropped; runs of Chinese
characters are cut by jieba in search mode (which also emits the shorter words inside long ones, so
"人工智能" matches "智能"). A mixed query ("Python 的 GIL 是什么") yields tokens from both.

The index is a snapshot of a knowledge base at one ``generation``: chunk ids in row order, the
L2-normalised float32 embedding matrix, and the BM25 sparse matrix with its vocabulary. It is saved in
the store (``kb_index``) as one compressed-free ``.npz`` blob, so opening a knowledge base in a new
process reads one row instead of re-tokenising and re-stacking every chunk.

Dense search scans the whole matrix up to ``CLUSTER_ABOVE`` chunks (a few ms). Larger knowledge bases get
an inverted file: the rows are stored grouped by k-means cluster, and a query scores exactly the rows of
the clusters nearest to it (5% of the rows, at least 2,000); a full scan of 100k x 384 float32 reads
150 MB per query, tens of ms on a shared machine, the clustered one under 2 ms.
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


CLUSTER_ABOVE = 20_000  # chunks; smaller knowledge bases scan every vector (a few ms)
CLUSTER_DIM = 128  # k-means runs on PCA projections of this many dimensions (a third of the work)
SCAN_SHARE = 0.05  # share of the rows a clustered dense search scores exactly
MIN_SCAN = 2_000  # … but never fewer rows than this (nor fewer than 8x the depth asked for)
SNAPSHOT_FORMAT = 2  # bump when the stored snapshot layout changes: older snapshots are rebuilt


@dataclass
class Hit:
    row: int
    score: float
    bm25_rank: int | None = None
    dense_rank: int | None = None
    bm25_score: float | None = None
    cosine: float | None = None


@dataclass
class Clusters:
    """An inverted file over the dense matrix: rows are stored grouped by k-means cluster, so a search
    scores the rows of the few clusters nearest the query (exact cosine, contiguous slices) instead of all.
    Centroids live in a PCA projection (``proj``) of the vectors."""

    proj: np.ndarray  # (dim, CLUSTER_DIM)
    centroids: np.ndarray  # (lists, CLUSTER_DIM)
    offsets: np.ndarray  # (lists + 1,): rows of cluster c are offsets[c]:offsets[c + 1]

    def __post_init__(self) -> None:
        self.half_norms = 0.5 * np.einsum("ij,ij->i", self.centroids, self.centroids)


class Index:
    """BM25 + dense search over the rows of one knowledge base snapshot."""

    def __init__(self, chunk_ids: np.ndarray, dense: np.ndarray, bm25, clusters: Clusters | None = None) -> None:
        self.chunk_ids = chunk_ids
        self.dense = dense
        self.bm25 = bm25
        self.clusters = clusters  # large knowledge bases only

    def __len__(self) -> int:
        return len(self.chunk_ids)

    @classmethod
    def build(cls, chunk_ids: list[int], tokens: list[list[str]], dense: np.ndarray) -> Index:
        import bm25s

        ids = np.asarray(chunk_ids, dtype=np.int64)
        dense = np.ascontiguousarray(dense, dtype=np.float32)
        clusters = None
        if len(dense) > CLUSTER_ABOVE:
            order, clusters = _cluster(dense)
            ids, dense, tokens = ids[order], np.ascontiguousarray(dense[order]), [tokens[i] for i in order]
        bm25 = bm25s.BM25()
        # bm25s needs at least one token per document; an all-stop-word chunk gets an empty marker.
        bm25.index([t or [""] for t in tokens], show_progress=False)
        return cls(ids, dense, bm25, clusters)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        vocab = json.dumps(self.bm25.vocab_dict, ensure_ascii=False).encode("utf-8")
        c = self.clusters
        np.savez(
            buf,
            format=np.array([SNAPSHOT_FORMAT], dtype=np.int64),
            chunk_ids=self.chunk_ids,
            dense=self.dense,
            bm25_data=self.bm25.scores["data"],
            bm25_indices=self.bm25.scores["indices"],
            bm25_indptr=self.bm25.scores["indptr"],
            bm25_num_docs=np.array([self.bm25.scores["num_docs"]], dtype=np.int64),
            vocab=np.frombuffer(vocab, dtype=np.uint8),
            **({"proj": c.proj, "centroids": c.centroids, "offsets": c.offsets} if c is not None else {}),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Index | None:
        """The stored snapshot, or None when it was written in an older layout (rebuild it then)."""
        import bm25s

        arrays = np.load(io.BytesIO(data), allow_pickle=False)
        if "format" not in arrays.files or int(arrays["format"][0]) != SNAPSHOT_FORMAT:
            return None
        bm25 = bm25s.BM25()
        bm25.scores = {
            "data": arrays["bm25_data"],
            "indices": arrays["bm25_indices"],
            "indptr": arrays["bm25_indptr"],
            "num_docs": int(arrays["bm25_num_docs"][0]),
        }
        bm25.vocab_dict = json.loads(arrays["vocab"].tobytes().decode("utf-8"))
        bm25.nonoccurrence_array = None  # the default (lucene) method has no non-occurrence term
        clusters = None
        if "centroids" in arrays.files:
            clusters = Clusters(arrays["proj"], np.ascontiguousarray(arrays["centroids"]), arrays["offsets"])
        return cls(arrays["chunk_ids"], np.ascontiguousarray(arrays["dense"]), bm25, clusters)

    # -- search -------------------------------------------------------------------------------------

    def bm25_scores(self, query_tokens: list[str]) -> np.ndarray:
        known = [t for t in query_tokens if t in self.bm25.vocab_dict]
        if not known:
            return np.zeros(len(self), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)

    def dense_top(self, q: np.ndarray, depth: int) -> list[int]:
        """Rows by cosine to ``q``, best first. A clustered index scores exactly the rows of the clusters
        nearest to ``q`` (nearest first) until ``SCAN_SHARE`` of the rows (at least ``MIN_SCAN``) are
        covered, and ranks those."""
        c = self.clusters
        if c is None:
            return _top(self.dense @ q, depth)
        near = np.argsort(c.half_norms - c.centroids @ (q @ c.proj))  # nearest centroid (Euclidean) first
        want = max(int(SCAN_SHARE * len(self)), MIN_SCAN, 8 * depth)
        rows, scores, covered = [], [], 0
        for cluster in near:
            a, b = int(c.offsets[cluster]), int(c.offsets[cluster + 1])
            if b > a:
                rows.append(np.arange(a, b))
                scores.append(self.dense[a:b] @ q)
                covered += b - a
                if covered >= want:
                    break
        found, score = np.concatenate(rows), np.concatenate(scores)
        return [int(found[i]) for i in _top(score, min(depth, len(found)))]

    def search(
        self,
        query_tokens: list[str],
        query_vector: np.ndarray | None,
        k: int = 10,
        *,
        mode: str = "hybrid",
        candidates: int = 50,
        rrf_k: int = 60,
        bm25_all: np.ndarray | None = None,
    ) -> list[Hit]:
        """Top ``k`` rows. ``hybrid`` fuses the BM25 and dense rankings by reciprocal rank
        (score = Σ 1/(rrf_k + rank)); ``bm25`` and ``dense`` use one side only. ``bm25_all``: the BM25
        scores of ``query_tokens``, when the caller computed them already."""
        n = len(self)
        if n == 0:
            return []
        depth = min(n, max(candidates, k))
        bm25_top: list[int] = []
        dense_top: list[int] = []
        if mode not in ("hybrid", "bm25"):
            bm25_all = None
        elif bm25_all is None:  # the caller may have scored BM25 already
            bm25_all = self.bm25_scores(query_tokens)
        if bm25_all is not None:
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


def _cluster(dense: np.ndarray, seed: int = 0) -> tuple[np.ndarray, Clusters]:
    """k-means (about 2·√n clusters, Lloyd's iterations on a sample) on PCA projections of the vectors;
    returns the row order that groups the rows by cluster, and the clusters."""
    n = len(dense)
    proj = _principal_directions(dense, min(CLUSTER_DIM, dense.shape[1]))
    reduced = dense @ proj
    lists = int(min(4096, max(16, round(2 * np.sqrt(n)))))
    rng = np.random.default_rng(seed)
    sample = reduced[rng.choice(n, min(n, 40 * lists), replace=False)]
    centroids = sample[rng.choice(len(sample), lists, replace=False)].copy()
    for _ in range(8):
        assign = _nearest(sample, centroids)
        counts = np.bincount(assign, minlength=lists)
        filled = counts > 0
        by_cluster = np.argsort(assign, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[filled]
        centroids[filled] = np.add.reduceat(sample[by_cluster], starts, axis=0) / counts[filled, None]
        empty = np.flatnonzero(~filled)  # re-seed empty clusters on random sample points
        centroids[empty] = sample[rng.choice(len(sample), len(empty), replace=False)]
    assign = _nearest(reduced, centroids)
    order = np.argsort(assign, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(assign, minlength=lists))]).astype(np.int64)
    return order, Clusters(proj, centroids.astype(np.float32), offsets)


def _nearest(points: np.ndarray, centroids: np.ndarray, block: int = 8192) -> np.ndarray:
    half = 0.5 * np.einsum("ij,ij->i", centroids, centroids)
    out = np.empty(len(points), dtype=np.int64)
    for i in range(0, len(points), block):
        out[i : i + block] = np.argmax(points[i : i + block] @ centroids.T - half, axis=1)
    return out


def _top(scores: np.ndarray, k: int) -> list[int]:
    if k >= len(scores):
        order = np.argsort(-scores, kind="stable")
    else:
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.argsort(-scores[part], kind="stable")]
    return [int(i) for i in order]
