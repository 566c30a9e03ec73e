"""Optimise the built-in correction template on JFLEG dev; report GLEU on JFLEG test before and after.

    python bench/optimize_jfleg.py                       # 60 dev items, 100 test items, budget 200, 0.5B model
    python bench/optimize_jfleg.py --dev 30 --test 50 --budget 100 --threads 2

What runs (all seeded, all written down in the last line):
- dev: ``--dev`` items drawn from JFLEG dev (seed ``--seed``); the search scores variants only on these.
- train: the rest of JFLEG dev, the pool the few-shot variants draw examples from.
- test: ``--test`` items drawn from JFLEG test (same seed), never seen by the search; the optimiser's held-out
  check scores the template and the dev winner on them, with a paired bootstrap 95% interval of the change.
- text: JFLEG is PTB-tokenised; the model sees detokenised text and its answers are re-tokenised before GLEU.
- budget: ``--budget`` model calls for the search (proposals included); the test evaluation is extra.
- variants: ``--rewrites`` instruction rewrites (by ``--proposer``, default the same model), and for each k in
  ``--shots`` a set of k typical training examples (``--shot-pick``; see ``variants.typical_examples``) in place of
  the template's own (``--shots-plus`` also tries them added to the template's own); after the first round the
  best rewrite and the best examples are also tried together.
The optimiser writes the winner (if it wins on test) into a throwaway DRAFTSMITH_HOME, and the diff of the
template is printed on stderr. ``--threads 1`` is the default because llama.cpp threads spin-wait, which is slow
on a machine whose cores are shared with other work; raise it on an idle machine.

Last line: JSON with gleu_before (the template on test), gleu_after (the dev winner on test, written or not;
``written_version`` says whether it won there and was written), the paired bootstrap 95% interval of the change,
the dev figures, the calls and the time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def data_dir() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("DRAFTSMITH_DATA") or default)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", type=int, default=60)
    parser.add_argument("--test", type=int, default=100)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default="qwen2.5-0.5b")
    parser.add_argument("--rewrites", type=int, default=2, help="instruction rewrites to propose")
    parser.add_argument("--proposer", default=None, help="model that writes the rewrites (default: --model)")
    parser.add_argument("--shots", default="2,4,6", help="few-shot set sizes to try (comma-separated)")
    parser.add_argument("--shot-pick", default="typical", choices=["typical", "random"])
    parser.add_argument("--shots-plus", action="store_true", help="also try each set added to the template's own")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="optimize-jfleg-")
    os.environ["DRAFTSMITH_HOME"] = home  # the written template version goes here, not into the user's folder

    from draftsmith.config import load_settings
    from draftsmith.evaluation.datasets import load_jfleg, split_items
    from draftsmith.evaluation.optimize import OptimizeConfig, optimize
    from draftsmith.models.loader import load_model
    from draftsmith.prompts import history
    from draftsmith.store.db import Store

    jfleg = data_dir() / "jfleg"
    dev, train = split_items(load_jfleg(jfleg, "dev"), [args.dev], seed=args.seed)
    test = split_items(load_jfleg(jfleg, "test"), [args.test], seed=args.seed)[0]
    model = load_model(args.model, settings=load_settings(model=args.model, n_threads=args.threads))
    store = Store(f"sqlite:///{Path(home, 'runs.db')}")
    settings = load_settings(model=args.proposer, n_threads=args.threads) if args.proposer else None
    proposer = load_model(args.proposer, settings=settings) if args.proposer else None
    cfg = OptimizeConfig(
        metric="gleu",
        budget=args.budget,
        seed=args.seed,
        tokenize="ptb",
        rewrites=args.rewrites,
        shots=[int(k) for k in args.shots.split(",") if k.strip()],
        shot_pick=args.shot_pick,
        shots_plus=args.shots_plus,
    )
    start = time.perf_counter()
    result = optimize(
        model,
        "correct",
        train,
        dev,
        test,
        cfg,
        store=store,
        log=lambda m: print(m, file=sys.stderr, flush=True),
        proposer=proposer,
    )
    wall = time.perf_counter() - start
    for c in result.candidates:
        print(
            f"{c.key:18s} dev gleu {c.dev_score if c.dev_score is not None else float('nan'):7.3f} "
            f"on {c.dev_items:3d} items  {c.description}",
            file=sys.stderr,
        )
    print(result.decision, file=sys.stderr)
    print(f"runs (eval compare/report), template history and caches are kept in {home}", file=sys.stderr)
    if result.written_version:
        print(history.diff("correct", 1, result.written_version), file=sys.stderr)
    elif result.winner_text:
        print("winner (not written):\n" + result.winner_text, file=sys.stderr)
    print(
        json.dumps(
            {
                "gleu_before": round(result.heldout_before, 3),
                "gleu_after": round(result.heldout_after, 3),
                "gleu_delta": round(result.heldout_after - result.heldout_before, 3),
                "delta_ci95": [round(result.heldout_low, 3), round(result.heldout_high, 3)]
                if result.heldout_low is not None
                else None,
                "p_not_better": result.heldout_p,
                "winner": result.winner,
                "written_version": result.written_version,
                "dev_gleu_before": round(result.dev_before, 3) if result.dev_before is not None else None,
                "dev_gleu_after": round(result.dev_after, 3) if result.dev_after is not None else None,
                "dev_items_final_round": result.dev_items,
                "variants": len(result.candidates),
                "search_calls": result.search_calls,
                "test_calls": result.heldout_calls,
                "budget": args.budget,
                "dev_items": args.dev,
                "test_items": args.test,
                "train_pool": len(train),
                "seed": args.seed,
                "model": args.model,
                "proposer": args.proposer or args.model,
                "shots": cfg.shots,
                "shot_pick": cfg.shot_pick,
                "rewrites": args.rewrites,
                "threads": args.threads,
                "wall_s": round(wall, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
