"""Worked examples chosen per passage (graph.examples): reference triples rewritten as the text writes them, the
nearest texts by e5, and their place in the extraction prompt. One test runs the real bundled 0.5B model."""

from __future__ import annotations

import json

import pytest

from draftsmith.graph import examples, extract
from draftsmith.models.fake import FakeModel

AIRPORT = examples.Example(
    text="Aarhus Airport, which has a runway named 10R/28L, serves the city of Aarhus.",
    triples=[["Aarhus Airport", "runwayName", "10R/28L"], ["Aarhus Airport", "cityServed", "Aarhus"]],
)
FOOD = examples.Example(
    text="Bionico is a dessert from Guadalajara made with condensed milk.",
    triples=[["Bionico", "course", "dessert"], ["Bionico", "ingredient", "condensed milk"]],
)
ASTRONAUT = examples.Example(
    text="Alan Shepard, born in New Hampshire, was a test pilot.",
    triples=[["Alan Shepard", "birthPlace", "New Hampshire"], ["Alan Shepard", "occupation", "test pilot"]],
)


def test_as_written_finds_reference_names_and_values_in_the_text():
    text = (
        "Turn Me On, produced by Brian Kelly, came out in November of 1923 in Ciudad Ayala (population 1,777,539), "
        "as Alan Shepard recalled."
    )
    assert examples.as_written("Alan_Shepard", text) == "Alan Shepard"
    assert examples.as_written("Turn_Me_On_(album)", text) == "Turn Me On"  # the bracketed note goes
    assert examples.as_written("Brian_Kelly_(composer_&_pianist)", text) == "Brian Kelly"
    assert examples.as_written('"1923-11-18"', text) == "November of 1923"  # month and year, not just the year
    assert examples.as_written("1777539", text) == "1,777,539"
    assert examples.as_written("Aarhus", text) is None


def test_from_reference_needs_every_end_in_the_text():
    text = "Alan Shepard was an American test pilot who was born in New Hampshire."
    found = examples.from_reference(
        text, [["Alan_Shepard", "birthPlace", "New_Hampshire"], ["Alan_Shepard", "occupation", "Test_pilot"]]
    )
    assert found is not None
    assert found.triples == [
        ["Alan Shepard", "birthPlace", "New Hampshire"],
        ["Alan Shepard", "occupation", "test pilot"],
    ]
    # "1923-11-18" is nowhere in the text: a text that cannot show all of its facts as written is no example
    assert examples.from_reference(text, [["Alan_Shepard", "birthDate", '"1923-11-18"']]) is None


@pytest.fixture(scope="module")
def e5():
    from draftsmith.errors import ModelError
    from draftsmith.knowledge.embed import E5Embedder

    embedder = E5Embedder(threads=1)
    try:
        embedder.query("test")
    except ModelError as exc:
        pytest.skip(str(exc))
    return embedder


def test_bank_gives_the_nearest_examples_closest_last(e5):
    bank = examples.ExampleBank([FOOD, AIRPORT, ASTRONAUT], e5)
    passage = "Bedford Aerodrome has a runway named 08/26 and serves the Bedford Autodrome."
    assert bank.nearest(passage, k=1) == [AIRPORT]
    two = bank.nearest(passage, k=2)
    assert len(two) == 2 and two[-1] == AIRPORT  # the closest sits next to the passage
    assert bank.nearest(passage, k=0) == []
    assert AIRPORT not in bank.nearest(AIRPORT.text, k=2)  # the passage itself is never its own example
    with pytest.raises(ValueError):
        examples.ExampleBank([FOOD, AIRPORT], e5, vectors=bank.vectors)


def test_examples_go_into_the_passages_turn_closest_last():
    passage = "Bedford Aerodrome has a runway named 08/26."
    model = FakeModel(lambda m, p: json.dumps({"triples": [["Bedford Aerodrome", "runwayName", "08/26"]]}))
    plain = extract.extract_triples(model, passage)
    with_examples = extract.extract_triples(model, passage, examples=[FOOD, AIRPORT])
    assert plain.triples == with_examples.triples
    before, after = model.calls
    assert after[:-1] == before[:-1]  # the template's turns stay one prefix (the model keeps its KV state)
    last = after[-1].content
    assert last.endswith(before[-1].content)  # the passage's turn as before, after the examples
    head = last[: -len(before[-1].content)]
    assert head.index(FOOD.text) < head.index(AIRPORT.text)  # the closest next to the passage
    assert json.dumps({"triples": AIRPORT.triples}) in head


