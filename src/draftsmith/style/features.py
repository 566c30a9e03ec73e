"""Stylometric features of a passage, for English and Chinese.

``extract(text, lang)`` returns named numbers: sentence lengths, lexical richness (MATTR), function-word and
punctuation frequencies, and formality markers (contractions, person, hedges, archaic forms; for Chinese 之/其/进行/
予以/的, internet slang, emoji and sentence-final particles). Rates are per 100 words (Chinese: per 100 characters)
so passages of any length compare. A feature that cannot be measured reliably on a short passage (sentence-length
spread on two sentences, MATTR on 20 words) is left out rather than guessed.

``FEATURES`` describes each feature for people: what it is, its unit, and a floor for its spread (the smallest
difference worth mentioning), which the adherence score uses so a feature that never varies in the reference texts
cannot dominate.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from draftsmith.evaluation.text import jieba_words

# --- feature catalogue ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    name: str
    group: str  # sentences, vocabulary, function_words, punctuation, formality
    label: str  # what it is, in a writer's words
    unit: str  # "words", " per 100 words", "%", ""
    floor: float  # smallest spread worth counting
    rate: bool = True  # a count per length: noisier on short passages


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_EN_FUNCTION = _split(
    "the a an and but or nor of to in on at by for with from as that this these those which who whom what "
    "it is was be are were been have has had not no so if then there than all would will can could should "
    "must may shall do did he she they his her their them him its upon now here such very one"
)
_ZH_FUNCTION = _split(
    "的 了 是 在 和 与 及 也 就 都 而 但 并 对 把 被 将 从 以 为 所 之 其 于 着 过 很 这 那 有 要 会 能 "
    "可以 一个 没有 什么 如果 因为 所以 但是 已经 还 又 更 最 "
    "让 给 向 等"
)
# Words that carry grammar rather than content (the function-word features; content checks leave them out).
FUNCTION_WORDS = {"en": frozenset(_EN_FUNCTION), "zh": frozenset(_ZH_FUNCTION)}
# How often ordinary text uses each function word, per 100 words (wordfreq 3 frequencies, which blend many genres;
# Chinese words as jieba cuts them). A profile learned from a few short texts draws its rates towards these
# (``profile.statistics``): six casual texts without an "of" do not make "of" foreign to casual English.
_BACKGROUND_EN = (
    "the:5.37 a:2.29 an:0.339 and:2.57 but:0.427 or:0.347 nor:0.00603 of:2.51 to:2.69 in:1.86 on:0.813 at:0.501 "
    "by:0.457 for:1.02 with:0.708 from:0.427 as:0.589 that:1.02 this:0.661 these:0.11 those:0.0794 which:0.2 "
    "who:0.219 whom:0.00708 what:0.24 it:0.891 is:1.17 was:0.661 be:0.617 are:0.55 were:0.219 been:0.186 "
    "have:0.513 has:0.234 had:0.214 not:0.49 no:0.224 so:0.331 if:0.295 then:0.117 there:0.204 than:0.135 "
    "all:0.331 would:0.186 will:0.282 can:0.288 could:0.115 should:0.0977 must:0.0479 may:0.0955 shall:0.0107 "
    "do:0.224 did:0.0912 he:0.49 she:0.182 they:0.316 his:0.324 her:0.2 their:0.214 them:0.155 him:0.129 "
    "its:0.138 upon:0.0132 now:0.151 here:0.0933 such:0.0692 very:0.1 one:0.295"
)
_BACKGROUND_ZH = (
    "的:6.17 了:1.38 是:1.48 在:1.45 和:0.724 与:0.437 及:0.12 也:0.501 就:0.398 都:0.389 而:0.229 但:0.209 "
    "并:0.195 对:0.427 把:0.148 被:0.263 将:0.195 从:0.178 以:0.174 为:0.49 所:0.11 之:0.126 其:0.0912 于:0.204 "
    "着:0.166 过:0.126 很:0.186 这:0.479 那:0.102 有:0.676 要:0.288 会:0.302 能:0.195 可以:0.219 一个:0.363 "
    "没有:0.24 什么:0.2 如果:0.0933 因为:0.129 所以:0.0603 但是:0.0708 已经:0.115 还:0.24 又:0.138 更:0.115 "
    "最:0.107 让:0.182 给:0.151 向:0.0871 等:0.214"
)
BACKGROUND = {
    lang: {f"fw_{w}": float(v) for w, v in (item.split(":") for item in table.split())}
    for lang, table in (("en", _BACKGROUND_EN), ("zh", _BACKGROUND_ZH))
}
_EN_PUNCT = {
    "comma": (",", "commas"),
    "semicolon": (";", "semicolons"),
    "colon": (":", "colons"),
    "dash": ("—–-", "dashes"),
    "paren": ("()", "brackets"),
    "quote": ('"“”', "quotation marks"),
    "ellipsis": ("…", "ellipses"),
}
_ZH_PUNCT = {
    "comma": ("，,", "逗号 (commas)"),
    "enum_comma": ("、", "顿号 (、)"),
    "semicolon": ("；;", "分号 (semicolons)"),
    "colon": ("：:", "冒号 (colons)"),
    "quote": ('“”「」"', "引号 (quotation marks)"),
    "book_title": ("《》", "书名号 (《》)"),
    "paren": ("（）()", "括号 (brackets)"),
    "ellipsis": ("…", "省略号 (ellipses)"),
    "tilde": ("～~", "波浪号 (～)"),
    "dash": ("—", "破折号 (dashes)"),
}

_CONTRACTION = re.compile(r"^[a-z]+['’](?:s|t|re|ve|ll|d|m)$|^['’](?:tis|twas|t|s|d|ll)$|n['’]t$|^o['’]$")


_FIRST_SG = _words("i me my mine myself")
_FIRST_PL = _words("we us our ours ourselves")
_SECOND = _words("you your yours yourself yourselves thou thee thy thine ye")
_HEDGES = _words(
    "may might perhaps possibly probably likely suggest suggests suggested appear appears seem seems somewhat "
    "arguably apparently generally typically relatively potentially indicate indicates"
)
# "May" the month ("in May", "by 15 May", "May 3"), which the hedge count would take for the modal verb.
_MAY_MONTH = re.compile(
    r"\b(?i:in|by|of|on|since|until|till|from|to|early|late|mid|next|last|this)\s+May\b|\b\d{1,2}(?:st|nd|rd|th)?\s+"
    r"May\b|\bMay\s+\d"
)
_CONNECTIVES = _words(
    "however therefore moreover furthermore thus hence consequently nevertheless accordingly whereas additionally "
    "notably"
)
_INTENSIFIERS = _words("really very so totally super awesome amazing incredible absolutely literally huge love great")
_ARCHAIC = _words(
    "thou thee thy thine ye hath doth art dost hast wilt shalt canst wouldst couldst shouldst didst ere hither "
    "thither whither hence thence whence wherefore whereof anon nay ay aye prithee forsooth methinks mayst "
    "'tis 'twas ’tis ’twas o'er e'er ne'er oft alas tis twas"
)
_ARCHAIC_END = re.compile(r"^[a-z]{3,}(?:eth|est)$")
_NOT_ARCHAIC_END = _words(
    "best rest test west nest least most latest interest honest forest guest request chest breast beneath "
    "biggest greatest largest smallest highest lowest longest strongest finest earnest modest contest quest "
    "harvest invest protest suggest digest manifest arrest behest"
)
_ZH_FORMAL = ("予以", "进行", "加以", "坚持", "推进", "落实", "加强", "切实", "进一步", "贯彻", "部署", "各级", "有关")
_ZH_CLASSICAL = ("之", "其", "乃", "矣", "焉", "亦", "遂", "甚", "皆", "此")
_ZH_SLANG = re.compile(
    "|".join(
        _words(
            "哈哈 嘿嘿 呜呜 绝绝子 yyds 家人们 宝子 姐妹们 集美 种草 拔草 安利 打卡 破防 笑死 无语 离谱 真的会谢 栓Q "
            "躺平 内卷 摆烂 爱了 冲鸭 冲冲冲 狠狠 上头 绝了 救命 emo 666 打call 氛围感 天花板 搞钱 干饭 打工人 凡尔赛 "
            "社恐 社牛 吃瓜 好家伙 芜湖 谁懂 宝藏 避雷 踩雷 回购 闭眼入 评论区 一键三连 啊啊啊 哈喽 小伙伴 码住 真香"
        )
    ),
    re.I,
)
_ZH_NUMBER = re.compile(r"\d+(?:[.,]\d+)*|[一二三四五六七八九十百千万亿]+(?=[个年月日项条次%])")
_EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B50\u2764]|\[[\u4e00-\u9fffA-Za-z]{1,4}\]")
_ZH_PARTICLE = re.compile(r"[吧呢啊哈呀啦嘛哦哇耶呗]")
_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_EN_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*|['’](?:tis|twas|t)\b", re.I)


def _catalogue() -> dict[str, dict[str, Feature]]:
    en: list[Feature] = [
        Feature("sent_len", "sentences", "sentence length", " words", 2.0, rate=False),
        Feature("sent_len_sd", "sentences", "variation in sentence length", " words", 2.0, rate=False),
        Feature("short_sent", "sentences", "short sentences (8 words or fewer)", "%", 8.0, rate=False),
        Feature("long_sent", "sentences", "long sentences (25 words or more)", "%", 8.0, rate=False),
        Feature("word_len", "vocabulary", "word length", " letters", 0.15),
        Feature("long_words", "vocabulary", "long words (7+ letters)", " per 100 words", 2.0),
        Feature("mattr", "vocabulary", "vocabulary variety (moving type-token ratio)", "", 0.02, rate=False),
        Feature("contractions", "formality", "contractions (it's, don't)", " per 100 words", 0.6),
        Feature("first_person", "formality", "first person singular (I, me, my)", " per 100 words", 0.8),
        Feature("first_plural", "formality", "first person plural (we, us, our)", " per 100 words", 0.5),
        Feature("second_person", "formality", "second person (you, your, thou)", " per 100 words", 0.8),
        Feature("hedges", "formality", "hedges (may, perhaps, suggests)", " per 100 words", 0.4),
        Feature("connectives", "formality", "formal connectives (however, therefore)", " per 100 words", 0.3),
        Feature("intensifiers", "formality", "intensifiers (really, so, amazing)", " per 100 words", 0.5),
        Feature("archaic", "formality", "archaic forms (thou, thee, hath, doth)", " per 100 words", 0.4),
        Feature("exclamations", "formality", "exclamations", "% of sentences", 4.0),
        Feature("questions", "formality", "questions", "% of sentences", 4.0),
        Feature("numbers", "formality", "numbers", " per 100 words", 0.5),
        Feature("capitals", "formality", "capitalised words inside sentences", " per 100 words", 0.8),
    ]
    en += [Feature(f"p_{k}", "punctuation", label, " per 100 words", 0.4) for k, (_, label) in _EN_PUNCT.items()]
    en += [Feature(f"fw_{w}", "function_words", f"the word '{w}'", " per 100 words", 0.4) for w in _EN_FUNCTION]
    zh: list[Feature] = [
        Feature("sent_len", "sentences", "句长 (sentence length)", " characters", 3.0, rate=False),
        Feature("sent_len_sd", "sentences", "句长变化 (variation in sentence length)", " characters", 3.0, rate=False),
        Feature("short_sent", "sentences", "短句 (10 characters or fewer)", "%", 8.0, rate=False),
        Feature("long_sent", "sentences", "长句 (40 characters or more)", "%", 8.0, rate=False),
        Feature("clause_len", "sentences", "分句长度 (clause length)", " characters", 1.5, rate=False),
        Feature("word_len", "vocabulary", "词长 (word length)", " characters", 0.08),
        Feature("mattr", "vocabulary", "用词丰富度 (moving type-token ratio)", "", 0.02, rate=False),
        Feature("zhi_qi", "formality", "书面虚词 之/其", " per 100 characters", 0.3),
        Feature("de", "formality", "“的”", " per 100 characters", 0.8),
        Feature("jinxing", "formality", "公文动词 进行/予以/加以", " per 100 characters", 0.15),
        Feature("official", "formality", "公文用语 (坚持, 推进, 落实, 加强)", " per 100 characters", 0.3),
        Feature("classical", "formality", "文言虚词 (乃, 矣, 亦, 皆)", " per 100 characters", 0.3),
        Feature("slang", "formality", "网络用语 (internet slang)", " per 100 characters", 0.3),
        Feature("emoji", "formality", "表情 (emoji)", " per 100 characters", 0.3),
        Feature("particles", "formality", "语气词 吧/呢/啊/哈", " per 100 characters", 0.4),
        Feature("first_person", "formality", "第一人称 (我, 我们)", " per 100 characters", 0.4),
        Feature("second_person", "formality", "第二人称 (你, 您)", " per 100 characters", 0.4),
        Feature("exclamations", "formality", "感叹句 (exclamations)", "% of sentences", 4.0),
        Feature("questions", "formality", "疑问句 (questions)", "% of sentences", 4.0),
        Feature("numbers", "formality", "数字 (numbers)", " per 100 characters", 0.4),
        Feature("latin", "formality", "夹杂英文 (Latin-script words)", " per 100 characters", 0.3),
    ]
    zh += [Feature(f"p_{k}", "punctuation", label, " per 100 characters", 0.3) for k, (_, label) in _ZH_PUNCT.items()]
    zh += [Feature(f"fw_{w}", "function_words", f"“{w}”", " per 100 words", 0.4) for w in _ZH_FUNCTION]
    return {"en": {f.name: f for f in en}, "zh": {f.name: f for f in zh}}


FEATURES = _catalogue()
GROUPS = ("sentences", "vocabulary", "function_words", "punctuation", "formality", "wording")
# Similarity of a passage's words to the style's most frequent words: measured against a profile, not alone.
WORDING = {
    "en": Feature("wording", "wording", "overlap with the style's typical words", "", 0.03),
    "zh": Feature("wording", "wording", "用词与该风格常用词的重合度 (overlap with its typical words)", "", 0.03),
}
for _lang, _feature in WORDING.items():
    FEATURES[_lang]["wording"] = _feature
MATTR_WINDOW = 50


def feature_language(lang: str) -> str:
    """The feature set used for a language: Chinese scripts get the Chinese one, everything else English."""
    return "zh" if lang in ("zh", "zh-tw") else "en"


# --- splitting ----------------------------------------------------------------------------------------------------

_EN_SENT_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\n\s*\n")
_ZH_SENT_END = re.compile(r"(?<=[。！？!?…])[”’」』)）]*|\n+")


def sentences(text: str, lang: str) -> list[str]:
    """Sentences: split after . ! ? … (Chinese 。！？) and at blank lines (Chinese: any line break)."""
    pattern = _ZH_SENT_END if feature_language(lang) == "zh" else _EN_SENT_END
    return [s.strip() for s in pattern.split(text) if s and s.strip() and _has_words(s)]


def sentence_spans(text: str, lang: str) -> list[tuple[int, int]]:
    """Where the ``sentences`` of ``text`` stand in it: (start, end) of each, with the closing quotes and brackets
    after its end mark and without the spaces around it."""
    pattern = _ZH_SENT_END if feature_language(lang) == "zh" else _EN_SENT_END
    out = []
    pos = 0
    for match in [*pattern.finditer(text), None]:
        end, after = (match.start(), match.end()) if match else (len(text), len(text))
        closing = text[end:after]
        part = text[pos : end + len(closing) - len(closing.lstrip("\"'”’)]」』）"))]
        if part.strip() and _has_words(part):
            out.append((pos + len(part) - len(part.lstrip()), pos + len(part.rstrip())))
        pos = after
    return out


def _has_words(s: str) -> bool:
    return any(ch.isalnum() for ch in s)


def en_words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _EN_WORD.findall(text)]


# A contraction is measured as the words it stands for ("you're": you + are, "don't": do + not), so that
# contracting a text changes its contraction rate and little else: counted as one word, "you're" hid a pronoun,
# "it's" two function words, and words looked longer. "'s" is written out as "is" only after a pronoun or a
# question word; after a noun it may be a possessive ("Olivia's servants") or not ("the library's closed"), which
# only a parser could tell, so such a word stays whole (and counts as a contraction, as it always has). "'d" is read
# as "would".
_CLITIC = re.compile(r"^([a-z]+)'(s|t|re|ve|ll|d|m)$")
_CLITIC_WORD = {"re": "are", "ve": "have", "ll": "will", "d": "would", "m": "am"}
_NOT_HOST = {"can": "can", "won": "will", "shan": "shall", "ain": "is"}  # can't, won't, shan't, ain't
_IS_HOST = _words("it he she that what there here who where how when why this everything nothing somebody")


def expand_contraction(word: str) -> tuple[str, ...]:
    """The words a (lower-case) contraction stands for; the word itself when it is none of the regular ones."""
    m = _CLITIC.match(word)
    if not m:
        return (word,)
    host, tail = m.groups()
    if tail == "t":
        if not host.endswith("n") or len(host) < 3:  # Shakespeare's "is't", "on't": left as they are
            return (word,)
        return (_NOT_HOST.get(host, host[:-1]), "not")
    if tail == "s":
        if host == "let":
            return ("let", "us")
        return (host, "is") if host in _IS_HOST else (word,)
    return (host, _CLITIC_WORD[tail])


def is_contraction(word: str) -> bool:
    """A contracted form (lower case): "don't", "it's", "'tis", "o'", and a noun's "'s" (see above)."""
    return bool(_CONTRACTION.search(word))


