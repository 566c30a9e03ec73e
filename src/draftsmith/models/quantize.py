"""Quantise a GGUF with llama.cpp's own quantizer (``llama_model_quantize``), into the user's models folder.

The quantizer runs in a child Python process (llama-cpp-python, no external binary): llama.cpp aborts the
whole process on some malformed inputs, and a child can be stopped at Ctrl-C. The child reports each tensor it
writes; the output goes to a hidden temp file in the models folder and is renamed into place only when
llama.cpp returned 0, so a failure or an interruption never leaves a half file that ``--model NAME`` would open.

Each result is registered as ``<data dir>/models/NAME.gguf`` (``--model NAME`` opens it, like a pulled model)
with its lineage in ``NAME.json``: the source model and its type, the new type, when it was made. A fine-tune
merged into an F16 GGUF (``finetune export --merged``) is registered the same way, and what is quantised from it
names the fine-tune in its lineage.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from draftsmith.errors import InputError, ModelError
from draftsmith.models import catalog
from draftsmith.models.gguf_header import GGUFHeader, file_type_name, read_header

# name → (llama_ftype, nominal bits per weight of its base type, what it is for)
QUANT_TYPES: dict[str, tuple[int, float, str]] = {
    "f16": (1, 16.0, "16-bit floats: the unquantised reference (or a dequantised copy)"),
    "q8_0": (7, 8.5, "8-bit: practically lossless, half of F16"),
    "q6_k": (18, 6.5625, "6-bit k-quant: very close to F16"),
    "q5_k_m": (17, 5.5, "5-bit k-quant mix: small loss"),
    "q4_k_m": (15, 4.5, "4-bit k-quant mix: the usual size/quality trade-off"),
    "q4_0": (2, 4.5, "legacy 4-bit: often the fastest on CPU (llama.cpp repacks it), a little lossier"),
    "q3_k_m": (12, 3.4375, "3-bit k-quant mix: smallest, clearly lossy"),
}
UNQUANTISED = {0, 1, 30}  # ggml tensor types F32, F16, BF16
_K_QUANT_BLOCK = 256
_Q6_K_BITS, _Q8_0_BITS = 6.5625, 8.5
# llama.cpp's stand-in when a row is not a multiple of 256: Q3_K → IQ4_NL, Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0
_FALLBACK_BITS = {3.4375: 4.5, 4.5: 5.5, 5.5: 6.0, _Q6_K_BITS: _Q8_0_BITS}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TYPE_SUFFIX = re.compile(r"[-_.](?:f16|bf16|f32|q\d(?:_[0-9a-z]+)*)$", re.IGNORECASE)
_TENSOR_LINE = re.compile(r"^\[\s*(\d+)/\s*(\d+)\]\s+(\S+)")
REQUANT_COST = (
    "quantising an already quantised model compounds the loss: the result carries the source's quantisation "
    "error plus the new one; quantise from an F16/BF16/F32 file when you have one"
)
DEQUANT_COST = (
    "dequantising to f16 does not restore quality: the file doubles or triples in size but keeps the source's "
    "quantisation error"
)

Progress = Callable[[int, int, str], None]  # (tensors done, tensors total, tensor name)


class QuantLineage(BaseModel):
    """Where a quantised model came from (``NAME.json`` next to ``NAME.gguf``)."""

    model_config = ConfigDict(extra="ignore")

    name: str
    type: str
    source: str
    source_path: str
    source_type: str | None = None
    created: str
    requantized: bool = False
    size_bytes: int | None = None  # of the file it describes: a sidecar left from an older file is ignored
    tuned: str | None = None  # the fine-tune (LoRA) merged into this model or into its source
    merged: bool = False  # made by merging ``tuned`` into ``source`` (finetune export --merged)

    def line(self) -> str:
        if self.merged:
            base = f"{self.source} ({self.source_type or '?'})"
            return f"{base} → LoRA {self.tuned} → merged {self.type} · {self.created[:10]}"
        again = " (dequantised)" if self.type == "f16" else " (requantised)"
        made = f"{self.source_type or '?'} → {self.type}" + (again if self.requantized else "")
        tuned = f" (fine-tune {self.tuned})" if self.tuned else ""
        return f"{made} from {self.source}{tuned} · {self.created[:10]}"


class QuantizeResult(BaseModel):
    name: str | None
    path: str
    type: str
    source: str
    source_path: str
    source_type: str | None
    size_bytes: int
    estimated_bytes: int
    seconds: float
    requantized: bool
    warnings: list[str] = []


def check_type(qtype: str) -> str:
    key = qtype.strip().lower()
    if key not in QUANT_TYPES:
        raise InputError(f"unknown quantisation type {qtype!r}; use one of: {', '.join(QUANT_TYPES)}")
    return key


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputError(f"invalid model name {name!r}: use letters, digits, '.', '_' or '-' (up to 64)")
    if catalog.bundled(name):
        raise InputError(f"{name!r} is a bundled model's name; choose another --name")
    from draftsmith.finetune.registry import find

    if find(name) is not None:
        raise InputError(f"{name!r} is a tuned model's name; choose another --name")
    return name


def source_type(header: GGUFHeader) -> str:
    """The GGUF's type: its ``general.file_type`` or, without one, the most common type of its matrices
    (of its quantised matrices, when it has any)."""
    named = file_type_name(header.file_type)
    if named:
        return named
    matrices = [t for t in header.tensors if len(t.shape) >= 2]
    kinds = [t.type_name for t in matrices if t.type not in UNQUANTISED] or [t.type_name for t in matrices]
    return max(sorted(set(kinds)), key=kinds.count) if kinds else "unknown"


def is_quantized(header: GGUFHeader) -> bool:
    return any(t.type not in UNQUANTISED for t in header.tensors)


def estimate_bytes(header: GGUFHeader, qtype: str) -> int:
    """An upper-leaning estimate of the output size, from the source's tensor shapes and the type's bits.

    1-D tensors (norms, biases) stay as they are; below Q8_0 the output matrix (or tied embeddings) gets at
    least Q6_K, as llama.cpp gives it, and so do ``attn_v``/``ffn_down`` of the _M mixes (llama.cpp upgrades
    about half of them); a k-quant row length that is not a multiple of 256 falls back to a legacy type of a
    few more bits, as llama.cpp does.
    """
    bits = QUANT_TYPES[qtype][1]
    k_quant = "_k" in qtype
    has_output = any(t.name == "output.weight" for t in header.tensors)
    total = header.data_offset + 64 * len(header.tensors)  # header, alignment padding
    for t in header.tensors:
        if len(t.shape) < 2:  # norms and biases are never quantised
            total += t.nbytes()
            continue
        b = bits
        if bits < _Q8_0_BITS:
            output = t.name == "output.weight" or (not has_output and t.name == "token_embd.weight")
            if output or (k_quant and re.search(r"attn_v\.|ffn_down\.", t.name)):
                b = max(b, _Q6_K_BITS)
            if (output or k_quant) and t.shape[0] % _K_QUANT_BLOCK:
                b = _FALLBACK_BITS.get(b, _Q8_0_BITS)
        total += int(t.elements * b / 8)
    return total


def check_disk(folder: Path, needed: int, what: str = "the quantised model") -> None:
    free = shutil.disk_usage(folder).free
    margin = needed // 20 + (16 << 20)
    if free < needed + margin:
        hint = " or choose a smaller type" if what == "the quantised model" else " or write it elsewhere (--out)"
        raise InputError(
            f"not enough disk space in {folder}: {what} needs about {needed / 1e6:,.0f} MB "
            f"(plus {margin / 1e6:,.0f} MB margin) but only {free / 1e6:,.0f} MB are free; free some space{hint}"
        )


def check_source(
    source: Path, qtype: str, allow_requantize: bool, label: str | None = None
) -> tuple[GGUFHeader, list[str]]:
    """The source's header (a whole GGUF, or InputError) and the warnings its quantisation deserves."""
    header = read_header(source)
    if not is_quantized(header):
        return header, []
    cost = DEQUANT_COST if qtype == "f16" else REQUANT_COST
    if not allow_requantize:
        action = "dequantising it to f16" if qtype == "f16" else f"requantising it to {qtype}"
        raise InputError(
            f"{label or source.name} is already quantised ({source_type(header)}); {action} needs "
            f"--allow-requantize. {cost[0].upper()}{cost[1:]}"
        )
    return header, [cost]


