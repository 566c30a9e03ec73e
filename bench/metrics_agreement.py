"""draftsmith's metric wrappers vs the reference packages called directly, on the shared evaluation data.

    python bench/metrics_agreement.py          # data from ../shared/data, or $DRAFTSMITH_DATA

Checks (every pair is ours vs the reference, same inputs):
- GLEU, JFLEG test and dev: the unchanged source vs the 4 references (published: test 40.54, dev 38.21), and a
  perturbed correction; reference: the PyPI ``gleu`` package with the official script's fixed seeds (``gleu -f``),
  when installed.
- BLEU, chrF, TER: JFLEG test source vs its 4 references; HSK English and Chinese sides, systematically perturbed
  (every 4th word / 5th character dropped, first two swapped), vs the original; HSK English with a varying number
  of references (an extra, differently perturbed one for two items in three). Reference: sacrebleu's
  ``corpus_bleu``/``corpus_chrf``/``corpus_ter`` and, for single-reference sets, the ``sacrebleu`` command itself.
- ROUGE-1/2/L F1: HSK English pairs and JFLEG test with 4 references (best reference per item), against
  ``rouge_score.RougeScorer`` directly; HSK Chinese against rouge_score fed jieba words joined by spaces and split
  on spaces. rouge_score's default tokenizer on the same Chinese pairs is shown too: it scores 0.

Last line: JSON with max_abs_diff (goal <= 1e-4), jfleg_source_gleu (published 40.54) and every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jieba
import sacrebleu
from rouge_score import rouge_scorer

from draftsmith.evaluation import bleu, chrf, gleu, rouge, ter

PUBLISHED_GLEU = {"test": 40.54, "dev": 38.21}  # SOURCE rows of the JFLEG README


def data_dir() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("DRAFTSMITH_DATA") or default)


def read_lines(path: Path) -> list[str]:
    """Lines split on newline only, as the official GLEU script reads them."""
    lines = path.read_text(encoding="utf-8").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def perturb_words(text: str) -> str:
    words = [w for i, w in enumerate(text.split()) if i % 4 != 3]
    return " ".join(words[1::-1] + words[2:])


def perturb_chars(text: str) -> str:
    chars = [c for i, c in enumerate(text) if i % 5 != 4]
    return "".join(chars[1::-1] + chars[2:])


def shuffle_tail(text: str) -> str:
    words = text.split()
    return " ".join(words[:2] + words[2:][::-1])


class Report:
    """Collects (name, ours, reference) pairs and loose figures; prints one line per check on stderr."""

    def __init__(self) -> None:
        self.diffs: list[float] = []
        self.figures: dict[str, float | str] = {}

    def check(self, name: str, ours: float, reference: float) -> None:
        diff = abs(ours - reference)
        self.diffs.append(diff)
        self.figures[name] = round(ours, 4)
        print(f"{name:34s} ours {ours:10.4f}   reference {reference:10.4f}   |diff| {diff:.2e}", file=sys.stderr)

    def note(self, name: str, value: float | str) -> None:
        self.figures[name] = round(value, 4) if isinstance(value, float) else value
        print(f"{name:34s} {value}", file=sys.stderr)


def sacrebleu_cli(hyps: list[str], ref_streams: list[list[str]], lang: str) -> dict[str, float]:
    """BLEU, chrF and TER from the ``sacrebleu`` command on files, as a user would run it."""
    with tempfile.TemporaryDirectory() as tmp:
        hyp_path = Path(tmp, "hyp.txt")
        hyp_path.write_text("\n".join(hyps) + "\n", encoding="utf-8")
        ref_paths = []
        for k, stream in enumerate(ref_streams):
            ref_paths.append(Path(tmp, f"ref{k}.txt"))
            ref_paths[-1].write_text("\n".join(stream) + "\n", encoding="utf-8")
        cmd = [sys.executable, "-m", "sacrebleu", *map(str, ref_paths), "-i", str(hyp_path)]
        cmd += ["-m", "bleu", "chrf", "ter", "-w", "8", "-f", "json"]
        if lang == "zh":
            cmd += ["--tokenize", "zh", "--ter-normalized", "--ter-asian-support"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    scores = {entry["name"]: entry["score"] for entry in json.loads(out)}
    return {"bleu": scores["BLEU"], "chrf": scores["chrF2"], "ter": scores["TER"]}


def check_sacrebleu(
    report: Report, prefix: str, hyps: list[str], refs: list[list[str]], lang: str, cli: bool = True
) -> None:
    width = max(len(r) for r in refs)
    # None marks a missing reference; sacrebleu accepts it though its annotations say str
    streams: list[list[Any]] = [[r[k] if k < len(r) else None for r in refs] for k in range(width)]
    zh = lang == "zh"
    direct = {
        "bleu": sacrebleu.corpus_bleu(hyps, streams, tokenize="zh" if zh else "13a").score,
        "chrf": sacrebleu.corpus_chrf(hyps, streams).score,
        "ter": sacrebleu.corpus_ter(hyps, streams, normalized=zh, asian_support=zh).score,
    }
    ours = {"bleu": bleu(hyps, refs, lang), "chrf": chrf(hyps, refs, lang), "ter": ter(hyps, refs, lang)}
    for metric in ("bleu", "chrf", "ter"):
        report.check(f"{prefix}_{metric}", ours[metric], direct[metric])
    if cli:
        from_cli = sacrebleu_cli(hyps, streams, lang)  # only called with a full set of references
        for metric in ("bleu", "chrf", "ter"):
            report.check(f"{prefix}_{metric}_cli", ours[metric], from_cli[metric])


class SpaceTokenizer:
    """Pre-segmented text → tokens: split on spaces, lowercase, drop tokens without a letter or digit."""

    def tokenize(self, text: str) -> list[str]:
        return [t.lower() for t in text.split() if any(ch.isalnum() for ch in t)]


def check_rouge(report: Report, prefix: str, hyps: list[str], refs: list[list[str]], lang: str) -> None:
    keys = ("rouge1", "rouge2", "rougeL")
    if lang == "zh":
        scorer = rouge_scorer.RougeScorer(list(keys), tokenizer=SpaceTokenizer())
        hyps_in = [" ".join(jieba.lcut(h)) for h in hyps]
        refs_in = [[" ".join(jieba.lcut(r)) for r in item] for item in refs]
    else:
        scorer = rouge_scorer.RougeScorer(list(keys))
        hyps_in, refs_in = hyps, refs
    sums = dict.fromkeys(keys, 0.0)
    for hyp, item in zip(hyps_in, refs_in, strict=True):
        scores = scorer.score_multi(item, hyp)
        for key in keys:
            sums[key] += scores[key].fmeasure
    ours = rouge(hyps, refs, lang)
    for key in keys:
        report.check(f"{prefix}_{key}", ours[key], 100 * sums[key] / len(hyps))


def gleu_package(src: Path, refs: list[Path], hyp: Path) -> float | None:
    """The PyPI ``gleu`` package's corpus GLEU with the official fixed seeds (``gleu -f``), or None if absent."""
    if importlib.util.find_spec("gleu") is None:
        return None
    from gleu.corpus_main import corpus_sampling
    from gleu.count import set_tokenization

    set_tokenization("word")
    args = argparse.Namespace(
        source_path=str(src), ref_path_list=[str(r) for r in refs], hyp_path_list=[str(hyp)], n=4, iter=500,
        digit=10, proc=1, max=False, fix_seed=True, verbose=False,
    )  # fmt: skip
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        corpus_sampling(args)
    return float(out.getvalue().strip().split("\t")[-1])