def _shown_contraction(word: str) -> bool:
    """A contraction to show a writer as an example: not a noun's "'s", which is most often a possessive."""
    return is_contraction(word) and (len(expand_contraction(word)) > 1 or not word.endswith("'s"))


def en_tokens(text: str) -> list[str]:
    """``en_words`` with each contraction written out: the words the style features count."""
    return written_out(en_words(text))


def written_out(words: list[str]) -> list[str]:
    return [part for w in words for part in expand_contraction(w)]


def words(text: str, lang: str) -> int:
    """Words the function-word rates are per: English with contractions written out, Chinese as jieba cuts it."""
    return len(zh_words(text)) if feature_language(lang) == "zh" else len(en_tokens(text))


def zh_units(text: str) -> int:
    """Length of Chinese text: CJK characters plus Latin words and numbers."""
    return len(_CJK_CHAR.findall(text)) + len(re.findall(r"[A-Za-z0-9]+", text))


def zh_words(text: str) -> list[str]:
    return [w for w in jieba_words(text) if _has_words(w)]


def length(text: str, lang: str) -> int:
    """Words (English) or characters (Chinese): the unit rates are counted in."""
    return zh_units(text) if feature_language(lang) == "zh" else len(en_words(text))


# --- measures -----------------------------------------------------------------------------------------------------


