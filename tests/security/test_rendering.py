"""Group 8: the web editor in headless Chromium renders hostile documents and model output inert, with the
Content-Security-Policy enforced and bypassed. Skips where Chromium or Playwright is missing."""

from __future__ import annotations

import pytest

from .probes.rendering import chromium_available, rendering_is_inert

pytestmark = pytest.mark.browser
missing = chromium_available()
if missing:
    pytest.skip(f"rendering probes need a browser: {missing}", allow_module_level=True)


def test_hostile_documents_and_output_render_inert(target, sentinel):
    findings = rendering_is_inert(target, sentinel)
    assert not findings.failures, findings.summary()


def test_an_innerhtml_renderer_fails_the_probe(target, sentinel):
    findings = rendering_is_inert(target, sentinel, unsafe_renderer=True)
    assert any("hostile script ran" in f for f in findings.failures), findings.summary()
    assert any("sentinel" in f or "fetched" in f for f in findings.failures), findings.summary()
