"""translate: into another language, keeping Markdown structure and the user's terms.

Only the words are sent to the model. Code blocks, line prefixes (headings, list markers, quotes,
indentation), inline code and link targets stay in the document and are put back around the
translation, so the structure cannot be lost. Lines are translated in batches; a batch that comes
back with a different number of lines is retried line by line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from draftsmith.errors import InputError
from draftsmith.languages import check_language, detect_language, language_name
from draftsmith.models.base import Model
from draftsmith.prompts.registry import get_template
from draftsmith.writing.base import (
    MAX_INPUT_CHARS,
    OnText,
    Result,
    Tally,
    check_text,
    clean_output,
    run_template,
    template_params,
)

BATCH_CHARS = 1000
_FENCE = re.compile(r"^\s*(```|~~~)")
_PREFIX = re.compile(r"^(\s*(?:>\s*)*(?:#{1,6}\s+|[-*+]\s+(?:\[[ xX]\]\s+)?|\d{1,3}[.)]\s+)?)")
# Inline code, link/image targets, autolinks, bare URLs, HTML tags: kept out of the model's reach.
_PROTECT = re.compile(
    r"`[^`\n]+`|\]\([^)\s]+(?:\s+\"[^\"]*\")?\)|<https?://[^>]+>|https?://[^\s)\]]+|</?[a-zA-Z][^>]*>"
)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_HR = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")


@dataclass
class Line:
    prefix: str
    content: str  # with placeholders ⟦n⟧
    protected: list[str] = field(default_factory=list)
    suffix: str = ""


def _protect(content: str) -> tuple[str, list[str]]:
    saved: list[str] = []

    def keep(m: re.Match[str]) -> str:
        saved.append(m.group(0))
        # A link target keeps its "]" so the link text stays translatable before it.
        return ("]" if m.group(0).startswith("](") else "") + f"⟦{len(saved) - 1}⟧"

    return _PROTECT.sub(keep, content), saved


def _restore(text: str, saved: list[str]) -> tuple[str, bool]:
    ok = True
    for i, original in enumerate(saved):
        mark = f"⟦{i}⟧"
        value = original[1:] if original.startswith("](") else original
        if mark in text:
            text = text.replace(mark, value, 1)
        else:
            ok = False
            text = f"{text} {value}"
    return re.sub(r"⟦\d+⟧", "", text), ok


def parse_lines(text: str) -> list[Line | str]:
    """Each line becomes a Line to translate, or stays a plain string (code, blank, rules)."""
    out: list[Line | str] = []
    in_code = False
    for raw in text.split("\n"):
        if _FENCE.match(raw):
            in_code = not in_code
            out.append(raw)
            continue
        if in_code or not raw.strip() or _TABLE_RULE.match(raw) or _HR.match(raw):
            out.append(raw)
            continue
        prefix = _PREFIX.match(raw).group(1)
        body = raw[len(prefix) :]
        stripped = body.rstrip()
        content, saved = _protect(stripped)
        if not re.search(r"[^\W\d_]", re.sub(r"⟦\d+⟧", "", content)):
            out.append(raw)  # nothing to translate (numbers, a bare link)
            continue
        out.append(Line(prefix=prefix, content=content, protected=saved, suffix=body[len(stripped) :]))
    return out


def translate(
    model: Model,
    text: str,
    *,
    to: str,
    source: str | None = None,
    glossary: dict[str, str] | None = None,
    template: str = "translate",
    temperature: float | None = 0.2,
    on_text: OnText | None = None,
    max_chars: int = MAX_INPUT_CHARS,
) -> Result:
    check_text(text, max_chars=max_chars)
    target = check_language(to)
    src = check_language(source) if source else detect_language(text)
    if src == target and not source:
        raise InputError(f"the text already looks like {language_name(target)}; pass --from to force a translation")
    tpl = get_template(template)
    terms = [f"{k} => {v}" for k, v in (glossary or {}).items()]
    base = {"lang": target, "language": language_name(target), "source_language": language_name(src), "glossary": terms}
    tally = Tally()
    warnings: list[str] = []
    lines = parse_lines(text)
    todo = [i for i, line in enumerate(lines) if isinstance(line, Line)]
    translated: dict[int, str] = {}
    emitted = 0

    def ask(contents: list[str]) -> list[str]:
        joined = "\n".join(contents)
        params = template_params(tpl, temperature, max_tokens=int(model.count_tokens(joined) * 3) + 64)
        out = clean_output(run_template(model, tpl, {**base, "text": joined}, params, None, tally).text, joined)
        return [ln for ln in out.split("\n") if ln.strip()]

    for batch in _batches(lines, todo):
        contents = [lines[i].content for i in batch]  # type: ignore[union-attr]
        result = ask(contents)
        if len(result) != len(batch):
            result = [" ".join(ask([c])) for c in contents] if len(batch) > 1 else [" ".join(result)]
        for i, out in zip(batch, result, strict=True):
            line = lines[i]
            assert isinstance(line, Line)
            restored, ok = _restore(_strip_marker(out.strip(), line.prefix), line.protected)
            if not ok:
                warnings.append(f"line {i + 1}: link or code placement may have moved")
            translated[i] = line.prefix + restored + line.suffix
        if on_text:
            upto = batch[-1] + 1
            on_text("\n".join(_render(lines[j], translated, j) for j in range(emitted, upto)) + "\n")
            emitted = upto
    final = "\n".join(_render(line, translated, i) for i, line in enumerate(lines))
    for term, wanted in (glossary or {}).items():
        if term.lower() in text.lower() and wanted.lower() not in final.lower():
            warnings.append(f"glossary: {term!r} should be translated as {wanted!r}, which the translation lacks")
    if on_text and emitted < len(lines):
        on_text("\n".join(_render(lines[j], translated, j) for j in range(emitted, len(lines))))
    return tally.result(
        Result,
        model,
        operation="translate",
        text=final,
        language=target,
        template=tpl.name,
        segments=len(todo),
        warnings=warnings,
    )


def _render(line: Line | str, translated: dict[int, str], index: int) -> str:
    return line if isinstance(line, str) else translated[index]


def _strip_marker(out: str, prefix: str) -> str:
    """Drop a list/heading marker the model repeated although it was not sent."""
    if prefix.strip():
        marker = prefix.strip()
        if out.startswith(marker + " "):
            return out[len(marker) + 1 :]
    return out


def _batches(lines: list[Line | str], todo: list[int]) -> list[list[int]]:
    batches: list[list[int]] = []
    size = 0
    for i in todo:
        n = len(lines[i].content)  # type: ignore[union-attr]
        if batches and size + n <= BATCH_CHARS and i - batches[-1][-1] <= 3:
            batches[-1].append(i)
            size += n
        else:
            batches.append([i])
            size = n
    return batches
