"""Synonyms and alternative phrasings for a phrase, ranked by how well each fits its sentence.

Candidates come from WordNet (English), from a synonym list the user supplies (any language; see
``user_synonym_file``), and from the model itself (the ``suggest-words`` template). Each candidate is put
in place of the phrase, inflected like it ("mistakes" → "errors"), and scored by the model's
log-probability of the candidate plus the rest of the clause, averaged per word (per character for
Chinese; per token would favour rare words split into many predictable pieces). A user profile adds a
bonus for words and phrases the user habitually writes.

No Chinese synonym dictionary is bundled: the ones on PyPI either derive from HIT's Tongyici Cilin (research
terms) or need downloads at run time, so Chinese candidates come from the model and the user's own list.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from draftsmith import config
from draftsmith.errors import InputError, ModelError
from draftsmith.languages import count_words, is_cjk, language_name
from draftsmith.models.base import GenParams, Model
from draftsmith.prompts.registry import get_template
from draftsmith.suggest import wordnet
from draftsmith.suggest.profile import UserProfile, join_tokens, tokens
from draftsmith.writing.base import output_language

Source = Literal["wordnet", "list", "llm"]
MAX_PHRASE_CHARS = 80
MAX_CONTEXT_CHARS = 2000
MAX_SCORED = 32
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CLAUSE_END = re.compile(r"[.!?;:。！？；：\n]")
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)、:：]|[a-z][.)])\s*")


class WordCandidate(BaseModel):
    text: str
    sources: list[Source]
    score: float  # log-probability in context per word (character for Chinese), plus the profile bonus
    logprob: float
    tokens: int
    sense: str | None = None  # the WordNet sense it came from
    suggestion_id: str | None = None  # set by the shell that shows it: answer with POST /v1/feedback


class WordsResult(BaseModel):
    phrase: str
    context: str
    language: str
    model: str
    candidates: list[WordCandidate] = Field(default_factory=list)
    original_score: float | None = None  # the phrase itself, scored the same way, for comparison
    warnings: list[str] = Field(default_factory=list)


def user_synonym_file(lang: str) -> Path:
    """A synonym list the user may supply: one group per line, words separated by spaces or commas."""
    return config.data_dir() / "synonyms" / f"{lang}.txt"


def suggest_words(
    model: Model,
    phrase: str,
    context: str | None = None,
    *,
    lang: str | None = None,
    n: int = 10,
    profile: UserProfile | None = None,
    use_llm: bool = True,
) -> WordsResult:
    """Up to ``n`` replacements for ``phrase`` in ``context`` (default: the phrase alone), best first."""
    phrase = (phrase or "").strip()
    if not phrase:
        raise InputError("give a word or phrase to find alternatives for")
    if len(phrase) > MAX_PHRASE_CHARS or "\n" in phrase:
        raise InputError(f"the phrase must be one line of at most {MAX_PHRASE_CHARS} characters")
    if "\x00" in phrase or (context and "\x00" in context):
        raise InputError("the phrase or context contains NUL bytes")
    if not 1 <= n <= 50:
        raise InputError("ask for 1 to 50 alternatives")
    context = phrase if context is None or not context.strip() else context.strip()
    if len(context) > MAX_CONTEXT_CHARS:
        raise InputError(f"the context is too long ({len(context)} characters); give the one sentence, at most 2000")
    start = context.find(phrase)
    if start < 0:
        start = context.lower().find(phrase.lower())
        if start < 0:
            raise InputError(f"the context does not contain {phrase!r}; give the sentence the phrase is used in")
        phrase = context[start : start + len(phrase)]
    language = output_language(lang, context)
    left, right = context[:start], context[start + len(phrase) :]
    right = _clause(right, language)
    result = WordsResult(phrase=phrase, context=context, language=language, model=model.name)

    pool: dict[str, tuple[list[Source], str | None]] = {}
    surface: dict[str, str] = {}  # the candidate as first written

    def add(text: str, source: Source, sense: str | None = None) -> None:
        text = text.strip()
        if not _usable(text, phrase):
            return
        key = text.lower()
        if key in pool:
            if source not in pool[key][0]:
                pool[key][0].append(source)
            return
        pool[key] = ([source], sense)
        surface[key] = text

    if language == "en" and not _CJK.search(phrase):  # WordNet is English only
        if wordnet.available():
            lemma, form = wordnet.base_form(phrase)
            for word, sense in wordnet.synonyms(lemma):
                add(_match_case(wordnet.inflect(word, form), phrase), "wordnet", sense)
        else:
            result.warnings.append("WordNet is not installed (apt-get install wordnet-base): English synonyms skipped")
    for word in _user_list(phrase, language):
        add(word, "list")
    if use_llm:
        try:
            for word in _llm_candidates(model, phrase, context, language, n):
                add(word, "llm")
        except ModelError as exc:
            result.warnings.append(f"no model suggestions: {exc}")
    if not pool:
        result.warnings.append(f"no alternatives found for {phrase!r}")
        return result

    # Score in context: the model's log-probability of the candidate and the rest of the clause.
    scored_keys = _cap(list(pool), pool)
    left = left or "\n"  # a phrase that opens the sentence: score its first token too, as a line start
    original = model.score(left, phrase + right)
    result.original_score = round(original.logprob / _units(phrase + right), 4)
    candidates = []
    for key in scored_keys:
        sources, sense = pool[key]
        text = surface[key]
        s = model.score(left, text + right)
        bonus = _profile_bonus(profile, left, text, right) if profile is not None else 0.0
        candidates.append(
            WordCandidate(
                text=text,
                sources=sources,
                score=round(s.logprob / _units(text + right) + bonus, 4),
                logprob=round(s.logprob, 4),
                tokens=s.tokens,
                sense=sense,
            )
        )
    candidates.sort(key=lambda c: -c.score)
    result.candidates = candidates[:n]
    return result


def _units(text: str) -> int:
    """Words (characters for Chinese): the unit scores are averaged over.

    Per word rather than per token: averaging per token favours rare words split into many predictable
    sub-tokens ("vainglorious" over "bad" in "a big mistake").
    """
    return max(count_words(text), 1)


def _clause(right: str, language: str) -> str:
    """The text after the phrase up to the end of its clause, at most a few words: what the candidate must fit."""
    end = _CLAUSE_END.search(right)
    right = right[: end.end()] if end else right
    if is_cjk(language):
        return right[:12]
    words = re.findall(r"\s*\S+", right)
    return "".join(words[:6])


def _usable(text: str, phrase: str) -> bool:
    if not text or text.lower() == phrase.lower() or "\n" in text:
        return False
    if len(text) > max(3 * len(phrase), 30):
        return False
    if _CJK.search(text):
        return len(text) <= 12
    return len(text.split()) <= 5 and bool(re.search(r"\w", text))


def _match_case(word: str, phrase: str) -> str:
    if phrase.isupper() and len(phrase) > 1:
        return word.upper()
    if phrase[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _user_list(phrase: str, language: str) -> list[str]:
    path = user_synonym_file(language)
    if not path.is_file():
        return []
    out: list[str] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        raise InputError(f"synonym list {path} is not readable UTF-8 text") from None
    for line in lines:
        group = [w.strip() for w in re.split(r"[,，、\s]+", line) if w.strip()]
        if phrase in group or phrase.lower() in (w.lower() for w in group):
            out += [w for w in group if w.lower() != phrase.lower()]
    return out


def _llm_candidates(model: Model, phrase: str, context: str, language: str, n: int) -> list[str]:
    template = get_template("suggest-words")
    values = {
        "phrase": phrase,
        "context": context,
        "count": min(max(n, 5), 12),
        "lang": language,
        "language": language_name(language),
    }
    temperature = template.temperature if template.temperature is not None else 0.3
    params = GenParams(max_tokens=120, temperature=temperature, seed=0, repeat_penalty=1.1)
    text = model.complete(template.render(values), params).text
    return parse_list(text)


def parse_list(text: str) -> list[str]:
    """Alternatives from a model's answer: one per line (or comma-separated), bullets and quotes removed."""
    out = []
    lines = text.splitlines()
    if len(lines) == 1 and re.search(r"[,，、]", lines[0]):
        lines = re.split(r"[,，、]", lines[0])
    for line in lines:
        item = _BULLET.sub("", line).strip().strip("\"'“”‘’「」*`").strip()
        item = re.sub(r"\s*[-–—:(（].*$", "", item) if len(item.split()) > 5 else item
        item = item.rstrip(".。;；")
        if item and not item.endswith(":"):
            out.append(item)
    return out


