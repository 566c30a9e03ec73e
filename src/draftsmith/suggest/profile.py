"""The user's writing profile: habitual phrases, sentence lengths and punctuation, learned from their own files.

``learn_profile(files)`` counts word n-grams (characters for Chinese), the vocabulary, sentence lengths and
punctuation choices, and ``save()`` writes them to ``<data dir>/profile.json``. Autocomplete and word
suggestions use it to prefer the user's habitual phrasing: a phrase the user often writes is offered when
the text before the cursor starts it, candidates that contain the user's n-grams rank higher, and
suggestions follow the user's punctuation (… or ..., — or --, curly or straight quotes).
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from draftsmith import config
from draftsmith.errors import InputError
from draftsmith.languages import count_words, detect_language

PROFILE_FILE = "profile.json"
MAX_NGRAMS = 4000
MAX_VOCABULARY = 6000
MIN_COUNT = 2  # an n-gram seen once is not a habit
MAX_FILE_CHARS = 2_000_000

# One token: a Latin/Cyrillic word (with inner apostrophes or hyphens), a number, or one CJK character.
_TOKEN = re.compile(
    r"[A-Za-z0-9\u00c0-\u024f\u0400-\u04ff]+(?:['’\-][A-Za-z\u00c0-\u024f]+)*|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# N-grams never cross these: sentence ends, clause punctuation, brackets, quotes, line breaks.
_CLAUSE_BREAK = re.compile(r"[.!?;:,()\[\]{}\"“”«»「」『』。！？；：，、（）…—\n]+")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？…])[\"'”’」)]*\s+|(?<=[。！？])|\n{2,}")
_MARKS = {
    "comma": ",，",
    "semicolon": ";；",
    "colon": ":：",
    "exclamation": "!！",
    "question": "?？",
    "em_dash": "—",
    "parenthesis": "(（",
}


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; each CJK character is a token of its own."""
    return [t.lower() for t in _TOKEN.findall(text)]


def join_tokens(parts: Iterable[str]) -> str:
    """Tokens back into text: spaces between words, none around CJK characters."""
    out = ""
    for part in parts:
        if out and not (_CJK.match(part) or _CJK.match(out[-1])):
            out += " "
        out += part
    return out


class SentenceHabits(BaseModel):
    """Sentence length in words (characters for Chinese)."""

    count: int = 0
    mean: float = 0.0
    median: float = 0.0
    p90: float = 0.0


class PunctuationHabits(BaseModel):
    per_1000_words: dict[str, float] = Field(default_factory=dict)
    ellipsis: str | None = None  # "…" or "..."
    dash: str | None = None  # "—", "–" or "--"
    quotes: str | None = None  # "curly" or "straight"


