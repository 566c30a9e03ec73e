"""URLs a user supplies, checked before the server fetches them (SSRF).

Nothing over HTTP takes a URL today; this is the gate future URL ingest and webhooks must go through.
``check_url`` refuses what a server should never be pointed at by a user: loopback (127.0.0.0/8, ::1),
link-local (169.254.0.0/16, where cloud metadata lives at 169.254.169.254; fe80::/10), private ranges
(10/8, 172.16/12, 192.168/16, fc00::/7), carrier-grade NAT, multicast, reserved and unspecified addresses,
IPv4 hidden in IPv6 (``::ffff:127.0.0.1``, 6to4, NAT64), legacy IPv4 spellings (``2130706433``,
``0177.0.0.1``, ``127.1``), credentials in the URL, and schemes other than http(s). A host name is
resolved and every address it resolves to must be public. An admin can allow-list hosts, ``host:port``
pairs or networks (CIDR) with ``allow``.

``guarded_client`` is an httpx client that checks every request it sends, so each redirect hop is checked
too. The check resolves the name before the connection does, so a DNS server that answers differently the
second time (rebinding) is not covered; a fetcher that must withstand that should connect to the checked
address itself.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from draftsmith.errors import InputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeURL(InputError):
    """A URL the server refuses to fetch."""


def resolve_host(host: str) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]).split("%")[0] for info in infos})


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """True for an address a user may point the server at: globally routable unicast."""
    inner = _embedded_v4(ip)
    if inner is not None:
        return is_public(inner)
    return ip.is_global and not ip.is_multicast


def _literal(host: str) -> IPAddress | None:
    """``host`` as an IP address, including the legacy IPv4 forms C libraries still accept."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))  # 2130706433, 0x7f.1, 0177.0.0.1, 127.1
    except (OSError, UnicodeError, ValueError):
        return None


class _AllowList:
    def __init__(self, entries: Iterable[str]) -> None:
        self.hosts: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self.hosts.add(entry)

    def host(self, host: str, port: int) -> bool:
        shown = f"[{host}]" if ":" in host else host
        return host in self.hosts or f"{shown}:{port}" in self.hosts

    def address(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)


def check_url(
    url: str,
    *,
    allow: Iterable[str] = (),
    schemes: Iterable[str] = ("http", "https"),
    resolve: Resolver | None = None,
) -> str:
    """``url`` if the server may fetch it, else ``UnsafeURL`` saying why.

    ``allow``: host names, ``host:port`` pairs, IP addresses or networks (CIDR) an admin trusts; they pass
    even when private. ``resolve`` maps a host name to its addresses (default: the system resolver).
    """
    text = str(url).strip()
    if any(ord(c) < 33 or c == "\\" for c in text):
        raise UnsafeURL("the URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"the URL is malformed ({exc})") from None
    scheme = parts.scheme.lower()
    allowed_schemes = tuple(s.lower() for s in schemes)
    if scheme not in allowed_schemes:
        raise UnsafeURL(f"only {', '.join(allowed_schemes)} URLs are fetched, not {scheme or 'this'}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeURL("URLs with credentials (user:password@) are refused; send credentials in a header")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeURL("the URL has no host")
    port = port or (443 if scheme == "https" else 80)
    allowed = _AllowList(allow)
    if allowed.host(host, port):
        return text
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            host.encode("idna")
            found = (resolve or resolve_host)(host)
        except (OSError, UnicodeError) as exc:
            raise UnsafeURL(f"cannot resolve {host}: {exc}") from None
        addresses = []
        for value in found:
            try:
                addresses.append(ipaddress.ip_address(value))
            except ValueError:
                raise UnsafeURL(f"{host} resolved to something that is not an address: {value!r}") from None
        if not addresses:
            raise UnsafeURL(f"{host} does not resolve to any address")
    for ip in addresses:
        if not is_public(ip) and not allowed.address(ip):
            via = "" if literal is not None else f" ({host} resolves to it)"
            raise UnsafeURL(
                f"refusing to fetch {ip}{via}: loopback, link-local, private and reserved addresses are not "
                "fetched on a user's behalf; an admin can allow-list a trusted host"
            )
    return text


def guarded_client(allow: Iterable[str] = (), resolve: Resolver | None = None, **kwargs: Any) -> Any:
    """An ``httpx.Client`` that runs ``check_url`` on every request it sends, each redirect hop included."""
    import httpx

    allow = tuple(allow)

    def check(request: httpx.Request) -> None:
        check_url(str(request.url), allow=allow, resolve=resolve)

    hooks = dict(kwargs.pop("event_hooks", None) or {})
    hooks["request"] = [check, *hooks.get("request", [])]
    return httpx.Client(event_hooks=hooks, **kwargs)
