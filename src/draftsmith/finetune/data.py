"""The SFT data set: examples from data files, parallel text and documents, split deterministically by hash.

An example is one JSON object per line: ``task``, ``instruction``, ``input``, ``output`` (plus ``lang``, the
language of the output, ``origin``, where it came from, and ``group``, the unit the split keeps together).

Sources:
- JSONL files: objects with ``input``/``output`` (aliases: ``source``/``src``/``prompt`` and
  ``target``/``tgt``/``reference``/``completion``/``response``; ``references`` takes its first item), optional
  ``task``, ``instruction`` and ``lang``. TSV files: ``input<TAB>output`` per line.
- Parallel text: two line-aligned files (``input`` lines, ``output`` lines), e.g. modern → Shakespearean.
- Documents (``.txt``/``.md`` files or folders, or a knowledge base): continuation examples, see ``documents``.

The split hashes each example's group: adding data later never moves an existing example to another split, so a
test example never leaks into a later training set.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from draftsmith.errors import InputError
from draftsmith.files import write_atomic
from draftsmith.languages import LANGUAGES, check_language, detect_language, language_name

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
MIN_EXAMPLES = 40  # fewer cannot show a trained model beats its base on held-out data
MIN_HELD_OUT = 4  # per val and test split

INSTRUCTIONS = {
    "continue": "Continue the text in the same voice. Write only the next sentences.",
    "rewrite": "Rewrite the text in the target style, keeping its meaning. Reply with the rewritten text only.",
    "style": "Rewrite the text in my style, keeping its meaning. Reply with the rewritten text only.",
    "correct": "Correct the grammar and spelling of the text. Reply with the corrected text only.",
    "summarize": "Summarize the text in a few sentences.",
    "translate": "Translate the text into {language}. Reply with the translation only.",
}
_INPUT_KEYS = ("input", "source", "src", "prompt")
_OUTPUT_KEYS = ("output", "target", "tgt", "reference", "references", "completion", "response")


class Example(BaseModel):
    """One supervised example: the model sees ``instruction`` and ``input`` and learns to write ``output``."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    instruction: str = Field(min_length=1)
    input: str = ""
    output: str = Field(min_length=1)
    lang: str | None = Field(None, description="language of the output")
    origin: str | None = Field(None, description="where it came from: file:line or file#paragraph")
    group: str | None = Field(None, description="examples of one group land in the same split")

    def key(self) -> str:
        return self.group or f"{self.task}\x00{self.input}\x00{self.output}"


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    created: str
    data_hash: str = Field(description="sha256 of every example of every split, in order")
    counts: dict[str, dict[str, int]] = Field(description="split → task → examples")
    languages: dict[str, int]
    sources: list[str]
    fractions: dict[str, float]
    skipped: dict[str, int] = Field(default_factory=dict)


# --- reading sources ----------------------------------------------------------------------------------------------


def instruction_for(task: str, lang: str | None = None) -> str:
    if task == "translate":
        return INSTRUCTIONS["translate"].format(language=language_name(lang) if lang else "the target language")
    return INSTRUCTIONS.get(task, f"Do the task {task!r} on the text.")


def _first(row: dict, keys: Sequence[str]) -> str | None:
    for key in keys:
        value = row.get(key)
        if isinstance(value, list) and value and isinstance(value[0], str):
            value = value[0]  # several references: learn the first
        if isinstance(value, str):
            return value
    return None


def _make(task: str, instruction: str | None, inp: str, out: str, lang: str | None, origin: str) -> Example:
    try:
        if lang:
            lang = check_language(lang)
        return Example(
            task=task,
            instruction=instruction or instruction_for(task, lang),
            input=inp.strip(),
            output=out.strip(),
            lang=lang,
            origin=origin,
        )
    except ValidationError as exc:
        problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'example'}: {e['msg']}" for e in exc.errors())
        raise InputError(f"{origin}: not a usable example ({problem})") from None


def read_jsonl(path: Path, task: str = "rewrite") -> list[Example]:
    """Examples from a JSONL file (one object per line) or a TSV file (input<TAB>output)."""
    examples = []
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        origin = f"{path.name}:{number}"
        if path.suffix.lower() == ".tsv":
            if "\t" not in line:
                raise InputError(f"{origin}: a TSV line needs input<TAB>output")
            inp, out = line.split("\t", 1)
            examples.append(_make(task, None, inp, out, None, origin))
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{origin}: not valid JSON ({exc.msg}); give one JSON object per line") from None
        if not isinstance(row, dict):
            raise InputError(f"{origin}: expected a JSON object with input and output, got {type(row).__name__}")
        inp, out = _first(row, _INPUT_KEYS), _first(row, _OUTPUT_KEYS)
        if out is None or inp is None:
            raise InputError(
                f"{origin}: needs an 'input' and an 'output' text (or source/target, prompt/completion); "
                f"found keys: {', '.join(row) or 'none'}"
            )
        examples.append(_make(row.get("task") or task, row.get("instruction"), inp, out, row.get("lang"), origin))
    if not examples:
        raise InputError(f"{path} holds no examples")
    return examples


