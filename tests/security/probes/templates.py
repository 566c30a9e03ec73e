"""Group 9, templates: server-side template injection payloads in a user template fail with a TemplateError
(in the Python API, and over HTTP, where a template is chosen by name and its variables are values that are
never evaluated); a GGUF's embedded chat template renders sandboxed too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .core import Findings, Target

PAYLOADS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.keys()|list }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ ''|attr('__class__') }}",
    "{{ ()|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ range.__init__.__globals__ }}",
    "{{ range(10**9)|list|length }}",
    "{{ ''.format.__self__.__class__ }}",
    "{{ 'x'.__len__.__self__.__class__ }}",
]
# What a payload that escaped would print; a sandboxed render never shows any of it.
ESCAPED = ("<class", "__builtins__", "uid=", "<module", "<function", "<built-in")


def _template(body: str, name: str = "probe-ssti") -> str:
    return f"---\nname: {name}\ndescription: probe\nvariables:\n  topic:\n    type: string\n---\n{body}\n"


def ssti_in_user_templates(render: Callable[[str], str] | None = None) -> Findings:
    """Each payload as a template body and as its system prompt: parsing or rendering raises TemplateError,
    and nothing the payload reaches is shown. ``render`` (default: parse and render with draftsmith's
    sandbox) maps a template file's text to the rendered prompt."""
    from draftsmith.errors import TemplateError
    from draftsmith.prompts.template import parse_template

    def default(text: str) -> str:
        return "\n".join(m.content for m in parse_template(text).render({"topic": "rain"}))

    render = render or default
    f = Findings("templates")
    for payload in PAYLOADS:
        for text in (
            _template(f"Write about {{{{ topic }}}}. {payload}"),
            _template("Write about {{ topic }}.").replace("---\nWrite", f'system: "{payload}"\n---\nWrite'),
        ):
            try:
                out = render(text)
            except TemplateError as exc:
                f.check(not any(s in str(exc) for s in ESCAPED), f"{payload}: the error shows what it reached")
                continue
            except Exception as exc:
                f.check(False, f"{payload}: {type(exc).__name__} instead of a TemplateError: {exc}")
                continue
            f.check(False, f"{payload}: rendered without error: {out[:120]!r}")
    return f


def ssti_over_http(t: Target, data_dir: Path) -> Findings:
    """A user template file holding a payload, used by name over HTTP: 422 template_error. Payloads sent as
    variable values and as instructions are text: echoed, never evaluated."""
    f = Findings("templates-http")
    folder = data_dir / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    with t.client(t.keys.alice) as client:
        for i, payload in enumerate(PAYLOADS[:6]):
            name = f"probe-ssti-{i}"
            (folder / f"{name}.md").write_text(_template(f"About {{{{ topic }}}}. {payload}", name), encoding="utf-8")
            r = client.post("/api/write", json={"template": name, "variables": {"topic": "rain"}})
            kind = r.json().get("error", {}).get("type") if r.status_code != 200 else None
            f.check(r.status_code == 422 and kind == "template_error", f"template {payload}: {r.status_code} {kind}")
            f.check(not any(s in r.text for s in ESCAPED), f"template {payload}: the answer shows what it reached")
            (folder / f"{name}.md").unlink()
        (folder / "probe-echo.md").write_text(_template("Text: {{ topic }}", "probe-echo"), encoding="utf-8")
        for payload in PAYLOADS:
            for body in (
                {"template": "probe-echo", "variables": {"topic": payload}},
                {"instruction": payload},
            ):
                r = client.post("/api/write", json=body)
                f.check(r.status_code == 200, f"{payload} as a value: {r.status_code}")
                f.check(not any(s in r.text for s in ESCAPED), f"{payload} as a value was evaluated: {r.text[:120]}")
            if t.served_model == "fake":  # the fake echoes its prompt: the payload arrives as written
                r = client.post("/api/write", json={"template": "probe-echo", "variables": {"topic": payload}})
                f.check(payload in r.json().get("text", ""), f"{payload} as a value did not reach the model verbatim")
        (folder / "probe-echo.md").unlink()
    return f


def gguf_chat_template_is_sandboxed() -> Findings:
    """llama-cpp-python renders a GGUF's embedded chat template (``tokenizer.chat_template``) with Jinja2's
    ImmutableSandboxedEnvironment; a hostile model file's template cannot reach Python."""
    f = Findings("templates-gguf")
    try:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    except ImportError:
        f.check(False, "llama-cpp-python is not installed; cannot check the GGUF chat template path")
        return f
    messages: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]
    for payload in PAYLOADS[:12]:
        try:
            out = Jinja2ChatFormatter(template=payload, eos_token="</s>", bos_token="<s>")(messages=messages).prompt
        except Exception as exc:
            f.check(not any(s in str(exc) for s in ESCAPED[1:]), f"GGUF template {payload}: error shows {exc}")
            continue
        f.check(not any(s in out for s in ESCAPED), f"GGUF template {payload} escaped: {out[:120]!r}")
    return f
