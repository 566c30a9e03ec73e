"""Autocomplete at the cursor: short continuations, fast enough to show while the user types.

An ``AutocompleteSession`` belongs to one open document. Each ``feed(text, cursor)`` (one per keystroke)
returns up to ``n`` suggestions, cheaply:

- The model continues the document itself as raw text (no chat template), and the window of text it sees
  starts at a fixed place, so llama.cpp keeps the KV cache of everything up to the last edit and each
  keystroke evaluates only the few new tokens.
- When the typed characters are the start of a shown suggestion, the suggestion is shifted, not regenerated.
- A newer ``feed`` (or ``cancel()``) stops the generation in flight at its next token.
- Suggestions end at a word or sentence boundary, keep the document's language, and never repeat the text
  after the cursor. With a user profile, habitual phrases are offered and preferred.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

from draftsmith.errors import InputError
from draftsmith.languages import detect_language, is_cjk
from draftsmith.models.base import GenParams, Model, Usage
from draftsmith.suggest.profile import UserProfile

OnSuggestions = Callable[[list["Suggestion"]], None]

DEFAULT_TOKENS = 8
CONTEXT_TOKENS = 2048  # the most document the model sees before the cursor
_WORD_CHAR = re.compile(r"[\w\u00c0-\u024f]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_SENTENCE_END = re.compile(r"(?:[.!?](?=\s|$)|[。！？…])[\"'”’」』)\]]*")
_BREAK = re.compile(r"\n|(?<=[.!?。！？])\s+")


class Suggestion(BaseModel):
    """Text to insert at the cursor."""

    text: str
    source: Literal["model", "profile"] = "model"
    score: float = 0.0  # higher is better; profile bonuses included
    suggestion_id: str | None = None  # set by the shell that shows it: answer with POST /v1/feedback


class SuggestResult(BaseModel):
    suggestions: list[Suggestion] = Field(default_factory=list)
    cursor: int
    language: str
    model: str
    shifted: bool = False  # served by shifting the previous suggestions: no model call
    cancelled: bool = False  # a newer keystroke (or cancel()) stopped this one
    skipped: str | None = None  # why there is nothing to suggest here
    usage: Usage = Field(default_factory=Usage)
    first_suggestion_ms: float | None = None
    total_ms: float = 0.0


class AutocompleteSession:
    """Suggestions for one document, with state kept across keystrokes. Thread-safe; one model call at a time."""

    def __init__(
        self,
        model: Model,
        *,
        n: int = 3,
        max_tokens: int = DEFAULT_TOKENS,
        profile: UserProfile | None = None,
        lang: str | None = None,
        context_tokens: int = CONTEXT_TOKENS,
        temperature: float = 0.8,
        seed: int = 0,
    ) -> None:
        if not 1 <= n <= 10:
            raise InputError("ask for 1 to 10 suggestions")
        if not 1 <= max_tokens <= 128:
            raise InputError("a suggestion is 1 to 128 tokens long")
        self.model = model
        self.n = n
        self.max_tokens = max_tokens
        self.profile = profile
        self.lang = lang
        self.context_tokens = max(64, min(context_tokens, getattr(model, "n_ctx", 8192) - max_tokens - 16))
        self.temperature = temperature
        self.seed = seed
        self._lock = threading.Lock()
        self._generation = 0
        self._anchor = 0  # where the model's window starts; fixed while it fits, so the KV cache stays valid
        self._last_prefix: str | None = None
        self._last: list[Suggestion] = []

    # -- the public surface ------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop the generation in flight (its ``feed`` returns what it has, marked cancelled)."""
        with self._lock:
            self._generation += 1

    def reset(self) -> None:
        """Forget the shown suggestions (e.g. the document was replaced)."""
        with self._lock:
            self._generation += 1
            self._last_prefix, self._last, self._anchor = None, [], 0

    def feed(
        self, text: str, cursor: int | None = None, *, on_suggestions: OnSuggestions | None = None
    ) -> SuggestResult:
        """Suggestions for ``text`` with the cursor at ``cursor`` (characters; default: the end).

        ``on_suggestions`` is called each time the list grows, so an editor can show the first
        suggestion while the others are still being generated.
        """
        start = time.perf_counter()
        prefix, suffix = _split(text, cursor)
        with self._lock:
            self._generation += 1
            generation = self._generation
        lang = self.lang or detect_language(prefix[-2000:] + suffix[:200])
        result = SuggestResult(cursor=len(prefix), language=lang, model=self.model.name)
        if not prefix.strip():
            result.skipped = "nothing before the cursor to continue"
        elif suffix[:1] and _WORD_CHAR.match(suffix[0]) and _WORD_CHAR.match(prefix[-1]) and not _CJK.match(suffix[0]):
            result.skipped = "the cursor is inside a word"
        if result.skipped:
            return self._finish(result, start, generation, prefix, [])
        shifted = self._shift(prefix, suffix)
        if shifted:
            result.shifted = True
            result.suggestions = shifted
            result.first_suggestion_ms = (time.perf_counter() - start) * 1000
            if on_suggestions:
                on_suggestions(list(shifted))
            return self._finish(result, start, generation, prefix, shifted)
        found: list[Suggestion] = []

        def publish(item: Suggestion) -> None:
            if any(s.text == item.text for s in found):
                return
            found.append(item)
            found.sort(key=lambda s: -s.score)
            if result.first_suggestion_ms is None:
                result.first_suggestion_ms = (time.perf_counter() - start) * 1000
            if on_suggestions:
                on_suggestions(list(found[: self.n]))

        for phrase in self._profile_phrases(prefix, suffix, lang):
            publish(phrase)
        window = self._window(prefix)
        body = window.rstrip(" \t")
        pad = window[len(body) :]
        if not body.strip():
            result.skipped = "nothing before the cursor to continue"
            return self._finish(result, start, generation, prefix, found)
        attempts = 0
        while len([s for s in found if s.source == "model"]) < self.n and attempts < self.n + 1:
            params = GenParams(
                max_tokens=self.max_tokens,
                temperature=0.0 if attempts == 0 else self.temperature,
                top_k=40,
                top_p=0.95,
                repeat_penalty=1.0,
                seed=self.seed + attempts,
                stop=["\n"],
            )
            attempts += 1
            raw, finish = self._decode(body, params, generation, result.usage)
            if raw is None:
                result.cancelled = True
                break
            text = self._clean(raw, finish, pad, prefix, suffix, lang)
            if text:
                publish(Suggestion(text=text, score=self._bonus(prefix, text) - 0.01 * attempts))
        result.suggestions = found[: self.n]
        return self._finish(result, start, generation, prefix, result.suggestions)

    # -- steps ------------------------------------------------------------------------------------

    def _finish(
        self, result: SuggestResult, start: float, generation: int, prefix: str, shown: list[Suggestion]
    ) -> SuggestResult:
        with self._lock:
            if generation == self._generation and not result.cancelled:
                self._last_prefix, self._last = prefix, list(shown)
        result.total_ms = (time.perf_counter() - start) * 1000
        return result

    def _shift(self, prefix: str, suffix: str) -> list[Suggestion]:
        """The previous suggestions minus what was typed since, when the typing matches them."""
        last, shown = self._last_prefix, self._last
        if last is None or not shown or not prefix.startswith(last):
            return []
        typed = prefix[len(last) :]
        out = []
        for s in shown:
            if s.text.startswith(typed):
                rest = _drop_repeat(s.text[len(typed) :], suffix)
                if rest.strip() and (typed or rest == s.text):
                    out.append(s.model_copy(update={"text": rest}))
        return out

    def _window(self, prefix: str) -> str:
        """The document text the model sees: from a stable anchor up to the cursor, within the token budget.

        The anchor moves only when the window outgrows the budget (or the text before it is deleted), so
        consecutive keystrokes share their token prefix and the KV cache stays valid.
        """
        anchor = self._anchor
        if anchor <= len(prefix) and self.model.count_tokens(prefix[anchor:]) <= self.context_tokens:
            return prefix[anchor:]
        if self.model.count_tokens(prefix) <= self.context_tokens:
            self._anchor = 0
            return prefix
        # Re-anchor so the window holds about 3/4 of the budget, leaving room to type before the next move.
        sample = prefix[-4000:]
        chars_per_token = len(sample) / max(self.model.count_tokens(sample), 1)
        start = max(len(prefix) - int(self.context_tokens * 0.75 * chars_per_token), 0)
        found = _BREAK.search(prefix, start, min(start + 600, len(prefix)))
        if found and found.end() < len(prefix):
            start = found.end()
        while start < len(prefix) - 1 and self.model.count_tokens(prefix[start:]) > self.context_tokens:
            start += max((len(prefix) - start) // 8, 1)
        self._anchor = start
        return prefix[start:]

    def _decode(self, body: str, params: GenParams, generation: int, usage: Usage) -> tuple[str | None, str]:
        """One streamed completion; None when a newer keystroke or cancel() arrived meanwhile."""
        parts: list[str] = []
        finish = "stop"
        chunks = self.model.stream_text(body, params)
        try:
            for chunk in chunks:
                if self._generation != generation:
                    return None, "cancelled"
                parts.append(chunk.text)
                if chunk.usage:
                    usage.prompt_tokens += chunk.usage.prompt_tokens
                    usage.completion_tokens += chunk.usage.completion_tokens
                    usage.cached_tokens += chunk.usage.cached_tokens
                finish = chunk.finish_reason or finish
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        return "".join(parts), finish

    def _clean(self, raw: str, finish: str, pad: str, prefix: str, suffix: str, lang: str) -> str:
        """A raw continuation cut to a usable suggestion, or '' when there is none."""
        text = raw.split("\n", 1)[0]
        if pad:  # the user typed the space already: the continuation must start with one
            if not text[:1].isspace():
                return ""
            text = text.lstrip(" \t")
        cjk = is_cjk(lang)
        end = _SENTENCE_END.search(text)
        if end:
            text = text[: end.end()]
        elif finish == "length" and not cjk and not _CJK.search(text[-1:] or "x"):
            cut = max(text.rstrip().rfind(" "), 0)  # the last word may be cut short: drop it
            if text[:cut].strip():
                text = text[:cut]
        text = text.rstrip()
        if cjk and len(_CJK.findall(prefix[-200:])) > 20 and text.strip() and not _CJK.search(text):
            return ""  # a Chinese document continued in another script: not its voice
        text = _drop_repeat(text, suffix)
        if self.profile is not None:
            text = self.profile.apply_punctuation(text)
        return text if text.strip() else ""

    def _profile_phrases(self, prefix: str, suffix: str, lang: str) -> list[Suggestion]:
        if self.profile is None:
            return []
        out = []
        for phrase, _count in self.profile.completions(prefix):
            text = _drop_repeat(phrase, suffix)
            if text.strip():
                out.append(Suggestion(text=text, source="profile", score=1.0 + self._bonus(prefix, text)))
        return out

    def _bonus(self, prefix: str, text: str) -> float:
        return self.profile.phrase_bonus(prefix, text) if self.profile is not None else 0.0


def _split(text: str, cursor: int | None) -> tuple[str, str]:
    if not isinstance(text, str):
        raise InputError("the document must be text")
    if "\x00" in text:
        raise InputError("the document contains NUL bytes; it looks like a binary file, not text")
    if cursor is None:
        cursor = len(text)
    if isinstance(cursor, bool) or not isinstance(cursor, int):
        raise InputError(f"cursor must be a whole number of characters, got {cursor!r}")
    if not 0 <= cursor <= len(text):
        raise InputError(f"cursor {cursor} is outside the text (0 to {len(text)} characters)")
    return text[:cursor], text[cursor:]


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def _drop_repeat(text: str, suffix: str) -> str:
    """Cut the part of a suggestion that repeats the text right after the cursor."""
    after = _norm(suffix.split("\n", 1)[0])
    if not after or not text.strip():
        return text
    if after.startswith(_norm(text)):
        return ""  # the whole suggestion is already there
    first = after.split(" ", 1)[0]
    if _norm(text).split(" ", 1)[0] == first and _WORD_CHAR.match(first[:1] or " "):
        return ""  # starts with the word that follows: it would stutter
    starts = [m.start() for m in re.finditer(r"\S+", text)] if not _CJK.search(text) else range(len(text))
    for i in starts:
        tail = _norm(text[i:])
        if tail and after.startswith(tail) and (len(tail) > 1 or not tail.isalnum()):
            return text[:i].rstrip()
    return text
