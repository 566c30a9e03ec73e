"""correct with prompt-lookup speculative decoding vs plain decoding, same model, temperature 0.

    python bench/correct_speed.py [--model qwen2.5-1.5b] [--rounds 3]

Last line: JSON with speedup (plain time / speculative time, goal >= 1.8) and same_output (1/0).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from draftsmith.models.loader import load_model
from draftsmith.writing.correct import correct

# ~300 words with a dozen typical learner errors (agreement, tense, articles, spelling, punctuation).
TEXT = (
    "Last summer my family and I goes to the seaside for a week. We stayed in a small hotel near the beach, and "
    "every morning we walks along the sand before breakfast. The weather were warm and sunny most of the time, "
    "although it rained heavily on the third day. On that day we visited a museum about the history of the town. "
    "I learned that the town was founded more then three hundred years ago by fishermen who sailed from the north. "
    "The museum had a lot of old boats, maps and photographs, and my little brother were very excited to see a "
    "real anchor. In the afternoon we eat fresh fish in a restaurant by the harbour. The food was delicious, but "
    "the service was very slow because the restaurant was full of tourists. My father said that he have never "
    "seen so many people in such a small place. On the fourth day we rented bicycles and rode along the coast to "
    "a lighthouse. The path was narrow and sometimes difficult, but the view from the top of the hill was "
    "beautifull. We could see the islands in the distance and the ships moving slowly across the sea. My mother "
    "taked many photographs, and later she printed some of them and put them on the wall of our living room. In "
    "the evenings we played board games, read books and talked about our plans for the next day. I enjoyed "
    "those quiet evenings more than anything else, because we rarely have time to be together at home. On the "
    "last day I felt sad to leave, but I was also happy to go back to my friends. I hope we can return to the "
    "seaside next year, and maybe stay for two weeks instead of one. It was the best holiday I has ever had, "
    "and I will remember it for a long time."
)


def timed(model, speculative: bool):
    model.llm.reset()
    start = time.perf_counter()
    result = correct(model, TEXT, speculative=speculative)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-1.5b")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model = load_model(args.model)
    print(f"{len(TEXT.split())} words", file=sys.stderr)
    plain_t, spec_t, same = [], [], True
    for i in range(args.rounds):
        order = [False, True] if i % 2 == 0 else [True, False]
        results = {}
        for speculative in order:
            elapsed, result = timed(model, speculative)
            (spec_t if speculative else plain_t).append(elapsed)
            results[speculative] = result
            print(
                f"round {i} speculative={speculative}: {elapsed:.2f} s, {len(result.edits)} edits,"
                f" {result.usage.completion_tokens} tokens",
                file=sys.stderr,
            )
        same = same and results[True].text == results[False].text
    plain, spec = statistics.median(plain_t), statistics.median(spec_t)
    print(
        json.dumps(
            {
                "model": args.model,
                "words": len(TEXT.split()),
                "plain_s": round(plain, 2),
                "speculative_s": round(spec, 2),
                "speedup": round(plain / spec, 2),
                "same_output": int(same),
                "edits": len(results[True].edits),
            }
        )
    )


if __name__ == "__main__":
    main()
