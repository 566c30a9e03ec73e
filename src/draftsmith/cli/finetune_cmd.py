"""draftsmith finetune: prepare a data set, run LoRA training, evaluate, export for llama.cpp."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from draftsmith.cli.common import err, out, print_json
from draftsmith.errors import InputError

app = typer.Typer(
    help="Fine-tune a model on your own texts (LoRA): prepare data, train, evaluate, export.", no_args_is_help=True
)


@app.command()
def prepare(
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder for train/val/test JSONL and manifest.json."),
    from_data: list[Path] = typer.Option(
        None, "--from-data", help="JSONL (input, output; optional task, instruction, lang) or TSV (input<TAB>output)."
    ),
    from_parallel: tuple[Path, Path] = typer.Option(
        None, "--from-parallel", help="Two line-aligned files: inputs and outputs (e.g. modern → original)."
    ),
    from_docs: list[Path] = typer.Option(
        None, "--from-docs", help="Your documents (.txt/.md files or folders): continuation examples."
    ),
    from_kb: str = typer.Option(None, "--from-kb", help="A knowledge base (draftsmith kb): continuation examples."),
    from_edits: bool = typer.Option(
        False, "--from-edits", help="Your accepted corrections and rewrites (correct --interactive, the API)."
    ),
    task: str = typer.Option("rewrite", "--task", help="Task of pairs that do not name one: rewrite, style, …"),
    lang: str = typer.Option(None, "--lang", "-l", help="Require every output to be in this language."),
    val: float = typer.Option(0.1, "--val", help="Fraction held out for validation."),
    test: float = typer.Option(0.1, "--test", help="Fraction held out for the final test."),
    max_examples: int = typer.Option(None, "--max-examples", help="Keep at most this many (a stable sample)."),
    json_out: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Build a multi-task SFT data set (task, instruction, input, output) with a deterministic split."""
    from draftsmith.finetune import data

    edits = []
    if from_edits:  # accepted suggestions from the feedback store (feedback/pairs.py)
        from draftsmith.feedback.pairs import sft_examples
        from draftsmith.feedback.personal import local_store
        from draftsmith.store.feedback import answered

        edits = sft_examples(answered(local_store(), owner=None))
        if not edits:
            raise InputError(
                "--from-edits found no accepted corrections or rewrites yet; review some with "
                "draftsmith correct --interactive FILE (or accept suggestions in the editor), then run this again"
            )
    parallel = from_parallel if from_parallel and from_parallel[0] is not None else None
    manifest = data.prepare(
        out_dir,
        data_files=from_data or [],
        parallel=parallel,
        documents=from_docs or [],
        knowledge_base=from_kb,
        extra=edits,
        task=task,
        lang=lang,
        fractions=(val, test),
        max_examples=max_examples,
    )
    if json_out:
        print_json(manifest)
        return
    table = Table("split", "examples", "tasks", box=None)
    for split, counts in manifest.counts.items():
        table.add_row(split, str(sum(counts.values())), ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))
    out.print(table)
    langs = ", ".join(f"{k} {v}" for k, v in manifest.languages.items())
    skipped = ", ".join(f"{k} {v}" for k, v in manifest.skipped.items())
    out.print(f"languages: {langs}" + (f"; skipped: {skipped}" if skipped else ""))
    out.print(f"data hash {manifest.data_hash[:12]}; written to {out_dir}")


