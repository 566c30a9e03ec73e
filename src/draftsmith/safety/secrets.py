"""Keeping secrets out of what the server answers and logs.

``scrub_secrets`` masks, in any text: draftsmith API keys (``ds_<id>_<secret>`` → ``ds_<id>_…``), bearer
tokens, ``sk-…`` style upstream keys, passwords in URLs (``user:***@``), and every value registered with
``remember`` (the upstream key, the database password) or found in the upstream-key environment variables.
The server runs error messages, model names and log records through it, because those are the places where
a secret can arrive from elsewhere: an upstream server that echoes the key it was sent, a model URL or a
database URL with a password in it.
"""

from __future__ import annotations

import os
import re
import threading
from urllib.parse import urlsplit

MIN_SECRET_CHARS = 8  # shorter values would mask ordinary words
KEY_ENV_VARS = ("OPENAI_API_KEY", "DRAFTSMITH_OPENAI_API_KEY")
MASK = "***"

_known: set[str] = set()
_lock = threading.Lock()
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bds_([0-9a-f]{12})_[A-Za-z0-9_-]{6,}"), r"ds_\1_…"),
    (re.compile(r"(?i)\b(bearer)(\s+)[^\s\"',;]{6,}"), rf"\1\2{MASK}"),
    (re.compile(r"\b(sk-(?:proj-|ant-)?)[A-Za-z0-9_-]{12,}"), rf"\1{MASK}"),
    (re.compile(r"(://[^/\s:@]*):[^/\s@]*@"), rf"\1:{MASK}@"),
]


def remember(*values: str | None) -> None:
    """Register secret values (keys, passwords) that must never be shown."""
    with _lock:
        _known.update(v for v in values if v and len(v) >= MIN_SECRET_CHARS)


def url_password(url: str | None) -> str | None:
    """The password in a URL such as ``postgresql://user:password@host/db``, if any."""
    if not url:
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def known_secrets() -> list[str]:
    """Registered values and the upstream keys in the environment, longest first."""
    env = (os.environ.get(name) for name in KEY_ENV_VARS)
    with _lock:
        values = _known | {v for v in env if v and len(v) >= MIN_SECRET_CHARS}
    return sorted(values, key=len, reverse=True)


def scrub_secrets(text: str) -> str:
    """``text`` with every secret it contains masked."""
    if not text:
        return text
    for value in known_secrets():
        if value in text:
            text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
