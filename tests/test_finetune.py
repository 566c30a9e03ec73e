"""Fine-tuning: data preparation without torch; training, resume, export and serving on a tiny random model.

The tiny model is a 2-layer Qwen2 with random weights written as an f32 GGUF, so the whole path a user takes
(GGUF → transformers → LoRA → llama.cpp LoRA GGUF → llama.cpp) runs in seconds with no download.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from draftsmith.cli import main
from draftsmith.errors import InputError, ModelError
from draftsmith.finetune import data, documents
from tiny_qwen import CHAT_TEMPLATE, SENTENCES, SPECIAL, tiny_tokenizer


def pairs(n: int, start: int = 0) -> list[dict[str, str]]:
    return [{"input": f"hello world number {i}", "output": SENTENCES[i % len(SENTENCES)]} for i in range(start, n)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def read_splits(directory: Path) -> dict[str, list[tuple[str, str]]]:
    return {s: [(e.input, e.output) for e in data.load_split(directory, s)] for s in data.SPLITS}


# -- data: no torch ---------------------------------------------------------------------------------------------


def test_split_is_deterministic_and_stable_when_data_is_added(tmp_path: Path) -> None:
    first = data.prepare(tmp_path / "a", data_files=[write_jsonl(tmp_path / "d.jsonl", pairs(100))])
    again = data.prepare(tmp_path / "b", data_files=[tmp_path / "d.jsonl"])
    assert read_splits(tmp_path / "a") == read_splits(tmp_path / "b")
    assert first.data_hash == again.data_hash
    assert sum(first.counts["test"].values()) >= data.MIN_HELD_OUT

    more = data.prepare(tmp_path / "c", data_files=[write_jsonl(tmp_path / "more.jsonl", pairs(140))])
    assert more.data_hash != first.data_hash
    old, new = read_splits(tmp_path / "a"), read_splits(tmp_path / "c")
    for split in data.SPLITS:  # adding data never moves an old example to another split
        assert set(old[split]) <= set(new[split])


def test_too_little_data_says_how_much_is_needed(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"too little data: 12 examples.*at least 40"):
        data.prepare(tmp_path / "out", data_files=[write_jsonl(tmp_path / "d.jsonl", pairs(12))])
    duplicated = pairs(30) + pairs(30)  # duplicates do not count
    with pytest.raises(InputError, match="30 examples"):
        data.prepare(tmp_path / "out", data_files=[write_jsonl(tmp_path / "d.jsonl", duplicated)])


def test_mismatched_languages_are_refused(tmp_path: Path) -> None:
    rows = pairs(60)
    rows[7] = {"input": "The weather is nice today.", "output": "今天天气很好，我们去公园散步吧。"}
    with pytest.raises(InputError, match=r"mismatched languages in 1 of 60.*d\.jsonl:8.*task 'translate'"):
        data.prepare(tmp_path / "out", data_files=[write_jsonl(tmp_path / "d.jsonl", rows)])
    rows[7]["task"] = "translate"
    manifest = data.prepare(tmp_path / "out", data_files=[write_jsonl(tmp_path / "d.jsonl", rows)])
    assert manifest.languages == {"en": 59, "zh": 1}
    with pytest.raises(InputError, match="expected Simplified Chinese"):
        data.prepare(tmp_path / "out", data_files=[tmp_path / "d.jsonl"], lang="zh")


def test_bad_rows_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"input": "a", "output": "b"}\n\n{"input": "a"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"d\.jsonl:3: not valid JSON"):
        data.read_jsonl(path)
    path.write_text('{"question": "a", "answer": "b"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"d\.jsonl:1: needs an 'input' and an 'output'.*question, answer"):
        data.read_jsonl(path)
    (tmp_path / "a.txt").write_text("one\ntwo\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("uno\n", encoding="utf-8")
    with pytest.raises(InputError, match="line-aligned"):
        data.read_parallel(tmp_path / "a.txt", tmp_path / "b.txt")


def test_aliases_tsv_and_references(tmp_path: Path) -> None:
    rows = [
        {"source": "a b", "references": ["first ref", "second"], "task": "correct"},
        {"prompt": "p", "completion": "c"},
    ]
    got = data.read_jsonl(write_jsonl(tmp_path / "d.jsonl", rows))
    assert [(e.task, e.input, e.output) for e in got] == [("correct", "a b", "first ref"), ("rewrite", "p", "c")]
    assert got[0].instruction == data.INSTRUCTIONS["correct"]
    (tmp_path / "d.tsv").write_text("in one\tout one\n", encoding="utf-8")
    assert data.read_jsonl(tmp_path / "d.tsv")[0].output == "out one"


def test_documents_become_continuation_kept_together_per_paragraph(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for d in range(4):
        paragraphs = [
            " ".join(f"Sentence {s} of paragraph {p} in document {d} talks about the river." for s in range(5))
            for p in range(6)
        ]
        (docs / f"doc{d}.md").write_text("# Title\n\n" + "\n\n".join(paragraphs), encoding="utf-8")
    manifest = data.prepare(tmp_path / "out", documents=[docs])
    assert set(manifest.counts["train"]) == {"continue"}
    where: dict[str, set[str]] = {}
    for split in data.SPLITS:
        for ex in data.load_split(tmp_path / "out", split):
            assert ex.output.startswith("Sentence") and ex.input
            where.setdefault(ex.group or "", set()).add(split)
    assert all(len(splits) == 1 for splits in where.values())


def test_cli_prepare_and_unavailable_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "d.jsonl", pairs(60))
    assert main(["finetune", "prepare", "--from-data", str(tmp_path / "d.jsonl"), "--out", str(tmp_path / "o")]) == 0
    assert "data hash" in capsys.readouterr().out
    assert main(["finetune", "prepare", "--from-edits", "--out", str(tmp_path / "o")]) == 2
    assert "no accepted corrections or rewrites yet" in capsys.readouterr().err


# -- a tiny random model ------------------------------------------------------------------------------------------


def write_tiny_gguf(path: Path, hidden: int = 32, seed: int = 0) -> Path:
    """A random 2-layer Qwen2 with a byte-level BPE vocabulary, as an f32 GGUF that llama.cpp and transformers read."""
    gguf = pytest.importorskip("gguf")
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")

    tok = tiny_tokenizer()
    template = CHAT_TEMPLATE
    cfg = transformers.Qwen2Config(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = transformers.Qwen2ForCausalLM(cfg)
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_name("tiny")
    writer.add_context_length(512)
    writer.add_embedding_length(hidden)
    writer.add_block_count(2)
    writer.add_feed_forward_length(2 * hidden)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_rope_freq_base(float((getattr(cfg, "rope_parameters", None) or {}).get("rope_theta", 10000.0)))
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    tokens = [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]
    special = set(SPECIAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens])
    merges = json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    writer.add_eos_token_id(tok.eos_token_id)
    writer.add_bos_token_id(tok.pad_token_id)
    writer.add_pad_token_id(tok.pad_token_id)
    writer.add_add_bos_token(False)
    writer.add_chat_template(template)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, 2)
    for name, tensor in model.state_dict().items():
        if name != "lm_head.weight":  # tied to the embeddings
            writer.add_tensor(names.get_name(name, try_suffixes=(".weight", ".bias")), tensor.float().numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    pytest.importorskip("peft")
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model gains nothing from more threads, and loses much when cores are shared
    root = tmp_path_factory.mktemp("finetune")
    write_tiny_gguf(root / "tiny.gguf")
    data.prepare(root / "data", data_files=[write_jsonl(root / "d.jsonl", pairs(64))])
    yield root
    torch.set_num_threads(threads)


def config(work: Path, **changes: object):  # type: ignore[no-untyped-def]
    from draftsmith.finetune.train import TrainConfig

    settings = {
        "base": str(work / "tiny.gguf"),
        "rank": 4,
        "targets": ["q", "k", "v", "o", "up", "down"],
        "dropout": 0.1,
        "lr": 2e-2,
        "batch_size": 4,
        "max_steps": 6,
        "eval_every": 3,
        "save_every": 2,
        "device": "cpu",
    }
    return TrainConfig.model_validate({**settings, **changes})


@pytest.fixture(scope="module")
def trained(work: Path):  # type: ignore[no-untyped-def]
    from draftsmith.finetune.train import Trainer

    trainer = Trainer(config(work), work / "data", work / "run")
    return trainer, trainer.run(resume=False)


def test_training_lowers_the_loss_and_writes_the_run(trained, work: Path) -> None:  # type: ignore[no-untyped-def]
    _, result = trained
    losses = [loss for _, loss in result.history["train"]]
    assert result.steps == 6 and len(losses) == 6
    assert sum(losses[-2:]) < sum(losses[:2])
    assert result.best_val_loss < result.initial_val_loss and result.val_loss_drop > 0
    run = work / "run"
    for name in ("adapter/adapter_config.json", "adapter/draftsmith_adapter.json", "loss.png", "history.json"):
        assert (run / name).is_file(), name
    assert (run / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in sorted((run / "checkpoints").iterdir())] == ["step-000004", "step-000006"]
    meta = json.loads((run / "adapter" / "draftsmith_adapter.json").read_text())
    assert meta["base"] == str(work / "tiny.gguf") and meta["fingerprint"]["hidden_size"] == 32


def test_interrupted_run_resumes_at_the_right_step_with_the_same_losses(trained, work: Path) -> None:  # type: ignore[no-untyped-def]
    from draftsmith.finetune.train import Trainer, TrainingInterrupted

    def interrupt(event) -> None:  # type: ignore[no-untyped-def]
        if event.stage == "train" and event.step == 3:
            raise KeyboardInterrupt

    out = work / "interrupted"
    with pytest.raises(TrainingInterrupted, match=r"interrupted at step 3 of 6.*run the same command again"):
        Trainer(config(work), work / "data", out, on_event=interrupt).run()
    assert (out / "checkpoints" / "step-000003").is_dir()
    resumed = Trainer(config(work), work / "data", out).run()
    assert resumed.resumed_from == 3 and resumed.steps == 6
    assert resumed.history["train"] == trained[1].history["train"]  # bit-identical next losses

    with pytest.raises(InputError, match="other settings"):
        Trainer(config(work, lr=1e-3), work / "data", out).run()


def test_corrupt_checkpoint_is_a_clear_error(trained, work: Path) -> None:  # type: ignore[no-untyped-def]
    from draftsmith.finetune.train import Trainer

    out = work / "corrupt"
    shutil.copytree(work / "run", out)
    (out / "run.json").write_text((work / "run" / "run.json").read_text())
    weights = out / "checkpoints" / "step-000006" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelError, match=r"checkpoint .*step-000006 is corrupt.*resume from step-000004.*--restart"):
        Trainer(config(work), work / "data", out).run()


def test_early_stopping_stops_after_patience(work: Path) -> None:
    from draftsmith.finetune.train import Trainer

    # min_delta larger than any possible gain: no evaluation counts as an improvement
    cfg = config(work, max_steps=30, eval_every=1, save_every=100, patience=2, min_delta=100.0)
    result = Trainer(cfg, work / "data", work / "early").run()
    assert result.stopped_early and result.steps == 2 and result.best_step == 0
    assert len(result.history["val"]) == 3


def test_device_and_dtype_choice() -> None:
    torch = pytest.importorskip("torch")
    from draftsmith.finetune import lora
    from draftsmith.finetune.train import TrainConfig

    assert lora.pick_device("cpu") == ("cpu", "float32")  # auto: float32 on a CPU
    assert lora.pick_device("cpu", "bfloat16") == ("cpu", "bfloat16")  # opt-in
    with pytest.raises(InputError, match="unknown dtype 'float16'"):
        lora.pick_device("cpu", "float16")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="sees no CUDA GPU"):
            lora.pick_device("cuda", "auto")
    # the precision is how a run is computed, not what it is: a run resumes in another dtype
    assert TrainConfig(dtype="bfloat16").run_key() == TrainConfig().run_key()


def test_sigterm_mid_update_saves_the_whole_step(trained, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM (a scheduler, torchrun) acts as Ctrl-C; one arriving inside the optimizer update waits for the step."""
    import os
    import signal

    from draftsmith.finetune.train import Trainer, TrainingInterrupted

    update = Trainer._update

    def update_then_signal(self, step: int) -> None:  # type: ignore[no-untyped-def]
        if step == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # delivered at once, in the middle of the update
        update(self, step)

    handlers = [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)]
    out = work / "sigterm"
    with monkeypatch.context() as patch, pytest.raises(TrainingInterrupted, match=r"interrupted at step 3 of 6"):
        patch.setattr(Trainer, "_update", update_then_signal)
        Trainer(config(work), work / "data", out).run()
    assert [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)] == handlers  # put back
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-000002", "step-000003"]
    resumed = Trainer(config(work), work / "data", out).run()
    assert resumed.resumed_from == 3
    assert resumed.history["train"] == trained[1].history["train"]  # step 3's update was whole, not half


