"""Fixtures of the security probes: one SQLite store with the probe accounts, and two real servers on loopback
for the whole run: ``target`` (the fake model) and ``relay`` (its model is a slow, key-checking upstream). Tests
that turn a protection off build their own server with ``serve_app``."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from draftsmith.config import Settings
from draftsmith.models.fake import FakeModel
from draftsmith.server import ServerConfig, create_app
from draftsmith.store import db
from draftsmith.store.db import Store

from .probes import Keys, Target, provision
from .probes.core import Sentinel
from .probes.live import live_target
from .probes.upstream import Upstream

SETTINGS = Settings(model="fake", prefix_cache=False)
RELAY_TIMEOUT_S = 3.0


@pytest.fixture(scope="session")
def sec_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('security') / 'probes.db'}")
    yield store
    store.close()


@pytest.fixture(scope="session")
def keys(sec_store: Store) -> Keys:
    return provision(sec_store)


@pytest.fixture(scope="session")
def target(sec_store: Store, keys: Keys) -> Iterator[Target]:
    app = create_app(SETTINGS, FakeModel(), config=ServerConfig(sse_ping_s=0), store=sec_store)
    with live_target(app, sec_store, keys) as t:
        yield t


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    u = Upstream(key=f"sk-probe-{secrets.token_urlsafe(24)}")
    yield u
    u.close()


def serve_relay(sec_store: Store, keys: Keys, upstream: Upstream):
    """A server whose model is ``upstream`` (slow, hanging or key-quoting on demand), served like ``target``."""
    settings = Settings(
        model=upstream.spec(),
        openai_api_key=upstream.key,
        request_timeout=RELAY_TIMEOUT_S,
        retries=0,
        prefix_cache=False,
    )
    app = create_app(settings, config=ServerConfig(sse_ping_s=0), store=sec_store)
    return live_target(app, sec_store, keys, upstream=upstream, request_timeout_s=RELAY_TIMEOUT_S)


@pytest.fixture(scope="session")
def relay(sec_store: Store, keys: Keys, upstream: Upstream) -> Iterator[Target]:
    with serve_relay(sec_store, keys, upstream) as t:
        yield t


@pytest.fixture
def sentinel() -> Iterator[Sentinel]:
    s = Sentinel()
    yield s
    s.close()


@pytest.fixture
def data_dir(draftsmith_home: Path) -> Path:
    """The data folder of this test (the in-process servers read templates from it)."""
    path = draftsmith_home / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True, scope="session")
def _close_stores() -> Iterator[None]:
    yield
    db.close_all()


def serve_app(sec_store: Store, keys: Keys, model: object | None = None, **config: object):
    """A fresh app on the probe store (for tests that turn one protection off), served like ``target``."""
    app = create_app(SETTINGS, model or FakeModel(), config=ServerConfig(sse_ping_s=0, **config), store=sec_store)
    return live_target(app, sec_store, keys)