def read_parallel(source: Path, target: Path, task: str = "rewrite", lang: str | None = None) -> list[Example]:
    """Examples from two line-aligned files: line i of ``source`` is the input, line i of ``target`` the output."""
    inputs, outputs = _read_text(source).splitlines(), _read_text(target).splitlines()
    if len(inputs) != len(outputs):
        raise InputError(
            f"{source.name} has {len(inputs)} lines but {target.name} has {len(outputs)}; parallel files must be "
            "line-aligned (line i of one is the counterpart of line i of the other)"
        )
    return [
        _make(task, None, inp, out, lang, f"{source.name}|{target.name}:{i}")
        for i, (inp, out) in enumerate(zip(inputs, outputs, strict=True), 1)
        if inp.strip() and out.strip()
    ]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


# --- checks -------------------------------------------------------------------------------------------------------


def check_languages(examples: list[Example], lang: str | None = None) -> list[Example]:
    """Fill in each example's language and refuse mismatches.

    The output's language must be the declared one (``lang`` of the example, else ``lang`` given here); a task other
    than ``translate`` must keep the input's language; a translation must change it.
    """
    wanted = check_language(lang) if lang else None
    problems: list[str] = []
    checked = []
    for ex in examples:
        found = detect_language(ex.output)
        declared = ex.lang or wanted
        if declared and _script(declared) != _script(found):
            problems.append(f"{ex.origin}: output is {LANGUAGES[found]}, expected {LANGUAGES[declared]}")
        elif wanted and ex.lang and _script(ex.lang) != _script(wanted):
            problems.append(f"{ex.origin}: marked {LANGUAGES[ex.lang]}, but this data set is {LANGUAGES[wanted]}")
        elif len(ex.input) >= 12:
            source = detect_language(ex.input)
            if ex.task == "translate" and source == found:
                problems.append(f"{ex.origin}: a translation whose input and output are both {LANGUAGES[found]}")
            elif ex.task != "translate" and _script(source) != _script(found):
                problems.append(
                    f"{ex.origin}: input is {LANGUAGES[source]} but output is {LANGUAGES[found]} "
                    f"(task {ex.task!r} keeps the language; mark translation pairs with task 'translate')"
                )
        checked.append(ex.model_copy(update={"lang": declared or found}))
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise InputError(f"mismatched languages in {len(problems)} of {len(examples)} examples: {shown}")
    return checked


def _script(lang: str) -> str:
    """Languages the script detector cannot tell apart (all Latin ones) compare equal."""
    return lang if lang in ("zh", "zh-tw", "ja", "ko", "ru", "ar") else "latin"


def dedupe(examples: list[Example]) -> tuple[list[Example], int]:
    seen: set[tuple[str, str, str, str]] = set()
    kept = []
    for ex in examples:
        key = (ex.task, ex.instruction, ex.input, ex.output)
        if key not in seen:
            seen.add(key)
            kept.append(ex)
    return kept, len(examples) - len(kept)


# --- split ----------------------------------------------------------------------------------------------------------


def bucket(key: str, salt: str = "") -> float:
    """A stable number in [0, 1) for a key (sha256, so the same on every machine and Python version)."""
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split(
    examples: list[Example],
    fractions: tuple[float, float] = (0.1, 0.1),
    *,
    salt: str = "",
    min_examples: int = MIN_EXAMPLES,
    min_held_out: int = MIN_HELD_OUT,
) -> dict[Split, list[Example]]:
    """Val and test fractions by hash of each example's group; the rest is train.

    When a small set leaves val or test short of ``min_held_out``, the train groups with the highest hashes move
    there (still deterministic). Raises InputError when there are too few examples or groups.
    """
    val_frac, test_frac = fractions
    if not (0 < val_frac < 0.5 and 0 < test_frac < 0.5):
        raise InputError("val and test fractions must each be between 0 and 0.5")
    if len(examples) < min_examples:
        raise InputError(
            f"too little data: {len(examples)} examples (after removing duplicates); fine-tuning needs at least "
            f"{min_examples} ({min_held_out} each for validation and test, the rest for training), and a few "
            "hundred give a clear gain. Add documents, data files or parallel text"
        )
    groups: dict[str, list[Example]] = {}
    for ex in examples:
        groups.setdefault(ex.key(), []).append(ex)
    ranked = sorted(groups, key=lambda k: bucket(k, salt))
    place: dict[str, Split] = {}
    for key in ranked:
        b = bucket(key, salt)
        place[key] = "test" if b < test_frac else "val" if b < test_frac + val_frac else "train"
    for name in ("test", "val"):
        while sum(len(groups[k]) for k in ranked if place[k] == name) < min_held_out:
            movable = [k for k in reversed(ranked) if place[k] == "train"]
            if len(movable) <= 1:
                raise InputError(
                    f"too little data: {len(groups)} independent groups (paragraphs or pairs) cannot fill "
                    f"train, validation and test; add more documents or examples"
                )
            place[movable[0]] = name
    out: dict[Split, list[Example]] = {s: [] for s in SPLITS}
    for ex in examples:
        out[place[ex.key()]].append(ex)
    if len(out["train"]) < min_examples - 2 * min_held_out:
        raise InputError(
            f"too little training data: {len(out['train'])} examples left after holding out validation and test; "
            f"need at least {min_examples - 2 * min_held_out}"
        )
    return out