@app.command()
def run(
    data_dir: Path = typer.Option(..., "--data", "-d", help="A data set from `finetune prepare`."),
    out_dir: Path = typer.Option(None, "--out", "-o", help="Run folder (default: <data>/runs/<name or base>)."),
    base: str = typer.Option("qwen2.5-0.5b", "--base", help="Base model: bundled name, .gguf path or HF folder."),
    from_adapter: str = typer.Option(None, "--from", help="Continue training an adapter (tuned name or folder)."),
    name: str = typer.Option(None, "--name", help="Register the result as this model name (--model NAME)."),
    force: bool = typer.Option(False, "--force", help="Replace a tuned model of the same name."),
    rank: int = typer.Option(8, "--rank", help="LoRA rank."),
    alpha: float = typer.Option(None, "--alpha", help="LoRA alpha (default: 2 × rank)."),
    targets: str = typer.Option("q,v", "--targets", help="Adapted projections: q,k,v,o,gate,up,down."),
    layers: int = typer.Option(None, "--layers", help="Adapt only the last N layers (faster on CPU)."),
    epochs: int = typer.Option(3, "--epochs"),
    max_steps: int = typer.Option(None, "--max-steps", help="Stop after this many optimizer steps."),
    lr: float = typer.Option(2e-4, "--lr", help="Peak learning rate (AdamW)."),
    warmup: float = typer.Option(0.1, "--warmup", help="Warmup, as a fraction of the steps."),
    schedule: str = typer.Option("cosine", "--schedule", help="cosine, linear or constant decay."),
    weight_decay: float = typer.Option(0.01, "--weight-decay"),
    dropout: float = typer.Option(0.05, "--dropout", help="LoRA dropout."),
    batch_size: int = typer.Option(8, "--batch-size"),
    grad_accum: int = typer.Option(1, "--grad-accum", help="Micro-batches per optimizer step."),
    max_len: int = typer.Option(256, "--max-len", help="Tokens per example (prompt + answer)."),
    eval_every: int = typer.Option(20, "--eval-every", help="Validation loss every N steps."),
    save_every: int = typer.Option(20, "--save-every", help="Checkpoint every N steps."),
    patience: int = typer.Option(3, "--patience", help="Stop after N evaluations without improvement."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option(
        "auto", "--device", help="auto (GPU when present), cpu, cuda or cuda:N; N processes take cuda:LOCAL_RANK."
    ),
    dtype: str = typer.Option(
        "auto", "--dtype", help="auto (bfloat16 on a GPU, float32 on a CPU), float32 or bfloat16 (fast on bf16 CPUs)."
    ),
    restart: bool = typer.Option(False, "--restart", help="Discard checkpoints in the run folder and start over."),
    no_eval: bool = typer.Option(False, "--no-eval", help="Skip the base vs tuned evaluation on the test split."),
    eval_limit: int = typer.Option(None, "--eval-limit", help="Evaluate on the first N test examples only."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Train a LoRA adapter, evaluate base vs tuned on the test split, and register it under --name.

    Data-parallel on N GPUs (or N CPU processes): torchrun --nproc_per_node N --no-python draftsmith finetune run …
    or accelerate launch --multi_gpu --num_processes N --no_python draftsmith finetune run …; --batch-size ×
    --grad-accum stays the global batch (each process takes 1/N of it), so the loss curve is that of one process.
    Rank 0 alone writes, evaluates, registers and prints.
    """
    from draftsmith.finetune.parallel import is_main_process
    from draftsmith.finetune.pipeline import finetune, resolve_adapter
    from draftsmith.finetune.train import TrainConfig

    config = TrainConfig.model_validate(
        {
            "base": base,
            "rank": rank,
            "alpha": alpha,
            "targets": [t for t in targets.split(",") if t.strip()],
            "layers": layers,
            "epochs": epochs,
            "max_steps": max_steps,
            "lr": lr,
            "warmup": warmup,
            "schedule": schedule,
            "weight_decay": weight_decay,
            "dropout": dropout,
            "batch_size": batch_size,
            "grad_accum": grad_accum,
            "max_len": max_len,
            "eval_every": eval_every,
            "save_every": save_every,
            "patience": patience,
            "seed": seed,
            "device": device,
            "dtype": dtype,
        }
    )
    parent = resolve_adapter(from_adapter) if from_adapter else None
    out_dir = out_dir or data_dir / "runs" / (name or (Path(base).stem if base.endswith(".gguf") else Path(base).name))
    main_process = is_main_process()
    with _TrainProgress(show=main_process) as progress:
        report = finetune(
            config,
            data_dir,
            out_dir,
            from_adapter=parent,
            resume=not restart,
            run_eval=not no_eval,
            eval_limit=eval_limit,
            name=name,
            force=force,
            on_event=progress.event,
            on_progress=progress.note,
        )
    if not main_process:  # another process of a multi-process run: rank 0 prints the report
        return
    if json_out:
        print_json(report)
        return
    t = report.train
    out.print(
        f"trained {t.steps}/{t.total_steps} steps on {t.train_examples} examples ({t.device}, {t.dtype}"
        + (f", {t.processes} processes)" if t.processes > 1 else ")")
        + (", stopped early" if t.stopped_early else "")
        + (f", resumed from step {t.resumed_from}" if t.resumed_from else "")
    )
    out.print(
        f"validation loss {t.initial_val_loss:.3f} → {t.best_val_loss:.3f} (−{100 * t.val_loss_drop:.1f}%, "
        f"best at step {t.best_step}); {t.minutes:.1f} min"
    )
    if report.evaluation:
        render_eval(report.evaluation)
    if report.forgetting:
        out.print("old tasks (forgetting check):")
        render_eval(report.forgetting)
    out.print(f"adapter: {t.adapter}" + (f"; loss curves: {t.loss_plot}" if t.loss_plot else ""))
    if report.registered:
        out.print(f"registered as {report.registered} ({report.lineage}); use it with --model {report.registered}")
    else:
        out.print(f"register it: draftsmith finetune export {out_dir} --name NAME")


@app.command("eval")
def eval_(
    adapter: str = typer.Argument(..., help="Tuned model name, run folder or adapter folder."),
    data_dir: Path = typer.Option(..., "--data", "-d", help="A data set from `finetune prepare`."),
    split: str = typer.Option("test", "--split", help="test, val or train."),
    limit: int = typer.Option(None, "--limit", help="First N examples only."),
    base: str = typer.Option(None, "--base", help="Base model (default: the one the adapter records)."),
    device: str = typer.Option("auto", "--device"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Compare base vs tuned on a split of a data set (greedy outputs, metrics, loss, style adherence)."""
    from draftsmith.finetune.evaluate import evaluate_adapter
    from draftsmith.finetune.pipeline import resolve_adapter

    if split not in ("test", "val", "train"):
        raise InputError(f"unknown split {split!r}; use test, val or train")
    report = evaluate_adapter(
        resolve_adapter(adapter),
        data_dir,
        base=base,
        split=split,
        limit=limit,
        device=device,
        on_progress=lambda m: err.print(f"[dim]{m}[/]"),
    )
    if json_out:
        print_json(report)
        return
    render_eval(report)


@app.command()
def export(
    adapter: str = typer.Argument(..., help="Run folder or adapter folder (or a tuned name to re-export)."),
    name: str = typer.Option(None, "--name", help="Register under this name (default: the run folder's name)."),
    gguf: Path = typer.Option(None, "--gguf", help="Also write the llama.cpp LoRA GGUF to this path."),
    merged: bool = typer.Option(
        False, "--merged", help="Also write one standalone F16 GGUF, base + adapter merged (models folder: NAME-f16)."
    ),
    merged_out: Path = typer.Option(None, "--out", help="With --merged: write the merged GGUF to this file instead."),
    force: bool = typer.Option(False, "--force", help="Replace a tuned model (or merged file) of the same name."),
) -> None:
    """Register an adapter as a tuned model and export it for llama.cpp: a LoRA GGUF on the base GGUF and,
    with --merged, one F16 GGUF with the adapter merged in (quantise it with draftsmith models quantize)."""
    from draftsmith.finetune import lora, registry
    from draftsmith.finetune.export import export_lora_gguf, merge_tuned
    from draftsmith.finetune.pipeline import resolve_adapter

    if merged_out is not None and not merged:
        raise InputError("--out names the merged GGUF; add --merged (the LoRA GGUF's path is --gguf)")
    path = resolve_adapter(adapter)
    existing = registry.find(adapter.removeprefix("tuned:")) if not Path(adapter).exists() else None
    if existing is not None:  # re-export a registered model in place
        name, force, run_dir = name or existing.name, True, Path(existing.run) if existing.run else None
    else:
        run_dir = path.parent if path.name == "adapter" else None
        name = name or (run_dir.name if run_dir else path.name)
    tuned = registry.register(name, path, run=run_dir, force=force, metrics=existing.metrics if existing else None)
    if existing is not None and existing.merged and not merged:  # the same adapter: its merged file still holds
        tuned = registry.save(tuned.model_copy(update={"merged": existing.merged}))
    out.print(f"registered {tuned.name}: {tuned.lineage()}")
    if gguf:
        base = lora.resolve_base(tuned.base)
        if not base.is_file():
            raise InputError(f"the base {tuned.base} is not a GGUF file; llama.cpp needs a GGUF base")
        out.print(f"wrote {export_lora_gguf(tuned.adapter, base, gguf)}")
    if merged:
        err.print("[dim]merging the adapter into the base (every tensor dequantised to F16)…[/]")
        merged_path, model_name = merge_tuned(tuned, merged_out, force=force)
        size = merged_path.stat().st_size / 1e6
        out.print(f"wrote merged F16 GGUF {merged_path} ({size:,.0f} MB)")
        source = model_name or str(merged_path)
        if model_name:
            out.print(f"use it with --model {model_name}")
        out.print(f"quantise it: draftsmith models quantize {source} --type q4_k_m")
    out.print(f"use it with --model {tuned.name}")


def render_eval(report) -> None:  # type: ignore[no-untyped-def]
    """One table per task: metric, each system's score, and tuned − base."""
    for task in report.tasks:
        systems = report.systems
        table = Table(
            "metric", *systems, "tuned − base", title=f"{task.task} ({task.lang}, {task.examples} {report.split})"
        )
        metrics = list(dict.fromkeys(m for s in systems for m in task.scores.get(s, {})))
        for metric in metrics:
            values = [task.scores[s].get(metric) for s in systems]
            base, tuned = task.scores["base"].get(metric), task.scores["tuned"].get(metric)
            delta = f"{tuned - base:+.3f}" if base is not None and tuned is not None else ""
            table.add_row(metric, *(f"{v:.3f}" if v is not None else "" for v in values), delta)
        out.print(table)
        for note in task.notes:
            out.print(f"[dim]{note}[/]")


class _TrainProgress:
    """A Rich progress bar for training steps (stderr), plus one line per validation; nothing when not ``show``."""

    def __init__(self, show: bool = True) -> None:
        self.show = show

    def __enter__(self) -> _TrainProgress:
        if not self.show:
            return self
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[loss]}"),
            console=err,
            transient=False,
        )
        self.bar.start()
        self.task = self.bar.add_task("loading", total=None, loss="")
        self.last_train: float | None = None
        return self

    def event(self, event) -> None:  # type: ignore[no-untyped-def]
        if not self.show:
            return
        if event.stage == "load":
            self.bar.update(self.task, description=event.message)
            return
        if event.train_loss is not None:
            self.last_train = event.train_loss
        best = f" best val {event.best_val_loss:.3f}" if event.best_val_loss is not None else ""
        train = f"train {self.last_train:.3f}" if self.last_train is not None else ""
        self.bar.update(
            self.task, description="training", total=event.total_steps, completed=event.step, loss=train + best
        )
        if event.stage == "eval" and event.val_loss is not None:
            self.bar.console.print(f"step {event.step}: validation loss {event.val_loss:.4f}")

    def note(self, message: str) -> None:
        if self.show:
            self.bar.console.print(f"[dim]{message}[/]")

    def __exit__(self, *exc: object) -> None:
        if self.show:
            self.bar.stop()


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="finetune")