def check_jfleg(report: Report, root: Path) -> None:
    for split in ("test", "dev"):
        folder = root / "jfleg" / split
        src_path, ref_paths = folder / f"{split}.src", [folder / f"{split}.ref{k}" for k in range(4)]
        src = read_lines(src_path)
        refs = [list(item) for item in zip(*(read_lines(p) for p in ref_paths), strict=True)]
        ours = gleu(src, refs, src)
        name = "jfleg_source_gleu" if split == "test" else "jfleg_dev_source_gleu"
        reference = gleu_package(src_path, ref_paths, src_path)
        if reference is None:
            report.note(name, ours)
        else:
            report.check(name, ours, reference)
        report.note(f"{name}_published", PUBLISHED_GLEU[split])
        report.note(f"{name}_matches_published", "yes" if round(ours, 2) == PUBLISHED_GLEU[split] else "NO")
        if split != "test":
            continue
        hyps = [perturb_words(r[0]) for r in refs]
        with tempfile.TemporaryDirectory() as tmp:
            hyp_path = Path(tmp, "hyp.txt")
            hyp_path.write_text("\n".join(hyps) + "\n", encoding="utf-8")
            reference = gleu_package(src_path, ref_paths, hyp_path)
        ours = gleu(hyps, refs, src)
        if reference is None:
            report.note("jfleg_perturbed_ref0_gleu", ours)
        else:
            report.check("jfleg_perturbed_ref0_gleu", ours, reference)
        check_sacrebleu(report, "jfleg_source", src, refs, "en")
        check_rouge(report, "jfleg_source", src, refs, "en")


