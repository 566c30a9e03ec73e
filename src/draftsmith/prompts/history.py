"""Versions of user template files: every version written is kept, so changes can be listed, diffed and reverted.

A template's versions live beside the user templates, in ``<data>/templates/.history/NAME/0001.md``,
``0002.md``, … with an ``index.json`` (number, time, note, origin, sha256). The live file stays
``<data>/templates/NAME.md``, a plain template file the registry loads as before (it only reads ``*.md`` in the
folder itself, so the history is invisible to it). Version 1 is the text the template had before the first
version was saved (the built-in file, or the user's own); a live file edited by hand since the last saved
version is kept as a version of its own before the next one is written, so no text is ever lost.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import threading
import time
from pathlib import Path

from pydantic import BaseModel

from draftsmith.errors import TemplateError
from draftsmith.files import write_atomic
from draftsmith.prompts.registry import get_template, user_template_dir
from draftsmith.prompts.template import BUILTIN_DIR, SUFFIX, parse_template

_LOCK = threading.Lock()


class Version(BaseModel):
    version: int
    created_at: float
    note: str = ""
    origin: str = "manual"  # builtin, user, hand-edit, optimize, revert, manual
    sha256: str


def history_dir(name: str) -> Path:
    return user_template_dir() / ".history" / name


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)


def _index(name: str) -> list[Version]:
    path = history_dir(name) / "index.json"
    if not path.exists():
        return []
    try:
        return [Version(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))]
    except (ValueError, TypeError) as exc:
        raise TemplateError(f"{path} is damaged ({exc}); move it away to start the history anew") from None


def _append(name: str, text: str, note: str, origin: str) -> Version:
    versions = _index(name)
    entry = Version(
        version=(versions[-1].version + 1) if versions else 1,
        created_at=time.time(),
        note=note,
        origin=origin,
        sha256=_sha(text),
    )
    folder = history_dir(name)
    _write_atomic(folder / f"{entry.version:04d}{SUFFIX}", text)
    _write_atomic(folder / "index.json", json.dumps([v.model_dump() for v in [*versions, entry]], indent=1) + "\n")
    return entry


def _live_text(name: str) -> tuple[str, str]:
    """The text the registry uses for ``name`` now, and where it comes from (user or builtin)."""
    user = user_template_dir() / f"{name}{SUFFIX}"
    if user.exists():
        return user.read_text(encoding="utf-8"), "user"
    builtin = BUILTIN_DIR / f"{name}{SUFFIX}"
    if builtin.exists():
        return builtin.read_text(encoding="utf-8"), "builtin"
    get_template(name)  # raises the registry's "unknown template" message with suggestions
    raise TemplateError(f"template {name!r} has no file to version")


def save_version(name: str, text: str, *, note: str = "", origin: str = "manual") -> Version:
    """Write ``text`` as the new live user file of ``name`` and keep it as the next version."""
    path = user_template_dir() / f"{name}{SUFFIX}"
    template = parse_template(text, path=path)  # refuse to write what would not load
    if template.name != name:
        raise TemplateError(f"the new text is named {template.name!r}, not {name!r}")
    with _LOCK:
        live, source = _live_text(name)
        versions = _index(name)
        if not versions:
            _append(name, live, "before the first saved version", source)
        elif versions[-1].sha256 != _sha(live):
            _append(name, live, "edited by hand since the last version", "hand-edit")
        versions = _index(name)
        if versions[-1].sha256 == _sha(text) and path.exists():
            return versions[-1]  # nothing changed
        entry = _append(name, text, note, origin)
        _write_atomic(path, text)
    return entry


def history(name: str) -> list[Version]:
    """The saved versions of ``name``, oldest first (empty when none was ever saved)."""
    _live_text(name)
    return _index(name)


def version_text(name: str, version: int | str) -> str:
    """A saved version's text; ``current`` is the live text, ``builtin`` the packaged file."""
    if version == "current":
        return _live_text(name)[0]
    if version == "builtin":
        path = BUILTIN_DIR / f"{name}{SUFFIX}"
        if not path.exists():
            raise TemplateError(f"{name!r} is not a built-in template")
        return path.read_text(encoding="utf-8")
    number = int(version)
    path = history_dir(name) / f"{number:04d}{SUFFIX}"
    if not path.exists():
        known = ", ".join(str(v.version) for v in _index(name)) or "none yet"
        raise TemplateError(f"template {name!r} has no version {number} (versions: {known})")
    return path.read_text(encoding="utf-8")


def diff(name: str, old: int | str | None = None, new: int | str | None = None) -> str:
    """Unified diff between two versions (default: the previous saved version and the live text)."""
    versions = _index(name)
    if old is None:
        old = versions[-2].version if len(versions) >= 2 else "builtin" if versions else "current"
    new = "current" if new is None else new
    a, b = version_text(name, old), version_text(name, new)
    label = f"{name}{SUFFIX}"
    lines = difflib.unified_diff(
        a.splitlines(keepends=True), b.splitlines(keepends=True), f"{label}@{old}", f"{label}@{new}"
    )
    return "".join(lines)


def revert(name: str, version: int | str) -> Version:
    """Make an earlier version live again, as a new version (the history keeps everything)."""
    text = version_text(name, version)
    return save_version(name, text, note=f"revert to version {version}", origin="revert")


def describe_version(name: str) -> str:
    """A short fingerprint of the live template: its origin, saved version number if any, and hash."""
    text, source = _live_text(name)
    sha = _sha(text)
    numbered = [v.version for v in _index(name) if v.sha256 == sha]
    suffix = f" v{numbered[-1]}" if numbered and source == "user" else ""
    return f"{source}{suffix}:{sha[:12]}"
