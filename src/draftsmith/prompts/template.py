"""Prompt templates: one file each, YAML front matter + a sandboxed Jinja2 body.

A template declares typed variables; rendering rejects unknown and missing ones with a message that
lists what the template takes. Built-in templates live in ``prompts/library``; a file with the same
name in ``<data dir>/templates`` overrides the built-in one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from draftsmith.errors import TemplateError
from draftsmith.models.base import Message

BUILTIN_DIR = Path(__file__).parent / "library"
SUFFIX = ".md"
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", re.S)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

# Variables every template may use without declaring them; operations fill them in.
STANDARD_VARIABLES: dict[str, str] = {
    "length": "target length in words (characters for Chinese)",
    "style": "style name, e.g. casual",
    "style_guide": "the style's description and rules",
    "lang": "output language code, e.g. zh",
    "language": "output language name, e.g. Simplified Chinese",
}

VarType = Literal["string", "text", "integer", "number", "boolean", "list", "choice"]


class Variable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: VarType = "string"
    description: str = ""
    default: Any = None
    required: bool = False
    choices: list[str] | None = None

    def coerce(self, name: str, value: Any) -> Any:
        try:
            if self.type in ("string", "text"):
                return str(value)
            if self.type == "integer":
                return int(value)
            if self.type == "number":
                return float(value)
            if self.type == "boolean":
                if isinstance(value, str):
                    if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                        raise ValueError(value)
                    return value.lower() in ("true", "yes", "1")
                return bool(value)
            if self.type == "list":
                if isinstance(value, str):
                    return [v.strip() for v in value.split(",") if v.strip()]
                return list(value)
            if self.type == "choice":
                if str(value) not in (self.choices or []):
                    raise ValueError(value)
                return str(value)
        except (TypeError, ValueError):
            allowed = f" (one of: {', '.join(self.choices or [])})" if self.type == "choice" else ""
            raise TemplateError(f"variable {name!r} must be {self.type}{allowed}, got {value!r}") from None
        return value


class Example(BaseModel):
    """A few-shot example: variables for the body, and the answer the model should give."""

    model_config = ConfigDict(extra="forbid")

    vars: dict[str, Any] = Field(default_factory=dict)
    output: str


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    task: str = "write"
    description: str
    category: str = "general"
    languages: list[str] = Field(default_factory=lambda: ["en", "zh"])
    variables: dict[str, Variable] = Field(default_factory=dict)
    output: Literal["text", "markdown", "json"] = "text"
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    length: int | None = None
    style: str | None = None
    system: str | None = None
    examples: list[Example] = Field(default_factory=list)
    temperature: float | None = None
    body: str = ""
    source: str = "builtin"
    path: Path | None = None

    def signature(self) -> str:
        """The variables this template takes, for error messages and --help."""
        parts = []
        for name, var in self.variables.items():
            mark = "" if not var.required else " (required)"
            default = f"={var.default!r}" if var.default is not None else ""
            parts.append(f"{name}{default}{mark}")
        return ", ".join(parts) or "no variables of its own"

    def resolve(self, values: dict[str, Any]) -> dict[str, Any]:
        """Validate and type the given variables; fill defaults; standard variables pass through."""
        unknown = sorted(set(values) - set(self.variables) - set(STANDARD_VARIABLES))
        if unknown:
            raise TemplateError(
                f"template {self.name!r} does not take {', '.join(unknown)}; it takes: {self.signature()}"
                f" (plus {', '.join(STANDARD_VARIABLES)})"
            )
        out: dict[str, Any] = {k: values.get(k) for k in STANDARD_VARIABLES}
        out["length"] = out["length"] or self.length
        out["style"] = out["style"] or self.style
        missing = []
        for name, var in self.variables.items():
            if name in values and values[name] is not None:
                out[name] = var.coerce(name, values[name])
            elif var.required:
                missing.append(name)
            else:
                out[name] = var.default
        if missing:
            raise TemplateError(
                f"template {self.name!r} needs {', '.join(missing)}; it takes: {self.signature()}"
                f" (e.g. --var {missing[0]}=...)"
            )
        return out

    def render_body(self, values: dict[str, Any]) -> str:
        return _render(self.body, self.resolve(values), self.name)

    def render(self, values: dict[str, Any]) -> list[Message]:
        """Chat messages: system prompt, few-shot example turns, then the rendered body."""
        resolved = self.resolve(values)
        messages: list[Message] = []
        if self.system:
            messages.append(Message(role="system", content=_render(self.system, resolved, self.name).strip()))
        for example in self.examples:
            shot = dict(resolved)
            shot.update(self.resolve({**{k: v for k, v in values.items() if k in STANDARD_VARIABLES}, **example.vars}))
            messages.append(Message(role="user", content=_render(self.body, shot, self.name).strip()))
            messages.append(Message(role="assistant", content=example.output.strip()))
        messages.append(Message(role="user", content=_render(self.body, resolved, self.name).strip()))
        return messages

    def to_text(self) -> str:
        """The template file's text (front matter + body)."""
        meta = self.model_dump(by_alias=True, exclude_none=True, exclude={"body", "source", "path"})
        meta = {k: v for k, v in meta.items() if v not in ([], {}) or k == "name"}
        front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
        return f"---\n{front}---\n{self.body.rstrip()}\n"


_env = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True
)


def _render(source: str, values: dict[str, Any], name: str) -> str:
    try:
        return _env.from_string(source).render(**values)
    except UndefinedError as exc:
        raise TemplateError(f"template {name!r} uses an undeclared variable: {exc.message}") from None
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template {name!r} has a Jinja syntax error on line {exc.lineno}: {exc.message}") from None
    except Exception as exc:  # sandbox violations and errors raised inside the template
        raise TemplateError(f"template {name!r} failed to render: {exc}") from None


def parse_template(text: str, *, source: str = "user", path: Path | None = None) -> Template:
    """Parse a template file's text; every problem becomes a TemplateError naming the file."""
    where = str(path) if path else "template"
    match = _FRONT.match(text.replace("\r\n", "\n"))
    if not match:
        raise TemplateError(f"{where}: must start with '---', YAML front matter, '---', then the Jinja body")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise TemplateError(f"{where}: front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise TemplateError(f"{where}: front matter must be a mapping of keys to values")
    try:
        template = Template.model_validate({**meta, "body": match.group(2), "source": source, "path": path})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise TemplateError(f"{where}: {problems}") from None
    if not _NAME.fullmatch(template.name):
        raise TemplateError(f"{where}: name {template.name!r} must be lowercase letters, digits, '-' or '_'")
    try:
        _env.parse(template.body)
        if template.system:
            _env.parse(template.system)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{where}: Jinja syntax error on line {exc.lineno}: {exc.message}") from None
    undeclared = _undeclared(template)
    if undeclared:
        raise TemplateError(
            f"{where}: body uses {', '.join(sorted(undeclared))} but does not declare it under 'variables'"
        )
    for vname, var in template.variables.items():
        if var.default is not None:
            try:
                var.coerce(vname, var.default)
            except TemplateError as exc:
                raise TemplateError(f"{where}: default of {exc}") from None
    for i, example in enumerate(template.examples, 1):
        try:
            template.resolve(example.vars)
        except TemplateError as exc:
            raise TemplateError(f"{where}: example {i}: {exc}") from None
    return template


def _undeclared(template: Template) -> set[str]:
    from jinja2 import meta as jmeta

    used: set[str] = set()
    for src in (template.body, template.system or ""):
        used |= jmeta.find_undeclared_variables(_env.parse(src))
    return used - set(template.variables) - set(STANDARD_VARIABLES)
