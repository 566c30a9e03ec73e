"""Users, API keys, request-rate buckets and daily token use: what a shared server needs to know who asks.

Keys look like ``ds_<key id>_<secret>``: the key id (12 hex characters) is public and shown in lists; the
secret is 32 random bytes (256 bits, URL-safe base64). Only the SHA-256 of the whole key is stored. A
plain hash is enough because the secret is random and long (there is nothing to brute-force, unlike a
password), and it keeps checking a key cheap on every request. A key is found by its id and its hash is
compared in constant time (``hmac.compare_digest``); an unknown id still costs one hash and one compare.

Limits live here too, so they survive restarts: each key has a token bucket (``requests_per_minute``
requests, refilled continuously) kept in its row, and each user a token count per UTC day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import re
import secrets
import time
import uuid
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from draftsmith.errors import InputError
from draftsmith.store.db import METADATA, Store

Role = Literal["admin", "user"]
ROLES: tuple[str, ...] = ("admin", "user")
KEY_PREFIX = "ds_"
_KEY = re.compile(r"^ds_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_DUMMY_HASH = hashlib.sha256(b"draftsmith: no such key").hexdigest()
LAST_USED_EVERY_S = 60.0  # last_used_at is refreshed at most this often (saves a write per request)

users = sa.Table(
    "users",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("requests_per_minute", sa.Integer, nullable=True),  # None: the server's default
    sa.Column("tokens_per_day", sa.Integer, nullable=True),  # None: the server's default
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("disabled_at", sa.Float, nullable=True),
    sa.Column("max_tokens", sa.Integer, nullable=True),  # None: only the server's cap (m0002)
)

api_keys = sa.Table(
    "api_keys",
    METADATA,
    sa.Column("id", sa.String(12), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("revoked_at", sa.Float, nullable=True),
    sa.Column("last_used_at", sa.Float, nullable=True),
    sa.Column("bucket_tokens", sa.Float, nullable=True),  # the rate limiter's state; None: full
    sa.Column("bucket_at", sa.Float, nullable=True),
    sa.Column("max_tokens", sa.Integer, nullable=True),  # None: the user's cap, or the server's (m0002)
)

token_usage = sa.Table(
    "token_usage",
    METADATA,
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),  # UTC, YYYY-MM-DD
    sa.Column("tokens", sa.BigInteger, nullable=False),
    sa.Column("requests", sa.Integer, nullable=False),
)


# What else a user owns on a shared server: learned style profiles (kept in the store, per user) and which
# evaluation runs are whose (the runs themselves live in ``store.runs``). Owner "" is the keyless single user.
style_profiles = sa.Table(
    "style_profiles",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(32), nullable=False, index=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("profile", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

run_owners = sa.Table(
    "run_owners",
    METADATA,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(32), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
)


def m0001_users_keys_usage(conn: Connection) -> None:
    for table in (users, api_keys, token_usage):
        table.create(conn, checkfirst=True)


def m0002_max_tokens(conn: Connection) -> None:
    from draftsmith.store.db import add_column

    add_column(conn, "users", sa.Column("max_tokens", sa.Integer, nullable=True))
    add_column(conn, "api_keys", sa.Column("max_tokens", sa.Integer, nullable=True))


def m0003_style_profiles_and_run_owners(conn: Connection) -> None:
    style_profiles.create(conn, checkfirst=True)
    run_owners.create(conn, checkfirst=True)


MIGRATIONS = [m0001_users_keys_usage, m0002_max_tokens, m0003_style_profiles_and_run_owners]


class User(BaseModel):
    id: str
    name: str
    role: Role
    requests_per_minute: int | None
    tokens_per_day: int | None
    created_at: float
    disabled: bool
    max_tokens: int | None = None  # None: the server's cap


class KeyInfo(BaseModel):
    """A key as lists show it: never the secret, never the hash."""

    id: str
    user: str
    label: str | None
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None
    max_tokens: int | None = None

    @property
    def shown(self) -> str:
        return f"{KEY_PREFIX}{self.id}_…"


class KeyOwner(BaseModel):
    """Who a valid key belongs to (what the server needs per request)."""

    key_id: str
    user: User
    key_max_tokens: int | None = None

    @property
    def max_tokens(self) -> int | None:
        """The smaller of the key's and the user's max_tokens caps (None: neither has one)."""
        caps = [c for c in (self.key_max_tokens, self.user.max_tokens) if c]
        return min(caps) if caps else None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _user(row: sa.Row) -> User:
    return User(
        id=row.id,
        name=row.name,
        role=row.role,
        requests_per_minute=row.requests_per_minute,
        tokens_per_day=row.tokens_per_day,
        created_at=row.created_at,
        disabled=row.disabled_at is not None,
        max_tokens=row.max_tokens,
    )


def _check_limit(value: int | None, what: str) -> None:
    if value is not None and value < 0:
        raise InputError(f"{what} must be 0 (unlimited) or more, not {value}")


def _check_cap(value: int | None) -> None:
    if value is not None and value < 0:
        raise InputError(f"max tokens must be 0 (only the server's cap) or more, not {value}")


# -- users ------------------------------------------------------------------------------------------------------


def add_user(
    store: Store,
    name: str,
    *,
    role: Role = "user",
    requests_per_minute: int | None = None,
    tokens_per_day: int | None = None,
    max_tokens: int | None = None,
) -> User:
    if not _NAME.match(name):
        raise InputError(
            f"user name {name!r} is not allowed: use 1–64 letters, digits, '.', '_', '@' or '-', starting with "
            "a letter or digit"
        )
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    _check_limit(requests_per_minute, "requests per minute")
    _check_limit(tokens_per_day, "tokens per day")
    _check_cap(max_tokens)
    now = time.time()
    with store.write() as conn:
        if conn.execute(sa.select(users.c.id).where(users.c.name == name)).first() is not None:
            raise InputError(f"user {name!r} already exists; see draftsmith users list")
        user_id = uuid.uuid4().hex
        conn.execute(
            users.insert().values(
                id=user_id,
                name=name,
                role=role,
                requests_per_minute=requests_per_minute,
                tokens_per_day=tokens_per_day,
                created_at=now,
                disabled_at=None,
                max_tokens=max_tokens or None,
            )
        )
    return User(
        id=user_id,
        name=name,
        role=role,
        requests_per_minute=requests_per_minute,
        tokens_per_day=tokens_per_day,
        created_at=now,
        disabled=False,
        max_tokens=max_tokens or None,
    )


def get_user(store: Store, name: str) -> User:
    with store.read() as conn:
        row = conn.execute(sa.select(users).where(users.c.name == name)).first()
    if row is None:
        raise InputError(f"no user {name!r}; see draftsmith users list")
    return _user(row)


def list_users(store: Store) -> list[User]:
    with store.read() as conn:
        return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.created_at))]


def set_disabled(store: Store, name: str, disabled: bool = True) -> User:
    """Disable a user (their keys stop working at once; their data stays) or enable them again."""
    with store.write() as conn:
        row = conn.execute(sa.select(users).where(users.c.name == name)).first()
        if row is None:
            raise InputError(f"no user {name!r}; see draftsmith users list")
        conn.execute(users.update().where(users.c.id == row.id).values(disabled_at=time.time() if disabled else None))
    return get_user(store, name)


def set_limits(
    store: Store,
    name: str,
    *,
    requests_per_minute: int | None = None,
    tokens_per_day: int | None = None,
    max_tokens: int | None = None,
    clear: bool = False,
) -> User:
    """Change a user's limits (``clear`` puts them back to the server's defaults; ``max_tokens`` 0 removes
    the user's own cap)."""
    _check_limit(requests_per_minute, "requests per minute")
    _check_limit(tokens_per_day, "tokens per day")
    _check_cap(max_tokens)
    values: dict[str, int | None] = {}
    if clear:
        values = {"requests_per_minute": None, "tokens_per_day": None, "max_tokens": None}
    if requests_per_minute is not None:
        values["requests_per_minute"] = requests_per_minute
    if tokens_per_day is not None:
        values["tokens_per_day"] = tokens_per_day
    if max_tokens is not None:
        values["max_tokens"] = max_tokens or None
    user = get_user(store, name)
    if values:
        with store.write() as conn:
            conn.execute(users.update().where(users.c.id == user.id).values(**values))
    return get_user(store, name)


