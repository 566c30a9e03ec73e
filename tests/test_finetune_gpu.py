"""Fine-tuning on a CUDA GPU: bfloat16, gradient accumulation, checkpoints, resume, evaluation, ``accelerate launch``
with one process and with two (data parallel: NCCL on two GPUs, gloo when both share one).

Skipped where torch sees no GPU (CI). ``DRAFTSMITH_TEST_DEVICE=cpu`` runs the same tests on the CPU (bfloat16 there
too), which is how they are checked before a GPU is at hand. The model is a random 4-layer Qwen2 saved as a Hugging
Face folder (no GGUF, no download); ``DRAFTSMITH_GPU_REPORT=FILE`` appends one JSON line per test with what it saw.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from draftsmith.finetune import data
from tiny_qwen import SENTENCES, write_tiny_model


def note(**fields: object) -> None:
    """One JSON line for the report file (the GPU machine's log), when one is asked for."""
    target = os.environ.get("DRAFTSMITH_GPU_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(fields, default=str) + "\n")


@pytest.fixture(scope="module")
def device() -> str:
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    wanted = os.environ.get("DRAFTSMITH_TEST_DEVICE")
    if wanted:
        return wanted
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU (set DRAFTSMITH_TEST_DEVICE=cpu to run these tests on the CPU)")
    return "cuda"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, device: str) -> Iterator[Path]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the CPU side of a tiny model gains nothing from more threads
    root = tmp_path_factory.mktemp("finetune-gpu")
    write_tiny_model(root / "tiny")
    rows = [{"input": f"hello world number {i}", "output": SENTENCES[i % len(SENTENCES)]} for i in range(96)]
    (root / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    data.prepare(root / "data", data_files=[root / "d.jsonl"])
    yield root
    torch.set_num_threads(threads)


def config(work: Path, device: str, **changes: object):  # type: ignore[no-untyped-def]
    from draftsmith.finetune.train import TrainConfig

    settings = {
        "base": str(work / "tiny"),
        "rank": 8,
        "targets": ["q", "k", "v", "o", "gate", "up", "down"],
        "dropout": 0.1,
        "lr": 1e-2,
        "batch_size": 4,
        "grad_accum": 2,
        "max_steps": 8,
        "eval_every": 4,
        "save_every": 2,
        "device": device,
        "dtype": "bfloat16",
    }
    return TrainConfig.model_validate({**settings, **changes})


@pytest.fixture(scope="module")
def trained(work: Path, device: str):  # type: ignore[no-untyped-def]
    import torch

    from draftsmith.finetune.train import Trainer

    trainer = Trainer(config(work, device), work / "data", work / "run")
    started = time.perf_counter()
    result = trainer.run(resume=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return trainer, result, time.perf_counter() - started


def test_trains_in_bfloat16_with_gradient_accumulation(trained, device: str) -> None:  # type: ignore[no-untyped-def]
    import torch

    trainer, result, seconds = trained
    assert result.device.startswith(device.split(":")[0]) and result.dtype == "bfloat16"
    lora_params = [p for p in trainer.model.parameters() if p.requires_grad]
    frozen = [p for p in trainer.model.parameters() if not p.requires_grad]
    assert all(p.dtype == torch.float32 for p in lora_params)  # PEFT keeps the adapter in float32
    assert all(p.dtype == torch.bfloat16 for p in frozen)
    assert all(p.device.type == device.split(":")[0] for p in trainer.model.parameters())
    losses = [loss for _, loss in result.history["train"]]
    assert result.steps == 8 and all(math.isfinite(x) for x in losses)
    assert result.best_val_loss < result.initial_val_loss
    assert [p.name for p in sorted((Path(result.out) / "checkpoints").iterdir())] == ["step-000006", "step-000008"]
    note(
        test="train",
        device=torch.cuda.get_device_name() if device.startswith("cuda") else device,
        torch=torch.__version__,
        dtype=result.dtype,
        steps=result.steps,
        seconds=round(seconds, 2),
        steps_per_s=round(result.steps / seconds, 2),
        train_loss=[round(x, 4) for x in losses],
        val_loss=[round(result.initial_val_loss, 4), round(result.best_val_loss, 4)],
        max_memory_mb=round(torch.cuda.max_memory_allocated() / 2**20, 1) if device.startswith("cuda") else None,
    )


def test_accumulated_step_matches_one_big_batch(work: Path, device: str) -> None:
    """batch 4 × 2 micro-batches and batch 8 × 1 take the same first step (dropout off): the same loss."""
    from draftsmith.finetune.train import Trainer

    first = []
    for batch, accum in ((4, 2), (8, 1)):
        cfg = config(work, device, batch_size=batch, grad_accum=accum, dropout=0.0, max_steps=2, eval_every=100)
        first.append(Trainer(cfg, work / "data", work / f"accum-{batch}").run(resume=False).history["train"])
    note(test="accumulation", accum_4x2=first[0], batch_8x1=first[1])
    assert first[0][0][1] == pytest.approx(first[1][0][1], rel=2e-2)  # bf16: not bit-identical
    assert first[0][1][1] == pytest.approx(first[1][1][1], rel=5e-2)  # after one update, still close


def test_interrupted_run_resumes_from_its_checkpoint(trained, work: Path, device: str) -> None:  # type: ignore[no-untyped-def]
    from draftsmith.finetune.train import Trainer, TrainingInterrupted

    def interrupt(event) -> None:  # type: ignore[no-untyped-def]
        if event.stage == "train" and event.step == 5:
            raise KeyboardInterrupt

    out = work / "interrupted"
    with pytest.raises(TrainingInterrupted, match=r"interrupted at step 5 of 8"):
        Trainer(config(work, device), work / "data", out, on_event=interrupt).run()
    assert (out / "checkpoints" / "step-000005").is_dir()
    resumed = Trainer(config(work, device), work / "data", out).run()
    assert resumed.resumed_from == 5 and resumed.steps == 8
    full = [loss for _, loss in trained[1].history["train"]]
    again = [loss for _, loss in resumed.history["train"]]
    note(test="resume", uninterrupted=full, resumed=again, identical=full == again)
    assert again[:5] == full[:5]  # the steps before the interruption come from the checkpoint
    assert again == pytest.approx(full, rel=1e-3)  # and the steps after it repeat the same batches and dropout


def test_evaluation_on_the_device(trained, device: str) -> None:  # type: ignore[no-untyped-def]
    from draftsmith.finetune.evaluate import evaluate, evaluate_adapter, systems_for

    trainer, result, _ = trained
    test = data.load_split(trainer.data_dir, "test")
    report = evaluate(
        trainer.model,
        trainer.tokenizer,
        test,
        systems=systems_for(trainer.model),
        device=trainer.device,
        pad_id=trainer.pad_id,
        eos_ids=trainer.base._eos_ids,
        style_texts={"rewrite": [e.output for e in trainer.train_set]},
    )
    (task,) = report.tasks
    assert task.scores["tuned"]["loss"] < task.scores["base"]["loss"]
    again = evaluate_adapter(Path(result.adapter), trainer.data_dir, device=device, limit=8)  # opens it afresh
    assert again.tasks[0].examples == 8
    note(test="evaluate", scores=task.scores, seconds=round(report.seconds, 2), sample=report.samples[:1])


def test_accelerate_launch_one_process(work: Path, device: str, tmp_path: Path) -> None:
    """``accelerate launch`` (one process) runs ``draftsmith finetune run`` unchanged."""
    pytest.importorskip("accelerate")
    launcher = tmp_path / "draftsmith_main.py"
    launcher.write_text("import sys\nfrom draftsmith.cli import entry\n\nsys.exit(entry())\n", encoding="utf-8")
    out = tmp_path / "launched"
    command = [
        *(sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1"),
        *("--mixed_precision", "no", "--dynamo_backend", "no", *(["--cpu"] if device == "cpu" else [])),
        str(launcher),
        *("finetune", "run", "--data", str(work / "data"), "--out", str(out), "--base", str(work / "tiny")),
        *("--rank", "4", "--lr", "0.01", "--batch-size", "4", "--grad-accum", "2", "--max-steps", "4"),
        *("--device", device, "--eval-limit", "4", "--json"),
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in [str(Path.cwd() / "src"), os.environ.get("PYTHONPATH", "")] if p),
    }
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    note(test="accelerate", rc=done.returncode, stderr_tail=done.stderr[-1500:])
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout[done.stdout.index("{") :])
    assert report["train"]["steps"] == 4 and report["train"]["device"].startswith(device.split(":")[0])
    assert report["evaluation"]["systems"] == ["base", "tuned"]


def test_speed_of_a_qwen2_half_billion_model_on_the_gpu(work: Path, device: str) -> None:
    """Steps per second of the real training loop on a random model shaped like Qwen2.5-0.5B (GPU only)."""
    import torch
    import transformers

    from draftsmith.finetune.train import Trainer

    if not device.startswith("cuda"):
        pytest.skip("a 0.5B model takes minutes per step on a CPU")
    folder = work / "qwen-0.5b-shape"
    tiny = transformers.AutoConfig.from_pretrained(str(work / "tiny"))
    cfg = transformers.Qwen2Config(
        vocab_size=151936,
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        eos_token_id=tiny.eos_token_id,
        pad_token_id=tiny.pad_token_id,
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = transformers.Qwen2ForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(str(folder))
    del model
    transformers.AutoTokenizer.from_pretrained(str(work / "tiny")).save_pretrained(str(folder))
    settings = {"base": str(folder), "batch_size": 16, "grad_accum": 2, "max_steps": 20, "eval_every": 10}
    stamps: dict[int, float] = {}

    def clock(event) -> None:  # type: ignore[no-untyped-def]
        if event.stage == "train":
            torch.cuda.synchronize()
            stamps[event.step] = time.perf_counter()

    trainer = Trainer(config(work, device, **settings), work / "data", work / "speed", on_event=clock)
    started = time.perf_counter()
    result = trainer.run(resume=False)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    note(
        test="speed-0.5b",
        steps=result.steps,
        examples_per_step=32,
        seconds_incl_load_and_evals=round(seconds, 2),
        steps_per_s_after_step_2=round(18 / (stamps[20] - stamps[2]), 2),
        minutes_reported=round(result.minutes, 3),
        trainable_params=result.trainable_params,
        val_loss=[round(result.initial_val_loss, 4), round(result.best_val_loss, 4)],
        max_memory_gb=round(torch.cuda.max_memory_allocated() / 2**30, 2),
    )
    assert result.dtype == "bfloat16" and result.steps == 20


def test_two_processes_take_the_steps_of_one(work: Path, device: str, tmp_path: Path) -> None:
    """``accelerate launch --multi_gpu --num_processes 2``: the same losses and LoRA weights as one process.

    With two GPUs each process takes its own (NCCL); with one, both share it and talk over gloo (the documented
    fallback: same result, no faster). float32 and no dropout, so the two runs differ only in summation order.
    """
    import torch
    from safetensors.torch import load_file

    from draftsmith.finetune.train import Trainer

    pytest.importorskip("accelerate")
    settings = {"dtype": "float32", "dropout": 0.0, "max_steps": 6, "eval_every": 3, "save_every": 3}
    started = time.perf_counter()
    one = Trainer(config(work, device, **settings), work / "data", work / "one-process").run(resume=False)
    one_seconds = time.perf_counter() - started
    launcher = tmp_path / "draftsmith_main.py"
    launcher.write_text("import sys\nfrom draftsmith.cli import entry\n\nsys.exit(entry())\n", encoding="utf-8")
    out = tmp_path / "two"
    command = [
        *(sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"),
        *("--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", str(launcher)),
        *("finetune", "run", "--data", str(work / "data"), "--out", str(out), "--base", str(work / "tiny")),
        *("--rank", "8", "--targets", "q,k,v,o,gate,up,down", "--dropout", "0", "--lr", "0.01"),
        *("--batch-size", "4", "--grad-accum", "2", "--max-steps", "6", "--eval-every", "3", "--save-every", "3"),
        *("--device", device.split(":")[0], "--dtype", "float32", "--no-eval", "--json"),
    ]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(p for p in [str(Path.cwd() / "src"), os.environ.get("PYTHONPATH", "")] if p),
    }
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    two_seconds = time.perf_counter() - started
    gpus = torch.cuda.device_count() if device.startswith("cuda") else 0
    note(test="two-processes", rc=done.returncode, gpus=gpus, stderr_tail=done.stderr[-1500:])
    assert done.returncode == 0, done.stderr[-3000:]
    two = json.loads(done.stdout[done.stdout.index("{") :])["train"]
    assert two["processes"] == 2 and two["steps"] == 6
    assert two["device"] == ("cuda:0" if gpus else "cpu")  # rank 0's
    ours = [loss for _, loss in one.history["train"]]
    theirs = [loss for _, loss in two["history"]["train"]]
    mine = load_file(str(work / "one-process" / "checkpoints" / "step-000006" / "adapter_model.safetensors"))
    got = load_file(str(out / "checkpoints" / "step-000006" / "adapter_model.safetensors"))
    worst = max(float((got[k] - mine[k]).abs().max()) for k in mine)
    note(
        test="two-processes",
        backend="nccl" if gpus >= 2 else ("gloo (one shared GPU)" if gpus else "gloo (cpu)"),
        one_process=[round(x, 6) for x in ours],
        two_processes=[round(x, 6) for x in theirs],
        max_weight_difference=worst,
        one_process_seconds=round(one_seconds, 2),
        two_process_seconds_incl_launch=round(two_seconds, 2),
    )
    assert theirs == pytest.approx(ours, rel=1e-4)
    assert worst < 5e-4  # measured on the CPU: 9e-6 (GPU kernels may round differently per batch shape)
    assert sorted(p.name for p in out.iterdir()) == [
        "adapter",
        "checkpoints",
        "history.json",
        "loss.png",
        "report.json",
        "run.json",
    ]