def test_launcher_environment_is_read_and_checked() -> None:
    pytest.importorskip("torch")
    from draftsmith.finetune.parallel import Ranks, is_main_process, split

    assert Ranks.from_env({}) == Ranks()  # one process: nothing to set up
    ranks = Ranks.from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"})
    assert (ranks.world, ranks.rank, ranks.local_rank, ranks.local_world, ranks.main) == (4, 3, 1, 2, False)
    with pytest.raises(InputError, match="RANK is not set"):
        Ranks.from_env({"WORLD_SIZE": "2"})
    with pytest.raises(InputError, match=r"started by mpirun.*torchrun --nproc_per_node"):
        Ranks.from_env({"OMPI_COMM_WORLD_SIZE": "2"})  # each process would train alone and write the same files
    with pytest.raises(InputError, match=r"--device cuda:1 names one GPU.*use --device cuda"):
        Ranks(world=2, rank=1, local_rank=1, local_world=2).pick_device("cuda:1")
    assert Ranks(world=2, rank=1).pick_device("cpu") == "cpu"
    assert is_main_process({}) and is_main_process({"RANK": "0"}) and not is_main_process({"RANK": "1"})
    assert [split(list(range(5)), r, 2) for r in range(2)] == [[0, 1, 2], [3, 4]]
    assert [split([7], r, 2) for r in range(2)] == [[7], []]


