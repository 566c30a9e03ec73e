"""draftsmith users | keys: accounts and API keys of a shared server (``draftsmith serve``).

The first user turns authentication on for a server on loopback (see ``draftsmith.server.auth``); a key is
printed once, when it is created, and only its hash is stored.
"""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table

from draftsmith.cli.common import err, out, print_json

users_app = typer.Typer(
    help="Users of a shared server: add, list, disable, enable, limits. The first user turns keys on.",
    no_args_is_help=True,
)
keys_app = typer.Typer(
    help="API keys: create (shown once), list, revoke. Send one as 'Authorization: Bearer <key>'.",
    no_args_is_help=True,
)

RpmOpt = typer.Option(None, "--rpm", min=0, help="Requests per minute per key (0: unlimited; default: the server's).")
TokensOpt = typer.Option(
    None, "--tokens-per-day", min=0, help="Tokens per UTC day for the user (0: unlimited; default: the server's)."
)
MaxTokensOpt = typer.Option(
    None,
    "--max-tokens",
    min=0,
    help="Most tokens one request may ask for (0: only the server's cap).",
)


def _store():
    from draftsmith.store.db import open_store

    return open_store()


def _when(ts: float | None) -> str:
    return "" if ts is None else dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _limit(value: int | None) -> str:
    return "server default" if value is None else "unlimited" if value == 0 else f"{value:,}"


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="User name (letters, digits, . _ @ -)."),
    admin: bool = typer.Option(False, "--admin", help="Give the admin role (can read /metrics)."),
    rpm: int = RpmOpt,
    tokens_per_day: int = TokensOpt,
    max_tokens: int = MaxTokensOpt,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Add a user. Then create a key for them with: draftsmith keys create NAME."""
    from draftsmith.store import accounts

    user = accounts.add_user(
        _store(),
        name,
        role="admin" if admin else "user",
        requests_per_minute=rpm,
        tokens_per_day=tokens_per_day,
        max_tokens=max_tokens,
    )
    if json_out:
        print_json(user)
        return
    out.print(f"added {user.role} {user.name}; create a key with: draftsmith keys create {user.name}")


@users_app.command("list")
def users_list(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List users, their roles, limits and state."""
    from draftsmith.store import accounts

    rows = accounts.list_users(_store())
    if json_out:
        print_json([u.model_dump() for u in rows])
        return
    if not rows:
        out.print("no users (a server on loopback runs without keys); add one with: draftsmith users add NAME")
        return
    table = Table("name", "role", "requests/min", "tokens/day", "max tokens", "state", "created", box=None)
    for u in rows:
        state = "disabled" if u.disabled else "active"
        cap = f"{u.max_tokens:,}" if u.max_tokens else "server cap"
        table.add_row(
            u.name, u.role, _limit(u.requests_per_minute), _limit(u.tokens_per_day), cap, state, _when(u.created_at)
        )
    out.print(table)


@users_app.command("disable")
def users_disable(name: str = typer.Argument(..., help="User name.")) -> None:
    """Disable a user: their keys stop working at once (403); their documents stay."""
    from draftsmith.store import accounts

    accounts.set_disabled(_store(), name, True)
    out.print(f"disabled {name}")


@users_app.command("enable")
def users_enable(name: str = typer.Argument(..., help="User name.")) -> None:
    """Enable a disabled user again."""
    from draftsmith.store import accounts

    accounts.set_disabled(_store(), name, False)
    out.print(f"enabled {name}")


@users_app.command("limits")
def users_limits(
    name: str = typer.Argument(..., help="User name."),
    rpm: int = RpmOpt,
    tokens_per_day: int = TokensOpt,
    max_tokens: int = MaxTokensOpt,
    default: bool = typer.Option(False, "--default", help="Go back to the server's defaults."),
) -> None:
    """Set a user's request rate, daily token budget and per-request max_tokens cap."""
    from draftsmith.store import accounts

    user = accounts.set_limits(
        _store(), name, requests_per_minute=rpm, tokens_per_day=tokens_per_day, max_tokens=max_tokens, clear=default
    )
    cap = f"{user.max_tokens:,}" if user.max_tokens else "the server's cap"
    out.print(
        f"{user.name}: {_limit(user.requests_per_minute)} requests/min per key, "
        f"{_limit(user.tokens_per_day)} tokens/day, max_tokens {cap}"
    )


@keys_app.command("create")
def keys_create(
    user: str = typer.Argument(..., help="The user the key belongs to."),
    label: str = typer.Option(None, "--label", help="What the key is for (shown in lists)."),
    expires_days: float = typer.Option(None, "--expires-days", help="Stop working after this many days."),
    max_tokens: int = MaxTokensOpt,
    json_out: bool = typer.Option(False, "--json", help="Print JSON (with the key)."),
) -> None:
    """Create an API key. It is printed once, now: store it; only its hash is kept."""
    from draftsmith.store import accounts

    key, info = accounts.create_key(_store(), user, label=label, expires_in_days=expires_days, max_tokens=max_tokens)
    if json_out:
        print_json({"key": key, **info.model_dump()})
        return
    typer.echo(key)
    err.print(f"key {info.id} for {info.user}: shown only this once; send it as 'Authorization: Bearer <key>'")


@keys_app.command("list")
def keys_list(
    user: str = typer.Argument(None, help="Only this user's keys."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List keys (ids only: the keys themselves are not kept)."""
    from draftsmith.store import accounts

    rows = accounts.list_keys(_store(), user)
    if json_out:
        print_json([k.model_dump() for k in rows])
        return
    if not rows:
        out.print("no keys; create one with: draftsmith keys create USER")
        return
    table = Table("key", "user", "label", "max tokens", "created", "last used", "state", box=None)
    for k in rows:
        state = (
            "revoked"
            if k.revoked_at
            else "expired"
            if k.expires_at and k.expires_at < dt.datetime.now().timestamp()
            else "active"
        )
        cap = f"{k.max_tokens:,}" if k.max_tokens else ""
        table.add_row(k.shown, k.user, k.label or "", cap, _when(k.created_at), _when(k.last_used_at), state)
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key: str = typer.Argument(..., help="The key id (from keys list), or the key itself.")) -> None:
    """Revoke a key: it stops working at once."""
    from draftsmith.store import accounts

    info = accounts.revoke_key(_store(), key)
    out.print(f"revoked key {info.id} of {info.user}")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
