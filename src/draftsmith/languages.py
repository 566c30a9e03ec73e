"""Language codes draftsmith accepts, their names, and a cheap script-based detector."""

from __future__ import annotations

import re

from draftsmith.errors import InputError

LANGUAGES: dict[str, str] = {
    "en": "English",
    "zh": "Simplified Chinese",
    "zh-tw": "Traditional Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "ru": "Russian",
    "ar": "Arabic",
    "nl": "Dutch",
    "vi": "Vietnamese",
}

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")


def check_language(code: str) -> str:
    """Normalise a language code, or raise InputError listing the known ones."""
    norm = code.strip().lower().replace("_", "-")
    aliases = {"zh-cn": "zh", "zh-hans": "zh", "zh-hant": "zh-tw", "cn": "zh", "jp": "ja"}
    norm = aliases.get(norm, norm)
    if norm not in LANGUAGES:
        raise InputError(f"unknown language {code!r}; use one of: {', '.join(LANGUAGES)}")
    return norm


def language_name(code: str) -> str:
    return LANGUAGES[check_language(code)]


def detect_language(text: str) -> str:
    """Guess the main language from its script: zh, ja, ko, ru, ar, else en (Latin)."""
    sample = text[:4000]
    if _KANA.search(sample):
        return "ja"
    if _HANGUL.search(sample):
        return "ko"
    letters = sum(ch.isalpha() for ch in sample) or 1
    if len(_CJK.findall(sample)) / letters > 0.2:
        return "zh"
    if len(_CYRILLIC.findall(sample)) / letters > 0.3:
        return "ru"
    if len(_ARABIC.findall(sample)) / letters > 0.3:
        return "ar"
    return "en"


def is_cjk(code: str) -> bool:
    return code in ("zh", "zh-tw", "ja")


def count_words(text: str) -> int:
    """Words for Latin scripts, characters for CJK: the unit a writer means by 'length'."""
    cjk = len(_CJK.findall(text)) + len(_KANA.findall(text))
    latin = len(re.findall(r"[A-Za-z0-9\u00c0-\u024f\u0400-\u04ff]+(?:['’-][A-Za-z]+)*", text))
    return cjk + latin
