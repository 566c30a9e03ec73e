"""Style profiles: stylometric statistics of a style, learned from samples or taken from a preset's examples.

A profile holds, per feature (see ``features.py``), its mean and spread over passages of about ``CHUNK`` words
(Chinese: characters) of the sample texts, the relative frequencies of its most frequent words (the "wording"
centroid), representative exemplar passages, and rules in plain words. Storage and lookup by name: ``store.py``.

``adherence(text, profile)`` is a standardised distance, mapped to 0–1:

1. every feature of the text becomes z = (value − style mean) / spread, where spread = sqrt(style sd² + floor²)
   (the floor keeps a feature that never varies in the samples from dominating), widened by
   sqrt(typical passage length / text length) for texts shorter than the style's passages (rates are noisier);
2. "wording" is the mean cosine of the text's 10-word windows to the style's word centroid, compared with what
   passages of *other* sample texts get (leave-one-text-out); only falling short counts (one-sided);
3. |z| counts fully up to 2 and logarithmically beyond (one wild feature cannot outweigh all others);
4. the mean penalty per feature group (sentences, vocabulary, function words, punctuation, formality, wording)
   is averaged with ``GROUP_WEIGHTS``; adherence = exp(−(distance / SCALE)²).

Tuned on bench/style_attribution.py (Shakespeare vs modern English, two presets as distractors).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from draftsmith.errors import InputError
from draftsmith.languages import LANGUAGES, detect_language
from draftsmith.style import features as F
from draftsmith.style.rules import derive_rules, describe_difference

MIN_TEXTS = 5
MIN_LENGTH = {"en": 120, "zh": 250}  # words / characters over all samples
CHUNK = {"en": 120, "zh": 220}
MAX_EXEMPLARS = 24
WORDING_SIZE = 1500
Z_SOFT = 2.0
PRIOR_PASSAGES = 4  # weight of ordinary usage in a function word's learned rate (``_towards``)
SHORT_POWER = 0.5  # short passages: rates are noisier, so their spread widens by (typical length / length) ** this
GROUP_WEIGHTS = {
    "sentences": 1.0,
    "vocabulary": 1.0,
    "function_words": 1.5,
    "punctuation": 1.0,
    "formality": 1.5,
    "wording": 2.0,
}
SCALE = 1.6  # adherence = exp(-(distance / SCALE) ** 2): a typical passage of the style scores about 0.8
_PER_SENTENCE = frozenset({"sent_len", "exclamations", "questions"})


class FeatureStat(BaseModel):
    mean: float
    std: float
    n: int = Field(description="passages it was measured on")


class StyleProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    language: Literal["en", "zh"]
    description: str = ""
    kind: Literal["learned", "preset"] = "learned"
    texts: int = Field(description="sample texts it was learned from")
    length: int = Field(description="words (Chinese: characters) in all samples")
    chunk_length: float = Field(description="mean length of the passages the statistics are over")
    chunk_sentences: float = Field(description="mean sentences per passage")
    features: dict[str, FeatureStat]
    rules: list[str] = Field(default_factory=list)
    exemplars: list[str] = Field(default_factory=list)
    markers: dict[str, list[str]] = Field(default_factory=dict)
    wording: dict[str, float] = Field(default_factory=dict, description="relative frequencies of its top words")
    created: str | None = None
    version: int = Field(
        default=2,
        description="its feature set (2: an English contraction counts as the words it stands for; function-word "
        "rates drawn towards ordinary usage)",
    )

    def guide(self) -> str:
        return f"{self.description}" + "".join(f"\n- {rule}" for rule in self.rules)


class Difference(BaseModel):
    feature: str
    group: str
    label: str
    yours: float
    style: float
    z: float = Field(description="difference in units of the style's spread (signed)")
    message: str


class AdherenceReport(BaseModel):
    style: str
    language: str
    score: float = Field(description="0 (unlike the style) to 1 (typical of it)")
    distance: float
    groups: dict[str, float] = Field(description="mean penalty (softly capped |z|) per feature group")
    differences: list[Difference]


class ComparisonReport(BaseModel):
    language: str
    similarity: float
    a_to_b: float
    b_to_a: float
    differences: list[Difference]


# --- learning -----------------------------------------------------------------------------------------------------


def text_language(text: str, what: str = "the text") -> str:
    """'en' or 'zh'; other languages are refused (the features are defined for these two)."""
    lang = detect_language(text)
    if lang not in ("en", "zh"):
        raise InputError(
            f"{what} looks like {LANGUAGES.get(lang, lang)}; style profiles support English and Chinese texts only"
        )
    return lang


def chunks(text: str, lang: str, size: int | None = None) -> list[str]:
    """Consecutive passages of about ``size`` words (characters), cut at sentence ends."""
    size = size or CHUNK[lang]
    out, current, n = [], [], 0
    for sentence in F.sentences(text, lang):
        current.append(sentence)
        n += F.length(sentence, lang)
        if n >= size:
            out.append(_join(current, lang))
            current, n = [], 0
    if current:
        if out and n < size / 2:
            out[-1] = out[-1] + _sep(lang) + _join(current, lang)
        else:
            out.append(_join(current, lang))
    return out


def _sep(lang: str) -> str:
    return "" if lang == "zh" else " "


def _join(parts: list[str], lang: str) -> str:
    return _sep(lang).join(parts)


def statistics(
    passages: Sequence[str], lang: str, sources: Sequence[int] | None = None
) -> tuple[dict[str, FeatureStat], float, float, dict[str, float]]:
    """Per-feature mean and standard deviation over passages; mean passage length and sentence count; the
    wording centroid (relative frequencies of the most frequent words) and the similarity to it that passages
    get when their own sample text is left out (``sources[i]``: which sample passage ``i`` comes from)."""
    values: dict[str, list[float]] = {}
    lengths, sents, counts, origin, words = [], [], [], [], []
    sources = list(sources) if sources is not None else list(range(len(passages)))
    for passage, source in zip(passages, sources, strict=True):
        feats = F.extract(passage, lang)
        if not feats:
            continue
        lengths.append(F.length(passage, lang))
        words.append(F.words(passage, lang))
        sents.append(len(F.sentences(passage, lang)) or 1)
        counts.append(F.word_windows(passage, lang))
        origin.append(source)
        for name, value in feats.items():
            values.setdefault(name, []).append(value)
    centroid: dict[str, float] = {}
    if len(set(origin)) >= 3:
        total: Counter[str] = Counter()
        by_source: dict[int, Counter[str]] = {}
        for windows, source in zip(counts, origin, strict=True):
            for c in windows:
                total.update(c)
                by_source.setdefault(source, Counter()).update(c)
        top = dict(total.most_common(WORDING_SIZE))
        size = sum(total.values())
        centroid = {w: round(n / size, 7) for w, n in top.items()}
        loo = []
        for windows, source in zip(counts, origin, strict=True):  # what a passage of a new text would get
            own = by_source.get(source, Counter())
            rest = size - sum(own.values())
            similarity = F.wording(windows, {w: (n - own.get(w, 0)) / rest for w, n in top.items()}) if rest else None
            if similarity is not None:
                loo.append(similarity)
        if len(loo) >= 2:
            values["wording"] = loo
    stats = {}
    background = F.BACKGROUND[F.feature_language(lang)]
    per_passage = sum(words) / max(len(words), 1)
    for name, vals in values.items():
        if len(vals) < min(2, len(lengths)):
            continue
        mean = sum(vals) / len(vals)
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
        stat = FeatureStat(mean=mean, std=std, n=len(vals))
        stats[name] = _towards(stat, background[name], per_passage) if name in background else stat
    n = max(len(lengths), 1)
    return stats, sum(lengths) / n, sum(sents) / n, centroid


def _towards(stat: FeatureStat, usual: float, words: float) -> FeatureStat:
    """A function word's rate as learned from ``stat.n`` passages, drawn towards its ``usual`` rate (per 100 words)
    as if ``PRIOR_PASSAGES`` more passages of ``words`` words had it at that rate, with the spread such passages
    would have by chance (a count is Poisson: sd of a rate = sqrt(100 · rate / words)). Many passages keep their
    own figures; six short casual texts without an "of" no longer make one "of" look 17 spreads away."""
    k, n = PRIOR_PASSAGES, stat.n
    chance = 100.0 * usual / max(words, 1.0)
    mean = (stat.mean * n + usual * k) / (n + k)
    var = (stat.std**2 * max(n - 1, 0) + chance * k) / (max(n - 1, 0) + k)
    return FeatureStat(mean=mean, std=math.sqrt(var), n=n)


def learn(
    name: str,
    texts: Sequence[str],
    *,
    sources: Sequence[str] | None = None,
    description: str | None = None,
    kind: Literal["learned", "preset"] = "learned",
) -> StyleProfile:
    """A profile from at least five sample texts in one language (English or Chinese)."""
    sources = list(sources or [f"sample {i + 1}" for i in range(len(texts))])
    if len(texts) < MIN_TEXTS:
        raise InputError(
            f"learning a style needs at least {MIN_TEXTS} sample texts; got {len(texts)}. "
            f"Add {MIN_TEXTS - len(texts)} more, written in the style (a few paragraphs each)"
        )
    by_lang: dict[str, list[str]] = {}
    for text, source in zip(texts, sources, strict=True):
        if not text or not text.strip():
            raise InputError(f"{source} is empty; every sample must contain text in the style")
        by_lang.setdefault(text_language(text, source), []).append(source)
    if len(by_lang) > 1:
        parts = "; ".join(f"{LANGUAGES[lang]}: {', '.join(srcs[:4])}" for lang, srcs in sorted(by_lang.items()))
        raise InputError(f"samples are in different languages ({parts}); learn one style per language")
    lang = next(iter(by_lang))
    total = sum(F.length(t, lang) for t in texts)
    if total < MIN_LENGTH[lang]:
        unit = "characters" if lang == "zh" else "words"
        raise InputError(
            f"the samples hold only {total} {unit} in all; a style needs at least {MIN_LENGTH[lang]} {unit}"
        )
    pieces = [chunks(t, lang) for t in texts]
    passages = [c for piece in pieces for c in piece]
    sources_idx = [i for i, piece in enumerate(pieces) for _ in piece]
    stats, chunk_length, chunk_sents, centroid = statistics(passages, lang, sources_idx)
    if not stats:
        raise InputError("no style features could be measured in the samples; give texts with sentences")
    joined = "\n\n".join(texts)
    profile = StyleProfile(
        name=name,
        language=lang,
        description=description
        or f"A style learned from {len(texts)} sample texts ({total:,} {_unit(lang)}); match their voice.",
        kind=kind,
        texts=len(texts),
        length=total,
        chunk_length=chunk_length,
        chunk_sentences=chunk_sents,
        features=stats,
        wording=centroid,
        markers=F.marker_words(joined, lang),
        created=datetime.now(UTC).isoformat(timespec="seconds") if kind == "learned" else None,
    )
    profile.rules = derive_rules(profile)
    profile.exemplars = pick_exemplars(profile, texts)
    return profile


def _unit(lang: str) -> str:
    return "characters" if lang == "zh" else "words"


def pick_exemplars(profile: StyleProfile, texts: Sequence[str], limit: int = MAX_EXEMPLARS) -> list[str]:
    """Passages of 15–60 words (30–120 characters) most typical of the profile, spread over the sample texts."""
    lang = profile.language
    lo, hi = (30, 120) if lang == "zh" else (15, 60)
    scored: list[tuple[float, int, str]] = []
    for index, text in enumerate(texts):
        for passage in _passages(text, lang, lo, hi):
            scored.append((_distance(passage, profile)[0], index, passage))
    scored.sort(key=lambda item: item[0])
    per_text = max(2, math.ceil(2 * limit / max(len(texts), 1)))
    taken: dict[int, int] = {}
    out: list[str] = []
    for _, index, passage in scored:
        if taken.get(index, 0) >= per_text or passage in out:
            continue
        out.append(passage)
        taken[index] = taken.get(index, 0) + 1
        if len(out) >= limit:
            break
    return out


def _passages(text: str, lang: str, lo: int, hi: int) -> list[str]:
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        current: list[str] = []
        n = 0
        for line in F.sentences(paragraph, lang):
            k = F.length(line, lang)
            if current and n + k > hi:
                if n >= lo:
                    out.append(_join(current, lang))
                current, n = [], 0
            current.append(line)
            n += k
        if n >= lo and n <= hi * 1.3:
            out.append(_join(current, lang))
    return out


# --- scoring ------------------------------------------------------------------------------------------------------


def _zscores(feats: dict[str, float], length: int, n_sents: int, profile: StyleProfile) -> dict[str, float]:
    spec = F.FEATURES[profile.language]
    word_scale = max(1.0, profile.chunk_length / max(length, 1)) ** SHORT_POWER
    sent_scale = max(1.0, profile.chunk_sentences / max(n_sents, 1)) ** SHORT_POWER
    out = {}
    for name, value in feats.items():
        stat = profile.features.get(name)
        if stat is None or name not in spec:
            continue
        sd = math.sqrt(stat.std**2 + spec[name].floor ** 2)
        if name in _PER_SENTENCE:
            sd *= sent_scale
        elif spec[name].rate:
            sd *= word_scale
        z = (value - stat.mean) / sd
        if name == "wording":  # one-sided: closer to the style's words than its own passages is no deviation
            z = min(z, 0.0)
        out[name] = z
    return out


def measure(text: str, profile: StyleProfile) -> dict[str, float]:
    """The text's features, plus its wording similarity to the profile when the profile has a centroid."""
    feats = F.extract(text, profile.language)
    similarity = F.wording(F.word_windows(text, profile.language), profile.wording) if feats else None
    if similarity is not None:
        feats["wording"] = similarity
    return feats


