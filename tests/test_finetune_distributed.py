"""``draftsmith finetune run`` as two CPU processes (torchrun, gloo): one process's steps, one set of files, resume.

Each test launches ``python -m torch.distributed.run --standalone --nproc_per_node 2`` on a small driver that runs
the CLI; ``DRAFTSMITH_TEST_FAULT`` makes one rank fail or stop (``where@rank``). The model is a random 2-layer Qwen2
saved as a Hugging Face folder; one thread per process. Every launch has a timeout, so a hang fails the test. Four
launches in all (each one starts three Python processes that import torch: ~8 s on two idle cores). Dropout is off,
so the two-process run can be compared with one process (with dropout each process draws its own masks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from draftsmith.finetune import data
from tiny_qwen import SENTENCES, write_tiny_model

pytestmark = pytest.mark.slow

DRIVER = '''\
"""Runs the draftsmith CLI; DRAFTSMITH_TEST_FAULT=where@rank breaks that rank (tests only)."""
import os
import signal
import sys
import time

where, _, target = os.environ.get("DRAFTSMITH_TEST_FAULT", "").partition("@")
if where and int(os.environ.get("RANK", "0")) == int(target):
    from draftsmith.errors import InputError, ModelError
    from draftsmith.finetune import lora, train

    if where == "open":  # this rank cannot open the base
        def open_base(*args, **kwargs):
            raise InputError("cannot read the base on this rank (injected)")
        lora.open_base = open_base
    elif where.startswith("step"):  # this rank fails in the middle of training
        at, gradients = int(where[4:]), train.Trainer._gradients
        def failing(self, step):
            if step == at:
                raise ModelError(f"injected failure at step {at}")
            return gradients(self, step)
        train.Trainer._gradients = failing
    elif where.startswith("ctrl-c"):  # Ctrl-C in the terminal after step N: torchrun forwards it to every worker
        at, emit = int(where[6:]), train.Trainer._emit
        def emit_then_interrupt(self, stage, step=0, **kwargs):
            emit(self, stage, step, **kwargs)
            if stage == "train" and step == at:
                os.kill(os.getppid(), signal.SIGINT)
                time.sleep(60)  # until torchrun's SIGINT arrives here
        train.Trainer._emit = emit_then_interrupt

from draftsmith.cli import main

sys.exit(main())
'''

SETTINGS = {
    "rank": 4,
    "targets": ["q", "k", "v", "o", "up", "down"],
    "dropout": 0.0,
    "lr": 2e-2,
    "batch_size": 5,  # 5 examples split 3 + 2; step 6 has one (rank 1 adds zeros); validation: 7 = 5 + 2
    "grad_accum": 2,
    "max_steps": 7,  # past the end of the first epoch (6 steps)
    "eval_every": 3,
    "save_every": 2,
    "device": "cpu",
    "dtype": "float32",
}


def cli_options(work: Path, out: Path, **changes: object) -> list[str]:
    settings = {**SETTINGS, **changes}
    options = ["finetune", "run", "--data", str(work / "data"), "--out", str(out), "--base", str(work / "tiny")]
    for key, value in settings.items():
        value = ",".join(value) if isinstance(value, list) else value
        options += [f"--{key.replace('_', '-')}", str(value)]
    return options


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    if not torch.distributed.is_available():
        pytest.skip("this torch build has no torch.distributed")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("finetune-ddp")
    write_tiny_model(root / "tiny", hidden=32, layers=2)
    rows = [{"input": f"hello world number {i}", "output": SENTENCES[i % len(SENTENCES)]} for i in range(68)]
    (root / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    manifest = data.prepare(root / "data", data_files=[root / "d.jsonl"])
    assert manifest.counts["train"] == {"rewrite": 51}  # 11 micro-batches of up to 5: 6 steps, the 6th of one example
    driver = root / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    yield root
    torch.set_num_threads(threads)


def launch(work: Path, options: list[str], fault: str = "", timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Two processes on the CPU, each with one thread; a new session, as a terminal's foreground job."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "DRAFTSMITH_HOME": str(work / "home"),  # the registry of the launched runs, the same for every test
        "DRAFTSMITH_DIST_TIMEOUT": "60",
        "DRAFTSMITH_TEST_FAULT": fault,
        "PYTHONPATH": os.pathsep.join(p for p in [str(Path.cwd() / "src"), os.environ.get("PYTHONPATH", "")] if p),
    }
    command = [
        *(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"),
        *(str(work / "driver.py"), *options),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, start_new_session=True)
    done.seconds = time.perf_counter() - started  # type: ignore[attr-defined]
    return done


def adapter_weights(checkpoint: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(checkpoint / "adapter_model.safetensors"))


@pytest.fixture(scope="module")
def one_process(work: Path):  # type: ignore[no-untyped-def]
    """The reference: the same run in this process (one process, the whole global batch)."""
    from draftsmith.finetune.train import TrainConfig, Trainer

    config = TrainConfig.model_validate({**SETTINGS, "base": str(work / "tiny")})
    trainer = Trainer(config, work / "data", work / "one")
    assert trainer.ranks.world == 1
    return trainer.run(resume=False)


@pytest.fixture(scope="module")
def two_processes(work: Path):  # type: ignore[no-untyped-def]
    """Two processes, stopped by Ctrl-C after step 3 (torchrun forwards SIGINT to each), then resumed."""
    options = [*cli_options(work, work / "two"), "--name", "two", "--eval-limit", "2", "--json"]
    stopped = launch(work, options, fault="ctrl-c3@0")
    saved = sorted(p.name for p in (work / "two" / "checkpoints").iterdir())
    resumed = launch(work, options)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    return stopped, saved, resumed


def test_interrupted_two_process_run_resumes(two_processes) -> None:  # type: ignore[no-untyped-def]
    stopped, saved, resumed = two_processes
    assert stopped.returncode != 0
    assert "interrupted at step 3 of 7; progress is saved" in stopped.stderr, stopped.stderr[-3000:]
    assert saved == ["step-000002", "step-000003"]  # step 3 written on the interrupt (regular ones: every 2)
    train = json.loads(resumed.stdout)["train"]  # one JSON document: rank 1 printed nothing
    assert train["resumed_from"] == 3 and train["steps"] == 7 and train["processes"] == 2


def test_two_processes_take_the_steps_of_one(one_process, two_processes, work: Path) -> None:  # type: ignore[no-untyped-def]
    """Steps 1-3 before the interruption, 4-7 after it: the losses and weights of one process, to float rounding."""
    train = json.loads(two_processes[2].stdout)["train"]
    ours, theirs = one_process.history, train["history"]
    assert [s for s, _ in theirs["train"]] == [s for s, _ in ours["train"]] == list(range(1, 8))
    assert [loss for _, loss in theirs["train"]] == pytest.approx([loss for _, loss in ours["train"]], rel=1e-6)
    assert [s for s, _ in theirs["val"]] == [0, 3, 6, 7]  # step 3's evaluation, cut off by Ctrl-C, done on resume
    assert [v for _, v in theirs["val"]] == pytest.approx([v for _, v in ours["val"]], rel=1e-6)
    assert train["best_step"] == one_process.best_step
    mine = adapter_weights(work / "one" / "checkpoints" / "step-000007")
    got = adapter_weights(work / "two" / "checkpoints" / "step-000007")
    assert set(got) == set(mine)
    worst = max(float((got[k] - mine[k]).abs().max()) for k in mine)
    assert worst < 1e-5, worst  # the final LoRA weights: the same optimizer steps (measured: 6e-7)
    assert max(float(mine[k].abs().max()) for k in mine if "lora_B" in k) > 1e-2  # and they did move


def test_only_rank_zero_writes_and_reports(two_processes, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from draftsmith.finetune import registry

    monkeypatch.setenv("DRAFTSMITH_HOME", str(work / "home"))
    run = work / "two"
    assert sorted(p.name for p in run.iterdir()) == [
        "adapter", "checkpoints", "history.json", "loss.png", "report.json", "run.json"
    ]  # fmt: skip
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000006", "step-000007"]
    report = json.loads((run / "report.json").read_text())
    assert report["registered"] == "two" and report["evaluation"]["systems"] == ["base", "tuned"]
    assert [p.name for p in registry.tuned_dir().iterdir()] == ["two"]
    assert registry.get("two").metrics["steps"] == 7
    stopped, _, resumed = two_processes
    assert stopped.stderr.count("validation loss") == 1  # step 0: one progress line per evaluation, not two
    assert resumed.stderr.count("validation loss") == 3  # steps 3, 6 and 7


def test_a_failing_rank_stops_the_run_with_its_message(work: Path) -> None:
    # before training: the failure is shared, every process raises it, nothing waits
    early = launch(work, cli_options(work, work / "fail-open"), fault="open@1", timeout=120)
    assert early.returncode != 0
    assert "cannot read the base on this rank (injected)" in early.stderr
    assert "process 1 of 2 failed" in early.stderr  # what rank 0 says
    assert not (work / "fail-open" / "checkpoints").exists()

    # in the middle of training: rank 0 stops at the next collective and saves the last completed step (3; the
    # regular checkpoints are every 2 steps)
    late = launch(work, cli_options(work, work / "fail-step"), fault="step3@1", timeout=120)
    assert late.returncode != 0
    assert "injected failure at step 3" in late.stderr, late.stderr[-3000:]
    assert late.seconds < 90  # type: ignore[attr-defined]
    steps = sorted(p.name for p in (work / "fail-step" / "checkpoints").iterdir())
    assert steps[-1] == "step-000003"
