"""The command line as a user meets it: exit codes, what lands on stdout and stderr, files on disk.

Most tests call ``draftsmith.cli.main`` in-process; a few run the real entry point in a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from draftsmith import config
from draftsmith.cli import main

ENTRY = [sys.executable, "-c", "from draftsmith.cli import entry; entry()"]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # help and tables are not wrapped mid-word


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code != 0
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got: {err!r}"
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def feed_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


# -- help -------------------------------------------------------------------------------------------

COMMANDS = {
    ("write",): "--template",
    ("rewrite",): "--style",
    ("translate",): "--to",
    ("correct",): "--in-place",
    ("continue",): "--words",
    ("summarize",): "--words",
    ("outline",): "--topic",
    ("title",): "--count",
    ("templates", "list"): "--category",
    ("templates", "show"): "name",
    ("templates", "new"): "--from",
    ("templates", "render"): "--var",
    ("models", "list"): "--json",
    ("models", "info"): "--json",
    ("models", "use"): "name",
    ("models", "pull"): "filename",
    ("config", "show"): "--json",
    ("config", "set"): "value",
    ("config", "path"): "config file",
}


@pytest.mark.parametrize("command", sorted(COMMANDS), ids=" ".join)
def test_help_works_for_every_command(capsys: pytest.CaptureFixture[str], command: tuple[str, ...]) -> None:
    code, out, err = run(capsys, *command, "--help")
    assert code == 0, err
    assert "Usage:" in out and " ".join(command) in out
    assert COMMANDS[command] in out


@pytest.mark.parametrize("group", ["templates", "models", "config"])
def test_help_of_a_group_lists_its_subcommands(capsys: pytest.CaptureFixture[str], group: str) -> None:
    code, out, _ = run(capsys, group, "--help")
    assert code == 0
    for first, *rest in COMMANDS:
        if first == group:
            assert rest[0] in out


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in [
        "write",
        "rewrite",
        "translate",
        "correct",
        "continue",
        "summarize",
        "outline",
        "title",
        "templates",
        "models",
        "config",
    ]:
        assert name in out


# -- operations on the fake model -------------------------------------------------------------------


def test_write_prints_the_models_answer(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "write", "--model", "fake:Hello", "x")
    assert code == 0, err
    assert out == "Hello\n"


def test_write_json_has_text_model_usage_and_timings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "write", "--model", "fake:Hello there", "--json", "x")
    assert code == 0
    data = json.loads(out)
    assert data["text"] == "Hello there"
    assert data["model"] == "fake"
    assert data["usage"]["completion_tokens"] == 2 and data["usage"]["prompt_tokens"] > 0
    assert data["timings"]["total_s"] >= 0


def test_write_with_a_template_and_vars(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "write",
        "--model",
        "fake:Bridge opens",
        "-t",
        "news-headline",
        "--var",
        "facts=A bridge opened.",
        "--var",
        "count=2",
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["text"] == "Bridge opens" and data["template"] == "news-headline"


def test_rewrite_reads_stdin_and_streams_it_back(capsys, monkeypatch) -> None:
    feed_stdin(monkeypatch, b"First line.\n\nSecond paragraph here.\n")
    code, out, err = run(capsys, "rewrite", "--model", "fake", "--style", "casual")
    assert code == 0, err
    assert out == "First line.\n\nSecond paragraph here.\n"


def test_translate_a_markdown_file(capsys, tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("# Title\n\n- item with `code`\n", encoding="utf-8")
    code, out, err = run(capsys, "translate", str(doc), "--to", "fr", "--model", "fake", "--json")
    assert code == 0, err
    assert json.loads(out)["text"] == "# Title\n\n- item with `code`\n"


def test_correct_json_on_a_file(capsys, tmp_path: Path) -> None:
    path = tmp_path / "essay.txt"
    path.write_text("She go to school every day.\n", encoding="utf-8")
    code, out, err = run(capsys, "correct", "--model", "fake", "--json", str(path))
    assert code == 0, err
    data = json.loads(out)
    assert {"text", "edits"} <= set(data)
    assert data["text"] == "She go to school every day.\n" and data["edits"] == []

    code, out, err = run(capsys, "correct", "--model", "fake:She goes to school every day.", "--json", str(path))
    data = json.loads(out)
    assert data["text"] == "She goes to school every day.\n"
    assert [(e["start"], e["end"], e["original"], e["replacement"], e["category"]) for e in data["edits"]] == [
        (4, 6, "go", "goes", "grammar")
    ]


def test_correct_lists_edits_with_line_and_column(capsys, tmp_path: Path) -> None:
    path = tmp_path / "essay.txt"
    path.write_text("Fine.\nShe go home.\n", encoding="utf-8")
    code, out, _ = run(capsys, "correct", "--model", "fake:Fine.\nShe goes home.", str(path))
    assert code == 0
    assert out.startswith("2:5\t'go' -> 'goes'\t[grammar] ")


def test_correct_apply_prints_the_corrected_text(capsys, tmp_path: Path) -> None:
    path = tmp_path / "essay.txt"
    path.write_text("She go home.\n", encoding="utf-8")
    code, out, _ = run(capsys, "correct", "--apply", "--model", "fake:She goes home.", str(path))
    assert code == 0 and out == "She goes home.\n"


def test_correct_in_place_with_nothing_to_fix_leaves_the_file_byte_for_byte(capsys, tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    original = "# Notes\r\n\r\nCafé au lait, 咖啡。\r\n\r\n  - indented item\t\r\nno final newline".encode()
    path.write_bytes(original)
    before = path.stat().st_mtime_ns
    code, _, err = run(capsys, "correct", "--in-place", "--model", "fake", str(path))
    assert code == 0, err
    assert path.read_bytes() == original
    assert path.stat().st_mtime_ns == before
    assert "0 edit(s)" in err


def test_correct_in_place_writes_the_corrected_text(capsys, tmp_path: Path) -> None:
    folder = tmp_path / "essays"
    folder.mkdir()
    path = folder / "essay.txt"
    path.write_text("She go to school every day.\n", encoding="utf-8")
    path.chmod(0o640)
    code, _, err = run(capsys, "correct", "-i", "--model", "fake:She goes to school every day.", str(path))
    assert code == 0, err
    assert path.read_text(encoding="utf-8") == "She goes to school every day.\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert "1 edit(s) applied" in err
    assert [p.name for p in folder.iterdir()] == ["essay.txt"]  # no temp file left behind


def test_title_prints_a_numbered_list(capsys, tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text("A story about a river town.", encoding="utf-8")
    code, out, _ = run(capsys, "title", str(path), "--count", "2", "--model", "fake:1. River Town\n2. The Bridge")
    assert code == 0
    assert out == "1. River Town\n2. The Bridge\n"


def test_outline_from_a_topic_needs_no_input(capsys) -> None:
    code, out, _ = run(capsys, "outline", "--topic", "rivers", "--model", "fake:## One\n- a", "--json")
    assert code == 0
    assert json.loads(out)["sections"] == [{"title": "One", "points": ["a"]}]


# -- bad input: one line on stderr, no traceback, a non-zero exit code -----------------------------


def test_empty_file(capsys, tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert_one_line_error(*run(capsys, "rewrite", "-s", "casual", "--model", "fake", str(path)), "empty")


def test_whitespace_only_stdin(capsys, monkeypatch) -> None:
    feed_stdin(monkeypatch, b"  \n\t\n")
    assert_one_line_error(*run(capsys, "correct", "--model", "fake"), "empty")


def test_non_utf8_file_names_the_fix(capsys, tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    path.write_bytes("我们去公园玩。".encode("gb18030"))
    code, out, err = run(capsys, "correct", "--model", "fake", str(path))
    assert_one_line_error(code, out, err, "not UTF-8", "iconv")


def test_binary_file(capsys, tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert_one_line_error(*run(capsys, "summarize", "--model", "fake", str(path)), "binary")


def test_five_megabyte_file(capsys, tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"word " * 1_000_000)
    assert_one_line_error(*run(capsys, "rewrite", "-s", "casual", "--model", "fake", str(path)), "too large")


def test_five_megabytes_on_stdin(capsys, monkeypatch) -> None:
    feed_stdin(monkeypatch, b"word " * 1_000_000)
    assert_one_line_error(*run(capsys, "correct", "--model", "fake"), "too large")


def test_missing_file(capsys, tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    assert_one_line_error(*run(capsys, "correct", "--model", "fake", str(path)), "does not exist")


def test_folder_instead_of_file(capsys, tmp_path: Path) -> None:
    assert_one_line_error(*run(capsys, "correct", "--model", "fake", str(tmp_path)), "folder")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["rewrite", "--style", "shouty"], "unknown style 'shouty'"),
        (["write", "--style", "shouty", "hello"], "unknown style 'shouty'"),
        (["translate", "--to", "klingon"], "unknown language 'klingon'"),
        (["write", "--template", "no-such-template"], "unknown template 'no-such-template'"),
        (["write", "--template", "news-heading"], "news-headline"),  # did you mean
        (["write", "-t", "news-headline", "--var", "facts=x", "--var", "colour=red"], "colour"),
        (["write", "-t", "news-headline"], "needs facts"),
        (["write", "-t", "news-headline", "--var", "facts"], "NAME=VALUE"),
        (["write", "-t", "news-headline", "--var", "=x"], "no name"),
        (["correct", "--in-place"], "--in-place needs a FILE"),
        (["correct", "--in-place", "-"], "--in-place needs a FILE"),
    ],
)
def test_bad_options(capsys, monkeypatch, tmp_path: Path, argv: list[str], fragment: str) -> None:
    feed_stdin(monkeypatch, b"Some text to work on.")
    code, out, err = run(capsys, *argv, "--model", "fake")
    assert_one_line_error(code, out, err, fragment)


def test_unknown_model_name(capsys) -> None:
    code, out, err = run(capsys, "write", "--model", "not-a-model", "hello")
    assert_one_line_error(code, out, err, "unknown model 'not-a-model'", "qwen2.5-0.5b")


def test_unreachable_openai_endpoint_fails_fast(capsys, monkeypatch) -> None:
    monkeypatch.setenv("DRAFTSMITH_RETRIES", "0")
    monkeypatch.setenv("DRAFTSMITH_REQUEST_TIMEOUT", "2")
    start = time.monotonic()
    code, out, err = run(capsys, "write", "--model", "openai:http://127.0.0.1:9", "hello")
    assert time.monotonic() - start < 10
    assert_one_line_error(code, out, err, "127.0.0.1:9")


def test_config_values_are_validated_before_any_work(capsys, draftsmith_home: Path) -> None:
    cfg = draftsmith_home / "config" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text("temperature = \n", encoding="utf-8")
    code, out, err = run(capsys, "write", "--model", "fake:x", "hello")
    assert_one_line_error(code, out, err, "not valid TOML", str(cfg))

    cfg.write_text("temperature = 7\n", encoding="utf-8")
    code, out, err = run(capsys, "config", "show")
    assert_one_line_error(code, out, err, "temperature")


# -- the real entry point ---------------------------------------------------------------------------


def test_entry_point_prints_the_answer_and_exits_zero() -> None:
    proc = subprocess.run([*ENTRY, "write", "--model", "fake:Hello", "x"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Hello\n"


def test_installed_console_script_runs() -> None:
    exe = shutil.which("draftsmith")
    assert exe, "the draftsmith console script is not on PATH; pip install -e ."
    proc = subprocess.run([exe, "write", "--model", "fake:Hi", "x"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Hi\n"


def test_entry_point_error_is_one_line_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.txt")
    plain = subprocess.run([*ENTRY, "correct", "--model", "fake", missing], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 2
    assert plain.stderr == f"error: {missing} does not exist\n"
    debug = subprocess.run(
        [*ENTRY, "--debug", "correct", "--model", "fake", missing], capture_output=True, text=True, timeout=60
    )
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr
    assert "InputError" in debug.stderr and "does not exist" in debug.stderr


def test_entry_point_reads_piped_stdin_and_never_loads_llama_cpp() -> None:
    code = (
        "import sys; from draftsmith.cli import main; rc = main(['rewrite', '-s', 'casual', '--model', 'fake']); "
        "print('LOADED' if {'llama_cpp', 'draftsmith.models.llamacpp'} & set(sys.modules) else 'CLEAN'); "
        "sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], input="Piped text.\n", capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Piped text.\nCLEAN\n"


# -- templates --------------------------------------------------------------------------------------


def test_templates_new_then_show_then_use(capsys, draftsmith_home: Path) -> None:
    code, out, err = run(capsys, "templates", "new", "my-note")
    assert code == 0, err
    path = Path(out.strip())
    assert path.is_file() and draftsmith_home in path.parents

    code, out, _ = run(capsys, "templates", "show", "my-note")
    assert code == 0
    assert "name: my-note" in out and str(path) in out

    code, out, _ = run(capsys, "templates", "list", "--json")
    mine = [t for t in json.loads(out) if t["name"] == "my-note"]
    assert mine and mine[0]["source"] == "user"

    code, out, err = run(capsys, "write", "-t", "my-note", "--var", "topic=owls", "--model", "fake:Owls hoot.")
    assert code == 0, err
    assert out == "Owls hoot.\n"


def test_templates_new_refuses_to_overwrite_and_bad_names(capsys) -> None:
    assert run(capsys, "templates", "new", "mine")[0] == 0
    assert_one_line_error(*run(capsys, "templates", "new", "mine"), "already exists")
    assert_one_line_error(*run(capsys, "templates", "new", "Bad Name"), "lowercase")


def test_templates_new_from_a_builtin_overrides_it(capsys) -> None:
    assert run(capsys, "templates", "new", "news-headline", "--from", "news-headline")[0] == 0
    _, out, _ = run(capsys, "templates", "list", "--json")
    sources = {t["name"]: t["source"] for t in json.loads(out)}
    assert sources["news-headline"] == "user" and sources["news-lede"] == "builtin"


def test_templates_render_shows_the_prompt(capsys) -> None:
    code, out, _ = run(capsys, "templates", "render", "news-headline", "--var", "facts=Rain in Paris.", "--json")
    assert code == 0
    messages = json.loads(out)
    assert messages[0]["role"] == "system" and messages[-1]["role"] == "user"
    assert "Rain in Paris." in messages[-1]["content"]


def test_templates_show_unknown(capsys) -> None:
    assert_one_line_error(*run(capsys, "templates", "show", "nope"), "unknown template 'nope'")


# -- config -----------------------------------------------------------------------------------------


def test_config_set_then_show_then_env_override(capsys, monkeypatch, draftsmith_home: Path) -> None:
    code, out, err = run(capsys, "config", "set", "temperature", "0.3")
    assert code == 0, err
    code, out, _ = run(capsys, "config", "show", "--json")
    data = json.loads(out)
    assert data["settings"]["temperature"] == 0.3 and data["sources"]["temperature"] == "file"
    assert data["sources"]["seed"] == "default"
    assert data["paths"]["config_file"] == str(draftsmith_home / "config" / "config.toml")

    monkeypatch.setenv("DRAFTSMITH_TEMPERATURE", "0.9")
    code, out, _ = run(capsys, "config", "show", "--json")
    data = json.loads(out)
    assert data["settings"]["temperature"] == 0.9 and data["sources"]["temperature"] == "env"


def test_config_show_hides_the_api_key(capsys, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    code, out, _ = run(capsys, "config", "show", "--json")
    assert code == 0 and "sk-secret-value" not in out


def test_config_path_is_inside_draftsmith_home(capsys, draftsmith_home: Path) -> None:
    code, out, _ = run(capsys, "config", "path")
    assert code == 0 and out.strip() == str(draftsmith_home / "config" / "config.toml")


def test_config_set_rejects_unknown_keys_and_invalid_values(capsys, draftsmith_home: Path) -> None:
    assert_one_line_error(*run(capsys, "config", "set", "colour", "blue"), "unknown setting 'colour'")
    assert_one_line_error(*run(capsys, "config", "set", "temperature", "5"), "temperature")
    assert not (draftsmith_home / "config" / "config.toml").exists()


# -- models -----------------------------------------------------------------------------------------


def test_models_use_an_unknown_name_fails_and_leaves_the_config_alone(capsys) -> None:
    assert run(capsys, "config", "set", "seed", "42")[0] == 0
    before = config.config_file().read_bytes()
    assert_one_line_error(*run(capsys, "models", "use", "not-a-model"), "unknown model 'not-a-model'")
    assert config.config_file().read_bytes() == before


def test_models_use_makes_the_default(capsys) -> None:
    code, _, err = run(capsys, "models", "use", "fake:From the default model.")
    assert code == 0, err
    code, out, err = run(capsys, "write", "anything")
    assert code == 0, err
    assert out == "From the default model.\n"


def test_models_list_shows_the_bundled_models_and_the_default(capsys) -> None:
    code, out, _ = run(capsys, "models", "list", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert {"qwen2.5-1.5b", "qwen2.5-0.5b"} <= set(rows)
    assert rows[config.Settings().model]["default"] is True


def test_models_info_of_the_fake_model(capsys) -> None:
    code, out, _ = run(capsys, "models", "info", "fake", "--json")
    assert code == 0 and json.loads(out)["backend"] == "FakeModel"


def test_environment_beats_the_config_file_for_the_model(capsys, monkeypatch) -> None:
    assert run(capsys, "models", "use", "fake:from file")[0] == 0
    monkeypatch.setenv("DRAFTSMITH_MODEL", "fake:from env")
    assert run(capsys, "write", "x")[1] == "from env\n"
    assert run(capsys, "write", "x", "--model", "fake:from flag")[1] == "from flag\n"


def test_draftsmith_home_isolates_every_test(draftsmith_home: Path) -> None:
    assert os.environ["DRAFTSMITH_HOME"] == str(draftsmith_home)
    assert "DRAFTSMITH_MODEL" not in os.environ
