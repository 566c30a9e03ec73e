"""What every probe shares: ``Findings``, the ``Target`` under attack, the route list taken from the app itself,
the accounts a probe run needs (``provision``), and a loopback ``Sentinel`` that counts who connects to it."""

from __future__ import annotations

import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

# A whole draftsmith key (prefix, 12-hex id, secret); a key id alone is public and shown in lists.
KEY_PATTERN = re.compile(r"ds_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}")
# Reachable without a key (the editor asks for one itself); /metrics needs an admin unless public_metrics.
PUBLIC_PATHS = frozenset(
    {"/", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/healthz", "/readyz", "/static/{path}"}
)
ADMIN_PATHS = frozenset({"/metrics"})
_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


@dataclass
class Findings:
    """The checks one probe ran and the ones that failed (each failure says what and where)."""

    group: str
    total: int = 0
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> bool:
        self.total += 1
        if not ok:
            self.failures.append(what)
        return ok

    def extend(self, other: Findings) -> None:
        self.total += other.total
        self.failures.extend(f"{other.group}: {f}" for f in other.failures)

    def summary(self) -> str:
        shown = "\n  ".join(self.failures[:40])
        more = f"\n  … and {len(self.failures) - 40} more" if len(self.failures) > 40 else ""
        return f"{self.group}: {len(self.failures)} of {self.total} checks failed\n  {shown}{more}"


@dataclass(frozen=True, order=True)
class RouteInfo:
    path: str
    method: str

    @property
    def params(self) -> list[str]:
        return _PARAM.findall(self.path)

    @property
    def public(self) -> bool:
        return self.path in PUBLIC_PATHS

    @property
    def admin(self) -> bool:
        return self.path in ADMIN_PATHS

    @property
    def has_body(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH")

    def url(self, **values: Any) -> str:
        return _PARAM.sub(lambda m: str(values.get(m.group(1), "1")), self.path)


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, looking inside mounts and included routers."""
    for route in routes:
        path = getattr(route, "path", None)
        methods = getattr(route, "methods", None)
        if path is not None and methods:
            for method in methods:
                yield method.upper(), prefix + path
        elif path is not None and hasattr(route, "app") and type(route).__name__ == "Mount":
            yield "GET", prefix + path + "/{path}"
        elif hasattr(route, "original_router"):  # FastAPI's lazily included routers
            context = getattr(route, "include_context", None)
            yield from _walk(route.original_router.routes, prefix + getattr(context, "prefix", ""))
        elif hasattr(route, "routes"):
            yield from _walk(list(route.routes), prefix + (path or ""))


def app_routes(app: Any) -> list[RouteInfo]:
    """Every route the app answers: the OpenAPI document plus the app's own route table (routes left out of
    the schema, mounted apps)."""
    found: set[RouteInfo] = set()
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            if method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                found.add(RouteInfo(path, method.upper()))
    for method, path in _walk(list(app.routes)):
        if method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            found.add(RouteInfo(path, method))
    return sorted(found)


@dataclass
class Keys:
    """API keys of the probe run's accounts (all on the target's store)."""

    alice: str
    bob: str
    admin: str
    revoked: str
    expired: str
    limited: str  # a user with a small request rate, for the header-parity check
    disabled: str
    alice_id: str
    bob_id: str
    limited_rpm: int

    def raw(self) -> list[str]:
        return [self.alice, self.bob, self.admin, self.revoked, self.expired, self.limited, self.disabled]

    def secret_parts(self) -> list[str]:
        return [k.split("_", 2)[2] for k in self.raw()]


def provision(store: Any, limited_rpm: int = 3) -> Keys:
    """Users alice and bob (unlimited rate), an admin, a revoked and an expired key of alice's, a rate-limited
    user and a disabled one. Names get a random suffix, so one store can hold several runs."""

    from draftsmith.store import accounts

    tag = secrets.token_hex(3)

    def user(name: str, **kwargs: Any) -> str:
        accounts.add_user(store, f"{name}-{tag}", **kwargs)
        return accounts.create_key(store, f"{name}-{tag}")[0]

    alice = user("alice", requests_per_minute=0)
    bob = user("bob", requests_per_minute=0)
    admin = user("root", role="admin", requests_per_minute=0)
    limited = user("slow", requests_per_minute=limited_rpm)
    disabled = user("gone", requests_per_minute=0)
    accounts.set_disabled(store, f"gone-{tag}", True)
    revoked, _ = accounts.create_key(store, f"alice-{tag}", label="revoked")
    accounts.revoke_key(store, revoked)
    expired, info = accounts.create_key(store, f"alice-{tag}", label="expired", expires_in_days=1)
    with store.write() as conn:
        table = accounts.api_keys
        conn.execute(table.update().where(table.c.id == info.id).values(expires_at=time.time() - 1))
    return Keys(
        alice=alice,
        bob=bob,
        admin=admin,
        revoked=revoked,
        expired=expired,
        limited=limited,
        disabled=disabled,
        alice_id=accounts.get_user(store, f"alice-{tag}").id,
        bob_id=accounts.get_user(store, f"bob-{tag}").id,
        limited_rpm=limited_rpm,
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def error_type(response: httpx.Response) -> str | None:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    return error.get("type") if isinstance(error, dict) else None


@dataclass
class Target:
    """A running server to attack: its address, the store it shares with the prober, the keys, the routes
    (from the app), the limits it runs with and its log so far."""

    base_url: str
    store: Any
    keys: Keys
    routes: list[RouteInfo]
    config: Any  # draftsmith.server.ServerConfig
    read_log: Callable[[], str] = lambda: ""
    served_model: str = "fake"
    upstream: Any = None  # probes.upstream.Upstream, for a server whose model is that upstream
    request_timeout_s: float = 120.0  # the server's timeout on upstream calls
    openapi: dict[str, Any] = field(default_factory=dict)

    def client(self, key: str | None = None, *, timeout: float = 15.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=bearer(key) if key else {}, timeout=timeout)

    def protected(self) -> list[RouteInfo]:
        return [r for r in self.routes if not r.public and not r.admin]

    def queue_depth(self) -> float:
        """Requests running or waiting for the model, from /metrics (as the admin)."""
        with self.client(self.keys.admin) as client:
            text = client.get("/metrics").text
        match = re.search(r"^draftsmith_queue_depth (\S+)$", text, re.M)
        return float(match.group(1)) if match else -1.0

    def wait_for_queue(self, at_least: int = 0, empty: bool = False, timeout_s: float = 20.0) -> float:
        deadline = time.monotonic() + timeout_s
        while True:
            depth = self.queue_depth()
            if (depth == 0 if empty else depth >= at_least) or time.monotonic() > deadline:
                return depth
            time.sleep(0.1)


class Sentinel:
    """A TCP listener on loopback that counts connections: where a hostile URL points."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
