"""Group 3: API keys, the upstream key and passwords never appear in answers, errors, /metrics, logs or the
database file."""

from __future__ import annotations

import pytest

from draftsmith.safety.secrets import scrub_secrets
from draftsmith.server import errors as server_errors

from .probes.leaks import secrets_in_settings, secrets_stay_secret


def test_keys_and_the_upstream_key_never_show(target, relay):
    findings = secrets_stay_secret(target, relay)
    assert not findings.failures, findings.summary()
    assert findings.total > 200


def test_secrets_in_the_settings_never_show():
    findings = secrets_in_settings()
    assert not findings.failures, findings.summary()


def test_scrub_secrets_masks_keys_tokens_and_url_passwords():
    key = "ds_0123456789ab_" + "A" * 43
    text = f"key {key}; Authorization: Bearer abcdefghijkl; sk-proj-{'x' * 30}; postgresql://u:hunter22@db/x"
    clean = scrub_secrets(text)
    assert "ds_0123456789ab_…" in clean and "A" * 20 not in clean
    assert "abcdefghijkl" not in clean and "x" * 20 not in clean and "hunter22" not in clean
    assert scrub_secrets("the version 12 of a document") == "the version 12 of a document"


def test_with_the_scrubbing_off_the_upstream_probe_fails(target, relay, monkeypatch: pytest.MonkeyPatch):
    # Off in error answers only: the log filter stays on, so the shared servers' logs stay clean for other tests.
    monkeypatch.setattr(server_errors, "scrub_secrets", lambda text: text)
    findings = secrets_stay_secret(target, relay)
    assert any("shows a secret" in f and "stream=False" in f for f in findings.failures), findings.summary()
    assert not any("log" in f for f in findings.failures), findings.summary()
