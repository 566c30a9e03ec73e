"""Text units shared by the metrics: words and CJK characters, and a ROUGE tokenizer that keeps non-ASCII text.

English is counted in words; Chinese and Japanese, written without spaces, in characters. One regex does both, so a
mixed sentence ("用 Python 写代码") counts each CJK character and each Latin word once.
"""

from __future__ import annotations

import functools
import importlib
import logging
import re
from types import ModuleType

from draftsmith.errors import DraftsmithError

# CJK ideographs (BMP, compatibility, extensions B and beyond) and Japanese kana.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# One CJK character, or a run of word characters (letters, digits) with inner apostrophes or hyphens ("don't").
_UNIT_RE = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+(?:['’\-][^\W{_CJK}]+)*")
_NON_WORD_RE = re.compile(r"[\W_]+")
_SEGMENTED_LANGS = frozenset({"zh", "zh-tw", "ja"})


def require(module: str, purpose: str) -> ModuleType:
    """Import an optional dependency, or say which package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = {"rouge_score": "rouge-score"}.get(module, module)
        raise DraftsmithError(
            f"{purpose} needs the Python package {package!r}; install it: pip install {package}"
        ) from exc


def units(text: str) -> list[str]:
    """Words and CJK characters of ``text``, punctuation and spaces left out."""
    return _UNIT_RE.findall(text)


def is_unsegmented(lang: str) -> bool:
    """Whether the language is written without spaces between words (Chinese, Japanese)."""
    return lang in _SEGMENTED_LANGS


@functools.cache
def _jieba() -> ModuleType:
    jieba = require("jieba", "Chinese word segmentation")
    jieba.setLogLevel(logging.WARNING)  # silence its "Building prefix dict..." banner
    return jieba


def jieba_words(text: str) -> list[str]:
    """Chinese word segmentation with jieba (its dictionary loads once, on first use, in about a second)."""
    return [word for word in _jieba().lcut(text) if not word.isspace()]


class RougeTokenizer:
    """A ``rouge_score`` tokenizer that keeps every script, not only ASCII.

    ``rouge_score``'s default tokenizer lowercases and then replaces every character outside ``[a-z0-9]`` with a
    space, so Chinese text becomes no tokens at all (ROUGE 0 for any pair) and "café" becomes "caf". This one
    lowercases and splits on non-word characters using Unicode classes, the same rule widened to every script.
    Chinese is segmented into words with jieba first; Japanese (no segmenter bundled) is split into characters.
    """

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def tokenize(self, text: str) -> list[str]:
        if self.lang in ("zh", "zh-tw"):
            text = " ".join(jieba_words(text))
        elif self.lang == "ja":
            text = " ".join(units(text))
        return [token for token in _NON_WORD_RE.sub(" ", text.lower()).split() if token]