def mattr(tokens: list[str], window: int = MATTR_WINDOW) -> float | None:
    """Moving-average type-token ratio; None below one window (a plain TTR would not be comparable)."""
    if len(tokens) < window:
        return None
    counts = Counter(tokens[:window])
    total = len(counts)
    for i in range(window, len(tokens)):
        out, new = tokens[i - window], tokens[i]
        counts[out] -= 1
        if counts[out] == 0:
            del counts[out]
        counts[new] += 1
        total += len(counts)
    return total / ((len(tokens) - window + 1) * window)


def _sentence_shape(lengths: list[int], short: int, long: int) -> dict[str, float]:
    out: dict[str, float] = {}
    if not lengths:
        return out
    mean = sum(lengths) / len(lengths)
    out["sent_len"] = mean
    if len(lengths) >= 3:
        out["sent_len_sd"] = math.sqrt(sum((n - mean) ** 2 for n in lengths) / (len(lengths) - 1))
        out["short_sent"] = 100 * sum(n <= short for n in lengths) / len(lengths)
        out["long_sent"] = 100 * sum(n >= long for n in lengths) / len(lengths)
    return out


def _ends(sents: list[str], marks: str) -> float:
    return 100 * sum(s.rstrip("\"'”’」』)） ")[-1:] in marks for s in sents) / max(len(sents), 1)