def _cap(keys: list[str], pool: dict[str, tuple[list[Source], str | None]]) -> list[str]:
    """At most MAX_SCORED candidates: those several sources agree on first, then the model's, then the rest."""
    if len(keys) <= MAX_SCORED:
        return keys
    # Keep every source represented: interleave the model's, the list's and WordNet's own orders.
    chosen = [k for k in keys if len(pool[k][0]) > 1][:MAX_SCORED]
    by_source = {s: [k for k in keys if pool[k][0] == [s]] for s in ("llm", "list", "wordnet")}
    while len(chosen) < MAX_SCORED and any(by_source.values()):
        for source in ("llm", "list", "wordnet"):
            if by_source[source] and len(chosen) < MAX_SCORED:
                chosen.append(by_source[source].pop(0))
    return chosen


def _profile_bonus(profile: UserProfile, left: str, text: str, right: str) -> float:
    """Up to ~1 nat for words the user uses often and phrases they habitually write around this spot."""
    words = tokens(text)
    if not words:
        return 0.0
    vocab = sum(profile.word_count(w) for w in words) / len(words)
    bonus = 0.15 * math.log1p(vocab)
    joined = join_tokens(words)
    for around in (join_tokens([*tokens(left)[-2:], joined]), join_tokens([joined, *tokens(right)[:2]])):
        habitual = [c for p, c in profile.ngrams.items() if p != joined and _within(joined, p) and _within(p, around)]
        if habitual and max(habitual) >= 2:
            bonus += 0.25 * math.log1p(max(habitual))
    return min(bonus, 1.5)


def _within(part: str, whole: str) -> bool:
    """``part`` occurs in ``whole`` as whole words (as characters for Chinese)."""
    return part in whole if _CJK.search(part) else f" {part} " in f" {whole} "
