"""Perplexity of a model on a whole text: exp(mean negative log-likelihood) over the text's tokens.

A text longer than the window is read in windows of ``window`` tokens that advance by ``stride``: each window
scores only the tokens the previous one did not, with up to ``window - stride`` tokens of context before them
(the sliding-window evaluation of Hugging Face's perplexity guide). ``stride == window`` gives independent
chunks (faster, higher perplexity); the first window's first token has no context and is not scored.

This is the corpus measure used to compare quantisations of one model (``draftsmith models compare``); the
per-item perplexity of an eval run (an output after its prompt) is ``evaluation.judge.perplexity``. Both are
exp(−log-probability / tokens); this one needs a llama.cpp model (it reads logits per position).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from draftsmith.errors import InputError, ModelError

LOGIT_ROWS = 128  # logits asked of llama.cpp per decode: 128 × a 262k vocabulary is 134 MB


class Perplexity(BaseModel):
    ppl: float
    nll: float  # mean negative log-likelihood per token (nats)
    tokens: int  # tokens scored
    window: int
    stride: int


def _llm(model: Any) -> Any:
    llm = getattr(model, "llm", None)
    if llm is None or not hasattr(llm, "want_logits"):
        raise ModelError(
            f"perplexity over a text needs a llama.cpp model (a GGUF); {getattr(model, 'name', model)!r} is not one"
        )
    return llm


def tokenize(model: Any, text: str) -> list[int]:
    return list(_llm(model).tokenize(text.encode("utf-8"), add_bos=True, special=False))


def text_perplexity(
    model: Any,
    text: str,
    *,
    window: int = 512,
    stride: int | None = None,
    max_tokens: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Perplexity:
    """Perplexity of ``model`` (a LlamaCppModel) on ``text``; ``max_tokens`` scores only the text's start."""
    tokens = tokenize(model, text)
    if max_tokens:
        tokens = tokens[:max_tokens]
    return token_perplexity(model, tokens, window=window, stride=stride, progress=progress)


def token_perplexity(
    model: Any,
    tokens: Sequence[int],
    *,
    window: int = 512,
    stride: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Perplexity:
    llm = _llm(model)
    window = min(window, getattr(model, "n_ctx", window), llm.n_ctx())
    stride = min(stride or window // 2, window)
    if len(tokens) < 2:
        raise InputError("the text is too short to measure perplexity (fewer than 2 tokens)")
    if window < 2 or stride < 1:
        raise InputError(f"window ({window}) must be at least 2 tokens and stride ({stride}) at least 1")
    total_nll, scored, done = 0.0, 0, 1  # tokens[0] is never predicted
    lock = getattr(model, "lock", None)
    if lock is not None:
        lock.acquire()
    try:
        llm.draft_model = None
        begin = 0
        while done < len(tokens):
            end = min(begin + window, len(tokens))
            nll, n = _window_nll(llm, tokens[begin:end], first=done - begin)
            total_nll += nll
            scored += n
            done = end
            if progress:
                progress(done, len(tokens))
            begin = max(end - window + stride, begin + stride) if end < len(tokens) else end
            begin = min(begin, done - 1)  # always at least one token of context
    finally:
        llm.n_tokens = 0  # the KV holds a text nobody will continue; the next call starts clean
        llm.want_logits = 1
        if lock is not None:
            lock.release()
    mean = total_nll / scored
    return Perplexity(ppl=math.exp(mean), nll=mean, tokens=scored, window=window, stride=stride)


def _window_nll(llm: Any, chunk: Sequence[int], first: int) -> tuple[float, int]:
    """Sum of −log p(chunk[i] | chunk[:i]) for i ≥ first, on a fresh KV cache."""
    import numpy as np

    first = max(first, 1)
    llm.n_tokens = 0  # eval() drops the KV past n_tokens
    llm.want_logits = 1
    if first > 1:
        llm.eval(list(chunk[: first - 1]))  # context only
    total, n_vocab = 0.0, llm.n_vocab()
    for start in range(first - 1, len(chunk) - 1, LOGIT_ROWS):
        part = list(chunk[start : min(start + LOGIT_ROWS, len(chunk) - 1)])
        llm.want_logits = len(part)
        llm.eval(part)
        logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(part), n_vocab)).astype(np.float64)
        targets = np.asarray(chunk[start + 1 : start + 1 + len(part)])
        peak = logits.max(axis=1)
        logz = peak + np.log(np.exp(logits - peak[:, None]).sum(axis=1))
        total += float((logz - logits[np.arange(len(part)), targets]).sum())
    return total, len(chunk) - first