def quantize_file(
    source: Path,
    output: Path,
    qtype: str,
    *,
    allow_requantize: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
) -> QuantizeResult:
    """Quantise the GGUF ``source`` to ``output`` (written atomically; an existing file is replaced)."""
    qtype = check_type(qtype)
    header, warnings = check_source(source, qtype, allow_requantize)
    stype, requant = source_type(header), is_quantized(header)
    estimate = estimate_bytes(header, qtype)
    output.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(output)
    check_disk(output.parent, estimate)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    started = time.perf_counter()
    try:
        _run_worker(source, tmp, qtype, requant, threads or os.cpu_count() or 1, len(header.tensors), progress)
        read_header(tmp)  # a whole GGUF, or the temp file goes
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return QuantizeResult(
        name=None,
        path=str(output),
        type=qtype,
        source=str(source),
        source_path=str(source),
        source_type=stype,
        size_bytes=output.stat().st_size,
        estimated_bytes=estimate,
        seconds=round(time.perf_counter() - started, 2),
        requantized=requant,
        warnings=warnings,
    )


def quantize(
    source: str,
    qtype: str,
    *,
    name: str | None = None,
    allow_requantize: bool = False,
    force: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
) -> QuantizeResult:
    """Quantise a model (bundled name, local model name or GGUF path) into the models folder as ``name``."""
    qtype = check_type(qtype)
    path = resolve_source(source)
    check_source(path, qtype, allow_requantize, label=source)  # before the name: a bad source fails first
    name = check_name(name or default_name(source, path, qtype))
    target = catalog.local_models_dir() / f"{name}.gguf"
    if target.exists() and not force:
        raise InputError(f"a model named {name!r} exists already ({target}); choose another --name or pass --force")
    result = quantize_file(path, target, qtype, allow_requantize=allow_requantize, threads=threads, progress=progress)
    lineage = QuantLineage(
        name=name,
        type=qtype,
        source=source,
        source_path=str(path.resolve()),
        source_type=result.source_type,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        requantized=result.requantized,
        size_bytes=result.size_bytes,
        tuned=fine_tune_of(path),
    )
    sidecar = target.with_suffix(".json")
    tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
    tmp.write_text(lineage.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, sidecar)
    return result.model_copy(update={"name": name, "source": source})


