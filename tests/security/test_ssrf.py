"""Group 7: no user-supplied URL reaches the server's HTTP client, and ``check_url`` is ready for the features
that will take one."""

from __future__ import annotations

from draftsmith.safety import urls

from .probes.ssrf import check_url_refuses_internal_addresses, no_url_reaches_the_server, url_inputs


def test_no_request_field_takes_a_url_and_url_values_contact_nobody(target, sentinel):
    findings = no_url_reaches_the_server(target, sentinel)
    assert not findings.failures, findings.summary()


def test_a_per_request_base_url_would_be_caught(target):
    openapi = {**target.openapi, "components": {**target.openapi["components"]}}
    schemas = dict(openapi["components"]["schemas"])
    chat = dict(schemas["ChatCompletionRequest"])
    chat["properties"] = {**chat["properties"], "base_url": {"type": "string"}, "webhook": {"type": "string"}}
    schemas["ChatCompletionRequest"] = chat
    openapi["components"]["schemas"] = schemas
    found = url_inputs(openapi)
    assert any("base_url" in f for f in found) and any("webhook" in f for f in found)
    assert url_inputs(target.openapi) == []


def test_check_url_refuses_internal_addresses_dns_names_and_redirects():
    findings = check_url_refuses_internal_addresses()
    assert not findings.failures, findings.summary()
    assert findings.total > 35


def test_a_scheme_only_check_fails_the_probe():
    def naive(url: str, **kwargs) -> str:
        if not url.startswith(("http://", "https://")):
            raise urls.UnsafeURL("scheme")
        return url

    findings = check_url_refuses_internal_addresses(check=naive)
    assert any("169.254.169.254" in f for f in findings.failures), findings.summary()


def test_check_url_uses_the_real_resolver_for_names():
    try:
        urls.check_url("http://localhost:8080/")
    except urls.UnsafeURL as exc:
        assert "127.0.0.1" in str(exc) or "::1" in str(exc) or "resolve" in str(exc)
    else:
        raise AssertionError("localhost was accepted")
