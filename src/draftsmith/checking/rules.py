"""Frequent English grammar errors as precise rules: each has an id, a category and a message a learner understands.

Precision first: a rule fires only in contexts where the fix is (almost) always right — e.g. subject–verb
agreement only for a subject pronoun that starts a clause, never after "that" (subjunctive) or a question word.
Every pattern is a regular expression over one paragraph; a check function then looks at the context.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from draftsmith.checking.problem import Problem, RuleInfo, register
from draftsmith.checking.text import Protected, at_sentence_start, split_words
from draftsmith.writing.edits import Category

# -- verb forms -----------------------------------------------------------------------------------

# fmt: off
IRREGULAR = {  # base: (3rd person singular, simple past, past participle)
    "go": ("goes", "went", "gone"), "do": ("does", "did", "done"), "have": ("has", "had", "had"),
    "come": ("comes", "came", "come"), "see": ("sees", "saw", "seen"), "eat": ("eats", "ate", "eaten"),
    "take": ("takes", "took", "taken"), "give": ("gives", "gave", "given"), "make": ("makes", "made", "made"),
    "say": ("says", "said", "said"), "know": ("knows", "knew", "known"), "think": ("thinks", "thought", "thought"),
    "buy": ("buys", "bought", "bought"), "get": ("gets", "got", "gotten"), "write": ("writes", "wrote", "written"),
    "speak": ("speaks", "spoke", "spoken"), "drive": ("drives", "drove", "driven"),
    "break": ("breaks", "broke", "broken"), "choose": ("chooses", "chose", "chosen"),
    "begin": ("begins", "began", "begun"), "drink": ("drinks", "drank", "drunk"), "sing": ("sings", "sang", "sung"),
    "swim": ("swims", "swam", "swum"), "run": ("runs", "ran", "run"), "fly": ("flies", "flew", "flown"),
    "grow": ("grows", "grew", "grown"), "draw": ("draws", "drew", "drawn"), "throw": ("throws", "threw", "thrown"),
    "forget": ("forgets", "forgot", "forgotten"), "find": ("finds", "found", "found"),
    "feel": ("feels", "felt", "felt"), "bring": ("brings", "brought", "brought"),
    "teach": ("teaches", "taught", "taught"), "catch": ("catches", "caught", "caught"),
    "sleep": ("sleeps", "slept", "slept"), "tell": ("tells", "told", "told"), "sell": ("sells", "sold", "sold"),
    "meet": ("meets", "met", "met"), "sit": ("sits", "sat", "sat"), "stand": ("stands", "stood", "stood"),
    "understand": ("understands", "understood", "understood"), "win": ("wins", "won", "won"),
    "lose": ("loses", "lost", "lost"), "pay": ("pays", "paid", "paid"), "send": ("sends", "sent", "sent"),
    "spend": ("spends", "spent", "spent"), "keep": ("keeps", "kept", "kept"), "hear": ("hears", "heard", "heard"),
    "wear": ("wears", "wore", "worn"), "fall": ("falls", "fell", "fallen"), "ride": ("rides", "rode", "ridden"),
    "steal": ("steals", "stole", "stolen"), "wake": ("wakes", "woke", "woken"),
    "become": ("becomes", "became", "become"), "leave": ("leaves", "left", "left"),
}
# fmt: on
REGULAR = split_words(
    "want like need live work play study watch try use help call ask look walk talk love hate visit stay open "
    "start finish travel learn listen cook clean wait enjoy arrive decide change move believe agree answer carry "
    "cry worry hope plan stop prefer miss wish finish seem happen remember improve include support explain "
    "complete prepare return dance smile laugh rain snow create allow offer share follow"
)


def _regular(base: str) -> tuple[str, str, str]:
    if base.endswith("y") and base[-2] not in "aeiou":
        third, past = base[:-1] + "ies", base[:-1] + "ied"
    else:
        third = base + ("es" if base.endswith(("s", "sh", "ch", "x", "o", "z")) else "s")
        if base.endswith("e"):
            past = base + "d"
        elif base in ("stop", "plan", "prefer"):
            past = base + base[-1] + "ed"
        else:
            past = base + "ed"
    return third, past, past


VERBS: dict[str, tuple[str, str, str]] = {**{b: _regular(b) for b in REGULAR}, **IRREGULAR}
BASE_OF: dict[str, str] = {}
for _base, (_third, _past, _part) in VERBS.items():
    BASE_OF.setdefault(_third, _base)
    BASE_OF.setdefault(_past, _base)
THIRD = {t: b for b, (t, _, _) in VERBS.items()}
# Simple pasts that are never a base form, a participle or a common noun/adjective.
PAST_ONLY = {
    v[1]: b
    for b, v in IRREGULAR.items()
    if v[1] != v[2] and v[1] not in ("saw", "broke", "left", "found", "fell", "rose", "lost")
}
PARTICIPLE = {
    v[1]: v[2] for b, v in IRREGULAR.items() if v[1] != v[2] and v[1] not in ("saw", "forgot", "got", "rose", "fell")
}

SUBJECT = {"i", "you", "he", "she", "it", "we", "they"}
CLAUSE_OPENERS = frozenset(
    split_words(
        "and but or so because when while if although though since after before until where as then now once unless "
        "whereas also yet today yesterday tomorrow usually sometimes often"
    )
)
ADVERB = (
    r"(?:(?:always|usually|often|never|sometimes|also|really|still|just|only|rarely|seldom|generally|normally)\s+)?"
)
MODALS = "can|could|will|would|shall|should|may|might|must"


def clause_start(text: str, pos: int) -> bool:
    """True when ``pos`` starts a clause: a sentence start, or after a comma, a semicolon or a conjunction."""
    if at_sentence_start(text, pos):
        return True
    j = pos - 1
    while j >= 0 and text[j] in " \t":
        j -= 1
    if j >= 0 and text[j] in ",;:(—–":
        return True
    m = re.search(r"([A-Za-z]+)\s*$", text[max(0, j - 20) : j + 1])
    return bool(m and m.group(1).lower() in CLAUSE_OPENERS)


# -- the rule table -------------------------------------------------------------------------------

Fix = tuple[int, int, str, str]  # start, end, replacement, message
CheckFn = Callable[[str, re.Match[str]], Fix | None]


@dataclass(frozen=True)
class Rule:
    info: RuleInfo
    pattern: re.Pattern[str]
    check: CheckFn
    certain: bool = True
    severity: str = "warning"


RULES: list[Rule] = []


def rule(
    id: str,
    category: Category,
    description: str,
    pattern: str,
    *,
    flags: int = 0,
    certain: bool = True,
    severity="warning",
) -> Callable[[CheckFn], CheckFn]:
    def add(fn: CheckFn) -> CheckFn:
        info = register(id, category, description)
        RULES.append(Rule(info, re.compile(pattern, flags), fn, certain, severity))
        return fn

    return add


def _case(like: str, word: str) -> str:
    """``word`` with the capitalisation of ``like`` (first letter)."""
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


# a / an ------------------------------------------------------------------------------------------

_CONSONANT_SOUND = re.compile(
    r"^(?:uni(?:que|vers|on|t|form|corn|lateral|fi|cycle|son|sex|x)|use|usu|usa|uten|util|utop|urin|uran|ure[ts]"
    r"|euro|eu|ewe|one(?!r)|once|ubiq|uku|ukr|unan|uter)",
    re.I,
)
_SILENT_H = re.compile(r"^(?:hour|honest|honor|honour|heir)", re.I)
_FOREIGN_AFTER_A = {"la", "priori", "posteriori", "cappella", "capella", "propos", "fortiori", "gogo", "posse"}
_LETTER_NAMES = {"letter", "grade", "vitamin", "plan", "type", "class", "option", "exhibit", "appendix", "section"}


def vowel_sound(word: str) -> bool | None:
    """Whether ``word`` starts with a vowel sound; None when unsure (h-words other than hour/honest, x, y…)."""
    w = word.lower()
    if _SILENT_H.match(w):
        return True
    if w[0] == "h" and re.match(r"h(?:istor|abit|ered|ilar|orrif|ypoth|ero|otel|erb)", w):
        return None  # 'an historic', 'an hotel': accepted by some writers
    if _CONSONANT_SOUND.match(w):
        return False
    if w[0] in "aeiou":
        return True
    if w[0] == "x":
        return None
    return False


@rule(
    "EN_A_AN", "grammar", "'a' before a consonant sound, 'an' before a vowel sound.", r"\b([Aa]n?)\s+([A-Za-z][a-z]+)\b"
)
def _a_an(text: str, m: re.Match[str]) -> Fix | None:
    article, word = m.group(1), m.group(2)
    if article[0] == "A" and not at_sentence_start(text, m.start()):
        return None
    after = text[m.end() : m.end() + 2]
    if word.lower() in _FOREIGN_AFTER_A or after[:1] in ("'", "’") or re.match(r"\.\w", after):
        return None
    before = re.search(r"([A-Za-z]+)\W*$", text[max(0, m.start() - 15) : m.start()])
    if before and before.group(1).lower() in _LETTER_NAMES:
        return None
    vowel = vowel_sound(word)
    if vowel is None:
        return None
    want = "an" if vowel else "a"
    if article.lower() == want:
        return None
    sound = "a vowel" if vowel else "a consonant"
    return m.start(1), m.end(1), _case(article, want), f"Use '{want}' before '{word}': it starts with {sound} sound."


# repeated words ----------------------------------------------------------------------------------

_DOUBLES_OK = set(
    split_words(
        "had that is do bye ha haha so very really no yeah hip knock blah never again more far tut pom can boo chop "
        "la na ho dum bla ba wow oh hey yes aye there hush her tsk mm hmm bang ding dong wait now well go ta cha choo "
        "chug rah tick tock night bam zoom beep ooh yo bye-bye long round"
    )
)


@rule("EN_REPEATED_WORD", "grammar", "The same word twice in a row.", r"\b([A-Za-z]+)[ \t]+(\1)\b", flags=re.I)
def _repeated(text: str, m: re.Match[str]) -> Fix | None:
    first, second = m.group(1), m.group(2)
    if not second.islower() or first.lower() in _DOUBLES_OK:
        return None
    return m.start(), m.end(), first, f"'{second}' is written twice: remove one."


# subject–verb agreement --------------------------------------------------------------------------

_BASES = "|".join(sorted((b for b in VERBS if b != "be"), key=len, reverse=True))


@rule(
    "EN_SVA_THIRD_PERSON",
    "grammar",
    "He, she or it takes a verb with -s in the present tense.",
    rf"\b([Hh]e|[Ss]he|[Ii]t)\s+{ADVERB}({_BASES})\b(?!['’-])",
)
def _sva_third(text: str, m: re.Match[str]) -> Fix | None:
    if not clause_start(text, m.start()) or _compound_subject(text, m.start()):
        return None
    pron, verb = m.group(1), m.group(2)
    third = VERBS[verb][0]
    return (
        m.start(2),
        m.end(2),
        third,
        f"Subject–verb agreement: with '{pron.lower()}' the verb takes -s in the present: '{third}'.",
    )


@rule(
    "EN_SVA_DONT",
    "grammar",
    "He, she or it takes 'doesn't', not 'don't'.",
    r"\b([Hh]e|[Ss]he|[Ii]t)\s+(don['’]t|do not)\b",
)
def _sva_dont(text: str, m: re.Match[str]) -> Fix | None:
    if not clause_start(text, m.start()):
        return None
    fixed = "does not" if m.group(2) == "do not" else "doesn't"
    return m.start(2), m.end(2), fixed, f"Subject–verb agreement: with '{m.group(1).lower()}' write '{fixed}'."


_BE_FOR = {"i": "am", "he": "is", "she": "is", "it": "is", "we": "are", "you": "are", "they": "are"}
_HAVE_FOR = {"i": "have", "you": "have", "we": "have", "they": "have", "he": "has", "she": "has", "it": "has"}


@rule(
    "EN_SVA_BE_HAVE",
    "grammar",
    "The forms of 'be' and 'have' that go with each subject pronoun.",
    r"\b(I|[Hh]e|[Ss]he|[Ii]t|[Ww]e|[Yy]ou|[Tt]hey)\s+(am|is|are|was|has|have)\b(?!['’])",
)
def _sva_be(text: str, m: re.Match[str]) -> Fix | None:
    pron, verb = m.group(1).lower(), m.group(2)
    if not clause_start(text, m.start()) or _compound_subject(text, m.start()):
        return None
    if verb == "was":
        want = "was" if pron in ("i", "he", "she", "it") else "were"
    elif verb in ("has", "have"):
        want = _HAVE_FOR[pron]
    else:
        want = _BE_FOR[pron]
    if verb == want:
        return None
    shown = "I" if pron == "i" else pron
    return m.start(2), m.end(2), want, f"Subject–verb agreement: write '{shown} {want}', not '{shown} {verb}'."


REGULAR_PAST = {v[1]: b for b, v in VERBS.items() if b in REGULAR and v[1] != "used"}
_FORMS = "|".join(sorted({*THIRD, *PAST_ONLY, *REGULAR_PAST}, key=len, reverse=True))


def _compound_subject(text: str, pos: int) -> bool:
    """'you and he go': the pronoun is the second half of a compound subject."""
    return bool(
        re.search(r"\b(?:you|I|me|we|they|him|her|them|[A-Z][a-z]+)\s+(?:and|or)\s+$", text[max(0, pos - 30) : pos])
    )


@rule(
    "EN_MODAL_VERB_FORM",
    "grammar",
    "After can, will, must… the verb is in its base form.",
    rf"\b(?:I|[Yy]ou|[Hh]e|[Ss]he|[Ii]t|[Ww]e|[Tt]hey)\s+({MODALS})\s+(?:not\s+|never\s+|also\s+)?({_FORMS})\b",
)
def _modal_form(text: str, m: re.Match[str]) -> Fix | None:
    form = m.group(2)
    base = BASE_OF.get(form)
    if not base:
        return None
    return m.start(2), m.end(2), base, f"After '{m.group(1)}' use the base form of the verb: '{base}', not '{form}'."


@rule(
    "EN_DO_VERB_FORM",
    "grammar",
    "After do, does or did the verb is in its base form.",
    rf"\b(do(?:es)?n['’]t|didn['’]t|do(?:es)? not|did not|(?:[Dd]o(?:es)?|[Dd]id)\s+(?:I|you|he|she|it|we|they))"
    rf"\s+(?:not\s+)?({_FORMS})\b",
)
def _do_form(text: str, m: re.Match[str]) -> Fix | None:
    form = m.group(2)
    base = BASE_OF.get(form)
    if not base or (form == "had" and re.match(r"\s+(?:better|rather)\b", text[m.end() :])):
        return None
    aux = m.group(1).split()[0]
    return m.start(2), m.end(2), base, f"After '{aux}' use the base form of the verb: '{base}', not '{form}'."


@rule(
    "EN_TO_PAST",
    "grammar",
    "After 'to' the verb is in its base form.",
    rf"\b[Tt]o\s+({'|'.join(sorted({*PAST_ONLY, 'goes'}, key=len, reverse=True))})\b",
)
def _to_past(text: str, m: re.Match[str]) -> Fix | None:
    form = m.group(1)
    base = BASE_OF[form]
    return m.start(1), m.end(1), base, f"After 'to' use the base form of the verb: '{base}', not '{form}'."


@rule(
    "EN_PERFECT_PARTICIPLE",
    "grammar",
    "Have/has/had take the past participle (gone, eaten), not the simple past (went, ate).",
    rf"\b(have|has|had|having|'ve|’ve)\s+(?:not\s+|never\s+|already\s+|just\s+|ever\s+|also\s+)?"
    rf"({'|'.join(sorted(PARTICIPLE, key=len, reverse=True))})\b",
    flags=re.I,
)
def _participle(text: str, m: re.Match[str]) -> Fix | None:
    form = m.group(2)
    if not form.islower():
        return None
    part = PARTICIPLE[form]
    aux = m.group(1).lstrip("'’")
    return m.start(2), m.end(2), part, f"After '{aux}' use the past participle '{part}', not the simple past '{form}'."


@rule(
    "EN_COULD_OF", "grammar", "'could of' is a mishearing of 'could have'.",
    r"\b([Cc]ould|[Ww]ould|[Ss]hould|[Mm]ust|[Mm]ight|may)\s+(of)\b(?!\s+course)",
)  # fmt: skip
def _could_of(text: str, m: re.Match[str]) -> Fix | None:
    return (
        m.start(2),
        m.end(2),
        "have",
        f"Write '{m.group(1).lower()} have' (it sounds like '{m.group(1).lower()} of').",
    )


@rule(
    "EN_MODAL_TO",
    "grammar",
    "No 'to' after can, must, should…",
    rf"\b(?:I|[Yy]ou|[Hh]e|[Ss]he|[Ii]t|[Ww]e|[Tt]hey)\s+({MODALS})(\s+to)\s+[a-z]+",
)
def _modal_to(text: str, m: re.Match[str]) -> Fix | None:
    return m.start(2), m.end(2), "", f"No 'to' after '{m.group(1)}': write '{m.group(1)} + verb'."


# confusable words --------------------------------------------------------------------------------


@rule(
    "EN_ITS_IT_IS",
    "grammar",
    "'its' (belonging to it) vs 'it's' (it is / it has).",
    r"\b([Ii]ts)\s+(a|an|the|not|been|raining|my|your|his|our|their|because|ok|okay)\b(?!-)",
)
def _its(text: str, m: re.Match[str]) -> Fix | None:
    fixed = _case(m.group(1), "it's")
    return m.start(1), m.end(1), fixed, f"'{fixed}' means 'it is' or 'it has'; 'its' means 'belonging to it'."


@rule("EN_ITS_OWN", "grammar", "'its own', not 'it's own'.", r"\b([Ii]t['’]s)\s+own\b")
def _its_own(text: str, m: re.Match[str]) -> Fix | None:
    fixed = _case(m.group(1), "its")
    return m.start(1), m.end(1), fixed, "'its own' (belonging to it); 'it's' means 'it is'."


@rule(
    "EN_THEIR_IS",
    "grammar",
    "'there is/are' (something exists), not 'their is/are'.",
    r"\b([Tt]heir)\s+(is|are|was|were)\b",
)
def _their_is(text: str, m: re.Match[str]) -> Fix | None:
    fixed = _case(m.group(1), "there")
    return m.start(1), m.end(1), fixed, f"Write '{fixed} {m.group(2)}': 'their' means 'belonging to them'."


@rule("EN_THEIR_OWN", "grammar", "'their own', not 'there own'.", r"\b([Tt]here|[Tt]hey['’]re)\s+own\b")
def _their_own(text: str, m: re.Match[str]) -> Fix | None:
    fixed = _case(m.group(1), "their")
    return m.start(1), m.end(1), fixed, "'their own' means 'belonging to them'."


_VERB_AFTER_GOING = re.compile(rf"\s+to\s+(?:be|{_BASES}|stay|sleep|rain|fail|pass|leave|buy|see)\b")


@rule(
    "EN_THEYRE",
    "grammar",
    "'they're' (they are) before 'going to' + verb.",
    r"\b([Tt]heir|[Tt]here)\s+(going)\b",
)
def _theyre(text: str, m: re.Match[str]) -> Fix | None:
    if not _VERB_AFTER_GOING.match(text, m.end()):
        return None
    if m.group(1).lower() == "there" and re.search(r"\b(?:is|are|was|were|be)\s+$", text[: m.start()]):
        return None
    fixed = _case(m.group(1), "they're")
    return m.start(1), m.end(1), fixed, f"'{fixed}' means 'they are'."


@rule(
    "EN_YOURE",
    "grammar",
    "'you're' (you are) vs 'your' (belonging to you).",
    r"\b([Yy]our)\s+(welcome\b(?=\s*(?:[.!,;]|$|to\b))|a\b|an\b|the\b|going\b(?=\s+to\s+[a-z]+))",
)
def _youre(text: str, m: re.Match[str]) -> Fix | None:
    fixed = _case(m.group(1), "you're")
    return m.start(1), m.end(1), fixed, f"'{fixed}' means 'you are'; 'your' means 'belonging to you'."


@rule("EN_YOUR_OWN", "grammar", "'your own', not 'you're own'.", r"\b([Yy]ou['’]re)\s+own\b")
def _your_own(text: str, m: re.Match[str]) -> Fix | None:
    fixed = _case(m.group(1), "your")
    return m.start(1), m.end(1), fixed, "'your own' means 'belonging to you'; 'you're' means 'you are'."


_ER = (
    "bigger|smaller|larger|greater|higher|lower|older|younger|faster|slower|longer|shorter|easier|harder|cheaper|"
    "richer|stronger|weaker|happier|busier|healthier|heavier|safer|nicer|warmer|colder|hotter|taller|smarter|"
    "simpler|wider|deeper|closer|earlier|cleaner|quicker|louder|quieter|poorer|prettier|funnier|lazier"
)
_COMPARATIVES = rf"better|worse|{_ER}|more\s+[a-z]+|less\s+[a-z]+"


@rule(
    "EN_THAN_THEN",
    "word choice",
    "'than' compares; 'then' is about time.",
    rf"\b(?:rather|other(?=\s+then\s+that)|(?:{_COMPARATIVES})(?=\s+then\s+(?:me|him|us|them|ever|usual|expected|"
    r"\d|one|two|three|four|five|ten|a\s+few|half)\b))\s+(then)\b",
)
def _than(text: str, m: re.Match[str]) -> Fix | None:
    return m.start(1), m.end(1), "than", "Use 'than' to compare; 'then' means 'after that' or 'at that time'."


@rule(
    "EN_DOUBLE_COMPARATIVE",
    "grammar",
    "'more better' doubles the comparative: 'better'.",
    rf"\b(?:([Mm]ore)\s+(better|worse|{_ER})(?=\s+than\b)|([Mm]ore)\s+(better|worse)|([Mm]ost)\s+(best|worst))\b",
)
def _double_comparative(text: str, m: re.Match[str]) -> Fix | None:
    groups = [g for g in m.groups() if g]
    more, word = groups[0], groups[1]
    return m.start(), m.end(), word, f"'{word}' is already a comparative: drop '{more.lower()}'."


@rule(
    "EN_THERE_IS_PLURAL",
    "grammar",
    "'there are' before a plural ('there are many', not 'there is many').",
    r"\b([Tt]here)\s+(is|was)\s+(many|several|two|three|four|five|six|seven|eight|nine|ten|few)\b",
)
def _there_is(text: str, m: re.Match[str]) -> Fix | None:
    want = "are" if m.group(2) == "is" else "were"
    return m.start(2), m.end(2), want, f"'{m.group(3)}' is plural: write 'there {want}'."


@rule(
    "EN_BE_AGREE",
    "grammar",
    "'agree' is a verb: 'I agree', not 'I am agree'.",
    r"\b(I\s+am|I['’]m|[Ww]e\s+are|[Ww]e['’]re|[Tt]hey\s+are|[Tt]hey['’]re|[Yy]ou\s+are|[Hh]e\s+is|[Ss]he\s+is)"
    r"\s+(agree)\b",
)
def _be_agree(text: str, m: re.Match[str]) -> Fix | None:
    subject = re.split(r"\s+|['’]", m.group(1))[0]
    verb = "agrees" if subject.lower() in ("he", "she") else "agree"
    return m.start(1), m.end(2), f"{subject} {verb}", f"'agree' is a verb, so no 'be': write '{subject} {verb}'."


@rule(
    "EN_DISCUSS_ABOUT",
    "grammar",
    "'discuss' takes no 'about'.",
    r"\b(discuss(?:es|ed|ing)?)(\s+about)\b",
    flags=re.I,
)
def _discuss(text: str, m: re.Match[str]) -> Fix | None:
    return m.start(2), m.end(2), "", f"'{m.group(1)}' needs no 'about': '{m.group(1)} the plan'."


@rule("EN_EXPLAIN_TO", "grammar", "'explain to me', not 'explain me'.", r"\b(explain(?:s|ed|ing)?)\s+(me|us)\b")
def _explain(text: str, m: re.Match[str]) -> Fix | None:
    return (
        m.start(2),
        m.end(2),
        f"to {m.group(2)}",
        f"Write '{m.group(1)} to {m.group(2)}': explain something to someone.",
    )


@rule("EN_ON_THE_OTHER_HAND", "grammar", "'on the other hand'.", r"\b([Ii]n)\s+the\s+other\s+hand\b")
def _other_hand(text: str, m: re.Match[str]) -> Fix | None:
    fixed = _case(m.group(1), "on")
    return m.start(1), m.end(1), fixed, "The fixed phrase is 'on the other hand'."


@rule(
    "EN_SUPPOSED_TO",
    "grammar",
    "'supposed to' / 'used to' after a form of 'be'.",
    r"\b(?:am|is|are|was|were|be|been|['’]m|['’]re)\s+(suppose)\s+to\b",
)
def _supposed(text: str, m: re.Match[str]) -> Fix | None:
    return m.start(1), m.end(1), "supposed", "Write 'supposed to' (be supposed to = should)."


@rule(
    "EN_EVERYDAY",
    "word choice",
    "'every day' (each day) vs 'everyday' (ordinary).",
    r"\b([Ee]veryday)(?=\s*(?:[.,!?;]|$))",
    flags=re.M,
)
def _everyday(text: str, m: re.Match[str]) -> Fix | None:
    fixed = _case(m.group(1), "every day")
    return m.start(1), m.end(1), fixed, "'every day' (two words) means 'each day'; 'everyday' means 'ordinary'."


# capitals, spaces and punctuation ----------------------------------------------------------------


@rule(
    "EN_LOWERCASE_I",
    "spelling",
    "The pronoun 'I' is always a capital letter.",
    r"(?<![\w'’.(-])(i)(?=['’](?:m|ve|ll|d)\b|\s+[a-z])",
)
def _lower_i(text: str, m: re.Match[str]) -> Fix | None:
    after = re.match(r"\s+([a-z]+)", text[m.end() :])
    if after and after.group(1) in ("of", "is", "in", "to", "th", "and", "or", "j", "x"):
        return None  # i as an index or a list item
    return m.start(1), m.end(1), "I", "The pronoun 'I' is always written as a capital letter."


@rule(
    "EN_SENTENCE_CAPITAL",
    "spelling",
    "A sentence starts with a capital letter.",
    r"(?<=[.!?])([ \t]+)([a-z][a-z']*)\b",
)
def _sentence_capital(text: str, m: re.Match[str]) -> Fix | None:
    word = m.group(2)
    if not at_sentence_start(text, m.start(2)):
        return None
    if text[m.end() : m.end() + 1] in (".", "(", "_", "/"):  # a file name, a call, a path
        return None
    fixed = word[0].upper() + word[1:]
    return m.start(2), m.end(2), fixed, f"A sentence starts with a capital letter: '{fixed}'."


@rule(
    "EN_DOUBLE_SPACE",
    "punctuation",
    "Two or more spaces between words.",
    r"(?<=[^\s.!?:|])( {2,})(?=[^\s|])",
    severity="info",
)
def _double_space(text: str, m: re.Match[str]) -> Fix | None:
    line_start = text.rfind("\n", 0, m.start()) + 1
    line_end = text.find("\n", m.end())
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    if "|" in line or len(re.findall(r" {2,}", line.strip())) > 1:  # a table or aligned columns
        return None
    return m.start(1), m.end(1), " ", "One space between words is enough."


@rule(
    "EN_SPACE_BEFORE_PUNCTUATION",
    "punctuation",
    "No space before a comma, full stop, colon, semicolon, question or exclamation mark.",
    r"(?<=[A-Za-z])([ \t]+)([,.;:!?])(?=\s|$)",
    flags=re.M,
)
def _space_before(text: str, m: re.Match[str]) -> Fix | None:
    return m.start(1), m.end(2), m.group(2), f"No space before '{m.group(2)}'."


@rule("EN_SPACE_AFTER_COMMA", "punctuation", "A space after a comma.", r"(?<=[a-z]{2})(,)(?=[A-Za-z]{2})")
def _space_after_comma(text: str, m: re.Match[str]) -> Fix | None:
    return m.start(1), m.end(1), ", ", "Put a space after a comma."


# -- running the rules ----------------------------------------------------------------------------


def check_rules(text: str, protected: Protected, disabled: frozenset[str] = frozenset()) -> Iterator[Problem]:
    """Rule problems in one paragraph of English (offsets into ``text``)."""
    for r in RULES:
        if r.info.id in disabled:
            continue
        for m in r.pattern.finditer(text):
            fix = r.check(text, m)
            if fix is None:
                continue
            start, end, replacement, message = fix
            if protected.overlaps(start, end):
                continue
            yield Problem(
                start=start,
                end=end,
                flagged=text[start:end],
                rule_id=r.info.id,
                category=r.info.category,
                message=message,
                suggestions=[replacement],
                certain=r.certain,
                severity=r.severity,  # type: ignore[arg-type]
            )
