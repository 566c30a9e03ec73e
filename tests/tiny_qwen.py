"""A tiny byte-level BPE tokenizer with a ChatML template, and a random Qwen2 built on it, for the fine-tuning tests."""

from __future__ import annotations

from pathlib import Path

SENTENCES = [
    "the capital of France is Paris.",
    "hello world, the river is quiet.",
    "the old town has a small bridge.",
    "Paris is a city of light and rain.",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def tiny_tokenizer():
    """A 320-token byte-level BPE trained on ``SENTENCES`` (``transformers.PreTrainedTokenizerFast``)."""
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([*SENTENCES, "hello world number", "system user assistant"] * 10, trainer)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")


def write_tiny_model(folder: Path, hidden: int = 128, layers: int = 4) -> Path:
    """A random Qwen2 with a byte-level BPE vocabulary and a chat template, as a Hugging Face folder."""
    import torch
    import transformers

    tok = tiny_tokenizer()
    tok.chat_template = CHAT_TEMPLATE
    cfg = transformers.Qwen2Config(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    transformers.Qwen2ForCausalLM(cfg).save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder
