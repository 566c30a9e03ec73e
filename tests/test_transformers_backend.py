"""The transformers backend: checks without torch, plumbing on a tiny random model, the real 0.5B GGUF.

The real-model tests load ``$DRAFTSMITH_TEST_GGUF`` (else the bundled 0.5B GGUF) through transformers,
which dequantises it: roughly a minute or two and ~4 GB of RAM, paid once for the module.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from draftsmith.errors import ModelError
from draftsmith.models.base import GenParams, Message
from draftsmith.models.transformers_backend import (
    INSTALL_HINT,
    TransformersModel,
    _cut_at_stops,
    _json_text,
    _with_adapter,
)

GREEDY = GenParams(temperature=0, max_tokens=8)
CAPITAL = [Message(role="user", content="What is the capital of France? Answer in one word.")]
COUNT = [Message(role="user", content="Count from 1 to 10, separated by commas.")]


# -- no torch needed --------------------------------------------------------------------------


def test_import_needs_no_torch(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    code = (
        "import sys\n"
        "import draftsmith.models.transformers_backend as tb\n"
        "print('torch imported' if 'torch' in sys.modules else 'torch not imported')\n"
        "sys.modules['torch'] = sys.modules['transformers'] = None\n"
        "try:\n"
        "    tb.TransformersModel(sys.argv[1])\n"
        "except tb.ModelError as exc:\n"
        "    print(exc)\n"
    )
    src = str(Path(__file__).parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["torch not imported", INSTALL_HINT]


def test_missing_packages_name_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelError, match=r"pip install 'draftsmith\[transformers\]'"):
        TransformersModel(tmp_path)


def test_missing_path_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        TransformersModel(tmp_path / "nope.gguf")


def test_paths_that_are_not_models_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ModelError, match=r"not a \.gguf"):
        TransformersModel(tmp_path / "notes.txt")
    with pytest.raises(ModelError, match=r"no config\.json"):
        TransformersModel(tmp_path)
    with pytest.raises(ModelError, match="not found"):
        TransformersModel(tmp_path, gguf_file="missing.gguf")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match=r"adapter_config\.json"):
        TransformersModel(tmp_path, adapter=tmp_path / "lora")
    with pytest.raises(ModelError, match="unknown dtype"):
        TransformersModel(tmp_path, dtype="int3")


def test_adapter_without_peft_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(ModelError, match="pip install peft"):
        _with_adapter(object(), Path("lora"))


@pytest.mark.parametrize(
    ("pieces", "stops", "expected"),
    [
        (["Hello", " world"], [], ["Hello", " world"]),
        (["one, two", ", three"], ["three"], ["one, two", ", ", None]),
        (["a <", "/s", "> b"], ["</s>"], ["a ", None]),  # the stop spans three pieces
        (["a <", "b"], ["</s>"], ["a ", "<b"]),  # a held-back false start is released
        (["STOP"], ["STOP"], [None]),
        (["x", "y"], ["", "zz"], ["x", "y"]),
    ],
)
def test_stop_strings_cut_the_stream(pieces: list[str], stops: list[str], expected: list[str | None]) -> None:
    assert list(_cut_at_stops(iter(pieces), stops)) == expected


def test_json_text_accepts_fenced_json_and_rejects_prose() -> None:
    assert _json_text("m", ' {"a": 1} ') == '{"a": 1}'
    assert _json_text("m", '```json\n{"a": [1, 2]}\n```') == '{"a": [1, 2]}'
    with pytest.raises(ModelError, match="malformed JSON"):
        _json_text("m", "Paris")


# -- a tiny random model: plumbing in seconds, no download ------------------------------------


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Qwen2 with random weights and a byte-level BPE tokenizer trained on one sentence."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(["hello world, the capital of France is Paris."] * 10, trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    config = transformers.Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        eos_token_id=None,  # never stops by itself: the tests decide when generation ends
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny")
    transformers.Qwen2ForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny(tiny_dir: Path) -> TransformersModel:
    return TransformersModel(tiny_dir)


def test_tiny_model_streams_and_reports_usage(tiny: TransformersModel) -> None:
    params = GenParams(temperature=0, max_tokens=12)
    chunks = list(tiny.stream([Message(role="user", content="hello")], params))
    last = chunks[-1]
    assert last.finish_reason == "length"
    assert last.usage is not None and last.usage.completion_tokens == 12 and last.usage.prompt_tokens > 0
    assert tiny.info()["backend"] == "transformers" and tiny.info()["parameters"] > 0
    assert tiny.name == f"transformers:{tiny.path}"


def test_same_seed_samples_the_same_text(tiny: TransformersModel) -> None:
    params = GenParams(temperature=1.0, max_tokens=16, seed=7)
    messages = [Message(role="user", content="hello")]
    assert tiny.complete(messages, params).text == tiny.complete(messages, params).text


def test_closing_the_stream_stops_generation(tiny: TransformersModel) -> None:
    steps = 0

    def count(*_: object) -> None:
        nonlocal steps
        steps += 1

    hook = tiny.model.register_forward_hook(count)
    try:
        stream = tiny.stream([Message(role="user", content="hello")], GenParams(temperature=1.0, max_tokens=5000))
        next(stream)
        stream.close()
    finally:
        hook.remove()
    assert 0 < steps < 1000


def test_output_layer_gets_a_contiguous_input_when_frozen(tiny_dir: Path) -> None:
    """generate() slices the last position; a frozen head must not broadcast its weight per row."""
    torch = pytest.importorskip("torch")
    model = TransformersModel(tiny_dir)
    head = model.model.get_output_embeddings()
    head.weight.requires_grad_(False)  # as under any adapter or LoRA training
    seen: list[bool] = []
    hook = head.register_forward_hook(lambda module, args, out: seen.append(args[0].is_contiguous()))
    try:
        prompt = model.tokenizer(["hello world", "the river"], return_tensors="pt", padding=True)
        with torch.inference_mode():
            model.model.generate(**prompt, max_new_tokens=3, do_sample=False, pad_token_id=model._pad_id)
    finally:
        hook.remove()
    assert seen and all(seen)


def test_lora_adapter_changes_the_model(tiny_dir: Path, tiny: TransformersModel, tmp_path: Path) -> None:
    peft = pytest.importorskip("peft")
    import transformers

    base = transformers.AutoModelForCausalLM.from_pretrained(tiny_dir, local_files_only=True)
    lora = peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft.get_peft_model(base, lora).save_pretrained(tmp_path / "lora")

    tuned = TransformersModel(tiny_dir, adapter=tmp_path / "lora")
    assert tuned.info()["adapter"] == str(tmp_path / "lora")
    assert tuned.score("hello", " world").logprob != pytest.approx(tiny.score("hello", " world").logprob)


# -- the real 0.5B model ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def qwen() -> TransformersModel:
    pytest.importorskip("torch", reason="torch is not installed (pip install torch==2.13.0)")
    pytest.importorskip("transformers", reason="transformers is not installed")
    pytest.importorskip("gguf", reason="transformers needs the gguf package to read a .gguf")
    from draftsmith.models.loader import resolve_gguf

    # The bundled 0.5B model (installed by the dev extra); DRAFTSMITH_TEST_GGUF points elsewhere.
    override = os.environ.get("DRAFTSMITH_TEST_GGUF")
    path = Path(override) if override else resolve_gguf("qwen2.5-0.5b")
    start = time.perf_counter()
    model = TransformersModel(path)
    print(f"loaded {path} in {time.perf_counter() - start:.1f}s")
    return model


@pytest.mark.model
@pytest.mark.slow
def test_greedy_answer_names_paris(qwen: TransformersModel) -> None:
    done = qwen.complete(CAPITAL, GREEDY)
    assert "Paris" in done.text
    assert done.finish_reason == "stop" and done.usage.completion_tokens <= GREEDY.max_tokens


@pytest.mark.model
@pytest.mark.slow
def test_stream_joins_to_the_completion(qwen: TransformersModel) -> None:
    params = GenParams(temperature=0, max_tokens=14)
    chunks = [c.text for c in qwen.stream(COUNT, params)]
    assert len([c for c in chunks if c]) > 1
    assert "".join(chunks) == qwen.complete(COUNT, params).text


@pytest.mark.model
@pytest.mark.slow
def test_stop_string_cuts_the_output(qwen: TransformersModel) -> None:
    done = qwen.complete(COUNT, GenParams(temperature=0, max_tokens=14, stop=["4"]))
    assert done.text.startswith("1, 2, 3")
    assert "4" not in done.text and done.finish_reason == "stop"


@pytest.mark.model
@pytest.mark.slow
def test_prompt_lookup_decoding_keeps_greedy_output(qwen: TransformersModel) -> None:
    echo = [Message(role="user", content="Repeat exactly: The quick brown fox jumps over the lazy dog.")]
    params = GenParams(temperature=0, max_tokens=12)
    plain = qwen.complete(echo, params).text
    assert "quick brown fox" in plain
    assert qwen.complete(echo, params.model_copy(update={"speculative": True})).text == plain


@pytest.mark.model
@pytest.mark.slow
def test_json_mode_rejects_prose(qwen: TransformersModel) -> None:
    with pytest.raises(ModelError, match="malformed JSON"):
        qwen.json(CAPITAL, {"type": "object"}, GenParams(temperature=0, max_tokens=4))


@pytest.mark.model
@pytest.mark.slow
def test_score_prefers_the_right_continuation(qwen: TransformersModel) -> None:
    right = qwen.score("The capital of France is", " Paris")
    wrong = qwen.score("The capital of France is", " banana")
    assert right.tokens >= 1 and right.logprob > wrong.logprob


@pytest.mark.model
@pytest.mark.slow
def test_count_tokens_uses_the_tokenizer(qwen: TransformersModel) -> None:
    assert 0 < qwen.count_tokens("hello world") <= 4
    assert qwen.info()["parameters"] > 100_000_000
