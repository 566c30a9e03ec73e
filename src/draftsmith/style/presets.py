"""Style presets: data files with a description and rules that operations pass to the model, and examples that
style scores are measured against (``profile.py``).

Built-in presets live in ``style/presets/*.yaml``; the user's own are ``<data dir>/styles/NAME.yaml`` (same shape)
or ``NAME.json`` (a profile learned by ``draftsmith style learn``, see ``profile.py``). A user file replaces a
built-in of the same name. A learned profile that is not a file (a server user's, kept in the store) is usable by
its name inside ``session_style(profile)``: it then acts as a learned style for this context only, ahead of files.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from draftsmith import config
from draftsmith.errors import InputError

if TYPE_CHECKING:
    from draftsmith.style.profile import StyleProfile

PRESET_DIR = Path(__file__).parent / "presets"
# name -> learned profile, for the current context only (one request's profile is invisible to every other)
_SESSION: ContextVar[dict[str, StyleProfile] | None] = ContextVar("draftsmith_session_styles", default=None)


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


@contextmanager
def session_style(profile: StyleProfile) -> Iterator[str]:
    """Make ``profile`` a learned style named ``profile.name`` for the operations run in this context (ahead of a
    file of that name); yields the name. Used for a server user's stored profile (``/api/rewrite``)."""
    token = _SESSION.set({**(_SESSION.get() or {}), profile.name: profile})
    try:
        yield profile.name
    finally:
        _SESSION.reset(token)


def session_profile(name: str) -> StyleProfile | None:
    """The learned profile ``session_style`` made usable under ``name`` in this context, if any."""
    return (_SESSION.get() or {}).get(name)


def _from_profile(profile: StyleProfile) -> StylePreset:
    return StylePreset(
        name=profile.name,
        description=profile.description,
        rules=profile.rules,
        examples=profile.exemplars,
        language=profile.language,
    )


@cache
def _load(path: Path, mtime: float) -> StylePreset:
    if path.suffix == ".json":
        from draftsmith.style.store import read_learned

        return _from_profile(read_learned(path))
    shape = (
        "a style file needs name, description, rules (a list) and examples (a list of at least 5 texts written "
        f"in the style), as in {PRESET_DIR / 'formal.yaml'}"
    )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception as exc:
        problem = " ".join(str(exc).split())[:200]
        raise InputError(f"style file {path} is not valid YAML ({problem}); {shape}") from None
    if data is None:
        raise InputError(f"style file {path} is empty; {shape}")
    try:
        return StylePreset.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors()[:5])
        raise InputError(f"style file {path} is invalid ({problems}); {shape}") from None


def _problem(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"])
    if error["type"] == "missing":
        return f"no {where}"
    if error["type"] == "extra_forbidden":
        return f"unknown field {where}"
    return f"{where or 'the file'}: {error['msg'].lower()}" if where else error["msg"].lower()


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
    if session_profile(name) is not None:
        return "learned"
    path = style_path(name)
    if path.suffix == ".json":
        return "learned"
    return "preset" if path.parent == PRESET_DIR else "user preset"


def get_style(name: str) -> StylePreset:
    profile = session_profile(name)
    if profile is not None:
        return _from_profile(profile)
    path = style_path(name)
    return _load(path, path.stat().st_mtime)
