"""Minimal safetensors writer and reader, so the reference scripts need nothing beyond numpy.

Format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
length, a JSON header padded with spaces to a multiple of 8, then the raw little-endian
tensor bytes back to back. Tensors are written in the order given and the JSON keys keep
that order, so the same input always gives the same bytes.
"""

import json
import struct

import numpy as np

# safetensors dtype name -> numpy dtype of the raw bytes. BF16 has no numpy dtype: callers
# pass its bit patterns as uint16.
_DTYPES = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I32": np.dtype("<i4"),
}


def write(path, tensors, metadata=None):
    """tensors: list of (name, dtype, array), dtype one of _DTYPES."""
    header = {"__metadata__": metadata or {"format": "pt"}}
    blobs = []
    offset = 0
    for name, dtype, arr in tensors:
        raw = np.ascontiguousarray(arr, dtype=_DTYPES[dtype]).tobytes()
        header[name] = {
            "dtype": dtype,
            "shape": [int(s) for s in np.shape(arr)],
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def read(path):
    """name -> numpy array of a safetensors file: F32, F16 and BF16 as float32 (exactly), I32
    as int32, in the stored shapes."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = np.frombuffer(data[a:b], _DTYPES[info["dtype"]])
        if info["dtype"] == "BF16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] == "F16":
            raw = raw.astype(np.float32)
        out[name] = raw.reshape(info["shape"]).copy()
    return out
