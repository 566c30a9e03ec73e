"""The model side of fine-tuning: open the base, build or load a LoRA adapter, encode examples, compute the loss.

The base is opened through ``TransformersModel`` (a bundled name or a ``.gguf`` is dequantised by transformers, a
Hugging Face directory is read as is), so fine-tuning needs no hub download. Every adapter directory holds
``draftsmith_adapter.json`` with the base's fingerprint (architecture and shapes), so an adapter trained on one base
is refused, with a clear message, on another.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from draftsmith.errors import InputError, ModelError
from draftsmith.finetune.data import Example

if TYPE_CHECKING:
    from draftsmith.models.transformers_backend import TransformersModel

TARGETS = {
    "q": "q_proj",
    "k": "k_proj",
    "v": "v_proj",
    "o": "o_proj",
    "gate": "gate_proj",
    "up": "up_proj",
    "down": "down_proj",
}
ADAPTER_META = "draftsmith_adapter.json"
_FINGERPRINT_KEYS = (
    "model_type",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "intermediate_size",
    "vocab_size",
)


# --- the base model -------------------------------------------------------------------------------------------------


def resolve_base(spec: str) -> Path:
    """A ``.gguf`` file or a Hugging Face model directory for a base name (bundled, local GGUF, path)."""
    from draftsmith.models.loader import resolve_gguf

    raw = spec.removeprefix("transformers:")
    path = Path(raw).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} is not a Hugging Face model directory (no config.json)")
        return path
    if spec.startswith("transformers:") and not path.is_file():
        raise ModelError(f"model not found: {path}")
    return resolve_gguf(raw)


def pick_device(device: str = "auto", dtype: str = "auto") -> tuple[str, str]:
    """(device, dtype): CUDA when present and asked for (``auto``), else CPU.

    ``dtype="auto"`` is bfloat16 on a GPU that supports it and float32 elsewhere. ``bfloat16`` on a CPU is
    opt-in: about twice as fast as float32 where the CPU has bf16 dot-product instructions (AVX512-BF16, AMX),
    much slower where it has none. The LoRA weights themselves stay float32 either way (PEFT keeps them so).
    """
    import torch

    if dtype not in ("auto", "float32", "bfloat16"):
        raise InputError(f"unknown dtype {dtype!r}; use auto, float32 or bfloat16")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError("--device cuda was asked for, but torch sees no CUDA GPU; use --device cpu")
        bf16 = torch.cuda.is_bf16_supported()
        if dtype == "bfloat16" and not bf16:
            raise InputError("this GPU has no bfloat16 support; use --dtype float32")
        return device, "bfloat16" if dtype == "bfloat16" or (dtype == "auto" and bf16) else "float32"
    if device != "cpu":
        raise InputError(f"unknown device {device!r}; use auto, cpu or cuda[:N]")
    return "cpu", "bfloat16" if dtype == "bfloat16" else "float32"


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), where bfloat16 beats float32."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags


def open_base(spec: str, device: str = "cpu", dtype: str = "float32") -> TransformersModel:
    from draftsmith.models.transformers_backend import TransformersModel

    return TransformersModel(resolve_base(spec), device=device, dtype=dtype)


def fingerprint(model: Any) -> dict[str, Any]:
    """What an adapter depends on: the architecture and the shapes of the base (not its quantisation)."""
    config = model.config
    return {key: getattr(config, key, None) for key in _FINGERPRINT_KEYS}


def describe(fp: dict[str, Any]) -> str:
    return (
        f"{fp.get('model_type')} with {fp.get('num_hidden_layers')} layers, hidden size {fp.get('hidden_size')}, "
        f"vocabulary {fp.get('vocab_size')}"
    )


# --- adapters -------------------------------------------------------------------------------------------------------


def target_modules(targets: Sequence[str]) -> list[str]:
    names = []
    for target in targets:
        name = TARGETS.get(target.strip(), target.strip())
        if name not in TARGETS.values():
            raise InputError(f"unknown LoRA target {target!r}; use some of: {', '.join(TARGETS)} (e.g. q,v)")
        names.append(name)
    if not names:
        raise InputError("no LoRA target given; use e.g. --targets q,v")
    return sorted(set(names))


def new_adapter(
    model: Any, *, rank: int, alpha: float, dropout: float, targets: Sequence[str], layers: int | None
) -> Any:
    """Wrap ``model`` with a fresh LoRA adapter; ``layers`` = N puts it on the last N layers only."""
    import peft

    n_layers = model.config.num_hidden_layers
    if layers is not None and not 1 <= layers <= n_layers:
        raise InputError(f"--layers must be between 1 and {n_layers} for this model; got {layers}")
    config = peft.LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules(targets),
        layers_to_transform=list(range(n_layers - layers, n_layers)) if layers else None,
        bias="none",
        task_type="CAUSAL_LM",
    )
    return peft.get_peft_model(model, config)


def read_meta(adapter: Path) -> dict[str, Any]:
    path = Path(adapter) / ADAPTER_META
    if not (Path(adapter) / "adapter_config.json").is_file():
        raise ModelError(f"{adapter} is not a LoRA adapter (no adapter_config.json)")
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path} is damaged ({exc}); the adapter cannot be checked against its base") from None


def check_base(adapter: Path, model: Any, base: str) -> dict[str, Any]:
    """Refuse an adapter trained on another base; returns its metadata."""
    meta = read_meta(adapter)
    wanted = meta.get("fingerprint")
    have = fingerprint(model)
    if wanted and any(wanted.get(k) != have.get(k) for k in _FINGERPRINT_KEYS if wanted.get(k) is not None):
        raise ModelError(
            f"adapter {adapter} was trained on {meta.get('base', 'another model')} ({describe(wanted)}), "
            f"but the base here is {base} ({describe(have)}); use --base {meta.get('base', '<its base>')}"
        )
    return meta


def load_adapter(model: Any, adapter: Path, base: str, *, trainable: bool) -> Any:
    """Put a saved adapter on ``model`` (a plain transformers model), checked against the base first."""
    import peft

    check_base(adapter, model, base)
    try:
        return peft.PeftModel.from_pretrained(model, str(adapter), is_trainable=trainable)
    except (RuntimeError, ValueError, KeyError) as exc:
        if "size mismatch" in str(exc) or "shape" in str(exc):
            raise ModelError(
                f"adapter {adapter} does not fit base {base} ({describe(fingerprint(model))}): it was trained on "
                "another model; use the base it was made for"
            ) from None
        raise ModelError(f"cannot load LoRA adapter {adapter}: {exc}") from exc
    except OSError as exc:
        raise ModelError(f"cannot read LoRA adapter {adapter}: {exc}") from exc


def write_meta(adapter: Path, meta: dict[str, Any]) -> None:
    (Path(adapter) / ADAPTER_META).write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")


# --- examples → tokens → loss ---------------------------------------------------------------------------------------


def messages(example: Example) -> list[dict[str, str]]:
    """The chat the model sees: the instruction as the system turn, the input as the user turn."""
    if not example.input:
        return [{"role": "user", "content": example.instruction}]
    return [{"role": "system", "content": example.instruction}, {"role": "user", "content": example.input}]


def prompt_text(tokenizer: Any, example: Example) -> str:
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError("the base model has no chat template; fine-tune an instruction-tuned (chat) model")
    return tokenizer.apply_chat_template(messages(example), add_generation_prompt=True, tokenize=False)


def encode(tokenizer: Any, example: Example, max_len: int) -> tuple[list[int], int] | None:
    """(token ids of prompt + answer + end of turn, prompt length); None when the prompt alone is too long.

    The answer is cut to fit ``max_len``; the loss covers the answer and its end-of-turn token only.
    """
    prompt = prompt_text(tokenizer, example)
    chat = [*messages(example), {"role": "assistant", "content": example.output}]
    full = tokenizer.apply_chat_template(chat, tokenize=False)
    answer = full[len(prompt) :].rstrip() if full.startswith(prompt) else example.output
    prompt_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    answer_ids = list(tokenizer(answer, add_special_tokens=False)["input_ids"])
    if not full.startswith(prompt) and tokenizer.eos_token_id is not None:
        answer_ids.append(tokenizer.eos_token_id)
    if len(prompt_ids) + 4 > max_len:
        return None
    ids = prompt_ids + answer_ids[: max_len - len(prompt_ids)]
    return ids, len(prompt_ids)


def collate(items: Sequence[tuple[list[int], int]], pad_id: int, device: str) -> dict[str, Any]:
    """Right-padded ids, attention mask and a mask of the tokens the loss is on (the answers)."""
    import torch

    width = max(len(ids) for ids, _ in items)
    input_ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(items), width), dtype=torch.long)
    labels = torch.zeros((len(items), width), dtype=torch.bool)
    for row, (ids, n_prompt) in enumerate(items):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
        labels[row, n_prompt : len(ids)] = True
    return {"input_ids": input_ids.to(device), "attention_mask": attention.to(device), "labels": labels.to(device)}


def answer_loss(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Summed cross-entropy over the answer tokens, and how many there are.

    The vocabulary projection runs on answer positions only: for a 150k-word vocabulary it is most of the cost
    of the prompt positions, and the full logits tensor would not fit a CPU's cache (or a small GPU).
    """
    import torch

    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    hidden = hidden.last_hidden_state
    targets_mask = batch["labels"][:, 1:]
    picked = hidden[:, :-1][targets_mask]
    logits = causal.get_output_embeddings()(picked).float()
    targets = batch["input_ids"][:, 1:][targets_mask]
    loss = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
    return loss, int(targets.numel())
