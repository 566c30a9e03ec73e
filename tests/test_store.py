"""The store on real SQLite files, and on a real PostgreSQL server when one is given.

PostgreSQL: set DRAFTSMITH_TEST_POSTGRES_URL (``.ci/run`` starts a server and sets it); without it those
tests are skipped with the reason shown.
"""

from __future__ import annotations

import os
import threading
import uuid

import pytest
import sqlalchemy as sa

from draftsmith.errors import StoreError
from draftsmith.store import Store, db, open_store
from draftsmith.store import documents as docs

PG_URL = os.environ.get("DRAFTSMITH_TEST_POSTGRES_URL")


def _pg_store() -> Store:
    """A fresh schema on the test server, so runs never see each other's tables."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    url = sa.engine.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return Store(url.render_as_string(hide_password=False))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        if not PG_URL:
            pytest.skip("no PostgreSQL server: set DRAFTSMITH_TEST_POSTGRES_URL")
        s = _pg_store()
    yield s
    s.close()


def test_default_store_lives_in_the_data_dir(draftsmith_home):
    store = open_store()
    assert store.url.startswith("sqlite:///")
    assert (draftsmith_home / "data" / "draftsmith.db").exists()
    assert open_store() is store
    db.close_all()


def test_database_url_setting_is_used(tmp_path, monkeypatch):
    target = tmp_path / "elsewhere" / "my.db"
    monkeypatch.setenv("DRAFTSMITH_DATABASE_URL", f"sqlite:///{target}")
    assert db.default_url() == f"sqlite:///{target}"
    Store().close()
    assert target.exists()


def test_migrations_run_once_and_are_recorded(store):
    assert store.migrate() == []  # the constructor already applied everything
    with store.read() as conn:
        rows = conn.execute(sa.select(db.schema_migrations)).all()
    names = {(r.area, r.version) for r in rows}
    assert ("documents", 1) in names
    assert len(names) == len(rows)


def test_a_new_migration_upgrades_an_old_store(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    Store(f"sqlite:///{path}").close()

    def m0002_add_language(conn):
        db.add_column(conn, "documents", sa.Column("language", sa.String(16), nullable=True))

    monkeypatch.setattr(docs, "MIGRATIONS", [*docs.MIGRATIONS, m0002_add_language])
    upgraded = Store(f"sqlite:///{path}")
    with upgraded.read() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("documents")}
    assert "language" in columns
    assert upgraded.migrate() == []


@pytest.mark.parametrize(
    ("area", "version", "columns"),
    [
        ("feedback", 2, [("feedback_suggestions", "fingerprint")]),
        ("accounts", 2, [("users", "max_tokens"), ("api_keys", "max_tokens")]),
    ],
)
def test_column_migrations_upgrade_a_store_made_before_them(store, area, version, columns):
    """Take a current store back to the shape it had before the migration, then reopen it."""
    with store.write() as conn:
        for index in sa.inspect(conn).get_indexes(columns[0][0]):
            if set(index["column_names"]) & {c for _, c in columns}:
                conn.exec_driver_sql(f"DROP INDEX {index['name']}")
        for table, column in columns:
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.execute(
            sa.delete(db.schema_migrations).where(
                db.schema_migrations.c.area == area, db.schema_migrations.c.version == version
            )
        )
    with store.read() as conn:
        assert columns[0][1] not in {c["name"] for c in sa.inspect(conn).get_columns(columns[0][0])}

    assert store.migrate() == [f"{area}.{version}:" + store_migration_name(area, version)]
    with store.read() as conn:
        inspector = sa.inspect(conn)
        for table, column in columns:
            assert column in {c["name"] for c in inspector.get_columns(table)}
        if area == "feedback":
            indexed = {tuple(i["column_names"]) for i in inspector.get_indexes("feedback_suggestions")}
            assert ("fingerprint",) in indexed
    assert store.migrate() == []


def store_migration_name(area: str, version: int) -> str:
    import importlib

    return importlib.import_module(f"draftsmith.store.{area}").MIGRATIONS[version - 1].__name__


def test_every_save_keeps_the_previous_version(store):
    doc = docs.create_document(store, "Letter", "Dear Ann,", owner="u1", author="u1")
    v2 = docs.save_document(store, doc.id, "Dear Ann, thanks.", base_version=1, owner="u1", author="u1")
    v3 = docs.save_document(store, doc.id, "Dear Ann, many thanks.", base_version=2, title="Thanks", owner="u1")
    assert (v2.version, v3.version) == (2, 3)
    assert docs.get_document(store, doc.id).text == "Dear Ann, many thanks."
    assert docs.get_document(store, doc.id, version=1).text == "Dear Ann,"
    assert [h.version for h in docs.history(store, doc.id)] == [1, 2, 3]
    restored = docs.restore_version(store, doc.id, 1, owner="u1")
    assert restored.version == 4 and restored.text == "Dear Ann," and restored.title == "Letter"
    assert len(docs.history(store, doc.id)) == 4


def test_a_stale_save_is_refused_and_changes_nothing(store):
    doc = docs.create_document(store, "Notes", "one")
    docs.save_document(store, doc.id, "two", base_version=1)
    with pytest.raises(docs.VersionConflict, match="version 2, not 1"):
        docs.save_document(store, doc.id, "my edit of one", base_version=1)
    current = docs.get_document(store, doc.id)
    assert (current.version, current.text) == (2, "two")
    assert len(docs.history(store, doc.id)) == 2


def test_owners_see_only_their_documents(store):
    mine = docs.create_document(store, "Mine", "a", owner="alice")
    docs.create_document(store, "Theirs", "b", owner="bob")
    assert [d["title"] for d in docs.list_documents(store, owner="alice")] == ["Mine"]
    with pytest.raises(docs.DocumentNotFound):
        docs.get_document(store, mine.id, owner="bob")
    with pytest.raises(docs.DocumentNotFound):
        docs.save_document(store, mine.id, "x", base_version=1, owner="bob")
    assert docs.get_document(store, mine.id).text == "a"


def test_deleted_documents_leave_lists_but_keep_versions(store):
    doc = docs.create_document(store, "Draft", "text")
    docs.delete_document(store, doc.id)
    assert docs.list_documents(store) == []
    with pytest.raises(docs.DocumentNotFound):
        docs.get_document(store, doc.id)
    with store.read() as conn:
        kept = conn.scalar(
            sa.select(sa.func.count())
            .select_from(docs.document_versions)
            .where(docs.document_versions.c.document_id == doc.id)
        )
    assert kept == 1


def test_a_failure_inside_a_transaction_leaves_nothing_half_saved(store):
    doc = docs.create_document(store, "T", "v1")
    with pytest.raises(RuntimeError), store.write() as conn:
        conn.execute(docs.documents.update().where(docs.documents.c.id == doc.id).values(version=2))
        raise RuntimeError("crash between the two writes")
    assert docs.get_document(store, doc.id).version == 1
    assert docs.save_document(store, doc.id, "v2", base_version=1).version == 2


def test_concurrent_saves_from_one_base_keep_exactly_one(store):
    doc = docs.create_document(store, "Race", "base")
    outcomes: list[str] = []

    def save(i: int) -> None:
        try:
            docs.save_document(store, doc.id, f"edit {i}", base_version=1)
            outcomes.append("saved")
        except docs.VersionConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 5 + ["saved"]
    assert docs.get_document(store, doc.id).version == 2
    assert len(docs.history(store, doc.id)) == 2


def test_bad_urls_and_unreachable_servers_are_store_errors(tmp_path):
    with pytest.raises(StoreError, match="not valid"):
        Store("::not a url::")
    with pytest.raises(StoreError, match="store"):
        Store("postgresql+psycopg://nobody:pw@127.0.0.1:1/none?connect_timeout=2")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the folder"):
        Store(f"sqlite:///{blocker / 'sub' / 'x.db'}")