def resolve_source(source: str) -> Path:
    """The GGUF file a source names: a path, a local model, or a bundled model (assembled on first use)."""
    path = Path(source).expanduser()
    if path.is_file():
        return path
    if not catalog.bundled(source) and source not in catalog.local_models():
        from draftsmith.finetune.registry import find

        tuned = find(source.removeprefix("tuned:"))
        if tuned is not None and tuned.merged and Path(tuned.merged).is_file():
            return Path(tuned.merged)  # its merged F16 GGUF (finetune export --merged)
        if tuned is not None:
            raise InputError(
                f"{tuned.name} is a LoRA adapter on {tuned.base}, not a whole model; quantise its base "
                "(the adapter is applied at run time and stays a few MB), or merge it into one F16 model "
                f"with draftsmith finetune export {tuned.name} --merged and quantise that"
            )
        if path.suffix.lower() == ".gguf" or os.sep in source:
            raise InputError(f"model file {path} does not exist")
    from draftsmith.models.loader import resolve_gguf

    return resolve_gguf(source)


def fine_tune_of(path: Path) -> str | None:
    """The fine-tune merged into the GGUF at ``path`` (or into its source), when draftsmith made it: from its
    sidecar in the models folder, or from the tuned model that recorded it as its merged export."""
    from draftsmith.finetune.registry import list_tuned

    path = path.resolve()
    folder = catalog.local_models_dir()
    if folder.is_dir() and path.parent == folder.resolve():
        made = lineage(path.stem)
        if made is not None and made.tuned:
            return made.tuned
    try:
        tuned_models = list_tuned()
    except ModelError:  # a damaged model.json: the lineage goes without the fine-tune, the quantisation goes on
        return None
    for tuned in tuned_models:
        if tuned.merged and Path(tuned.merged).resolve() == path:
            return tuned.name
    return None


