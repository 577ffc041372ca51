#!/usr/bin/env python3
"""Quantized copies of the stories260K GGUF, and reference logits of what they hold.

Reads tests/data/stories260K-gguf/stories260K.gguf (F32) and writes, for Q8_0 and Q4_0,

  tests/data/stories260K-gguf/stories260K-<t>.gguf
      every key/value of the original (tokenizer included) but general.file_type, which
      becomes MOSTLY_Q8_0 (7) or MOSTLY_Q4_0 (2), plus general.quantization_version 2;
      every 2-D tensor whose rows are whole 32-value blocks quantized by
      gguf.quants.quantize (llama.cpp's reference quantizers, bit for bit); ffn_down, whose
      rows hold 172 values, stored F16 (llama.cpp's fallback for rows that are not whole
      blocks); 1-D tensors (norms) F32, as llama.cpp keeps them. output.weight, an exact
      copy of token_embd.weight in the original, is left out (the model becomes tied, the
      same function) so that the Q8_0 file stays near 300 KB;

  tests/data/golden/stories260K-<t>-logits.safetensors
      tokens (1, 16) I32, logits (1, 16, 512) F32: a float64 numpy forward with llama2.c
      run.c semantics (stories260k_reference.forward) over the weights gguf.quants.dequantize
      gives for the quantized file; greedy (40,) I32, its argmax continuation of BOS.

It also prints, against the same forward on the F32 original, the largest logit difference
and how many greedy tokens agree: the quantization error the C tests bound
(tests/test-gguf.c, /data/gguf/stories/*). The K types (Q4_K, Q5_K, Q6_K) are not written:
the gguf package (0.19) cannot quantize them, and this model's rows (64 and 172 values)
are not whole 256-value super-blocks anyway.

    /work/venv-gguf/bin/python tools/reference/gguf_quantize_stories.py
"""

import os
import sys

import numpy as np

import gguf
from gguf import GGMLQuantizationType as Q

import st_write
import stories260k_reference as ref

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
SRC = os.path.join(ROOT, "tests", "data", "stories260K-gguf", "stories260K.gguf")

TARGETS = {Q.Q8_0: gguf.LlamaFileType.MOSTLY_Q8_0, Q.Q4_0: gguf.LlamaFileType.MOSTLY_Q4_0}


def stored_type(name, arr, qtype):
    if arr.ndim == 1:
        return Q.F32
    block, _ = gguf.GGML_QUANT_SIZES[qtype]
    return qtype if arr.shape[-1] % block == 0 else Q.F16


def write_quantized(reader, qtype, path):
    w = gguf.GGUFWriter(path, reader.fields["general.architecture"].contents())
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in ("general.architecture", "general.file_type"):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(field.name, field.contents(), vtype, sub_type=sub)
    w.add_file_type(TARGETS[qtype])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    weights = {}
    for t in reader.tensors:
        if t.name == "output.weight":
            continue
        arr = np.array(t.data, dtype=np.float32)  # (rows, cols), rows outermost
        st = stored_type(t.name, arr, qtype)
        if st == Q.F32:
            data = arr
        elif st == Q.F16:
            data = arr.astype(np.float16)
        else:
            data = gguf.quants.quantize(arr, st)
        w.add_tensor(t.name, data, raw_dtype=st if st not in (Q.F32, Q.F16) else None)
        weights[t.name] = gguf.quants.dequantize(data, st).astype(np.float64).reshape(arr.shape)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return weights


def model_of(weights, reader):
    """The dict stories260k_reference.forward takes, from GGUF tensors (F32 values)."""
    kv = lambda k: int(reader.fields[k].contents())
    L, H, K = kv("llama.block_count"), kv("llama.attention.head_count"), kv("llama.attention.head_count_kv")
    C = kv("llama.embedding_length")
    stack = lambda n: np.stack([weights[f"blk.{l}.{n}.weight"] for l in range(L)])
    m = dict(dim=C, hidden=kv("llama.feed_forward_length"), L=L, H=H, K=K, V=weights["token_embd.weight"].shape[0],
             D=C // H)
    m.update(emb=weights["token_embd.weight"], rms_att=stack("attn_norm"), wq=stack("attn_q"), wk=stack("attn_k"),
             wv=stack("attn_v"), wo=stack("attn_output"), rms_ffn=stack("ffn_norm"), w1=stack("ffn_gate"),
             w2=stack("ffn_down"), w3=stack("ffn_up"), rms_final=weights["output_norm.weight"])
    m["wcls"] = weights.get("output.weight", m["emb"])
    return m


def main():
    reader = gguf.GGUFReader(SRC)
    original = {t.name: np.array(t.data, dtype=np.float64) for t in reader.tensors}
    assert np.array_equal(original["output.weight"], original["token_embd.weight"])
    ids = np.array(ref.TOKENS)
    base = model_of(original, reader)
    base_logits, _ = ref.forward(base, ids)
    base_greedy, _ = ref.greedy(base, ref.N_GREEDY)
    for qtype in TARGETS:
        t = qtype.name.lower()
        path = os.path.join(ROOT, "tests", "data", "stories260K-gguf", f"stories260K-{t}.gguf")
        weights = write_quantized(reader, qtype, path)
        m = model_of(weights, reader)
        logits, _ = ref.forward(m, ids)
        cont, gap = ref.greedy(m, ref.N_GREEDY)
        agree = next((i for i, (a, b) in enumerate(zip(cont, base_greedy)) if a != b), len(cont))
        out = os.path.join(ROOT, "tests", "data", "golden", f"stories260K-{t}-logits.safetensors")
        T = len(ids)
        st_write.write(out, [("tokens", "I32", ids.reshape(1, T).astype(np.int32)),
                             ("logits", "F32", logits.reshape(1, T, -1).astype(np.float32)),
                             ("greedy", "I32", np.array(cont, dtype=np.int32))],
                       {"format": "pt", "source": "tools/reference/gguf_quantize_stories.py",
                        "reference": f"float64 numpy, llama2.c run.c semantics, {qtype.name} weights dequantized by gguf-py"})
        size = os.path.getsize(path)
        print(f"{qtype.name}: {path} {size} bytes; max |logits - F32 logits| {np.abs(logits - base_logits).max():.4f} "
              f"(logits up to {np.abs(base_logits).max():.2f}); greedy agrees for {agree} of {len(cont)} tokens; "
              f"smallest top-2 gap {gap:.4f}")
        assert size < 350_000, size


if __name__ == "__main__":
    sys.exit(main())
