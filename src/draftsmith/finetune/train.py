"""LoRA supervised fine-tuning with AdamW, warmup + decay, early stopping, checkpoints and resume.

A run lives in one directory::

    run.json                 the settings and data hash (a resumed run must match them)
    checkpoints/step-NNNNNN/ adapter weights (safetensors), optimizer state and RNG states (``torch.save`` of plain
                             tensors, read back with ``weights_only=True``), state.json (step, losses, patience)
    adapter/                 the best adapter so far (lowest validation loss), in PEFT's format
    history.json, loss.png   the loss curves

The data order depends only on (seed, epoch) and the learning rate only on the step, so a resumed run continues
exactly where the checkpoint left it: same batches, same dropout masks, same next loss.

Started as several processes (``torchrun --nproc_per_node N``, ``accelerate launch --multi_gpu --num_processes N``)
the run is data-parallel (``parallel.py``): the global batch, and so the loss curve, stay those of one process;
rank 0 alone writes the run directory and reports progress. Ctrl-C or SIGTERM saves the last completed step.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from draftsmith.errors import DraftsmithError, InputError, ModelError
from draftsmith.finetune import lora, parallel, runs
from draftsmith.finetune.data import Example, load_manifest, load_split


class TrainingInterrupted(DraftsmithError):
    """Stopped by the user; the last completed step is saved as a checkpoint."""

    exit_code = 130


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: str = "qwen2.5-0.5b"
    rank: int = Field(8, ge=1, le=512)
    alpha: float | None = Field(None, gt=0, description="LoRA alpha (default: 2 × rank)")
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    targets: list[str] = Field(default_factory=lambda: ["q", "v"])
    layers: int | None = Field(None, ge=1, description="adapt the last N layers only (default: all)")
    epochs: int = Field(3, ge=1)
    max_steps: int | None = Field(None, ge=1)
    lr: float = Field(2e-4, gt=0)
    warmup: float = Field(0.1, ge=0.0, lt=1.0, description="fraction of the steps")
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    weight_decay: float = Field(0.01, ge=0.0)
    batch_size: int = Field(8, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_len: int = Field(256, ge=16, description="tokens per example (prompt + answer)")
    eval_every: int = Field(20, ge=1)
    save_every: int = Field(20, ge=1)
    patience: int = Field(3, ge=1, description="evaluations without improvement before stopping")
    min_delta: float = Field(0.0, ge=0.0)
    max_val: int = Field(64, ge=1, description="validation examples the loss is measured on")
    seed: int = 0
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="weights and activations (auto: bfloat16 on a GPU, float32 on a CPU)"
    )
    keep_checkpoints: int = Field(2, ge=1)

    def run_key(self) -> dict[str, Any]:
        """The settings a resumed run must share (not where or in what precision it runs, how often it saves)."""
        return self.model_dump(exclude={"device", "dtype", "keep_checkpoints", "save_every"})


class TrainEvent(BaseModel):
    stage: Literal["load", "train", "eval", "checkpoint", "done"]
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    train_loss: float | None = None
    val_loss: float | None = None
    best_val_loss: float | None = None
    lr: float | None = None
    elapsed_s: float = 0.0
    message: str = ""


class TrainResult(BaseModel):
    out: str
    adapter: str
    base: str
    device: str
    dtype: str
    steps: int
    total_steps: int
    resumed_from: int | None = None
    stopped_early: bool = False
    initial_val_loss: float
    best_val_loss: float
    best_step: int
    val_loss_drop: float = Field(description="(initial − best) / initial validation loss")
    train_examples: int
    val_examples: int
    skipped_examples: int = Field(description="prompts longer than max_len")
    trainable_params: int
    processes: int = Field(1, description="processes that trained together (data parallel)")
    minutes: float
    loss_plot: str | None = None
    history: dict[str, list[list[float]]] = Field(default_factory=dict)


Events = Callable[[TrainEvent], None]


class Trainer:
    """Opens the base, encodes the data and trains; ``model`` stays open (best weights) for evaluation after.

    In a multi-process run every process makes a Trainer; ``ranks.main`` (rank 0) writes and reports, and only
    its ``model`` holds the best weights after ``run`` (the others keep the last ones).
    """

    def __init__(
        self,
        config: TrainConfig,
        data_dir: Path,
        out: Path,
        *,
        from_adapter: Path | None = None,
        on_event: Events | None = None,
    ) -> None:
        self.config, self.data_dir, self.out = config, Path(data_dir), Path(out)
        self.from_adapter = Path(from_adapter) if from_adapter else None
        self.on_event = on_event or (lambda event: None)
        self.manifest = load_manifest(self.data_dir)
        self.train_set = load_split(self.data_dir, "train")
        self.val_set = load_split(self.data_dir, "val")[: config.max_val]
        if not self.train_set or not self.val_set:
            raise InputError(f"{data_dir} has an empty train or val split; prepare it again with more data")
        self.model: Any = None
        self.ranks = parallel.Ranks.from_env()
        self.stop = parallel.StopSignals()
        self.started = time.perf_counter()

    # -- setup --------------------------------------------------------------------------------------------------

    def _open(self) -> None:
        cfg = self.config
        processes = f" ({self.ranks.world} processes)" if self.ranks.world > 1 else ""
        self._emit("load", message=f"opening {cfg.base}{processes}")
        self.device, self.dtype = lora.pick_device(self.ranks.pick_device(cfg.device), cfg.dtype)
        self.ranks.start(self.device)
        self.ranks.agree(self._build)

    def _build(self) -> None:
        import torch

        cfg = self.config
        self.base = lora.open_base(cfg.base, self.device, self.dtype)
        self.tokenizer = self.base.tokenizer
        self.pad_id = self.base._pad_id
        torch.manual_seed(cfg.seed)  # the LoRA initialisation
        self.parent: dict[str, Any] | None = None
        if self.from_adapter:
            self.parent = lora.read_meta(self.from_adapter)
            self.model = lora.load_adapter(self.base.model, self.from_adapter, cfg.base, trainable=True)
        else:
            self.model = lora.new_adapter(
                self.base.model,
                rank=cfg.rank,
                alpha=cfg.alpha or 2.0 * cfg.rank,
                dropout=cfg.dropout,
                targets=cfg.targets,
                layers=cfg.layers,
            )
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.train_items, skipped = self._encode(self.train_set)
        self.val_items, skipped_val = self._encode(self.val_set)
        self.skipped = skipped + skipped_val
        if not self.train_items or not self.val_items:
            raise InputError(f"every example's prompt is longer than --max-len {cfg.max_len} tokens; raise --max-len")
        batches = math.ceil(len(self.train_items) / cfg.batch_size)
        self.steps_per_epoch = math.ceil(batches / cfg.grad_accum)
        self.total_steps = cfg.max_steps or self.steps_per_epoch * cfg.epochs
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def _encode(self, examples: list[Example]) -> tuple[list[tuple[list[int], int]], int]:
        items = [lora.encode(self.tokenizer, ex, self.config.max_len) for ex in examples]
        kept = [item for item in items if item is not None]
        return kept, len(items) - len(kept)

    # -- schedule and batches -----------------------------------------------------------------------------------

    def lr_at(self, step: int) -> float:
        """Learning rate for the optimizer step numbered ``step`` (0-based): linear warmup, then decay."""
        cfg, total = self.config, self.total_steps
        warm = round(cfg.warmup * total)
        if step < warm:
            return cfg.lr * (step + 1) / warm
        progress = (step - warm) / max(1, total - warm)
        if cfg.schedule == "cosine":
            return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
        if cfg.schedule == "linear":
            return cfg.lr * (1.0 - progress)
        return cfg.lr

    def step_batches(self, step: int) -> list[list[int]]:
        """Indices of the micro-batches of optimizer step ``step``; the order depends only on (seed, epoch)."""
        import torch

        cfg = self.config
        epoch, within = divmod(step, self.steps_per_epoch)
        generator = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        order = torch.randperm(len(self.train_items), generator=generator).tolist()
        per_step = cfg.batch_size * cfg.grad_accum
        chunk = order[within * per_step : (within + 1) * per_step]
        return [chunk[i : i + cfg.batch_size] for i in range(0, len(chunk), cfg.batch_size)]

    # -- the loop -----------------------------------------------------------------------------------------------

    def run(self, *, resume: bool = True) -> TrainResult:
        try:
            with self.stop:
                return self._run(resume)
        finally:
            self.ranks.close()

    def _run(self, resume: bool) -> TrainResult:
        import torch

        self._open()
        state = self._start(resume)
        resumed_from = state["step"] if state["step"] else None
        history = state["history"]
        rng = self._rng_state()  # the RNG state at the last step boundary, for a checkpoint on interrupt
        try:
            if not history["val"]:  # the starting point: the base (or the parent adapter)
                val = self.val_loss()
                history["val"].append([0, val])
                state.update(best_val=val, best_step=0)
                self._save_best()
                self._emit("eval", 0, val_loss=val, best=val)
            elif self._eval_due(state["step"]) and history["val"][-1][0] != state["step"]:
                self._evaluate(state)  # stopped after this step's update, before its evaluation
                if state["stopped_early"]:
                    self._checkpoint(state, rng)
            while state["step"] < self.total_steps and not state["stopped_early"]:
                step = state["step"]
                rng = self._rng_state()
                loss = self._gradients(step)
                with self.stop.deferred():  # a Ctrl-C during the update takes effect once the step is complete
                    self._update(step)
                    state["step"] = step + 1
                    history["train"].append([step + 1, loss])
                    rng = self._rng_state()
                self._emit("train", step + 1, train_loss=loss, lr=self.lr_at(step), best=state["best_val"])
                if self._eval_due(state["step"]):
                    self._evaluate(state)
                last = state["step"] == self.total_steps
                if state["step"] % self.config.save_every == 0 or last or state["stopped_early"]:
                    self._checkpoint(state, self._rng_state())
        except (KeyboardInterrupt, parallel.PeerLost) as exc:
            self.stop.disarm()  # a second signal must not cut the checkpoint short
            self.optimizer.zero_grad(set_to_none=True)
            if state["step"] > (resumed_from or 0):
                self._checkpoint(state, rng)
            saved = (
                f"progress is saved in {self.out}; run the same command again to resume"
                if state["step"]
                else "nothing was trained yet"
            )
            if isinstance(exc, parallel.PeerLost):
                raise parallel.PeerLost(
                    f"{exc}; stopped at step {state['step']} of {self.total_steps}; {saved}"
                ) from None
            raise TrainingInterrupted(f"interrupted at step {state['step']} of {self.total_steps}; {saved}") from None
        except (MemoryError, RuntimeError) as exc:
            if _is_oom(exc):
                raise ModelError(self._oom_advice()) from None
            raise
        finally:
            if hasattr(torch, "cuda") and self.device.startswith("cuda"):
                torch.cuda.empty_cache()
        plot = None
        if self.ranks.main:
            self._load_best()
            self._write_history(history)
            plot = runs.plot_losses(history, self.out / "loss.png")
        initial = history["val"][0][1]
        result = TrainResult(
            out=str(self.out),
            adapter=str(self.out / "adapter"),
            base=self.config.base,
            device=self.device,
            dtype=self.dtype,
            steps=state["step"],
            total_steps=self.total_steps,
            resumed_from=resumed_from,
            stopped_early=state["stopped_early"],
            initial_val_loss=initial,
            best_val_loss=state["best_val"],
            best_step=state["best_step"],
            val_loss_drop=(initial - state["best_val"]) / initial if initial > 0 else 0.0,
            train_examples=len(self.train_items),
            val_examples=len(self.val_items),
            skipped_examples=self.skipped,
            trainable_params=sum(p.numel() for p in self.params),
            processes=self.ranks.world,
            minutes=(time.perf_counter() - self.started) / 60,
            loss_plot=str(plot) if plot else None,
            history=history,
        )
        self._emit("done", state["step"], val_loss=state["best_val"], best=state["best_val"])
        return result

    def _gradients(self, step: int) -> float:
        """Forward and backward over this process's share of the step's micro-batches; the gradients summed over
        the processes end up as one process's would be. Returns the step's mean loss per answer token."""
        batches = self.step_batches(step)
        items = [[self.train_items[i] for i in batch] for batch in batches]
        n_tokens = sum(len(ids) - n for batch in items for ids, n in batch)  # the whole step's, on every process
        self.model.train()
        self.ranks.reseed(self.config.seed, step)
        total = 0.0
        for batch in items:
            mine = parallel.split(batch, self.ranks.rank, self.ranks.world)
            if not mine:  # fewer examples than processes: this one adds zeros
                continue
            loss, _ = lora.answer_loss(self.model, lora.collate(mine, self.pad_id, self.device))
            (loss / n_tokens).backward()
            total += float(loss.detach())
        return self.ranks.sum_gradients(self.params, total) / n_tokens

    def _update(self, step: int) -> None:
        import torch

        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(step)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def val_loss(self) -> float:
        """Mean loss per answer token over the validation examples (dropout off), shared out between processes."""
        return mean_loss(self.model, self.val_items, self.pad_id, self.device, self.config.batch_size, ranks=self.ranks)

    def _eval_due(self, step: int) -> bool:
        return step % self.config.eval_every == 0 or step == self.total_steps

    def _evaluate(self, state: dict[str, Any]) -> None:
        val = self.val_loss()  # the same number on every process, so every process stops at the same step
        with self.stop.deferred():  # the history, the best loss and the best adapter change together
            state["history"]["val"].append([state["step"], val])
            if val < state["best_val"] - self.config.min_delta:
                state.update(best_val=val, best_step=state["step"], bad_evals=0)
                self._save_best()
            else:
                state["bad_evals"] += 1
                if state["bad_evals"] >= self.config.patience:
                    state["stopped_early"] = True
        self._emit("eval", state["step"], val_loss=val, best=state["best_val"])

    # -- checkpoints --------------------------------------------------------------------------------------------

    def _start(self, resume: bool) -> dict[str, Any]:
        """Rank 0 decides (fresh or which checkpoint) and prepares the directory; every process loads the same
        checkpoint (the run directory must be on a file system they all see)."""
        latest = self.ranks.agree(lambda: self._plan(resume) if self.ranks.main else None, share=True)
        state = self.ranks.agree(lambda: self._restore(Path(latest)) if latest else self._fresh())
        self.ranks.sync_parameters(self.params)  # the same seed or checkpoint gave every process the same; make sure
        return state

    def _plan(self, resume: bool) -> str | None:
        key = {
            "config": self.config.run_key(),
            "data_hash": self.manifest.data_hash,
            "from": str(self.from_adapter) if self.from_adapter else None,
        }
        self.out.mkdir(parents=True, exist_ok=True)
        run_file = self.out / "run.json"
        latest = runs.latest_checkpoint(self.out)
        if latest is not None and resume:
            try:
                saved = json.loads(run_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                saved = None
            if saved != key:
                raise InputError(
                    f"{self.out} holds a run with other settings or data; resume it with the same options, "
                    "start over with --restart, or choose another --out"
                )
            return str(latest)
        if not resume:
            shutil.rmtree(self.out / "checkpoints", ignore_errors=True)
            shutil.rmtree(self.out / "adapter", ignore_errors=True)
        run_file.write_text(json.dumps(key, indent=2) + "\n", encoding="utf-8")
        return None

    @staticmethod
    def _fresh() -> dict[str, Any]:
        return {
            "step": 0,
            "best_val": math.inf,
            "best_step": 0,
            "bad_evals": 0,
            "stopped_early": False,
            "history": {"train": [], "val": []},
        }

    def _checkpoint(self, state: dict[str, Any], rng: dict[str, Any]) -> Path | None:
        if not self.ranks.main:
            return None
        path = runs.save_checkpoint(self.out, state, self.model, self.optimizer, rng, self.config.keep_checkpoints)
        self._emit("checkpoint", state["step"], message=str(path))
        return path

    def _restore(self, path: Path) -> dict[str, Any]:
        state, rng = runs.load_checkpoint(path, self.model, self.optimizer)
        self._set_rng_state(rng)
        return state

    def _rng_state(self) -> dict[str, Any]:
        import torch

        rng = {"torch": torch.get_rng_state()}
        if self.device.startswith("cuda"):
            rng["cuda"] = torch.cuda.get_rng_state()
        return rng

    def _set_rng_state(self, rng: dict[str, Any]) -> None:
        import torch

        torch.set_rng_state(rng["torch"])
        if "cuda" in rng and self.device.startswith("cuda"):
            torch.cuda.set_rng_state(rng["cuda"])

    def _save_best(self) -> None:
        if not self.ranks.main:
            return
        target = self.out / "adapter"
        tmp = self.out / f".adapter-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        self.model.save_pretrained(str(tmp), save_embedding_layers=False)
        meta = {
            "base": self.config.base,
            "fingerprint": lora.fingerprint(self.base.model),
            "data": str(self.data_dir.resolve()),
            "data_hash": self.manifest.data_hash,
            "tasks": sorted({ex.task for ex in self.train_set}),
            "config": self.config.model_dump(),
            "parent": str(self.from_adapter.resolve()) if self.from_adapter else None,
            "parent_meta": self.parent,
        }
        lora.write_meta(tmp, meta)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)

    def _load_best(self) -> None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        weights = load_file(str(self.out / "adapter" / "adapter_model.safetensors"))
        set_peft_model_state_dict(self.model, weights)
        self.model.eval()

    def _write_history(self, history: dict[str, Any]) -> None:
        (self.out / "history.json").write_text(json.dumps(history) + "\n", encoding="utf-8")

    def _oom_advice(self) -> str:
        cfg = self.config
        smaller = max(1, cfg.batch_size // 2)
        return (
            f"ran out of memory (batch size {cfg.batch_size}, rank {cfg.rank}, max length {cfg.max_len}, "
            f"{self.device}); try --batch-size {smaller} --grad-accum {cfg.grad_accum * 2} (same effective batch), "
            f"--rank {max(1, cfg.rank // 2)} or --max-len {max(16, cfg.max_len // 2)}; "
            "the run resumes from its last checkpoint"
        )

    def _emit(
        self,
        stage: str,
        step: int = 0,
        *,
        train_loss: float | None = None,
        val_loss: float | None = None,
        best: float | None = None,
        lr: float | None = None,
        message: str = "",
    ) -> None:
        if not self.ranks.main:  # the other processes of a multi-process run stay silent
            return
        total = getattr(self, "total_steps", 0)
        self.on_event(
            TrainEvent(
                stage=stage,  # type: ignore[arg-type]
                step=step,
                total_steps=total,
                epoch=step // self.steps_per_epoch if total else 0,
                train_loss=train_loss,
                val_loss=val_loss,
                best_val_loss=None if best is None or math.isinf(best) else best,
                lr=lr,
                elapsed_s=time.perf_counter() - self.started,
                message=message,
            )
        )


def train(
    config: TrainConfig,
    data_dir: Path,
    out: Path,
    *,
    from_adapter: Path | None = None,
    resume: bool = True,
    on_event: Events | None = None,
) -> TrainResult:
    return Trainer(config, data_dir, out, from_adapter=from_adapter, on_event=on_event).run(resume=resume)


def mean_loss(
    model: Any,
    items: list[tuple[list[int], int]],
    pad_id: int,
    device: str,
    batch_size: int,
    *,
    ranks: parallel.Ranks | None = None,
) -> float:
    """Mean cross-entropy per answer token over encoded examples, without dropout or gradients.

    With ``ranks`` of several processes each takes every N-th batch (the same batches as one process) and the
    sums of losses and token counts are added up, so every process gets the single-process number.
    """
    import torch

    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    starts = range(0, len(items), batch_size)
    if ranks is not None:
        starts = starts[ranks.rank :: ranks.world]
    with torch.no_grad():
        for i in starts:
            loss, n = lora.answer_loss(model, lora.collate(items[i : i + batch_size], pad_id, device))
            total += float(loss)
            count += n
    model.train(was_training)
    if ranks is not None and ranks.world > 1:
        total, count = ranks.sum_(torch.tensor([total, count], dtype=torch.float64, device=device)).tolist()
    return total / max(count, 1)


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return "out of memory" in text or "can't allocate memory" in text or "not enough memory" in text
