#!/usr/bin/env python3
"""Golden dequantized values of every GGUF block type Strata reads, from the `gguf` package.

Writes tests/data/gguf-quants/quants.gguf (architecture "strata-quants-test", no model): for
each type T of Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_NL, IQ4_XS

    <t>.quantized           T    (8, 64): AWKWARD rows quantized by gguf.quants.quantize
                                 (only where the package can quantize T: Q8_0 and Q4_0-Q5_1)
    <t>.quantized.expected  F32  gguf.quants.dequantize of those bytes
    <t>.random              T    (4, 8 blocks): blocks of seeded random bytes whose F16 scale
                                 fields (d, and m / dmin where the type has them) are set to
                                 SCALES in turn: zero, ±65504, ±2^-24 (subnormal), 2^-14,
                                 1, random finite values; every other byte pattern is valid
    <t>.random.expected     F32  gguf.quants.dequantize of those bytes

The `gguf` package is reference tooling only (a venv, never a Strata dependency):

    /usr/bin/python3 -m venv --system-site-packages /work/venv-gguf
    /work/venv-gguf/bin/pip install gguf==0.19.0
    /work/venv-gguf/bin/python tools/reference/gguf_quants_reference.py

tests/test-gguf.c (/data/gguf/quants/*) decodes every T tensor with Strata and compares the
F32 bits with the .expected tensor. The script is deterministic: a rerun gives the same bytes.
"""

import os
import sys

import numpy as np

import gguf
from gguf import GGMLQuantizationType as Q

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
OUT = os.path.join(ROOT, "tests", "data", "gguf-quants", "quants.gguf")

# The last four were added later: appended, so the tensors of the first eight keep their bytes.
TYPES = [Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q4_K, Q.Q5_K, Q.Q6_K, Q.Q2_K, Q.Q3_K, Q.IQ4_NL, Q.IQ4_XS]

# Byte offsets of the F16 scale fields in a block (ggml-common.h).
SCALE_FIELDS = {
    Q.Q8_0: [0], Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2],
    Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208], Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.IQ4_NL: [0],
    Q.IQ4_XS: [0],
}

# F16 bit patterns for the scales: zero, the largest finite values, the smallest subnormals,
# the smallest normal, one; random finite values follow.
SCALES = [0x0000, 0x7BFF, 0xFBFF, 0x0001, 0x8001, 0x0400, 0x3C00, 0xBC00]


def awkward_rows(rng):
    """(8, 64): two 32-value blocks per row, each row a different hard case."""
    rows = np.zeros((8, 64), dtype=np.float32)
    rows[0] = 0.0                                            # all zeros: scale 0
    rows[1] = np.linspace(-6.0e4, 6.0e4, 64)                 # huge, near the F16 limit
    rows[2] = np.linspace(-1.0e-5, 2.0e-5, 64)               # tiny: subnormal F16 scales
    rows[3] = -np.abs(rng.standard_normal(64)) - 0.5         # all negative
    rows[4] = np.abs(rng.standard_normal(64)) + 0.5          # all positive (Q4_0: d < 0)
    rows[5, 7] = 3.0                                         # one spike, zeros elsewhere;
    rows[5, 32:] = 1.25                                      # a constant block (Q4_1: d = 0)
    rows[6] = rng.standard_normal(64) * 0.02                 # weight-like
    rows[7] = np.arange(64) - 31.5                           # a ramp over every level
    return rows


def random_finite_f16(rng):
    while True:
        h = int(rng.integers(0, 1 << 16))
        if (h >> 10) & 0x1F != 0x1F:
            return h


def random_blocks(rng, qtype, n_rows, blocks_per_row):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_rows * blocks_per_row, size), dtype=np.uint8)
    k = 0
    for b in range(raw.shape[0]):
        for off in SCALE_FIELDS[qtype]:
            h = SCALES[k] if k < len(SCALES) else random_finite_f16(rng)
            k += 1
            raw[b, off] = h & 0xFF
            raw[b, off + 1] = h >> 8
    return raw.reshape(n_rows, blocks_per_row * size)


def can_quantize(qtype):
    """gguf 0.19 quantizes Q8_0 and Q4_0-Q5_1; the others it can only dequantize."""
    block, _ = gguf.GGML_QUANT_SIZES[qtype]
    try:
        gguf.quants.quantize(np.zeros((1, block), dtype=np.float32), qtype)
        return True
    except NotImplementedError:
        return False


def main():
    rng = np.random.default_rng(20250601)
    w = gguf.GGUFWriter(OUT, "strata-quants-test")
    w.add_string("general.name", "Strata dequantization goldens")
    w.add_string("general.source.url", "tools/reference/gguf_quants_reference.py")
    tensors = []
    for qtype in TYPES:
        t = qtype.name.lower()
        block, _ = gguf.GGML_QUANT_SIZES[qtype]
        if can_quantize(qtype):
            tensors.append((f"{t}.quantized", gguf.quants.quantize(awkward_rows(rng), qtype), qtype))
        blocks_per_row = 8 if block == 32 else 2
        tensors.append((f"{t}.random", random_blocks(rng, qtype, 4, blocks_per_row), qtype))
    for name, raw, qtype in tensors:
        expected = gguf.quants.dequantize(raw, qtype)
        assert expected.dtype == np.float32 and np.all(np.isfinite(expected)), name
        w.add_tensor(name, raw, raw_dtype=qtype)
        w.add_tensor(f"{name}.expected", expected)
        print(f"{name:18s} {qtype.name:5s} {expected.shape} |max| {np.abs(expected).max():.4g} "
              f"zeros {int((expected == 0).sum())}")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    size = os.path.getsize(OUT)
    assert size < 300_000, size
    print(f"wrote {OUT} ({size} bytes)")


if __name__ == "__main__":
    sys.exit(main())
