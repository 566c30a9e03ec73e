"""Group 10: the source holds no pickle, no unguarded torch.load or yaml.load, no eval/exec on data."""

from __future__ import annotations

from pathlib import Path

from .probes.supply_chain import no_unsafe_deserialisation, scan_file

SRC = Path(__file__).resolve().parents[2] / "src"

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
