"""A small, documented content policy for requests and model outputs.

A policy is a few named categories, each a list of phrases and/or regular expressions (see
``data/content_policy.yaml``, the built-in one: sexual content involving minors, weapon instructions,
self-harm instructions, in English and Chinese). ``check`` answers with the first category that matches,
or none. Text is normalised first (Unicode NFKC, case-folded, zero-width characters removed, runs of
whitespace collapsed), so ``Ｃhild  porn`` or a zero-width space does not slip past.

It is a guard rail for a shared server, not a classifier: it stops the clearly disallowed requests the
list names and is written to leave ordinary text alone ("kill a process", "shoot a photo", "bath bomb").
The single-user CLI does not use it; ``draftsmith serve --content-filter block|warn`` turns it on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from draftsmith.errors import ConfigError

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).casefold()
    return " ".join(text.split())


@dataclass(frozen=True)
class Verdict:
    """What the policy says about a text: ``category`` is None when nothing matched."""

    category: str | None = None
    description: str | None = None

    @property
    def allowed(self) -> bool:
        return self.category is None


@dataclass(frozen=True)
class Category:
    name: str
    description: str
    pattern: re.Pattern[str]


def _phrase_pattern(phrase: str) -> str:
    words = normalise(phrase).split(" ")
    body = r"\s*".join(re.escape(w) for w in words) if _CJK.search(phrase) else r"\s+".join(map(re.escape, words))
    if _CJK.search(phrase):
        return body
    return rf"(?<![\w]){body}(?![\w])"


class ContentPolicy:
    """Named categories of disallowed text; ``check`` returns the first that matches."""

    def __init__(self, categories: list[Category]) -> None:
        self.categories = categories

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "policy") -> ContentPolicy:
        raw = data.get("categories")
        if not isinstance(raw, dict) or not raw:
            raise ConfigError(f"{source}: a content policy needs a non-empty 'categories' mapping")
        categories = []
        for name, spec in raw.items():
            if not isinstance(spec, dict):
                raise ConfigError(f"{source}: category {name!r} must be a mapping with phrases and/or patterns")
            parts = [_phrase_pattern(str(p)) for p in spec.get("phrases") or []]
            parts += [str(p) for p in spec.get("patterns") or []]
            if not parts:
                raise ConfigError(f"{source}: category {name!r} has no phrases or patterns")
            try:
                pattern = re.compile("|".join(f"(?:{p})" for p in parts))
            except re.error as exc:
                raise ConfigError(f"{source}: category {name!r} has an invalid pattern: {exc}") from None
            categories.append(Category(str(name), str(spec.get("description") or name), pattern))
        return cls(categories)

    def check(self, text: str) -> Verdict:
        if not text:
            return Verdict()
        norm = normalise(text)
        for category in self.categories:
            if category.pattern.search(norm):
                return Verdict(category.name, category.description)
        return Verdict()

    def check_all(self, texts: list[str]) -> Verdict:
        for text in texts:
            verdict = self.check(text)
            if not verdict.allowed:
                return verdict
        return Verdict()


def _read_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a YAML mapping with 'categories'")
    return data


@lru_cache(maxsize=1)
def _builtin_data() -> dict[str, Any]:
    text = resources.files("draftsmith.safety").joinpath("data/content_policy.yaml").read_text(encoding="utf-8")
    return _read_yaml(text, "the built-in content policy")


def load_policy(path: str | Path | None = None) -> ContentPolicy:
    """The built-in policy, or the one in ``path`` (merged over the built-in when it says ``include_builtin``)."""
    if path is None:
        return ContentPolicy.from_dict(_builtin_data(), "the built-in content policy")
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the content policy {path}: {exc}") from None
    data = _read_yaml(text, str(path))
    if data.get("include_builtin"):
        merged = dict(_builtin_data()["categories"])
        merged.update(data.get("categories") or {})
        data = {"categories": merged}
    return ContentPolicy.from_dict(data, str(path))


class OutputWatch:
    """Checks streamed text as it arrives, looking only at a window around each new piece (linear time)."""

    WINDOW = 400

    def __init__(self, policy: ContentPolicy) -> None:
        self.policy = policy
        self._tail = ""

    def feed(self, text: str) -> Verdict:
        window = self._tail + text
        self._tail = window[-self.WINDOW :]
        return self.policy.check(window)
