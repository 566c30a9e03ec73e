"""Penn-Treebank-style tokenisation, the way JFLEG's text is written, and the way back to plain text.

JFLEG sources and references are pre-tokenised ("do n't", "today 's", a space before punctuation), and GLEU
compares whitespace-separated tokens, so a model's correction must be tokenised the same way before scoring,
or every contraction and comma counts as an error. The model itself should see ordinary text: ``detokenize``
turns a JFLEG line back into it, ``tokenize`` turns the model's answer into JFLEG's form.
"""

from __future__ import annotations

import re

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "`": "'"})
_NT = re.compile(r"(?i)(\w)(n't)\b")
_CLITIC = re.compile(r"(?i)(\w)('(?:s|re|ve|ll|d|m))\b")
_PUNCT = re.compile(r'(\.\.\.|[,;:!?()\[\]{}"%$&])')
_TRAILING_DOT = re.compile(r"^(.*[^.])\.$")
_SPACE = re.compile(r"\s+")


def tokenize(text: str) -> str:
    """Split contractions, clitics and punctuation off words: "I don't know, it's Bob's." → "I do n't know , it 's
    Bob 's ." Abbreviations with inner dots (U.S., e.g.) and decimals stay whole; hyphenated words stay whole."""
    text = text.translate(_QUOTES)
    text = _NT.sub(r"\1 \2", text)
    text = _CLITIC.sub(r"\1 \2", text)
    text = _PUNCT.sub(r" \1 ", text)
    tokens = []
    for token in text.split():
        m = _TRAILING_DOT.match(token)
        if m and "." not in m.group(1):  # a sentence end, not an abbreviation like "U.S." or "e.g."
            tokens.extend([m.group(1), "."])
        else:
            tokens.append(token)
    return " ".join(tokens)


def detokenize(text: str) -> str:
    """Undo PTB spacing: "I do n't know , it 's Bob 's ." → "I don't know, it's Bob's." """
    text = text.replace("``", '"').replace("''", '"')
    tokens = _SPACE.split(text.strip())
    out: list[str] = []
    open_quote = False
    attach_next = False
    for token in tokens:
        if not token:
            continue
        glue_left = False
        if token == '"':
            if open_quote:
                glue_left = True
            open_quote = not open_quote
        elif re.fullmatch(r"(?i)n't|'(?:s|re|ve|ll|d|m)|[.,;:!?%)\]}]|\.\.\.", token):
            glue_left = True
        if out and (glue_left or attach_next):
            out[-1] += token
        else:
            out.append(token)
        attach_next = token in ("(", "[", "{", "$") or (token == '"' and open_quote)
    return " ".join(out)
