"""Export a PEFT LoRA adapter for llama.cpp: a LoRA GGUF that ``Llama(lora_path=...)`` puts on the base GGUF.

llama.cpp's adapter format (what its ``convert_lora_to_gguf.py`` writes): ``general.type = adapter``,
``adapter.type = lora``, ``adapter.lora.alpha``, the base's ``general.architecture``, and per adapted weight two
tensors named after the base tensor, ``blk.N.attn_q.weight.lora_a`` (PEFT's ``lora_A``, rank × in) and
``….lora_b`` (``lora_B``, out × rank). llama.cpp scales the product by alpha / rank, as PEFT does.

The base stays quantised (llama.cpp adds the low-rank product at run time), so the fast backend serves the tuned
model at the base's speed and size plus a few megabytes.

``export_merged_gguf`` writes the other form llama.cpp takes: one standalone F16 GGUF of the base with the deltas
merged in (W + alpha/rank·B·A), for tools that want a single file and as the source ``models quantize`` needs to
make a quantised fine-tune (``finetune export NAME --merged``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from draftsmith.errors import ModelError

_PEFT_NAME = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<part>[AB])(?:\.default)?\.weight$")


def gguf_info(path: Path) -> tuple[str, int, dict[str, tuple[int, ...]]]:
    """(architecture, block count, tensor name → shape in llama.cpp order (ne0 = input size)) of a GGUF."""
    return _info(_reader(path), path)


def _reader(path: Path) -> Any:
    import gguf

    try:
        return gguf.GGUFReader(str(path))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path} as GGUF: {exc}") from None


def _info(reader: Any, path: Path) -> tuple[str, int, dict[str, tuple[int, ...]]]:
    field = reader.get_field("general.architecture")
    if field is None:
        raise ModelError(f"{path} has no general.architecture; is it a model GGUF?")
    arch = field.contents()
    blocks = reader.get_field(f"{arch}.block_count")
    shapes = {t.name: tuple(int(d) for d in t.shape) for t in reader.tensors}
    return arch, int(blocks.contents()) if blocks is not None else 0, shapes


def _adapter_pairs(
    adapter: Path, base_gguf: Path, arch: str, blocks: int, shapes: dict[str, tuple[int, ...]]
) -> tuple[float, int, dict[str, dict[str, Any]]]:
    """(alpha as llama.cpp scales it, rank, base tensor name → {"A": lora_A, "B": lora_B}) of a PEFT LoRA
    adapter, every pair checked against the base's tensor shapes."""
    import gguf
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    adapter = Path(adapter)
    config_path = adapter / "adapter_config.json"
    weights_path = adapter / "adapter_model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise ModelError(f"{adapter} is not a PEFT LoRA adapter (needs adapter_config.json and .safetensors)")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        rank, alpha = int(config["r"]), float(config["lora_alpha"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{config_path} is damaged ({exc!r}); export the adapter from its run again") from None
    if config.get("peft_type", "LORA") != "LORA":
        raise ModelError(f"{adapter} is a {config.get('peft_type')} adapter; only LoRA exports to llama.cpp")
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise ModelError("adapters with per-layer ranks (rank_pattern/alpha_pattern) cannot be exported yet")
    if config.get("use_dora"):
        raise ModelError("DoRA adapters cannot be exported to llama.cpp; train a plain LoRA")
    if config.get("use_rslora"):
        alpha *= math.sqrt(rank)  # rsLoRA scales by alpha / sqrt(r); llama.cpp by alpha / r
    try:
        model_arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch)
    except StopIteration:
        raise ModelError(
            f"the gguf package does not know architecture {arch!r}; upgrade it: pip install -U gguf"
        ) from None
    try:
        weights = load_file(str(weights_path))
    except (OSError, SafetensorError) as exc:
        raise ModelError(f"{weights_path} is damaged ({exc}); export the adapter from its run again") from None
    # Map the adapter's deepest layer too: a layer the base lacks is then "made for another model", not unknown.
    deepest = max((int(m[1]) + 1 for k in weights if (m := re.search(r"\.layers\.(\d+)\.", k))), default=0)
    names = gguf.get_tensor_name_map(model_arch, max(blocks, deepest))

    pairs: dict[str, dict[str, Any]] = {}
    for key, value in weights.items():
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
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != base[0] or b.shape[0] != base[1] or a.shape[0] != b.shape[1]:
            raise ModelError(
                f"adapter {adapter} does not fit {Path(base_gguf).name}: {target} is {base[1]}×{base[0]} in the "
                f"base but the adapter expects {b.shape[0]}×{a.shape[-1]}; it was trained on another model"
            )
    return alpha, rank, pairs


