"""One fine-tuning run end to end: train, evaluate base vs tuned (and the old tasks of a continual run), register.

``finetune`` is what ``draftsmith finetune run`` calls; it never prints, it reports through callbacks and returns a
``RunReport``, which is also written to ``<out>/report.json``. In a multi-process run every process trains and
only rank 0 evaluates, registers and writes the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from draftsmith.errors import InputError
from draftsmith.finetune import lora, registry
from draftsmith.finetune.data import load_split
from draftsmith.finetune.evaluate import EvalReport, evaluate, systems_for
from draftsmith.finetune.train import Events, TrainConfig, Trainer, TrainResult


class RunReport(BaseModel):
    train: TrainResult
    evaluation: EvalReport | None = None
    forgetting: EvalReport | None = None
    registered: str | None = None
    lineage: str | None = None
    minutes: float


def resolve_adapter(spec: str | Path) -> Path:
    """An adapter directory from a tuned model's name, a run directory (its ``adapter/``) or the directory itself."""
    path = Path(spec).expanduser()
    if (path / "adapter_config.json").is_file():
        return path
    if (path / "adapter" / "adapter_config.json").is_file():
        return path / "adapter"
    name = str(spec).removeprefix("tuned:")
    found = registry.find(name) if not path.exists() else None
    if found is not None:
        return found.adapter
    raise InputError(f"{spec} is neither a tuned model's name, a fine-tuning run directory nor a LoRA adapter")


def finetune(
    config: TrainConfig,
    data_dir: Path,
    out: Path,
    *,
    from_adapter: Path | None = None,
    resume: bool = True,
    run_eval: bool = True,
    eval_limit: int | None = None,
    name: str | None = None,
    force: bool = False,
    on_event: Events | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> RunReport:
    started = time.perf_counter()
    say = on_progress or (lambda message: None)
    if name:
        registry.check_name(name)
    trainer = Trainer(config, data_dir, out, from_adapter=from_adapter, on_event=on_event)
    result = trainer.run(resume=resume)
    report = RunReport(train=result, minutes=0.0)
    if not trainer.ranks.main:  # another process of a multi-process run: rank 0 evaluates, registers and reports
        report.minutes = (time.perf_counter() - started) / 60
        return report
    if run_eval:
        model = trainer.model
        parent = None
        if from_adapter is not None:
            model.load_adapter(str(from_adapter), adapter_name="parent", is_trainable=False)
            model.set_adapter("default")
            parent = "parent"
        common: dict[str, Any] = {
            "systems": systems_for(model, parent),
            "device": trainer.device,
            "pad_id": trainer.pad_id,
            "eos_ids": trainer.base._eos_ids,
            "max_len": config.max_len,
            "on_progress": say,
        }
        test = load_split(trainer.data_dir, "test")[:eval_limit]
        report.evaluation = evaluate(model, trainer.tokenizer, test, style_texts=_outputs(trainer.train_set), **common)
        old = _old_data(from_adapter, trainer.manifest.data_hash)
        if old is not None:
            say(f"forgetting check on the parent's test split ({old})")
            old_test = load_split(old, "test")[:eval_limit]
            report.forgetting = evaluate(
                model,
                trainer.tokenizer,
                old_test,
                style_texts=_outputs(load_split(old, "train")),
                split="old test",
                **common,
            )
    report.minutes = (time.perf_counter() - started) / 60
    if name:
        say(f"registering {name}")
        tuned = registry.register(name, Path(result.adapter), run=out, metrics=_metrics(report), force=force)
        report.registered, report.lineage = tuned.name, tuned.lineage()
    (Path(out) / "report.json").write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return report


def _outputs(examples: list[Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ex in examples:
        out.setdefault(ex.task, []).append(ex.output)
    return out


def _old_data(from_adapter: Path | None, current_hash: str) -> Path | None:
    """The data set the parent adapter was trained on, when it is another one and still on disk."""
    if from_adapter is None:
        return None
    meta = lora.read_meta(from_adapter)
    data = meta.get("data")
    if not data or meta.get("data_hash") == current_hash or not (Path(data) / "test.jsonl").is_file():
        return None
    return Path(data)


def _metrics(report: RunReport) -> dict[str, Any]:
    t = report.train
    metrics: dict[str, Any] = {
        "initial_val_loss": t.initial_val_loss,
        "best_val_loss": t.best_val_loss,
        "val_loss_drop": t.val_loss_drop,
        "steps": t.steps,
    }
    if report.evaluation:
        for task in report.evaluation.tasks:
            for system in ("base", "tuned"):
                for metric, value in task.scores.get(system, {}).items():
                    metrics[f"{task.task}.{metric}.{system}"] = value
    return metrics
