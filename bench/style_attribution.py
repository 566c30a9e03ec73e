"""Style attribution with the adherence score: does the right style score highest? Pure CPU, a few seconds.

    python bench/style_attribution.py            # data from ../shared/data, or $DRAFTSMITH_DATA
    python bench/style_attribution.py --block 5 --distractors casual literary

Profiles are learned (``draftsmith.style.profile.learn``) from the valid split of the Shakespeare ↔ modern set, one
per side, each from blocks of ``--block`` consecutive lines; two presets join them as distractors (their profiles
come from their exemplars). Every block of ``--block`` test lines of either side is then scored against all four
profiles; ``attribution_top1`` is the share of blocks whose own side's profile scores highest (goal >= 0.9).
``line_top1`` does the same for single test lines against the two learned profiles (harder: ~10 words each).

Last line: JSON with attribution_top1, per-side figures, mean scores of the right and the best wrong style, timings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from draftsmith.style import profile as P
from draftsmith.style.store import load


def data_dir() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("DRAFTSMITH_DATA") or default)


def detok(line: str) -> str:
    """Undo the NLTK tokenisation ("word ." -> "word.", "( x )" -> "(x)") so texts look like ordinary prose."""
    line = re.sub(r" ([.,;:!?)\]])", r"\1", line.strip())
    line = re.sub(r"([(\[]) ", r"\1", line)
    return re.sub(r" (n't|'s|'t|'ll|'re|'ve|'d|'m)\b", r"\1", line)


def read(path: Path) -> list[str]:
    return [detok(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def blocks(lines: list[str], size: int) -> list[str]:
    return ["\n".join(lines[i : i + size]) for i in range(0, len(lines) - size + 1, size)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--block", type=int, default=10, help="lines per block (default 10)")
    ap.add_argument("--learn-lines", type=int, default=100, help="lines per sample text to learn from (default 100)")
    ap.add_argument("--distractors", nargs="*", default=["casual", "literary"], help="presets added as distractors")
    args = ap.parse_args()
    root = data_dir() / "shakespeare"
    if not root.is_dir():
        sys.exit(f"no data at {root}; set DRAFTSMITH_DATA to the folder that holds shakespeare/")

    t0 = time.perf_counter()
    sides = {"modern": "modern", "shakespeare": "original"}
    profiles = {
        name: P.learn(name, blocks(read(root / f"valid.{suffix}.nltktok"), args.learn_lines))
        for name, suffix in sides.items()
    }
    for name in args.distractors:
        profiles[name] = load(name, "en")
    learn_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    per_side: dict[str, dict[str, float]] = {}
    right_scores, wrong_scores, hits_all, n_all = [], [], 0, 0
    confusion: dict[str, dict[str, int]] = {}
    for name, suffix in sides.items():
        lines = read(root / f"test.{suffix}.nltktok")
        hits = 0
        test_blocks = blocks(lines, args.block)
        for block in test_blocks:
            scores = {p: P.adherence(block, prof).score for p, prof in profiles.items()}
            best = max(scores, key=scores.__getitem__)
            confusion.setdefault(name, {}).setdefault(best, 0)
            confusion[name][best] += 1
            hits += best == name
            right_scores.append(scores[name])
            wrong_scores.append(max(v for p, v in scores.items() if p != name))
        line_hits = 0
        for line in lines:
            s = {p: P.adherence(line, profiles[p]).score for p in sides}
            line_hits += max(s, key=s.__getitem__) == name
        per_side[name] = {
            "blocks": len(test_blocks),
            "top1": round(hits / len(test_blocks), 4),
            "line_top1": round(line_hits / len(lines), 4),
        }
        hits_all += hits
        n_all += len(test_blocks)
    score_s = time.perf_counter() - t1
    n_lines = sum(v["blocks"] for v in per_side.values())
    line_top1 = sum(per_side[s]["line_top1"] for s in sides) / len(sides)
    result = {
        "attribution_top1": round(hits_all / n_all, 4),
        "goal": 0.9,
        "block_lines": args.block,
        "profiles": list(profiles),
        "per_side": per_side,
        "confusion": confusion,
        "line_top1": round(line_top1, 4),
        "mean_score_right": round(sum(right_scores) / len(right_scores), 4),
        "mean_score_best_wrong": round(sum(wrong_scores) / len(wrong_scores), 4),
        "learn_s": round(learn_s, 2),
        "score_s": round(score_s, 2),
        "blocks_scored": n_lines,
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
