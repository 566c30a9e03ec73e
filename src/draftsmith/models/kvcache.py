"""A disk cache of llama.cpp KV states for prompt prefixes (system prompt + few-shot turns).

Every process would otherwise re-evaluate a template's fixed prefix before the user's text; on two
CPU cores that is several seconds. The state of the prefix is saved once per (model, context size,
llama.cpp version, prefix tokens) as plain files (token ids as .npy without pickle, the state as raw
bytes behind their sha256) and loaded in milliseconds by later runs. The cache keeps the most recently used files only.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from pathlib import Path

import numpy as np

MAX_FILES = 24


class PrefixCache:
    def __init__(self, directory: Path, model_id: str):
        self.directory = directory
        self.model_id = model_id

    def _key(self, tokens: list[int]) -> str:
        digest = hashlib.sha256(self.model_id.encode())
        digest.update(np.asarray(tokens, dtype=np.int32).tobytes())
        return digest.hexdigest()[:32]

    def warm(self, llm, tokens: list[int]) -> str:
        """Make ``llm`` hold the KV state of ``tokens``: already there, loaded from disk, or computed and saved.

        Returns which of the three happened ("hit-memory", "hit-disk", "miss").
        """
        import llama_cpp

        n = len(tokens)
        if n == 0 or n >= llm.n_ctx():
            return "skip"
        if llm.n_tokens >= n and list(llm.input_ids[:n]) == tokens:
            return "hit-memory"
        key = self._key(tokens)
        ids_path, kv_path = self.directory / f"{key}.ids.npy", self.directory / f"{key}.kv"
        if ids_path.exists() and kv_path.exists():
            try:
                saved = np.load(ids_path, allow_pickle=False)
                blob = kv_path.read_bytes()
                digest, data = blob[:32], blob[32:]
                if saved.tolist() == tokens and hashlib.sha256(data).digest() == digest:
                    buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
                    llm.reset()
                    if llama_cpp.llama_state_set_data(llm._ctx.ctx, buf, len(data)) == len(data):
                        llm.input_ids[:n] = saved
                        llm.n_tokens = n
                        llm._requires_eval = True
                        os.utime(kv_path)
                        return "hit-disk"
            except (OSError, ValueError):
                pass
            llm.reset()  # a bad or stale file: recompute below
        llm.reset()
        llm.eval(tokens)
        self._save(llm, ids_path, kv_path, tokens)
        return "miss"

    def _save(self, llm, ids_path: Path, kv_path: Path, tokens: list[int]) -> None:
        import llama_cpp

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            size = llama_cpp.llama_state_get_size(llm._ctx.ctx)
            buf = (ctypes.c_uint8 * int(size))()
            used = llama_cpp.llama_state_get_data(llm._ctx.ctx, buf, size)
            tmp = kv_path.with_suffix(f".{os.getpid()}.tmp")
            data = bytes(buf)[: int(used)]
            tmp.write_bytes(hashlib.sha256(data).digest() + data)  # checked before llama.cpp reads it
            np.save(ids_path, np.asarray(tokens, dtype=np.int32), allow_pickle=False)
            os.replace(tmp, kv_path)
            self._prune()
        except OSError:
            pass  # a cache that cannot be written only costs time

    def _prune(self) -> None:
        files = sorted(self.directory.glob("*.kv"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[MAX_FILES:]:
            old.unlink(missing_ok=True)
            old.with_name(old.name.replace(".kv", ".ids.npy")).unlink(missing_ok=True)
