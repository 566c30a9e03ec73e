"""Does the feedback loop raise acceptance? A simulated user answers the detectors' suggestions; what the loop
learns from their answers (muted rules, personal dictionary) shapes what they are shown next.

    python bench/feedback_loop.py [--events 200] [--seed 7]

What runs: the real detectors (Hunspell spelling + grammar rules, ``draftsmith.checking``) inside the real
feedback hook (``feedback.personal.applied``), ids and answers in a real SQLite store; no model. Text: the JFLEG
dev sources (../shared/data/jfleg, learner English, CC BY-NC-SA, read for evaluation only) in paragraphs of 8
sentences; into about a third of them goes one sentence from the user's own work, written their way (lower-case
start, their jargon: frobnicator, pytest, webhook, dedupe, backend — words Hunspell flags).

The user (fixed seed): writes chat-style, so rejects 95% of capitalisation suggestions (EN_SENTENCE_CAPITAL,
EN_LOWERCASE_I, EN_NAME_CASE) and of spelling flags on their jargon; accepts 90% of everything else (real
learner errors). Each suggestion's answer is drawn from a generator seeded by the paragraph, span and rule, so the
same suggestion gets the same answer in every condition.

Phases: the first ``--events`` answers (learning online, as the product does), then the next ``--events``.
``acceptance_gain`` = acceptance on the next − on the first (goal > 0). Control: the same next paragraphs
shown without what was learned (``acceptance_next_without_learning``), so a gain from easier text would show.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from draftsmith import feedback
from draftsmith.checking import check_text
from draftsmith.feedback.personal import applied, personal
from draftsmith.store.db import Store

JFLEG = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "jfleg" / "dev" / "dev.src"
DISLIKED_RULES = frozenset({"EN_SENTENCE_CAPITAL", "EN_LOWERCASE_I", "EN_NAME_CASE"})
JARGON = ("frobnicator", "pytest", "webhook", "dedupe", "backend")
OWN_SENTENCES = (
    "then i reran the {w} and it was fine.",
    "we moved the {w} to the new server last week.",
    "the {w} still needs a second look before friday.",
)


def paragraphs(seed: int) -> list[str]:
    if not JFLEG.is_file():
        sys.exit(f"no JFLEG data at {JFLEG}")
    sys.path.insert(0, str(Path(__file__).parent))
    from check_speed import detokenize

    lines = [detokenize(s) for s in JFLEG.read_text(encoding="utf-8").splitlines() if s.strip()]
    rng = random.Random(seed)
    out = []
    for i in range(0, len(lines), 8):
        sentences = lines[i : i + 8]
        if rng.random() < 0.35:
            own = rng.choice(OWN_SENTENCES).format(w=rng.choice(JARGON))
            sentences.insert(rng.randrange(len(sentences) + 1), own)
        out.append(" ".join(sentences))
    return out


def answer(seed: int, index: int, problem) -> str:
    """The simulated user's answer to one suggestion (the same suggestion always gets the same answer)."""
    draw = random.Random(f"{seed}:{index}:{problem.start}:{problem.rule_id}").random()
    disliked = problem.rule_id in DISLIKED_RULES or (
        problem.rule_id == "EN_SPELLING" and problem.flagged.lower() in JARGON
    )
    if disliked:
        return "reject" if draw < 0.95 else "accept"
    return "accept" if draw < 0.9 else "reject"


def phase(store: Store, owner: str, texts: list[str], start: int, events: int, seed: int, learn: bool):
    """Show the detectors' suggestions paragraph by paragraph from ``start`` until ``events`` answers are given;
    returns (accepted, answered, next paragraph)."""
    accepted = answered = 0
    index = start
    while answered < events and index < len(texts):
        text = texts[index]
        with applied(store, owner) if learn else nullcontext():
            problems = check_text(text, "en")
        ids = feedback.shown(store, feedback.from_problems(text, problems), owner=owner)
        for problem, sid in zip(problems, ids, strict=True):
            if answered >= events:
                break
            event = answer(seed, index, problem)
            feedback.record(store, sid, event, owner=owner)
            answered += 1
            accepted += event == "accept"
        index += 1
    return accepted, answered, index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200, help="answers per phase")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    started = time.perf_counter()
    texts = paragraphs(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'feedback.db'}")
        a1, n1, cursor = phase(store, "user", texts, 0, args.events, args.seed, learn=True)
        learned = personal(store, "user")
        a2, n2, end = phase(store, "user", texts, cursor, args.events, args.seed, learn=True)
        ac, nc, _ = phase(store, "control", texts, cursor, args.events, args.seed, learn=False)
        stats = feedback.stats(store, "rule", owner="user")
        store.close()
    first, following, control = a1 / max(n1, 1), a2 / max(n2, 1), ac / max(nc, 1)
    for r in stats:
        if r.rate is not None:  # rules shown but never answered have no rate
            rate = f"{r.accepted:4d}/{r.answered:<4d} {r.rate:5.0%}  [{r.low:.0%}, {r.high:.0%}]"
            print(f"{r.key['rule']:28s} {rate}  shown {r.shown}")
    print(
        json.dumps(
            {
                "acceptance_gain": round(following - first, 3),
                "acceptance_first": round(first, 3),
                "acceptance_next": round(following, 3),
                "acceptance_next_without_learning": round(control, 3),
                "gain_vs_control": round(following - control, 3),
                "events": [n1, n2],
                "paragraphs": [cursor, end - cursor],
                "muted_after_first": sorted(learned.muted),
                "words_after_first": sorted(learned.dictionary),
                "runs": "detectors + feedback store, simulated answers, no model",
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
