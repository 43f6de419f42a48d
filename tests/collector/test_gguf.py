"""The GGUF header reader: the bundled model file, and small files written here byte by byte.

The bundled Gemma 3 270M is checked against llama.cpp's own count (llama-cpp-python loads the
file and reports ``n_params``), so the reader is compared with an independent implementation,
not with itself. The synthetic files cover what the bundled one does not: big-endian files,
``general.parameter_count``, mixture-of-experts keys and damaged headers.
"""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import pytest

from collector.engines.gguf import (
    NO_FACTS,
    GgufArray,
    GgufError,
    gguf_model_facts,
    read_header,
)

# --------------------------------------------------------------------------- a tiny writer

_U32, _F32, _STRING, _ARRAY, _U64 = 4, 6, 8, 9, 10


def _gguf(
    metadata: list[tuple[str, int, object]],
    tensors: list[tuple[str, tuple[int, ...], int]],
    *,
    order: str = "<",
    version: int = 3,
) -> bytes:
    """A GGUF header in the layout of gguf.h (values: (key, type, value))."""

    def string(text: str) -> bytes:
        raw = text.encode()
        return struct.pack(order + "Q", len(raw)) + raw

    def value(vtype: int, item: object) -> bytes:
        if vtype == _STRING:
            assert isinstance(item, str)
            return string(item)
        if vtype == _ARRAY:
            item_type, items = item  # type: ignore[misc]
            body = b"".join(value(item_type, i) for i in items)
            return struct.pack(order + "IQ", item_type, len(items)) + body
        fmt = {_U32: "I", _F32: "f", _U64: "Q"}[vtype]
        return struct.pack(order + fmt, item)

    out = b"GGUF" + struct.pack(order + "IQQ", version, len(tensors), len(metadata))
    for key, vtype, item in metadata:
        out += string(key) + struct.pack(order + "I", vtype) + value(vtype, item)
    offset = 0
    for name, shape, ggml_type in tensors:
        out += string(name) + struct.pack(order + "I", len(shape))
        out += b"".join(struct.pack(order + "Q", d) for d in shape)
        out += struct.pack(order + "IQ", ggml_type, offset)
        offset += 32
    return out + b"\0" * offset


DENSE = [
    ("general.architecture", _STRING, "llama"),
    ("llama.block_count", _U32, 2),
    ("llama.rope.freq_base", _F32, 10000.0),
    ("tokenizer.ggml.tokens", _ARRAY, (_STRING, ["<s>", "</s>", "hello", "wörld"])),
    ("tokenizer.ggml.scores", _ARRAY, (_F32, [0.0, 0.0, -1.5, -2.5])),
]
TENSORS = [("token_embd.weight", (64, 4), 0), ("blk.0.ffn_up.weight", (64, 128), 12)]


def test_dense_header_sums_tensor_elements(tmp_path: Path) -> None:
    path = tmp_path / "dense.gguf"
    path.write_bytes(_gguf(DENSE, TENSORS))
    header = read_header(path)
    assert header.version == 3 and header.architecture == "llama"
    assert header.metadata["llama.block_count"] == 2
    assert header.metadata["tokenizer.ggml.tokens"] == GgufArray(item_type=_STRING, length=4)
    assert [t.shape for t in header.tensors] == [(64, 4), (64, 128)]
    assert header.parameter_count == 64 * 4 + 64 * 128
    assert header.expert_count == 0
    facts = gguf_model_facts(path)
    assert facts.size_bytes == path.stat().st_size and facts.source == "gguf_file"
    assert facts.parameters == 64 * 4 + 64 * 128 and facts.expert_count == 0


def test_parameter_count_key_wins_and_moe_experts_big_endian(tmp_path: Path) -> None:
    """A big-endian file (s390x conversions) with general.parameter_count and 8 experts."""
    metadata = [
        ("general.architecture", _STRING, "qwen3moe"),
        ("general.parameter_count", _U64, 30_532_122_624),
        ("qwen3moe.expert_count", _U32, 8),
        ("qwen3moe.expert_used_count", _U32, 2),
    ]
    path = tmp_path / "moe.gguf"
    path.write_bytes(_gguf(metadata, TENSORS, order=">"))
    header = read_header(path)
    assert header.parameter_count == 30_532_122_624  # the key, not the tensors' 8448
    assert header.expert_count == 8
    assert gguf_model_facts(path).expert_count == 8


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b"GGML" + b[4:], "no 'GGUF' magic"),
        (lambda b: b[:4] + struct.pack("<I", 1) + b[8:], "version 1 is not supported"),
        (lambda b: b[:60], "ends early|exceeds the file size|past the end"),
        # a tensor count of 2^40 must be refused before anything is allocated
        (lambda b: b[:8] + struct.pack("<Q", 1 << 40) + b[16:], "tensor count"),
    ],
    ids=["magic", "version-1", "truncated", "huge-count"],
)
def test_damaged_headers_are_gguf_errors(tmp_path: Path, damage: object, message: str) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(damage(_gguf(DENSE, TENSORS)))  # type: ignore[operator]
    with pytest.raises(GgufError, match=message):
        read_header(path)
    assert gguf_model_facts(path) == NO_FACTS


def test_string_array_running_past_the_end(tmp_path: Path) -> None:
    raw = _gguf([("tokenizer.ggml.tokens", _ARRAY, (_STRING, ["a", "b"]))], [])
    # make the second string claim 1 GB
    cut = raw.rindex(struct.pack("<Q", 1) + b"b")
    path = tmp_path / "bad.gguf"
    path.write_bytes(raw[:cut] + struct.pack("<Q", 10**9) + b"b")
    with pytest.raises(GgufError, match="past the end"):
        read_header(path)


def test_missing_file_gives_no_facts(tmp_path: Path) -> None:
    assert gguf_model_facts(tmp_path / "absent.gguf") == NO_FACTS


@pytest.mark.slow
def test_bundled_model_matches_llama_cpp() -> None:
    """The bundled Gemma 3 270M: parameters as llama.cpp counts them, size = the file."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install 'bakeoff[local]')")
    from llama_cpp import Llama

    from collector.engines.managed import embedded_model

    path = embedded_model().path
    header = read_header(path)
    assert header.architecture == "gemma3" and header.expert_count == 0
    facts = gguf_model_facts(path)
    assert facts.size_bytes == path.stat().st_size

    model = Llama(str(path), n_ctx=32, verbose=False)
    try:
        assert facts.parameters == model._model.n_params()  # 268,098,176
        # llama.cpp's model size counts tensor bytes only: the file adds the header (tokenizer)
        assert 0 < facts.size_bytes - model._model.size() < 0.05 * facts.size_bytes
    finally:
        model.close()
