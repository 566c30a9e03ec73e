"""Hugging Face transformers backend: runs a local model directory or a GGUF file with torch.

Slower and hungrier than llama.cpp (a GGUF is dequantised to full tensors on load), but it is the
backend that takes PEFT LoRA adapters. torch and transformers are imported only when a model is
built, so importing this module stays cheap. Nothing is ever downloaded (``local_files_only``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from draftsmith.errors import ModelError
from draftsmith.models.base import Chunk, GenParams, Message, Model, Score, Usage

INSTALL_HINT = "the transformers backend needs: pip install 'draftsmith[transformers]' (install torch==2.13.0 first)"
_DTYPES = ("auto", "float32", "float16", "bfloat16")


class TransformersModel(Model):
    """A causal LM loaded with transformers, optionally with a PEFT LoRA adapter on top.

    ``path`` is a local Hugging Face model directory (config.json + weights) or a ``.gguf`` file.
    ``dtype="auto"`` means float32 on CPU (half precision is slow there) and the checkpoint's own
    dtype on other devices.

    JSON output: there is no grammar-constrained decoding here. With ``params.json_schema`` set the
    text is generated as usual (the prompt must ask for the JSON shape), a surrounding Markdown code
    fence is dropped, and a ModelError is raised when the result does not parse as JSON. The schema
    itself is not enforced, and such a stream yields its text in one chunk, after the check.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        gguf_file: str | None = None,
        adapter: str | Path | None = None,
        device: str = "cpu",
        dtype: str = "auto",
    ) -> None:
        self.path = Path(path).expanduser()
        self.name = f"transformers:{path}"
        self.directory, self.gguf_file = _locate(self.path, gguf_file)
        self.adapter = Path(adapter).expanduser() if adapter is not None else None
        if self.adapter is not None and not (self.adapter / "adapter_config.json").is_file():
            raise ModelError(f"LoRA adapter not found: {self.adapter} has no adapter_config.json")
        if dtype not in _DTYPES:
            raise ModelError(f"unknown dtype {dtype!r}; use one of: {', '.join(_DTYPES)}")
        self.device = device

        try:
            import torch
            import transformers
        except ImportError:
            raise ModelError(INSTALL_HINT) from None
        self._torch = torch
        source = {"gguf_file": self.gguf_file} if self.gguf_file else {}
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(
                str(self.directory), local_files_only=True, **source
            )
            model = transformers.AutoModelForCausalLM.from_pretrained(
                str(self.directory),
                local_files_only=True,
                **source,
                **_dtype_kwarg(transformers, torch, dtype, device),
            )
        except (OSError, ValueError, RuntimeError, KeyError, ImportError) as exc:
            raise ModelError(f"cannot load {self.path} with transformers: {exc}") from exc
        _contiguous_head(model)
        if self.adapter is not None:
            model = _with_adapter(model, self.adapter)
        self.model = model.to(device).eval()
        self.dtype = str(next(self.model.parameters()).dtype).removeprefix("torch.")
        eos = self.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos]
        self._eos_ids = {int(i) for i in [*eos, self.tokenizer.eos_token_id] if i is not None}
        pad = self.tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else self.tokenizer.eos_token_id

    # -- generation ---------------------------------------------------------------------------

    def stream(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]:
        from transformers import TextIteratorStreamer

        torch = self._torch
        prompt = self._chat_prompt(messages)
        prompt_len = int(prompt["input_ids"].shape[1])
        halt = threading.Event()
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = {
            **prompt,
            "max_new_tokens": params.max_tokens,
            "repetition_penalty": params.repeat_penalty,
            "streamer": streamer,
            "stopping_criteria": _halt_criteria(halt),
            "pad_token_id": self._pad_id,
        }
        if params.temperature == 0:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=params.top_k)
        if params.speculative:  # prompt-lookup decoding: drafts come from n-grams of the prompt
            kwargs["prompt_lookup_num_tokens"] = 10
        if params.seed is not None:
            torch.manual_seed(params.seed)

        result: dict[str, Any] = {}

        def generate() -> None:
            try:
                with torch.inference_mode():
                    result["sequences"] = self.model.generate(**kwargs)
            except Exception as exc:  # reported in the consumer's thread below
                result["error"] = exc
                streamer.end()

        worker = threading.Thread(target=generate, name="draftsmith-generate", daemon=True)
        worker.start()
        stopped = False
        held: list[str] = []  # JSON mode: the text waits for the check at the end
        try:
            for piece in _cut_at_stops(streamer, params.stop):
                if piece is None:
                    stopped = True
                    break
                if params.json_schema is None:
                    yield Chunk(text=piece)
                else:
                    held.append(piece)
        finally:  # also runs when the consumer closes the generator early
            halt.set()
            worker.join()
        if "error" in result:
            raise ModelError(f"{self.name} failed while generating: {result['error']}") from result["error"]

        generated = result["sequences"][0, prompt_len:].tolist()
        completion_tokens = len(generated)
        ended = bool(generated) and generated[-1] in self._eos_ids
        finish = "length" if completion_tokens >= params.max_tokens and not (stopped or ended) else "stop"
        text = _json_text(self.name, "".join(held)) if params.json_schema is not None else ""
        usage = Usage(prompt_tokens=prompt_len, completion_tokens=completion_tokens)
        yield Chunk(text=text, finish_reason=finish, usage=usage)

    def _chat_prompt(self, messages: list[Message]) -> dict[str, Any]:
        if not getattr(self.tokenizer, "chat_template", None):
            raise ModelError(f"{self.name} has no chat template; use an instruction-tuned (chat) model")
        encoded = self.tokenizer.apply_chat_template(
            [m.model_dump() for m in messages],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
        return {key: encoded[key].to(self.device) for key in ("input_ids", "attention_mask")}

    # -- scoring and tokens -------------------------------------------------------------------

    def score(self, context: str, continuation: str) -> Score:
        torch = self._torch
        context_ids = self._encode(context)
        joint_ids = self._encode(context + continuation)
        shared = 0
        while shared < min(len(context_ids), len(joint_ids)) and context_ids[shared] == joint_ids[shared]:
            shared += 1
        targets = joint_ids[shared:]
        if not targets:
            return Score(logprob=0.0, tokens=0)
        if shared == 0:  # nothing to condition on: start from the beginning-of-text token
            start = self.tokenizer.bos_token_id
            if start is None:
                start = self.tokenizer.eos_token_id
            if start is None:
                raise ModelError(f"{self.name} cannot score without a context (tokenizer has no BOS/EOS)")
            joint_ids, shared = [start, *joint_ids], 1
        ids = torch.tensor([joint_ids], device=self.device)
        with torch.inference_mode():
            logits = self.model(input_ids=ids).logits[0, shared - 1 : -1].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            picked = logprobs.gather(1, ids[0, shared:].unsqueeze(1))
        return Score(logprob=float(picked.sum()), tokens=len(targets))

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": "transformers",
            "path": str(self.path),
            "gguf_file": self.gguf_file,
            "adapter": str(self.adapter) if self.adapter else None,
            "device": self.device,
            "dtype": self.dtype,
            "parameters": sum(p.numel() for p in self.model.parameters()),
        }


