"""Settings: defaults, then the TOML config file, then ``DRAFTSMITH_*`` environment variables.

``DRAFTSMITH_HOME`` relocates config, data and caches (tests and scripts use it to run isolated);
the assembled bundled-model cache stays shared unless ``DRAFTSMITH_MODEL_CACHE`` names another folder.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from draftsmith.errors import ConfigError

APP = "draftsmith"
ENV_PREFIX = "DRAFTSMITH_"


class Settings(BaseModel):
    """Effective settings. Every field can be set in config.toml or as DRAFTSMITH_<FIELD>."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field("qwen2.5-1.5b", description="default model: a bundled name, a GGUF path or openai:<url>")
    n_ctx: int = Field(8192, ge=512, description="context window for local models (tokens)")
    n_threads: int | None = Field(None, ge=1, description="CPU threads for local models (default: all cores)")
    embed_threads: int | None = Field(
        None, ge=1, description="CPU threads for embedding documents (default: all cores; 1 on a busy machine)"
    )
    temperature: float = Field(
        0.7,
        ge=0.0,
        le=2.0,
        description="sampling temperature for write and continue when neither you nor the template set one",
    )
    prefix_cache: bool = Field(True, description="keep KV states of prompt prefixes on disk (faster starts)")
    seed: int | None = Field(None, description="sampling seed (unset: random)")
    max_input_chars: int = Field(400_000, ge=1, description="largest input text accepted (characters)")
    request_timeout: float = Field(120.0, gt=0, description="seconds before a remote model call times out")
    retries: int = Field(3, ge=0, le=10, description="retries for a remote model call that fails to connect")
    openai_api_key: str | None = Field(None, description="key for openai: endpoints (also OPENAI_API_KEY)")
    language: str = Field("auto", description="default output language for write: auto, en, zh, ...")
    database_url: str | None = Field(
        None,
        description="the store: a SQLAlchemy URL (postgresql+psycopg://…); unset: SQLite in the data dir",
    )
    redact_pii: Literal["auto", "on", "off"] = Field(
        "auto",
        description="mask personal data (e-mails, phones, IDs, cards, IBANs, names) before a model sees it and "
        "restore it after: auto = only for an openai: endpoint that is not on this machine",
    )


def home() -> Path | None:
    value = os.environ.get(ENV_PREFIX + "HOME")
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    h = home()
    return h / "config" if h else Path(platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    h = home()
    return h / "data" if h else Path(platformdirs.user_data_dir(APP))


def cache_dir() -> Path:
    h = home()
    return h / "cache" if h else Path(platformdirs.user_cache_dir(APP))


def model_cache_dir() -> Path:
    """Where bundled models are assembled. Shared across DRAFTSMITH_HOME sandboxes on purpose."""
    value = os.environ.get(ENV_PREFIX + "MODEL_CACHE")
    return Path(value).expanduser() if value else Path(platformdirs.user_cache_dir(APP)) / "models"


def config_file() -> Path:
    return config_dir() / "config.toml"


def read_config_file(path: Path | None = None) -> dict[str, Any]:
    path = path or config_file()
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def env_overrides() -> dict[str, str]:
    out = {}
    for name in Settings.model_fields:
        value = os.environ.get(ENV_PREFIX + name.upper())
        if value is not None and value != "":
            out[name] = value
    if "openai_api_key" not in out and os.environ.get("OPENAI_API_KEY"):
        out["openai_api_key"] = os.environ["OPENAI_API_KEY"]
    return out


def load_settings(**overrides: Any) -> Settings:
    """Defaults ← config.toml ← environment ← explicit overrides (e.g. CLI flags)."""
    values: dict[str, Any] = {}
    values.update(read_config_file())
    values.update(env_overrides())
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid setting ({problems}); check {config_file()} and DRAFTSMITH_* variables") from None


def setting_sources() -> dict[str, str]:
    """Where each effective value comes from: default, file or env."""
    file_values = read_config_file()
    env_values = env_overrides()
    return {
        name: "env" if name in env_values else "file" if name in file_values else "default"
        for name in Settings.model_fields
    }


def write_config_value(key: str, value: Any) -> Path:
    """Set one key in config.toml, keeping the others. Written atomically."""
    import tomli_w

    if key not in Settings.model_fields:
        raise ConfigError(f"unknown setting {key!r}; known: {', '.join(Settings.model_fields)}")
    path = config_file()
    values = read_config_file(path)
    values[key] = value
    try:
        Settings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid value for {key} ({problems}); nothing was written") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(values), encoding="utf-8")
    os.replace(tmp, path)
    return path
