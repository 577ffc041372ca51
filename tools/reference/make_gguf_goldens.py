#!/usr/bin/env python3
"""The seeded HF goldens of make_goldens.py, converted to GGUF as llama.cpp converts them.

Writes tests/data/gguf-arch/<name>.gguf from tests/data/golden/<name>/ for

    neox            gptneox  F32   parallel residual, rotary 2 of 8 dims
    neox-seq-f16    gptneox  F16   sequential residual (use_parallel_residual false), 4 of 8
    qwen2-bias      qwen2    F32   q/k/v biases, 1 kv head, tied (no output.weight), theta 1e6
    gemma2-headdim  gemma2   F32   norms stored as 1 + w, soft-caps, window 4 on even layers,
                                   query_pre_attn_scalar = head_dim (what the file can carry)
    gemma2-window   gemma2   F32   the same with query_pre_attn_scalar 12 != head_dim 16
    qwen3-qknorm    qwen3    BF16  per-head q/k norms, key_length 16 != C/H, tied
    olmo2-postnorm  olmo2    F32   post-norms only, q/k norms over all heads, untied
    phi3-fused      phi3     F16   fused attn_qkv and ffn_up ([gate; up]), sliding_window 2047

and gemma2-46layers.gguf, a seeded random Gemma 2 with the 27B's 46 layers (GEMMA2_46),
following llama.cpp's convert_hf_to_gguf.py (checked against the copy vendored in
llama-cpp-python 0.3.36: GPTNeoXModel, Qwen2Model, Gemma2Model, Qwen3Model, Olmo2Model,
Phi3MiniModel and TextModel.set_gguf_parameters) key for key and tensor for tensor:
  * tensor names through gguf.get_tensor_name_map(arch), as the converter maps them;
  * GPT-NeoX: query_key_value (H*3*D, C), per head [q_h; k_h; v_h], is regrouped to
    [W_Q; W_K; W_V] (reshape (H, 3, D, C), then q, k, v parts concatenated), its bias the
    same way; no permutation of q/k rows (llama.cpp runs gptneox with NEOX rope);
    keys context_length, embedding_length, block_count, feed_forward_length,
    rope.dimension_count = int(rotary_pct * (hidden_size // num_attention_heads)),
    attention.head_count, use_parallel_residual, attention.layer_norm_epsilon;
  * Qwen2, Qwen3, OLMo-2 (TextModel): weights as stored (no permutation: NEOX rope); keys
    block_count, context_length, embedding_length, feed_forward_length,
    attention.head_count, attention.head_count_kv, rope.freq_base,
    attention.layer_norm_rms_epsilon, attention.key_length and value_length where
    config.json has head_dim; a tied model has no lm_head.weight and so no output.weight;
  * Gemma 2 (Gemma2Model): 1 added to every "*norm.weight" in float32, lm_head dropped; keys
    context_length, embedding_length, block_count, feed_forward_length, head counts,
    attention.layer_norm_rms_epsilon, key_length/value_length, attn_logit_softcapping,
    final_logit_softcapping, attention.sliding_window; no rope.freq_base, no
    query_pre_attn_scalar;
  * Phi-3 (Phi3MiniModel): qkv_proj and gate_up_proj kept fused (attn_qkv, ffn_up); keys
    context_length, rope.scaling.original_context_length, embedding_length,
    feed_forward_length, block_count, head counts, attention.layer_norm_rms_epsilon,
    rope.dimension_count = int(partial_rotary_factor * hidden_size) // num_attention_heads,
    rope.freq_base, attention.sliding_window (0 when the config has none);
  * --outtype f32 writes every tensor F32; f16 and bf16 write matrices F16 / BF16 (rounded
    by gguf.quants as llama.cpp does; the goldens are exact in them) and 1-D tensors and
    norms F32; general.file_type 0 (ALL_F32), 1 (MOSTLY_F16) or 32 (MOSTLY_BF16). The
    converter's default `auto` picks bf16 for qwen3-qknorm and f16 for phi3-fused, as here.

The HF goldens have no tokenizer, which the converter needs; each file gets a synthetic
vocabulary of the kind the converter writes for that model in its place (add_vocabulary):
gpt2-style (tokenizer.ggml.model "gpt2", a pre-tokenizer name, V pieces of GPT-2's byte
alphabet, no merges) or SentencePiece-style ("llama", for Gemma 2 and Phi-3), with the
config's bos/eos/pad, so the files carry the keys a real conversion writes.

    /work/venv-gguf/bin/python tools/reference/make_gguf_goldens.py

tests/test-gguf.c (/data/gguf/arch/*) opens each file and its HF folder and requires the
same logits bit for bit (gemma2-window: the HF folder's at llama.cpp's head_dim^-1/2 scale),
and the golden's logits within 1e-4. Deterministic: a rerun gives the same bytes.
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

MODELS = {  # name -> (architecture, --outtype, vocabulary: "gpt2" with its pre-tokenizer, or "llama")
    "neox": ("gptneox", "f32", ("gpt2", "gpt-2")),
    "neox-seq-f16": ("gptneox", "f16", ("gpt2", "gpt-2")),
    "qwen2-bias": ("qwen2", "f32", ("gpt2", "qwen2")),
    "gemma2-headdim": ("gemma2", "f32", ("llama", None)),
    "gemma2-window": ("gemma2", "f32", ("llama", None)),
    "qwen3-qknorm": ("qwen3", "bf16", ("gpt2", "qwen2")),
    "olmo2-postnorm": ("olmo2", "f32", ("gpt2", "dbrx")),
    "phi3-fused": ("phi3", "f16", ("llama", None)),
}

# Gemma 2 with the 27B's 46 layers (llama.cpp scales its scores by (n_embd / n_head)^-1/2
# instead of head_dim^-1/2): seeded random weights, shrunk sizes, no HF folder or golden. It
# also states attention.sliding_window_pattern = 2, llama.cpp's default for gemma2 (the
# converter writes the key for Gemma 3 and OLMo-3, not Gemma 2), so that the tests can
# change the pattern in place.
GEMMA2_46 = dict(num_hidden_layers=46, hidden_size=8, intermediate_size=8, num_attention_heads=2,
                 num_key_value_heads=1, head_dim=8, vocab_size=16, max_position_embeddings=16,
                 rms_norm_eps=1e-6, attn_logit_softcapping=50.0, final_logit_softcapping=30.0,
                 sliding_window=4, bos_token_id=1, eos_token_id=2, pad_token_id=0)


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


def as_stored(p, cfg):
    yield from p.items()


def text_model_keys(w, cfg):
    """TextModel.set_gguf_parameters for a Llama-shaped config.json (Qwen2, Qwen3, OLMo-2):
    head_dim, where the config has it, as key_length and value_length."""
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


def gemma2_tensors(p, cfg):
    """Gemma2Model.modify_tensors: 1 added to every norm weight (llama.cpp then runs plain
    RMSNorm), in float32 as the converter computes it; lm_head, if any, left out."""
    for name, t in p.items():
        if name == "lm_head.weight":
            continue
        if name.endswith("norm.weight"):
            t = t + np.float32(1)
        yield name, t


def gemma2_keys(w, cfg):
    """Gemma2Model.set_gguf_parameters: no rope.freq_base (llama.cpp's default 10000) and
    nothing for query_pre_attn_scalar."""
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg.get("num_key_value_heads", cfg["num_attention_heads"]))
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_key_length(cfg["head_dim"])
    w.add_value_length(cfg["head_dim"])
    w.add_attn_logit_softcapping(cfg["attn_logit_softcapping"])
    w.add_final_logit_softcapping(cfg["final_logit_softcapping"])
    w.add_sliding_window(cfg["sliding_window"])


def olmo2_keys(w, cfg):
    """Olmo2Model: TextModel's keys; sliding_window (and its pattern) only for OLMo-3 configs."""
    text_model_keys(w, cfg)
    assert "sliding_window" not in cfg


def phi3_keys(w, cfg):
    """Phi3MiniModel.set_gguf_parameters: rope.dimension_count = int(partial_rotary_factor *
    hidden_size) // num_attention_heads; sliding_window 0 when the config has none."""
    C, H = cfg["hidden_size"], cfg["num_attention_heads"]
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_rope_scaling_orig_ctx_len(cfg["original_max_position_embeddings"])
    w.add_embedding_length(C)
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_head_count(H)
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_rope_dimension_count(int(cfg.get("partial_rotary_factor", 1.0) * C) // H)
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_sliding_window(cfg.get("sliding_window") or 0)
    assert cfg.get("rope_scaling") is None  # the long-context factors are refused by Strata


ARCHS = {  # arch -> (tensors as the converter's modify_tensors yields them, keys)
    "gptneox": (gguf.MODEL_ARCH.GPTNEOX, neox_tensors, neox_keys),
    "qwen2": (gguf.MODEL_ARCH.QWEN2, as_stored, text_model_keys),
    "gemma2": (gguf.MODEL_ARCH.GEMMA2, gemma2_tensors, gemma2_keys),
    "qwen3": (gguf.MODEL_ARCH.QWEN3, as_stored, text_model_keys),
    "olmo2": (gguf.MODEL_ARCH.OLMO2, as_stored, olmo2_keys),
    "phi3": (gguf.MODEL_ARCH.PHI3, as_stored, phi3_keys),
}

FILE_TYPES = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
              "bf16": gguf.LlamaFileType.MOSTLY_BF16}


def add_vocabulary(w, cfg, vocab):
    """A synthetic vocabulary of V tokens in the converter's keys (the goldens have no
    tokenizer): "gpt2", V pieces of GPT-2's byte alphabet and no merges; or "llama"
    (SentencePiece, as Gemma 2 and Phi-3 convert), <unk> <s> </s> and single characters with
    descending scores. bos/eos/pad as gguf.SpecialVocab reads them from config.json."""
    V = cfg["vocab_size"]
    model, pre = vocab
    w.add_tokenizer_model(model)
    if model == "gpt2":
        w.add_tokenizer_pre(pre)
        w.add_token_list(byte_alphabet()[:V])
        w.add_token_types([gguf.TokenType.NORMAL] * V)
        w.add_token_merges([])
    else:
        w.add_tokenizer_pre("default")
        chars = "\u2581abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-:;()"
        tokens = ["<unk>", "<s>", "</s>"] + list(chars[:V - 3])
        assert len(tokens) == V
        w.add_token_list(tokens)
        w.add_token_scores([0.0, 0.0, 0.0] + [-float(i) for i in range(V - 3)])
        w.add_token_types([gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
                          + [gguf.TokenType.NORMAL] * (V - 3))
        if cfg["model_type"] == "gemma2":
            w.add_add_space_prefix(False)  # Gemma2Model.set_vocab
    w.add_bos_token_id(cfg["bos_token_id"])
    w.add_eos_token_id(cfg["eos_token_id"])
    if "pad_token_id" in cfg:
        w.add_pad_token_id(cfg["pad_token_id"])


def stored_as(t, outtype):
    """(array, raw_dtype) as prepare_tensors stores a tensor: 1-D tensors and norms F32,
    the rest in the --outtype (gguf.quants.quantize rounds to BF16 as llama.cpp does); an
    outtype that would round these weights is refused."""
    t = np.ascontiguousarray(t, dtype=np.float32)
    if t.ndim <= 1 or outtype == "f32":
        return t, None
    if outtype == "f16":
        t16 = t.astype(np.float16)
        assert np.array_equal(t16.astype(np.float32), t), "not F16-exact"
        return t16, None
    q = gguf.quants.quantize(t, gguf.GGMLQuantizationType.BF16)
    assert np.array_equal(gguf.quants.dequantize(q, gguf.GGMLQuantizationType.BF16).reshape(t.shape), t)
    return q, gguf.GGMLQuantizationType.BF16


def convert(name, arch, outtype, vocab, cfg=None, params=None, swa_pattern=None):
    if cfg is None:
        src = os.path.join(GOLDEN, name)
        cfg = json.load(open(os.path.join(src, "config.json")))
        params = st_write.read(os.path.join(src, "model.safetensors"))
    model_arch, tensors, keys = ARCHS[arch]
    tmap = gguf.get_tensor_name_map(model_arch, cfg["num_hidden_layers"])
    path = os.path.join(OUT, f"{name}.gguf")
    w = gguf.GGUFWriter(path, gguf.MODEL_ARCH_NAMES[model_arch])
    w.add_name(name)
    keys(w, cfg)
    if swa_pattern is not None:
        w.add_sliding_window_pattern(swa_pattern)
    w.add_file_type(FILE_TYPES[outtype])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    add_vocabulary(w, cfg, vocab)
    n = 0
    for hf_name, t in tensors(params, cfg):
        gname = tmap.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        assert gname is not None, hf_name
        data, raw_dtype = stored_as(t, outtype)
        w.add_tensor(gname, data, raw_dtype=raw_dtype)
        n += 1
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    size = os.path.getsize(path)
    assert size < 300_000, size
    print(f"{path}: {size} bytes, {n} tensors")


def gemma2_46_params(cfg):
    """Seeded random weights under HF Gemma 2 names, F16-exact (the file is --outtype f16)."""
    rng = np.random.default_rng(1046)
    C, F, H, K, D, V = (cfg[k] for k in ("hidden_size", "intermediate_size", "num_attention_heads",
                                         "num_key_value_heads", "head_dim", "vocab_size"))

    def mat(r, c):
        return (rng.standard_normal((r, c)) / np.sqrt(c)).astype(np.float16).astype(np.float32)

    def gain():
        return rng.uniform(0.0, 1.0, C).astype(np.float32)

    p = {"model.embed_tokens.weight": mat(V, C)}
    for l in range(cfg["num_hidden_layers"]):
        a = f"model.layers.{l}."
        p[a + "input_layernorm.weight"] = gain()
        p[a + "self_attn.q_proj.weight"] = mat(H * D, C)
        p[a + "self_attn.k_proj.weight"] = mat(K * D, C)
        p[a + "self_attn.v_proj.weight"] = mat(K * D, C)
        p[a + "self_attn.o_proj.weight"] = mat(C, H * D)
        p[a + "post_attention_layernorm.weight"] = gain()
        p[a + "pre_feedforward_layernorm.weight"] = gain()
        p[a + "mlp.gate_proj.weight"] = mat(F, C)
        p[a + "mlp.up_proj.weight"] = mat(F, C)
        p[a + "mlp.down_proj.weight"] = mat(C, F)
        p[a + "post_feedforward_layernorm.weight"] = gain()
    p["model.norm.weight"] = gain()
    return p


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, (arch, outtype, vocab) in MODELS.items():
        convert(name, arch, outtype, vocab)
    cfg = dict(GEMMA2_46, model_type="gemma2")
    convert("gemma2-46layers", "gemma2", "f16", ("llama", None), cfg, gemma2_46_params(cfg), swa_pattern=2)


if __name__ == "__main__":
    sys.exit(main())