def _locate(path: Path, gguf_file: str | None) -> tuple[Path, str | None]:
    """Split ``path`` into the directory transformers loads from and the GGUF file name, if any."""
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelError(f"{path} is a file but not a .gguf; give a .gguf file or a model directory")
        return path.parent, path.name
    if not path.is_dir():
        raise ModelError(f"model not found: {path} (give a local model directory or a .gguf file)")
    if gguf_file is not None:
        if not (path / gguf_file).is_file():
            raise ModelError(f"model not found: {path / gguf_file}")
        return path, gguf_file
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} is not a Hugging Face model directory (no config.json)")
    return path, None


def _dtype_kwarg(transformers: Any, torch: Any, dtype: str, device: str) -> dict[str, Any]:
    if dtype == "auto":
        value: Any = torch.float32 if device == "cpu" else "auto"
    else:
        value = getattr(torch, dtype)
    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    return {"dtype" if (major, minor) >= (4, 56) else "torch_dtype": value}


def _contiguous_head(model: Any) -> None:
    """Hand the output layer a contiguous input.

    ``generate`` passes it a slice (the last position of each row). With a frozen output layer (any
    adapter, LoRA training) ``torch.matmul`` will not fold that strided 3-D input into one matrix and
    broadcasts the weight to a batch instead: a copy of the whole vocabulary matrix per row and per
    token (~4 GB for 16 rows of Qwen2.5-0.5B in bfloat16), which made batched generation 3x slower.
    """
    head = model.get_output_embeddings()
    if head is not None:
        head.register_forward_pre_hook(lambda module, args: (args[0].contiguous(), *args[1:]) if args else None)


def _with_adapter(model: Any, adapter: Path) -> Any:
    try:
        from peft import PeftModel
    except ImportError:
        raise ModelError("LoRA adapters need: pip install peft") from None
    try:
        return PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelError(f"cannot load LoRA adapter {adapter}: {exc}") from exc


def _halt_criteria(halt: threading.Event) -> Any:
    """A StoppingCriteriaList that ends generation once ``halt`` is set (consumer gone or stop hit)."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class Halt(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), halt.is_set(), dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([Halt()])


def _cut_at_stops(pieces: Iterator[str], stops: list[str]) -> Iterator[str | None]:
    """Pass text through, cut at the first stop string; a final ``None`` means a stop was hit.

    A tail that could be the start of a stop string is held back until the next piece decides it.
    """
    stops = [s for s in stops if s]
    pending = ""
    for piece in pieces:
        pending += piece
        hits = [i for i in (pending.find(s) for s in stops) if i >= 0]
        if hits:
            if pending[: min(hits)]:
                yield pending[: min(hits)]
            yield None
            return
        hold = max((k for s in stops for k in range(1, len(s)) if pending.endswith(s[:k])), default=0)
        ready, pending = pending[: len(pending) - hold], pending[len(pending) - hold :]
        if ready:
            yield ready
    if pending:
        yield pending


def _json_text(name: str, text: str) -> str:
    """The JSON in ``text`` (a Markdown code fence around it is dropped), or a ModelError."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0].strip()
    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"model {name} returned malformed JSON ({exc.msg} at char {exc.pos}); "
            "the transformers backend cannot constrain output to a schema"
        ) from None
    return body
