"""LoRA style fine-tuning of the bundled 0.5B model on modern → Shakespearean pairs, on CPU, in minutes.

    python bench/finetune_style.py                    # data from ../shared/data, or $DRAFTSMITH_DATA
    python bench/finetune_style.py --steps 60 --test 64 --layers 12

The defaults (120 steps of 8 pairs, rank 16 on q,k,v,o,gate,up,down of the last 16 layers, lr 1e-3, bfloat16 where
the CPU multiplies it natively, e.g. AVX512-BF16) gave val_loss_drop 0.152 (3.159 -> 2.680), adherence_gain +0.041,
bleu_gain +0.72 on 48 test lines. That run shared a loaded 2-core machine (1 thread, load 5-17): 17.7 CPU minutes
(user + sys), i.e. about 8.9 minutes of 2 cores; its wall time there (79 minutes) says nothing. bfloat16 halves the
step time of float32 on such a CPU (0.5 vs 0.9 CPU-seconds per pair with 8 adapted layers), which buys twice the
adapted layers; lr 2e-3 on 8 layers stalled (val 3.02 at step 30, 3.09 at step 60 of 180), lr 1e-3 on 16 layers kept
falling (2.99, 2.77, 2.72, 2.68 at steps 30, 60, 90, 120). The earlier defaults (float32, 90 steps, last 8 layers,
lr 2e-3) ran in 8.9 minutes on an idle machine for val_loss_drop 0.113, adherence_gain +0.029, bleu_gain +0.74.
``--dtype float32`` keeps float32 (the default on CPUs without bf16 instructions, where bfloat16 is slow).

Data: ``shakespeare/valid.{modern,original}`` (1,218 line pairs) is the training data, a stable hash sample of it
(``--val`` pairs) the validation set; ``--test`` pairs of ``shakespeare/test.*`` (a stable hash sample) are the
held-out test. Lines are de-tokenised ("word ." → "word.") so the model learns the style, not NLTK's spacing.

Training: ``draftsmith.finetune`` as ``finetune run`` does it: the bundled GGUF dequantised by transformers, LoRA on
the attention and MLP projections of the last ``--layers`` layers (the frozen layers below need no backward pass, which
is most of the saving on CPU), AdamW with warmup + cosine decay, validation loss every ``--eval-every`` steps with
early stopping. Evaluation: greedy outputs of base (adapter off) and tuned on the test lines; BLEU vs the human
references and style adherence to a profile learned from the training targets (``draftsmith.style.profile``).

Last line: JSON with val_loss_drop (relative, goal >= 0.15), adherence_gain (> 0), bleu_gain (> 0), minutes
(goal <= 10 on an idle 2-core machine) and the figures behind them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import torch

from draftsmith.finetune import data, lora
from draftsmith.finetune.evaluate import evaluate, systems_for
from draftsmith.finetune.train import TrainConfig, Trainer

INSTRUCTION = "Rewrite the line in Shakespeare's style."


def data_dir() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("DRAFTSMITH_DATA") or default)


def detok(line: str) -> str:
    """Undo the NLTK tokenisation ("word ." -> "word.", "( x )" -> "(x)")."""
    line = re.sub(r" ([.,;:!?)\]])", r"\1", line.strip())
    line = re.sub(r"([(\[]) ", r"\1", line)
    return re.sub(r" (n't|'s|'t|'ll|'re|'ve|'d|'m)\b", r"\1", line)


def pairs(folder: Path, split: str, origin: str) -> list[data.Example]:
    modern = (folder / f"{split}.modern.nltktok").read_text(encoding="utf-8").splitlines()
    original = (folder / f"{split}.original.nltktok").read_text(encoding="utf-8").splitlines()
    return [
        data.Example(
            task="style", instruction=INSTRUCTION, input=detok(m), output=detok(o), lang="en", origin=f"{origin}:{i}"
        )
        for i, (m, o) in enumerate(zip(modern, original, strict=True), 1)
        if m.strip() and o.strip()
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="qwen2.5-0.5b")
    ap.add_argument("--steps", type=int, default=120, help="optimizer steps (batch --batch-size)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--targets", default="q,k,v,o,gate,up,down")
    ap.add_argument("--layers", type=int, default=16, help="adapt the last N of 24 layers")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=float, default=0.1, help="warmup, as a fraction of the steps")
    ap.add_argument("--dropout", type=float, default=0.05, help="LoRA dropout")
    ap.add_argument(
        "--dtype",
        default="bfloat16" if lora.cpu_has_bf16() else "float32",
        help="bfloat16 (default where the CPU has bf16 instructions) or float32",
    )
    ap.add_argument("--max-len", type=int, default=96)
    ap.add_argument("--val", type=int, default=32, help="validation pairs (from the valid split)")
    ap.add_argument("--test", type=int, default=48, help="test pairs (from the test split)")
    ap.add_argument("--eval-every", type=int, default=30)
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="run folder (default: a temporary one)")
    args = ap.parse_args()

    started = time.perf_counter()
    folder = data_dir() / "shakespeare"
    if not folder.is_dir():
        print(f"no data at {folder}; set DRAFTSMITH_DATA", file=sys.stderr)
        return 2
    valid = pairs(folder, "valid", "valid")
    ranked = sorted(valid, key=lambda ex: data.bucket(ex.key(), "bench-val"))
    val, train = ranked[: args.val], ranked[args.val :]
    test = sorted(pairs(folder, "test", "test"), key=lambda ex: data.bucket(ex.key(), "bench-test"))[: args.test]

    with tempfile.TemporaryDirectory(prefix="finetune-style-") as tmp:
        root = args.out or Path(tmp)
        data.write_dataset(
            root / "data", {"train": train, "val": val, "test": test}, sources=[str(folder)], fractions=(0.0, 0.0)
        )
        config = TrainConfig(
            base=args.base,
            rank=args.rank,
            alpha=2.0 * args.rank,
            targets=args.targets.split(","),
            layers=args.layers,
            lr=args.lr,
            max_steps=args.steps,
            warmup=args.warmup,
            schedule="cosine",
            batch_size=args.batch_size,
            max_len=args.max_len,
            eval_every=args.eval_every,
            save_every=args.eval_every,
            patience=args.patience,
            max_val=args.val,
            dropout=args.dropout,
            dtype=args.dtype,
            weight_decay=0.01,
        )

        def show(event) -> None:  # type: ignore[no-untyped-def]
            if event.stage in ("eval", "load") or (event.stage == "train" and event.step % 5 == 0):
                loss = event.val_loss if event.stage == "eval" else event.train_loss
                print(
                    f"[{event.elapsed_s:6.0f}s] {event.stage} step {event.step}/{event.total_steps} "
                    f"{'' if loss is None else f'loss {loss:.4f}'} {event.message}",
                    file=sys.stderr,
                    flush=True,
                )

        trainer = Trainer(config, root / "data", root / "run", on_event=show)
        result = trainer.run(resume=False)
        trained_at = time.perf_counter()
        report = evaluate(
            trainer.model,
            trainer.tokenizer,
            test,
            systems=systems_for(trainer.model),
            style_texts={"style": [ex.output for ex in train]},
            device=trainer.device,
            pad_id=trainer.pad_id,
            eos_ids=trainer.base._eos_ids,
            max_len=args.max_len,
            on_progress=lambda m: print(f"[{time.perf_counter() - started:6.0f}s] {m}", file=sys.stderr, flush=True),
        )
    (task,) = report.tasks
    base, tuned = task.scores["base"], task.scores["tuned"]
    for sample in report.samples:
        print(json.dumps(sample, ensure_ascii=False), file=sys.stderr)
    if task.notes:
        print("; ".join(task.notes), file=sys.stderr)
    minutes = (time.perf_counter() - started) / 60
    print(
        json.dumps(
            {
                "val_loss_drop": round(result.val_loss_drop, 4),
                "adherence_gain": round(tuned.get("adherence", float("nan")) - base.get("adherence", float("nan")), 4),
                "bleu_gain": round(tuned["bleu"] - base["bleu"], 2),
                "minutes": round(minutes, 2),
                "val_loss": [round(result.initial_val_loss, 4), round(result.best_val_loss, 4)],
                "bleu": [round(base["bleu"], 2), round(tuned["bleu"], 2)],
                "chrf": [round(base["chrf"], 2), round(tuned["chrf"], 2)],
                "adherence": [
                    round(base.get("adherence", float("nan")), 4),
                    round(tuned.get("adherence", float("nan")), 4),
                ],
                "test_loss": [round(base["loss"], 4), round(tuned["loss"], 4)],
                "steps": result.steps,
                "dtype": result.dtype,
                "stopped_early": result.stopped_early,
                "train_pairs": len(train),
                "val_pairs": len(val),
                "test_pairs": len(test),
                "train_minutes": round(result.minutes, 2),
                "eval_minutes": round((time.perf_counter() - trained_at) / 60, 2),
                "cpu_minutes": round(time.process_time() / 60, 2),
                "threads": torch.get_num_threads(),
                "load": os.getloadavg()[0],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
