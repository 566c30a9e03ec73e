"""Reading the user's input and writing results: files, stdin, atomic in-place writes, streaming."""

from __future__ import annotations

import sys
from pathlib import Path

from draftsmith.errors import InputError
from draftsmith.files import write_atomic

__all__ = ["read_input", "write_atomic"]


def read_input(path: Path | None, max_chars: int, what: str = "input") -> str:
    """Text from FILE, or stdin when FILE is omitted or '-'. Strict UTF-8 (a BOM is accepted)."""
    if path is None or str(path) == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError(f"no {what}: give a FILE or pipe text on stdin")
        data = sys.stdin.buffer.read(max_chars * 4 + 1)
        source = "stdin"
    else:
        if not path.exists():
            raise InputError(f"{path} does not exist")
        if path.is_dir():
            raise InputError(f"{path} is a folder; give a text file")
        size = path.stat().st_size
        if size > max_chars * 4:
            raise InputError(f"{path} is too large ({size / 1e6:.1f} MB; the limit is {max_chars:,} characters)")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from None
        source = str(path)
    return decode(data, source, max_chars)


def decode(data: bytes, source: str, max_chars: int) -> str:
    if len(data) > max_chars * 4:
        raise InputError(f"{source} is too large (over {max_chars:,} characters)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        data_text = data.decode("utf-16")
    else:
        if b"\x00" in data[:8192]:
            raise InputError(f"{source} looks like a binary file, not text")
        try:
            data_text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{source} is not UTF-8 text (bad byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                "convert it first, e.g. iconv -f GB18030 -t UTF-8"
            ) from None
    if not data_text.strip():
        raise InputError(f"{source} is empty")
    if len(data_text) > max_chars:
        raise InputError(f"{source} is too large ({len(data_text):,} characters; the limit is {max_chars:,})")
    return data_text
