"""The files of a training run: checkpoints (save, load, list) and the loss-curve plot.

A checkpoint is a folder ``checkpoints/step-NNNNNN/`` written under a temporary name and renamed when complete:
``adapter_model.safetensors`` (the LoRA weights), ``optimizer.pt`` and ``rng.pt`` (``torch.save`` of plain
tensors and numbers, read back with ``weights_only=True``, so loading never runs pickled code) and ``state.json``
(step, best validation loss, patience counter, loss history).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from draftsmith.errors import ModelError


def checkpoints(out: Path) -> list[Path]:
    root = Path(out) / "checkpoints"
    return sorted(p for p in root.glob("step-*") if p.is_dir()) if root.is_dir() else []


def latest_checkpoint(out: Path) -> Path | None:
    found = checkpoints(out)
    return found[-1] if found else None


def adapter_weights(model: Any) -> dict[str, Any]:
    from peft import get_peft_model_state_dict

    state = get_peft_model_state_dict(model, save_embedding_layers=False)
    return {k: v.detach().contiguous().cpu() for k, v in state.items()}


def save_checkpoint(
    out: Path, state: dict[str, Any], model: Any, optimizer: Any, rng: dict[str, Any], keep: int
) -> Path:
    """Write a checkpoint for ``state['step']`` and drop all but the ``keep`` newest."""
    import torch
    from safetensors.torch import save_file

    root = Path(out) / "checkpoints"
    final = root / f"step-{state['step']:06d}"
    tmp = root / f".tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(adapter_weights(model), str(tmp / "adapter_model.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(rng, tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps(state) + "\n", encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in checkpoints(out)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path, model: Any, optimizer: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Put a checkpoint's weights and optimizer state in place; (state, RNG states). Damage is a ModelError."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    try:
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
        if not isinstance(state.get("step"), int) or "history" not in state:
            raise ValueError("state.json lacks the step or the loss history")
        weights = load_file(str(path / "adapter_model.safetensors"))
        if set(weights) != set(adapter_weights(model)):
            raise ValueError("its adapter tensors do not match this model's LoRA layers")
        optimizer_state = torch.load(path / "optimizer.pt", weights_only=True, map_location="cpu")
        rng = torch.load(path / "rng.pt", weights_only=True, map_location="cpu")
        set_peft_model_state_dict(model, weights)
        optimizer.load_state_dict(optimizer_state)
    except Exception as exc:  # any damage: a truncated file, a bad header, missing keys, other shapes
        earlier = [p.name for p in checkpoints(path.parent.parent) if p != path]
        hint = f"delete it to resume from {earlier[-1]}" if earlier else "delete it"
        problem = " ".join(str(exc).split())[:160]
        raise ModelError(f"checkpoint {path} is corrupt ({problem}); {hint}, or start over with --restart") from None
    state["best_val"] = float(state["best_val"])
    return state, rng


def plot_losses(history: dict[str, list[list[float]]], path: Path) -> Path | None:
    """Train (raw and smoothed) and validation loss per step, as a PNG; None when matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    figure = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    train = history.get("train", [])
    if train:
        steps, losses = zip(*train, strict=True)
        ax.plot(steps, losses, color="tab:blue", alpha=0.3, label="train (per step)")
        smooth, value = [], losses[0]
        for loss in losses:
            value = 0.8 * value + 0.2 * loss
            smooth.append(value)
        ax.plot(steps, smooth, color="tab:blue", label="train (smoothed)")
    val = history.get("val", [])
    if val:
        steps, losses = zip(*val, strict=True)
        ax.plot(steps, losses, "o-", color="tab:orange", label="validation")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss per answer token (nats)")
    ax.grid(alpha=0.3)
    ax.legend()
    figure.tight_layout()
    figure.savefig(path)
    return path
