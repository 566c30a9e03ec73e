"""Few-shot exemplars for a style: the sample lines most similar to the text at hand.

Similarity is a cosine over character n-gram TF-IDF vectors (English: 3-grams of lower-cased text; Chinese: 2-grams),
cheap enough to run per segment without any model. ``style_guide_for`` is what operations hand the model: the
style's description and rules, then a few single sentences from its exemplars. Sentences, not whole passages: small
models shown whole passages just above the text tend to answer with one of them (both bundled models did on
bench/style_transfer.py inputs), while a few lines still carry the voice (thou/thee, contractions, register).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from draftsmith.errors import DraftsmithError, InputError
from draftsmith.languages import LANGUAGES, detect_language
from draftsmith.style.presets import get_style, style_kind

if TYPE_CHECKING:
    from draftsmith.style.profile import StyleProfile

MAX_EXEMPLAR_CHARS = 500  # all sample lines together: prompt tokens cost time on CPU
DEFAULT_K = 4
LINE_LENGTH = {"en": (5, 25), "zh": (8, 50)}  # words / characters of a usable sample line


def _grams(text: str, lang: str) -> Counter[str]:
    if lang in ("zh", "zh-tw", "ja"):
        chars = re.sub(r"\s+", "", text)
        return Counter(chars[i : i + 2] for i in range(len(chars) - 1))
    norm = " " + re.sub(r"\s+", " ", text.lower()).strip() + " "
    return Counter(norm[i : i + 3] for i in range(len(norm) - 2))


def _vector(counts: Counter[str], idf: dict[str, float]) -> dict[str, float]:
    vec = {g: (1 + math.log(c)) * idf.get(g, 0.0) for g, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {g: v / norm for g, v in vec.items()}


def similar(passages: Sequence[str], text: str, k: int = DEFAULT_K, lang: str = "en") -> list[str]:
    """The ``k`` passages most similar to ``text``, most similar first (ties keep the passages' order)."""
    if not passages or k <= 0:
        return []
    grams = [_grams(p, lang) for p in passages]
    query = _grams(text, lang)
    df: Counter[str] = Counter()
    for g in [*grams, query]:
        df.update(g.keys())
    n = len(grams) + 1
    idf = {g: math.log((1 + n) / (1 + d)) + 1 for g, d in df.items()}
    q = _vector(query, idf)
    scores = []
    for i, g in enumerate(grams):
        v = _vector(g, idf)
        scores.append((sum(w * q.get(key, 0.0) for key, w in v.items()), -i))
    order = sorted(range(len(passages)), key=lambda i: scores[i], reverse=True)
    return [passages[i] for i in order[:k]]


def exemplars_for(style: str, text: str, lang: str, k: int = DEFAULT_K) -> list[str]:
    """Sentences from the exemplars of ``style`` written in ``lang``, most similar to ``text`` first, within a
    character budget."""
    from draftsmith.style.features import length, sentences

    preset = get_style(style)
    base = "zh" if lang in ("zh", "zh-tw") else lang
    lo, hi = LINE_LENGTH["zh" if base == "zh" else "en"]
    pool: list[str] = []
    for exemplar in preset.examples:
        if _lang(exemplar) != base:
            continue
        for sentence in sentences(exemplar, base):
            if lo <= length(sentence, base) <= hi and sentence not in pool:
                pool.append(sentence)
    chosen: list[str] = []
    used = 0
    for line in similar(pool, text, k=len(pool), lang=base):
        if len(chosen) >= k:
            break
        if used + len(line) > MAX_EXEMPLAR_CHARS:
            continue
        chosen.append(line)
        used += len(line)
    return chosen


def _lang(text: str) -> str:
    lang = detect_language(text)
    return "zh" if lang in ("zh", "zh-tw") else lang


def check_style_language(style: str, lang: str) -> None:
    """A learned style only fits texts in the language it was learned from."""
    preset = get_style(style)
    base = "zh" if lang in ("zh", "zh-tw") else lang
    if preset.language and preset.language != base:
        raise InputError(
            f"style {style!r} was learned from {LANGUAGES[preset.language]} texts but the output is "
            f"{LANGUAGES.get(lang, lang)}; use --lang {preset.language}, or learn a {LANGUAGES.get(lang, lang)} style "
            "from samples in that language"
        )


def style_guide_for(style: str | None, text: str, lang: str, k: int = DEFAULT_K) -> str:
    """The style's description and rules; for a learned style, then up to ``k`` of its sample lines most similar to
    ``text`` (in ``lang`` only). Presets give rules only: their examples (news items, offers with prices) are
    there to score against, and a model that borrowed a line from them would be stating facts nobody gave it."""
    if not style:
        return ""
    check_style_language(style, lang)
    guide = get_style(style).guide()
    if style_kind(style) != "learned":
        return guide
    shots = exemplars_for(style, text, lang, k)
    if not shots:
        return guide
    lines = "\n".join(f"- {shot}" for shot in shots)
    return f"{guide}\nSample lines in this style (for its voice only; they are about other things):\n{lines}"


def rewrite_hints_for(profile: StyleProfile | None, text: str) -> str:
    """What ``text`` must change to fit the style, as a list for the guide ('' without a profile or hints)."""
    if profile is None:
        return ""
    from draftsmith.style import profile as P
    from draftsmith.style.rules import rewrite_hints

    try:
        z = P.deviations(text, profile)
    except DraftsmithError:  # a text the features cannot measure: no hints rather than no rewrite
        return ""
    hints = rewrite_hints(profile, P.measure(text, profile), z)
    if not hints:
        return ""
    return "\nWhat this text must change to fit the style (keep its meaning):" + "".join(f"\n- {h}" for h in hints)
