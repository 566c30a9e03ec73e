"""Shared fixtures. Every test runs in its own DRAFTSMITH_HOME, so no test reads or writes the user's config.

The assembled-model cache (DRAFTSMITH_MODEL_CACHE) is left alone on purpose: it is shared by design, and
model fixtures reuse it instead of assembling a gigabyte per test run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from draftsmith.config import ENV_PREFIX, Settings

# -- isolation ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def draftsmith_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty DRAFTSMITH_HOME; no DRAFTSMITH_<SETTING> from the caller's shell leaks in."""
    home = tmp_path / "draftsmith-home"
    home.mkdir()
    monkeypatch.setenv(ENV_PREFIX + "HOME", str(home))
    for name in Settings.model_fields:  # DRAFTSMITH_MODEL, DRAFTSMITH_TEMPERATURE, ...
        monkeypatch.delenv(ENV_PREFIX + name.upper(), raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return home


# -- models ---------------------------------------------------------------------------------------
# Tests that need no real model use draftsmith.models.fake.FakeModel directly or ``--model fake``.


# -- long texts -----------------------------------------------------------------------------------

_WORDS = str.split(
    "the a river town morning teacher students library garden window quiet bright small old new careful "
    "report letter market bridge evening rain summer winter travel read write walk open close build "
    "carry bring find keep notice remember answer question story picture music kitchen table road hill "
    "friend neighbour family city village station train light paper pencil clock coffee bread apple"
)


def _english(seed: int, words: int) -> str:
    """Deterministic multi-paragraph English prose with quotes, numbers, abbreviations and odd layout."""
    import random

    rng = random.Random(seed)
    paragraphs, count = [], 0
    while count < words:
        sentences = []
        for _ in range(rng.randint(3, 9)):
            body = [rng.choice(_WORDS) for _ in range(rng.randint(5, 25))]
            if rng.random() < 0.3:
                body.insert(rng.randint(1, len(body) - 1), rng.choice(["3.5", "e.g.", "No. 7", "(twice)"]))
            if rng.random() < 0.4:
                body[rng.randint(0, len(body) - 2)] += ","
            text = " ".join(body)
            text = text[0].upper() + text[1:] + rng.choice([".", ".", ".", "?", "!", "…"])
            if rng.random() < 0.1:
                text = f'"{text}" she said.'
            sentences.append(text)
            count += len(text.split())
        paragraphs.append(" ".join(sentences))
    # A run-on sentence far longer than any segment, and a paragraph laid out as short lines.
    paragraphs.insert(3, " ".join(rng.choice(_WORDS) for _ in range(450)) + ".")
    paragraphs.insert(6, "\n".join(" ".join(rng.choice(_WORDS) for _ in range(6)) for _ in range(40)))
    return "\n\n".join(paragraphs) + "\n"


_PHRASES = str.split(
    "今天早上下了一场小雨 我们在图书馆里读书 老师给学生讲了一个故事 城市的街道很安静 他把信放在桌子上 "
    "火车站旁边有一家面包店 孩子们在公园里放风筝 她每天晚上都写日记 这座桥已经有一百年的历史 村子里的人都很热情"
)


def _chinese(seed: int, chars: int) -> str:
    """Deterministic Chinese prose: full-width punctuation, no spaces, indented paragraphs, one run-on."""
    import random

    rng = random.Random(seed)
    paragraphs, count = [], 0
    while count < chars:
        sentences = []
        for _ in range(rng.randint(2, 8)):
            clauses = [rng.choice(_PHRASES) for _ in range(rng.randint(1, 4))]
            sentence = "，".join(clauses) + rng.choice(["。", "。", "！", "？", "；"])
            if rng.random() < 0.1:
                sentence = f"“{sentence}”他说。"
            sentences.append(sentence)
        paragraph = ("　　" if rng.random() < 0.5 else "") + "".join(sentences)
        paragraphs.append(paragraph)
        count += len(paragraph)
    paragraphs.insert(2, "，".join(rng.choice(_PHRASES) for _ in range(200)))  # no sentence end at all
    return "\n\n".join(paragraphs)


@pytest.fixture(scope="session")
def english_5000() -> str:
    """About 5,000 words of English in many paragraphs."""
    return _english(seed=7, words=4300)


@pytest.fixture(scope="session")
def chinese_long() -> str:
    """About 20,000 characters of Chinese in many paragraphs."""
    return _chinese(seed=11, chars=20_000)
