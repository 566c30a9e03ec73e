"""Group 6: body and header limits, sampling values refused with 422, the max_tokens cap for every key (the
server's, and a key's or user's own lower one), deeply nested JSON, the per-key stream limit, the bounded queue
and the upstream timeout."""

from __future__ import annotations

import pytest

from draftsmith.server import errors, guards, routes_openai, routes_ops

from .conftest import serve_app
from .probes.consumption import queue_and_timeouts, stream_limits, unbounded_requests


def test_sizes_sampling_values_and_the_max_tokens_cap(target):
    findings = unbounded_requests(target)
    assert not findings.failures, findings.summary()


def test_one_key_cannot_hold_more_than_its_streams(relay):
    findings = stream_limits(relay)
    assert not findings.failures, findings.summary()


def test_the_queue_is_bounded_and_upstream_calls_time_out(relay):
    findings = queue_and_timeouts(relay)
    assert not findings.failures, findings.summary()


def test_without_the_body_limit_and_the_cap_the_probe_fails(sec_store, keys, monkeypatch: pytest.MonkeyPatch):
    async def no_limit(self, scope, receive, send):
        await self.app(scope, receive, send)

    monkeypatch.setattr(errors.BodyLimit, "__call__", no_limit)
    monkeypatch.setattr(routes_ops, "check_max_tokens", lambda *args, **kwargs: None)
    monkeypatch.setattr(routes_openai, "check_max_tokens", lambda *args, **kwargs: None)
    with serve_app(sec_store, keys) as t:
        findings = unbounded_requests(t)
    assert any("(Content-Length): 4" in f or "(chunked)" in f for f in findings.failures), findings.summary()
    assert any("max_tokens=8193" in f for f in findings.failures), findings.summary()


def test_without_the_per_key_cap_the_probe_fails(sec_store, keys, monkeypatch: pytest.MonkeyPatch):
    def server_cap_only(principal, config):
        return config.max_tokens_cap

    monkeypatch.setattr(routes_ops, "token_cap", server_cap_only)
    monkeypatch.setattr(routes_openai, "token_cap", server_cap_only)
    with serve_app(sec_store, keys) as t:
        findings = unbounded_requests(t)
    assert any("over the key's cap (32): 200" in f for f in findings.failures), findings.summary()
    assert any("over the user's cap (48): 200" in f for f in findings.failures), findings.summary()
    assert not any("max_tokens=8193" in f for f in findings.failures), findings.summary()  # the server's cap holds


def test_without_the_stream_limit_the_probe_fails(relay, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(guards.StreamLimit, "acquire", lambda self, key: lambda: None)
    findings = stream_limits(relay)
    assert any("expected 429" in f for f in findings.failures), findings.summary()


def test_the_stream_limit_gives_slots_back_once():
    limit = guards.StreamLimit(2)
    first, second = limit.acquire("k"), limit.acquire("k")
    with pytest.raises(errors.ApiError) as refused:
        limit.acquire("k")
    assert refused.value.status == 429 and refused.value.type == "too_many_streams"
    first()
    first()  # twice: harmless
    assert limit.open("k") == 1
    third = limit.acquire("k")
    second(), third()
    assert limit.open("k") == 0 and limit.acquire("other")
    assert guards.StreamLimit(0).acquire("k") and guards.StreamLimit(0).acquire("k")
