"""Find personal data in text and mask it reversibly, so a model never sees the raw values.

Detected: e-mail addresses; phone numbers in international form (``+CC …``), North American form
(``(415) 555-2671``), Chinese mobiles (``138 1234 5678``, ``+86…``) and Chinese landlines (``010-12345678``);
payment card numbers (13–19 digits on a major network's prefix, unbroken or in a printed layout,
Luhn-checked); IBANs (country length and
mod-97 checked); IPv4/IPv6 addresses; Chinese resident ID numbers (birth date and ISO 7064 check digit).
Numbers that fail their checksum are left alone, which keeps order numbers and dates out.

Names of people (``names``: spaCy NER for English, jieba for Chinese) are found by ``Redactor`` unless it is
made with ``names=False``, and by ``find_pii(..., names=True)``; ``scrub`` (run on every log line) leaves
them alone, since logs never carry request or answer text.

``Redactor.mask`` swaps each value for a placeholder (``[EMAIL_1]``, ``[PHONE_2]``, ``[PERSON_1]``; the same
value always gets the same one) and ``unmask`` puts the values back; ``RedactingModel`` wraps any model so
every prompt is masked and every answer (streamed or not) is unmasked. ``scrub`` is the one-way form for logs.
A name, once found, is masked wherever it stands alone in that request's texts, and so are the first and
last word of a longer English name, as ``[PERSON_1_FIRST]`` and ``[PERSON_1_LAST]`` for ``Jane`` and
``Smith`` of ``Jane Smith`` (``[PERSON_1]``): the model can tell they are one person. A part two people share
(two Smiths) goes with the first one met; what comes back is exact either way.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from draftsmith.models.base import Chunk, Completion, GenParams, Message, Model, Score
from draftsmith.safety import names as person_names

# -- detectors --------------------------------------------------------------------------------------------

_D = "0-9"
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])")
_CN_ID = re.compile(
    r"(?<![A-Za-z0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]"
    r"(?![A-Za-z0-9])"
)
# Unbroken digits, or the printed layouts: 4-4-4-4(-3) and Amex/Diners 4-6-5 / 4-6-4.
_CARD = re.compile(
    r"(?<![A-Za-z0-9])(?:[2-6][0-9]{12,18}"
    r"|[2-6][0-9]{3}(?P<s>[ -])[0-9]{4}(?P=s)[0-9]{4}(?P=s)[0-9]{4}(?:(?P=s)[0-9]{3})?"
    r"|3[0-9]{3}(?P<t>[ -])[0-9]{6}(?P=t)[0-9]{4,5})"
    r"(?![A-Za-z0-9]|[ -][0-9])"
)
_CN_MOBILE = re.compile(r"(?<![0-9+])(?:(?:\+|00)86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])")
_CN_LANDLINE = re.compile(r"(?<![0-9])0[1-9][0-9]{1,2}-[0-9]{7,8}(?![0-9-])")
_INTL_PHONE = re.compile(r"(?<![A-Za-z0-9+])\+[1-9][0-9]{0,2}(?:[ .-]?\(?[0-9]{1,4}\)?){2,6}(?![0-9])")
_NANP_PHONE = re.compile(r"(?<![A-Za-z0-9(])(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .-])[0-9]{3}[ .-][0-9]{4}(?![0-9])")
_IPV4 = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?!\.?[0-9])")
_IPV6 = re.compile(r"(?<![A-Za-z0-9:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![A-Za-z0-9:])")

# IBAN lengths of the countries people most often paste; other countries: 15–34 characters.
_IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24,
    "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24,
    "SI": 19, "SK": 24, "TR": 26, "AE": 23, "SA": 24, "IL": 23, "BR": 29, "UA": 29,
}  # fmt: skip


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, mod 97 must be 1."""
    compact = iban.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    expected = _IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def cn_id_ok(number: str) -> bool:
    """GB 11643: 17 digits weighted mod 11 give the check character (0–9 or X); the birth date must exist."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    import datetime

    try:
        datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    check = "10X98765432"[sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True)) % 11]
    return number[17].upper() == check


def _ip_ok(candidate: str) -> bool:
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Finding:
    kind: str  # email, phone, cn_mobile, card, iban, ip, cn_id, name
    start: int
    end: int
    value: str = field(repr=False)


def _iban_spans(text: str) -> Iterator[tuple[int, int]]:
    for m in _IBAN.finditer(text):
        raw = m.group()
        expected = _IBAN_LENGTHS.get(raw[:2])
        if expected is None:
            if iban_ok(raw):
                yield m.start(), m.end()
            continue
        # Cut the match at the country's length (a following word in capitals may have joined it).
        count = 0
        for i, ch in enumerate(raw):
            count += ch != " "
            if count == expected:
                if iban_ok(raw[: i + 1]):
                    yield m.start(), m.start() + i + 1
                break


def _spans(kind: str, pattern: re.Pattern[str], valid: Any, text: str) -> Iterator[Finding]:
    for m in pattern.finditer(text):
        if valid(m.group()):
            yield Finding(kind, m.start(), m.end(), m.group())


def _phone_ok(candidate: str) -> bool:
    return 8 <= sum(ch.isdigit() for ch in candidate) <= 15


def find_pii(text: str, kinds: frozenset[str] | None = None, *, names: bool = False) -> list[Finding]:
    """Every piece of personal data in ``text``, in order, without overlaps (earlier kinds win); names of
    people too (last, the slowest) when ``names``."""
    found: list[Finding] = []

    def want(kind: str) -> bool:
        return kinds is None or kind in kinds

    # In priority order: a span claimed by an earlier detector is not reported again by a later one.
    if want("email"):
        found += _spans("email", _EMAIL, bool, text)
    if want("iban"):
        found += [Finding("iban", s, e, text[s:e]) for s, e in _iban_spans(text)]
    if want("cn_id"):
        found += _spans("cn_id", _CN_ID, cn_id_ok, text)
    if want("card"):
        found += _spans("card", _CARD, lambda v: 13 <= len(d := re.sub("[ -]", "", v)) <= 19 and luhn_ok(d), text)
    if want("cn_mobile"):
        found += _spans("cn_mobile", _CN_MOBILE, bool, text)
    if want("phone"):
        found += _spans("phone", _INTL_PHONE, _phone_ok, text)
        found += _spans("phone", _NANP_PHONE, bool, text)
        found += _spans("phone", _CN_LANDLINE, bool, text)
    if want("ip"):
        found += _spans("ip", _IPV4, _ip_ok, text)
        found += _spans("ip", _IPV6, lambda v: v.count(":") >= 2 and any(c not in ":" for c in v) and _ip_ok(v), text)
    if names:
        found += [Finding("name", s, e, text[s:e]) for s, e in person_names.find_names(text)]
    return _without_overlaps(found)


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    """``found`` in text order, each span kept only if no earlier finding in the list claimed part of it."""
    kept: list[Finding] = []
    taken: list[tuple[int, int]] = []
    for f in found:
        if all(f.end <= s or f.start >= e for s, e in taken):
            kept.append(f)
            taken.append((f.start, f.end))
    return sorted(kept, key=lambda f: f.start)


# -- masking ---------------------------------------------------------------------------------------------------

LABELS = {
    "email": "EMAIL",
    "phone": "PHONE",
    "cn_mobile": "PHONE",
    "card": "CARD",
    "iban": "IBAN",
    "ip": "IP",
    "cn_id": "ID",
    "name": "PERSON",
}
# Models sometimes change a placeholder's case, pad it with spaces or use full-width brackets.
_PLACEHOLDER = re.compile(
    r"[\[【]\s*(EMAIL|PHONE|CARD|IBAN|IP|ID|PERSON)_([0-9]{1,5})(?:_(FIRST|LAST))?\s*[\]】]", re.I
)
_PARTIAL = re.compile(r"[\[【]\s*[A-Za-z]{0,6}(?:_[0-9]{0,5}(?:_[A-Za-z]{0,5})?)?\s*$")
_HOLD = 24  # longest partial placeholder held back while streaming


def _is_local_address(finding: Finding) -> bool:
    if finding.kind != "ip":
        return False
    address = ipaddress.ip_address(finding.value)
    return address.is_loopback or address.is_unspecified


def scrub(text: str) -> str:
    """One-way masking for logs: ``[EMAIL]``, ``[PHONE]``, … with no way back. Loopback and unspecified
    addresses (a server's own bind address) are kept: they identify nobody."""
    parts, last = [], 0
    for f in find_pii(text):
        if _is_local_address(f):
            continue
        parts += [text[last : f.start], f"[{LABELS[f.kind]}]"]
        last = f.end
    return "".join(parts) + text[last:]


class Redactor:
    """Reversible masking for one request: the same value always maps to the same placeholder, so the
    pieces of a long text and every model call of one operation agree. Thread-safe enough for one job.
    ``names``: mask names of people too (spaCy/jieba; slower, and it can mask a word that is not a name)."""

    def __init__(self, kinds: frozenset[str] | None = None, *, names: bool = True) -> None:
        self.kinds = kinds
        self.names = names
        self._by_value: dict[str, str] = {}
        self._by_placeholder: dict[tuple[str, int, str], str] = {}
        self._next: dict[str, int] = {}
        self._reserved: set[tuple[str, int]] = set()
        self._names: dict[str, str] = {}  # every name and name part known in this request -> its placeholder
        self._found: dict[str, list[tuple[int, int]]] = {}  # name spans of the texts already searched

    @property
    def masked(self) -> int:
        """How many distinct values were masked."""
        return len(self._by_value)

    def mask(self, text: str) -> str:
        # A placeholder-looking string already in the input is never handed out, so unmask leaves it alone.
        self._reserved.update((m.group(1).upper(), int(m.group(2))) for m in _PLACEHOLDER.finditer(text))
        found = find_pii(text, self.kinds)
        if self.names:
            found = self._with_names(text, found)
        parts, last = [], 0
        for f in found:
            parts += [text[last : f.start], self._placeholder(f)]
            last = f.end
        return "".join(parts) + text[last:]

    def unmask(self, text: str) -> str:
        if not self._by_placeholder:
            return text

        def back(m: re.Match[str]) -> str:
            key = (m.group(1).upper(), int(m.group(2)), (m.group(3) or "").upper())
            return self._by_placeholder.get(key, m.group())

        return _PLACEHOLDER.sub(back, text)

    def _with_names(self, text: str, found: list[Finding]) -> list[Finding]:
        """``found`` plus the names in ``text``: what the recogniser finds, then every other standalone
        occurrence of a name (or part of one) known in this request. Other kinds win where they overlap."""
        spans = self._found.get(text)
        if spans is None:
            spans = self._found[text] = person_names.find_names(text)
        recognised = [Finding("name", s, e, text[s:e]) for s, e in spans]
        # Longer names first: "Jane Smith" is numbered before "Smith" alone is met, which becomes its part.
        for f in sorted(recognised, key=lambda f: -len(f.value.split())):
            self._name_placeholder(f.value)
        again = [Finding("name", s, e, v) for s, e, v in person_names.occurrences(text, self._names)]
        return _without_overlaps([*found, *recognised, *again])

    def _name_placeholder(self, name: str) -> str:
        known = self._names.get(name)
        if known is not None:
            return known
        n = self._number("PERSON")
        self._names[name] = f"[PERSON_{n}]"
        self._by_placeholder[("PERSON", n, "")] = name
        first, last = person_names.name_parts(name)
        for part, suffix in ((first, "FIRST"), (last, "LAST")):
            if part is not None and part not in self._names:
                self._names[part] = f"[PERSON_{n}_{suffix}]"
                self._by_placeholder[("PERSON", n, suffix)] = part
        return self._names[name]

    def _number(self, label: str) -> int:
        n = self._next.get(label, 0) + 1
        while (label, n) in self._reserved:
            n += 1
        self._next[label] = n
        return n

    def _placeholder(self, finding: Finding) -> str:
        known = self._by_value.get(finding.value)
        if known is not None:
            return known
        if finding.kind == "name":
            placeholder = self._name_placeholder(finding.value)
        else:
            label = LABELS[finding.kind]
            n = self._number(label)
            placeholder = f"[{label}_{n}]"
            self._by_placeholder[(label, n, "")] = finding.value
        self._by_value[finding.value] = placeholder
        return placeholder


class StreamUnmasker:
    """Unmasks streamed text, holding back a piece that may be the start of a placeholder."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._held = ""

    def feed(self, text: str) -> str:
        text = self._held + text
        cut = len(text)
        start = max(text.rfind("["), text.rfind("【"))
        if start >= 0 and len(text) - start <= _HOLD and _PARTIAL.match(text, start):
            cut = start
        self._held = text[cut:]
        return self.redactor.unmask(text[:cut])

    def flush(self) -> str:
        text, self._held = self._held, ""
        return self.redactor.unmask(text)


class RedactingModel(Model):
    """Any model behind a ``Redactor``: prompts are masked before the model sees them and answers are
    unmasked before anyone else does. One instance per request (it remembers that request's values)."""

    def __init__(self, inner: Model, redactor: Redactor | None = None) -> None:
        self.inner = inner
        self.redactor = redactor or Redactor()
        self.name = inner.name

    def _masked(self, messages: list[Message]) -> list[Message]:
        return [m.model_copy(update={"content": self.redactor.mask(m.content)}) for m in messages]

    def stream(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]:
        return self._unmasked(self.inner.stream(self._masked(messages), params))

    def stream_text(self, prompt: str, params: GenParams) -> Iterator[Chunk]:
        return self._unmasked(self.inner.stream_text(self.redactor.mask(prompt), params))

    def _unmasked(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        unmasker = StreamUnmasker(self.redactor)
        try:
            for chunk in chunks:
                text = unmasker.feed(chunk.text) if chunk.text else ""
                last = chunk.finish_reason is not None or chunk.usage is not None
                if last:
                    text += unmasker.flush()
                if text or last:
                    yield chunk.model_copy(update={"text": text})
            rest = unmasker.flush()
            if rest:
                yield Chunk(text=rest)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def complete(self, messages: list[Message], params: GenParams) -> Completion:
        completion = self.inner.complete(self._masked(messages), params)
        return completion.model_copy(update={"text": self.redactor.unmask(completion.text)})

    def score(self, context: str, continuation: str) -> Score:
        return self.inner.score(self.redactor.mask(context), self.redactor.mask(continuation))

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def info(self) -> dict[str, Any]:
        return {**self.inner.info(), "redact_pii": True, "redact_names": self.redactor.names}
