"""Style transfer with ``rewrite --style``: does adherence to the target rise, and is the content kept?

    python bench/style_transfer.py                          # 8 inputs per style, both bundled models
    python bench/style_transfer.py --n 20 --models qwen2.5-0.5b --presets formal academic
    python bench/style_transfer.py --candidates 1       # one draft per input, as the model writes it

Data: ../shared/data/shakespeare (or $DRAFTSMITH_DATA/shakespeare), detokenised. Inputs: ``--n`` passages of three
consecutive modern lines of the test split, spread over it (plays and scenes vary). Styles:
- ``shakespeare``: a profile learned (``profile.learn``) from the valid split's original side, in sample texts of 100
  lines; the three human Shakespearean lines are the reference;
- each preset of ``--presets`` (no reference).

Per model and style: ``strength_gain_share`` (share of inputs whose adherence to the target is higher after the
rewrite; ties count as no gain), mean adherence before and after, ``chrf_vs_source`` (content kept; corpus chrF of
outputs vs inputs), ``ppl`` (perplexity of the outputs under the 0.5B model, fluency), and for ``shakespeare``
``bleu_vs_reference``/``chrf_vs_reference`` (sacrebleu corpus scores vs the human lines) beside the same scores of
the unchanged input (the set's paper reports ≈ 21 BLEU for the unchanged input with multi-bleu on tokenised,
line-level text). Adherence before and after is scored as if both had the input's length, so cutting text does not
count as a gain. Rewrites use the operation's own temperature (0.7) with a fixed seed, so runs repeat, and its own
best-of-n (``--candidates``, default the operation's: drafts chosen by adherence with a content floor, see
``draftsmith.style.select``).

Last line: JSON with top-level keys averaged over every model and style (``strength_gain_share``, ``chrf_vs_source``,
``ppl``) or over the models for the Shakespeare set (``bleu_vs_reference``, ``chrf_vs_reference``), and ``runs``
with every figure per model and style.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from draftsmith.evaluation import bleu, chrf
from draftsmith.models.loader import load_model
from draftsmith.style import features as F
from draftsmith.style import profile as P
from draftsmith.style import store
from draftsmith.style.select import DEFAULT_CANDIDATES
from draftsmith.writing.rewrite import rewrite
from style_attribution import blocks, data_dir, read

PAPER_COPY_BLEU = 21.0  # unchanged input vs reference, as reported with the set (multi-bleu, tokenised)


def perplexity(model, texts: list[str]) -> float:
    logprob, tokens = 0.0, 0
    for text in texts:
        s = model.score("Text:\n", text.strip())
        logprob += s.logprob
        tokens += s.tokens
    return math.exp(-logprob / max(tokens, 1))


def run_style(
    model,
    style: str,
    profile,
    inputs: list[str],
    refs: list[str] | None,
    log,
    seed: int = 0,
    candidates: int = DEFAULT_CANDIDATES,
) -> dict[str, Any]:
    outputs, gains, before, after = [], 0, [], []
    start = time.perf_counter()
    for i, text in enumerate(inputs):
        out = rewrite(model, text, style=style, seed=seed, candidates=candidates).text  # its own temperature, seeded
        outputs.append(out)
        n = F.length(text, profile.language)  # both scored as the input's length: cutting text is no style gain
        a, b = P.adherence(text, profile, as_length=n).score, P.adherence(out, profile, as_length=n).score
        before.append(a)
        after.append(b)
        gains += b > a
        log(f"  [{style} {i + 1}/{len(inputs)}] {a:.2f} -> {b:.2f} | {text[:60]!r} -> {out[:80]!r}")
    result: dict[str, Any] = {
        "n": len(inputs),
        "strength_gain_share": round(gains / len(inputs), 4),
        "adherence_before": round(sum(before) / len(before), 4),
        "adherence_after": round(sum(after) / len(after), 4),
        "chrf_vs_source": round(chrf(outputs, inputs), 2),
        "seconds": round(time.perf_counter() - start, 1),
    }
    if refs is not None:
        result["bleu_vs_reference"] = round(bleu(outputs, refs), 2)
        result["chrf_vs_reference"] = round(chrf(outputs, refs), 2)
        result["input_bleu_vs_reference"] = round(bleu(inputs, refs), 2)
        result["input_chrf_vs_reference"] = round(chrf(inputs, refs), 2)
    result["outputs"] = outputs
    return result


def _figures(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "outputs"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8, help="inputs per style (default 8)")
    ap.add_argument(
        "--models", nargs="+", default=["qwen2.5-0.5b", "qwen2.5-1.5b"], help="models; NAME:K uses only K inputs"
    )
    ap.add_argument("--presets", nargs="*", default=["formal", "casual"], help="presets to rewrite into")
    ap.add_argument(
        "--candidates",
        type=int,
        default=DEFAULT_CANDIDATES,
        help=f"drafts per input that rewrite chooses from (default {DEFAULT_CANDIDATES}, the operation's default)",
    )
    ap.add_argument(
        "--no-learned", action="store_true", help="presets only: skip the learned Shakespeare profile (no references)"
    )
    ap.add_argument("--save", type=Path, help="also write every output and figure to this JSON file")
    args = ap.parse_args()
    root = data_dir() / "shakespeare"
    if not root.is_dir():
        sys.exit(f"no data at {root}; set DRAFTSMITH_DATA to the folder that holds shakespeare/")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    modern, original = read(root / "test.modern.nltktok"), read(root / "test.original.nltktok")
    step = max(3, len(modern) // args.n)
    starts = list(range(0, len(modern) - 3, step))[: args.n]
    inputs = ["\n".join(modern[i : i + 3]) for i in starts]  # three consecutive lines: a short passage
    references = ["\n".join(original[i : i + 3]) for i in starts]
    shakespeare = P.learn("shakespeare", blocks(read(root / "valid.original.nltktok"), 100))
    os.environ.setdefault("DRAFTSMITH_HOME", str(Path(os.environ.get("TMPDIR", "/tmp")) / "draftsmith-bench-style"))
    store.save(shakespeare, force=True)  # rewrite looks styles up by name
    jobs = [] if args.no_learned else [("shakespeare", shakespeare, inputs, references)]
    jobs += [(name, store.load(name, "en"), inputs, None) for name in args.presets]

    scorer = load_model("qwen2.5-0.5b")
    runs: dict[str, dict[str, Any]] = {}
    for entry in args.models:
        spec, _, k = entry.partition(":")
        model = load_model(spec)
        log(f"{spec}:")
        for style, profile, inputs, refs in jobs:
            count = int(k) if k else len(inputs)
            refs_k = refs[:count] if refs else None
            result = run_style(model, style, profile, inputs[:count], refs_k, log, candidates=args.candidates)
            result["ppl"] = round(perplexity(scorer, result["outputs"]), 2)
            result["input_ppl"] = round(perplexity(scorer, inputs[:count]), 2)  # the same inputs as the outputs
            runs.setdefault(spec, {})[style] = result
    if args.save:
        args.save.write_text(json.dumps(runs, ensure_ascii=False, indent=1), encoding="utf-8")
    every = [r for per_model in runs.values() for r in per_model.values()]
    sh = [per_model["shakespeare"] for per_model in runs.values() if "shakespeare" in per_model]

    def mean(key: str, rows: list[dict[str, Any]]) -> float:
        return round(sum(r[key] for r in rows) / len(rows), 4)

    summary = {
        "strength_gain_share": mean("strength_gain_share", every),
        "chrf_vs_source": mean("chrf_vs_source", every),
        "bleu_vs_reference": mean("bleu_vs_reference", sh) if sh else None,
        "chrf_vs_reference": mean("chrf_vs_reference", sh) if sh else None,
        "input_bleu_vs_reference": max(sh, key=lambda r: r["n"])["input_bleu_vs_reference"] if sh else None,
        "paper_input_bleu": PAPER_COPY_BLEU,
        "ppl": mean("ppl", every),
        "goals": {"strength_gain_share": 0.8, "chrf_vs_source": 40},
        "n_per_style": args.n,
        "candidates": args.candidates,
        "runs": {m: {s: _figures(r) for s, r in per.items()} for m, per in runs.items()},
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
