"""Style presets: data files with a description and rules that operations pass to the model."""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from draftsmith import config
from draftsmith.errors import InputError

PRESET_DIR = Path(__file__).parent / "presets"


class StylePreset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str
    rules: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)

    def guide(self) -> str:
        """The text handed to the model: description, then the rules as a list."""
        rules = "".join(f"\n- {rule}" for rule in self.rules)
        return f"{self.description}{rules}"


def _dirs() -> list[Path]:
    return [PRESET_DIR, config.data_dir() / "styles"]


@cache
def _load(path: Path, mtime: float) -> StylePreset:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return StylePreset.model_validate(data)
    except Exception as exc:
        raise InputError(f"style file {path} is invalid: {exc}") from None


def _files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for directory in _dirs():
        if directory.is_dir():
            for path in sorted(directory.glob("*.yaml")):
                found[path.stem] = path
    return found


def list_styles() -> list[str]:
    return sorted(_files())


def get_style(name: str) -> StylePreset:
    files = _files()
    if name not in files:
        close = difflib.get_close_matches(name, files, n=2)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise InputError(f"unknown style {name!r}{hint}; known styles: {', '.join(sorted(files))}")
    path = files[name]
    return _load(path, path.stat().st_mtime)
