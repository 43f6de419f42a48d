"""A small reader of GGUF headers: the model facts a decode roofline needs, without loading it.

GGUF (llama.cpp's model file) starts with ``GGUF``, a version, the tensor and metadata counts,
then typed key/value metadata and one info record per tensor (name, shape, type, offset); the
tensor data follows. Only the header is read, through ``mmap``, so a multi-gigabyte file costs
a few page reads. Versions 2 and 3 (64-bit counts) are read, in either byte order; version 1
(2023, 32-bit counts) is refused. Every length is checked against the file size, so a damaged
file is a :class:`GgufError`, never a huge allocation.
"""

from __future__ import annotations

import math
import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"GGUF"

# Metadata value types (gguf.h: enum gguf_type) → struct format of one item.
_SCALAR_FORMATS = {
    0: "B",  # UINT8
    1: "b",  # INT8
    2: "H",  # UINT16
    3: "h",  # INT16
    4: "I",  # UINT32
    5: "i",  # INT32
    6: "f",  # FLOAT32
    7: "?",  # BOOL
    10: "Q",  # UINT64
    11: "q",  # INT64
    12: "d",  # FLOAT64
}
_STRING = 8
_ARRAY = 9
_MAX_DIMS = 8  # ggml tensors have at most 4 dimensions; anything past 8 is a damaged file

Scalar = int | float | bool | str


class GgufError(ValueError):
    """The file is not a GGUF model this reader understands; the message says why."""


@dataclass(frozen=True)
class GgufArray:
    """A metadata array, kept as its item type and length (tokenizer vocabularies are big)."""

    item_type: int
    length: int


@dataclass(frozen=True)
class GgufTensor:
    """One tensor's info record."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int

    @property
    def elements(self) -> int:
        """Number of elements (parameters) of the tensor."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class GgufHeader:
    """The parsed header of one GGUF file."""

    version: int
    metadata: dict[str, Scalar | GgufArray]
    tensors: list[GgufTensor] = field(default_factory=list)

    @property
    def architecture(self) -> str | None:
        """``general.architecture`` (llama, gemma3, qwen3moe, …)."""
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    @property
    def parameter_count(self) -> int:
        """``general.parameter_count`` when the converter wrote it, else the tensors' elements."""
        value = self.metadata.get("general.parameter_count")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        return sum(t.elements for t in self.tensors)

    @property
    def expert_count(self) -> int:
        """``<arch>.expert_count``; 0 for a dense model (the key is absent or 0)."""
        if self.architecture is None:
            return 0
        value = self.metadata.get(f"{self.architecture}.expert_count")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True)
class ModelFacts:
    """What a cell records about its model's size (see CellInfo.model_size_bytes)."""

    size_bytes: int | None
    parameters: int | None
    expert_count: int | None
    source: str | None


NO_FACTS = ModelFacts(size_bytes=None, parameters=None, expert_count=None, source=None)