def extract(text: str, lang: str) -> dict[str, float]:
    """Every measurable feature of ``text`` (see ``FEATURES``); empty for a text without words."""
    return _extract_zh(text) if feature_language(lang) == "zh" else _extract_en(text)


def _extract_en(text: str) -> dict[str, float]:
    surface = en_words(text)
    words = written_out(surface)
    n = len(words)
    if not n:
        return {}
    sents = sentences(text, "en")
    out = _sentence_shape([max(1, len(en_tokens(s))) for s in sents], 8, 25)
    per = 100.0 / n
    counts = Counter(words)
    out["word_len"] = sum(len(w.replace("'", "")) for w in words) / n
    out["long_words"] = per * sum(len(w) >= 7 for w in words)
    m = mattr(words)
    if m is not None:
        out["mattr"] = m
    out["contractions"] = per * sum(is_contraction(w) for w in surface)
    out["first_person"] = per * sum(counts[w] for w in _FIRST_SG)
    out["first_plural"] = per * sum(counts[w] for w in _FIRST_PL)
    out["second_person"] = per * sum(counts[w] for w in _SECOND)
    out["hedges"] = per * sum(_hedges(text, words).values())
    out["connectives"] = per * sum(counts[w] for w in _CONNECTIVES)
    out["intensifiers"] = per * sum(counts[w] for w in _INTENSIFIERS)
    out["archaic"] = per * sum(c for w, c in counts.items() if is_archaic(w))
    out["exclamations"] = _ends(sents, "!")
    out["questions"] = _ends(sents, "?")
    out["numbers"] = per * len(re.findall(r"\d+(?:[.,]\d+)*", text))
    out["capitals"] = per * sum(_inner_capitals(s) for s in sents)
    for key, (chars, _) in _EN_PUNCT.items():
        if key == "dash":
            hits = len(re.findall(r"—|–|(?<=\s)-(?=\s)|--", text))
        elif key == "ellipsis":
            hits = text.count("…") + text.count("...")
        else:
            hits = sum(text.count(ch) for ch in chars)
        out[f"p_{key}"] = per * hits
    for w in _EN_FUNCTION:
        out[f"fw_{w}"] = per * counts[w]
    return out


