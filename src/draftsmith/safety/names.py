"""Names of people, for PII masking: spaCy's small English NER and jieba's part-of-speech tags for Chinese.

English: ``PERSON`` entities of ``en_core_web_sm`` (only its ``ner`` pipe runs; loaded once per process, on
first use), and the name after a greeting or under a sign-off of a letter (``Dear Mark,`` … ``Best, Sophie``),
which that small model often misses. A title before a name (``Dr.``, ``Mrs``) and a possessive after it
(``Alice's``) stay outside the span. Dropped as not names: anything in capitals only (``NASA``, ``GDPR``), with
digits or symbols, and names made only of words the Hunspell en_US dictionary knows in lower case but never
capitalised (``Click Save``, ``Legal``, ``Cheers``); words that are both (``Bill``, ``Brown``) are kept, as is
what the dictionary does not know (``Docker``). Without Debian's ``hunspell-en-us`` that last filter is off.

Chinese: runs of Han characters cut by ``jieba.posseg``; a word tagged ``nr*`` is a name when it has 2–4
characters, starts with a common surname (4 characters only after a two-character surname such as 欧阳) and is
not a frequent word of jieba's dictionary (``孙子``, ``谢谢`` and famous names such as ``李白`` are tagged ``nr``
too). A title after the name (``李明华老师``) stays outside it; a surname with a title (``张老师``) is not a
name. A surname cut off from its given name (``周`` ``志强``, ``欧阳`` ``娜娜``) is joined to it. Given names
alone (``小明``) and surnames alone are not found.

Without spaCy or jieba the language they serve finds no names (one warning in the log).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

log = logging.getLogger("draftsmith.safety")

# The ~200 most common single-character surnames and the two-character ones (百家姓 order is not kept).
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温"
    "康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂"
    "成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党"
    "宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝官封谈匡"
    "鞠惠荆乐冀郁胥南班储栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻厉伊仝区郜阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄"
)
COMPOUND_SURNAMES = frozenset(
    str.split(
        "欧阳 司马 诸葛 上官 东方 皇甫 令狐 慕容 尉迟 公孙 长孙 宇文 司徒 夏侯 端木 独孤 南宫 西门 轩辕 呼延 澹台 "
        "钟离 赫连 申屠 太史 闻人 万俟 公冶 濮阳 淳于 单于 东郭 百里 第五"
    )
)
# Titles and forms of address that follow a Chinese name.
ZH_TITLES = (
    "老师", "先生", "女士", "小姐", "经理", "总监", "主任", "主席", "教授", "博士", "医生", "大夫", "同学",
    "同志", "师傅", "律师", "局长", "处长", "科长", "部长", "厅长", "省长", "市长", "县长", "校长", "院长",
    "书记", "董事长", "总裁", "总经理", "老板", "阿姨", "叔叔", "总",
)  # fmt: skip
# From this count in jieba's dictionary a word tagged nr is a common word (张开 452, 华为 373, 谢谢 1089, 黄金周
# 1407) or a famous figure (李白 374, 诸葛亮 1067), not a private person: the dictionary's nr words above it are
# nearly all such. A name that is also a common word (白雪, 高明) is missed.
ZH_COMMON_WORD = 100

# Titles before an English name (kept outside the span).
EN_TITLES = frozenset(
    str.split(
        "mr mrs ms miss mx dr prof professor sir dame madam madame lord lady rev reverend fr father sister "
        "brother capt captain col colonel gen general lt sgt judge justice president senator rep governor mayor "
        "coach uncle aunt"
    )
)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CAPITALISED = re.compile(r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]")
_EN_WORD = re.compile(r"[^\W\d_]+(?:['’.-][^\W\d_]+)*\.?")
_EN_PART = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_PARTICLES = frozenset(str.split("van von der den de del della da di du la le bin ibn al el ter ten y"))
# A name after a greeting or under a sign-off, which the small model often misses ("Dear Mark," … "Best, Sophie").
_NAME_WORDS = r"[A-ZÀ-ÖØ-Þ][^\W\d_]+(?:[ -][A-ZÀ-ÖØ-Þ][^\W\d_]+)?"
_LETTER_NAMES = re.compile(
    rf"(?:^|(?<=\n))[ \t]*(?i:dear|hi|hello|hey)[ \t]+(?P<to>{_NAME_WORDS})(?=[ \t]*[,!:\n])"
    r"|(?:^|(?<=\n)|(?<=[.!?] ))[ \t]*(?i:(?:best |kind |warm )?(?:regards|wishes)|thanks|thank you|cheers|best"
    r"|sincerely|yours(?: truly| sincerely)?)"
    rf"(?:,[ \t]*\n?|[ \t]*\n)[ \t]*(?P<by>{_NAME_WORDS})[ \t]*(?=\n|$)"
)
_PIECE = 5000  # characters of text per spaCy call (its memory grows with the length of one doc)

_lock = threading.Lock()
_warned: set[str] = set()


def find_names(text: str) -> list[tuple[int, int]]:
    """Spans of person names in ``text``, in order, without overlaps."""
    spans = [*_english_names(text), *_chinese_names(text)]
    spans.sort()
    kept: list[tuple[int, int]] = []
    for start, end in spans:
        if not kept or start >= kept[-1][1]:
            kept.append((start, end))
    return kept


def warm_up() -> None:
    """Load the recognisers in a background thread (a few seconds) instead of during the first request."""
    threading.Thread(target=find_names, args=("Dr. Jane Smith met 张伟。",), name="names-warm-up", daemon=True).start()


def name_parts(name: str) -> tuple[str | None, str | None]:
    """The first and last word of an English name of two words or more, where each can stand alone as a
    reference to the person (``Jane``, ``Smith``): not an initial, a particle or a function word."""
    words = name.split()
    if len(words) < 2 or _HAN.search(name):
        return None, None
    first, last = words[0], words[-1]
    return (first if _part_ok(first) else None), (last if _part_ok(last) else None)


def occurrences(text: str, values: Iterable[str]) -> Iterator[tuple[int, int, str]]:
    """Where each of ``values`` (known names) stands alone in ``text``: as a whole word for Latin names,
    anywhere for Chinese ones. Longer values first, so a full name wins over its parts."""
    ordered = sorted({v for v in values if v}, key=len, reverse=True)
    if not ordered:
        return
    alternatives = "|".join(
        re.escape(v) if _HAN.match(v) else rf"(?<![\w@/-]){re.escape(v)}(?![\w@-])" for v in ordered
    )
    for m in re.finditer(alternatives, text):
        yield m.start(), m.end(), m.group()


# -- English ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _spacy() -> Any:
    try:
        from draftsmith.checking.classify import load_spacy

        return load_spacy(("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"))
    except (ImportError, OSError) as exc:
        _warn("en", f"English names are not masked: spaCy or en_core_web_sm is missing ({exc})")
        return None


def _pieces(text: str) -> Iterator[tuple[int, str]]:
    """``text`` cut at line ends into pieces of at most about ``_PIECE`` characters, with their offsets;
    pieces without a capitalised word are skipped (no name can be in them)."""
    start = 0
    while start < len(text):
        end = min(len(text), start + _PIECE)
        if end < len(text):
            cut = text.rfind("\n", start, end)
            if cut <= start:
                cut = text.rfind(" ", start, end)
            end = cut + 1 if cut > start else end
        if _CAPITALISED.search(text, start, end):
            yield start, text[start:end]
        start = end


def _english_names(text: str) -> Iterator[tuple[int, int]]:
    pieces = list(_pieces(text))
    if not pieces:
        return
    with _lock:  # one pipeline per process (loaded once); spaCy does not promise thread safety
        nlp = _spacy()
        docs = [] if nlp is None else list(nlp.pipe((p for _, p in pieces), batch_size=16))
    for (offset, _), doc in zip(pieces, docs, strict=True):
        for ent in doc.ents:
            if ent.label_ == "PERSON":
                span = _trim(ent.text)
                if span is not None:
                    yield offset + ent.start_char + span[0], offset + ent.start_char + span[1]
    for m in _LETTER_NAMES.finditer(text):
        group = "to" if m.group("to") else "by"
        span = _trim(m.group(group))
        if span is not None:
            yield m.start(group) + span[0], m.start(group) + span[1]


def _trim(entity: str) -> tuple[int, int] | None:
    """The name inside an entity's text (titles, possessive and punctuation cut off), or None if it is not
    a plausible name."""
    words = [(m.start(), m.end()) for m in _EN_WORD.finditer(entity)]
    while words and entity[words[0][0] : words[0][1]].rstrip(".").lower() in EN_TITLES and len(words) > 1:
        words.pop(0)
    if not words:
        return None
    start, end = words[0][0], words[-1][1]
    name = re.sub(r"['’]s?$", "", entity[start:end]).rstrip(".")
    end = start + len(name)
    tokens = name.split()
    if (
        not tokens
        or (len(tokens) == 1 and name.lower() in EN_TITLES)
        or re.search(r"[\d_@#/\\\[\]<>{}|=+*]", entity)
        or name.isupper()
        or _HAN.search(name)
        or not all(t[0].isupper() or t.lower() in _PARTICLES for t in tokens)
        or not tokens[0][0].isupper()
        or all(_common_word(t) for t in tokens)
    ):
        return None
    return start, end


def _part_ok(word: str) -> bool:
    return (
        len(word) >= 2
        and word[0].isupper()
        and _EN_PART.fullmatch(word) is not None
        and word.lower() not in _stop_words() | _PARTICLES
    )


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    try:
        from spacy.lang.en.stop_words import STOP_WORDS
    except ImportError:
        return frozenset()
    return frozenset(STOP_WORDS)


@lru_cache(maxsize=1)
def _dictionary() -> tuple[frozenset[str], frozenset[str]]:
    """Hunspell en_US stems: (lower-case words, capitalised words); empty when the dictionary is missing."""
    from pathlib import Path

    from draftsmith.checking.spelling import _find_dictionary

    base = _find_dictionary()
    if base is None:
        return frozenset(), frozenset()
    lower, capital = set(), set()
    for line in Path(base + ".dic").read_text(encoding="utf-8", errors="replace").splitlines()[1:]:
        word = line.split("/", 1)[0].strip()
        if word.islower():
            lower.add(word)
        elif word[:1].isupper():
            capital.add(word)
    return frozenset(lower), frozenset(capital)


def _common_word(token: str) -> bool:
    """A word the dictionary has in lower case only (``save``, ``legal``, ``cheers``): never a name by itself.
    Hunspell lists stems, so a plural or verb form is tried without its ending too."""
    lower, capital = _dictionary()
    if token in capital or token.capitalize() in capital:
        return False
    word = token.lower()
    forms = {word}
    for ending, stems in (("ies", ("y",)), ("es", ("",)), ("s", ("",)), ("ed", ("", "e")), ("ing", ("", "e"))):
        if word.endswith(ending) and len(word) > len(ending) + 2:
            forms.update(word[: -len(ending)] + stem for stem in stems)
    return not forms.isdisjoint(lower)


# -- Chinese ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _jieba() -> Any:
    try:
        import jieba
        import jieba.posseg as pseg
    except ImportError as exc:
        _warn("zh", f"Chinese names are not masked: jieba is missing ({exc})")
        return None
    jieba.setLogLevel(logging.WARNING)
    return pseg


def _chinese_names(text: str) -> Iterator[tuple[int, int]]:
    runs = [(m.start(), m.group()) for m in _HAN.finditer(text) if len(m.group()) >= 2]
    if not runs or (pseg := _jieba()) is None:
        return
    for offset, run in runs:
        words = [(w, f) for w, f in pseg.cut(run, HMM=True)]
        position, i = offset, 0
        while i < len(words):
            word, flag = words[i]
            width = len(word)
            if _surname_alone(word, flag) and i + 1 < len(words) and _given_name(*words[i + 1]):
                word, flag = word + words[i + 1][0], "nr"
                width, i = len(word), i + 1
            if flag.startswith("nr"):
                name = _chinese_name(word)
                if name:
                    yield position, position + len(name)
            position += width
            i += 1


def _surname_alone(word: str, flag: str) -> bool:
    """jieba cut a name after its surname: 周 | 志强, 欧阳 (tagged as a place) | 娜娜."""
    return word in COMPOUND_SURNAMES or (word in SURNAMES and flag == "nr")


def _given_name(word: str, flag: str) -> bool:
    return 1 <= len(word) <= 2 and (flag.startswith("nr") or flag == "nz") and _HAN.fullmatch(word) is not None


def _chinese_name(word: str) -> str | None:
    for title in ZH_TITLES:
        if word.endswith(title) and len(word) > len(title):
            word = word[: -len(title)]
            break
    compound = word[:2] in COMPOUND_SURNAMES
    if not (compound or word[:1] in SURNAMES) or not 2 <= len(word) <= (4 if compound else 3):
        return None
    pseg = _jieba()
    if pseg is not None and pseg.dt.tokenizer.FREQ.get(word, 0) >= ZH_COMMON_WORD:
        return None
    return word


def _warn(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message)
