"""English correction quality on JFLEG: GLEU of ``correct`` in its three modes, and of the unchanged source.

    python bench/gec_jfleg.py                              # test split, all 747 sentences, 1.5B model, 1 thread
    python bench/gec_jfleg.py --limit 200                  # the first 200 sentences (file order)
    python bench/gec_jfleg.py --split dev --limit 60       # a dev sample, for looking at errors (never tune on test)
    python bench/gec_jfleg.py --score-only                 # score what the cache holds, run nothing

What runs:
- data: ``../shared/data/jfleg/{split}`` (or ``$DRAFTSMITH_DATA/jfleg``), sentences in file order, four references.
- modes: ``hybrid`` (detectors' hints + the model + the detectors' guards), ``llm`` (the model alone) and
  ``detectors`` (no model), each through ``evaluation.runner.run_operation``, the way ``draftsmith eval`` calls
  ``correct``: the model sees detokenised text (``evaluation.ptb``) and its answer is re-tokenised for scoring.
  For each sentence every mode runs before the next sentence, so a partial run has the same sentences in each.
- model: ``--model`` (default ``qwen2.5-1.5b``) at temperature 0, llama.cpp with ``--threads`` (default 1: its
  threads spin-wait, which is slow on a machine shared with other work).
- cache: each finished sentence is appended to a JSONL file (``--cache``, default under
  ``~/.cache/draftsmith-bench/``) named by split, model and a fingerprint of the correction code and its template,
  so an interrupted run resumes where it stopped and a changed prompt or ``correct.py`` starts afresh.
- score: GLEU as JFLEG's official script computes it (``evaluation.gleu``, the mean over its 500 seeded reference
  draws), and the same through the PyPI ``gleu`` package (``gleu -f``, the Python-2-compatible seeds) as a check;
  both give the published 40.54 for the unchanged test source. When not every sentence is done, all figures are
  on the first ``n`` sentences (``n`` in the JSON; ``complete`` says whether that is the whole split).

Last line: JSON with gleu_hybrid, gleu_llm_only, gleu_detectors_only, gleu_source on the 0-1 scale the issue uses
(JFLEG's README writes GLEU x100: source 40.54 is 0.4054), the package's figures (``*_pkg``), n, the split, the
model, the threads, the seconds per sentence per mode, the fingerprint of the code now and the cache file the
outputs came from (its name holds the fingerprint of the code that wrote them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("hybrid", "llm", "detectors")
KEYS = {"hybrid": "gleu_hybrid", "llm": "gleu_llm_only", "detectors": "gleu_detectors_only"}
ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    default = ROOT.parent / "shared" / "data"
    return Path(os.environ.get("DRAFTSMITH_DATA") or default)


def fingerprint() -> str:
    """Changes when the correction code or its built-in template does."""
    h = hashlib.sha256()
    for rel in ("src/draftsmith/writing/correct.py", "src/draftsmith/prompts/library/correct.md"):
        h.update((ROOT / rel).read_bytes())
    return h.hexdigest()[:10]


def read_cache(path: Path) -> dict[str, dict]:
    done: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by an interruption
            done[row["id"]] = row
    return done


def package_gleu(sources: list[str], refs: list[list[str]], hyps: list[str]) -> float | None:
    """GLEU (0-1) through the PyPI ``gleu`` command with the official fixed seeds; None when it is not installed."""
    exe = shutil.which("gleu")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        columns = {"src": sources, "hyp": hyps} | {f"ref{k}": [r[k] for r in refs] for k in range(len(refs[0]))}
        for name, lines in columns.items():
            paths[name] = Path(tmp, name)
            paths[name].write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        ref_paths = [str(paths[f"ref{k}"]) for k in range(len(refs[0]))]
        cmd = [exe, "-s", str(paths["src"]), "-r", *ref_paths, "-o", str(paths["hyp"]), "-f", "-d", "6"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(out.split("\t")[-1]) / 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=["test", "dev"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N sentences")
    parser.add_argument("--model", default="qwen2.5-1.5b")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated, from: " + ", ".join(MODES))
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--score-only", action="store_true", help="score the cached sentences; run no model")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if any(m not in MODES for m in modes):
        parser.error(f"--modes takes {', '.join(MODES)}")

    from draftsmith.evaluation import ptb
    from draftsmith.evaluation.datasets import load_jfleg
    from draftsmith.evaluation.gleu import corpus_gleu
    from draftsmith.evaluation.plan import EvalConfig
    from draftsmith.evaluation.runner import run_operation

    items = load_jfleg(data_dir() / "jfleg", args.split, limit=args.limit)
    cache = args.cache or Path.home() / ".cache" / "draftsmith-bench" / (
        f"gec_jfleg-{args.split}-{args.model}-{fingerprint()}.jsonl"
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    done = read_cache(cache)
    print(f"cache {cache}: {len(done)} sentences done", file=sys.stderr)

    need_model = not args.score_only and any(m != "detectors" for m in modes)
    model = None
    if need_model:
        from draftsmith.config import load_settings
        from draftsmith.models.loader import load_model

        model = load_model(args.model, settings=load_settings(model=args.model, n_threads=args.threads))
    seconds = {m: 0.0 for m in modes}
    ran = 0
    if not args.score_only:
        with cache.open("a", encoding="utf-8") as fh:
            for i, item in enumerate(items):
                row = done.get(item.id, {"id": item.id, "out": {}, "s": {}})
                missing = [m for m in modes if m not in row["out"]]
                if not missing:
                    continue
                for mode in missing:
                    cfg = EvalConfig(task="correct", tokenize="ptb", mode=mode)
                    start = time.perf_counter()
                    text, _ = run_operation(model if mode != "detectors" else None, cfg, item, "en")
                    row["s"][mode] = round(time.perf_counter() - start, 3)
                    seconds[mode] += row["s"][mode]
                    row["out"][mode] = text
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                fh.flush()
                done[item.id] = row
                ran += 1
                if ran % 10 == 0:
                    rate = {m: round(seconds[m] / ran, 2) for m in modes}
                    print(f"{i + 1}/{len(items)} done; s per sentence {rate}", file=sys.stderr, flush=True)

    # the first n sentences that every mode has finished
    n = 0
    while n < len(items) and all(m in done.get(items[n].id, {}).get("out", {}) for m in modes):
        n += 1
    if n == 0:
        raise SystemExit("no finished sentences to score")
    scored = items[:n]
    sources = [it.source for it in scored]
    refs = [list(it.references) for it in scored]
    results: dict[str, float | int | str | bool | None] = {}

    def ours(hyps: list[str]) -> float:
        return corpus_gleu(
            [s.split() for s in sources], [h.split() for h in hyps], [[r.split() for r in rs] for rs in refs]
        )

    results["gleu_source"] = round(ours(sources), 4)
    pkg = package_gleu(sources, refs, sources)
    results["gleu_source_pkg"] = round(pkg, 4) if pkg is not None else None
    for mode in modes:
        hyps = [ptb.tokenize(done[it.id]["out"][mode]) for it in scored]
        results[KEYS[mode]] = round(ours(hyps), 4)
        pkg = package_gleu(sources, refs, hyps)
        results[KEYS[mode] + "_pkg"] = round(pkg, 4) if pkg is not None else None
        changed = sum(h != s for h, s in zip(hyps, sources, strict=True))
        print(
            f"{mode:9s} GLEU {100 * results[KEYS[mode]]:.2f} (x100); {changed}/{n} sentences changed", file=sys.stderr
        )
    published = "40.54" if args.split == "test" else "38.21"
    print(
        f"source    GLEU {100 * results['gleu_source']:.2f} (x100; published {published} on the full split);"
        f" gleu package: {results['gleu_source_pkg']}",
        file=sys.stderr,
    )
    timing = {}
    for mode in modes:
        times = [done[it.id]["s"][mode] for it in scored if mode in done[it.id].get("s", {})]
        timing[mode] = round(sum(times) / len(times), 2) if times else None
    results |= {
        "n": n,
        "complete": n == len(load_jfleg(data_dir() / "jfleg", args.split)),
        "split": args.split,
        "model": args.model,
        "threads": args.threads,
        "s_per_sentence": timing,
        "code_fingerprint": fingerprint(),
        "cache": cache.name,
        "scale": "0-1 (x100 in JFLEG's README)",
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