def _hedges(text: str, words: list[str]) -> Counter[str]:
    """The hedges among ``words`` (the words of ``text``), less "May" the month."""
    found = Counter(w for w in words if w in _HEDGES)
    found["may"] -= len(_MAY_MONTH.findall(text))
    return +found  # drops counts at zero


def _inner_capitals(sentence: str) -> int:
    words = _EN_WORD.findall(sentence)[1:]
    return sum(w[0].isupper() and w not in ("I", "I'm", "I'll", "I've", "I'd", "O") for w in words)


def is_archaic(word: str) -> bool:
    word = word.lower().replace("’", "'")
    if word in _ARCHAIC:
        return True
    return bool(_ARCHAIC_END.match(word)) and word not in _NOT_ARCHAIC_END and not word.endswith(("ness", "less"))


def _extract_zh(text: str) -> dict[str, float]:
    n = zh_units(text)
    if not n:
        return {}
    sents = sentences(text, "zh")
    out = _sentence_shape([max(1, zh_units(s)) for s in sents], 10, 40)
    clauses = [c for c in re.split(r"[，,；;：:、。！？!?…\n]+", text) if zh_units(c)]
    if clauses:
        out["clause_len"] = sum(zh_units(c) for c in clauses) / len(clauses)
    words = zh_words(text)
    per = 100.0 / n
    counts = Counter(words)
    if words:
        out["word_len"] = sum(zh_units(w) for w in words) / len(words)
    m = mattr(words)
    if m is not None:
        out["mattr"] = m
    out["zhi_qi"] = per * (counts["之"] + counts["其"])
    out["de"] = per * text.count("的")
    out["jinxing"] = per * sum(text.count(w) for w in ("进行", "予以", "加以"))
    out["official"] = per * sum(text.count(w) for w in _ZH_FORMAL)
    out["classical"] = per * sum(counts[w] for w in _ZH_CLASSICAL if w not in ("之", "其"))
    out["slang"] = per * len(_ZH_SLANG.findall(text))
    out["emoji"] = per * len(_EMOJI.findall(text))
    out["particles"] = per * len(_ZH_PARTICLE.findall(text))
    out["first_person"] = per * text.count("我")
    out["second_person"] = per * (text.count("你") + text.count("您"))
    out["exclamations"] = _ends(sents, "！!")
    out["questions"] = _ends(sents, "？?")
    out["numbers"] = per * len(
        re.findall(r"\d+(?:[.,]\d+)*|[一二三四五六七八九十百千万亿]+(?=[个年月日项条次%])", text)
    )
    out["latin"] = per * len(re.findall(r"[A-Za-z]+", text))
    for key, (chars, _) in _ZH_PUNCT.items():
        out[f"p_{key}"] = per * sum(text.count(ch) for ch in chars)
    wn = 100.0 / max(len(words), 1)
    for w in _ZH_FUNCTION:
        out[f"fw_{w}"] = wn * counts[w]
    return out


