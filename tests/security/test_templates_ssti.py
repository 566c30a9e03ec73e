"""Group 9: SSTI payloads in user templates fail with a TemplateError, over HTTP too; GGUF chat templates
render sandboxed."""

from __future__ import annotations

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment

from draftsmith.prompts import template as template_module

from .probes.templates import gguf_chat_template_is_sandboxed, ssti_in_user_templates, ssti_over_http


def test_ssti_payloads_in_user_templates_are_template_errors():
    findings = ssti_in_user_templates()
    assert not findings.failures, findings.summary()
    assert findings.total >= 30


def test_ssti_over_http(target, data_dir):
    findings = ssti_over_http(target, data_dir)
    assert not findings.failures, findings.summary()


def test_gguf_chat_templates_are_sandboxed():
    findings = gguf_chat_template_is_sandboxed()
    assert not findings.failures, findings.summary()


class OpenSandbox(SandboxedEnvironment):
    """A sandbox with its attribute checks switched off (its range limit stays, so no payload can eat memory)."""

    def is_safe_attribute(self, obj, attr, value) -> bool:
        return True

    def is_safe_callable(self, obj) -> bool:
        return True


def test_an_unsandboxed_environment_fails_the_probe(monkeypatch: pytest.MonkeyPatch):
    open_env = OpenSandbox(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    monkeypatch.setattr(template_module, "_env", open_env)
    findings = ssti_in_user_templates()
    assert any("rendered without error" in f for f in findings.failures), findings.summary()
