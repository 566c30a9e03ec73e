"""The editor's CodeMirror bundle (``web/vendor/codemirror.js``, built by ``web-src/``) is the one the committed npm
lock describes: every package its header names at the locked version, exact pins with integrity hashes, each
licence shipped next to it, and the package data of the wheel includes it. No npm and no network: the files only."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB_SRC = ROOT / "web-src"
VENDOR = ROOT / "src/draftsmith/web/vendor"
BUNDLE = VENDOR / "codemirror.js"
HEADER_PACKAGE = re.compile(r"^ \* (@?[\w./-]+)@(\d[\w.+-]*) \(([^)]+)\)$", re.M)


def header() -> str:
    text = BUNDLE.read_text(encoding="utf-8")
    assert text.startswith("/*"), "the bundle lost its header comment"
    return text[: text.index("*/") + 2]


def lock() -> dict[str, dict]:
    return json.loads((WEB_SRC / "package-lock.json").read_text(encoding="utf-8"))["packages"]


def test_the_bundle_header_names_the_locked_versions():
    packages = lock()
    named = HEADER_PACKAGE.findall(header())
    assert len(named) >= 6, header()
    for name, version, licence in named:
        locked = packages.get(f"node_modules/{name}")
        assert locked, f"{name} is in the bundle but not in package-lock.json"
        assert locked["version"] == version, f"{name}: bundle {version}, lock {locked['version']}"
        assert locked.get("license") == licence == "MIT", (name, licence)
    esbuild = re.search(r"with esbuild (\S+)\.", header())
    assert esbuild and esbuild.group(1) == packages["node_modules/esbuild"]["version"]


def test_direct_dependencies_are_exact_pins_and_every_locked_package_has_an_integrity_hash():
    manifest = json.loads((WEB_SRC / "package.json").read_text(encoding="utf-8"))
    packages = lock()
    in_bundle = {name for name, _, _ in HEADER_PACKAGE.findall(header())}
    for name, spec in {**manifest["dependencies"], **manifest["devDependencies"]}.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", spec), f"{name}: {spec!r} is not an exact version"
        assert packages[f"node_modules/{name}"]["version"] == spec, name
    assert set(manifest["dependencies"]) <= in_bundle  # nothing pinned that the bundle does not hold
    for path, entry in packages.items():
        if path:
            assert entry.get("integrity", "").startswith("sha512-"), path
            assert entry.get("resolved", "").startswith("https://registry.npmjs.org/"), path


def test_the_licences_of_the_bundled_packages_ship_with_it():
    licences = (VENDOR / "LICENSES.txt").read_text(encoding="utf-8")
    for name, version, _ in HEADER_PACKAGE.findall(header()):
        assert f"\n{name}@{version} (MIT)\n" in licences, name
    assert licences.count("Permission is hereby granted, free of charge") >= len(HEADER_PACKAGE.findall(header()))


def test_the_bundle_is_one_self_contained_module_shipped_in_the_package():
    code = BUNDLE.read_text(encoding="utf-8")
    assert not re.search(r"""(?:^|[;})\s])import\s*[("'{*]""", code), "imports left: not self-contained"
    assert "sourceMappingURL" not in code and "http://" not in header() and "https://" not in header()
    assert 100_000 < len(code.encode()) < 600_000  # minified CodeMirror, not a stub, not a dev build
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    patterns = data["draftsmith"]
    assert "web/vendor/**/*" in patterns and "web/*.*" in patterns, patterns
    assert "web-src/node_modules/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_every_name_the_editor_imports_from_the_bundle_is_exported_by_it():
    code = BUNDLE.read_text(encoding="utf-8")
    exports = re.search(r"export\s*\{([^}]*)\};?\s*$", code)
    assert exports, "no export list at the end of the bundle"
    exported = {part.split(" as ")[-1].strip() for part in exports.group(1).split(",")}
    imported: set[str] = set()
    for module in (ROOT / "src/draftsmith/web").glob("*.js"):
        for names in re.findall(r'import\s*\{([^}]*)\}\s*from\s*"\./vendor/codemirror\.js"', module.read_text()):
            imported |= {n.strip() for n in names.split(",") if n.strip()}
    assert imported, "the editor imports nothing from the bundle"
    assert imported <= exported, sorted(imported - exported)
