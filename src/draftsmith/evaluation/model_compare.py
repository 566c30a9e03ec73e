"""Measure local models side by side: file size, load time, generation speed and perplexity on the user's text.

What ``draftsmith models compare`` prints, so a user picks a quantisation with numbers. Every model is opened
fresh (not from the loader's per-process cache) with the same context, threads, prompt and token count.
Generation speed is greedy decoding of a fixed prompt for exactly ``tokens`` tokens (end-of-text is not
allowed to stop it early), timed after the prompt is evaluated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from draftsmith.errors import InputError

SPEED_PROMPT = "The history of the printing press begins in"


class ModelMeasure(BaseModel):
    name: str
    path: str
    quant: str | None
    size_mb: float
    load_s: float
    tok_s: float
    ppl: float | None
    ppl_tokens: int
    threads: int


def open_gguf(path: Path, *, n_ctx: int, threads: int) -> tuple[Any, float]:
    """A LlamaCppModel on ``path`` and the seconds it took to load."""
    from draftsmith.models.llamacpp import LlamaCppModel

    start = time.perf_counter()
    model = LlamaCppModel(path, n_ctx=n_ctx, n_threads=threads)
    return model, time.perf_counter() - start


def decode_timing(model: Any, tokens: int, prompt: str = SPEED_PROMPT) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of exactly ``tokens`` greedy decode steps after ``prompt``.

    On a shared machine the CPU time is the steadier figure: other processes stretch the wall time, not the
    work per token (at one thread, tokens / CPU seconds is the speed the machine gives when it is idle).
    """
    import numpy as np

    llm = model.llm
    with model.lock:
        llm.draft_model = None
        llm.n_tokens = 0
        llm.want_logits = 1
        llm.eval(llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False))
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(tokens):
            logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
            llm.eval([int(np.argmax(logits))])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        llm.n_tokens = 0
    return wall, cpu


def decode_speed(model: Any, tokens: int, prompt: str = SPEED_PROMPT) -> float:
    """Tokens per second (wall clock) of greedy generation after ``prompt``."""
    return tokens / decode_timing(model, tokens, prompt)[0]


def measure_path(
    path: Path,
    text: str | None,
    *,
    name: str | None = None,
    tokens: int = 64,
    window: int = 512,
    ppl_tokens: int | None = 4096,
    threads: int = 1,
    progress: Callable[[str], None] | None = None,
) -> ModelMeasure:
    """Load, time generation and (when ``text`` is given) measure perplexity of one GGUF file."""
    from draftsmith.evaluation.perplexity import text_perplexity
    from draftsmith.models.quantize import file_quant_type

    label = name or path.stem
    if progress:
        progress(f"{label}: loading")
    model, load_s = open_gguf(path, n_ctx=max(window, tokens + 64), threads=threads)
    try:
        if progress:
            progress(f"{label}: generating {tokens} tokens")
        tok_s = decode_speed(model, tokens)
        ppl = None
        if text is not None:
            if progress:
                progress(f"{label}: perplexity")
            ppl = text_perplexity(model, text, window=window, max_tokens=ppl_tokens)
    finally:
        model.close()
    return ModelMeasure(
        name=label,
        path=str(path),
        quant=file_quant_type(path),
        size_mb=round(path.stat().st_size / 1e6, 1),
        load_s=round(load_s, 3),
        tok_s=round(tok_s, 2),
        ppl=round(ppl.ppl, 4) if ppl else None,
        ppl_tokens=ppl.tokens if ppl else 0,
        threads=threads,
    )


def compare_models(
    names: list[str],
    text: str,
    *,
    tokens: int = 64,
    window: int = 512,
    ppl_tokens: int | None = 4096,
    threads: int = 1,
    progress: Callable[[str], None] | None = None,
) -> list[ModelMeasure]:
    """Measure each named model (bundled name, local model name or GGUF path) on the same text and settings."""
    from draftsmith.models.loader import describe_spec, resolve_gguf

    if not names:
        raise InputError("name at least one model to compare")
    if not text.strip():
        raise InputError("the text is empty; give a file with a few paragraphs of your own writing")
    paths = []
    for name in names:  # resolve every name first: a typo fails before minutes of measuring
        kind = describe_spec(name)
        if kind not in ("bundled gguf", "gguf file"):
            raise InputError(f"compare measures GGUF models run by llama.cpp; {name!r} is a {kind} model")
        paths.append(resolve_gguf(name))
    return [
        measure_path(
            path,
            text,
            name=name,
            tokens=tokens,
            window=window,
            ppl_tokens=ppl_tokens,
            threads=threads,
            progress=progress,
        )
        for name, path in zip(names, paths, strict=True)
    ]
