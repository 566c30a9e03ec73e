"""The store: one SQLAlchemy engine over SQLite (default) or PostgreSQL (by URL), migrated when opened.

Each area of user data (documents, knowledge bases, evaluation runs, …) is one module in this package
that defines its tables on the shared ``METADATA`` and a ``MIGRATIONS`` list of plain functions, numbered
by their position. ``Store.migrate`` runs the ones a database has not seen, each in its own transaction,
and records them in ``schema_migrations``: opening an old store upgrades it, opening a current one only
reads one small table.

Rule for migrations: the first one of an area may create its tables from the module's ``sa.Table``
objects (``create(checkfirst=True)``); a later change to a table is added to the module's definition *and*
made by a new migration with explicit, guarded DDL (``add_column`` below), so an old store upgrades to
exactly what a new one gets.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from draftsmith.errors import StoreError

METADATA = sa.MetaData()

# The areas, in migration order (a later area may refer to an earlier one's tables).
AREAS: tuple[str, ...] = ("documents", "knowledge", "runs", "accounts", "graph", "feedback")

Migration = Callable[[Connection], None]

schema_migrations = sa.Table(
    "schema_migrations",
    METADATA,
    sa.Column("area", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)


def default_url() -> str:
    """SQLite in the user's data dir, unless ``database_url`` is configured (config.toml or env)."""
    from draftsmith.config import data_dir, load_settings

    configured = load_settings().database_url
    if configured:
        return configured
    return f"sqlite:///{data_dir() / 'draftsmith.db'}"


def add_column(conn: Connection, table: str, column: sa.Column) -> None:
    """``ALTER TABLE … ADD COLUMN`` unless the column is already there (a guarded, portable migration step)."""
    existing = {c["name"] for c in sa.inspect(conn).get_columns(table)}
    if column.name in existing:
        return
    type_sql = column.type.compile(dialect=conn.dialect)
    null_sql = "" if column.nullable else " NOT NULL"
    default = column.server_default.arg if column.server_default is not None else None
    default_sql = f" DEFAULT {default}" if default is not None else ""
    conn.exec_driver_sql(f'ALTER TABLE {table} ADD COLUMN "{column.name}" {type_sql}{default_sql}{null_sql}')


class Store:
    """A migrated database. Thread-safe: every call takes a pooled connection."""

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = url or default_url()
        self.engine = _create_engine(self.url)
        if migrate:
            self.migrate()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading (a consistent snapshot on both backends)."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except SQLAlchemyError as exc:
            raise _store_error(exc, self.url) from exc

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: everything in the block is saved, or nothing is."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(sqlite_begin="IMMEDIATE")
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise _store_error(exc, self.url) from exc

    def migrate(self) -> list[str]:
        """Apply the migrations this database has not seen; returns their names."""
        applied: list[str] = []
        with _MIGRATE_LOCK:
            with self.write() as conn:
                schema_migrations.create(conn, checkfirst=True)
            for area in AREAS:
                module = importlib.import_module(f"draftsmith.store.{area}")
                migrations: list[Migration] = module.MIGRATIONS
                with self.read() as conn:
                    done = set(
                        conn.scalars(sa.select(schema_migrations.c.version).where(schema_migrations.c.area == area))
                    )
                for number, fn in enumerate(migrations, start=1):
                    if number in done:
                        continue
                    with self.write() as conn:
                        again = conn.scalar(
                            sa.select(sa.func.count())
                            .select_from(schema_migrations)
                            .where(schema_migrations.c.area == area, schema_migrations.c.version == number)
                        )
                        if again:  # another process got there first
                            continue
                        fn(conn)
                        conn.execute(
                            schema_migrations.insert().values(
                                area=area, version=number, name=fn.__name__, applied_at=time.time()
                            )
                        )
                    applied.append(f"{area}.{number}:{fn.__name__}")
        return applied

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"


_MIGRATE_LOCK = threading.Lock()
_OPEN: dict[str, Store] = {}
_OPEN_LOCK = threading.Lock()


def open_store(url: str | None = None) -> Store:
    """The process's store for ``url`` (default: the configured one), opened and migrated once."""
    key = url or default_url()
    with _OPEN_LOCK:
        store = _OPEN.get(key)
        if store is None:
            store = _OPEN[key] = Store(key)
        return store


def close_all() -> None:
    with _OPEN_LOCK:
        for store in _OPEN.values():
            store.close()
        _OPEN.clear()


def _create_engine(url: str) -> Engine:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise StoreError(f"database URL {url!r} is not valid; use sqlite:///PATH or postgresql+psycopg://…") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            try:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder for the store {database}: {exc.strerror}") from None
        engine = sa.create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    try:
        return sa.create_engine(parsed, pool_pre_ping=True)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise StoreError(
            f"no driver for {parsed.drivername}: {exc}; for PostgreSQL: pip install 'psycopg[binary]'"
        ) from None


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Python's sqlite3 opens transactions on its own terms; we issue BEGIN ourselves (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at every checkpoint; a crash loses no committed WAL
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A writer takes the write lock at BEGIN, so two writers queue instead of failing on lock upgrade.
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _store_error(exc: SQLAlchemyError, url: str) -> StoreError:
    where = sa.engine.make_url(url).render_as_string(hide_password=True)
    message = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return StoreError(f"store {where}: {message}")
