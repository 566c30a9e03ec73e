"""What a detector reports: a span of the original text, a rule, a message a learner understands, suggestions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from draftsmith.writing.edits import Category

Severity = Literal["error", "warning", "info"]


class Problem(BaseModel):
    """One problem found by a detector. ``text[start:end]`` of the checked text is ``flagged``."""

    start: int
    end: int
    flagged: str
    rule_id: str
    category: Category
    message: str
    suggestions: list[str] = Field(default_factory=list)
    severity: Severity = "warning"
    certain: bool = False  # the first suggestion is safe to apply without review
    line: int = 1
    column: int = 1
    suggestion_id: str | None = None  # set by the shell that shows it: answer with POST /v1/feedback


@dataclass(frozen=True)
class RuleInfo:
    """A rule as listed in SARIF output and ``--disable`` help: id, category, one-line description."""

    id: str
    category: Category
    description: str
    lang: str = "en"


RULES: dict[str, RuleInfo] = {}


def register(id: str, category: Category, description: str, lang: str = "en") -> RuleInfo:
    info = RuleInfo(id, category, description, lang)
    RULES[id] = info
    return info
