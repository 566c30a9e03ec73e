"""Accounts, API keys and limits through the real app on a real SQLite store (the test's DRAFTSMITH_HOME):
401/403/429 answers, keys stored only as hashes, every /api and /v1 route behind the key (enumerated from
the app), rate limits and token budgets that survive a restart, JSON access logs without keys or bodies,
and the users/keys commands."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from draftsmith.config import Settings
from draftsmith.errors import InputError
from draftsmith.models.fake import FakeModel
from draftsmith.server import ServerConfig, create_app
from draftsmith.server.logs import JsonFormatter, access_log
from draftsmith.store import accounts, db, open_store

SETTINGS = Settings(model="fake", prefix_cache=False)


@pytest.fixture
def store():
    s = open_store()  # the same SQLite file the app opens: <DRAFTSMITH_HOME>/data/draftsmith.db
    yield s
    db.close_all()


def user_key(store, name: str, *, admin: bool = False, **limits) -> str:
    accounts.add_user(store, name, role="admin" if admin else "user", **limits)
    key, _ = accounts.create_key(store, name)
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def app_client(model=None, **config) -> TestClient:
    return TestClient(create_app(SETTINGS, model or FakeModel("fine words"), config=ServerConfig(**config)))


def assert_error(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["type"] == kind, error
    return error


WRITE = {"instruction": "a line about rain"}


# -- when keys are needed ----------------------------------------------------------------------------------------


def test_no_users_on_loopback_needs_no_key_and_the_first_user_closes_the_door(store):
    client = app_client()
    assert client.post("/api/write", json=WRITE).status_code == 200
    key = user_key(store, "ana")
    response = client.post("/api/write", json=WRITE)
    error = assert_error(response, 401, "unauthorized")
    assert "API key is required" in error["message"]
    assert response.headers["www-authenticate"] == 'Bearer realm="draftsmith"'
    assert client.post("/api/write", json=WRITE, headers=bearer(key)).status_code == 200
    assert client.post("/api/write", json=WRITE, headers={"X-API-Key": key}).status_code == 200


def test_auth_required_and_auth_off_override_the_automatic_choice(store):
    assert_error(app_client(auth_required=True).post("/api/write", json=WRITE), 401, "unauthorized")
    user_key(store, "ana")
    assert app_client(auth_required=False).post("/api/write", json=WRITE).status_code == 200


def test_bad_keys_are_401_and_never_echoed(store):
    key = user_key(store, "ana")
    key_id = key.split("_")[1]
    client = app_client()
    wrong_secret = f"ds_{key_id}_{'A' * 43}"
    attempts = [
        bearer(wrong_secret),
        bearer("ds_000000000000_" + "B" * 43),
        bearer("' OR '1'='1"),
        bearer(key + "x"),
        bearer(key[:-1]),
        {"Authorization": f"Basic {key}"},
        {"Authorization": "Bearer "},
        {"Authorization": key},
        {"X-API-Key": "nope"},
        {"Authorization": f"Bearer {key}", "X-API-Key": wrong_secret},  # two different keys
        {"Api-Key": key},  # an unexpected header is not read
        {"Cookie": f"key={key}"},
    ]
    for headers in attempts:
        response = client.post("/api/write", json=WRITE, headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert key_id not in response.text and "OR '1'" not in response.text
    assert_error(client.post(f"/api/write?api_key={key}", json=WRITE), 401, "unauthorized")


def test_revoked_expired_and_disabled(store):
    key = user_key(store, "ana")
    client = app_client()
    assert client.get("/api/documents", headers=bearer(key)).status_code == 200

    accounts.set_disabled(store, "ana", True)
    error = assert_error(client.get("/api/documents", headers=bearer(key)), 403, "user_disabled")
    assert "ana" in error["message"]
    accounts.set_disabled(store, "ana", False)
    assert client.get("/api/documents", headers=bearer(key)).status_code == 200

    accounts.revoke_key(store, key.split("_")[1])
    assert_error(client.get("/api/documents", headers=bearer(key)), 401, "unauthorized")

    soon, info = accounts.create_key(store, "ana", expires_in_days=1)
    assert client.get("/api/documents", headers=bearer(soon)).status_code == 200
    with store.write() as conn:
        conn.execute(accounts.api_keys.update().where(accounts.api_keys.c.id == info.id).values(expires_at=time.time()))
    assert_error(client.get("/api/documents", headers=bearer(soon)), 401, "unauthorized")


def test_every_api_and_v1_route_needs_a_key_and_health_does_not(store):
    user_key(store, "ana")
    app = create_app(SETTINGS, FakeModel(), config=ServerConfig())
    client = TestClient(app)
    checked = 0
    for path, methods in app.openapi()["paths"].items():
        if not path.startswith(("/api", "/v1")):
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method in methods:
            response = client.request(method.upper(), url, json={})
            assert response.status_code == 401, f"{method.upper()} {path}: {response.status_code}"
            checked += 1
    assert checked >= 19  # 8 operations, templates, 8 document routes, 2 OpenAI routes
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path


def test_metrics_need_an_admin_key_unless_public(store):
    user = user_key(store, "ana")
    admin = user_key(store, "root", admin=True)
    client = app_client()
    assert_error(client.get("/metrics"), 401, "unauthorized")
    assert_error(client.get("/metrics", headers=bearer(user)), 403, "forbidden")
    assert client.get("/metrics", headers=bearer(admin)).status_code == 200
    assert app_client(public_metrics=True).get("/metrics").status_code == 200


# -- keys at rest -----------------------------------------------------------------------------------------------


def test_only_a_hash_of_the_key_is_stored(store, draftsmith_home):
    key = user_key(store, "ana")
    secret = key.split("_", 2)[2]
    app_client().post("/api/write", json=WRITE, headers=bearer(key))
    with store.read() as conn:
        row = conn.execute(sa.select(accounts.api_keys)).one()
    assert row.hash == accounts.hash_key(key) and len(row.hash) == 64
    db.close_all()  # checkpoint the WAL into the main file
    files = list((draftsmith_home / "data").glob("draftsmith.db*"))
    assert files
    for path in files:
        data = path.read_bytes()
        assert key.encode() not in data and secret.encode() not in data, path.name
        assert secret[:16].encode() not in data


def test_keys_have_a_visible_prefix_and_enough_entropy(store):
    accounts.add_user(store, "ana")
    keys = {accounts.create_key(store, "ana")[0] for _ in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert re.fullmatch(r"ds_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
    assert accounts.authenticate(store, next(iter(keys))) is not None
    assert accounts.authenticate(store, "ds_" + "0" * 12 + "_" + "x" * 43) is None
    with pytest.raises(InputError):
        accounts.add_user(store, "ana")
    with pytest.raises(InputError):
        accounts.add_user(store, "../etc")


# -- limits ----------------------------------------------------------------------------------------------------


def test_requests_per_minute_are_per_key_shared_by_both_headers_and_survive_a_restart(store):
    key = user_key(store, "ana", requests_per_minute=3)
    other = user_key(store, "bob", requests_per_minute=3)
    client = app_client()
    assert client.get("/api/documents", headers=bearer(key)).status_code == 200
    assert client.get("/api/documents", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/api/documents", headers=bearer(key)).status_code == 200
    response = client.get("/api/documents", headers={"X-API-Key": key})
    error = assert_error(response, 429, "rate_limited")
    assert "3 requests per minute" in error["message"]
    assert 1 <= int(response.headers["retry-after"]) <= 20
    assert client.get("/api/documents", headers=bearer(other)).status_code == 200  # bob has his own bucket

    restarted = app_client()  # a new app (new engine) on the same store
    assert_error(restarted.get("/api/documents", headers=bearer(key)), 429, "rate_limited")


def test_the_bucket_refills_over_time(store):
    key = user_key(store, "ana", requests_per_minute=60)
    key_id = key.split("_")[1]
    now = 1_000_000.0
    for i in range(60):
        assert accounts.take_request(store, key_id, 60, now=now) == 0, i
    wait = accounts.take_request(store, key_id, 60, now=now)
    assert 0.9 <= wait <= 1.0
    assert accounts.take_request(store, key_id, 60, now=now + 1.0) == 0
    assert accounts.take_request(store, key_id, 0, now=now + 1.0) == 0  # 0: unlimited


def test_the_server_default_rate_applies_to_users_without_their_own(store):
    key = user_key(store, "ana")
    client = app_client(requests_per_minute=1)
    assert client.get("/api/documents", headers=bearer(key)).status_code == 200
    assert_error(client.get("/api/documents", headers=bearer(key)), 429, "rate_limited")


def test_daily_token_budget_is_enforced_recorded_and_survives_a_restart(store):
    ana = user_key(store, "ana", tokens_per_day=10)
    bob = user_key(store, "bob", tokens_per_day=10_000)
    long_answer = " ".join(["word"] * 30)
    client = app_client(FakeModel(long_answer))
    first = client.post("/api/write", json=WRITE, headers=bearer(ana))
    assert first.status_code == 200
    used = first.json()["usage"]["prompt_tokens"] + first.json()["usage"]["completion_tokens"]
    assert accounts.tokens_used(store, accounts.get_user(store, "ana").id) == used > 10

    response = client.post("/api/write", json=WRITE, headers=bearer(ana))
    error = assert_error(response, 429, "budget_exceeded")
    assert "10 tokens" in error["message"]
    assert 1 <= int(response.headers["retry-after"]) <= 86400
    chat = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}, headers=bearer(ana)
    )
    assert_error(chat, 429, "budget_exceeded")
    assert client.get("/api/documents", headers=bearer(ana)).status_code == 200  # no model, no budget

    assert client.post("/api/write", json=WRITE, headers=bearer(bob)).status_code == 200
    restarted = app_client(FakeModel(long_answer))
    assert_error(restarted.post("/api/write", json=WRITE, headers=bearer(ana)), 429, "budget_exceeded")


def test_chat_and_streamed_operations_count_tokens_too(store):
    key = user_key(store, "ana")
    user_id = accounts.get_user(store, "ana").id
    client = app_client(FakeModel("one two three four", delay_s=0.001))
    chat = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}, headers=bearer(key)
    )
    assert chat.status_code == 200
    after_chat = accounts.tokens_used(store, user_id)
    assert after_chat == chat.json()["usage"]["total_tokens"]
    with client.stream("POST", "/api/write", json={**WRITE, "stream": True}, headers=bearer(key)) as response:
        list(response.iter_lines())
    assert accounts.tokens_used(store, user_id) > after_chat


# -- logs --------------------------------------------------------------------------------------------------------


@pytest.fixture
def json_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    server_log = logging.getLogger("draftsmith.server")
    access_log.addHandler(handler)
    server_log.addHandler(handler)
    old_level = access_log.level
    access_log.setLevel(logging.INFO)
    yield stream
    access_log.removeHandler(handler)
    server_log.removeHandler(handler)
    access_log.setLevel(old_level)


def test_json_access_log_has_one_line_per_request_with_no_key_and_no_text(store, json_log):
    key = user_key(store, "ana")
    user_id = accounts.get_user(store, "ana").id
    client = app_client(FakeModel(), content_filter="block")
    secret_text = "Confidential merger memo for zhang.wei@example.com"
    assert (
        client.post("/api/rewrite", json={"text": secret_text, "style": "formal"}, headers=bearer(key)).status_code
        == 200
    )
    created = client.post("/api/documents", json={"title": "Memo", "text": secret_text}, headers=bearer(key))
    doc_id = created.json()["id"]
    client.get(f"/api/documents/{doc_id}", headers={"X-API-Key": key, "X-Request-ID": "trace-42"})
    client.post("/api/write", json={"instruction": "how to make a pipe bomb"}, headers=bearer(key))
    client.post("/api/write", json=WRITE, headers=bearer("ds_bad"))

    lines = json_log.getvalue().splitlines()
    records = [json.loads(line) for line in lines]  # every line is JSON
    access = [r for r in records if r["logger"] == "draftsmith.access"]
    assert len(access) == 5
    for r in access:
        assert set(r) >= {"time", "request_id", "user_id", "method", "route", "status", "latency_ms", "tokens"}
    assert [r["status"] for r in access] == [200, 201, 200, 400, 401]
    assert access[0]["user_id"] == user_id and access[0]["tokens"] > 0 and access[0]["route"] == "/api/rewrite"
    assert access[2]["route"] == "/api/documents/{doc_id}" and access[2]["request_id"] == "trace-42"
    assert access[4]["user_id"] is None
    text = json_log.getvalue()
    secret = key.split("_", 2)[2]
    for forbidden in (key, secret, secret[:12], "Confidential", "merger", "zhang.wei", "pipe bomb", doc_id):
        assert forbidden not in text, forbidden
    assert any(r["logger"] == "draftsmith.server" and "weapons" in r["message"] for r in records)


def test_every_answer_has_a_request_id():
    client = app_client()
    first = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert client.get("/healthz", headers={"X-Request-ID": "abc-1"}).headers["x-request-id"] == "abc-1"
    odd = client.get("/healthz", headers={"X-Request-ID": "bad id\\n"}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", odd)


# -- the commands ------------------------------------------------------------------------------------------------


def run_cli(*args: str):
    from draftsmith.cli import app

    return CliRunner().invoke(app, list(args))


def test_users_and_keys_commands(store):
    assert run_cli("users", "add", "root", "--admin").exit_code == 0
    assert run_cli("users", "add", "ana", "--rpm", "5", "--tokens-per-day", "1000").exit_code == 0
    listed = json.loads(run_cli("users", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["requests_per_minute"]) for u in listed] == [
        ("root", "admin", None),
        ("ana", "user", 5),
    ]

    created = run_cli("keys", "create", "ana", "--label", "laptop")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[0]
    assert re.fullmatch(r"ds_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
    shown = run_cli("keys", "list")
    assert key.split("_")[1] in shown.stdout and key not in shown.stdout and key.split("_", 2)[2] not in shown.stdout
    as_json = run_cli("keys", "list", "ana", "--json").stdout
    assert key.split("_", 2)[2] not in as_json and json.loads(as_json)[0]["label"] == "laptop"

    client = app_client()
    assert client.get("/api/documents", headers=bearer(key)).status_code == 200
    assert run_cli("users", "disable", "ana").exit_code == 0
    assert client.get("/api/documents", headers=bearer(key)).status_code == 403
    assert run_cli("users", "enable", "ana").exit_code == 0
    assert run_cli("keys", "revoke", key.split("_")[1]).exit_code == 0
    assert client.get("/api/documents", headers=bearer(key)).status_code == 401
    assert "revoked" in run_cli("keys", "list").stdout

    assert run_cli("users", "limits", "ana", "--rpm", "0").exit_code == 0
    assert accounts.get_user(store, "ana").requests_per_minute == 0
    assert run_cli("users", "add", "ana").exit_code != 0
    assert run_cli("keys", "create", "nobody").exit_code != 0


def test_serve_on_a_network_address_needs_a_usable_key(store):
    from draftsmith.cli.serve_cmd import check_remote_auth

    with pytest.raises(InputError, match="none is usable"):
        check_remote_auth("0.0.0.0")
    key = user_key(store, "ana")
    check_remote_auth("0.0.0.0")
    accounts.revoke_key(store, key)
    with pytest.raises(InputError):
        check_remote_auth("0.0.0.0")
    result = run_cli("serve", "--host", "0.0.0.0", "--allow-remote", "--model", "fake")
    assert result.exit_code != 0
    assert "none is usable" in str(result.exception)


# -- PostgreSQL ------------------------------------------------------------------------------------------------

PG_URL = os.environ.get("DRAFTSMITH_TEST_POSTGRES_URL")


@pytest.fixture
def pg_store():
    if not PG_URL:
        pytest.skip("no PostgreSQL server: set DRAFTSMITH_TEST_POSTGRES_URL")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = sa.engine.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    s = db.Store(url.render_as_string(hide_password=False))
    yield s
    s.close()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def test_accounts_limits_and_isolation_on_postgresql(pg_store):
    ana = user_key(pg_store, "ana", requests_per_minute=2, tokens_per_day=10_000)
    bob = user_key(pg_store, "bob", requests_per_minute=0)
    ana_id = accounts.get_user(pg_store, "ana").id
    app = create_app(SETTINGS, FakeModel("some words here"), config=ServerConfig(), store=pg_store)
    client = TestClient(app)
    assert_error(client.get("/api/documents"), 401, "unauthorized")
    created = client.post("/api/documents", json={"title": "A", "text": "x"}, headers=bearer(ana))
    assert created.status_code == 201, created.text
    doc_id = created.json()["id"]
    assert client.post("/api/write", json=WRITE, headers=bearer(ana)).status_code == 200
    assert_error(client.get("/api/documents", headers=bearer(ana)), 429, "rate_limited")
    assert_error(client.get(f"/api/documents/{doc_id}", headers=bearer(bob)), 404, "not_found")
    stale = client.put(f"/api/documents/{doc_id}", json={"text": "y", "base_version": 9}, headers=bearer(bob))
    assert_error(stale, 404, "not_found")
    assert accounts.tokens_used(pg_store, ana_id) > 0

    # Concurrent counting is atomic (the upsert adds; nothing is lost between two writers).
    before = accounts.tokens_used(pg_store, ana_id)
    threads = [threading.Thread(target=accounts.add_tokens, args=(pg_store, ana_id, 7)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert accounts.tokens_used(pg_store, ana_id) == before + 56
