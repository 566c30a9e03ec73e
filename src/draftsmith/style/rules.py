"""Plain words for style statistics: rules derived from a profile, and one sentence per difference."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from draftsmith.style.features import Feature

if TYPE_CHECKING:
    from draftsmith.style.profile import StyleProfile

# What to tell a writer whose value is below / above the style's.
_ADVICE = {
    "sent_len": ("Write longer sentences.", "Write shorter sentences."),
    "sent_len_sd": ("Vary sentence length more.", "Keep sentence lengths more even."),
    "short_sent": ("Use more short sentences.", "Use fewer short sentences."),
    "long_sent": ("Use more long sentences.", "Use fewer long sentences."),
    "clause_len": ("Use longer clauses.", "Use shorter clauses."),
    "word_len": ("Prefer longer, more precise words.", "Prefer shorter, plainer words."),
    "mattr": ("Vary your vocabulary more.", "Repeat key words more; keep the vocabulary simpler."),
}


def _fmt(value: float) -> str:
    if abs(value) < 0.005:
        return "0"
    if abs(value) >= 10:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}"
    return f"{value:.2f}"


def describe_difference(feature: Feature, mine: float, theirs: float, a: str = "yours", b: str = "style") -> str:
    """One sentence: the two values and, when scoring against a style, what to change."""
    more = mine < theirs
    you = a == "yours"
    subject, other = ("yours", "this style") if you else (a, b)
    if feature.unit.startswith("%"):
        where = "of your sentences" if you else f"of {a}'s sentences"
        label = feature.label[0].upper() + feature.label[1:]
        text = f"{label}: {_fmt(mine)}% {where}; {_fmt(theirs)}% in {other}."
    elif "per 100" in feature.unit:
        per = feature.unit.strip()
        who = "You use" if you else f"{a} uses"
        text = f"{who} {feature.label} {_fmt(mine)} times {per}; {other} about {_fmt(theirs)}."
    elif feature.name == "sent_len":
        unit = feature.unit.strip()
        if you:
            text = f"Your sentences average {_fmt(mine)} {unit}; this style averages {_fmt(theirs)}."
        else:
            text = f"{a}'s sentences average {_fmt(mine)} {unit}; {b}'s average {_fmt(theirs)}."
    else:
        unit = feature.unit
        label = feature.label[0].upper() + feature.label[1:]
        text = f"{label}: {_fmt(mine)}{unit} in {subject}, {_fmt(theirs)}{unit} in {other}."
    if you:
        up, down = _ADVICE.get(feature.name, ("Use more.", "Use fewer."))
        text += " " + (up if more else down)
    return text


def _m(profile: StyleProfile, name: str) -> float | None:
    stat = profile.features.get(name)
    return stat.mean if stat else None


def _examples(profile: StyleProfile, key: str, sep: str = ", ") -> str:
    words = profile.markers.get(key, [])[:5]  # lower case as counted: "I" written as a writer would ("I'm")
    return sep.join(re.sub(r"^i\b", "I", w) if profile.language == "en" else w for w in words)


def derive_rules(profile: StyleProfile) -> list[str]:
    """Rules a writer (or a model) can follow, from the features that stand out."""
    return _rules_zh(profile) if profile.language == "zh" else _rules_en(profile)


def _rules_en(p: StyleProfile) -> list[str]:
    rules: list[str] = []
    sent, sd = _m(p, "sent_len"), _m(p, "sent_len_sd")
    if sent is not None:
        spread = f" (most between {max(1, sent - (sd or 0)):.0f} and {sent + (sd or 0):.0f})" if sd else ""
        rules.append(f"Sentences average about {sent:.0f} words{spread}.")
    checks = [
        ("archaic", 1.0, None, "Use archaic forms such as {ex} (about {v} per 100 words).", None),
        ("contractions", 2.0, 0.3, "Use contractions freely ({ex}).", "Avoid contractions."),
        ("first_person", 3.0, None, "First person (I, me, my) is common.", None),
        (
            "second_person",
            2.5,
            0.2,
            "The reader or listener is often addressed as 'you'.",
            "Do not address the reader as 'you'.",
        ),
        ("hedges", 1.0, None, "Hedge claims ({ex}).", None),
        ("connectives", 0.6, None, "Link sentences with formal connectives ({ex}).", None),
        ("intensifiers", 2.0, None, "Use emphatic, enthusiastic words ({ex}).", None),
        ("exclamations", 15.0, 1.0, "Exclamations are common (about {v}% of sentences).", "Avoid exclamation marks."),
        ("questions", 15.0, None, "Questions are frequent (about {v}% of sentences).", None),
        ("word_len", 5.0, 4.2, "Prefer long, precise words.", "Prefer short, plain words."),
        ("p_semicolon", 0.8, None, "Join related clauses with semicolons.", None),
        ("p_dash", 1.0, None, "Use dashes for asides and emphasis.", None),
        ("numbers", 2.0, None, "Numbers are frequent; keep them exact.", None),
    ]
    rules += _apply(p, checks)
    if (_m(p, "first_person") or 0) < 0.3 and (_m(p, "first_plural") or 0) < 0.3:
        rules.append("Keep an impersonal voice: no I or we.")
    return rules


def _rules_zh(p: StyleProfile) -> list[str]:
    rules: list[str] = []
    sent, sd = _m(p, "sent_len"), _m(p, "sent_len_sd")
    if sent is not None:
        spread = f"（多在 {max(1, sent - (sd or 0)):.0f}–{sent + (sd or 0):.0f} 字之间）" if sd else ""
        rules.append(f"句子平均约 {sent:.0f} 字{spread}。")
    checks = [
        ("official", 0.8, None, "使用公文用语（{ex}）。", None),
        ("jinxing", 0.3, None, "多用“进行”“予以”“加以”等书面动词。", None),
        ("zhi_qi", 1.5, None, "多用书面虚词“之”“其”。", None),
        ("slang", 0.5, 0.05, "使用网络用语（{ex}）。", "不用网络用语。"),
        ("emoji", 0.5, None, "适当使用表情符号（{ex}）。", None),
        ("particles", 1.5, 0.2, "句末常用语气词（{ex}）。", "不用语气词（吧、呢、啊）。"),
        ("exclamations", 15.0, 1.0, "感叹句较多（约 {v}% 的句子）。", "不用感叹号。"),
        ("questions", 15.0, None, "常用问句与读者互动（约 {v}% 的句子）。", None),
        ("first_person", 2.0, None, "常用第一人称（我、我们）。", None),
        ("p_enum_comma", 1.5, None, "多用顿号、分号并列列举。", None),
    ]
    return rules + _apply(p, checks, sep="、")


def _apply(p: StyleProfile, checks: list, sep: str = ", ") -> list[str]:
    out = []
    for name, high, low, high_rule, low_rule in checks:
        value = _m(p, name)
        if value is None:
            continue
        if value >= high:
            ex = _examples(p, name, sep)
            if "{ex}" in high_rule and not ex:
                high_rule = high_rule.replace(" ({ex})", "").replace("（{ex}）", "").replace(" such as {ex}", "")
            out.append(high_rule.format(ex=ex, v=f"{value:.0f}"))
        elif low is not None and low_rule and value <= low:
            out.append(low_rule)
    return out


# What to change in a given text to move it towards a style, as instructions for a rewrite: (more, fewer).
# Features that would change what the text says (person, questions, numbers, names) are left out on purpose.
_HINTS: dict[str, tuple[str | None, str | None]] = {
    "contractions": ("Use contractions ({ex}).", "Write out every contraction (it is, do not, I am)."),
    "archaic": ("Use archaic forms ({ex}).", "Use modern words instead of archaic forms."),
    "word_len": ("Prefer longer, more precise words.", "Prefer shorter, plainer words."),
    "long_words": ("Prefer longer, more precise words.", "Prefer shorter, plainer words."),
    "exclamations": ("Turn a statement into an exclamation!", "Use no exclamation marks."),
    "hedges": ("Soften claims with words like {ex}.", "State claims plainly, without hedges."),
    "connectives": ("Link sentences with connectives such as {ex}.", "Drop formal connectives (however, therefore)."),
    "intensifiers": ("Use lively, emphatic words ({ex}).", "Drop intensifiers (really, so, totally)."),
    "p_comma": ("Use more commas: join clauses, add short asides.", "Use fewer commas; keep clauses simple."),
    "p_semicolon": ("Join related clauses with semicolons.", "Use no semicolons."),
    "p_dash": ("Set off asides with dashes.", "Use no dashes."),
    "mattr": ("Vary the vocabulary; avoid repeating words.", None),
}
_HINT_EXAMPLES = {
    "contractions": "it's, don't, I'm, you're",
    "archaic": "thou, thee, thy, hath, doth, 'tis",
    "hedges": "may, perhaps, likely",
    "connectives": "however, therefore, moreover",
    "intensifiers": "really, so, totally, amazing",
}
_SENTENCES = {"sent_len", "short_sent", "long_sent"}
# Contractions per 100 words in a style (its texts' mean) at least which rewrite's mechanical edits contract the common
# ones (``select.mechanical_edits``) and no hint asks to cut them, and at most which the edits write every one out
# and the hint says so; in between, a text with more than the style is told to use fewer. (Casual, 8.1 per 100 words,
# told a text of 13 to "write out every contraction", against its own description.)
CONTRACT_ABOVE = 3.0
EXPAND_BELOW = 0.3


# Chinese: (more, fewer). Examples are fixed where the profile's markers could add content (评论区, 打卡, 避雷 say
# what someone did; 🥐 and 🧋 name things); the slang, particles and emoji of these lists add tone only.
_HINTS_ZH: dict[str, tuple[str | None, str | None]] = {
    "official": ("使用公文用语（{ex}）。", "少用公文套语（进行、予以、切实）。"),
    "jinxing": ("用“进行”“予以”“加以”等书面动词。", "少用“进行”“予以”“加以”。"),
    "zhi_qi": ("用书面虚词“之”“其”。", None),
    "slang": ("加一两个网络用语（{ex}）。", "不用网络用语。"),
    "emoji": ("在句末加一两个表情符号（{ex}）。", "不用表情符号。"),
    "particles": ("句末用语气词（{ex}）。", "不用语气词（吧、呢、啊）。"),
    "exclamations": ("把一句陈述改成感叹句！", "不用感叹号，用句号。"),
    "word_len": ("多用双音节的书面词语。", "多用简短的口语词。"),
    "p_enum_comma": ("并列的词语用顿号隔开。", None),
}
_HINT_EXAMPLES_ZH = {
    "slang": "哈哈、家人们、谁懂、绝了、笑死",
    "particles": "啊、呀、吧、呢、哈",
    "emoji": "😂、✨、😅、👍",
}
_SENTENCES_ZH = {"sent_len", "short_sent", "long_sent", "clause_len"}


def rewrite_hints(profile: StyleProfile, mine: dict[str, float], z: dict[str, float], top: int = 5) -> list[str]:
    """Concrete changes that move a text towards the style, most needed first: from the text's features
    (``mine``) and their standardised differences ``z`` to the style (see ``profile.adherence``)."""
    if profile.language == "zh":
        return _rewrite_hints_zh(profile, mine, z, top)
    if profile.language != "en":
        return []
    ranked = sorted((n for n in z if abs(z[n]) >= 0.5 and (n in _HINTS or n in _SENTENCES)), key=lambda n: -abs(z[n]))
    out: list[str] = []
    seen: set[str] = set()
    target = profile.features["sent_len"].mean if "sent_len" in profile.features else None
    joining = (  # the sentence hint will say to join sentences (with commas among others)
        target is not None
        and any(n in _SENTENCES for n in ranked)
        and mine.get("sent_len") is not None
        and target - mine["sent_len"] >= 2
    )
    for name in ranked:
        if len(out) >= top:
            break
        if name in _SENTENCES:
            if "sentences" in seen or "sent_len" not in profile.features:
                continue
            seen.add("sentences")
            target = profile.features["sent_len"].mean
            now = mine.get("sent_len")
            if now is None or abs(now - target) < 2:
                continue
            how = "split long sentences" if now > target else "join short sentences with and, but, for or commas"
            out.append(f"Sentences in this style average about {target:.0f} words; yours average {now:.0f}: {how}.")
            continue
        key = "word_len" if name == "long_words" else name
        if key in seen or (key == "p_comma" and z[name] > 0 and joining):
            continue  # "use fewer commas" would undo "join short sentences with … commas"
        seen.add(key)
        more, fewer = _HINTS[name]
        hint = more if z[name] < 0 else fewer
        if name == "contractions" and z[name] > 0 and profile.features[name].mean > EXPAND_BELOW:
            # the style has some: "write out every one" would overshoot it; one that contracts freely gets none
            hint = "Use fewer contractions." if profile.features[name].mean < CONTRACT_ABOVE else None
        if not hint:
            continue
        ex = (
            _HINT_EXAMPLES[name] if name == "contractions" else _examples(profile, name) or _HINT_EXAMPLES.get(name, "")
        )
        out.append(hint.format(ex=ex))
    return out


def _rewrite_hints_zh(profile: StyleProfile, mine: dict[str, float], z: dict[str, float], top: int) -> list[str]:
    """``rewrite_hints`` for Chinese: sentence length, register words (公文用语, 网络用语), particles, emoji and
    exclamations. Person, questions, numbers and names are left out, as in English."""
    wanted = [n for n in z if abs(z[n]) >= 0.5 and (n in _HINTS_ZH or n in _SENTENCES_ZH)]
    ranked = sorted(wanted, key=lambda n: -abs(z[n]))
    out: list[str] = []
    seen: set[str] = set()
    for name in ranked:
        if len(out) >= top:
            break
        if name in _SENTENCES_ZH:
            stat, now = profile.features.get("sent_len"), mine.get("sent_len")
            if "sentences" in seen or stat is None or now is None or abs(now - stat.mean) < 4:
                continue
            target = stat.mean
            seen.add("sentences")
            how = "把长句拆成短句" if now > target else "把短句连成长句"
            out.append(f"这种风格的句子平均约 {target:.0f} 字，这段约 {now:.0f} 字：{how}。")
            continue
        more, fewer = _HINTS_ZH[name]
        hint = more if z[name] < 0 else fewer
        if not hint:
            continue
        ex = _HINT_EXAMPLES_ZH.get(name) or _examples(profile, name, "、")
        if "{ex}" in hint and not ex:
            continue
        out.append(hint.format(ex=ex))
    return out
