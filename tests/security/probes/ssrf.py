"""Group 7, SSRF. Over HTTP no field reaches the server's HTTP client: the OpenAPI document declares no
URL-valued input (no per-request base URL, no webhook), and URL-shaped values in the fields that exist (the
chat ``model``, templates, styles, texts) make the server contact nobody. For the URL ingest and webhooks to
come, ``draftsmith.safety.urls.check_url`` refuses internal addresses, also behind DNS names and redirects."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .core import Findings, Sentinel, Target

URLISH = {"url", "uri", "urls", "uris", "endpoint", "webhook", "callback", "host", "hostname", "proxy", "href", "link"}
URLISH_NAMES = {"baseurl", "apibase", "base_url", "api_base", "server", "address", "redirect", "fetch", "source_url"}

REFUSED = [
    "http://127.0.0.1/",
    "http://127.8.9.10:8080/x",
    "http://localhost/",
    "http://[::1]/",
    "http://0.0.0.0/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://[fd00::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[2002:7f00:1::]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://user:pw@93.184.216.34/",
    "http://93.184.216.34@127.0.0.1/",
    "file:///etc/passwd",
    "gopher://93.184.216.34/",
    "ftp://93.184.216.34/",
    "http:///nohost",
    "http://93.184.216.34:99999/",
    "http://internal.example/",  # resolves to 10.1.2.3 (fake resolver)
    "http://mixed.example/",  # resolves to a public and a private address
    "http://unresolvable.example/",
]
ALLOWED = ["http://93.184.216.34/", "https://public.example/path?q=1", "http://[2606:4700::1111]/"]
FAKE_DNS = {
    "internal.example": ["10.1.2.3"],
    "mixed.example": ["93.184.216.34", "192.168.0.7"],
    "public.example": ["93.184.216.35"],
    "localhost": ["127.0.0.1", "::1"],
}


def fake_resolve(host: str) -> list[str]:
    if host not in FAKE_DNS:
        raise OSError(f"cannot resolve {host}")
    return FAKE_DNS[host]


def _urlish(name: str) -> bool:
    lowered = name.lower().replace("-", "_")
    return lowered in URLISH_NAMES or any(part in URLISH for part in lowered.split("_"))


def _fields(openapi: dict[str, Any], schema: dict[str, Any], seen: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[1]
        if name in seen:
            return
        seen.add(name)
        schema = openapi["components"]["schemas"][name]
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from _fields(openapi, sub, seen)
    if "items" in schema:
        yield from _fields(openapi, schema["items"], seen)
    for name, prop in schema.get("properties", {}).items():
        yield name, prop
        yield from _fields(openapi, prop, seen)


def url_inputs(openapi: dict[str, Any]) -> list[str]:
    """Every request input (body field, query, path or header parameter) that takes a URL."""
    found = []
    for path, operations in openapi.get("paths", {}).items():
        for method, op in operations.items():
            if not isinstance(op, dict):
                continue
            for param in op.get("parameters", []):
                if _urlish(param.get("name", "")) or param.get("schema", {}).get("format") in ("uri", "url"):
                    found.append(f"{method.upper()} {path} parameter {param['name']}")
            for content in op.get("requestBody", {}).get("content", {}).values():
                for name, prop in _fields(openapi, content.get("schema", {}), set()):
                    if _urlish(name) or prop.get("format") in ("uri", "url"):
                        found.append(f"{method.upper()} {path} body field {name}")
    return found


def no_url_reaches_the_server(t: Target, sentinel: Sentinel) -> Findings:
    f = Findings("ssrf")
    for where in url_inputs(t.openapi):
        f.check(False, f"{where} takes a URL: route it through draftsmith.safety.urls.check_url and add a probe")
    f.check(bool(t.openapi.get("paths")), "the OpenAPI document has no paths; nothing was checked")
    hostile = [
        f"openai:{sentinel.url}/v1",
        f"openai:{sentinel.url}/v1#m",
        f"{sentinel.url}/latest/meta-data/",
        "openai:http://169.254.169.254/v1",
    ]
    before = sentinel.connections
    with t.client(t.keys.alice) as client:
        for value in hostile:
            r = client.post(
                "/v1/chat/completions",
                json={"model": value, "messages": [{"role": "user", "content": value}], "base_url": value},
            )
            f.check(r.status_code == 200, f"chat with model={value!r}: {r.status_code}")
            model = r.json().get("model") if r.status_code == 200 else None
            f.check(model == t.served_model, f"chat with model={value!r} answered as {model!r}")
            for path, body in (
                ("/api/write", {"instruction": value}),
                ("/api/write", {"template": value[:64]}),
                ("/api/rewrite", {"text": f"![x]({value})", "style": value[:64]}),
                ("/api/documents", {"title": value[:500], "text": f"<img src='{value}'>"}),
            ):
                r = client.post(path, json=body)
                f.check(r.status_code < 500, f"POST {path} with {value!r}: {r.status_code}")
    f.check(sentinel.connections == before, f"the server connected to the sentinel {sentinel.connections - before}x")
    return f


def check_url_refuses_internal_addresses(check: Callable[..., str] | None = None) -> Findings:
    """``check`` (default ``draftsmith.safety.urls.check_url``) against internal addresses, allow-lists and
    redirects."""
    from draftsmith.safety import urls

    check = check or urls.check_url
    f = Findings("ssrf-check-url")
    for url in REFUSED:
        try:
            check(url, resolve=fake_resolve)
            f.check(False, f"{url} was accepted")
        except urls.UnsafeURL:
            f.check(True, url)
        except Exception as exc:
            f.check(False, f"{url}: {type(exc).__name__}: {exc}")
    for url in ALLOWED:
        try:
            f.check(check(url, resolve=fake_resolve) == url, f"{url}: changed by the check")
        except Exception as exc:
            f.check(False, f"{url} (public) was refused: {exc}")
    for url, allow in (
        ("http://127.0.0.1:8000/v1", ["127.0.0.1:8000"]),
        ("http://10.1.2.3/", ["10.0.0.0/8"]),
        ("http://internal.example/", ["internal.example"]),
    ):
        try:
            f.check(check(url, allow=allow, resolve=fake_resolve) == url, f"{url} allow-listed: changed")
        except Exception as exc:
            f.check(False, f"{url} refused although allow-listed by {allow}: {exc}")
    try:
        check("http://127.0.0.1:8001/", allow=["127.0.0.1:8000"], resolve=fake_resolve)
        f.check(False, "an allow-listed host:port let another port of the host through")
    except urls.UnsafeURL:
        f.check(True, "allow-list is per port")
    f.extend(_redirects(urls))
    return f


class _Redirector(BaseHTTPRequestHandler):
    target = ""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _redirects(urls: Any) -> Findings:
    """A trusted (allow-listed) host that redirects inward: the hop is refused and never connected to."""
    f = Findings("ssrf-redirects")
    sentinel = Sentinel()
    for target in (f"{sentinel.url}/", "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/"):

        class Handler(_Redirector):
            pass

        Handler.target = target
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        start = f"http://127.0.0.1:{server.server_address[1]}/start"
        try:
            with urls.guarded_client(allow=[f"127.0.0.1:{server.server_address[1]}"], follow_redirects=True) as c:
                c.get(start, timeout=3)
            f.check(False, f"a redirect to {target} was followed")
        except urls.UnsafeURL:
            f.check(True, target)
        except Exception as exc:
            f.check(False, f"a redirect to {target}: {type(exc).__name__}: {exc}")
        finally:
            server.shutdown()
            server.server_close()
    f.check(sentinel.connections == 0, f"the redirect reached the sentinel {sentinel.connections}x")
    sentinel.close()
    return f
