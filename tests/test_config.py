"""Settings: defaults < config.toml < DRAFTSMITH_* environment < explicit overrides; bad values fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from draftsmith import config
from draftsmith.config import Settings, load_settings, setting_sources, write_config_value
from draftsmith.errors import ConfigError


def write_file(text: str) -> Path:
    path = config.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings()
    assert settings == Settings()
    assert settings.model == "qwen2.5-1.5b" and settings.temperature == 0.7
    assert set(setting_sources().values()) == {"default"}


def test_each_layer_overrides_the_one_below(monkeypatch: pytest.MonkeyPatch) -> None:
    write_file('temperature = 0.3\nseed = 1\nmodel = "fake:file"\n')
    assert (load_settings().temperature, load_settings().seed, load_settings().model) == (0.3, 1, "fake:file")

    monkeypatch.setenv("DRAFTSMITH_TEMPERATURE", "0.5")
    monkeypatch.setenv("DRAFTSMITH_MODEL", "fake:env")
    settings = load_settings()
    assert (settings.temperature, settings.seed, settings.model) == (0.5, 1, "fake:env")
    assert setting_sources()["temperature"] == "env" and setting_sources()["seed"] == "file"

    settings = load_settings(temperature=0.9, model=None)  # None: the flag was not given
    assert (settings.temperature, settings.seed, settings.model) == (0.9, 1, "fake:env")


def test_environment_values_are_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAFTSMITH_N_CTX", "4096")
    monkeypatch.setenv("DRAFTSMITH_REQUEST_TIMEOUT", "2.5")
    settings = load_settings()
    assert settings.n_ctx == 4096 and settings.request_timeout == 2.5


def test_an_empty_environment_variable_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    write_file("seed = 5\n")
    monkeypatch.setenv("DRAFTSMITH_SEED", "")
    assert load_settings().seed == 5


def test_openai_api_key_falls_back_to_the_standard_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-standard")
    assert load_settings().openai_api_key == "sk-standard"
    monkeypatch.setenv("DRAFTSMITH_OPENAI_API_KEY", "sk-specific")
    assert load_settings().openai_api_key == "sk-specific"


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("DRAFTSMITH_TEMPERATURE", "hot", "temperature"),
        ("DRAFTSMITH_TEMPERATURE", "3", "temperature"),
        ("DRAFTSMITH_N_CTX", "100", "n_ctx"),
        ("DRAFTSMITH_RETRIES", "-1", "retries"),
        ("DRAFTSMITH_REQUEST_TIMEOUT", "0", "request_timeout"),
        ("DRAFTSMITH_MAX_INPUT_CHARS", "lots", "max_input_chars"),
    ],
)
def test_invalid_environment_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=field) as info:
        load_settings()
    assert "\n" not in str(info.value)


def test_invalid_file_values_and_unknown_keys_are_errors() -> None:
    write_file("temperature = 9\n")
    with pytest.raises(ConfigError, match="temperature"):
        load_settings()
    write_file("temprature = 0.2\n")  # a typo must not be silently ignored
    with pytest.raises(ConfigError, match="temprature"):
        load_settings()


def test_a_file_that_is_not_toml_names_the_file() -> None:
    path = write_file("model = qwen\n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_settings()
    assert str(path) in str(info.value)


def test_a_file_that_is_not_utf8_is_a_config_error() -> None:
    path = config.config_file()
    path.parent.mkdir(parents=True)
    path.write_bytes('model = "模型"\n'.encode("gb18030"))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()


def test_draftsmith_home_relocates_config_data_and_cache(draftsmith_home: Path) -> None:
    assert config.config_file() == draftsmith_home / "config" / "config.toml"
    assert config.data_dir() == draftsmith_home / "data"
    assert config.cache_dir() == draftsmith_home / "cache"


def test_draftsmith_home_does_not_move_the_model_cache(
    draftsmith_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DRAFTSMITH_MODEL_CACHE", raising=False)
    assert draftsmith_home not in config.model_cache_dir().parents
    assert config.model_cache_dir().name == "models"
    monkeypatch.setenv("DRAFTSMITH_MODEL_CACHE", str(tmp_path / "gguf"))
    assert config.model_cache_dir() == tmp_path / "gguf"


def test_without_draftsmith_home_the_platform_folders_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRAFTSMITH_HOME")
    assert config.config_file().parent.name == "draftsmith"
    assert "draftsmith" in str(config.data_dir())


def test_write_config_value_keeps_other_keys() -> None:
    write_config_value("seed", 3)
    path = write_config_value("temperature", 0.2)
    assert path == config.config_file()
    settings = load_settings()
    assert (settings.seed, settings.temperature) == (3, 0.2)
    assert not list(path.parent.glob("*.tmp"))


def test_write_config_value_refuses_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        write_config_value("colour", "blue")
    with pytest.raises(ConfigError, match="temperature"):
        write_config_value("temperature", 5)
    assert not config.config_file().exists()
