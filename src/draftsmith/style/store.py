"""Where styles live and how a name becomes a profile.

Learned profiles are ``<data dir>/styles/NAME.json``; a preset's profile (built-in or the user's YAML) is computed
from its examples in the language asked for, once per file version.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from draftsmith import config
from draftsmith.errors import InputError
from draftsmith.files import write_atomic
from draftsmith.languages import LANGUAGES, detect_language
from draftsmith.style.profile import MIN_TEXTS, StyleProfile, learn, text_language

log = logging.getLogger("draftsmith.style")
_NAME = re.compile(r"^[^\W_][\w-]{0,63}$")


def styles_dir() -> Path:
    return config.data_dir() / "styles"


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise InputError(
            f"style name {name!r} must start with a letter or digit and hold only letters, digits, '-' or '_' "
            "(at most 64)"
        )
    return name


def save(profile: StyleProfile, *, force: bool = False) -> Path:
    """Write a learned profile to ``<data>/styles/NAME.json`` atomically; replacing a style of the user's needs
    ``force``, and built-in preset names are refused."""
    from draftsmith.style.presets import PRESET_DIR, list_styles

    check_name(profile.name)
    if (PRESET_DIR / f"{profile.name}.yaml").exists():
        raise InputError(f"{profile.name!r} is a built-in preset; choose another name for your style")
    if profile.name in list_styles() and not force:
        raise InputError(f"style {profile.name!r} already exists; use --force to replace it")
    directory = styles_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{profile.name}.json"
    write_atomic(path, profile.model_dump_json(indent=1))
    (directory / f"{profile.name}.yaml").unlink(missing_ok=True)  # a user preset of that name is replaced too
    return path


def remove(name: str) -> Path:
    """Delete the user's style NAME (learned profile or user preset); built-in presets cannot be removed."""
    from draftsmith.style.presets import PRESET_DIR, style_path

    for suffix in (".json", ".yaml"):
        path = styles_dir() / f"{name}{suffix}"
        if name and path.is_file():
            path.unlink()
            return path
    if (PRESET_DIR / f"{name}.yaml").exists():
        raise InputError(f"{name!r} is a built-in preset and cannot be removed")
    style_path(name)  # raises the unknown-style error that lists the known names
    raise InputError(f"style {name!r} cannot be removed")


@cache
def _read_learned(path: Path, mtime: float) -> StyleProfile:
    again = f"learn the style again: draftsmith style learn {path.stem} FILE… --force (at least {MIN_TEXTS} texts)"
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise InputError(f"style file {path} is empty; {again}")
    try:
        profile = StyleProfile.model_validate_json(text)
    except Exception as exc:
        problem = " ".join(str(exc).split())[:200]
        raise InputError(f"style file {path} is invalid ({problem}); {again}") from None
    if not profile.features or profile.texts < 1:
        raise InputError(f"style file {path} holds an empty profile (no features measured from sample texts); {again}")
    if profile.version < 2:
        log.warning(
            "style %r was learned with an older feature set (before contractions were counted as the words they "
            "stand for and function-word rates were drawn towards ordinary usage); its scores are a little off "
            "until you %s",
            path.stem,
            again,
        )
    return profile


def read_learned(path: Path) -> StyleProfile:
    return _read_learned(path, path.stat().st_mtime)


def _lang_of(text: str) -> str:
    lang = detect_language(text)
    return "zh" if lang == "zh-tw" else lang


@cache
def _preset_profile(name: str, lang: str, examples: tuple[str, ...], description: str) -> StyleProfile:
    in_lang = [e for e in examples if _lang_of(e) == lang]
    if len(in_lang) < MIN_TEXTS:
        others = sorted({LANGUAGES.get(_lang_of(e), "?") for e in examples} - {LANGUAGES[lang]})
        also = f" (it has {' and '.join(others)} ones)" if others else ""
        raise InputError(
            f"style {name!r} has {len(in_lang) or 'no'} {LANGUAGES[lang]} example text(s){also}; scoring against it "
            f"needs at least {MIN_TEXTS}. Add examples to its file, or learn a style from your own texts: "
            "draftsmith style learn NAME FILE…"
        )
    return learn(name, in_lang, description=description, kind="preset")


def preset_language(examples: Sequence[str]) -> str:
    """The language most of a preset's examples are in (English when it has none)."""
    counts: dict[str, int] = {}
    for e in examples:
        lang = _lang_of(e)
        if lang in ("en", "zh"):
            counts[lang] = counts.get(lang, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else "en"


def load(name: str, lang: str | None = None) -> StyleProfile:
    """The profile of a style: a learned one as stored; a preset's computed from its examples in ``lang``
    (default: the language most of them are in). Unknown names raise InputError listing the known ones."""
    from draftsmith.style.presets import get_style, session_profile, style_path

    session = session_profile(name)
    if session is not None:
        return session
    path = style_path(name)
    if path.suffix == ".json":
        return read_learned(path)
    preset = get_style(name)
    lang = lang or preset_language(preset.examples)
    if lang not in ("en", "zh"):
        raise InputError(f"style profiles support English and Chinese texts; got {LANGUAGES.get(lang, lang)}")
    return _preset_profile(name, lang, tuple(preset.examples), preset.description)


def load_for_text(name: str, text: str, what: str = "the text") -> StyleProfile:
    """The profile to score ``text`` against: a learned one as stored, a preset's in the text's language."""
    from draftsmith.style.presets import session_profile, style_path

    if session_profile(name) is not None or style_path(name).suffix == ".json":
        return load(name)
    return load(name, text_language(text, what) if text and text.strip() else None)