def export_lora_gguf(adapter: Path, base_gguf: Path, out: Path) -> Path:
    """Write ``adapter`` (a PEFT LoRA directory) as a llama.cpp LoRA GGUF for ``base_gguf``; checks every shape."""
    import gguf

    adapter = Path(adapter)
    arch, blocks, shapes = gguf_info(Path(base_gguf))
    alpha, _, pairs = _adapter_pairs(adapter, Path(base_gguf), arch, blocks, shapes)

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


# -- merged: one standalone F16 GGUF ---------------------------------------------------------------------------------

_F16_MAX = 65504.0


def export_merged_gguf(
    adapter: Path,
    base_gguf: Path,
    out: Path,
    *,
    label: str | None = None,
    base_label: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> Path:
    """Write one standalone GGUF: ``base_gguf`` with the LoRA deltas of ``adapter`` merged in, as F16.

    Every metadata key of the base is copied (tokenizer, chat template, hyper-parameters); ``general.name``,
    ``general.file_type`` (F16) and ``general.base_model.*`` change, and ``draftsmith.merged.*`` name the base,
    the adapter and the scale. Every tensor is dequantised; an adapted weight becomes W + (alpha / rank)·B·A in
    float32 before the cast. Matrices are stored as F16 and 1-D tensors (norms, biases) as F32, as llama.cpp's
    converter stores them. The file is written to a temp file next to ``out`` after a disk-space check and
    renamed into place when whole. ``label`` and ``base_label`` name the adapter and the base in the metadata.
    """
    import gguf
    import numpy as np

    from draftsmith.models import quantize

    adapter, base_gguf, out = Path(adapter), Path(base_gguf), Path(out)
    reader = _reader(base_gguf)
    arch, blocks, shapes = _info(reader, base_gguf)
    alpha, rank, pairs = _adapter_pairs(adapter, base_gguf, arch, blocks, shapes)
    scale = alpha / rank
    needed = quantize.estimate_bytes(quantize.read_header(base_gguf), "f16")
    out.parent.mkdir(parents=True, exist_ok=True)
    quantize._remove_stale_temps(out)
    quantize.check_disk(out.parent, needed, what="the merged F16 model")

    label = label or adapter.name
    base_label = base_label or base_gguf.name
    base_name = reader.get_field("general.name")
    base_title = base_name.contents() if base_name is not None else base_label
    overrides: dict[str, tuple[Any, Any]] = {
        "general.name": (f"{base_title} + LoRA {label} (merged)", gguf.GGUFValueType.STRING),
        "general.type": ("model", gguf.GGUFValueType.STRING),
        "general.file_type": (int(gguf.LlamaFileType.MOSTLY_F16), gguf.GGUFValueType.UINT32),
        "general.base_model.count": (1, gguf.GGUFValueType.UINT32),
        "general.base_model.0.name": (base_title, gguf.GGUFValueType.STRING),
        "draftsmith.merged.base": (base_label, gguf.GGUFValueType.STRING),
        "draftsmith.merged.adapter": (label, gguf.GGUFValueType.STRING),
        "draftsmith.merged.scale": (float(scale), gguf.GGUFValueType.FLOAT32),
    }
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch)
    for key, field in reader.fields.items():
        # the writer sets the architecture, and aligns the data its own way (a copied general.alignment could lie)
        skip = key in ("general.architecture", "general.alignment") or key in overrides
        if skip or key.startswith(("GGUF.", "general.base_model.")):
            continue
        if not field.types:
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        if kind == gguf.GGUFValueType.ARRAY and len(field.types) > 2:
            raise ModelError(f"{base_gguf} has a nested array in {key}; this exporter cannot copy it")
        writer.add_key_value(key, field.contents(), kind, sub_type=sub)
    for key, (value, kind) in overrides.items():
        writer.add_key_value(key, value, kind)

    tensors = list(reader.tensors)
    for t in tensors:
        shape = tuple(int(d) for d in reversed(t.shape))  # numpy order: (out, in)
        dtype = np.dtype(np.float16 if len(shape) >= 2 else np.float32)
        writer.add_tensor_info(t.name, shape, dtype, math.prod(shape) * dtype.itemsize)
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for i, t in enumerate(tensors):
            shape = tuple(int(d) for d in reversed(t.shape))
            try:
                weight = np.array(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(shape)
            except NotImplementedError:
                raise ModelError(
                    f"{base_gguf.name}: tensor {t.name} is {t.tensor_type.name}, which the gguf package cannot "
                    "dequantise; upgrade it (pip install -U gguf) or merge into an F16 base"
                ) from None
            pair = pairs.get(t.name)
            if pair is not None:
                weight += scale * (pair["B"].astype(np.float32) @ pair["A"].astype(np.float32))
            if len(shape) >= 2:
                if not np.isfinite(weight).all() or np.abs(weight).max() > _F16_MAX:
                    raise ModelError(
                        f"merged weight {t.name} has values beyond F16's range; the adapter is damaged or was "
                        "trained with a far too high learning rate"
                    )
                weight = weight.astype(np.float16)
            writer.write_tensor_data(weight)
            if progress:
                progress(i + 1, len(tensors), t.name)
        writer.close()
        quantize.read_header(tmp)  # a whole GGUF, or the temp file goes
        os.replace(tmp, out)
    finally:
        writer.close()
        tmp.unlink(missing_ok=True)
    return out


def merge_tuned(
    tuned: Any,
    out: Path | None = None,
    *,
    force: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[Path, str | None]:
    """Merge a registered tuned model into one F16 GGUF and record it: (path, local model name or None).

    By default the file goes to the models folder as ``NAME-f16.gguf`` with a lineage sidecar (base → LoRA NAME
    → merged f16), so ``--model NAME-f16`` opens it, ``models list`` shows it and ``models quantize NAME-f16``
    takes it as an F16 source; with ``out`` it goes there. Either way the tuned model records the path.
    """
    from datetime import UTC, datetime

    from draftsmith.errors import InputError
    from draftsmith.finetune import lora, registry
    from draftsmith.models import catalog, quantize

    base = lora.resolve_base(tuned.base)
    if not base.is_file():
        raise InputError(f"the base {tuned.base} is not a GGUF file; a merged llama.cpp model needs a GGUF base")
    model_name: str | None = None
    if out is None:
        model_name = quantize.check_name(f"{tuned.name}-f16")
        out = catalog.local_models_dir() / f"{model_name}.gguf"
    out = Path(out).expanduser()
    if out.suffix.lower() != ".gguf":
        raise InputError(f"--out {out}: the merged model is a GGUF file; give it a .gguf name")
    if out.exists() and not force:
        raise InputError(f"{out} exists already; pass --force to replace it")
    if out.resolve() == base.resolve():
        raise InputError(f"--out {out} is the base model itself; choose another file")
    path = export_merged_gguf(tuned.adapter, base, out, label=tuned.name, base_label=tuned.base, progress=progress)
    if model_name is not None:
        header = quantize.read_header(base, check_size=False)
        made = quantize.QuantLineage(
            name=model_name,
            type="f16",
            source=tuned.base,
            source_path=str(base.resolve()),
            source_type=quantize.source_type(header),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            size_bytes=path.stat().st_size,
            tuned=tuned.name,
            merged=True,
        )
        sidecar = path.with_suffix(".json")
        tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
        tmp.write_text(made.model_dump_json(indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, sidecar)
    registry.save(tuned.model_copy(update={"merged": str(path.resolve())}))
    return path, model_name


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
