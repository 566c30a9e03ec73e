"""English synonyms from WordNet 3.0 as Debian's ``wordnet-base`` installs it, read with nltk's WordNet reader.

Nothing is downloaded: the reader is pointed at the dictionary files on disk (``/usr/share/wordnet``, or
``$WNSEARCHDIR``). Debian leaves out the small ``lexnames`` table that nltk reads first, so it is supplied
here (the 45 lexicographer file names of WordNet 3.0, from ``man 5 lexnames``).

WordNet 3.0 licence (Princeton University): use, copy, modify and distribute for any purpose without fee,
keeping the copyright notice. See /usr/share/doc/wordnet-base/copyright.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from draftsmith.errors import InputError

DEFAULT_DIRS = ("/usr/share/wordnet", "/usr/share/wordnet/dict", "/usr/local/share/wordnet")
_LEXNAMES = [
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
]
_load_lock = threading.Lock()


def wordnet_dir() -> Path | None:
    """Where the WordNet dictionary files are, or None when wordnet-base is not installed."""
    env = os.environ.get("WNSEARCHDIR")
    for candidate in ([env] if env else []) + list(DEFAULT_DIRS):
        path = Path(candidate)
        if (path / "index.noun").is_file() and (path / "data.noun").is_file():
            return path
    return None


def available() -> bool:
    try:
        import nltk  # noqa: F401
    except ImportError:
        return False
    return wordnet_dir() is not None


@lru_cache(maxsize=1)
def _reader_for(root: str) -> Any:
    import nltk.data
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class DebianWordNet(WordNetCorpusReader):
        def open(self, file: str):  # type: ignore[override]
            if file == "lexnames" and not (Path(root) / "lexnames").is_file():
                return io.StringIO("".join(f"{i:02d}\t{name}\t{i}\n" for i, name in enumerate(_LEXNAMES)))
            return super().open(file)

        def map_wn(self, version: str = "wordnet") -> None:  # no cross-version mapping: no OMW data here
            return None

    if root not in nltk.data.path:
        nltk.data.path.append(root)  # nltk only reads files under its data paths
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": we do not use them
        return DebianWordNet(root, None)


def reader() -> Any:
    """nltk's WordNet reader over the system dictionary (loaded once, ~2 s)."""
    try:
        import nltk  # noqa: F401
    except ImportError:
        raise InputError("English synonyms need nltk: pip install 'draftsmith[suggest]'") from None
    root = wordnet_dir()
    if root is None:
        raise InputError(
            "English synonyms need WordNet: apt-get install wordnet-base (or set WNSEARCHDIR to its dict folder)"
        )
    with _load_lock:
        return _reader_for(str(root))


def synonyms(phrase: str, limit: int = 24) -> list[tuple[str, str]]:
    """(synonym, the sense it comes from) for every WordNet sense of ``phrase``, most common senses first.

    Each sense gives its own lemmas; an adjective head gives its commonest similar adjectives ("large" →
    "huge") and a satellite adjective its head ("big" as in "a big decision" → "important").
    """
    wn = reader()
    key = "_".join(phrase.strip().lower().split())
    seen = {key}
    found: list[tuple[int, int, str, str]] = []  # (sense rank, -count, lemma, definition)
    for rank, synset in enumerate(wn.synsets(key)):
        definition = synset.definition()
        related = list(synset.lemmas())
        if synset.pos() == "a":
            similar = [lem for s in synset.similar_tos() for lem in s.lemmas()[:1]]
            related += sorted(similar, key=lambda lem: -lem.count())[:10]
        elif synset.pos() == "s":
            related += [lem for s in synset.similar_tos() for lem in s.lemmas()[:1]]
        for lemma in related:
            name = lemma.name()
            if name.lower() in seen:
                continue
            seen.add(name.lower())
            found.append((rank, -lemma.count(), name.replace("_", " "), definition))
    # Interleave senses, weighted to the common ones: sense r's p-th synonym comes at r + 2p.
    found.sort(key=lambda f: (f[0], f[1]))
    position: dict[int, int] = {}
    keyed = []
    for rank, _, name, definition in found:
        p = position[rank] = position.get(rank, -1) + 1
        keyed.append((rank + 2 * p, rank, name, definition))
    keyed.sort(key=lambda k: (k[0], k[1]))
    out = [(name, definition) for _, _, name, definition in keyed[:limit]]
    return out


def base_form(word: str) -> tuple[str, str | None]:
    """(lemma, form) where form says how ``word`` is inflected: 'plural', 'past', 'ing', 's', 'er', 'est'."""
    wn = reader()
    w = word.lower()
    for pos, forms in (("n", ("plural",)), ("v", ("ing", "past", "s")), ("a", ("er", "est"))):
        lemma = wn.morphy(w, pos)
        if not lemma or lemma == w:
            continue
        if pos == "v":
            form = "ing" if w.endswith("ing") else "s" if w.endswith("s") and not w.endswith("ss") else "past"
        elif pos == "n":
            form = "plural"
        else:
            form = "est" if w.endswith("est") else "er"
        if form in forms:
            return lemma, form
    return w, None


def inflect(word: str, form: str | None) -> str:
    """``word`` (a lemma, maybe several words) put in ``form``; irregular verbs and nouns from WordNet."""
    if not form or not word:
        return word
    head, _, rest = word.partition(" ")
    if rest:
        if form in ("s", "past", "ing"):  # a verb phrase inflects its head: "look after" → "looked after"
            return f"{inflect(head, form)} {rest}"
        if form == "plural":  # a compound noun inflects its last word: "ice cream" → "ice creams"
            first, _, last = word.rpartition(" ")
            return f"{first} {inflect(last, form)}"
        return word
    irregular = _irregular()
    if form == "past" and word in irregular["v"]:
        return irregular["v"][word]
    if form == "plural" and word in irregular["n"]:
        return irregular["n"][word]
    if form in ("plural", "s"):
        if word.endswith(("s", "sh", "ch", "x", "z")):
            return word + "es"
        if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
            return word[:-1] + "ies"
        return word + "s"
    if form == "ing":
        if word.endswith("ie"):
            return word[:-2] + "ying"
        if word.endswith("e") and not word.endswith(("ee", "ye", "oe")):
            return word[:-1] + "ing"
        return word + "ing"
    if form == "past":
        if word.endswith("e"):
            return word + "d"
        if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
            return word[:-1] + "ied"
        return word + "ed"
    if form in ("er", "est"):
        if len(word) > 7:
            return ("more " if form == "er" else "most ") + word
        if word.endswith("e"):
            return word + form[1:]
        if word.endswith("y") and len(word) > 2:
            return word[:-1] + "i" + form
        return word + form
    return word


@lru_cache(maxsize=1)
def _irregular() -> dict[str, dict[str, str]]:
    """Lemma → irregular past (verb.exc) or plural (noun.exc); a past tense wins over a participle in -n."""
    root = wordnet_dir()
    out: dict[str, dict[str, str]] = {"v": {}, "n": {}}
    if root is None:
        return out
    for pos, name in (("v", "verb.exc"), ("n", "noun.exc")):
        path = root / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) < 2 or (pos == "v" and parts[0].endswith(("ing", "s"))):
                continue
            form, lemma = parts[0].replace("_", " "), parts[1]
            known = out[pos].get(lemma)
            if known is None or (pos == "v" and known.endswith(("n", "ne")) and not form.endswith(("n", "ne"))):
                out[pos][lemma] = form
    return out