WORDING_WINDOW = 10


def word_windows(text: str, lang: str, window: int = WORDING_WINDOW) -> list[Counter[str]]:
    """Word counts of consecutive windows of ``window`` words (Chinese: jieba words); none for a shorter text.

    The wording similarity is averaged over equal windows because a cosine grows with the length of the text."""
    words = zh_words(text) if feature_language(lang) == "zh" else en_words(text)
    words = [w.lower() for w in words]
    return [Counter(words[i : i + window]) for i in range(0, len(words) - window + 1, window)]


def wording(windows: list[Counter[str]], centroid: dict[str, float]) -> float | None:
    """Mean cosine of the windows to the centroid; None without a full window."""
    if not windows or not centroid:
        return None
    return sum(cosine(w, centroid) for w in windows) / len(windows)


def cosine(counts: Counter[str] | dict[str, float], centroid: dict[str, float]) -> float:
    """Cosine between square-root-damped counts and a centroid of relative frequencies (also damped)."""
    a = {w: math.sqrt(c) for w, c in counts.items() if c > 0}
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v for v in centroid.values() if v > 0))
    if not na or not nb:
        return 0.0
    return sum(v * math.sqrt(centroid.get(w, 0.0)) for w, v in a.items()) / (na * nb)


def marker_words(text: str, lang: str, limit: int = 6) -> dict[str, list[str]]:
    """The marker words a text actually uses most (archaic forms, slang, ...), for rules in plain words."""
    found: dict[str, Counter[str]] = {}
    if feature_language(lang) == "zh":
        found["slang"] = Counter(m.lower() for m in _ZH_SLANG.findall(text))
        found["official"] = Counter({w: text.count(w) for w in _ZH_FORMAL if w in text})
        found["particles"] = Counter(_ZH_PARTICLE.findall(text))
        found["emoji"] = Counter(_EMOJI.findall(text))
    else:
        words = en_words(text)
        found["archaic"] = Counter(w for w in words if is_archaic(w))
        found["contractions"] = Counter(w for w in words if _shown_contraction(w))
        found["hedges"] = _hedges(text, words)
        found["intensifiers"] = Counter(w for w in words if w in _INTENSIFIERS)
        found["connectives"] = Counter(w for w in words if w in _CONNECTIVES)
    return {k: [w for w, _ in c.most_common(limit)] for k, c in found.items() if c}
