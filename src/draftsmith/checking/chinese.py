"""Chinese: wrongly written characters (错别字) found with confusion sets and jieba's dictionary.

Three detectors, all precision first:

- fixed corrections from ``data/zh_confusion.txt`` (做飞机 → 坐飞机, 迫不急待 → 迫不及待), matched only where
  they line up with jieba's word boundaries, so 在见 inside 在见到 is left alone;
- a word-level check: a short stretch of the text that jieba cannot read as a word (it falls apart into single
  characters) but that becomes a common dictionary word when one character is swapped for a similar-sounding
  or similar-looking one is flagged — 公圆 → 公园 — when the word is far likelier than the pieces (unigram
  log-probabilities from jieba's dictionary; the margin is ``MIN_GAIN``);
- safe 的/地/得 cases: verb + 的 + 很/非常… + adjective at the end of a clause (跑的很快 → 跑得很快), and an
  adverb such as 认真/慢慢 + 的 + a verb (认真的学习 → 认真地学习).

More rules (traditional characters in simplified text, doubled characters, half-width punctuation, stray quotes
and brackets, 的 → 地 before a verb, measure words, 作/象 for 做/像) live in ``chinese_rules`` and run here.

jieba (MIT) is the segmenter; its dictionary (dict.txt, MIT) gives the word frequencies and the verb tags.
"""

from __future__ import annotations

import math
import re
import threading
from functools import lru_cache
from importlib import resources

from draftsmith.checking import chinese_rules
from draftsmith.checking.problem import Problem, register
from draftsmith.checking.text import Protected

CONFUSION = register(
    "ZH_CONFUSED_CHARACTER", "spelling", "A character confused with a similar-sounding or -looking one.", "zh"
)
FIXED = register("ZH_COMMON_MISWRITING", "spelling", "A commonly miswritten word or phrase.", "zh")
DE = register("ZH_DE_DI_DE", "grammar", "的/地/得: 得 after a verb before a complement, 地 after an adverbial.", "zh")

MIN_GAIN = 6.0  # natural-log margin of the word over its pieces (about 400 times likelier)
MIN_WORD_FREQ = 200  # the corrected word must be at least this common in jieba's dictionary
_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")

_DE_VERBS = "跑走说写唱跳学做吃睡玩长变来考讲画打干笑哭想洗穿看听读记答飞游练弹踢跳开骑过住活办弄搞"
_DE_DEGREE = "很|非常|太|特别|十分|真|好|挺|越来越|比较|更"
_DE_COMPLEMENT = re.compile(rf"([{_DE_VERBS}])(的)(?:{_DE_DEGREE})[\u4e00-\u9fff]{{1,2}}(?=[，。！？；,.!?;]|$)")
_DI_ADVERBS = (
    "认真|努力|高兴|仔细|轻轻|悄悄|静静|慢慢|快快|大声|小声|小心|耐心|热情|愉快|开心|飞快|紧紧|默默|渐渐|"
    "慢慢悠悠|高高兴兴|认认真真|仔仔细细|开开心心|安安静静|快快乐乐"
)
_DI_VERBS = "学习|工作|说|看|写|回答|完成|笑|走|跑|点头|听|读|想|问|站|坐|离开|关上|打开|准备|练习|思考|解决|告诉|检查"
_DE_ADVERBIAL = re.compile(rf"(?:{_DI_ADVERBS})(的)(?:{_DI_VERBS})")