def _distance(
    text: str, profile: StyleProfile, as_length: int | None = None
) -> tuple[float, dict[str, float], dict[str, float]]:
    lang = profile.language
    feats = measure(text, profile)
    z = _zscores(feats, as_length or F.length(text, lang), len(F.sentences(text, lang)) or 1, profile)
    spec = F.FEATURES[lang]
    groups: dict[str, list[float]] = {}
    for name, value in z.items():
        groups.setdefault(spec[name].group, []).append(penalty(value))
    means = {g: sum(v) / len(v) for g, v in groups.items()}
    weight = sum(GROUP_WEIGHTS[g] for g in means)
    distance = sum(GROUP_WEIGHTS[g] * m for g, m in means.items()) / weight if weight else 4.0
    return distance, means, z


def deviations(text: str, profile: StyleProfile) -> dict[str, float]:
    """Each feature's signed difference from the style in units of its spread (negative: the text has less)."""
    return _distance(text, profile)[2]


def penalty(z: float) -> float:
    """|z| up to ``Z_SOFT``, then growing logarithmically: a wild feature counts, but cannot outweigh all others."""
    a = abs(z)
    return a if a <= Z_SOFT else Z_SOFT + Z_SOFT * math.log1p((a - Z_SOFT) / Z_SOFT)


