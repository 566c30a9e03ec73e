"""Style presets: data files with a description and rules that operations pass to the model, and examples that
style scores are measured against (``profile.py``).

Built-in presets live in ``style/presets/*.yaml``; the user's own are ``<data dir>/styles/NAME.yaml`` (same shape)
or ``NAME.json`` (a profile learned by ``draftsmith style learn``, see ``profile.py``). A user file replaces a
built-in of the same name.
"""

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
    language: str | None = Field(None, description="the language a learned style was learned in (presets: any)")

    def guide(self) -> str:
        """The text handed to the model: description, then the rules as a list."""
        rules = "".join(f"\n- {rule}" for rule in self.rules)
        return f"{self.description}{rules}"


def _dirs() -> list[Path]:
    return [PRESET_DIR, config.data_dir() / "styles"]


@cache
def _load(path: Path, mtime: float) -> StylePreset:
    if path.suffix == ".json":
        from draftsmith.style.store import read_learned

        profile = read_learned(path)
        return StylePreset(
            name=profile.name,
            description=profile.description,
            rules=profile.rules,
            examples=profile.exemplars,
            language=profile.language,
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return StylePreset.model_validate(data)
    except Exception as exc:
        raise InputError(f"style file {path} is invalid: {exc}") from None


def _files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    builtin, user = _dirs()
    if builtin.is_dir():
        for path in sorted(builtin.glob("*.yaml")):
            found[path.stem] = path
    if user.is_dir():
        for pattern in ("*.yaml", "*.json"):  # a learned profile wins over a user preset of the same name
            for path in sorted(user.glob(pattern)):
                found[path.stem] = path
    return found


def list_styles() -> list[str]:
    return sorted(_files())


def style_path(name: str) -> Path:
    """The file that defines style ``name``; unknown names raise InputError listing the known ones."""
    files = _files()
    if name not in files:
        close = difflib.get_close_matches(name, files, n=2)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise InputError(f"unknown style {name!r}{hint}; known styles: {', '.join(sorted(files))}")
    return files[name]


def style_kind(name: str) -> str:
    """'preset' (built in), 'user preset' (a YAML file of the user's) or 'learned' (a learned profile)."""
    path = style_path(name)
    if path.suffix == ".json":
        return "learned"
    return "preset" if path.parent == PRESET_DIR else "user preset"


def get_style(name: str) -> StylePreset:
    path = style_path(name)
    return _load(path, path.stat().st_mtime)