class ChineseChecker:
    """Holds the confusion sets and jieba's dictionary; one per process (``chinese_checker()``)."""

    def __init__(self) -> None:
        import jieba

        jieba.setLogLevel(60)
        self.jieba = jieba.Tokenizer()
        self.jieba.initialize()
        self.freq: dict[str, int] = self.jieba.FREQ
        self.log_total = math.log(self.jieba.total)
        self.similar, self.fixed = _load_confusion()
        self.fixed_pattern = re.compile("|".join(sorted(map(re.escape, self.fixed), key=len, reverse=True)))

    def logp(self, word: str) -> float:
        return math.log(self.freq.get(word, 0) + 0.5) - self.log_total

    def check(self, text: str, protected: Protected) -> list[Problem]:
        problems: list[Problem] = []
        for run in _RUN.finditer(text):
            if protected.overlaps(run.start(), run.end()):
                continue
            tokens = [(w, s, e) for w, s, e in self.jieba.tokenize(run.group(), HMM=False)]
            bounds = {s for _, s, _ in tokens} | {e for _, _, e in tokens}
            taken: set[int] = set()
            for m in self.fixed_pattern.finditer(run.group()):
                if m.start() in bounds and m.end() in bounds:
                    problems.append(self._fixed(m.group(), run.start() + m.start()))
                    taken.update(range(m.start(), m.end()))
            found = self._windows(run.group(), tokens, taken)
            for rule in (chinese_rules.doubled, chinese_rules.adverbial_de, chinese_rules.measure_words):
                found += rule(run.group(), tokens)
            found += chinese_rules.zuo_xiang(run.group(), tokens, text[run.end() :])
            for problem in found:
                problems.append(
                    problem.model_copy(update={"start": problem.start + run.start(), "end": problem.end + run.start()})
                )
        problems.extend(self._de(text, protected))
        problems.extend(chinese_rules.traditional(text, protected))
        problems.extend(chinese_rules.half_width(text, protected))
        problems.extend(chinese_rules.doubled_punctuation(text, protected))
        problems.extend(chinese_rules.stray_marks(text, protected))
        return problems

    def _fixed(self, wrong: str, start: int) -> Problem:
        right = self.fixed[wrong]
        a, b = _diff_span(wrong, right)
        return Problem(
            start=start + a,
            end=start + len(wrong) - b,
            flagged=wrong[a : len(wrong) - b],
            rule_id=FIXED.id,
            category="spelling" if len(wrong) == len(right) else "word choice",
            message=f"常见错误：“{wrong}”应写作“{right}”。",
            suggestions=[right[a : len(right) - b]],
            certain=True,
        )

    def _windows(self, run: str, tokens: list[tuple[str, int, int]], taken: set[int]) -> list[Problem]:
        """Stretches of 2-4 characters made of pieces that turn into a common word with one character swapped."""
        out: list[Problem] = []
        used_until = -1
        for i in range(len(tokens)):
            best: tuple[float, int, int, str, int, str] | None = None
            for j in range(i + 1, min(len(tokens), i + 3) + 1):
                window = tokens[i:j]
                start, end = window[0][1], window[-1][2]
                chars = run[start:end]
                if not 2 <= len(chars) <= 4 or start <= used_until or taken.intersection(range(start, end)):
                    continue
                if len(window) == 1 or all(len(w) > 1 for w, _, _ in window):
                    continue  # a dictionary word, or whole words side by side: not a broken word
                pieces = sum(self.logp(w) for w, _, _ in window)
                for k, ch in enumerate(chars):
                    if ch in "的地得":
                        continue  # left to the 的/地/得 rules
                    for alt in self.similar.get(ch, ()):
                        cand = chars[:k] + alt + chars[k + 1 :]
                        f = self.freq.get(cand, 0)
                        if f < MIN_WORD_FREQ:
                            continue
                        gain = self.logp(cand) - pieces
                        if gain >= MIN_GAIN and (best is None or gain > best[0]):
                            best = (gain, start + k, end, cand, k, chars)
            if best:
                gain, pos, end, cand, k, chars = best
                used_until = end - 1
                out.append(
                    Problem(
                        start=pos,
                        end=pos + 1,
                        flagged=chars[k],
                        rule_id=CONFUSION.id,
                        category="spelling",
                        message=f"错别字：“{chars}”应为“{cand}”（“{chars[k]}”与“{cand[k]}”音近或形近）。",
                        suggestions=[cand[k]],
                        certain=gain >= MIN_GAIN + 3,
                    )
                )
        return out

    def _de(self, text: str, protected: Protected) -> list[Problem]:
        out = []
        for m in _DE_COMPLEMENT.finditer(text):
            if not protected.overlaps(m.start(2), m.end(2)):
                out.append(_de_problem(m, 2, "得", f"动词“{m.group(1)}”后接程度补语用“得”：“{m.group(1)}得……”。"))
        for m in _DE_ADVERBIAL.finditer(text):
            if not protected.overlaps(m.start(1), m.end(1)):
                out.append(_de_problem(m, 1, "地", "修饰动词的状语后面用“地”：如“认真地学习”。"))
        return out


def _de_problem(m: re.Match[str], group: int, right: str, message: str) -> Problem:
    return Problem(
        start=m.start(group),
        end=m.end(group),
        flagged="的",
        rule_id=DE.id,
        category="grammar",
        message=message,
        suggestions=[right],
        certain=True,
    )


def _diff_span(a: str, b: str) -> tuple[int, int]:
    """Lengths of the common prefix and suffix of two strings."""
    p = 0
    while p < min(len(a), len(b)) and a[p] == b[p]:
        p += 1
    s = 0
    while s < min(len(a), len(b)) - p and a[-1 - s] == b[-1 - s]:
        s += 1
    return p, s


@lru_cache(maxsize=1)
def _load_confusion() -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    similar: dict[str, set[str]] = {}
    fixed: dict[str, str] = {}
    text = (resources.files("draftsmith.checking") / "data" / "zh_confusion.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if "=>" in line:
            wrong, right = (part.strip() for part in line.split("=>", 1))
            fixed[wrong] = right
            continue
        for ch in line:
            similar.setdefault(ch, set()).update(c for c in line if c != ch)
    return {k: tuple(sorted(v)) for k, v in similar.items()}, fixed


_lock = threading.Lock()
_checker: list[ChineseChecker] = []


def chinese_checker() -> ChineseChecker:
    """The process-wide Chinese checker (jieba's dictionary loads in about a second)."""
    with _lock:
        if not _checker:
            _checker.append(ChineseChecker())
        return _checker[0]