def score_from_distance(distance: float) -> float:
    return math.exp(-((distance / SCALE) ** 2))


def adherence(
    text: str, profile: StyleProfile, *, top: int = 5, what: str = "the text", as_length: int | None = None
) -> AdherenceReport:
    """How typical ``text`` is of the style (0–1), and the features that differ most, in plain words.

    A short text is held to wider spreads (less evidence); to compare two versions of one text fairly, score both
    ``as_length`` the same length (otherwise cutting a text would look like moving it towards the style)."""
    if not text or not text.strip():
        raise InputError(f"{what} is empty; give some text to score")
    lang = text_language(text, what)
    if lang != profile.language:
        raise InputError(
            f"{what} is {LANGUAGES[lang]} but style {profile.name!r} is {LANGUAGES[profile.language]}; "
            f"score a {LANGUAGES[profile.language]} text, or learn a {LANGUAGES[lang]} style"
        )
    distance, groups, z = _distance(text, profile, as_length)
    feats = measure(text, profile)
    diffs = _differences(z, feats, {k: s.mean for k, s in profile.features.items()}, lang, top, "yours", "style")
    return AdherenceReport(
        style=profile.name,
        language=lang,
        score=round(score_from_distance(distance), 4),
        distance=round(distance, 4),
        groups={g: round(v, 3) for g, v in groups.items()},
        differences=diffs,
    )


