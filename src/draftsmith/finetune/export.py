"""Export a PEFT LoRA adapter for llama.cpp: a LoRA GGUF that ``Llama(lora_path=...)`` puts on the base GGUF.

llama.cpp's adapter format (what its ``convert_lora_to_gguf.py`` writes): ``general.type = adapter``,
``adapter.type = lora``, ``adapter.lora.alpha``, the base's ``general.architecture``, and per adapted weight two
tensors named after the base tensor, ``blk.N.attn_q.weight.lora_a`` (PEFT's ``lora_A``, rank × in) and
``….lora_b`` (``lora_B``, out × rank). llama.cpp scales the product by alpha / rank, as PEFT does.

The base stays quantised (llama.cpp adds the low-rank product at run time), so the fast backend serves the tuned
model at the base's speed and size plus a few megabytes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from draftsmith.errors import ModelError

_PEFT_NAME = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<part>[AB])(?:\.default)?\.weight$")


def gguf_info(path: Path) -> tuple[str, int, dict[str, tuple[int, ...]]]:
    """(architecture, block count, tensor name → shape in llama.cpp order (ne0 = input size)) of a GGUF."""
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path} as GGUF: {exc}") from None
    field = reader.get_field("general.architecture")
    if field is None:
        raise ModelError(f"{path} has no general.architecture; is it a model GGUF?")
    arch = field.contents()
    blocks = reader.get_field(f"{arch}.block_count")
    shapes = {t.name: tuple(int(d) for d in t.shape) for t in reader.tensors}
    return arch, int(blocks.contents()) if blocks is not None else 0, shapes


def export_lora_gguf(adapter: Path, base_gguf: Path, out: Path) -> Path:
    """Write ``adapter`` (a PEFT LoRA directory) as a llama.cpp LoRA GGUF for ``base_gguf``; checks every shape."""
    import gguf
    from safetensors.numpy import load_file

    adapter = Path(adapter)
    config_path = adapter / "adapter_config.json"
    weights_path = adapter / "adapter_model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise ModelError(f"{adapter} is not a PEFT LoRA adapter (needs adapter_config.json and .safetensors)")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("peft_type", "LORA") != "LORA":
        raise ModelError(f"{adapter} is a {config.get('peft_type')} adapter; only LoRA exports to llama.cpp")
    rank, alpha = int(config["r"]), float(config["lora_alpha"])
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise ModelError("adapters with per-layer ranks (rank_pattern/alpha_pattern) cannot be exported yet")
    if config.get("use_dora"):
        raise ModelError("DoRA adapters cannot be exported to llama.cpp; train a plain LoRA")
    if config.get("use_rslora"):
        alpha *= math.sqrt(rank)  # rsLoRA scales by alpha / sqrt(r); llama.cpp by alpha / r
    arch, blocks, shapes = gguf_info(Path(base_gguf))
    try:
        model_arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch)
    except StopIteration:
        raise ModelError(
            f"the gguf package does not know architecture {arch!r}; upgrade it: pip install -U gguf"
        ) from None
    names = gguf.get_tensor_name_map(model_arch, blocks)

    pairs: dict[str, dict[str, Any]] = {}
    for key, value in load_file(str(weights_path)).items():
        match = _PEFT_NAME.match(key)
        if not match:
            raise ModelError(f"unexpected tensor {key!r} in {weights_path}; only lora_A/lora_B weights can be exported")
        target = names.get_name(match["module"] + ".weight", try_suffixes=(".weight",))
        if target is None:
            raise ModelError(f"no llama.cpp tensor for {match['module']!r} in a {arch} model")
        pairs.setdefault(target, {})[match["part"]] = value
    if not pairs:
        raise ModelError(f"{weights_path} holds no LoRA weights")

    for target, pair in pairs.items():
        a, b = pair.get("A"), pair.get("B")
        if a is None or b is None:
            raise ModelError(f"{adapter}: {target} has only one of lora_A and lora_B; the adapter is damaged")
        base = shapes.get(target)
        if base is None:
            raise ModelError(
                f"the base GGUF has no tensor {target}: adapter {adapter} was made for another model "
                f"({blocks} blocks here); use the base it was trained on"
            )
        # GGUF shapes are ne-order: (in, out); PEFT's A is (rank, in), B is (out, rank).
        if a.shape[1] != base[0] or b.shape[0] != base[1] or a.shape[0] != b.shape[1]:
            raise ModelError(
                f"adapter {adapter} does not fit {base_gguf.name}: {target} is {base[1]}×{base[0]} in the base but "
                f"the adapter expects {b.shape[0]}×{a.shape[1]}; it was trained on another model"
            )

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    writer.add_name(f"draftsmith LoRA ({adapter.name})")
    for target in sorted(pairs):
        writer.add_tensor(f"{target}.lora_a", pairs[target]["A"].astype("float32"))
        writer.add_tensor(f"{target}.lora_b", pairs[target]["B"].astype("float32"))
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def attach_lora(llm: Any, path: Path, scale: float = 1.0) -> None:
    """Put a LoRA GGUF on an open ``llama_cpp.Llama`` (what its ``lora_path`` argument does at construction)."""
    import ctypes

    import llama_cpp

    try:  # llama.cpp logs a line per tensor it cannot place in a repacked buffer; that is not news to a user
        from llama_cpp._utils import suppress_stdout_stderr

        quiet: Any = suppress_stdout_stderr(disable=False)
    except ImportError:
        quiet = contextlib.nullcontext()
    with quiet:
        adapter = llama_cpp.llama_adapter_lora_init(llm._model.model, str(path).encode("utf-8"))
    if not adapter:
        raise ModelError(f"llama.cpp cannot load the LoRA adapter {path}; it may be damaged or for another model")
    llm._stack.callback(llama_cpp.llama_adapter_lora_free, adapter)
    adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
    scales = (ctypes.c_float * 1)(scale)
    if llama_cpp.llama_set_adapters_lora(llm._ctx.ctx, adapters, 1, scales):
        raise ModelError(f"llama.cpp could not apply the LoRA adapter {path}")