# --- the prepared directory -----------------------------------------------------------------------------------------


def data_hash(splits: dict[Split, list[Example]]) -> str:
    digest = hashlib.sha256()
    for name in SPLITS:
        for ex in splits[name]:
            digest.update(name.encode() + b"\x00" + ex.model_dump_json().encode() + b"\n")
    return digest.hexdigest()


def write_dataset(
    out: Path,
    splits: dict[Split, list[Example]],
    *,
    sources: list[str],
    fractions: tuple[float, float],
    skipped: dict[str, int] | None = None,
) -> Manifest:
    """Write train/val/test JSONL and manifest.json into ``out`` (each file replaced atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        write_atomic(
            out / f"{name}.jsonl", "".join(ex.model_dump_json(exclude_none=True) + "\n" for ex in splits[name])
        )
    counts = {name: dict(Counter(ex.task for ex in splits[name])) for name in SPLITS}
    manifest = Manifest(
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        data_hash=data_hash(splits),
        counts=counts,
        languages=dict(Counter(ex.lang or "?" for name in SPLITS for ex in splits[name])),
        sources=sources,
        fractions={"val": fractions[0], "test": fractions[1]},
        skipped=skipped or {},
    )
    write_atomic(out / "manifest.json", manifest.model_dump_json(indent=2) + "\n")
    return manifest


def load_manifest(directory: Path) -> Manifest:
    path = Path(directory) / "manifest.json"
    if not path.is_file():
        raise InputError(f"{directory} is not a prepared data set (no manifest.json); run: draftsmith finetune prepare")
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise InputError(f"{path} is damaged ({exc.errors()[0]['msg']}); prepare the data set again") from None


def load_split(directory: Path, name: Split) -> list[Example]:
    path = Path(directory) / f"{name}.jsonl"
    if not path.is_file():
        raise InputError(f"{directory} has no {name}.jsonl; run: draftsmith finetune prepare")
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                examples.append(Example.model_validate_json(line))
            except ValidationError as exc:
                raise InputError(f"{path.name}:{number} is not a valid example ({exc.errors()[0]['msg']})") from None
    return examples


def prepare(
    out: Path,
    *,
    data_files: Sequence[Path] = (),
    parallel: tuple[Path, Path] | None = None,
    documents: Sequence[Path] = (),
    knowledge_base: str | None = None,
    extra: Sequence[Example] = (),
    task: str = "rewrite",
    lang: str | None = None,
    fractions: tuple[float, float] = (0.1, 0.1),
    max_examples: int | None = None,
    min_examples: int = MIN_EXAMPLES,
) -> Manifest:
    """Read every source, check languages, drop duplicates, split, and write the data set into ``out``."""
    examples: list[Example] = []
    sources: list[str] = []
    for file in data_files:
        examples.extend(read_jsonl(Path(file), task))
        sources.append(str(file))
    if parallel:
        examples.extend(read_parallel(Path(parallel[0]), Path(parallel[1]), task, lang))
        sources.append(f"{parallel[0]} → {parallel[1]}")
    from draftsmith.finetune.documents import read_documents, read_knowledge_base

    if documents:
        found = read_documents([Path(d) for d in documents])
        if not found:
            raise InputError("the documents hold no paragraph of two or more sentences to learn continuation from")
        examples.extend(found)
        sources.extend(str(d) for d in documents)
    if knowledge_base:
        found = read_knowledge_base(knowledge_base)
        if not found:
            raise InputError(f"knowledge base {knowledge_base!r} holds no paragraph of two or more sentences")
        examples.extend(found)
        sources.append(f"kb:{knowledge_base}")
    examples.extend(extra)
    sources.extend(sorted({ex.origin.split(":", 1)[0] for ex in extra if ex.origin}))  # e.g. "feedback"
    if not examples:
        raise InputError("no data: give --from-data FILE, --from-parallel SRC TGT, --from-docs PATH or --from-kb NAME")
    examples = check_languages(examples, lang)
    examples, duplicates = dedupe(examples)
    skipped = {"duplicates": duplicates} if duplicates else {}
    if max_examples is not None and len(examples) > max_examples:
        keep = set(sorted(range(len(examples)), key=lambda i: bucket(examples[i].key(), "cap"))[:max_examples])
        skipped["over_max_examples"] = len(examples) - max_examples
        examples = [ex for i, ex in enumerate(examples) if i in keep]
    splits = split(examples, fractions, min_examples=min_examples)
    return write_dataset(Path(out), splits, sources=sources, fractions=fractions, skipped=skipped)