class UserProfile(BaseModel):
    """What a user habitually writes. ``ngrams`` maps a phrase (tokens joined) to how often it occurs."""

    version: int = 1
    files: list[str] = Field(default_factory=list)
    words: int = 0
    language: str = "en"
    ngrams: dict[str, int] = Field(default_factory=dict)
    vocabulary: dict[str, int] = Field(default_factory=dict)
    sentences: SentenceHabits = Field(default_factory=SentenceHabits)
    punctuation: PunctuationHabits = Field(default_factory=PunctuationHabits)

    # -- using the profile -------------------------------------------------------------------------

    def completions(self, before: str, *, min_count: int = 3, limit: int = 3) -> list[tuple[str, int]]:
        """Habitual phrases that the end of ``before`` starts: (text to insert, how often the user wrote it).

        At least two tokens of context must match. A word still being typed counts both ways: as a
        fragment of the phrase's next word ("in a nut" → "shell") and as a finished word ("in a" → " nutshell").
        """
        tail = _CLAUSE_BREAK.split(before[-200:])[-1]
        toks = tokens(tail)
        if len(toks) < 2:
            return []
        typing = bool(re.search(r"[A-Za-z0-9\u00c0-\u024f\u0400-\u04ff'’\-]$", tail))
        readings = [(toks, "" if not tail[-1:].strip() or _CJK.match(tail[-1]) else " ", "")]
        if typing:
            readings.insert(0, (toks[:-1], "", toks[-1]))
        found: dict[str, int] = {}
        for phrase, count in self.ngrams.items():
            if count < min_count:
                continue
            words = tokens(phrase)
            for context, lead, partial in readings:
                text = _extend(words, context, lead, partial)
                if text:
                    found[text] = max(found.get(text, 0), count)
                    break
        ranked = sorted(found.items(), key=lambda item: (-item[1], -len(item[0])))
        kept: list[tuple[str, int]] = []
        for text, count in ranked:  # "所" adds nothing next to "所述"
            if not any(k.startswith(text) for k, _ in kept):
                kept.append((text, count))
        return kept[:limit]

    def phrase_bonus(self, before: str, candidate: str) -> float:
        """How much ``candidate`` (inserted after ``before``) sounds like the user: habitual n-grams it forms."""
        if not self.ngrams:
            return 0.0
        head = tokens(re.split(_CLAUSE_BREAK, before[-120:])[-1])[-3:]
        body = tokens(re.split(_CLAUSE_BREAK, candidate)[0])
        if not body:
            return 0.0
        seq = head + body
        bonus = 0.0
        for n in (4, 3, 2):
            for i in range(len(seq) - n + 1):
                if i + n <= len(head):
                    continue  # entirely before the cursor: not the candidate's doing
                count = self.ngrams.get(join_tokens(seq[i : i + n]), 0)
                if count >= MIN_COUNT:
                    bonus += math.log1p(count) * (n - 1) / 2
        return bonus

    def word_count(self, word: str) -> int:
        return self.vocabulary.get(word.lower(), 0)

    def apply_punctuation(self, text: str) -> str:
        """Rewrite a suggestion's ellipses, dashes and quotes the way the user writes them."""
        habits = self.punctuation
        if habits.ellipsis == "…":
            text = text.replace("...", "…")
        elif habits.ellipsis == "...":
            text = text.replace("…", "...")
        if habits.dash == "—":
            text = text.replace(" -- ", " — ").replace("--", "—")
        elif habits.dash == "--":
            text = text.replace("—", "--")
        if habits.quotes == "straight":
            text = text.translate(str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"}))
        elif habits.quotes == "curly":
            text = re.sub(r'(^|[\s(\[])"', r"\1“", text)
            text = text.replace('"', "”")
        return text

    # -- storage -----------------------------------------------------------------------------------

    def save(self, path: Path | None = None) -> Path:
        path = path or profile_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(self.model_dump_json(indent=1), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def summary(self) -> dict[str, object]:
        top = sorted(self.ngrams.items(), key=lambda item: -item[1])[:15]
        return {
            "files": len(self.files),
            "words": self.words,
            "language": self.language,
            "sentences": self.sentences.model_dump(),
            "punctuation": self.punctuation.model_dump(),
            "top_phrases": [{"phrase": p, "count": c} for p, c in top],
        }


def profile_path() -> Path:
    return config.data_dir() / PROFILE_FILE


def load_profile(path: Path | None = None) -> UserProfile | None:
    """The saved profile, or None when there is none; a damaged file is an InputError that says what to do."""
    path = path or profile_path()
    if not path.is_file():
        return None
    try:
        return UserProfile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise InputError(f"profile {path} is damaged ({type(exc).__name__}); run 'draftsmith profile clear'") from None


def clear_profile(path: Path | None = None) -> bool:
    path = path or profile_path()
    if path.is_file():
        path.unlink()
        return True
    return False


def learn_profile(files: list[Path], *, base: UserProfile | None = None) -> UserProfile:
    """Build a profile from the user's files (added to ``base``'s counts when given)."""
    if not files:
        raise InputError("name at least one file of your own writing to learn from")
    texts = []
    for path in files:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"{path} does not exist") from None
        except IsADirectoryError:
            raise InputError(f"{path} is a folder; name the files in it") from None
        except UnicodeDecodeError:
            raise InputError(f"{path} is not UTF-8 text") from None
        if "\x00" in text:
            raise InputError(f"{path} contains NUL bytes; it looks like a binary file, not text")
        texts.append(text[:MAX_FILE_CHARS])
    if not any(t.strip() for t in texts):
        raise InputError("the files are empty; there is nothing to learn from")
    return _learn(texts, [str(Path(p).resolve()) for p in files], base)


def learn_from_texts(texts: list[str], names: list[str] | None = None) -> UserProfile:
    """A profile from texts in memory (tests, the server)."""
    return _learn(texts, names or [f"text {i + 1}" for i in range(len(texts))], None)


def _learn(texts: list[str], names: list[str], base: UserProfile | None) -> UserProfile:
    ngrams: Counter[str] = Counter(base.ngrams if base else {})
    vocabulary: Counter[str] = Counter(base.vocabulary if base else {})
    lengths: list[int] = []
    marks: Counter[str] = Counter()
    words = base.words if base else 0
    joined = "\n\n".join(texts)
    for text in texts:
        words += count_words(text)
        for clause in _CLAUSE_BREAK.split(text):
            toks = tokens(clause)
            vocabulary.update(t for t in toks if not _CJK.match(t))
            for n in (2, 3, 4):
                for i in range(len(toks) - n + 1):
                    ngrams[join_tokens(toks[i : i + n])] += 1
        for sentence in _SENTENCE_END.split(text):
            n = count_words(sentence)
            if n:
                lengths.append(n)
        for name, chars in _MARKS.items():
            marks[name] += sum(text.count(c) for c in chars)
    frequent = [(p, c) for p, c in ngrams.most_common(MAX_NGRAMS) if c >= MIN_COUNT]
    per_k = 1000 / max(words, 1)
    ordered = sorted(lengths)
    sentences = SentenceHabits(
        count=len(lengths),
        mean=round(statistics.fmean(lengths), 2) if lengths else 0.0,
        median=float(statistics.median(lengths)) if lengths else 0.0,
        p90=float(ordered[int(0.9 * (len(ordered) - 1))]) if ordered else 0.0,
    )
    punctuation = PunctuationHabits(
        per_1000_words={k: round(v * per_k, 2) for k, v in sorted(marks.items())},
        ellipsis=_choice({"…": joined.count("…"), "...": joined.count("...")}),
        dash=_choice({"—": joined.count("—"), "–": joined.count(" – "), "--": joined.count("--")}),
        quotes=_choice(
            {
                "curly": sum(joined.count(c) for c in "“”"),
                "straight": joined.count('"'),
            }
        ),
    )
    return UserProfile(
        files=[*(base.files if base else []), *names],
        words=words,
        language=detect_language(joined),
        ngrams=dict(frequent),
        vocabulary=dict(vocabulary.most_common(MAX_VOCABULARY)),
        sentences=sentences,
        punctuation=punctuation,
    )


def _extend(words: list[str], context: list[str], lead: str, partial: str) -> str:
    """The rest of the phrase ``words`` after the longest (at least two-token) match with the end of ``context``."""
    for k in range(min(len(context), len(words) - 1), 1, -1):
        if words[:k] != context[-k:]:
            continue
        rest = words[k:]
        if not partial:
            return lead + join_tokens(rest)
        if rest[0].startswith(partial) and rest[0] != partial:
            return rest[0][len(partial) :] + ("" if len(rest) == 1 else " " + join_tokens(rest[1:]))
        return ""
    return ""


def _choice(counts: dict[str, int]) -> str | None:
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else None