def test_retry_keeps_the_examples():
    calls = []

    def answers(messages, params):
        calls.append(messages)
        if len(calls) == 1:
            return json.dumps({"triples": [["Heathrow", "runwayName", "08/26"]]})  # Heathrow is not in the text
        return json.dumps({"triples": [["Bedford Aerodrome", "runwayName", "08/26"]]})

    found = extract.extract_triples(
        FakeModel(answers), "Bedford Aerodrome has a runway named 08/26.", examples=[AIRPORT]
    )
    assert found.retried and [t.subject for t in found.triples] == ["Bedford Aerodrome"]
    assert AIRPORT.text in calls[1][-3].content  # the retry repeats the passage's turn with its examples


@pytest.mark.model
def test_real_model_takes_relation_names_from_the_examples():
    from draftsmith.config import load_settings
    from draftsmith.errors import ModelError
    from draftsmith.models.loader import load_model

    try:
        model = load_model("qwen2.5-0.5b", load_settings(n_threads=1))
    except ModelError as exc:
        pytest.skip(str(exc))
    shown = [
        examples.Example(
            text="Aarhus Airport serves the city of Aarhus.", triples=[["Aarhus Airport", "cityServed", "Aarhus"]]
        ),
        examples.Example(
            text="Alpena County Regional Airport serves Alpena, Michigan.",
            triples=[["Alpena County Regional Airport", "cityServed", "Alpena, Michigan"]],
        ),
    ]
    passage = "Bedford Aerodrome serves the Bedford Autodrome."
    found = extract.extract_triples(model, passage, examples=shown)
    # without examples the model names this relation "serves" (or "serve"); the examples' name is cityServed
    assert [[t.subject, t.predicate, t.object] for t in found.triples] == [
        ["Bedford Aerodrome", "cityServed", "Bedford Autodrome"]
    ], found.errors


def test_kg_build_shows_each_passage_its_nearest_examples(tmp_path, e5):
    from draftsmith.graph.build import build_graph
    from draftsmith.knowledge import kb as kbmod
    from draftsmith.store import Store

    bank_file = tmp_path / "bank.jsonl"
    lines = [
        {"text": AIRPORT.text, "triples": [["Aarhus_Airport", "cityServed", "Aarhus"]]},
        {"text": FOOD.text, "triples": [["Bionico", "course", "Dessert"]]},
        {"text": "Nothing here names it.", "triples": [["Heathrow", "location", "London"]]},  # left out
    ]
    bank_file.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    bank = examples.ExampleBank.from_jsonl(bank_file, e5)
    assert [e.triples for e in bank.examples] == [
        [["Aarhus Airport", "cityServed", "Aarhus"]],
        [["Bionico", "course", "dessert"]],
    ]
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "aero.txt").write_text("Bedford Aerodrome serves the Bedford Autodrome.", encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    try:
        kbmod.add_files(store, "aero", [folder])
        model = FakeModel(
            lambda m, p: json.dumps({"triples": [["Bedford Aerodrome", "cityServed", "Bedford Autodrome"]]})
        )
        report = build_graph(store, "aero", model, examples=bank)
        assert report.triples_added == 1
        prompt = model.calls[-1][-1].content
        assert AIRPORT.text in prompt and prompt.index(FOOD.text) < prompt.index(AIRPORT.text)
    finally:
        store.close()


def test_bench_example_pool_holds_no_evaluation_development_or_unseen_text():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "kg_extraction.py"
    spec = importlib.util.spec_from_file_location("kg_extraction_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    if not bench.DATA.exists():
        pytest.skip("WebNLG data not present")
    rows = bench.load(bench.DATA)
    pool = bench.example_pool(rows)
    by_text = {r["text"]: r for r in rows}
    entries = {r["id"].split("-")[0] for r in bench.sample(rows, 240) + bench.dev_sample(rows, bench.DEV_RESERVED)}
    assert len(pool) > 300
    for example in pool:
        row = by_text[example.text]
        assert row["split"] == "seen" and row["id"].split("-")[0] not in entries
        for s, _, o in example.triples:  # every end as the text writes it, so the extractor's check accepts it
            assert extract.occurs_in(s, example.text) and extract.occurs_in(o, example.text)
