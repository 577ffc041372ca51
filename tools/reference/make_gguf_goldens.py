#!/usr/bin/env python3
"""The seeded HF goldens of make_goldens.py, converted to GGUF as llama.cpp converts them.

Writes tests/data/gguf-arch/<name>.gguf from tests/data/golden/<name>/ for

    neox          gptneox  F32   parallel residual, rotary 2 of 8 dims
    neox-seq-f16  gptneox  F16   sequential residual (use_parallel_residual false), 4 of 8
    qwen2-bias    qwen2    F32   q/k/v biases, 1 kv head, tied (no output.weight), theta 1e6

following llama.cpp's convert_hf_to_gguf.py (checked against ggml-org/llama.cpp master,
GPTNeoXModel and Qwen2Model / TextModel.set_gguf_parameters) key for key and tensor for
tensor:
  * tensor names through gguf.get_tensor_name_map(arch), as the converter maps them;
  * GPT-NeoX: query_key_value (H*3*D, C), per head [q_h; k_h; v_h], is regrouped to
    [W_Q; W_K; W_V] (reshape (H, 3, D, C), then q, k, v parts concatenated), its bias the
    same way; no permutation of q/k rows (llama.cpp runs gptneox with NEOX rope);
    keys context_length, embedding_length, block_count, feed_forward_length,
    rope.dimension_count = int(rotary_pct * (hidden_size // num_attention_heads)),
    attention.head_count, use_parallel_residual, attention.layer_norm_epsilon;
  * Qwen2: weights as stored (no permutation: NEOX rope); keys context_length,
    embedding_length, block_count, feed_forward_length, attention.head_count,
    attention.head_count_kv, rope.freq_base, attention.layer_norm_rms_epsilon,
    attention.key_length and value_length (config.json has head_dim); a tied model has no
    lm_head.weight and so no output.weight;
  * --outtype f32 writes every tensor F32; --outtype f16 writes matrices F16 and 1-D
    tensors (norms, biases) F32; general.file_type 0 (ALL_F32) or 1 (MOSTLY_F16).

The HF goldens have no tokenizer, which the converter needs; each file gets a synthetic
gpt2-style vocabulary in its place (tokenizer.ggml.model "gpt2", tokenizer.ggml.pre
"gpt-2" or "qwen2", V pieces of GPT-2's byte alphabet, no merges, the config's bos/eos),
so the files carry the keys a real conversion writes and Strata's note about BPE
vocabularies in GGUF is exercised.

    /work/venv-gguf/bin/python tools/reference/make_gguf_goldens.py

tests/test-gguf.c (/data/gguf/arch/*) opens each file and its HF folder and requires the
same logits bit for bit, and the golden's logits within 1e-4. Deterministic: a rerun gives
the same bytes.
"""

import json
import os
import sys

import numpy as np

import gguf

import st_write

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
GOLDEN = os.path.join(ROOT, "tests", "data", "golden")
OUT = os.path.join(ROOT, "tests", "data", "gguf-arch")

MODELS = {
    "neox": ("gptneox", "f32", "gpt-2"),
    "neox-seq-f16": ("gptneox", "f16", "gpt-2"),
    "qwen2-bias": ("qwen2", "f32", "qwen2"),
}


def byte_alphabet():
    """GPT-2's bytes_to_unicode characters, in byte order of the printable ones first."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def neox_tensors(p, cfg):
    H, C = cfg["num_attention_heads"], cfg["hidden_size"]
    D = C // H
    for name, t in p.items():
        if name.endswith("attention.query_key_value.weight"):
            w = t.reshape(H, 3, D, C)
            t = np.concatenate([w[:, 0].reshape(-1, C), w[:, 1].reshape(-1, C), w[:, 2].reshape(-1, C)], axis=0)
        elif name.endswith("attention.query_key_value.bias"):
            b = t.reshape(H, 3, D)
            t = np.concatenate([b[:, 0].reshape(-1), b[:, 1].reshape(-1), b[:, 2].reshape(-1)])
        yield name, t


def neox_keys(w, cfg):
    H, C = cfg["num_attention_heads"], cfg["hidden_size"]
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(C)
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_rope_dimension_count(int(cfg["rotary_pct"] * (C // H)))
    w.add_head_count(H)
    w.add_parallel_residual(cfg.get("use_parallel_residual", True))
    w.add_layer_norm_eps(cfg["layer_norm_eps"])


def qwen2_tensors(p, cfg):
    yield from p.items()


def qwen2_keys(w, cfg):
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    if "head_dim" in cfg:
        w.add_key_length(cfg["head_dim"])
        w.add_value_length(cfg["head_dim"])


ARCHS = {
    "gptneox": (gguf.MODEL_ARCH.GPTNEOX, neox_tensors, neox_keys),
    "qwen2": (gguf.MODEL_ARCH.QWEN2, qwen2_tensors, qwen2_keys),
}


def convert(name, arch, outtype, pre):
    src = os.path.join(GOLDEN, name)
    cfg = json.load(open(os.path.join(src, "config.json")))
    params = st_write.read(os.path.join(src, "model.safetensors"))
    model_arch, tensors, keys = ARCHS[arch]
    tmap = gguf.get_tensor_name_map(model_arch, cfg["num_hidden_layers"])
    path = os.path.join(OUT, f"{name}.gguf")
    w = gguf.GGUFWriter(path, arch)
    w.add_name(name)
    keys(w, cfg)
    w.add_file_type(gguf.LlamaFileType.ALL_F32 if outtype == "f32" else gguf.LlamaFileType.MOSTLY_F16)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    V = cfg["vocab_size"]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(byte_alphabet()[:V])
    w.add_token_types([gguf.TokenType.NORMAL] * V)
    w.add_token_merges([])
    w.add_bos_token_id(cfg["bos_token_id"])
    w.add_eos_token_id(cfg["eos_token_id"])
    for hf_name, t in tensors(params, cfg):
        gname = tmap.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        assert gname is not None, hf_name
        t = np.ascontiguousarray(t, dtype=np.float32)
        if outtype == "f16" and t.ndim > 1:
            t16 = t.astype(np.float16)
            assert np.array_equal(t16.astype(np.float32), t), f"{hf_name} is not F16-exact"
            t = t16
        w.add_tensor(gname, t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    size = os.path.getsize(path)
    assert size < 300_000, size
    print(f"{path}: {size} bytes, {len(params)} tensors")


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, (arch, outtype, pre) in MODELS.items():
        convert(name, arch, outtype, pre)


if __name__ == "__main__":
    sys.exit(main())
