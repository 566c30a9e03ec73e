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


@pytest.fixture
def bench():
    """``bench/kg_extraction.py`` as a module, for tests of what it reads from WebNLG (skipped without the data)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "kg_extraction.py"
    spec = importlib.util.spec_from_file_location("kg_extraction_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not module.DATA.exists():
        pytest.skip("WebNLG data not present")
    return module


def test_bench_example_pool_holds_no_evaluation_development_or_unseen_text(bench):
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


# -- the default bank: bundled examples and the user's validated facts -------------------------------------


def test_bundled_bank_is_whole_and_speaks_the_vocabulary():
    from draftsmith.graph.predicates import bundled_vocabulary

    lines = [json.loads(x) for x in examples.BUNDLED.read_text(encoding="utf-8").splitlines() if x.strip()]
    found, left_out = examples.read_examples(examples.BUNDLED)
    assert left_out == 0 and len(found) == len(lines) >= 60  # every line is a usable example
    vocabulary = set(bundled_vocabulary())
    for line, example in zip(lines, found, strict=True):
        assert 1 <= len(example.triples) == len(line["triples"])
        for (s, p, o), (s_file, p_file, o_file) in zip(example.triples, line["triples"], strict=True):
            assert p == p_file and p in vocabulary, p
            # written as the text writes them: the extractor's own check accepts every end
            assert extract.occurs_in(s, example.text) == 1.0 and extract.occurs_in(o, example.text) == 1.0
            assert extract.normalise(s) == extract.normalise(s_file) and extract.normalise(o) == extract.normalise(
                o_file
            )
    chinese = [e for e in found if any("\u4e00" <= ch <= "\u9fff" for ch in e.text)]
    assert len(chinese) >= 10
    assert len({p for e in found for _, p, _ in e.triples}) >= 80  # a broad spread of relations


def test_bundled_bank_holds_no_webnlg_text_nor_its_subjects(bench):
    """The bundled texts were written for draftsmith: none shares eight words in a row with a WebNLG text (shorter
    runs are stock phrases: "was first aired by the BBC on"), and none is about an entity WebNLG has."""

    def grams(text: str) -> set[tuple[str, ...]]:
        words = extract.normalise(text).split()
        return {tuple(words[i : i + 8]) for i in range(len(words) - 7)}

    webnlg: set[tuple[str, ...]] = set()
    entities: set[str] = set()
    for row in bench.load(bench.DATA):
        webnlg |= grams(row["text"])
        entities |= {extract.normalise(x) for s, _, o in row["triples"] for x in (s, o)}
    for example in examples.bundled_examples():
        assert not grams(example.text) & webnlg, example.text
        assert not {extract.normalise(s) for s, _, _ in example.triples} & entities, example.text


DOCS = {
    "tower.txt": "The Eiffel Tower in Paris was completed in 1889. Gustave Eiffel designed the Eiffel Tower.",
    "ibm.txt": "International Business Machines was founded in 1911 in Endicott. IBM is based in Armonk.",
}
ANSWERS = {
    "Eiffel Tower in Paris": [["Eiffel Tower", "location", "Paris"], ["Eiffel Tower", "completionDate", "1889"]],
    "International Business": [
        ["International Business Machines", "foundingYear", "1911"],
        ["IBM", "location", "Armonk"],
    ],
    "Microsoft": [["Microsoft", "location", "Redmond"]],
    "Intel": [["Intel", "location", "Santa Clara"]],
}


def _answers(messages, params):
    last = messages[-1].content
    passage = last[last.rindex("Text:\n") :]  # the passage, after any worked examples
    for marker, triples in ANSWERS.items():
        if marker in passage:
            return json.dumps({"triples": triples})
    return json.dumps({"triples": []})


@pytest.fixture()
def city(tmp_path):
    from draftsmith.graph.build import build_graph
    from draftsmith.knowledge import kb as kbmod
    from draftsmith.store import Store

    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    kbmod.add_files(store, "city", [folder])
    build_graph(store, "city", FakeModel(_answers))  # no embedder: no examples, no normalisation by e5
    yield store, folder
    store.close()


def test_validated_triples_become_examples_with_their_passage(city):
    from draftsmith.graph import graph
    from draftsmith.knowledge import kb as kbmod
    from draftsmith.store.graph import kg_graphs

    store, folder = city
    with store.read() as conn:
        graph_id = conn.scalar(kg_graphs.select().with_only_columns(kg_graphs.c.id))
    assert examples.user_examples(store, graph_id) == []  # nothing validated yet
    graph.validate_triple(store, "city", "IBM | location | Armonk")
    graph.add_triple(store, "city", "Louvre", "location", "Paris")  # by hand, no passage: no example
    found = examples.user_examples(store, graph_id)
    # the passage cut to the sentence that states the fact, the fact as that sentence writes it
    assert found == [examples.Example(text="IBM is based in Armonk.", triples=[["IBM", "location", "Armonk"]])]
    graph.validate_triple(store, "city", "Eiffel Tower | location | Paris")
    graph.validate_triple(store, "city", "Eiffel Tower | completionDate | 1889")
    tower = next(e for e in examples.user_examples(store, graph_id) if "Eiffel" in e.text)
    assert tower.triples == [["Eiffel Tower", "location", "Paris"], ["Eiffel Tower", "completionDate", "1889"]]
    assert tower.text == "The Eiffel Tower in Paris was completed in 1889. Gustave Eiffel designed the Eiffel Tower."
    # a changed passage no longer states the validated fact: the fact stays, its example goes
    (folder / "ibm.txt").write_text("IBM moved.", encoding="utf-8")
    kbmod.add_files(store, "city", [folder])
    from draftsmith.graph.build import build_graph

    build_graph(store, "city", FakeModel(_answers))
    assert [e.text for e in examples.user_examples(store, graph_id)] == [tower.text]


class _Counting:
    """e5, counting the texts it embeds."""

    def __init__(self, embedder) -> None:
        self.embedder, self.name, self.dim, self.texts = embedder, embedder.name, embedder.dim, []

    def query(self, text):
        self.texts.append(text)
        return self.embedder.query(text)

    def passages(self, texts):
        self.texts.extend(texts)
        return self.embedder.passages(texts)


def test_a_later_build_shows_the_users_examples_and_the_bundled_ones_from_the_cache(city, e5):
    from draftsmith.graph import graph
    from draftsmith.graph.build import build_graph
    from draftsmith.knowledge import kb as kbmod

    store, folder = city
    graph.validate_triple(store, "city", "IBM | location | Armonk")
    (folder / "ms.txt").write_text("Microsoft is based in Redmond.", encoding="utf-8")
    kbmod.add_files(store, "city", [folder])
    first = _Counting(e5)
    model = FakeModel(_answers)
    report = build_graph(store, "city", model, embedder=first)  # the default bank
    assert report.processed == 1
    prompt = model.calls[-1][-1].content
    assert prompt.index("IBM is based in Armonk.") < prompt.index("Text:\nMicrosoft")  # the user's example
    bundled = {e.text for e in examples.bundled_examples()}
    assert sum(text in prompt for text in bundled) == 2  # and the two nearest bundled ones
    assert bundled <= set(first.texts)  # embedded once ...
    (folder / "intel.txt").write_text("Intel is based in Santa Clara.", encoding="utf-8")
    kbmod.add_files(store, "city", [folder])
    again = _Counting(e5)
    build_graph(store, "city", FakeModel(_answers), embedder=again)
    assert not bundled & set(again.texts)  # ... then read from the store's embedding cache
    assert "Intel is based in Santa Clara." in again.texts  # the passage itself is embedded to find its examples


def test_no_examples_and_an_unchanged_rebuild_opens_no_bank(city, e5):
    from draftsmith.graph.build import build_graph
    from draftsmith.knowledge import kb as kbmod

    store, folder = city
    report = build_graph(store, "city", FakeModel(_answers), embedder=e5, examples=lambda *a: pytest.fail("opened"))
    assert report.unchanged == 2 and report.processed == 0
    (folder / "ms.txt").write_text("Microsoft is based in Redmond.", encoding="utf-8")
    kbmod.add_files(store, "city", [folder])
    model = FakeModel(_answers)
    build_graph(store, "city", model, embedder=e5, examples=None)
    assert "Worked examples" not in model.calls[-1][-1].content


def test_cli_build_uses_the_default_bank_unless_told_not_to(city, tmp_path, capsys, monkeypatch):
    from types import SimpleNamespace

    from draftsmith.cli import common, main
    from draftsmith.knowledge import kb as kbmod

    store, folder = city
    monkeypatch.setenv("DRAFTSMITH_DATABASE_URL", str(store.url))
    model = FakeModel(_answers)
    monkeypatch.setattr(common, "assistant", lambda name: SimpleNamespace(model=model))
    assert main(["kg", "build", "city", "--no-examples", "--examples", str(tmp_path / "x.jsonl")]) == 2
    assert "not both" in capsys.readouterr().err
    (folder / "ms.txt").write_text("Microsoft is based in Redmond.", encoding="utf-8")
    kbmod.add_files(store, "city", [folder])
    assert main(["kg", "build", "city", "--no-examples"]) == 0
    assert len(model.calls) == 1 and "Worked examples" not in model.calls[-1][-1].content
    (folder / "intel.txt").write_text("Intel is based in Santa Clara.", encoding="utf-8")
    kbmod.add_files(store, "city", [folder])
    own = tmp_path / "own.jsonl"
    own.write_text(
        json.dumps({"text": "Nvidia is based in Santa Clara.", "triples": [["Nvidia", "location", "Santa Clara"]]})
    )
    assert main(["kg", "build", "city", "--examples", str(own)]) == 0
    prompt = model.calls[-1][-1].content
    assert "Worked examples" in prompt and "Nvidia is based in Santa Clara." in prompt


@pytest.mark.model
def test_real_model_names_relations_like_the_bundled_examples(e5):
    """The default bank's nearest examples (airports: ``cityServed``) name the relation the way a graph does;
    without examples the 0.5B calls it "serves"."""
    from draftsmith.config import load_settings
    from draftsmith.errors import ModelError
    from draftsmith.models.loader import load_model

    try:
        model = load_model("qwen2.5-0.5b", load_settings(n_threads=1))
    except ModelError as exc:
        pytest.skip(str(exc))
    passage = "Bedford Aerodrome serves the Bedford Autodrome."
    shown = examples.graph_bank(None, "", e5, user=False).nearest(passage, 3)
    assert any(p == "cityServed" for e in shown for _, p, _ in e.triples)
    found = extract.extract_triples(model, passage, examples=shown)
    assert [[t.subject, t.predicate, t.object] for t in found.triples] == [
        ["Bedford Aerodrome", "cityServed", "Bedford Autodrome"]
    ], found.errors
