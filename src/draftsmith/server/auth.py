"""Who is asking: API keys on every ``/api`` and ``/v1`` route, roles, per-key request rates and per-user
daily token budgets. Everything is a FastAPI dependency (``current_user``, ``require_admin``), so routes
say what they need and tests can override it.

When keys are needed: ``ServerConfig.auth_required`` true → always, false → never; unset (the default) →
as soon as the store has any user. So a fresh single-user install on loopback works without keys, and
the first ``draftsmith users add`` closes the door. ``draftsmith serve`` on a non-loopback host forces it
on and refuses to start while no usable key exists. Public without a key: ``/healthz``, ``/readyz`` and the
API docs; ``/metrics`` needs an admin key unless ``public_metrics`` is set.

A key is sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (the same limits either way; two
different keys in one request are refused). Answers: 401 with ``WWW-Authenticate`` for a missing, unknown,
revoked or expired key; 403 for a disabled user or a missing role; 429 with Retry-After when the key's
requests per minute or the user's tokens for the day are spent. Keys never appear in logs or errors.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.concurrency import run_in_threadpool

from draftsmith.server.errors import ApiError
from draftsmith.server.state import ServerConfig, get_store
from draftsmith.store import accounts
from draftsmith.store.db import Store

log = logging.getLogger("draftsmith.server")
REALM = 'Bearer realm="draftsmith"'


@dataclass(frozen=True)
class Principal:
    """The caller of one request. ``user_id`` is None when the server runs without keys (anonymous)."""

    user_id: str | None
    name: str
    role: str
    key_id: str | None = None
    tokens_per_day: int = 0  # 0: no budget
    max_tokens: int | None = None  # the key's or user's cap on one request's max_tokens (None: the server's)

    @property
    def anonymous(self) -> bool:
        return self.user_id is None


ANONYMOUS = Principal(user_id=None, name="local", role="admin")


def _unauthorized(message: str, invalid: bool = False) -> ApiError:
    challenge = f'{REALM}, error="invalid_token"' if invalid else REALM
    return ApiError(401, "unauthorized", message, {"WWW-Authenticate": challenge})


def auth_active(request: Request, store: Store) -> bool:
    config: ServerConfig = request.app.state.server_config
    if config.auth_required is not None:
        return config.auth_required
    state = request.app.state
    if getattr(state, "users_exist", False):  # users are never deleted, so once true stays true
        return True
    if accounts.has_users(store):
        state.users_exist = True
        return True
    return False


def presented_key(request: Request) -> str | None:
    """The key in ``Authorization: Bearer`` or ``X-API-Key``; refuses malformed or conflicting headers."""
    authorization = request.headers.getlist("authorization")
    api_key = request.headers.getlist("x-api-key")
    if len(authorization) > 1 or len(api_key) > 1:
        raise _unauthorized("send one API key, in one header", invalid=True)
    bearer = None
    if authorization:
        scheme, _, value = authorization[0].strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("the Authorization header must be 'Bearer <API key>'", invalid=True)
        bearer = value.strip()
    header = api_key[0].strip() if api_key else None
    if bearer and header and bearer != header:
        raise _unauthorized("two different API keys were sent (Authorization and X-API-Key); send one", invalid=True)
    return bearer or header or None


# Declared for the OpenAPI document (the "Authorize" button in /docs, security probes); the headers
# themselves are read, more strictly, by ``presented_key``.
_BEARER = HTTPBearer(auto_error=False, description="An API key (`ds_…`) as `Authorization: Bearer <key>`")
_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (`ds_…`)")


async def current_user(
    request: Request,
    store: Store = Depends(get_store),
    _bearer: Any = Security(_BEARER),
    _header: Any = Security(_HEADER),
) -> Principal:
    """Authenticate the request and take one request from its key's rate limit."""
    if request.app.state.server_config.auth_required is False:
        return ANONYMOUS
    return await run_in_threadpool(authenticate_request, request, store)


def authenticate_request(request: Request, store: Store) -> Principal:
    """``current_user`` without FastAPI: blocking (it reads and writes the store)."""
    if not auth_active(request, store):
        return ANONYMOUS
    key = presented_key(request)
    if key is None:
        raise _unauthorized("an API key is required: send 'Authorization: Bearer <key>' (or 'X-API-Key: <key>')")
    owner = accounts.authenticate(store, key)
    if owner is None:
        raise _unauthorized("the API key is not valid (unknown, revoked or expired)", invalid=True)
    user = owner.user
    if user.disabled:
        raise ApiError(403, "user_disabled", f"user {user.name} is disabled; ask an administrator")
    request.state.user_id = user.id
    config: ServerConfig = request.app.state.server_config
    per_minute = user.requests_per_minute if user.requests_per_minute is not None else config.requests_per_minute
    wait = accounts.take_request(store, owner.key_id, per_minute)
    if wait > 0:
        seconds = max(math.ceil(wait), 1)
        raise ApiError(
            429,
            "rate_limited",
            f"this key may make {per_minute} requests per minute; retry in {seconds} s",
            {"Retry-After": str(seconds)},
        )
    budget = user.tokens_per_day if user.tokens_per_day is not None else config.tokens_per_day
    return Principal(
        user_id=user.id,
        name=user.name,
        role=user.role,
        key_id=owner.key_id,
        tokens_per_day=budget,
        max_tokens=owner.max_tokens,
    )


def token_cap(principal: Principal, config: ServerConfig) -> int:
    """The largest max_tokens this caller may ask for: the server's cap, or the key's (user's) if lower."""
    return min(config.max_tokens_cap, principal.max_tokens or config.max_tokens_cap)


def require_admin(principal: Principal = Depends(current_user)) -> Principal:
    if principal.role != "admin":
        raise ApiError(403, "forbidden", "this needs an admin's API key")
    return principal


def metrics_access(request: Request, store: Store = Depends(get_store)) -> None:
    """``/metrics``: open with ``public_metrics`` (or while the server runs without keys), else admins only."""
    if request.app.state.server_config.public_metrics:
        return
    require_admin(authenticate_request(request, store))


# -- token budgets ---------------------------------------------------------------------------------------------


async def check_budget(principal: Principal, store: Store) -> None:
    """429 once the user's tokens for the (UTC) day are spent. A request that starts under the budget
    runs to the end, so a day's use can pass the budget by at most one request's tokens."""
    limit = principal.tokens_per_day
    if principal.user_id is None or limit <= 0:
        return
    used = await run_in_threadpool(accounts.tokens_used, store, principal.user_id)
    if used >= limit:
        wait = accounts.seconds_to_next_day()
        hours, minutes = divmod((wait + 59) // 60, 60)
        raise ApiError(
            429,
            "budget_exceeded",
            f"the daily budget of {limit:,} tokens is spent ({used:,} used today, UTC); "
            f"it renews in {hours} h {minutes} min",
            {"Retry-After": str(wait)},
        )


def record_tokens(request: Request, principal: Principal, store: Store, tokens: int) -> None:
    """Count an operation's tokens (prompt + completion) against the user's day, and for the access log."""
    request.state.tokens = getattr(request.state, "tokens", 0) + tokens
    if principal.user_id is None or tokens <= 0:
        return
    try:
        accounts.add_tokens(store, principal.user_id, tokens)
    except Exception:  # the answer is ready; a failed count must not lose it
        log.exception("could not record %d tokens for user %s", tokens, principal.user_id)
