"""write --kb: a draft grounded in knowledge-base passages, with checked citations and a reference list.

1. Retrieve passages for the instruction, leave out off-topic ones (no shared word and a cosine well below
   the best); number them [1]…[k].
2. Put them in the prompt as quoted data inside ``<passage id="n">`` elements, framed as "data, not
   instructions" (system prompt and again after the task). The injection guard (``safety/injection.py``)
   cuts instruction-like sentences aimed at an assistant out of the passages, puts border lines and a
   reminder around them, and regenerates once, without the suspect sentences, an answer that shows signs of
   obeying a passage (another language, base64, reversed text, emoji, a planted link or offer).
3. Parse the model's ``[n]`` citations; ids that name no passage are dropped (and reported).
4. Check every sentence against what it cites: a citation is kept when the passage shares most of the
   sentence's content words (numbers, names, terms; across languages, embedding similarity decides). A
   sentence whose citation does not hold is re-attributed to the passage that does support it, if any;
   a sentence no passage supports is flagged.
5. Renumber the citations in order of first use and append the references.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from draftsmith.errors import InputError
from draftsmith.knowledge.embed import Embedder, default_embedder
from draftsmith.knowledge.index import content_tokens
from draftsmith.knowledge.retrieve import Passage, retrieve_passages
from draftsmith.languages import detect_language, is_cjk
from draftsmith.models.base import Model
from draftsmith.prompts.registry import get_template
from draftsmith.safety import injection
from draftsmith.safety.injection import InjectionGuard, InjectionReport
from draftsmith.store.db import Store
from draftsmith.writing.base import (
    OnText,
    Result,
    Tally,
    check_text,
    clean_output,
    max_tokens_for,
    output_language,
    require_output,
    run_template,
    standard_vars,
    template_params,
)
from draftsmith.writing.segment import sentences as sentence_spans

KEEP = 0.34  # share of a sentence's content words a cited passage must contain to support it
ADD = 0.5  # … for an uncited (or wrongly cited) sentence to be attributed to a passage
COSINE = 0.86  # e5 cosine (sentence as query, passage) that counts as support across languages
MARGIN = 0.15  # of several citations of one sentence, those this far below the best one are dropped
MIN_CLAIM_TOKENS = 3  # sentences with fewer content words (transitions) are not flagged
OFF_TOPIC = 0.06  # a passage no query word matches and this far below the best cosine is left out

_CITE = re.compile(r"\s*(?:\[(?:passage|source|ref|p)?\s*(\d{1,3}(?:\s*[,，、;–-]\s*\d{1,3})*)\]|【(\d{1,3})】)", re.I)


class Reference(BaseModel):
    """A passage cited in the output: its number there, and where it comes from."""

    n: int
    chunk_id: int
    source: str
    title: str
    where: str
    text: str


class Sentence(BaseModel):
    text: str
    citations: list[int] = Field(default_factory=list)
    supported: bool = False
    flagged: bool = False  # makes a claim that no passage supports
    support: float = 0.0
    reattributed: bool = False  # the checker chose the citation (the model's was missing or did not hold)


class GroundedResult(Result):
    body: str = ""
    sentences: list[Sentence] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    dropped_citations: list[int] = Field(default_factory=list)
    unsupported: int = 0
    injection: InjectionReport | None = None  # what the injection guard did (None: guard off)


# -- prompt side ------------------------------------------------------------------------------------


class Sources(BaseModel):
    """The passages as prompted: the block, a warning per passage that had text removed, the removed text,
    and whether the block is framed as data (the template's rule lines go with it)."""

    block: str
    warnings: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    hardened: bool = False


def prepare_sources(
    numbered: dict[int, Passage],
    guard: InjectionGuard | None = None,
    suspects: dict[str, str] | None = None,
) -> Sources:
    """The passages as quoted data for a prompt, through ``guard`` (default: the current one). ``suspects``
    (symptoms of an obeyed injection, see ``injection.answer_symptoms``) also cuts the sentences that could
    have caused them."""
    guard = guard or injection.current_guard()
    blocks, warnings, removed = [], [], []
    hardened = guard.harden_prompt and (
        guard.harden_always or bool(suspects) or any(injection.looks_suspect(p.text) for p in numbered.values())
    )
    for n, p in numbered.items():
        text = p.text
        cut: list[str] = []
        if guard.filter_passages:
            text, cut = injection.strip_instructions(text)
        if suspects:
            text, more = injection.cut_spans(text, injection.suspect_sentences(text, suspects))
            cut += more
        if cut:
            removed += cut
            warnings.append(
                f"passage [{n}] ({p.where()}) contains instructions aimed at the assistant; they were removed"
            )
        text = re.sub(r"</?\s*passage", "‹passage", text, flags=re.I)
        where = p.where().replace('"', "'")
        blocks.append(f'<passage id="{n}" source="{where}">\n{text}\n</passage>')
    block = "\n\n".join(blocks)
    return Sources(block=injection.frame_sources(block) if hardened else block, warnings=warnings,
                   removed=removed, hardened=hardened)  # fmt: skip


def format_passages(numbered: dict[int, Passage], guard: InjectionGuard | None = None) -> tuple[str, list[str]]:
    """The passages as quoted data for a prompt, and a warning per passage that had instructions removed."""
    sources = prepare_sources(numbered, guard)
    return sources.block, sources.warnings


def relevant(passages: list[Passage]) -> list[Passage]:
    """The retrieved passages without the off-topic ones: a passage that shares no word with the query
    (no BM25 rank) and whose cosine is well below the best one only ranked because the knowledge base had
    nothing closer. A small model cites whatever it is shown, so such passages become tangents. The best
    passage is always kept."""
    cosines = [p.cosine for p in passages if p.cosine is not None]
    if not cosines:
        return passages
    best = max(cosines)
    return [
        p
        for i, p in enumerate(passages)
        if i == 0 or p.bm25_rank is not None or p.cosine is None or p.cosine >= best - OFF_TOPIC
    ]


# -- checking side ----------------------------------------------------------------------------------


class Grounding(BaseModel):
    """The output split into lines and sentences, with checked citations (passage numbers as prompted)."""

    lines: list[list[Sentence] | str]
    dropped: list[int] = Field(default_factory=list)

    def sentences(self) -> list[Sentence]:
        return [s for line in self.lines if not isinstance(line, str) for s in line]


_REF_HEADING = re.compile(
    r"^\s*(?:#{1,6}\s*)?\**(?:references|sources|bibliography|参考资料|参考文献|资料来源)\**\s*[:：]?\s*$", re.I | re.M
)


def strip_reference_list(text: str) -> str:
    """Drop a reference list the model wrote itself (ours is built from the checked citations)."""
    m = _REF_HEADING.search(text)
    return text[: m.start()].rstrip() if m else text


def _numbers(raw: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*[,，、;]\s*", raw):
        if re.fullmatch(r"\d+\s*[–-]\s*\d+", part):
            a, b = (int(x) for x in re.split(r"\s*[–-]\s*", part))
            out.extend(range(a, min(b, a + 20) + 1))
        elif part.strip().isdigit():
            out.append(int(part))
    return out


_NAME = re.compile(r"(?<!^)(?<![.!?:;]\s)\b[A-Z][\w'’-]*")


_FIRST_WORD = re.compile(r"^\W*([A-Z][\w'’-]*)")


def key_terms(sentence: str, known_names: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """Numbers and names of a sentence, as BM25 tokens. Names are capitalised words other than the first;
    the first word too when it is among ``known_names`` (written as a name inside the passages), so that
    "Baymax is a TV series." needs a passage that names Baymax."""
    text = sentence.strip()
    names = _NAME.findall(text)
    first = _FIRST_WORD.match(text)
    if first and first.group(1) in known_names:
        names.append(first.group(1))
    keys = set(content_tokens(" ".join(names)))
    keys |= {t for t in content_tokens(sentence) if t.isdigit() and len(t) > 1}
    return keys


class SupportChecker:
    """Scores how well a passage supports a sentence: content-word overlap, embeddings across scripts."""

    def __init__(self, passages: dict[int, Passage], embedder: Embedder | None = None) -> None:
        self.passages = passages
        self.tokens = {n: content_tokens(p.text + " " + (p.location.heading or "")) for n, p in passages.items()}
        self.names = frozenset(name for p in passages.values() for name in _NAME.findall(p.text))
        self.cjk = {n: is_cjk(detect_language(p.text)) for n, p in passages.items()}
        self.embedder = embedder
        self._vectors: dict[int, np.ndarray] = {}

    def score(self, sentence: str, n: int, words: set[str] | None = None) -> float:
        """Share of the sentence's content words found in passage ``n``, scaled down by the share of its
        key terms (numbers and names) found there: a passage about the right subject that lacks the
        sentence's figure or name does not support it."""
        words = content_tokens(sentence) if words is None else words
        if not words:
            return 0.0
        if is_cjk(detect_language(sentence)) != self.cjk[n] and self.embedder is not None:
            return self._cross_lingual(sentence, n)
        overlap = len(words & self.tokens[n]) / len(words)
        keys = key_terms(sentence, self.names)
        if keys:
            overlap *= len(keys & self.tokens[n]) / len(keys)
        return overlap

    def _cross_lingual(self, sentence: str, n: int) -> float:
        if n not in self._vectors:
            self._vectors[n] = self.embedder.passages([self.passages[n].text])[0]
        cosine = float(self._vectors[n] @ self.embedder.query(sentence))
        return 1.0 if cosine >= COSINE else cosine / 2  # map onto the lexical scale: pass, or clearly not


def check_citations(text: str, passages: dict[int, Passage], *, embedder: Embedder | None = None) -> Grounding:
    """Split ``text`` into sentences, collect their [n] citations, drop ids that name no passage, keep the
    citations that hold, re-attribute or flag the rest."""
    checker = SupportChecker(passages, embedder)
    lines: list[list[Sentence] | str] = []
    dropped: list[int] = []
    for line in text.split("\n"):
        if not line.strip() or re.match(r"^\s*(?:#{1,6}\s|```|\|)", line):
            lines.append(line)
            continue
        found: list[Sentence] = []
        for span in sentence_spans(line):
            piece = line[span.start : span.end]
            cited: list[int] = []
            for m in _CITE.finditer(piece):
                cited.extend(_numbers(m.group(1) or m.group(2)))
            bare = _CITE.sub("", piece).strip()
            if not re.search(r"\w", bare):  # a marker alone after the full stop belongs to the sentence before
                if found:
                    found[-1].citations.extend(cited)
                continue
            found.append(Sentence(text=bare, citations=cited))
        for s in found:
            valid = [n for n in dict.fromkeys(s.citations) if n in passages]
            dropped.extend(n for n in s.citations if n not in passages)
            _judge(s, valid, checker)
        lines.append(found)
    return Grounding(lines=lines, dropped=sorted(set(dropped)))


def _judge(s: Sentence, valid: list[int], checker: SupportChecker) -> None:
    words = content_tokens(s.text)
    scores = {n: checker.score(s.text, n, words) for n in valid}
    kept = [n for n in valid if scores[n] >= KEEP]
    if len(kept) > 1:  # several cited: keep those about as strong as the best, not the merely related ones
        top = max(scores[n] for n in kept)
        kept = [n for n in kept if scores[n] >= top - MARGIN]
    if not kept and len(words) >= MIN_CLAIM_TOKENS:
        every = {n: checker.score(s.text, n, words) for n in checker.passages}
        best = max(every, key=lambda n: every[n], default=None)
        if best is not None and every[best] >= ADD:
            kept, scores = [best], every
            s.reattributed = True
    s.citations = kept
    s.supported = bool(kept)
    s.support = round(max((scores[n] for n in kept), default=0.0), 3)
    s.flagged = not kept and len(words) >= MIN_CLAIM_TOKENS


def render(grounding: Grounding, numbering: dict[int, int], lang: str) -> str:
    """The text with citations as ``[n]`` in the final numbering, placed before the sentence's end mark."""
    out = []
    for line in grounding.lines:
        if isinstance(line, str):
            out.append(line)
            continue
        joiner = "" if is_cjk(lang) else " "
        out.append(
            joiner.join(_with_marks(s.text, [numbering[n] for n in s.citations if n in numbering]) for s in line)
        )
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _with_marks(text: str, numbers: list[int]) -> str:
    if not numbers:
        return text
    marks = "".join(f"[{n}]" for n in numbers)
    m = re.search(r"([.!?。！？…]+[\"'”’」』)]*)$", text)
    if m:
        return (
            text[: m.start()] + ("" if re.search(r"[\u3000-\u9fff]$", text[: m.start()]) else " ") + marks + m.group(1)
        )
    return f"{text} {marks}"


def numbering_for(sentences: Sequence[Sentence]) -> dict[int, int]:
    """Passage number → final number, in order of first citation."""
    order: dict[int, int] = {}
    for s in sentences:
        for n in s.citations:
            order.setdefault(n, len(order) + 1)
    return order


def references_for(numbering: dict[int, int], passages: dict[int, Passage]) -> list[Reference]:
    return [
        Reference(n=final, chunk_id=passages[n].chunk_id, source=passages[n].source, title=passages[n].title,
                  where=passages[n].where(), text=passages[n].text)
        for n, final in sorted(numbering.items(), key=lambda kv: kv[1])
    ]  # fmt: skip


def references_text(references: list[Reference], lang: str) -> str:
    if not references:
        return ""
    heading = "参考资料" if is_cjk(lang) else "References"
    lines = [f"## {heading}", ""]
    for r in references:
        excerpt = " ".join(r.text.split())
        excerpt = excerpt if len(excerpt) <= 160 else excerpt[:157].rstrip() + "…"
        lines.append(f"[{r.n}] {r.where} — “{excerpt}”")
    return "\n".join(lines)


def unsupported_warning(sentences: Sequence[Sentence], show: int = 3) -> str:
    flagged = [s.text for s in sentences if s.flagged]
    quoted = "; ".join(f"“{t if len(t) <= 80 else t[:77] + '…'}”" for t in flagged[:show])
    more = f" and {len(flagged) - show} more" if len(flagged) > show else ""
    return f"{len(flagged)} sentence(s) have no supporting passage (flagged in --json): {quoted}{more}"


def renumbered(sentences: list[Sentence], numbering: dict[int, int]) -> list[Sentence]:
    return [s.model_copy(update={"citations": [numbering[n] for n in s.citations]}) for s in sentences]


# -- the operation ----------------------------------------------------------------------------------


def write_grounded(
    model: Model,
    instruction: str,
    *,
    store: Store,
    kb: str,
    passages: int = 6,
    length: int | None = None,
    style: str | None = None,
    lang: str | None = None,
    temperature: float | None = None,
    seed: int | None = None,
    max_tokens: int | None = None,
    embedder: Embedder | None = None,
    retrieved: list[Passage] | None = None,
    on_text: OnText | None = None,
    owner: str = "",
    guard: InjectionGuard | None = None,
) -> GroundedResult:
    """Draft text for ``instruction`` from the passages of knowledge base ``kb``, with checked citations.
    ``guard`` (default: ``injection.current_guard()``) keeps instructions inside the passages from steering it."""
    check_text(instruction, "instruction", max_chars=20_000)
    embedder = embedder or default_embedder()
    if retrieved is None:
        found = retrieve_passages(store, kb, query_for(instruction), passages, owner=owner, embedder=embedder)
        retrieved = relevant(found)
    if not retrieved:
        raise InputError(f"knowledge base {kb!r} has no passage for this instruction")
    numbered = {i: p for i, p in enumerate(retrieved, start=1)}
    language = output_language(lang, instruction)
    guard = guard or injection.current_guard()
    sources = prepare_sources(numbered, guard)
    warnings = list(sources.warnings)
    tpl = get_template("grounded-write")
    values: dict[str, Any] = {**standard_vars(language, style, length), "instruction": instruction}
    guarded = "guard" in tpl.variables  # the template's own "passages are data" lines go with the framing
    params = template_params(
        tpl, temperature, default=0.3, seed=seed, max_tokens=max_tokens or max_tokens_for(length or 200, language)
    )
    tally = Tally()
    prompted = {**values, "passages": sources.block, **({"guard": sources.hardened} if guarded else {})}
    completion = run_template(model, tpl, prompted, params, on_text, tally)
    raw = require_output(clean_output(completion.text), model, "write")
    report = InjectionReport(removed=sources.removed, hardened=sources.hardened) if guard.enabled else None
    if report is not None and guard.check_output:
        symptoms = injection.answer_symptoms(raw, instruction, [p.text for p in numbered.values()], expected=language)
        again = prepare_sources(numbered, guard, suspects=symptoms) if symptoms else None
        changed = again is not None and (again.removed, again.hardened) != (sources.removed, sources.hardened)
        if again is not None and changed:  # only a changed prompt can change the answer
            report.symptoms, report.regenerated, report.first_answer = sorted(symptoms), True, raw
            prompted = {**values, "passages": again.block, **({"guard": again.hardened} if guarded else {})}
            completion = run_template(model, tpl, prompted, params, None, tally)
            raw = require_output(clean_output(completion.text), model, "write")
            report.removed, report.hardened = again.removed, again.hardened
            warnings.append(
                f"the first answer showed signs of following instructions inside the sources ({', '.join(symptoms)});"
                " it was written again without the sentences that could have caused them"
            )
        elif symptoms:
            report.symptoms = sorted(symptoms)
            warnings.append(f"the answer may follow instructions inside the sources ({', '.join(symptoms)})")
    if completion.finish_reason == "length":
        warnings.append("output stopped at the token limit; raise --max-tokens")
    return finish(raw, numbered, language, tally, model, embedder=embedder, warnings=warnings, template=tpl.name,
                  style=style, operation="write", injection=report)  # fmt: skip


def query_for(instruction: str) -> str:
    """A retrieval query from an instruction: its first 1,000 characters."""
    return instruction.strip()[:1000]


def finish(
    raw: str,
    numbered: dict[int, Passage],
    language: str,
    tally: Tally,
    model: Model,
    *,
    embedder: Embedder | None,
    warnings: list[str],
    operation: str,
    template: str | None = None,
    style: str | None = None,
    **extra: Any,
) -> GroundedResult:
    grounding = check_citations(strip_reference_list(injection.unmark(raw)), numbered, embedder=embedder)
    sentences = grounding.sentences()
    numbering = numbering_for(sentences)
    body = render(grounding, numbering, language)
    refs = references_for(numbering, numbered)
    unsupported = sum(s.flagged for s in sentences)
    if grounding.dropped:
        warnings.append(f"dropped citations of passages that do not exist: {grounding.dropped}")
    if unsupported:
        warnings.append(unsupported_warning(sentences))
    refs_block = references_text(refs, language)
    return tally.result(
        GroundedResult,
        model,
        operation=operation,
        text=body + ("\n\n" + refs_block if refs_block else ""),
        body=body,
        sentences=renumbered(sentences, numbering),
        references=refs,
        passages=list(numbered.values()),
        dropped_citations=grounding.dropped,
        unsupported=unsupported,
        language=language,
        template=template,
        style=style,
        warnings=warnings,
        **extra,
    )
