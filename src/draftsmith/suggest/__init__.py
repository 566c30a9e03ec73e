"""Suggestions while writing: autocomplete at the cursor, alternative words, and the user's writing profile."""

from draftsmith.suggest.autocomplete import AutocompleteSession, Suggestion, SuggestResult
from draftsmith.suggest.profile import UserProfile, clear_profile, learn_profile, load_profile
from draftsmith.suggest.words import WordCandidate, WordsResult, suggest_words

__all__ = [
    "AutocompleteSession",
    "SuggestResult",
    "Suggestion",
    "UserProfile",
    "WordCandidate",
    "WordsResult",
    "clear_profile",
    "learn_profile",
    "load_profile",
    "suggest_words",
]
