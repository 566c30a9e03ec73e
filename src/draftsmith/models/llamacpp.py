"""The default backend: a GGUF file run in-process by llama.cpp (llama-cpp-python).

One ``Llama`` per model file. Its KV cache keeps the longest common prefix between calls, so a
template's system prompt and few-shot turns are evaluated once per process. Prompt-lookup
speculative decoding is switched on per call; logits are computed only where they are sampled
(the drafted positions), never for the whole prompt.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from draftsmith.errors import InputError, ModelError
from draftsmith.models.base import Chunk, GenParams, Message, Model, Score, Usage
from draftsmith.models.kvcache import PrefixCache

DRAFT_TOKENS = 15  # a verify batch of 16 hits the fast matrix path on CPU
SHORT_DRAFT = 3


def _llama_class():
    try:
        import llama_cpp
        import numpy as np
        from llama_cpp.llama_speculative import LlamaDraftModel
    except ImportError as exc:  # pragma: no cover - the dependency is required
        raise ModelError(f"llama-cpp-python is not installed ({exc}); pip install llama-cpp-python") from None

    class RecentLookup(LlamaDraftModel):
        """Prompt-lookup drafting for outputs that mostly copy the input (corrections, light edits).

        The last n-gram of the output is looked up in the prompt only, at its most recent occurrence (the
        user's text comes last, after any few-shot turns), and the tokens that followed it are proposed.
        Draft length adapts: long after a fully accepted draft, short after a rejection. On CPU a batch of
        16 tokens costs about 3.3 single-token steps and a batch of 4 about 1.9 (measured on 2 cores).
        """

        def __init__(self) -> None:
            self.prompt_len: int | None = None
            self.last: tuple[int, int, np.ndarray] | None = None  # (output pos, source pos, draft)
            self.cursor: int | None = None  # where in the prompt the output is expected to be copying from
            self.size = DRAFT_TOKENS

        def __call__(self, input_ids, /, **kwargs):
            ids = np.asarray(input_ids)
            n = len(ids)
            if self.prompt_len is None:
                self.prompt_len = n - 1  # first call: the prompt plus the first sampled token
            if self.last is not None:
                pos, src, draft = self.last
                got = ids[pos : pos + len(draft)]
                same = got[: len(draft)] == draft[: len(got)]
                accepted = int(np.argmin(same)) if not same.all() else len(got)
                self.size = DRAFT_TOKENS if accepted == len(draft) else SHORT_DRAFT
                self.cursor = src + accepted
            source = ids[: self.prompt_len]
            draft = np.array([], dtype=np.intc)
            for size in (3, 2, 1):
                if n <= size or len(source) <= size:
                    continue
                windows = np.lib.stride_tricks.sliding_window_view(source[:-1], size)
                hits = np.nonzero(np.all(windows == ids[n - size :], axis=1))[0] + size
                if len(hits):
                    # Near the cursor when we know where we are; else the most recent occurrence.
                    start = int(hits[np.argmin(np.abs(hits - self.cursor))] if self.cursor is not None else hits[-1])
                    draft = source[start : start + self.size].astype(np.intc)
                    break
            self.last = (n, start, draft) if len(draft) else None
            return draft

    class SparseLogitsLlama(llama_cpp.Llama):
        """A Llama whose eval asks llama.cpp for logits of the last ``want_logits`` tokens only."""

        want_logits = 1

        @staticmethod
        def new_lookup() -> RecentLookup:
            return RecentLookup()

        def eval(self, tokens):
            self._ctx.kv_cache_seq_rm(-1, self.n_tokens, -1)
            total = len(tokens)
            want = (DRAFT_TOKENS + 1) if self.draft_model is not None else self.want_logits
            for i in range(0, total, self.n_batch):
                batch = tokens[i : min(total, i + self.n_batch)]
                n_past = self.n_tokens
                self._batch.set_batch(batch=batch, n_past=n_past, logits_all=False)
                for j in range(len(batch)):
                    if i + j >= total - want:
                        self._batch.batch.logits[j] = True
                self._ctx.decode(self._batch)
                self.input_ids[n_past : n_past + len(batch)] = batch
                self.n_tokens += len(batch)
                self._requires_eval = False

    return SparseLogitsLlama


class LlamaCppModel(Model):
    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        n_batch: int = 512,
        prefix_cache: Path | None = None,
    ):
        self.path = Path(path)
        self.name = name or self.path.stem
        self.n_ctx = n_ctx
        if not self.path.is_file():
            raise ModelError(f"model file {self.path} does not exist")
        cls = _llama_class()
        threads = n_threads or os.cpu_count() or 2
        try:
            self.llm = cls(
                model_path=str(self.path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=n_batch,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"cannot load {self.path}: {exc}; the file may be corrupted or not a GGUF model") from None
        self.lock = threading.RLock()
        self.prefix_cache: PrefixCache | None = None
        self.last_prefix = "none"
        self._prefix_formatter = None
        template = (getattr(self.llm, "metadata", None) or {}).get("tokenizer.chat_template")
        if prefix_cache is not None and template:
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            st = self.path.stat()
            model_id = f"{self.path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{n_ctx}|{llama_cpp.__version__}"
            self.prefix_cache = PrefixCache(prefix_cache, model_id)
            eos, bos = self.llm.token_eos(), self.llm.token_bos()
            self._prefix_formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=self.llm._model.token_get_text(eos) if eos != -1 else "",
                bos_token=self.llm._model.token_get_text(bos) if bos != -1 else "",
                add_generation_prompt=False,
            )

    def info(self) -> dict[str, Any]:
        meta = getattr(self.llm, "metadata", {}) or {}
        return {
            "name": self.name,
            "backend": "llama.cpp",
            "path": str(self.path),
            "n_ctx": self.n_ctx,
            "architecture": meta.get("general.architecture"),
            "model_name": meta.get("general.name"),
            "size_bytes": self.path.stat().st_size,
        }

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _check_fits(self, messages: list[Message], params: GenParams) -> None:
        prompt = sum(self.count_tokens(m.content) + 4 for m in messages)
        if prompt + params.max_tokens > self.n_ctx:
            raise InputError(
                f"prompt ({prompt} tokens) plus max_tokens ({params.max_tokens}) exceeds the context window "
                f"of {self.n_ctx}; shorten the input or raise n_ctx"
            )

    def stream(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]:
        self._check_fits(messages, params)
        kwargs: dict[str, Any] = dict(
            messages=[m.model_dump() for m in messages],
            stream=True,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            top_k=params.top_k,
            repeat_penalty=params.repeat_penalty,
            stop=params.stop or None,
            seed=params.seed,
        )
        if params.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": params.json_schema}
        with self.lock:
            self._warm_prefix(messages)
            self.llm.draft_model = self.llm.new_lookup() if params.speculative else None
            produced: list[str] = []
            finish: str | None = None
            try:
                for part in self.llm.create_chat_completion(**kwargs):
                    choice = part["choices"][0]
                    text = choice["delta"].get("content") or ""
                    if text:
                        produced.append(text)
                        yield Chunk(text=text)
                    finish = choice.get("finish_reason") or finish
            except (RuntimeError, ValueError) as exc:
                raise ModelError(f"model {self.name} failed while generating: {exc}") from None
            finally:
                self.llm.draft_model = None
            completion_tokens = self.count_tokens("".join(produced)) if produced else 0
            usage = Usage(
                prompt_tokens=max(self.llm.n_tokens - completion_tokens, 0), completion_tokens=completion_tokens
            )
            yield Chunk(finish_reason=finish or "stop", usage=usage)

    def stream_text(self, prompt: str, params: GenParams) -> Iterator[Chunk]:
        """Raw completion of ``prompt``: only the tokens past the prefix held in the KV cache are evaluated."""
        if params.json_schema is not None:
            raise InputError("raw text completion cannot follow a JSON schema; use json() with chat messages")
        tokens = self.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
        if not tokens:
            raise InputError("nothing to continue: the text is empty")
        if len(tokens) + params.max_tokens > self.n_ctx:
            raise InputError(
                f"text ({len(tokens)} tokens) plus max_tokens ({params.max_tokens}) exceeds the context window "
                f"of {self.n_ctx}; shorten the input or raise n_ctx"
            )
        return self._raw_stream(tokens, params)

    def _raw_stream(self, tokens: list[int], params: GenParams) -> Iterator[Chunk]:
        import codecs

        import llama_cpp
        import numpy as np

        llm = self.llm
        rng = np.random.default_rng(params.seed)
        stops = [s for s in params.stop if s]
        with self.lock:
            banned = self._markup_tokens()
            llm.draft_model = None
            held = np.asarray(llm.input_ids[: min(llm.n_tokens, len(tokens) - 1)])
            differ = np.nonzero(held != np.asarray(tokens[: len(held)]))[0]
            keep = int(differ[0]) if len(differ) else len(held)  # the last prompt token is always re-evaluated
            llm.n_tokens = keep
            llm.want_logits = 1
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            history = list(tokens[-64:])
            produced, emitted, generated, finish = "", 0, 0, "length"
            try:
                llm.eval(tokens[keep:])
                for step in range(params.max_tokens):
                    logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
                    token = _pick_token(logits, params, rng, history[-64:], banned)
                    if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
                        finish = "stop"
                        break
                    generated += 1
                    history.append(token)
                    produced += decoder.decode(llm.detokenize([token]))
                    hits = [i for i in (produced.find(s, max(emitted - len(s), 0)) for s in stops) if i >= 0]
                    if hits:
                        produced, finish = produced[: min(hits)], "stop"
                        break
                    # Hold back a tail that could still become a stop string.
                    held_back = max((k for s in stops for k in range(1, len(s)) if produced.endswith(s[:k])), default=0)
                    if len(produced) - held_back > emitted:
                        yield Chunk(text=produced[emitted : len(produced) - held_back])
                        emitted = len(produced) - held_back
                    if step + 1 < params.max_tokens:
                        llm.eval([token])
            except (RuntimeError, ValueError) as exc:
                raise ModelError(f"model {self.name} failed while generating: {exc}") from None
            if finish == "length":
                produced += decoder.decode(b"", final=True)
            if len(produced) > emitted:
                yield Chunk(text=produced[emitted:])
            usage = Usage(prompt_tokens=len(tokens), completion_tokens=generated, cached_tokens=keep)
            yield Chunk(finish_reason=finish, usage=usage)

    def _markup_tokens(self):
        """Control and markup tokens (``<start_of_image>``, ``<|fim_prefix|>``…) that raw text never contains."""
        banned = getattr(self, "_banned", None)
        if banned is None:
            import llama_cpp
            import numpy as np

            vocab = self.llm._model.vocab
            ids = []
            for i in range(self.llm.n_vocab()):
                attr = llama_cpp.llama_vocab_get_attr(vocab, i)
                # unknown | unused | control, or a user-defined token that looks like markup (not "\n\n")
                markup = attr & 16 and re.fullmatch(r"<[^\s<>]+>|\[[^\s\[\]]+\]", self.llm._model.token_get_text(i))
                if (attr & 11 or markup) and not llama_cpp.llama_vocab_is_eog(vocab, i):
                    ids.append(i)
            banned = self._banned = np.array(ids, dtype=np.int64)
        return banned

    def _warm_prefix(self, messages: list[Message]) -> None:
        """Load (or compute and save) the KV state of every message but the last from the disk cache."""
        if self.prefix_cache is None or self._prefix_formatter is None or len(messages) < 2:
            return
        try:
            result = self._prefix_formatter(messages=[m.model_dump() for m in messages[:-1]])
        except Exception:  # a template that cannot render a prefix: just skip the cache
            return
        tokens = self.llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
        self.last_prefix = self.prefix_cache.warm(self.llm, tokens)

    def score(self, context: str, continuation: str) -> Score:
        import numpy as np

        with self.lock:
            ctx_tokens = self.llm.tokenize(context.encode("utf-8"), add_bos=False, special=False)
            joint = self.llm.tokenize((context + continuation).encode("utf-8"), add_bos=False, special=False)
            shared = 0
            for a, b in zip(ctx_tokens, joint, strict=False):
                if a != b:
                    break
                shared += 1
            shared = max(shared, 1)
            cont = joint[shared:]
            if not cont:
                return Score(logprob=0.0, tokens=0)
            if len(joint) > self.n_ctx:
                raise ModelError(f"text to score is longer than the context window ({self.n_ctx} tokens)")
            tail = [joint[shared - 1], *cont]
            if len(tail) > self.llm.n_batch:
                raise InputError(f"continuation too long to score ({len(cont)} tokens; at most {self.llm.n_batch - 1})")
            # Keep the KV of whatever the model already holds in common with this context (scoring several
            # continuations of one context evaluates the context once); eval() drops the rest.
            head = joint[: shared - 1]
            held = list(self.llm.input_ids[: self.llm.n_tokens])
            keep = 0
            for a, b in zip(held, head, strict=False):
                if a != b:
                    break
                keep += 1
            self.llm.n_tokens = keep
            self.llm.want_logits = 1
            if len(head) > keep:
                self.llm.eval(head[keep:])
            self.llm.want_logits = len(tail)
            try:
                self.llm.eval(tail)
            finally:
                self.llm.want_logits = 1
            logits = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(len(tail), self.llm.n_vocab()))
            total = 0.0
            for row, token in zip(logits[:-1], cont, strict=True):
                peak = float(row.max())
                total += float(row[token]) - peak - math.log(float(np.exp(row - peak).sum()))
            return Score(logprob=total, tokens=len(cont))

    def close(self) -> None:
        close = getattr(self.llm, "close", None)
        if close:
            close()


def _pick_token(logits, params: GenParams, rng, recent: list[int], banned=None) -> int:
    """Greedy at temperature 0, else top-k / top-p sampling; recent tokens get llama.cpp's repeat penalty."""
    import numpy as np

    scores = np.array(logits, dtype=np.float32)
    if banned is not None and len(banned):
        scores[banned] = -np.inf
    if params.repeat_penalty != 1.0 and recent:
        ids = np.unique(np.asarray(recent))
        vals = scores[ids]
        scores[ids] = np.where(vals > 0, vals / params.repeat_penalty, vals * params.repeat_penalty)
    if params.temperature <= 0 or params.top_k == 1:
        return int(np.argmax(scores))
    k = params.top_k if 0 < params.top_k < len(scores) else len(scores)
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top])]
    probs = np.exp((scores[top] - scores[top[0]]) / params.temperature)
    probs /= probs.sum()
    if params.top_p < 1.0:
        cut = int(np.searchsorted(np.cumsum(probs), params.top_p)) + 1
        top, probs = top[:cut], probs[:cut] / probs[:cut].sum()
    return int(rng.choice(top, p=probs))
