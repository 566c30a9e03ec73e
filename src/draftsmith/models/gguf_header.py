"""Read a GGUF file's header (metadata and tensor table) without loading its weights, and check it is whole.

``gguf.GGUFReader`` builds an array per tensor and per vocabulary entry (seconds on a 262k-token vocabulary);
what quantisation, ``models list`` and the disk-space estimate need is a few metadata keys, each tensor's name,
shape and type, and whether the file is as long as its tensor table says. Format: magic ``GGUF``, version (2 or
3), tensor count, metadata count (uint64), the metadata key/values, the tensor infos, padding to
``general.alignment``, then the tensor data.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from draftsmith.errors import InputError

MAGIC = b"GGUF"
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_KEEP = ("general.architecture", "general.name", "general.file_type", "general.alignment")


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # llama.cpp order: shape[0] is the row length (ne0)
    type: int  # ggml type id

    @property
    def elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def type_name(self) -> str:
        return ggml_type_name(self.type)

    def nbytes(self) -> int:
        import gguf

        block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(self.type)]
        return self.elements // block * size


@dataclass
class GGUFHeader:
    path: Path
    version: int
    metadata: dict[str, Any] = field(default_factory=dict)  # only the keys in _KEEP
    tensors: list[TensorInfo] = field(default_factory=list)
    data_offset: int = 0
    file_size: int = 0

    @property
    def file_type(self) -> int | None:
        value = self.metadata.get("general.file_type")
        return int(value) if value is not None else None


def ggml_type_name(type_id: int) -> str:
    import gguf

    try:
        return gguf.GGMLQuantizationType(type_id).name.lower()
    except ValueError:
        return f"type{type_id}"


def file_type_name(file_type: int | None) -> str | None:
    """llama.cpp's ``general.file_type`` as a short name: 15 → q4_k_m, 1 → f16, 0 → f32."""
    if file_type is None:
        return None
    import gguf

    try:
        name = gguf.LlamaFileType(file_type).name
    except ValueError:
        return f"ftype{file_type}"
    return name.removeprefix("MOSTLY_").removeprefix("ALL_").lower()


def read_header(path: Path, *, tensors: bool = True, check_size: bool = True) -> GGUFHeader:
    """The header of the GGUF at ``path``. Raises InputError for a file that is not GGUF, is damaged or is cut
    short (``check_size``: the tensor data must reach as far as the tensor table says)."""
    path = Path(path)
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    with fh:
        start = fh.read(4)
        if start != MAGIC:
            shown = start.decode("latin-1", "replace") if start else "an empty file"
            raise InputError(
                f"{path} is not a GGUF model file (it starts with {shown!r}, not 'GGUF'); "
                "quantisation needs a .gguf file, e.g. one exported by llama.cpp's convert_hf_to_gguf.py"
            )
        size = path.stat().st_size
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            try:
                return _parse(path, buf, size, tensors, check_size)
            except (struct.error, IndexError, ValueError, UnicodeDecodeError):
                raise InputError(
                    f"{path} is a damaged or truncated GGUF file (its header cannot be read); copy or export it again"
                ) from None


def _parse(path: Path, buf: mmap.mmap, size: int, want_tensors: bool, check_size: bool) -> GGUFHeader:
    pos = 4
    (version,) = struct.unpack_from("<I", buf, pos)
    if version not in (2, 3):
        raise InputError(f"{path} is GGUF version {version}; only versions 2 and 3 are supported")
    n_tensors, n_kv = struct.unpack_from("<QQ", buf, pos + 4)
    pos += 20

    def string(at: int) -> tuple[str, int]:
        (n,) = struct.unpack_from("<Q", buf, at)
        if at + 8 + n > size:
            raise IndexError("string past the end")
        return buf[at + 8 : at + 8 + n].decode("utf-8"), at + 8 + n

    def value(kind: int, at: int, keep: bool) -> tuple[Any, int]:
        if kind == _STRING:
            return string(at)
        if kind == _ARRAY:
            item, count = struct.unpack_from("<IQ", buf, at)
            at += 12
            if item in _SCALARS:  # skip a numeric array in one step
                return None, at + count * struct.calcsize(_SCALARS[item])
            for _ in range(count):
                _, at = value(item, at, False)
            return None, at
        fmt = _SCALARS[kind]
        return (struct.unpack_from(fmt, buf, at)[0] if keep else None), at + struct.calcsize(fmt)

    header = GGUFHeader(path=path, version=version, file_size=size)
    for _ in range(n_kv):
        key, pos = string(pos)
        (kind,) = struct.unpack_from("<I", buf, pos)
        val, pos = value(kind, pos + 4, key in _KEEP)
        if key in _KEEP:
            header.metadata[key] = val
        if not want_tensors and "general.file_type" in header.metadata and "general.architecture" in header.metadata:
            return header
    if not want_tensors:
        return header
    end = 0
    for _ in range(n_tensors):
        name, pos = string(pos)
        (n_dims,) = struct.unpack_from("<I", buf, pos)
        dims = struct.unpack_from(f"<{n_dims}Q", buf, pos + 4)
        kind, offset = struct.unpack_from("<IQ", buf, pos + 4 + 8 * n_dims)
        pos += 4 + 8 * n_dims + 12
        info = TensorInfo(name, tuple(int(d) for d in dims), int(kind))
        header.tensors.append(info)
        end = max(end, offset + info.nbytes())
    align = int(header.metadata.get("general.alignment") or 32)
    header.data_offset = (pos + align - 1) // align * align
    if check_size and header.data_offset + end > size:
        raise InputError(
            f"{path} is truncated: its tensors need {header.data_offset + end:,} bytes but the file has "
            f"{size:,}; the copy or download was cut short, get it again"
        )
    return header