class _Cursor:
    """Sequential reads from the mapped file with bounds checks."""

    def __init__(self, data: mmap.mmap | bytes, order: str) -> None:
        self.data = data
        self.order = order
        self.pos = 0

    def take(self, fmt: str) -> tuple[int | float | bool, ...]:
        size = struct.calcsize(self.order + fmt)
        if self.pos + size > len(self.data):
            raise GgufError(f"header ends early at byte {self.pos} (truncated file?)")
        values = struct.unpack_from(self.order + fmt, self.data, self.pos)
        self.pos += size
        return values

    def u32(self) -> int:
        return int(self.take("I")[0])

    def u64(self) -> int:
        return int(self.take("Q")[0])

    def count(self, what: str, item_bytes: int) -> int:
        """A 64-bit count that must fit in what is left of the file."""
        n = self.u64()
        if n * item_bytes > len(self.data) - self.pos:
            raise GgufError(f"{what} count {n} at byte {self.pos - 8} exceeds the file size")
        return n

    def string(self) -> str:
        n = self.count("string length", 1)
        raw = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def skip(self, n: int) -> None:
        if self.pos + n > len(self.data):
            raise GgufError(f"header ends early at byte {self.pos} (truncated file?)")
        self.pos += n

    def _skip_strings(self, n: int) -> None:
        """Skip ``n`` length-prefixed strings (a vocabulary: 10⁵ of them, so a tight loop)."""
        unpack = struct.Struct(self.order + "Q").unpack_from
        data, pos, end = self.data, self.pos, len(self.data)
        for _ in range(n):
            if pos + 8 > end:
                break
            pos += 8 + unpack(data, pos)[0]
        else:
            if pos <= end:
                self.pos = pos
                return
        raise GgufError(f"string array at byte {self.pos} runs past the end of the file")

    def value(self, vtype: int) -> Scalar | GgufArray:
        if vtype in _SCALAR_FORMATS:
            value = self.take(_SCALAR_FORMATS[vtype])[0]
            return value
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            item_type = self.u32()
            if item_type in _SCALAR_FORMATS:
                item = struct.calcsize(self.order + _SCALAR_FORMATS[item_type])
                length = self.count("array", item)
                self.skip(length * item)
            elif item_type == _STRING:
                length = self.count("array", 8)
                self._skip_strings(length)
            else:  # nested arrays: no model writes them, and skipping them needs recursion
                raise GgufError(f"unsupported array item type {item_type} at byte {self.pos}")
            return GgufArray(item_type=item_type, length=length)
        raise GgufError(f"unknown metadata value type {vtype} at byte {self.pos - 4}")


def read_header(path: Path) -> GgufHeader:
    """Parse the header of the GGUF file at ``path``; raise GgufError (or OSError) if unusable."""
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8 or head[:4] != MAGIC:
            raise GgufError(f"{path.name}: not a GGUF file (no 'GGUF' magic)")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _parse(data, path.name)


def _parse(data: mmap.mmap | bytes, name: str) -> GgufHeader:
    order = "<"
    (version,) = struct.unpack_from("<I", data, 4)
    if version > 0xFFFF:  # a big-endian file reads as a byte-swapped version number
        order = ">"
        (version,) = struct.unpack_from(">I", data, 4)
    if version not in (2, 3):
        raise GgufError(f"{name}: GGUF version {version} is not supported (2 and 3 are)")
    cur = _Cursor(data, order)
    cur.pos = 8
    n_tensors = cur.count("tensor", 8)
    n_kv = cur.count("metadata", 12)
    metadata: dict[str, Scalar | GgufArray] = {}
    for _ in range(n_kv):
        key = cur.string()
        metadata[key] = cur.value(cur.u32())
    tensors = []
    for _ in range(n_tensors):
        tname = cur.string()
        n_dims = cur.u32()
        if n_dims > _MAX_DIMS:
            raise GgufError(f"{name}: tensor {tname!r} claims {n_dims} dimensions")
        shape = tuple(cur.u64() for _ in range(n_dims))
        ggml_type = cur.u32()
        cur.u64()  # data offset: not needed
        tensors.append(GgufTensor(name=tname, shape=shape, ggml_type=ggml_type))
    return GgufHeader(version=version, metadata=metadata, tensors=tensors)


def gguf_model_facts(path: Path) -> ModelFacts:
    """Size, parameters and experts of a local GGUF model file; NO_FACTS when it is unreadable.

    The size is the file's size: a dense model reads nearly all of it for each decoded token
    (the tokenizer and metadata are small next to the tensors). An unreadable or damaged file
    gives no facts rather than an error: the engine that loads it reports that failure.
    """
    try:
        size = path.stat().st_size
        header = read_header(path)
    except (OSError, GgufError):
        return NO_FACTS
    return ModelFacts(
        size_bytes=size,
        parameters=header.parameter_count,
        expert_count=header.expert_count,
        source="gguf_file",
    )
