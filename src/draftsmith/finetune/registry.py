"""Tuned models: LoRA adapters registered by name under ``<data dir>/tuned/NAME/`` with their lineage.

Each holds ``adapter/`` (PEFT format, for the transformers backend), ``adapter.gguf`` (llama.cpp's LoRA format,
when the base is a GGUF) and ``model.json``: the base, the data set and its hash, the training settings, the
metrics, and the parent adapter of a continual run. ``--model NAME`` (or ``tuned:NAME``) opens it on llama.cpp
when the GGUF adapter exists, else on transformers; ``tuned:NAME#transformers`` forces transformers.

Importing this module is cheap (no torch): the model loader asks it whether a name is a tuned model.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from draftsmith import config
from draftsmith.errors import InputError, ModelError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
BACKENDS = ("llama.cpp", "transformers")


class TunedModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    base: str
    created: str
    data: str | None = None
    data_hash: str | None = None
    tasks: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    parent: str | None = Field(None, description="the adapter a continual run started from")
    run: str | None = Field(None, description="the training run directory")
    gguf: bool = Field(False, description="exported for llama.cpp (adapter.gguf)")
    merged: str | None = Field(None, description="its standalone F16 GGUF, base + adapter (finetune export --merged)")

    @property
    def path(self) -> Path:
        return tuned_dir() / self.name

    @property
    def adapter(self) -> Path:
        return self.path / "adapter"

    @property
    def gguf_adapter(self) -> Path:
        return self.path / "adapter.gguf"

    def lineage(self) -> str:
        """One line: what it is, what it was trained on, how it scored."""
        p = self.params
        parts = [f"LoRA r{p.get('rank', '?')} on {self.base}"]
        if self.tasks:
            parts.append("tasks " + ",".join(self.tasks))
        if self.data_hash:
            parts.append(f"data {self.data_hash[:8]}")
        m = self.metrics
        if "initial_val_loss" in m and "best_val_loss" in m:
            parts.append(f"val loss {m['initial_val_loss']:.2f}→{m['best_val_loss']:.2f}")
        if self.parent:
            parts.append(f"from {Path(self.parent).name}")
        parts.append("llama.cpp" if self.gguf else "transformers only")
        if self.merged:
            parts.append(f"merged f16 {Path(self.merged).name}")
        return " · ".join(parts)


def tuned_dir() -> Path:
    return config.data_dir() / "tuned"


def check_name(name: str) -> str:
    from draftsmith.models import catalog

    if not _NAME.match(name):
        raise InputError(f"invalid model name {name!r}: use letters, digits, '.', '_' or '-' (up to 64)")
    if catalog.bundled(name):
        raise InputError(f"{name!r} is a bundled model's name; choose another name for the tuned model")
    return name


def find(name: str) -> TunedModel | None:
    """The tuned model of that name, or None; cheap enough for the loader to ask for every name."""
    if not _NAME.match(name):
        return None
    path = tuned_dir() / name / "model.json"
    if not path.is_file():
        return None
    try:
        return TunedModel.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError) as exc:
        raise ModelError(f"tuned model {name}: {path} is damaged ({exc}); register it again") from None


def get(name: str) -> TunedModel:
    found = find(name)
    if found is None:
        known = ", ".join(m.name for m in list_tuned()) or "none yet"
        raise ModelError(
            f"no tuned model named {name!r} (tuned models: {known}); train one with draftsmith finetune run"
        )
    return found


def list_tuned() -> list[TunedModel]:
    root = tuned_dir()
    if not root.is_dir():
        return []
    found = [find(p.name) for p in sorted(root.iterdir()) if (p / "model.json").is_file()]
    return [m for m in found if m is not None]


def register(
    name: str,
    adapter: Path,
    *,
    run: Path | None = None,
    metrics: dict[str, Any] | None = None,
    export: bool = True,
    force: bool = False,
) -> TunedModel:
    """Copy an adapter into the registry under ``name`` and, when its base is a GGUF, export it for llama.cpp."""
    from draftsmith.finetune import lora

    check_name(name)
    meta = lora.read_meta(adapter)
    if not meta.get("base"):
        raise InputError(f"{adapter} does not record its base model; only adapters from draftsmith finetune register")
    existing = find(name)
    if existing is not None and not force and (run is None or existing.run != str(Path(run).resolve())):
        raise InputError(f"a tuned model named {name!r} exists already; choose another --name or pass --force")
    root = tuned_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(adapter, staging / "adapter")
    exported = False
    if export:
        base_path = lora.resolve_base(meta["base"])
        if base_path.is_file():
            from draftsmith.finetune.export import export_lora_gguf

            export_lora_gguf(staging / "adapter", base_path, staging / "adapter.gguf")
            exported = True
    cfg = meta.get("config", {})
    model = TunedModel(
        name=name,
        base=meta["base"],
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        data=meta.get("data"),
        data_hash=meta.get("data_hash"),
        tasks=meta.get("tasks", []),
        params={k: cfg.get(k) for k in ("rank", "alpha", "targets", "layers", "lr", "epochs", "dropout") if k in cfg},
        metrics=metrics or {},
        parent=meta.get("parent"),
        run=str(Path(run).resolve()) if run else None,
        gguf=exported,
    )
    (staging / "model.json").write_text(model.model_dump_json(indent=2) + "\n", encoding="utf-8")
    target = root / name
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    return model


def save(model: TunedModel) -> TunedModel:
    """Rewrite the ``model.json`` of a registered tuned model (atomically)."""
    target = model.path / "model.json"
    tmp = target.with_name(f".model.json.{os.getpid()}.tmp")
    tmp.write_text(model.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return model


def remove(name: str) -> TunedModel:
    model = get(name)
    shutil.rmtree(model.path)
    return model


def parse_spec(spec: str) -> tuple[str, str | None]:
    """``tuned:NAME[#backend]`` or ``NAME[#backend]`` → (name, backend or None)."""
    name, _, backend = spec.removeprefix("tuned:").partition("#")
    if backend and backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r} in {spec!r}; use #llama.cpp or #transformers")
    return name, backend or None


def is_tuned(spec: str) -> bool:
    return spec.startswith("tuned:") or find(parse_spec(spec)[0]) is not None


def open_tuned(spec: str, settings: Any) -> Any:
    """Open a tuned model: llama.cpp with the GGUF adapter when exported (fast), else transformers + PEFT."""
    from draftsmith.finetune import lora

    name, backend = parse_spec(spec)
    model = get(name)
    if backend == "llama.cpp" and not model.gguf:
        raise ModelError(f"tuned model {name} is not exported for llama.cpp; run: draftsmith finetune export {name}")
    if (backend or ("llama.cpp" if model.gguf else "transformers")) == "llama.cpp":
        from draftsmith.finetune.export import attach_lora
        from draftsmith.models.llamacpp import LlamaCppModel

        base = lora.resolve_base(model.base)
        # No prefix KV cache: cached states of the base would be wrong under the adapter.
        opened = LlamaCppModel(base, name=f"tuned:{name}", n_ctx=settings.n_ctx, n_threads=settings.n_threads)
        attach_lora(opened.llm, model.gguf_adapter)
        return opened
    from draftsmith.models.transformers_backend import TransformersModel

    opened_hf = TransformersModel(lora.resolve_base(model.base), adapter=model.adapter)
    opened_hf.name = f"tuned:{name}"
    return opened_hf