def default_name(source: str, path: Path, qtype: str) -> str:
    model = catalog.bundled(source)
    stem = model.name if model else path.stem
    return f"{_TYPE_SUFFIX.sub('', stem) or stem}-{qtype}"


def lineage(name: str) -> QuantLineage | None:
    """The lineage of a model this module made, or None (pulled or dropped-in files have none)."""
    sidecar = catalog.local_models_dir() / f"{name}.json"
    try:
        made = QuantLineage.model_validate_json(sidecar.read_text(encoding="utf-8"))
        size = sidecar.with_suffix(".gguf").stat().st_size
    except (OSError, ValueError):
        return None
    return made if made.size_bytes in (None, size) else None


def file_quant_type(path: Path) -> str | None:
    """A GGUF's quantisation type from its header (cheap), or None when it cannot be read."""
    try:
        header = read_header(path, tensors=False, check_size=False)
    except InputError:
        return None
    return file_type_name(header.file_type)


def _remove_stale_temps(output: Path) -> None:
    """Temp files left by a quantisation that was killed (its process is gone)."""
    for stale in output.parent.glob(f".{output.name}.*.tmp"):
        pid = stale.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_worker(
    source: Path, tmp: Path, qtype: str, requant: bool, threads: int, total: int, progress: Progress | None
) -> None:
    ftype = QUANT_TYPES[qtype][0]
    code = "from draftsmith.models.quantize import _worker; _worker()"
    args = [sys.executable, "-c", code, str(source), str(tmp), str(ftype), str(threads), "1" if requant else "0"]
    if progress:
        progress(0, total, "loading")
    log: list[str] = []
    rc: int | None = None
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "T" and progress:
                done, n, tensor = rest.split(" ", 2)
                progress(int(done), int(n), tensor)
            elif kind == "R":
                rc = int(rest)
            elif line.strip():
                log.append(rest if kind == "L" else line.rstrip())
                del log[:-40]
        proc.wait()
    finally:
        if proc.poll() is None:  # Ctrl-C or an error in the progress display: stop the quantizer first
            proc.kill()
            proc.wait()
    if rc is None or rc != 0 or proc.returncode != 0:
        raise ModelError(f"llama.cpp could not quantise {source.name} to {qtype}: {_failure(log, rc, proc.returncode)}")


def _failure(log: list[str], rc: int | None, exit_code: int) -> str:
    hints = [line for line in log if re.search(r"error|failed|exception|assert|invalid|cannot|unable", line, re.I)]
    detail = " ".join((hints or log or ["no message"])[-1].split())
    if rc is None:
        return f"the quantizer stopped (exit {exit_code}): {detail}"
    return f"llama_model_quantize returned {rc}: {detail}"


def _worker() -> None:  # pragma: no cover - runs in the child process
    """Child: run llama_model_quantize, print ``T done total name`` per tensor, ``L line`` logs, ``R rc``."""
    import ctypes

    import llama_cpp

    source, output, ftype, threads, requant = sys.argv[1:6]
    pending = [""]

    def emit(line: str) -> None:
        m = _TENSOR_LINE.match(line.strip())
        sys.stdout.write(f"T {m[1]} {m[2]} {m[3]}\n" if m else f"L {line}\n")
        sys.stdout.flush()

    @llama_cpp.llama_log_callback
    def on_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        pending[0] += text.decode("utf-8", "replace")
        *lines, pending[0] = pending[0].split("\n")
        for line in lines:
            emit(line)

    llama_cpp.llama_log_set(on_log, ctypes.c_void_p(0))
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = int(ftype)
    params.nthread = int(threads)
    params.allow_requantize = requant == "1"
    try:
        rc = llama_cpp.llama_model_quantize(source.encode(), output.encode(), ctypes.byref(params))
    except Exception as exc:  # reported to the parent as one line
        emit(f"error: {type(exc).__name__}: {exc}")
        rc = -1
    if pending[0]:
        emit(pending[0])
    sys.stdout.write(f"R {rc}\n")
    sys.stdout.flush()