def has_users(store: Store) -> bool:
    with store.read() as conn:
        return conn.execute(sa.select(users.c.id).limit(1)).first() is not None


def usable_keys(store: Store) -> int:
    """How many keys would be accepted now (not revoked or expired, owner enabled)."""
    now = time.time()
    query = (
        sa.select(sa.func.count())
        .select_from(api_keys.join(users, api_keys.c.user_id == users.c.id))
        .where(
            api_keys.c.revoked_at.is_(None),
            sa.or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > now),
            users.c.disabled_at.is_(None),
        )
    )
    with store.read() as conn:
        return int(conn.scalar(query) or 0)


# -- keys --------------------------------------------------------------------------------------------------------


def create_key(
    store: Store,
    user_name: str,
    *,
    label: str | None = None,
    expires_in_days: float | None = None,
    max_tokens: int | None = None,
) -> tuple[str, KeyInfo]:
    """A new key for ``user_name``: the full key (shown once, never stored) and its public record.
    ``max_tokens``: the most tokens one request with this key may ask for (below the user's and server's caps)."""
    if expires_in_days is not None and expires_in_days <= 0:
        raise InputError("--expires-days must be more than 0")
    _check_cap(max_tokens)
    max_tokens = max_tokens or None
    user = get_user(store, user_name)
    now = time.time()
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    assert _KEY.match(key)
    expires_at = now + expires_in_days * 86400 if expires_in_days is not None else None
    with store.write() as conn:
        conn.execute(
            api_keys.insert().values(
                id=key_id,
                user_id=user.id,
                hash=hash_key(key),
                label=label,
                created_at=now,
                expires_at=expires_at,
                revoked_at=None,
                last_used_at=None,
                bucket_tokens=None,
                bucket_at=None,
                max_tokens=max_tokens,
            )
        )
    info = KeyInfo(
        id=key_id,
        user=user.name,
        label=label,
        created_at=now,
        expires_at=expires_at,
        revoked_at=None,
        last_used_at=None,
        max_tokens=max_tokens,
    )
    return key, info


