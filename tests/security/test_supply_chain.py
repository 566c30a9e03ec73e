"""Group 10: the source holds no pickle, no unguarded torch.load or yaml.load, no eval/exec on data; the
dependencies CI installs are the hashed pins of requirements/dev.lock, which covers everything pyproject asks for."""

from __future__ import annotations

from pathlib import Path

from .probes.supply_chain import lock_covers_the_project, no_unsafe_deserialisation, scan_file

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"

BAD = """
import pickle
from torch import load
import numpy as np, yaml, subprocess, torch

torch.load("m.pt")
torch.load("m.pt", weights_only=False)
np.load("a.npy", allow_pickle=True)
yaml.load(text)
yaml.load(text, Loader=yaml.Loader)
yaml.unsafe_load(text)
eval(user_text)
exec(code)
subprocess.run(cmd, shell=True)
AutoModel.from_pretrained(name, trust_remote_code=True)
"""
GOOD = """
import numpy as np, yaml, torch
torch.load("m.pt", weights_only=True, map_location="cpu")
np.load("a.npy", allow_pickle=False)
yaml.safe_load(text)
yaml.load(text, Loader=yaml.SafeLoader)
model.eval()
"""


def test_the_source_has_no_unsafe_deserialisation():
    findings = no_unsafe_deserialisation(SRC)
    assert not findings.failures, findings.summary()


def test_the_scan_finds_each_unsafe_construct(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(BAD)
    found = scan_file(bad)
    assert len(found) == 12, "\n".join(found)
    good = tmp_path / "good.py"
    good.write_text(GOOD)
    assert scan_file(good) == []
    (tmp_path / "pkg").mkdir()
    for i in range(11):
        (tmp_path / "pkg" / f"m{i}.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "bad.py").write_text(BAD)
    findings = no_unsafe_deserialisation(tmp_path / "pkg")
    assert len(findings.failures) == 1 and "pickle" in findings.failures[0]


def test_the_lock_pins_every_dependency_with_hashes():
    findings = lock_covers_the_project(ROOT / "pyproject.toml", ROOT / "requirements" / "dev.lock")
    assert not findings.failures, findings.summary()
    assert findings.total > 100


def test_a_lock_missing_a_dependency_or_a_hash_fails_the_probe(tmp_path):
    lock = (ROOT / "requirements" / "dev.lock").read_text()
    start = lock.index("\nsacrebleu==") + 1
    end = lock.index("\n", lock.index("    # via", start))
    (tmp_path / "dev.lock").write_text(lock[:start] + lock[end + 1 :])
    findings = lock_covers_the_project(ROOT / "pyproject.toml", tmp_path / "dev.lock")
    assert any("sacrebleu" in f for f in findings.failures), findings.summary()
    (tmp_path / "dev.lock").write_text(lock.replace("--hash=sha256:", "--nohash=", 3))
    findings = lock_covers_the_project(ROOT / "pyproject.toml", tmp_path / "dev.lock")
    assert any("without a hash" in f for f in findings.failures), findings.summary()
