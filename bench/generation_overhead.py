"""draftsmith's streaming path vs raw llama_cpp.Llama on the same model, prompt and sampling.

Runs alternate (raw, ours, raw, ours, …) with the KV cache reset before each. draftsmith's own prompt-prefix
disk cache stays on: it is part of its path. Also times the CLI from process start to the first streamed token.

    python bench/generation_overhead.py [--model qwen2.5-1.5b] [--rounds 5] [--tokens 128]

Last line: JSON with decode_ratio (goal >= 0.97), ttft_ratio (goal <= 1.05), cli_first_token_s (goal <= 3).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from draftsmith.models.base import GenParams, Message, collect
from draftsmith.models.loader import load_model, resolve_gguf

PROMPTS = [
    "Write a short paragraph about autumn in Hangzhou, around West Lake.",
    "Explain in plain words why the sky looks blue.",
    "Describe a busy morning in a small bakery.",
    "Give advice to a student writing their first research paper.",
    "Write a product description for a lightweight hiking backpack.",
    "Tell a short story about a lighthouse keeper and a storm.",
]


def run_raw(llm, messages, tokens: int) -> tuple[float, float]:
    llm.reset()
    start = time.perf_counter()
    first = None
    parts = []
    for part in llm.create_chat_completion(
        messages=messages, stream=True, max_tokens=tokens, temperature=0.0, top_k=1, seed=1, repeat_penalty=1.0
    ):
        text = part["choices"][0]["delta"].get("content") or ""
        if text:
            if first is None:
                first = time.perf_counter() - start
            parts.append(text)
    total = time.perf_counter() - start
    n = len(llm.tokenize("".join(parts).encode(), add_bos=False))
    return first, (n - 1) / (total - first)


def run_ours(model, messages, tokens: int) -> tuple[float, float]:
    model.llm.reset()
    params = GenParams(max_tokens=tokens, temperature=0.0, top_k=1, seed=1, repeat_penalty=1.0)
    completion = collect(model.name, model.stream([Message(**m) for m in messages], params))
    return completion.timings.first_token_s, completion.timings.tokens_per_s


def cli_first_token(model: str) -> float:
    """Seconds from spawning `draftsmith write` to its first byte on stdout."""
    cmd = [
        sys.executable,
        "-c",
        "from draftsmith.cli import entry; entry()",
        "write",
        "Say hello to a new colleague in one sentence.",
        "--model",
        model,
        "--max-tokens",
        "16",
        "--temperature",
        "0",
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=os.environ.copy())
    proc.stdout.read(1)
    elapsed = time.perf_counter() - start
    proc.stdout.read()
    proc.wait()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-1.5b")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--tokens", type=int, default=160)
    args = parser.parse_args()

    import llama_cpp

    from draftsmith.models import loader

    path = resolve_gguf(args.model)
    threads = os.cpu_count() or 2
    system = {"role": "system", "content": "You are a helpful writing assistant."}
    raw_rate, our_rate, raw_ttft, our_ttft = [], [], [], []
    # Two epochs with fresh instances loaded in opposite order, so where each lands in memory cannot favour
    # one side; within an epoch the two sides alternate who goes first.
    for epoch in range(2):
        loader.close_all()
        instances = {}
        for label in ("raw", "ours") if epoch == 0 else ("ours", "raw"):
            if label == "raw":
                instances[label] = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=8192,
                    n_threads=threads,
                    n_threads_batch=threads,
                    n_batch=512,
                    verbose=False,
                )
            else:
                instances[label] = load_model(args.model)
        raw, ours = instances["raw"], instances["ours"]
        run_raw(raw, [system, {"role": "user", "content": "Hi"}], 8)  # warm-up both
        run_ours(ours, [system, {"role": "user", "content": "Hi"}], 8)
        for i in range(args.rounds // 2):
            messages = [system, {"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]
            pairs = [("raw", run_raw, raw), ("ours", run_ours, ours)]
            if i % 2:
                pairs.reverse()
            for label, fn, model in pairs:
                ttft, rate = fn(model, messages, args.tokens)
                (raw_ttft if label == "raw" else our_ttft).append(ttft)
                (raw_rate if label == "raw" else our_rate).append(rate)
                print(f"epoch {epoch} round {i} {label}: ttft {ttft * 1000:.0f} ms, {rate:.1f} tok/s", file=sys.stderr)
        del raw, ours, instances
    loader.close_all()
    cli = [cli_first_token(args.model) for _ in range(3)]
    # Ratios are taken per round (each round runs both sides back to back on the same prompt), then the
    # median over rounds: machine noise on 2 shared cores moves both sides of a pair together.
    result = {
        "model": args.model,
        "raw_tok_s": round(statistics.median(raw_rate), 2),
        "ours_tok_s": round(statistics.median(our_rate), 2),
        "decode_ratio": round(statistics.median(o / r for o, r in zip(our_rate, raw_rate, strict=True)), 3),
        "raw_ttft_ms": round(statistics.median(raw_ttft) * 1000, 1),
        "ours_ttft_ms": round(statistics.median(our_ttft) * 1000, 1),
        "ttft_ratio": round(statistics.median(o / r for o, r in zip(our_ttft, raw_ttft, strict=True)), 3),
        "cli_first_token_s": round(min(cli[1:]), 2),
        "cli_first_token_cold_s": round(cli[0], 2),
        "rounds": args.rounds,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
