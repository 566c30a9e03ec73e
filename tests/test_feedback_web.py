"""The web editor answers the suggestions it shows: Tab on ghost text posts "accept", Esc "reject"; an underline's
"Ignore" posts "reject" and its fix "accept"; correction chips post their answers. Real headless Chromium
(Debian ``chromium`` via Playwright) against a real uvicorn with a fake model; the answers are read back from the
store the server writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from draftsmith.config import Settings
from draftsmith.models.fake import FakeModel, echo_responder
from draftsmith.server import ServerConfig, create_app
from draftsmith.store import feedback as fb
from draftsmith.store.db import Store
from security.probes.live import serve as live_server
from security.probes.rendering import CHROMIUM, CHROMIUM_ARGS, EDITOR, expect_editor_text, fill_editor

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need Playwright: pip install 'draftsmith[browser]'"
)
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"browser tests need Chromium at {CHROMIUM}: apt-get install chromium (CI installs it)", allow_module_level=True
    )
expect = sync_api.expect
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)
GHOST = " jumps over the lazy dog."


def answer(messages, params) -> str:
    """Completions continue the fox; corrections fix "has"; everything else is echoed."""
    text = echo_responder(messages, params)
    if "I has" in text:
        return text.replace("I has", "I have")
    return GHOST if text.endswith("fox") or not text else text


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, Store]]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('feedback-web') / 'web.db'}")
    app = create_app(Settings(model="fake", prefix_cache=False), FakeModel(answer), config=ServerConfig(), store=store)
    with live_server(app) as url:
        yield url, store
    store.close()


@pytest.fixture(scope="module")
def page(served):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page
        browser.close()
        assert not errors, errors


def posted(page, action) -> dict:
    """Run ``action`` and return the body of the POST /v1/feedback it caused."""
    with page.expect_request(lambda r: r.url.endswith("/v1/feedback") and r.method == "POST") as caught:
        action()
    request = caught.value
    response = request.response()
    assert response is not None and response.status == 201, response and response.text()
    return request.post_data_json


def decision(store: Store, suggestion_id: str) -> fb.Suggestion:
    return fb.get_suggestion(store, suggestion_id, owner=None)[0]


def test_ghost_text_tab_accepts_and_esc_rejects(served, page):
    base, store = served
    page.goto(base + "/")
    page.click(EDITOR)
    page.keyboard.type("The quick brown fox", delay=20)
    expect(page.locator("#editor .ghost")).to_have_text(GHOST)
    body = posted(page, lambda: page.keyboard.press("Tab"))
    assert body["event"] == "accept"
    accepted = decision(store, body["suggestion_id"])
    assert accepted.operation == "suggest-next" and accepted.decision == "accept" and accepted.suggestion == GHOST

    fill_editor(page, "")
    page.keyboard.type("A quick red fox", delay=20)
    expect(page.locator("#editor .ghost")).to_have_count(1)
    body = posted(page, lambda: page.keyboard.press("Escape"))
    assert body["event"] == "reject" and decision(store, body["suggestion_id"]).decision == "reject"


def hover(page, mark) -> None:
    box = mark.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator("#problem-tip")).to_be_visible()


def test_underline_ignore_rejects_and_a_fix_accepts(served, page):
    base, store = served
    page.goto(base + "/")
    fill_editor(page, "This is a sentense about the weather.")
    mark = page.locator("#editor .problem")
    expect(mark).to_have_count(1, timeout=60_000)  # the checker may still be loading
    hover(page, mark)
    tip = page.locator("#problem-tip")
    body = posted(page, lambda: tip.get_by_role("button", name="Ignore").click())
    assert body["event"] == "reject"
    ignored = decision(store, body["suggestion_id"])
    assert ignored.rule_id == "EN_SPELLING" and ignored.original == "sentense" and ignored.decision == "reject"
    expect(mark).to_have_count(0)

    fill_editor(page, "Teh weather is fine.")
    expect(mark).to_have_count(1, timeout=30_000)
    hover(page, mark)
    body = posted(page, lambda: tip.get_by_role("button", name="The", exact=True).click())
    assert body["event"] == "accept" and decision(store, body["suggestion_id"]).suggestion == "The"
    expect_editor_text(page, "The weather is fine.")


def test_correction_chips_post_their_answers(served, page):
    base, store = served
    page.goto(base + "/")
    fill_editor(page, "I has a dog.")
    page.click("[data-op=correct]")
    chip = page.locator("#edits .chip")
    expect(chip).to_have_count(1)
    body = posted(page, lambda: chip.get_by_role("button", name="Reject").click())
    assert body["event"] == "reject"
    rejected = decision(store, body["suggestion_id"])
    assert rejected.operation == "correct" and rejected.original == "has" and rejected.suggestion == "have"
    expect_editor_text(page, "I has a dog.")
