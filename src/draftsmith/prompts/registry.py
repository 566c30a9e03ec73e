"""Finding templates: built-ins shipped with the package, overridden by the user's own files."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from draftsmith import config
from draftsmith.errors import TemplateError
from draftsmith.prompts.template import _NAME, BUILTIN_DIR, SUFFIX, Template, parse_template

_cache: dict[tuple[str, float], Template] = {}


def user_template_dir() -> Path:
    return config.data_dir() / "templates"


def _load(path: Path, source: str) -> Template:
    key = (str(path), path.stat().st_mtime)
    if key not in _cache:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise TemplateError(f"{path}: template files must be UTF-8 text") from None
        template = parse_template(text, source=source, path=path)
        if template.name != path.stem:
            raise TemplateError(f"{path}: name {template.name!r} must match the file name {path.stem!r}")
        _cache[key] = template
    return _cache[key]


def _files() -> dict[str, tuple[Path, str]]:
    found: dict[str, tuple[Path, str]] = {}
    for directory, source in ((BUILTIN_DIR, "builtin"), (user_template_dir(), "user")):
        if directory.is_dir():
            for path in sorted(directory.glob(f"*{SUFFIX}")):
                found[path.stem] = (path, source)
    return found


def list_templates() -> list[Template]:
    """Every available template, user files first taking the place of built-ins of the same name.

    A broken user template is reported when it is used, not here, so one bad file does not hide the rest.
    """
    out = []
    for _, (path, source) in sorted(_files().items()):
        try:
            out.append(_load(path, source))
        except TemplateError:
            if source == "builtin":
                raise
    return out


def get_template(name: str) -> Template:
    files = _files()
    if name not in files:
        close = difflib.get_close_matches(name, files, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else " See 'draftsmith templates list'."
        raise TemplateError(f"unknown template {name!r}.{hint}")
    path, source = files[name]
    return _load(path, source)


def new_template(name: str, *, base: str | None = None, force: bool = False) -> Path:
    """Create a user template file, copied from ``base`` or from a small skeleton."""
    if not _NAME.fullmatch(name):
        raise TemplateError(
            f"template name {name[:80]!r} is not allowed: use 1-64 lowercase letters, digits, '-' or '_'"
        )
    directory = user_template_dir()
    path = directory / f"{name}{SUFFIX}"
    if path.exists() and not force:
        raise TemplateError(f"{path} already exists; edit it, or pass --force to replace it")
    if base:
        text = get_template(base).to_text().replace(f"name: {base}\n", f"name: {name}\n", 1)
    else:
        text = SKELETON.replace("NAME", name)
    parse_template(text, path=path)  # refuse to write something that would not load
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


SKELETON = """---
name: NAME
task: write
description: Describe what this template writes
category: custom
languages: [en, zh]
variables:
  topic:
    type: string
    description: what the piece is about
    required: true
output: text
length: 200
---
Write about {{ topic }} in {{ language }}, about {{ length }} words.
{% if style_guide %}Style: {{ style_guide }}{% endif %}
"""