def test_dropout_masks_of_other_ranks_depend_on_the_step_only() -> None:
    """Ranks after the first draw dropout from (seed, step, rank), so a resumed run repeats them; rank 0 keeps the
    single-process stream, which a checkpoint saves."""
    torch = pytest.importorskip("torch")
    from draftsmith.finetune.parallel import Ranks

    with torch.random.fork_rng():
        other = Ranks(world=2, rank=1)
        other.reseed(0, 5)
        first = torch.rand(4)
        torch.rand(100)  # whatever happened since
        other.reseed(0, 5)
        assert torch.equal(torch.rand(4), first)
        other.reseed(0, 6)
        assert not torch.equal(torch.rand(4), first)
        state = torch.get_rng_state()
        Ranks(world=2, rank=0).reseed(0, 5)
        assert torch.equal(torch.get_rng_state(), state)


def test_bfloat16_training_on_the_cpu(work: Path) -> None:
    import torch

    from draftsmith.finetune.train import Trainer

    cfg = config(work, dtype="bfloat16", max_steps=3, eval_every=3, save_every=3)
    trainer = Trainer(cfg, work / "data", work / "bf16")
    result = trainer.run(resume=False)
    assert result.dtype == "bfloat16" and result.steps == 3
    assert {p.dtype for p in trainer.model.parameters() if p.requires_grad} == {torch.float32}  # the adapter
    assert {p.dtype for p in trainer.model.parameters() if not p.requires_grad} == {torch.bfloat16}  # the base
    assert result.best_val_loss < result.initial_val_loss


