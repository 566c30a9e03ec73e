"""Writing files so that a crash or a second writer never leaves half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves either the old or the new file, never half. The
    temporary file has a unique name, so two processes writing the same path at once do not trip over each other
    (two bench runs saving the same style did: ``FileNotFoundError`` on the shared ``.tmp``); the last one wins."""
    directory = path.resolve().parent  # (the caller makes it: a missing folder is the user's to fix)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
