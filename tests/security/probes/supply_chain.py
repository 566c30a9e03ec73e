"""Group 10, supply chain: the source never deserialises code-carrying formats or evaluates data. An AST scan of
``src/`` (so ``model.eval()`` and comments do not count) for pickle and its relatives, ``torch.load`` without
``weights_only=True``, ``numpy.load(allow_pickle=True)``, ``yaml.load`` without a safe loader, ``eval``/``exec``,
``subprocess`` with ``shell=True`` and ``trust_remote_code=True``."""

from __future__ import annotations

import ast
from pathlib import Path

from .core import Findings

UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "marshal", "joblib"}
UNSAFE_CALLS = {"yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all", "yaml.full_load_all"}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}
# (file suffix, line) pairs a reviewer has judged safe, with the reason; none today.
ALLOWED: dict[tuple[str, int], str] = {}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def scan_file(path: Path, text: str | None = None) -> list[str]:
    """The unsafe constructs in one Python file, as ``path:line: what``."""
    text = path.read_text(encoding="utf-8") if text is None else text
    tree = ast.parse(text, filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in UNSAFE_MODULES:
                    found.append((node.lineno, f"imports {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
            found.append((node.lineno, f"imports from {node.module}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "torch" and any(a.name == "load" for a in node.names):
            found.append((node.lineno, "imports torch's load by name (hides it from this scan)"))
        elif isinstance(node, ast.Call):
            name = _name(node.func)
            last = name.rsplit(".", 1)[-1]
            if isinstance(node.func, ast.Name) and name in ("eval", "exec", "compile", "__import__"):
                found.append((node.lineno, f"calls {name}()"))
            elif name == "torch.load" or name.endswith(".torch.load"):
                if not _is_true(_keyword(node, "weights_only")):
                    found.append((node.lineno, "torch.load without weights_only=True"))
            elif last == "load" and name.split(".")[0] in ("np", "numpy") and _is_true(_keyword(node, "allow_pickle")):
                found.append((node.lineno, "numpy.load(allow_pickle=True)"))
            elif name in ("yaml.load", "yaml.load_all"):
                loader = _keyword(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
                if loader is None or _name(loader).rsplit(".", 1)[-1] not in SAFE_YAML_LOADERS:
                    found.append((node.lineno, f"{name} without a safe loader"))
            elif name in UNSAFE_CALLS or (last == "read_pickle" and name.split(".")[0] in ("pd", "pandas")):
                found.append((node.lineno, f"calls {name}"))
            if _is_true(_keyword(node, "shell")) and name.split(".")[0] in ("subprocess", "os", "sp"):
                found.append((node.lineno, f"{name}(shell=True)"))
            if _is_true(_keyword(node, "trust_remote_code")):
                found.append((node.lineno, f"{name}(trust_remote_code=True)"))
    return [
        f"{path}:{line}: {what}"
        for line, what in sorted(found)
        if not any(str(path).endswith(suffix) and line == n for suffix, n in ALLOWED)
    ]


def no_unsafe_deserialisation(root: Path) -> Findings:
    f = Findings("supply-chain")
    files = sorted(root.rglob("*.py"))
    f.check(len(files) > 10, f"only {len(files)} Python files under {root}; wrong folder?")
    for path in files:
        problems = scan_file(path)
        f.check(not problems, "; ".join(problems))
    return f


# -- the lock ---------------------------------------------------------------------------------------------------


def _dist_name(requirement: str) -> str:
    import re

    return re.split(r"[\s\[<>=!~;@]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def lock_covers_the_project(pyproject: Path, lock: Path, extra: str = "dev") -> Findings:
    """Every requirement of ``extra`` (following the project's references to its own extras) is pinned in the
    lock with ``==`` and at least one sha256 hash, and every locked package carries hashes."""
    import re
    import tomllib

    f = Findings("supply-chain-lock")
    project = tomllib.loads(pyproject.read_text())["project"]
    own, extras = project["name"].lower(), project.get("optional-dependencies", {})
    wanted, todo, seen = set(), [extra], set()
    for req in project.get("dependencies", []):
        wanted.add(_dist_name(req))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for req in extras.get(name, []):
            if _dist_name(req) == own:
                todo.extend(x.strip() for x in re.search(r"\[(.*)\]", req).group(1).split(","))
            else:
                wanted.add(_dist_name(req))
    pinned: dict[str, int] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", lock.read_text()):
        head = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==\S+", block)
        if head:
            pinned[_dist_name(head.group(1))] = block.count("--hash=sha256:")
    for name in sorted(wanted):
        f.check(name in pinned, f"{name} is required by the '{extra}' extra but not pinned in {lock.name} (.ci/lock)")
    for name, hashes in sorted(pinned.items()):
        f.check(hashes > 0, f"{name} is locked without a hash")
    return f