def list_keys(store: Store, user_name: str | None = None) -> list[KeyInfo]:
    query = (
        sa.select(api_keys, users.c.name.label("user_name"))
        .select_from(api_keys.join(users, api_keys.c.user_id == users.c.id))
        .order_by(api_keys.c.created_at)
    )
    if user_name is not None:
        query = query.where(users.c.id == get_user(store, user_name).id)
    with store.read() as conn:
        return [
            KeyInfo(
                id=r.id,
                user=r.user_name,
                label=r.label,
                created_at=r.created_at,
                expires_at=r.expires_at,
                revoked_at=r.revoked_at,
                last_used_at=r.last_used_at,
                max_tokens=r.max_tokens,
            )
            for r in conn.execute(query)
        ]


def key_id_of(text: str) -> str:
    """The key id in what a user typed: the id itself, ``ds_<id>``, ``ds_<id>_…`` or a whole key."""
    match = re.match(r"^(?:ds_)?([0-9a-f]{12})(?:_.*)?$", text.strip())
    if match is None:
        raise InputError(f"{text!r} is not a key id; see draftsmith keys list")
    return match.group(1)


def revoke_key(store: Store, key_or_id: str) -> KeyInfo:
    key_id = key_id_of(key_or_id)
    with store.write() as conn:
        row = conn.execute(sa.select(api_keys.c.revoked_at).where(api_keys.c.id == key_id)).first()
        if row is None:
            raise InputError(f"no key {key_id}; see draftsmith keys list")
        if row.revoked_at is None:
            conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(revoked_at=time.time()))
    return next(k for k in list_keys(store) if k.id == key_id)


def authenticate(store: Store, key: str) -> KeyOwner | None:
    """The owner of ``key`` if it is known, not revoked and not expired (the owner may be disabled)."""
    match = _KEY.match(key)
    key_id = match.group(1) if match else None
    row = None
    if key_id is not None:
        with store.read() as conn:
            row = conn.execute(
                sa.select(
                    api_keys.c.id,
                    api_keys.c.hash,
                    api_keys.c.revoked_at,
                    api_keys.c.expires_at,
                    api_keys.c.max_tokens.label("key_max_tokens"),
                    users.c.max_tokens,
                    users.c.id.label("user_id"),
                    users.c.name,
                    users.c.role,
                    users.c.requests_per_minute,
                    users.c.tokens_per_day,
                    users.c.created_at,
                    users.c.disabled_at,
                )
                .select_from(api_keys.join(users, api_keys.c.user_id == users.c.id))
                .where(api_keys.c.id == key_id)
            ).first()
    good = hmac.compare_digest(hash_key(key), row.hash if row is not None else _DUMMY_HASH)
    if row is None or not good or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= time.time():
        return None
    user = User(
        id=row.user_id,
        name=row.name,
        role=row.role,
        requests_per_minute=row.requests_per_minute,
        tokens_per_day=row.tokens_per_day,
        created_at=row.created_at,
        disabled=row.disabled_at is not None,
        max_tokens=row.max_tokens,
    )
    return KeyOwner(key_id=row.id, user=user, key_max_tokens=row.key_max_tokens)


# -- limits -------------------------------------------------------------------------------------------------------