def test_out_of_memory_suggests_smaller_settings(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from draftsmith.finetune import lora
    from draftsmith.finetune.train import Trainer

    def oom(*args: object) -> None:
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(lora, "answer_loss", oom)
    with pytest.raises(ModelError, match=r"ran out of memory.*--batch-size 2 --grad-accum 2.*--rank 2"):
        Trainer(config(work), work / "data", work / "oom").run()


def test_adapter_for_another_base_is_refused(trained, work: Path) -> None:  # type: ignore[no-untyped-def]
    from draftsmith.finetune.export import export_lora_gguf
    from draftsmith.finetune.train import Trainer

    other = write_tiny_gguf(work / "other.gguf", hidden=48, seed=1)
    with pytest.raises(
        ModelError, match=r"trained on .*tiny\.gguf \(qwen2 with 2 layers, hidden size 32.*hidden size 48"
    ):
        Trainer(
            config(work, base=str(other)), work / "data", work / "other-run", from_adapter=work / "run" / "adapter"
        ).run()
    with pytest.raises(ModelError, match=r"does not fit other\.gguf"):
        export_lora_gguf(work / "run" / "adapter", other, work / "x.gguf")


def test_evaluation_compares_base_and_tuned(trained) -> None:  # type: ignore[no-untyped-def]
    from draftsmith.finetune.evaluate import evaluate, systems_for

    trainer, _ = trained
    test = data.load_split(trainer.data_dir, "test")
    report = evaluate(
        trainer.model,
        trainer.tokenizer,
        test,
        systems=systems_for(trainer.model),
        pad_id=trainer.pad_id,
        eos_ids=trainer.base._eos_ids,
        style_texts={"rewrite": [e.output for e in trainer.train_set]},
    )
    (task,) = report.tasks
    assert report.systems == ["base", "tuned"] and task.examples == len(test)
    assert {"bleu", "chrf", "loss"} <= set(task.scores["tuned"])
    assert task.scores["tuned"]["loss"] < task.scores["base"]["loss"]
    assert report.samples and {"base", "tuned", "reference"} <= set(report.samples[0])


def test_export_runs_on_llama_cpp_like_transformers(trained, work: Path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    import torch

    llama_cpp = pytest.importorskip("llama_cpp")
    from draftsmith.finetune.export import attach_lora, export_lora_gguf

    trainer, _ = trained
    path = export_lora_gguf(work / "run" / "adapter", work / "tiny.gguf", work / "lora.gguf")
    ids = trainer.tokenizer("hello world, the capital of France")["input_ids"]
    with torch.no_grad():
        tuned = trainer.model(torch.tensor([ids])).logits[0].numpy()
        with trainer.model.disable_adapter():
            base = trainer.model(torch.tensor([ids])).logits[0].numpy()
    llm = llama_cpp.Llama(str(work / "tiny.gguf"), n_ctx=64, logits_all=True, verbose=False)
    attach_lora(llm, path)
    llm.eval(ids)
    served = np.array(llm.scores[: len(ids)])
    assert np.abs(tuned - base).max() > 0.05  # the adapter matters
    assert np.abs(served - tuned).max() < 1e-3  # and llama.cpp applies it as PEFT does


def test_registered_model_is_served_and_listed(trained, work: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from draftsmith.finetune import registry
    from draftsmith.models.loader import close_all, describe_spec, load_model

    tuned = registry.register("tiny-style", work / "run" / "adapter", run=work / "run", metrics={"steps": 6})
    assert tuned.gguf and tuned.gguf_adapter.is_file()
    with pytest.raises(InputError, match="exists already"):
        registry.register("tiny-style", work / "run" / "adapter")
    with pytest.raises(InputError, match="bundled"):
        registry.register("qwen2.5-0.5b", work / "run" / "adapter")
    assert describe_spec("tiny-style") == "tuned (LoRA)"
    try:
        fast = load_model("tiny-style")
        slow = load_model("tuned:tiny-style#transformers")
        assert fast.name == slow.name == "tuned:tiny-style"
        assert type(fast).__name__ == "LlamaCppModel" and type(slow).__name__ == "TransformersModel"
        a, b = fast.score("hello world,", " the capital"), slow.score("hello world,", " the capital")
        assert a.tokens == b.tokens and a.logprob == pytest.approx(b.logprob, abs=1e-2)
    finally:
        close_all()
    assert main(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["tiny-style"]["kind"] == "tuned (LoRA)"
    assert "LoRA r4 on" in rows["tiny-style"]["description"]
    assert rows["tiny-style"]["lineage"]["data_hash"] == data.load_manifest(work / "data").data_hash
    assert main(["finetune", "export", "tiny-style", "--gguf", str(work / "copy.gguf")]) == 0  # re-export in place
    assert "registered tiny-style" in capsys.readouterr().out and (work / "copy.gguf").is_file()
    assert registry.get("tiny-style").metrics == {"steps": 6}


def test_cli_run_trains_evaluates_registers_and_continues(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = f"--base {work / 'tiny.gguf'} --rank 4 --lr 0.02 --batch-size 8 --device cpu --eval-limit 4".split()
    first = f"finetune run --data {work / 'data'} --out {work / 'cli-run'} --name cli --max-steps 3".split()
    code = main([*first, *common])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "validation loss" in printed.out and "tuned − base" in printed.out and "registered as cli" in printed.out
    report = json.loads((work / "cli-run" / "report.json").read_text())
    assert report["registered"] == "cli" and report["evaluation"]["systems"] == ["base", "tuned"]

    # continual: new data, starting from the registered adapter; the old test split is checked for forgetting
    data.prepare(work / "data2", data_files=[write_jsonl(work / "d2.jsonl", pairs(120, 60))])
    second = f"finetune run --data {work / 'data2'} --out {work / 'cli-run2'} --from cli --max-steps 2 --json".split()
    code = main([*second, *common])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    report = json.loads(printed.out)
    assert report["evaluation"]["systems"] == ["base", "parent", "tuned"]
    assert report["forgetting"]["split"] == "old test"
    assert report["forgetting"]["tasks"][0]["scores"]["parent"]["loss"] > 0


def test_knowledge_base_documents_become_continuation(tmp_path: Path) -> None:
    pytest.importorskip("sqlalchemy")
    np = pytest.importorskip("numpy")
    kb = pytest.importorskip("draftsmith.knowledge.kb")
    from draftsmith.store.db import open_store

    class FakeEmbedder:
        name, dim = "fake-embedder", 4

        def passages(self, texts):  # type: ignore[no-untyped-def]
            return np.ones((len(texts), 4), dtype=np.float32)

        def query(self, text):  # type: ignore[no-untyped-def]
            return np.ones(4, dtype=np.float32)

    docs = tmp_path / "docs"
    docs.mkdir()
    for d in range(3):
        paragraphs = [" ".join(f"Line {s} of part {p} in note {d} is about the quiet harbour." for s in range(6))
                      for p in range(12)]  # fmt: skip
        (docs / f"note{d}.md").write_text("\n\n".join(paragraphs), encoding="utf-8")
    kb.add_files(open_store(), "notes", [docs], embedder=FakeEmbedder())
    from_kb = documents.read_knowledge_base("notes")
    from_files = documents.read_documents([docs])
    assert {(e.input, e.output) for e in from_kb} == {(e.input, e.output) for e in from_files}
    with pytest.raises(InputError, match="no knowledge base named 'nope'"):
        documents.read_knowledge_base("nope")
