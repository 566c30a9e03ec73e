"""What the detectors learn from one user's answers: rules to mute and words to accept (like LanguageTool's
ignored rules and personal dictionary), applied wherever ``check`` and ``correct`` (hybrid, detectors) build
their detector results.

- A **rule is muted** for a user once they answered at least ``MUTE_MIN_ANSWERS`` of its suggestions and
  rejected at least ``MUTE_REJECT_SHARE`` (80%) of them. Spelling rules are never muted as a whole; they teach
  words instead.
- A **word joins the personal dictionary** when the user rejected a spelling flag on it at least
  ``WORD_MIN_REJECTS`` times and rejected at least 80% of the flags on it.

Both are recomputed from the stored answers, so ``draftsmith feedback purge`` forgets them, and accepting a
muted rule's suggestions elsewhere (the API, the editor) can lift the mute again.

The hook: ``checking.check.PERSONAL`` holds a provider for the current call (a context variable); a shell sets it
with ``applied(store, owner)`` (the server, per request) or ``use_local()`` (the command line, for the local user).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from pydantic import BaseModel

MUTE_MIN_ANSWERS = 5
MUTE_REJECT_SHARE = 0.8
WORD_MIN_REJECTS = 2
SPELLING_RULES = frozenset({"EN_SPELLING", "EN_NAME_CASE"})


class Personal(BaseModel):
    """One user's learned exceptions, with the counts behind them (for ``draftsmith feedback muted``)."""

    rules: dict[str, tuple[int, int]] = {}  # rule id -> (rejected, answered)
    words: dict[str, tuple[int, int]] = {}  # word -> (rejected, answered)

    @property
    def muted(self) -> frozenset[str]:
        return frozenset(self.rules)

    @property
    def dictionary(self) -> frozenset[str]:
        return frozenset(self.words)


def learn(suggestions: Sequence) -> Personal:
    """Muted rules and personal words from answered suggestions (``store.feedback.Suggestion``)."""
    rule_answers: Counter[str] = Counter()
    rule_rejects: Counter[str] = Counter()
    word_answers: Counter[str] = Counter()
    word_rejects: Counter[str] = Counter()
    for s in suggestions:
        if s.decision is None or not s.rule_id:
            continue
        rejected = s.decision == "reject"
        if s.rule_id in SPELLING_RULES:
            word = s.original.strip().lower()
            if word and len(word) <= 64 and " " not in word:
                word_answers[word] += 1
                word_rejects[word] += rejected
            continue
        rule_answers[s.rule_id] += 1
        rule_rejects[s.rule_id] += rejected
    rules = {
        r: (rule_rejects[r], n)
        for r, n in rule_answers.items()
        if n >= MUTE_MIN_ANSWERS and rule_rejects[r] >= MUTE_REJECT_SHARE * n
    }
    words = {
        w: (word_rejects[w], n)
        for w, n in word_answers.items()
        if word_rejects[w] >= WORD_MIN_REJECTS and word_rejects[w] >= MUTE_REJECT_SHARE * n
    }
    return Personal(rules=dict(sorted(rules.items())), words=dict(sorted(words.items())))


def personal(store, owner: str | None) -> Personal:
    from draftsmith.store import feedback as fb

    return learn(fb.answered(store, owner=owner))


@contextmanager
def applied(store, owner: str | None) -> Iterator[None]:
    """Within the block, detectors skip ``owner``'s muted rules and accept their words (read when a checker
    is built, so a block that builds none costs nothing)."""
    from draftsmith.checking.check import PERSONAL

    def provide() -> tuple[frozenset[str], frozenset[str]]:
        found = personal(store, owner)
        return found.muted, found.dictionary

    token = PERSONAL.set(provide)
    try:
        yield
    finally:
        PERSONAL.reset(token)


def use_local() -> Callable[[], None]:
    """Until the returned function is called: the local user's exceptions, from the configured store. An SQLite
    store that does not exist yet is not created (there is nothing to learn from); a store that cannot be opened
    leaves the detectors as they are."""
    from draftsmith.checking.check import PERSONAL

    def provide() -> tuple[frozenset[str], frozenset[str]]:
        from draftsmith.errors import DraftsmithError

        try:
            store = local_store(create=False)
            if store is None:
                return frozenset(), frozenset()
            found = personal(store, None)
        except DraftsmithError:
            return frozenset(), frozenset()
        return found.muted, found.dictionary

    token = PERSONAL.set(provide)
    return lambda: PERSONAL.reset(token)


def local_store(*, create: bool = True):
    """The configured store (None when ``create`` is false and the default SQLite file does not exist yet)."""
    from pathlib import Path

    import sqlalchemy as sa

    from draftsmith.store.db import default_url, open_store

    url = default_url()
    if not create:
        parsed = sa.engine.make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
            return None
    return open_store(url)
