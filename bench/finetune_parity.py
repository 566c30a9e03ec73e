"""Does llama.cpp serve a tuned model as transformers does? Greedy tokens of both, same prompt tokens.

    python bench/finetune_parity.py --adapter RUN/adapter     # an adapter trained on the bundled 0.5B
    python bench/finetune_parity.py                           # trains a small one first (a few minutes)

The adapter is exported to a llama.cpp LoRA GGUF (``draftsmith.finetune.export``) and put on the bundled Q4 GGUF;
transformers runs the same GGUF dequantised to float32 with the PEFT adapter. Both get identical prompt token ids
(10 modern lines from ``shakespeare/test`` in the fine-tuning chat format) and decode 32 tokens greedily.

The base model is compared the same way without the adapter: llama.cpp computes with the quantised weights
(activations rounded to 8 bits for the Q4/Q8 dot products) while transformers multiplies float32 copies of them,
so small logit differences exist without any adapter; a gap that the base shares is quantisation arithmetic, not
the export. ``logit_mad`` is the mean absolute difference of the next-token logits over the prompt positions.

Last line: JSON with same_first_32_tokens_share (tuned), base_same_first_32_tokens_share, mean common prefix
lengths, logit differences and top-1 agreement over prompt positions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from draftsmith.finetune import data, lora
from draftsmith.finetune.export import export_lora_gguf
from finetune_style import INSTRUCTION, data_dir, detok

N_TOKENS = 32


def prompts(n: int) -> list[data.Example]:
    lines = (data_dir() / "shakespeare" / "test.modern.nltktok").read_text(encoding="utf-8").splitlines()
    picked = sorted((line for line in lines if line.strip()), key=lambda s: data.bucket(s, "parity"))[:n]
    return [data.Example(task="style", instruction=INSTRUCTION, input=detok(s), output="-") for s in picked]


def train_small(root: Path) -> Path:
    """A quick adapter (12 steps) when none is given."""
    from draftsmith.finetune.train import TrainConfig, Trainer
    from finetune_style import pairs

    folder = data_dir() / "shakespeare"
    valid = sorted(pairs(folder, "valid", "valid"), key=lambda ex: data.bucket(ex.key(), "bench-val"))
    data.write_dataset(
        root / "data", {"train": valid[16:], "val": valid[:16], "test": valid[:4]}, sources=[], fractions=(0.0, 0.0)
    )
    config = TrainConfig(
        rank=16,
        targets=["q", "k", "v", "o"],
        layers=8,
        lr=1e-3,
        max_steps=12,
        batch_size=8,
        max_len=96,
        eval_every=12,
        save_every=12,
        max_val=16,
    )
    result = Trainer(config, root / "data", root / "run").run(resume=False)
    print(
        f"trained a 12-step adapter: val loss {result.initial_val_loss:.3f} → {result.best_val_loss:.3f}",
        file=sys.stderr,
    )
    return Path(result.adapter)


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--adapter", type=Path, default=None, help="a PEFT adapter trained on the bundled 0.5B")
    ap.add_argument("--prompts", type=int, default=10)
    args = ap.parse_args()
    import llama_cpp
    import torch

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="finetune-parity-") as tmp:
        root = Path(tmp)
        adapter = args.adapter or train_small(root)
        meta = lora.read_meta(adapter)
        base_gguf = lora.resolve_base(meta.get("base", "qwen2.5-0.5b"))
        lora_gguf = export_lora_gguf(adapter, base_gguf, root / "adapter.gguf")
        opened = lora.open_base(meta.get("base", "qwen2.5-0.5b"))
        model = lora.load_adapter(opened.model, adapter, meta.get("base", "qwen2.5-0.5b"), trainable=False).eval()
        tokenizer = opened.tokenizer
        eos = sorted(opened._eos_ids)
        examples = prompts(args.prompts)
        figures = {}
        for system in ("base", "tuned"):
            llm = llama_cpp.Llama(
                str(base_gguf),
                n_ctx=1024,
                logits_all=True,
                verbose=False,
                seed=0,
                lora_path=str(lora_gguf) if system == "tuned" else None,
            )
            same, prefixes, mads, top1 = 0, [], [], []
            for ex in examples:
                ids = list(tokenizer(lora.prompt_text(tokenizer, ex), add_special_tokens=False)["input_ids"])
                switch = model.disable_adapter() if system == "base" else torch.inference_mode()
                with switch, torch.inference_mode():
                    out = model.generate(
                        torch.tensor([ids]),
                        max_new_tokens=N_TOKENS,
                        do_sample=False,
                        temperature=None,
                        top_p=None,
                        top_k=None,
                        eos_token_id=eos,
                        pad_token_id=opened._pad_id,
                    )
                    hf_logits = model(torch.tensor([ids])).logits[0].float().numpy()
                hf_new = out[0, len(ids) :].tolist()
                llm.reset()
                llm.eval(ids)
                cpp_logits = np.array(llm.scores[: len(ids)])
                llm.reset()
                cpp_new = []
                for token in llm.generate(ids, temp=0.0, top_k=1, repeat_penalty=1.0, reset=True):
                    cpp_new.append(int(token))
                    if token in eos or len(cpp_new) >= N_TOKENS:
                        break
                hf_new = hf_new[:N_TOKENS]
                same += int(hf_new == cpp_new)
                prefixes.append(common_prefix(hf_new, cpp_new))
                mads.append(float(np.abs(hf_logits - cpp_logits).mean()))
                top1.append(float((hf_logits.argmax(-1) == cpp_logits.argmax(-1)).mean()))
                if system == "tuned" and ex is examples[0]:
                    print(
                        f"tuned sample: {tokenizer.decode(hf_new)!r} | {tokenizer.decode(cpp_new)!r}", file=sys.stderr
                    )
            llm.close()
            figures[system] = {
                "share": same / len(examples),
                "prefix": sum(prefixes) / len(prefixes),
                "mad": sum(mads) / len(mads),
                "top1": sum(top1) / len(top1),
            }
    print(
        json.dumps(
            {
                "same_first_32_tokens_share": figures["tuned"]["share"],
                "base_same_first_32_tokens_share": figures["base"]["share"],
                "mean_common_prefix_tokens": round(figures["tuned"]["prefix"], 2),
                "base_mean_common_prefix_tokens": round(figures["base"]["prefix"], 2),
                "logit_mad": round(figures["tuned"]["mad"], 4),
                "base_logit_mad": round(figures["base"]["mad"], 4),
                "prompt_top1_agreement": round(figures["tuned"]["top1"], 4),
                "base_prompt_top1_agreement": round(figures["base"]["top1"], 4),
                "prompts": len(examples),
                "minutes": round((time.perf_counter() - started) / 60, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
