"""Chinese correction quality on MuCGEC dev: character-level F0.5 as ChERRANT computes it.

    python bench/gec_zh.py                                # even ids (the report half), 1.5B model, hybrid, 1 thread
    python bench/gec_zh.py --limit 150                    # the first 150 even ids
    python bench/gec_zh.py --half odd --modes hybrid,llm  # the tuning half
    python bench/gec_zh.py --score-only --show 20         # score the cache; print 20 sentences with wrong edits

What runs:
- data: ``../shared/data/mucgec/MuCGEC_dev.txt`` (or ``$DRAFTSMITH_DATA/mucgec``), 1137 sentences with one to
  seven references each; the test set's answers are not public. ``--half even`` (the default) keeps the even ids,
  the half figures are reported on; anything tuned was tuned on the odd ids (``--half odd``). Sentences go in id
  order; the 3 whose only reference reads 无法标注 count nothing in ChERRANT and are not sent to the model.
- modes: ``correct(model, text, lang="zh", mode=...)``: ``hybrid`` (default; the confusion-set detectors' hints and
  guards plus the model), ``llm`` (the model alone), ``detectors`` (no model).
- model: ``--model`` (default ``qwen2.5-1.5b``) at temperature 0, llama.cpp with ``--threads`` (default 1).
- cache: each finished sentence is appended to a JSONL file (``--cache``; default under
  ``~/.cache/draftsmith-bench/``) named by half, model and a fingerprint of the correction code, its template and the
  Chinese detectors, so an interrupted run resumes and changed code starts afresh.
- raw cache: ``--raw-cache FILE`` keeps the model's raw answers in a JSONL file keyed by the model and the exact
  messages sent (the settings follow from them), so a change to post-processing only (guards, findings applied
  after the model) rescores from it without model calls; a changed prompt or hint misses and asks the model. The
  seconds per sentence are then those of the replay, not of the model. ``--replay`` loads no model and answers
  from the raw cache alone (a message it lacks stops the run).
- score: ``evaluation.cherrant`` (a reimplementation of ChERRANT's char-level scorer; see its docstring for the
  two approximations in the substitution cost). When not every sentence is done, the figures are on the first
  ``n`` (in the JSON; ``complete`` says whether that is the whole half).

Last line: JSON with zh_f05 (the first mode asked for, hybrid by default), zh_p, zh_r and the TP/FP/FN counts,
the same per mode, n, the half, the model, the seconds per sentence, the fingerprint of the code now and the
cache file the outputs came from (its name holds the fingerprint of the code that wrote them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

MODES = ("hybrid", "llm", "detectors")
ROOT = Path(__file__).resolve().parents[1]
FINGERPRINTED = (
    "src/draftsmith/writing/correct.py",
    "src/draftsmith/writing/correct_zh.py",
    "src/draftsmith/prompts/library/correct.md",
    "src/draftsmith/prompts/library/correct-zh.md",
    "src/draftsmith/checking/chinese.py",
    "src/draftsmith/checking/chinese_rules.py",
    "src/draftsmith/checking/data/zh_confusion.txt",
    "src/draftsmith/checking/data/zh_traditional.txt",
)


def data_dir() -> Path:
    default = ROOT.parent / "shared" / "data"
    return Path(os.environ.get("DRAFTSMITH_DATA") or default)


def fingerprint() -> str:
    h = hashlib.sha256()
    for rel in FINGERPRINTED:
        h.update((ROOT / rel).read_bytes())
    return h.hexdigest()[:10]


def read_cache(path: Path, key: str = "id") -> dict[str, dict]:
    """The rows of a JSONL cache by ``key``; a line cut short by a stopped run is skipped."""
    done: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[str(row[key])] = row
    return done


class RawCache:
    """The model's answers memoised in a JSONL file by the model and the messages sent.

    The settings are left out of the key: ``correct`` derives them from the text, which the messages hold, so a
    replay needs no tokenizer (``count_tokens`` falls back to a character count when no model is loaded)."""

    def __init__(self, model, path: Path, name: str) -> None:
        self._model, self.path, self.name = model, path, name
        self.hits = self.misses = 0
        self.answers = read_cache(path, key="k")

    def __getattr__(self, attr: str):
        return getattr(self._model, attr)

    def count_tokens(self, text: str) -> int:
        return self._model.count_tokens(text) if self._model is not None else len(text)

    def key(self, messages) -> str:
        sent = [self.name, [m.model_dump() for m in messages]]
        return hashlib.sha256(json.dumps(sent, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:20]

    def stream(self, messages, params):
        from draftsmith.models.base import Chunk, Usage

        k = self.key(messages)
        if k not in self.answers:
            if self._model is None:
                raise KeyError("the raw cache has no answer for these messages and no model is loaded")
            self.misses += 1
            parts, last = [], Chunk()
            for chunk in self._model.stream(messages, params):
                parts.append(chunk.text or "")
                last = chunk
            usage = (last.usage or Usage()).model_dump()
            self.answers[k] = {"k": k, "text": "".join(parts), "finish_reason": last.finish_reason, "usage": usage}
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(self.answers[k], ensure_ascii=False) + "\n")
        else:
            self.hits += 1
        row = self.answers[k]
        yield Chunk(text=row["text"], finish_reason=row["finish_reason"], usage=Usage(**row["usage"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--half", default="even", choices=["even", "odd", "all"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--model", default="qwen2.5-1.5b")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--modes", default="hybrid", help="comma-separated, from: " + ", ".join(MODES))
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--raw-cache", type=Path, default=None, help="JSONL of the model's raw answers (see above)")
    parser.add_argument("--replay", action="store_true", help="answer from --raw-cache only; no model is loaded")
    parser.add_argument("--score-only", action="store_true")
    parser.add_argument("--show", type=int, default=0, help="print this many sentences whose edits were not all right")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if not modes or any(m not in MODES for m in modes):
        parser.error(f"--modes takes {', '.join(MODES)}")
    if args.replay and not args.raw_cache:
        parser.error("--replay needs --raw-cache")

    from draftsmith.evaluation.cherrant import UNANNOTATABLE, Counts, char_edits, load_mucgec, sentence_counts
    from draftsmith.writing.correct import correct

    rows = load_mucgec(str(data_dir() / "mucgec" / "MuCGEC_dev.txt"))
    if args.half != "all":
        rows = [r for r in rows if r[0] % 2 == (0 if args.half == "even" else 1)]
    rows = rows[: args.limit] if args.limit else rows
    cache = args.cache or Path.home() / ".cache" / "draftsmith-bench" / (
        f"gec_zh-{args.half}-{args.model}-{fingerprint()}.jsonl"
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    done = read_cache(cache)
    print(f"cache {cache}: {len(done)} sentences done", file=sys.stderr)

    model = None
    if args.replay and not args.score_only:
        model = RawCache(None, args.raw_cache, args.model)
    elif not args.score_only and any(m != "detectors" for m in modes):
        from draftsmith.config import load_settings
        from draftsmith.models.loader import load_model

        model = load_model(args.model, settings=load_settings(model=args.model, n_threads=args.threads))
        if args.raw_cache:
            args.raw_cache.parent.mkdir(parents=True, exist_ok=True)
            model = RawCache(model, args.raw_cache, args.model)
    seconds = {m: 0.0 for m in modes}
    ran = 0
    if not args.score_only:
        with cache.open("a", encoding="utf-8") as fh:
            for k, (item_id, source, refs) in enumerate(rows):
                row = done.get(str(item_id), {"id": item_id, "out": {}, "s": {}})
                missing = [m for m in modes if m not in row["out"]]
                if not missing:
                    continue
                for mode in missing:
                    start = time.perf_counter()
                    if refs == [UNANNOTATABLE]:
                        text = source  # counts nothing either way
                    else:
                        text = correct(model if mode != "detectors" else None, source, lang="zh", mode=mode).text
                    row["s"][mode] = round(time.perf_counter() - start, 3)
                    seconds[mode] += row["s"][mode]
                    row["out"][mode] = text
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                fh.flush()
                done[str(item_id)] = row
                ran += 1
                if ran % 10 == 0:
                    rate = {m: round(seconds[m] / ran, 2) for m in modes}
                    hits = ""
                    if isinstance(model, RawCache):
                        hits = f"; raw cache {model.hits} hits, {model.misses} misses"
                    print(f"{k + 1}/{len(rows)} done; s per sentence {rate}{hits}", file=sys.stderr, flush=True)

    n = 0
    while n < len(rows) and all(m in done.get(str(rows[n][0]), {}).get("out", {}) for m in modes):
        n += 1
    if n == 0:
        raise SystemExit("no finished sentences to score")
    scored = rows[:n]
    results: dict = {}
    shown = 0
    for mode in modes:
        total = Counts()
        changed = 0
        for item_id, source, refs in scored:
            hyp = done[str(item_id)]["out"][mode]
            tp, fp, fn = sentence_counts(source, hyp, refs, total)
            total.tp, total.fp, total.fn = total.tp + tp, total.fp + fp, total.fn + fn
            changed += hyp != source
            if mode == modes[0] and fp and shown < args.show:
                shown += 1
                edits = sorted(char_edits(source, hyp))
                print(
                    f"[{item_id}] TP {tp} FP {fp} FN {fn}\n  src {source}\n  hyp {hyp}\n  ref {refs[0]}",
                    file=sys.stderr,
                )
                print(f"  edits {[(s, e, source[s:e], c) for s, e, c in edits]}", file=sys.stderr)
        s = total.scores()
        prefix = "zh" if mode == modes[0] else f"zh_{mode}"
        results |= {
            f"{prefix}_f05": round(s["f05"], 4),
            f"{prefix}_p": round(s["p"], 4),
            f"{prefix}_r": round(s["r"], 4),
        }
        results[f"{prefix}_tp_fp_fn"] = [total.tp, total.fp, total.fn]
        print(
            f"{mode:9s} P {s['p']:.4f} R {s['r']:.4f} F0.5 {s['f05']:.4f}  TP {total.tp} FP {total.fp} FN {total.fn};"
            f" {changed}/{n} sentences changed",
            file=sys.stderr,
        )
    timing = {}
    for mode in modes:
        times = [done[str(r[0])]["s"][mode] for r in scored if mode in done[str(r[0])].get("s", {})]
        timing[mode] = round(sum(times) / len(times), 2) if times else None
    results |= {
        "mode": modes[0],
        "n": n,
        "complete": n == len(rows) and not args.limit,
        "half": args.half,
        "model": args.model,
        "threads": args.threads,
        "s_per_sentence": timing,
        "code_fingerprint": fingerprint(),
        "cache": cache.name,
    }
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