def _differences(
    z: dict[str, float], mine: dict[str, float], theirs: dict[str, float], lang: str, top: int, a: str, b: str
) -> list[Difference]:
    spec = F.FEATURES[lang]
    sizes = Counter(spec[name].group for name in z)

    def weight(name: str) -> float:  # what the feature adds to the distance (``_distance``): what moves the score
        group = spec[name].group
        return penalty(z[name]) * GROUP_WEIGHTS[group] / sizes[group]

    ranked = sorted((n for n in z if abs(z[n]) >= 1.0), key=weight, reverse=True)[:top]
    return [
        Difference(
            feature=name,
            group=spec[name].group,
            label=spec[name].label,
            yours=round(mine[name], 3),
            style=round(theirs[name], 3),
            z=round(z[name], 2),
            message=describe_difference(spec[name], mine[name], theirs[name], a, b),
        )
        for name in ranked
    ]


def compare(text_a: str, text_b: str, *, top: int = 5) -> ComparisonReport:
    """How alike two texts are in style (0–1, symmetric) and where they differ most."""
    for text, what in ((text_a, "the first text"), (text_b, "the second text")):
        if not text or not text.strip():
            raise InputError(f"{what} is empty; give two texts to compare")
    lang_a, lang_b = text_language(text_a, "the first text"), text_language(text_b, "the second text")
    if lang_a != lang_b:
        raise InputError(
            f"the texts are in different languages ({LANGUAGES[lang_a]} and {LANGUAGES[lang_b]}); "
            "compare texts in the same language"
        )
    pa, pb = _text_profile(text_a, lang_a, "A"), _text_profile(text_b, lang_b, "B")
    d_ab, _, z = _distance(text_a, pb)
    d_ba, _, _ = _distance(text_b, pa)
    s_ab, s_ba = score_from_distance(d_ab), score_from_distance(d_ba)
    diffs = _differences(z, measure(text_a, pb), {k: s.mean for k, s in pb.features.items()}, lang_a, top, "A", "B")
    return ComparisonReport(
        language=lang_a,
        similarity=round((s_ab + s_ba) / 2, 4),
        a_to_b=round(s_ab, 4),
        b_to_a=round(s_ba, 4),
        differences=diffs,
    )


def _text_profile(text: str, lang: str, name: str) -> StyleProfile:
    passages = chunks(text, lang)
    stats, chunk_length, chunk_sents, centroid = statistics(passages, lang)
    whole = F.extract(text, lang)
    for key, value in whole.items():  # a short text is one passage: its own values, spread from the floors
        if key not in stats:
            stats[key] = FeatureStat(mean=value, std=0.0, n=1)
    return StyleProfile(
        name=name,
        language=lang,  # type: ignore[arg-type]
        texts=1,
        length=F.length(text, lang),
        chunk_length=chunk_length or F.length(text, lang),
        chunk_sentences=chunk_sents or 1.0,
        features=stats,
        wording=centroid,
    )