def check_hsk(report: Report, root: Path) -> None:
    rows = [json.loads(line) for line in read_lines(root / "hsk-zh-en" / "sentences.jsonl") if line.strip()]
    en = [row["en"] for row in rows]
    zh = [row["zh"] for row in rows]
    en_hyps = [perturb_words(t) for t in en]
    zh_hyps = [perturb_chars(t) for t in zh]
    check_sacrebleu(report, "hsk_en", en_hyps, [[t] for t in en], "en")
    varying = [[t, shuffle_tail(t)] if i % 3 else [t] for i, t in enumerate(en)]
    check_sacrebleu(report, "hsk_en_multiref", en_hyps, varying, "en", cli=False)
    check_sacrebleu(report, "hsk_zh", zh_hyps, [[t] for t in zh], "zh")
    report.note("hsk_zh_bleu_unsegmented_13a", bleu(zh_hyps, zh, "en"))
    check_rouge(report, "hsk_en", en_hyps, [[t] for t in en], "en")
    check_rouge(report, "hsk_zh", zh_hyps, [[t] for t in zh], "zh")
    default = rouge_scorer.RougeScorer(["rouge1"])
    default_f = [default.score(ref, hyp)["rouge1"].fmeasure for ref, hyp in zip(zh, zh_hyps, strict=True)]
    report.note("hsk_zh_rouge1_rouge_score_default", 100 * sum(default_f) / len(zh))


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    root = data_dir()
    if not (root / "jfleg").is_dir() or not (root / "hsk-zh-en").is_dir():
        sys.exit(
            f"evaluation data not found under {root}; set DRAFTSMITH_DATA to the folder holding jfleg/, hsk-zh-en/"
        )
    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("sacrebleu").setLevel(logging.ERROR)  # JFLEG is tokenised on purpose: no "detokenize" advice
    report = Report()
    if importlib.util.find_spec("gleu") is None:
        print(
            "the PyPI 'gleu' package is not installed: GLEU is compared with the published figures only",
            file=sys.stderr,
        )
        report.note("gleu_reference", "published figures only")
    else:
        report.note("gleu_reference", f"gleu {importlib.metadata.version('gleu')} (fixed seeds)")
    check_jfleg(report, root)
    check_hsk(report, root)
    print(json.dumps({"max_abs_diff": max(report.diffs), "checks": len(report.diffs), **report.figures}))


if __name__ == "__main__":
    main()