def take_request(store: Store, key_id: str, per_minute: int, now: float | None = None) -> float:
    """Take one request from the key's bucket. Returns 0 when allowed, else the seconds until one is free.

    The bucket holds ``per_minute`` requests (the burst) and refills at ``per_minute / 60`` per second;
    0 means unlimited. The state is in the key's row, so a restart does not hand out a fresh bucket.
    """
    now = time.time() if now is None else now
    with store.write() as conn:
        row = conn.execute(
            sa.select(api_keys.c.bucket_tokens, api_keys.c.bucket_at, api_keys.c.last_used_at)
            .where(api_keys.c.id == key_id)
            .with_for_update()
        ).first()
        if row is None:
            return 0.0
        values: dict[str, float] = {}
        wait = 0.0
        if per_minute > 0:
            rate = per_minute / 60.0
            level = float(per_minute) if row.bucket_tokens is None else row.bucket_tokens
            elapsed = max(now - (row.bucket_at or now), 0.0)
            level = min(float(per_minute), level + elapsed * rate)
            if level >= 1.0:
                values = {"bucket_tokens": level - 1.0, "bucket_at": now}
            else:
                wait = (1.0 - level) / rate
                values = {"bucket_tokens": level, "bucket_at": now}
        if wait == 0.0 and (row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY_S):
            values["last_used_at"] = now
        if values:
            conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(**values))
    return wait


def utc_day(now: float | None = None) -> str:
    return dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC).strftime("%Y-%m-%d")


def seconds_to_next_day(now: float | None = None) -> int:
    now = time.time() if now is None else now
    today = dt.datetime.fromtimestamp(now, dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(math.ceil((today + dt.timedelta(days=1)).timestamp() - now), 1)


def tokens_used(store: Store, user_id: str, day: str | None = None) -> int:
    with store.read() as conn:
        value = conn.scalar(
            sa.select(token_usage.c.tokens).where(
                token_usage.c.user_id == user_id, token_usage.c.day == (day or utc_day())
            )
        )
    return int(value or 0)


def add_tokens(store: Store, user_id: str, tokens: int, day: str | None = None) -> None:
    """Add to the user's count for the (UTC) day; one atomic upsert on SQLite and PostgreSQL."""
    day = day or utc_day()
    with store.write() as conn:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        statement = insert(token_usage).values(user_id=user_id, day=day, tokens=tokens, requests=1)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[token_usage.c.user_id, token_usage.c.day],
                set_={
                    "tokens": token_usage.c.tokens + statement.excluded.tokens,
                    "requests": token_usage.c.requests + 1,
                },
            )
        )


# -- what a user owns: learned style profiles, evaluation runs --------------------------------------------------


class StoredProfile(BaseModel):
    """A learned style profile kept for one user (``profile`` is a ``StyleProfile`` as JSON)."""

    id: str
    name: str
    created_at: float
    profile: dict


def save_style_profile(store: Store, owner: str, name: str, profile: dict) -> StoredProfile:
    """Keep a learned profile for ``owner`` under a generated id (names may repeat; the id is what is used)."""
    item = StoredProfile(id=uuid.uuid4().hex, name=name, created_at=time.time(), profile=profile)
    with store.write() as conn:
        conn.execute(style_profiles.insert().values(owner=owner, **item.model_dump()))
    return item


def list_style_profiles(store: Store, owner: str) -> list[StoredProfile]:
    query = sa.select(style_profiles).where(style_profiles.c.owner == owner).order_by(style_profiles.c.created_at)
    with store.read() as conn:
        return [
            StoredProfile(id=r.id, name=r.name, created_at=r.created_at, profile=r.profile) for r in conn.execute(query)
        ]


def get_style_profile(store: Store, owner: str, profile_id: str) -> StoredProfile | None:
    """The profile if it exists and is ``owner``'s (None otherwise: the caller answers 404 either way)."""
    query = sa.select(style_profiles).where(style_profiles.c.id == profile_id, style_profiles.c.owner == owner)
    with store.read() as conn:
        r = conn.execute(query).first()
    return None if r is None else StoredProfile(id=r.id, name=r.name, created_at=r.created_at, profile=r.profile)


def delete_style_profile(store: Store, owner: str, profile_id: str) -> bool:
    table = style_profiles
    with store.write() as conn:
        done = conn.execute(table.delete().where(table.c.id == profile_id, table.c.owner == owner))
    return bool(done.rowcount)


def own_run(store: Store, owner: str, run_id: str) -> None:
    with store.write() as conn:
        conn.execute(run_owners.insert().values(run_id=run_id, owner=owner, created_at=time.time()))


def owned_runs(store: Store, owner: str) -> list[str]:
    """``owner``'s evaluation runs, newest first."""
    query = sa.select(run_owners.c.run_id).where(run_owners.c.owner == owner).order_by(run_owners.c.created_at.desc())
    with store.read() as conn:
        return list(conn.scalars(query))


def owns_run(store: Store, owner: str, run_id: str) -> bool:
    query = sa.select(run_owners.c.run_id).where(run_owners.c.run_id == run_id, run_owners.c.owner == owner)
    with store.read() as conn:
        return conn.execute(query).first() is not None
