"""Group 4, files: template names and model names cannot leave their folders (``../``, absolute paths, NUL,
10 KB names, Unicode look-alikes, newlines that smuggle YAML), neither through the Python API nor over HTTP;
a model file that is 4 bytes, truncated, empty or junk gives a ModelError (exit code 3 from the CLI), never a
crash. Uploads do not exist over HTTP yet, so there are no upload names to probe."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from .core import Findings, Target

PLANTED = "PLANTED-OUTSIDE-THE-TEMPLATES-FOLDER"
_SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
CLI = [sys.executable, "-c", "from draftsmith.cli import entry; entry()"]


def hostile_names(outside: Path) -> list[str]:
    return [
        "../evil",
        "../../evil",
        "templates/../../evil",
        "rewrite/../../evil",
        str(outside / "evil"),
        str(outside / "evil.md"),
        "/etc/passwd",
        "evil\x00",
        "rewrite\x00../../evil",
        "x" * 10_240,
        "ｒｅｗｒｉｔｅ",  # fullwidth
        "rеwrite",  # Cyrillic е
        "rewrite\u200b",
        "\u2024\u2024/evil",  # one-dot leaders
        "..\\evil",
        "%2e%2e%2fevil",
        "~/evil",
        "evil\n",
        "ok\nname: ok",
        "../../evil\nname: okay",
        ".",
        "",
    ]


def _plant(where: Path, name: str = "evil") -> None:
    where.mkdir(parents=True, exist_ok=True)
    text = f"---\nname: {name}\ndescription: planted\n---\n{PLANTED}\n"
    (where / f"{name}.md").write_text(text, encoding="utf-8")


def _files(root: Path, skip: Path) -> set[Path]:
    return {p for p in root.rglob("*") if skip not in p.parents and p != skip}


def template_names_stay_in_their_folder(
    data_dir: Path,
    get_template: Callable[[str], Any] | None = None,
    new_template: Callable[[str], Path] | None = None,
) -> Findings:
    """``get_template`` and ``new_template`` (default: draftsmith's) with hostile names: a TemplateError, no
    template from outside the folder, no file written outside it, no file with a name that is not a name."""
    from draftsmith.errors import TemplateError
    from draftsmith.prompts import registry

    get_template = get_template or registry.get_template
    new_template = new_template or registry.new_template
    f = Findings("files-templates")
    folder = data_dir / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    home = data_dir.parent
    outside = Path(tempfile.mkdtemp(prefix="probe-abs-"))
    for where in (data_dir, home, outside):
        _plant(where)
    before = _files(home, folder)
    for name in hostile_names(outside):
        shown = repr(name[:40])
        try:
            template = get_template(name)
            f.check(PLANTED not in template.body, f"get_template({shown}) loaded a file from outside the folder")
            f.check(False, f"get_template({shown}) returned a template")
        except TemplateError:
            f.check(True, shown)
        except Exception as exc:
            f.check(False, f"get_template({shown}): {type(exc).__name__}: {str(exc)[:160]}")
        try:
            path = new_template(name)
            inside = path.resolve().parent == folder.resolve()
            f.check(inside, f"new_template({shown}) wrote {str(path)!r} outside the templates folder")
            f.check(
                inside and _SAFE_NAME.fullmatch(path.stem) is not None and path.stem == name,
                f"new_template({shown}) accepted a name that is not a template name ({path.name!r})",
            )
            path.unlink(missing_ok=True)
        except TemplateError:
            f.check(True, shown)
        except Exception as exc:
            f.check(False, f"new_template({shown}): {type(exc).__name__}: {str(exc)[:160]}")
    created = _files(home, folder) - before
    f.check(not created, f"files appeared outside the templates folder: {sorted(map(str, created))[:5]}")
    for path in created:
        if path.is_file():
            path.unlink()
    shutil.rmtree(outside, ignore_errors=True)
    return f


def names_over_http(t: Target, data_dir: Path) -> Findings:
    """Template names in /api/write and model names in /v1/chat/completions: refused or ignored, never a file
    from outside, never a 5xx. ``data_dir`` is the server's data folder."""
    f = Findings("files-http")
    outside = Path(tempfile.mkdtemp(prefix="probe-abs-"))
    _plant(data_dir)
    _plant(outside)
    try:
        _names_over_http(t, outside, f)
    finally:
        shutil.rmtree(outside, ignore_errors=True)
    return f


def _names_over_http(t: Target, outside: Path, f: Findings) -> None:
    with t.client(t.keys.alice) as client:
        for name in hostile_names(outside):
            shown = repr(name[:40])
            r = client.post("/api/write", json={"template": name, "instruction": "x"})
            f.check(r.status_code == 422, f"template {shown}: {r.status_code}, expected 422")
            f.check(PLANTED not in r.text, f"template {shown}: the answer holds the planted file")
            chat = {"model": name, "messages": [{"role": "user", "content": "hi"}]}
            r = client.post("/v1/chat/completions", json=chat)
            if len(name) <= 256:
                ok = r.status_code == 200 and r.json().get("model") == t.served_model
                f.check(ok, f"chat with model {shown}: {r.status_code}, not the served model")
            else:
                f.check(r.status_code == 422, f"chat with a {len(name)}-character model name: {r.status_code}")


def _gguf_header(cut: int | None = None) -> bytes:
    def string(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    data = b"GGUF" + struct.pack("<IQQ", 3, 1, 3) + string("general.architecture") + struct.pack("<I", 8)
    data += string("llama") + string("general.name") + struct.pack("<I", 8) + string("probe") + string("llama.co")
    return data[:cut] if cut else data


def bad_model_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "4-byte": b"GGUF",
        "truncated header": _gguf_header(),
        "truncated mid-field": _gguf_header(cut=30),
        "empty": b"",
        "junk after the magic": b"GGUF" + os.urandom(4096),
        "text named .gguf": b"not a model at all\n",
        "huge counts": b"GGUF" + struct.pack("<IQQ", 3, 2**62, 2**62),
    }
    out = {}
    for i, (what, data) in enumerate(files.items()):
        path = folder / f"bad-{i}.gguf"
        path.write_bytes(data)
        out[what] = path
    (folder / "dir.gguf").mkdir(exist_ok=True)
    out["a directory"] = folder / "dir.gguf"
    return out


_LOADER = """
import json, sys
from draftsmith.models.loader import load_model
out = {}
for what, path in json.loads(sys.argv[1]).items():
    try:
        load_model(path)
        out[what] = ["loaded", ""]
    except Exception as exc:
        out[what] = [type(exc).__name__, str(exc)]
print(json.dumps(out))
"""


def bad_model_files_are_clear_errors(home: Path, timeout_s: float = 180) -> Findings:
    """``load_model`` on each bad file (in a child process, so a crash is seen as one) and the CLI's
    ``write --model <truncated file>``: ModelError, exit code 3, one line, no traceback."""
    f = Findings("files-gguf")
    files = bad_model_files(home / "bad-models")
    env = {**os.environ, "DRAFTSMITH_HOME": str(home)}
    arg = json.dumps({k: str(v) for k, v in files.items()})
    done = subprocess.run(
        [sys.executable, "-c", _LOADER, arg], env=env, capture_output=True, text=True, timeout=timeout_s
    )
    f.check(done.returncode == 0, f"load_model crashed the process (exit {done.returncode}): {done.stderr[-300:]}")
    try:
        results = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        results = {}
    for what in files:
        kind, message = results.get(what, ["no result", ""])
        f.check(kind == "ModelError", f"load_model on a {what} file: {kind} {message[:100]}")
        f.check(str(files[what]) in message or "model" in message, f"{what}: the error does not say which file")
    cli = subprocess.run(
        [*CLI, "write", "hi", "--model", str(files["truncated header"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    f.check(cli.returncode == 3, f"draftsmith write --model <truncated gguf>: exit {cli.returncode}, expected 3")
    f.check("Traceback" not in cli.stderr, "the CLI printed a traceback for a truncated model file")
    lines = [line for line in cli.stderr.splitlines() if line.strip()]
    f.check(len(lines) == 1 and lines[0].startswith("error:"), f"the CLI's error is not one line: {lines[:3]}")
    return f


class _FakeDownload:
    status_code = 200
    headers: ClassVar[dict[str, str]] = {"content-length": "8"}

    def __enter__(self) -> _FakeDownload:
        return self

    def __exit__(self, *args: Any) -> None:
        pass

    def iter_bytes(self, size: int) -> Iterator[bytes]:
        yield b"GGUF\x03\x00\x00\x00"


@contextmanager
def _offline_downloads() -> Iterator[None]:
    import httpx

    real = httpx.stream
    httpx.stream = lambda *args, **kwargs: _FakeDownload()  # type: ignore[assignment]
    try:
        yield
    finally:
        httpx.stream = real  # type: ignore[assignment]


def pulled_model_names_stay_in_their_folder(data_dir: Path, pull: Callable[..., Path] | None = None) -> Findings:
    """``models pull REPO FILE`` with a FILE that climbs out (a download answered locally): refused."""
    from draftsmith.errors import ModelError
    from draftsmith.models import catalog

    pull = pull or catalog.pull
    f = Findings("files-pull")
    folder = catalog.local_models_dir()
    outside = Path(tempfile.mkdtemp(prefix="probe-abs-"))
    home = data_dir.parent
    before = _files(home, folder)
    for name in ("../../evil.gguf", "../evil.gguf", str(outside / "evil.gguf"), "sub/../../../evil.gguf"):
        with _offline_downloads():
            try:
                path = pull("probe/repo", name)
                inside = path.resolve().parent == folder.resolve()
                f.check(inside, f"pull(FILE={name!r}) wrote {str(path)!r}, outside {folder}")
            except ModelError:
                f.check(True, name)
            except Exception as exc:
                f.check(False, f"pull(FILE={name!r}): {type(exc).__name__}: {str(exc)[:160]}")
    created = [p for p in _files(home, folder) - before if p.is_file()] + list(outside.iterdir())
    f.check(not created, f"pull wrote outside the models folder: {sorted(map(str, created))[:4]}")
    for path in created:
        path.unlink()
    shutil.rmtree(outside, ignore_errors=True)
    return f


def kb_add_stays_in_the_tree(collect_files: Callable[[list[Path]], Any] | None = None) -> Findings:
    """``kb add FOLDER`` collects the files under FOLDER: a symlink in it that points outside the folder (a
    file or a directory) is not followed."""
    f = Findings("files-kb-symlinks")
    if collect_files is None:
        try:
            from draftsmith.knowledge.kb import collect_files
        except ImportError as exc:
            f.check(False, f"draftsmith.knowledge.kb.collect_files cannot be imported: {exc}")
            return f
    root = Path(tempfile.mkdtemp(prefix="probe-kb-"))
    try:
        tree, outside = root / "tree", root / "outside"
        (tree / "sub").mkdir(parents=True)
        (outside / "private").mkdir(parents=True)
        (tree / "notes.txt").write_text("inside\n")
        (outside / "secret.txt").write_text("outside\n")
        (outside / "private" / "key.md").write_text("outside\n")
        (tree / "leak.txt").symlink_to(outside / "secret.txt")
        (tree / "sub" / "up.md").symlink_to(outside / "private" / "key.md")
        (tree / "linked").symlink_to(outside / "private", target_is_directory=True)
        found = [Path(p).resolve() for p in collect_files([tree])[0]]
        f.check((tree / "notes.txt").resolve() in found, "kb add did not collect the ordinary file (probe broken)")
        escaped = [str(p) for p in found if root / "outside" in p.parents]
        f.check(not escaped, f"kb add followed symlinks out of the folder: {escaped}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return f
