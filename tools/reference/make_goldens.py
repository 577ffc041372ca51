#!/usr/bin/python3
"""Golden reference outputs for Strata's forward pass, independent of the C code.

For each small model below this script
  1. draws seeded random weights and writes them as a Hugging Face checkpoint
     (config.json + model.safetensors, HF tensor names, stored in F32, F16 or BF16);
  2. runs a plain-torch float64 forward pass that follows the Hugging Face modeling code
     (GPT2Model / LlamaModel / Qwen2Model / MistralModel / GPTNeoXModel / Gemma2Model /
     Qwen3Model / Olmo2Model / Phi3Model) on the weights as stored (BF16/F16 values rounded
     first), recording every TransformerLens site;
  3. writes golden.safetensors: `tokens` (B, T) I32 and one F32 tensor per site, named
     and laid out as kernels/strata-sites.h says. The GPT-NeoX models and every model
     added after them also get `greedy` (N_GREEDY,) I32: the argmax continuation of
     tokens[0] (prompt excluded), which check_goldens_hf.py compares with transformers'
     generate().

The forwards of Gemma 2, Qwen3, OLMo-2 and Phi-3 are written from transformers'
modeling_gemma2.py / modeling_qwen3.py / modeling_olmo2.py / modeling_phi3.py (Qwen3 and
OLMo-2 from the main branch: transformers 4.44.2 has neither), not from Strata's recipe.
Models with a sliding window shorter than T (`mistral-window`, `gemma2-window`) assert that
switching the window off moves the logits, so the window is seen by the test.

Run with Debian's interpreter (torch + numpy, no transformers):
    /usr/bin/python3 tools/reference/make_goldens.py [OUT_DIR]
OUT_DIR defaults to tests/data/golden. The output is byte-identical on every run.
"""

import json
import math
import os
import sys

import numpy as np
import torch

import st_write

B, T = 2, 7  # two sequences of seven tokens per model

# Weight scales are chosen so activations are O(1) and attention is far from uniform: a
# wrong head mapping, RoPE pairing or norm statistic moves the outputs by much more than
# the 1e-4 the C test allows, while fp32 rounding stays near 1e-6.
MODELS = {
    "gpt2": dict(family="gpt2", seed=1001, dtype="F32", L=2, C=32, H=4, N=16, V=61),
    "gpt2-f16": dict(family="gpt2", seed=1005, dtype="F16", L=2, C=32, H=4, N=16, V=61),
    "llama-gqa": dict(family="llama", model_type="llama", seed=1002, dtype="F32", L=2, C=32,
                      F=48, H=4, K=2, V=67, theta=10000.0, tied=False, qkv_bias=False),
    # K = 1: every query head reads the same key/value head (multi-query attention).
    "qwen2-bias": dict(family="llama", model_type="qwen2", seed=1003, dtype="F32", L=2, C=32,
                       F=48, H=4, K=1, V=71, theta=1000000.0, tied=True, qkv_bias=True),
    # K = H: plain multi-head attention in the Llama family.
    "mistral-bf16": dict(family="llama", model_type="mistral", seed=1004, dtype="BF16", L=2,
                         C=32, F=40, H=4, K=4, V=53, theta=500000.0, tied=False, qkv_bias=False),
    # GPT-NeoX (Pythia): fused per-head q/k/v, partial rotary (rotate_half on the first
    # rotary_ndims = int(D * rotary_pct) dims of each head), exact-erf GELU, untied embed_out.
    # `neox` has the parallel residual (no resid_mid) and 2 rotary dims; `neox-seq-f16` is
    # sequential with 4 rotary dims, where half and adjacent pairing differ.
    "neox": dict(family="neox", seed=1006, dtype="F32", L=2, C=32, F=48, H=4, V=59,
                 rotary_pct=0.25, theta=10000, parallel=True),
    "neox-seq-f16": dict(family="neox", seed=1007, dtype="F16", L=2, C=32, F=64, H=4, V=63,
                         rotary_pct=0.5, theta=10000, parallel=False),
    # The models below also get a greedy continuation and assert that each listed option
    # (`switches`) moves the logits by more than 1e-2 when switched off.
    # Mistral with sliding_window 4 < T: key j visible from query i iff i - j < 4, every layer.
    "mistral-window": dict(family="llama", model_type="mistral", seed=1008, dtype="F32", L=2,
                           C=32, F=48, H=4, K=2, V=59, theta=10000.0, tied=False, qkv_bias=False,
                           window=4, greedy=True, switches={"window": dict(window=None)}),
    # Gemma 2: head_dim 16 with H*D = 64 != C, query_pre_attn_scalar 12 (not head_dim), (1 + w)
    # RMS norms before and after each sublayer, GeGLU, sqrt(C) embedding scale, both
    # soft-caps, sliding_window 4 on layers 0 and 2 of 3, GQA, tied. A small embedding
    # (0.1 randn, O(1) after the sqrt(C) scale) and gains 1 + w in [1, 2) keep the tied
    # unembedding from echoing the last token, so the greedy continuation varies.
    "gemma2-window": dict(family="gemma2", seed=1009, dtype="F32", L=3, C=32, F=48, H=4, K=2,
                          D=16, V=71, theta=10000.0, scalar=12, attn_cap=3.0, final_cap=4.0,
                          window=4, embed=0.1, gain_lo=0.0, tied=True, greedy=True,
                          switches={"window": dict(window=None), "attn softcap": dict(attn_cap=None),
                                    "final softcap": dict(final_cap=None),
                                    "query_pre_attn_scalar": dict(scalar=16)}),
    # Gemma 2 as gemma-2-2b and -9b have it: query_pre_attn_scalar = head_dim, the only
    # relation a GGUF can carry (llama.cpp scales scores by head_dim^-1/2 and has no key for
    # the scalar; the GGUF tests convert this model). Otherwise as gemma2-window.
    "gemma2-headdim": dict(family="gemma2", seed=1016, dtype="F32", L=3, C=32, F=48, H=4, K=2,
                           D=16, V=71, theta=10000.0, scalar=16, attn_cap=3.0, final_cap=4.0,
                           window=4, embed=0.1, gain_lo=0.0, tied=True, greedy=True,
                           switches={"window": dict(window=None), "attn softcap": dict(attn_cap=None),
                                     "final softcap": dict(final_cap=None)}),
    # Qwen3: per-head RMS q/k norms (size head_dim) before RoPE, head_dim 16 != C/H, no
    # biases, GQA, tied (as the small Qwen3 models are), BF16; embedding 0.3 randn, for a
    # greedy continuation that does not just repeat the last token.
    "qwen3-qknorm": dict(family="qwen3", seed=1010, dtype="BF16", L=2, C=32, F=48, H=4, K=2,
                         D=16, V=67, theta=1000000.0, tied=True, embed=0.3, greedy=True,
                         switches={"q/k norm": dict(qk_norm=False)}),
    # OLMo-2: no pre-norms, RMS post-norms on the attention and MLP outputs, q/k RMS norms over
    # all H*D (K*D) values, GQA (k_norm over 16 values), untied.
    "olmo2-postnorm": dict(family="olmo2", seed=1011, dtype="F32", L=2, C=32, F=48, H=4, K=2,
                           V=61, theta=500000.0, greedy=True,
                           switches={"q/k norm": dict(qk_norm=False), "post norms": dict(post_norms=False)}),
    # Phi-3: fused qkv_proj (q rows, then k, then v) and gate_up_proj (gate rows, then up),
    # GQA, untied, F16; sliding_window 2047 as Phi-3-mini-4k has (longer than any sequence).
    "phi3-fused": dict(family="phi3", seed=1013, dtype="F16", L=2, C=32, F=40, H=4, K=2, V=73,
                       theta=10000.0, greedy=True),
}

N_GREEDY = 8  # greedy steps after tokens[0] (GPT-NeoX models); 7 + 8 stays within 16 positions

EPS = 1e-5


# ---------------------------------------------------------------- random checkpoints

def linear_w(out_f, in_f, gain=1.0):
    return torch.randn(out_f, in_f) * (gain / math.sqrt(in_f))


def norm_gain(n):
    return torch.rand(n) + 0.5  # in [0.5, 1.5): a wrong or missing gain shows


def bias(n, scale=0.2):
    return torch.randn(n) * scale


def gpt2_params(m):
    """HF GPT-2 names without the `transformer.` prefix; Conv1D weights are [in, out]."""
    C, N, V = m["C"], m["N"], m["V"]
    F = 4 * C
    p = {"wte.weight": torch.randn(V, C), "wpe.weight": torch.randn(N, C) * 0.5}
    for l in range(m["L"]):
        h = f"h.{l}."
        p[h + "ln_1.weight"] = norm_gain(C)
        p[h + "ln_1.bias"] = bias(C)
        # c_attn packs [W_Q | W_K | W_V] along the output axis; Q gets a larger gain for
        # sharper patterns.
        wq, wk, wv = linear_w(C, C, 2.0), linear_w(C, C), linear_w(C, C)
        p[h + "attn.c_attn.weight"] = torch.cat([wq, wk, wv], 0).t().contiguous()  # (C, 3C)
        p[h + "attn.c_attn.bias"] = bias(3 * C)
        p[h + "attn.c_proj.weight"] = linear_w(C, C).t().contiguous()  # (C, C)
        p[h + "attn.c_proj.bias"] = bias(C)
        p[h + "ln_2.weight"] = norm_gain(C)
        p[h + "ln_2.bias"] = bias(C)
        p[h + "mlp.c_fc.weight"] = linear_w(F, C).t().contiguous()  # (C, F)
        p[h + "mlp.c_fc.bias"] = bias(F)
        p[h + "mlp.c_proj.weight"] = linear_w(C, F).t().contiguous()  # (F, C)
        p[h + "mlp.c_proj.bias"] = bias(C)
    p["ln_f.weight"] = norm_gain(C)
    p["ln_f.bias"] = bias(C)
    return p


def gpt2_config(m):
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "activation_function": "gelu_new",
        "n_layer": m["L"],
        "n_embd": m["C"],
        "n_head": m["H"],
        "n_positions": m["N"],
        "n_ctx": m["N"],
        "vocab_size": m["V"],
        "layer_norm_epsilon": EPS,
        "bos_token_id": m["V"] - 1,
        "eos_token_id": m["V"] - 1,
        "tie_word_embeddings": True,
        "torch_dtype": {"F32": "float32", "F16": "float16"}[m["dtype"]],
    }


def llama_params(m):
    """HF Llama/Qwen2/Mistral names; nn.Linear weights are [out, in]."""
    C, F, H, K, V = m["C"], m["F"], m["H"], m["K"], m["V"]
    D = C // H
    p = {"model.embed_tokens.weight": torch.randn(V, C)}
    for l in range(m["L"]):
        a = f"model.layers.{l}."
        p[a + "input_layernorm.weight"] = norm_gain(C)
        p[a + "self_attn.q_proj.weight"] = linear_w(H * D, C, 2.0)
        p[a + "self_attn.k_proj.weight"] = linear_w(K * D, C)
        p[a + "self_attn.v_proj.weight"] = linear_w(K * D, C)
        if m["qkv_bias"]:
            p[a + "self_attn.q_proj.bias"] = bias(H * D, 0.5)
            p[a + "self_attn.k_proj.bias"] = bias(K * D, 0.5)
            p[a + "self_attn.v_proj.bias"] = bias(K * D, 0.5)
        p[a + "self_attn.o_proj.weight"] = linear_w(C, H * D)
        p[a + "post_attention_layernorm.weight"] = norm_gain(C)
        p[a + "mlp.gate_proj.weight"] = linear_w(F, C)
        p[a + "mlp.up_proj.weight"] = linear_w(F, C)
        p[a + "mlp.down_proj.weight"] = linear_w(C, F)
    p["model.norm.weight"] = norm_gain(C)
    if not m["tied"]:
        p["lm_head.weight"] = linear_w(V, C, 4.0)
    return p


def llama_config(m):
    arch = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM",
            "mistral": "MistralForCausalLM"}[m["model_type"]]
    cfg = {
        "architectures": [arch],
        "model_type": m["model_type"],
        "hidden_size": m["C"],
        "intermediate_size": m["F"],
        "num_hidden_layers": m["L"],
        "num_attention_heads": m["H"],
        "num_key_value_heads": m["K"],
        "head_dim": m["C"] // m["H"],
        "vocab_size": m["V"],
        "max_position_embeddings": 16,
        "rms_norm_eps": EPS,
        "rope_theta": m["theta"],
        "hidden_act": "silu",
        "tie_word_embeddings": m["tied"],
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[m["dtype"]],
    }
    if m["model_type"] == "llama":
        cfg.update(attention_bias=False, mlp_bias=False, rope_scaling=None)
    if m["model_type"] == "qwen2":
        cfg.update(use_sliding_window=False)
    if m["model_type"] == "mistral":
        # 4096: longer than any sequence here, no effect; `window`: shorter than T
        cfg.update(sliding_window=m.get("window", 4096))
    return cfg


def neox_params(m):
    """HF GPT-NeoX names; nn.Linear weights are [out, in]. query_key_value is fused per head:
    its 3C output rows are H blocks of [q_h; k_h; v_h], D rows each (a view (H, 3, D, C))."""
    C, F, H, V = m["C"], m["F"], m["H"], m["V"]
    D = C // H
    p = {"gpt_neox.embed_in.weight": torch.randn(V, C)}
    for l in range(m["L"]):
        a = f"gpt_neox.layers.{l}."
        p[a + "input_layernorm.weight"] = norm_gain(C)
        p[a + "input_layernorm.bias"] = bias(C)
        p[a + "post_attention_layernorm.weight"] = norm_gain(C)
        p[a + "post_attention_layernorm.bias"] = bias(C)
        wq, wk, wv = linear_w(C, C, 2.0), linear_w(C, C), linear_w(C, C)
        p[a + "attention.query_key_value.weight"] = torch.stack(
            [w.view(H, D, C) for w in (wq, wk, wv)], dim=1).reshape(3 * C, C)
        bq, bk, bv = bias(C), bias(C), bias(C)
        p[a + "attention.query_key_value.bias"] = torch.stack(
            [b.view(H, D) for b in (bq, bk, bv)], dim=1).reshape(3 * C)
        p[a + "attention.dense.weight"] = linear_w(C, C)
        p[a + "attention.dense.bias"] = bias(C)
        p[a + "mlp.dense_h_to_4h.weight"] = linear_w(F, C)
        p[a + "mlp.dense_h_to_4h.bias"] = bias(F)
        p[a + "mlp.dense_4h_to_h.weight"] = linear_w(C, F)
        p[a + "mlp.dense_4h_to_h.bias"] = bias(C)
    p["gpt_neox.final_layer_norm.weight"] = norm_gain(C)
    p["gpt_neox.final_layer_norm.bias"] = bias(C)
    p["embed_out.weight"] = linear_w(V, C, 4.0)
    return p


def neox_config(m):
    """The keys GPTNeoXConfig(...).to_diff_dict() writes (transformers 4.44.2), less
    transformers_version, plus architectures and torch_dtype."""
    return {
        "architectures": ["GPTNeoXForCausalLM"],
        "model_type": "gpt_neox",
        "vocab_size": m["V"],
        "max_position_embeddings": 16,
        "hidden_size": m["C"],
        "num_hidden_layers": m["L"],
        "num_attention_heads": m["H"],
        "intermediate_size": m["F"],
        "hidden_act": "gelu",
        "rotary_pct": m["rotary_pct"],
        "rotary_emb_base": m["theta"],
        "attention_dropout": 0.0,
        "hidden_dropout": 0.0,
        "classifier_dropout": 0.1,
        "initializer_range": 0.02,
        "layer_norm_eps": EPS,
        "use_cache": True,
        "use_parallel_residual": m["parallel"],
        "rope_scaling": None,
        "attention_bias": True,
        "tie_word_embeddings": False,
        "bos_token_id": 0,
        "eos_token_id": 0,
        "torch_dtype": {"F32": "float32", "F16": "float16"}[m["dtype"]],
    }


def stored(p, dtype):
    """Weights as the file stores them: (name, dtype, array) rows for st_write, and the
    float64 values the reference computes with (BF16/F16 rounding applied once)."""
    rows, ref = [], {}
    for name, w in p.items():
        if dtype == "F32":
            raw, back = w.numpy(), w
        elif dtype == "F16":
            h = w.to(torch.float16)
            raw, back = h.numpy(), h.float()
        else:  # BF16: torch rounds to nearest even; keep the bit patterns
            h = w.to(torch.bfloat16)
            raw, back = h.view(torch.int16).numpy().view(np.uint16), h.float()
        rows.append((name, dtype, raw))
        ref[name] = back.double()
    return rows, ref


# ---------------------------------------------------------------- reference forwards

def record_attention(rec, l, q, k, v, pattern, z, w_o_in_out):
    """q (B,T,H,D) k v (B,T,K,D) pattern (B,H,T,T) z (B,T,H,D); w_o_in_out (H*D, C) maps z
    to the residual. hook_result[b,t,h] = z[b,t,h] · W_O[:, hD:(h+1)D]ᵀ, no bias."""
    Bq, Tq, H, D = z.shape
    w = w_o_in_out.view(H, D, -1)
    rec[f"blocks.{l}.attn.hook_q"] = q
    rec[f"blocks.{l}.attn.hook_k"] = k
    rec[f"blocks.{l}.attn.hook_v"] = v
    rec[f"blocks.{l}.attn.hook_pattern"] = pattern
    rec[f"blocks.{l}.attn.hook_z"] = z
    rec[f"blocks.{l}.attn.hook_result"] = torch.einsum("bthd,hdc->bthc", z, w)


def causal_softmax(scores, window=None):
    """scores (B,H,T,T) -> pattern with exact zeros above the diagonal; with a sliding window,
    also where i - j >= window (transformers: the mask excludes j <= i - sliding_window)."""
    Tq = scores.shape[-1]
    mask = torch.ones(Tq, Tq, dtype=torch.bool).tril()
    if window:
        mask = mask & torch.ones(Tq, Tq, dtype=torch.bool).triu(-(window - 1))
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


def gelu_new(x):
    # HF NewGELUActivation (the tanh approximation GPT-2 was trained with)
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def gpt2_forward(p, m, ids):
    """HF GPT2LMHeadModel.forward, eval mode, float64. ids (B,T) -> dict of sites."""
    C, H = m["C"], m["H"]
    D = C // H
    Bq, Tq = ids.shape
    rec = {}
    tok = p["wte.weight"][ids]
    pos = p["wpe.weight"][torch.arange(Tq)].expand(Bq, Tq, C)
    rec["hook_embed"], rec["hook_pos_embed"] = tok, pos
    x = tok + pos
    for l in range(m["L"]):
        h = f"h.{l}."
        rec[f"blocks.{l}.hook_resid_pre"] = x
        a = torch.nn.functional.layer_norm(x, (C,), p[h + "ln_1.weight"], p[h + "ln_1.bias"], EPS)
        qkv = a @ p[h + "attn.c_attn.weight"] + p[h + "attn.c_attn.bias"]  # Conv1D
        q, k, v = (t.reshape(Bq, Tq, H, D) for t in qkv.split(C, dim=-1))
        scores = q.transpose(1, 2) @ k.transpose(1, 2).transpose(-1, -2) / math.sqrt(D)
        pattern = causal_softmax(scores)
        z = (pattern @ v.transpose(1, 2)).transpose(1, 2)  # (B,T,H,D)
        record_attention(rec, l, q, k, v, pattern, z, p[h + "attn.c_proj.weight"])
        attn_out = z.reshape(Bq, Tq, C) @ p[h + "attn.c_proj.weight"] + p[h + "attn.c_proj.bias"]
        rec[f"blocks.{l}.hook_attn_out"] = attn_out
        x = x + attn_out
        rec[f"blocks.{l}.hook_resid_mid"] = x
        a = torch.nn.functional.layer_norm(x, (C,), p[h + "ln_2.weight"], p[h + "ln_2.bias"], EPS)
        post = gelu_new(a @ p[h + "mlp.c_fc.weight"] + p[h + "mlp.c_fc.bias"])
        rec[f"blocks.{l}.mlp.hook_post"] = post
        mlp_out = post @ p[h + "mlp.c_proj.weight"] + p[h + "mlp.c_proj.bias"]
        rec[f"blocks.{l}.hook_mlp_out"] = mlp_out
        x = x + mlp_out
        rec[f"blocks.{l}.hook_resid_post"] = x
    x = torch.nn.functional.layer_norm(x, (C,), p["ln_f.weight"], p["ln_f.bias"], EPS)
    rec["ln_final.hook_normalized"] = x
    rec["logits"] = x @ p["wte.weight"].t()  # tied lm_head
    return rec


def rms_norm(x, w):
    # HF LlamaRMSNorm: x * rsqrt(mean(x²) + eps), then the gain
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def rope_half(x, theta):
    """x (B,T,n,D) rotated as HF apply_rotary_pos_emb: pairs (i, i + D/2), angle t·θ^(-2i/D).
    HF computes cos/sin in fp32; float64 here differs from it by ~1e-7 at most."""
    Tq, D = x.shape[1], x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    freqs = torch.arange(Tq, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)  # (T, D)
    cos, sin = (f(emb).to(x.dtype)[None, :, None, :] for f in (torch.cos, torch.sin))
    return x * cos + rotate_half(x) * sin


def llama_forward(p, m, ids):
    """HF LlamaForCausalLM.forward (Qwen2, Mistral: same graph; Qwen2 adds q/k/v biases),
    eval mode, float64; Mistral's sliding window (m["window"]) on every layer. ids (B,T) ->
    dict of sites."""
    C, H, K = m["C"], m["H"], m["K"]
    D = C // H
    Bq, Tq = ids.shape
    rec = {}

    def lin(x, name):
        y = x @ p[name + ".weight"].t()
        return y + p[name + ".bias"] if name + ".bias" in p else y

    x = p["model.embed_tokens.weight"][ids]
    rec["hook_embed"] = x
    for l in range(m["L"]):
        a = f"model.layers.{l}."
        rec[f"blocks.{l}.hook_resid_pre"] = x
        n = rms_norm(x, p[a + "input_layernorm.weight"])
        q = lin(n, a + "self_attn.q_proj").view(Bq, Tq, H, D)
        k = lin(n, a + "self_attn.k_proj").view(Bq, Tq, K, D)
        v = lin(n, a + "self_attn.v_proj").view(Bq, Tq, K, D)
        qr, kr = rope_half(q, m["theta"]), rope_half(k, m["theta"])
        # repeat_kv: key/value head j serves query heads j*H/K .. (j+1)*H/K - 1
        kr = kr.repeat_interleave(H // K, dim=2)
        vr = v.repeat_interleave(H // K, dim=2)
        scores = qr.transpose(1, 2) @ kr.transpose(1, 2).transpose(-1, -2) / math.sqrt(D)
        pattern = causal_softmax(scores, m.get("window"))
        z = (pattern @ vr.transpose(1, 2)).transpose(1, 2)  # (B,T,H,D)
        w_o = p[a + "self_attn.o_proj.weight"]  # (C, H*D)
        record_attention(rec, l, q, k, v, pattern, z, w_o.t())
        attn_out = lin(z.reshape(Bq, Tq, H * D), a + "self_attn.o_proj")
        rec[f"blocks.{l}.hook_attn_out"] = attn_out
        x = x + attn_out
        rec[f"blocks.{l}.hook_resid_mid"] = x
        n = rms_norm(x, p[a + "post_attention_layernorm.weight"])
        post = torch.nn.functional.silu(lin(n, a + "mlp.gate_proj")) * lin(n, a + "mlp.up_proj")
        rec[f"blocks.{l}.mlp.hook_post"] = post
        mlp_out = lin(post, a + "mlp.down_proj")
        rec[f"blocks.{l}.hook_mlp_out"] = mlp_out
        x = x + mlp_out
        rec[f"blocks.{l}.hook_resid_post"] = x
    x = rms_norm(x, p["model.norm.weight"])
    rec["ln_final.hook_normalized"] = x
    w_u = p["model.embed_tokens.weight"] if m["tied"] else p["lm_head.weight"]
    rec["logits"] = x @ w_u.t()
    return rec


def neox_forward(p, m, ids):
    """HF GPTNeoXForCausalLM.forward, eval mode, float64. ids (B,T) -> dict of sites.
    Partial rotary: rotate_half on the first rotary_ndims dims of each head, inv_freq over
    rotary_ndims; scores scaled by 1/sqrt(D). Parallel: x + attn(ln1(x)) + mlp(ln2(x));
    sequential: x + attn(ln1(x)), then + mlp(ln2(.)). A parallel block has no resid_mid."""
    C, H = m["C"], m["H"]
    D = C // H
    R = int(D * m["rotary_pct"])  # HF: int(head_size * rotary_pct)
    Bq, Tq = ids.shape
    rec = {}

    def lin(x, name):
        return x @ p[name + ".weight"].t() + p[name + ".bias"]

    def ln(x, name):
        return torch.nn.functional.layer_norm(x, (C,), p[name + ".weight"], p[name + ".bias"], EPS)

    def rope(x):
        return torch.cat((rope_half(x[..., :R], m["theta"]), x[..., R:]), dim=-1)

    x = p["gpt_neox.embed_in.weight"][ids]
    rec["hook_embed"] = x
    for l in range(m["L"]):
        a = f"gpt_neox.layers.{l}."
        rec[f"blocks.{l}.hook_resid_pre"] = x
        qkv = lin(ln(x, a + "input_layernorm"), a + "attention.query_key_value").view(Bq, Tq, H, 3 * D)
        q, k, v = qkv[..., :D], qkv[..., D:2 * D], qkv[..., 2 * D:]
        qr, kr = rope(q), rope(k)
        scores = qr.transpose(1, 2) @ kr.transpose(1, 2).transpose(-1, -2) / math.sqrt(D)
        pattern = causal_softmax(scores)
        z = (pattern @ v.transpose(1, 2)).transpose(1, 2)  # (B,T,H,D)
        w_o = p[a + "attention.dense.weight"]  # (C, H*D)
        record_attention(rec, l, q, k, v, pattern, z, w_o.t())
        attn_out = lin(z.reshape(Bq, Tq, C), a + "attention.dense")
        rec[f"blocks.{l}.hook_attn_out"] = attn_out
        if m["parallel"]:
            n = ln(x, a + "post_attention_layernorm")
        else:
            mid = attn_out + x
            rec[f"blocks.{l}.hook_resid_mid"] = mid
            n = ln(mid, a + "post_attention_layernorm")
        # HF "gelu" is GELUActivation: the exact erf form
        post = torch.nn.functional.gelu(lin(n, a + "mlp.dense_h_to_4h"))
        rec[f"blocks.{l}.mlp.hook_post"] = post
        mlp_out = lin(post, a + "mlp.dense_4h_to_h")
        rec[f"blocks.{l}.hook_mlp_out"] = mlp_out
        x = mlp_out + attn_out + x if m["parallel"] else mlp_out + mid
        rec[f"blocks.{l}.hook_resid_post"] = x
    x = ln(x, "gpt_neox.final_layer_norm")
    rec["ln_final.hook_normalized"] = x
    rec["logits"] = x @ p["embed_out.weight"].t()
    return rec


# ---------------------------------------------------------------- Gemma 2, Qwen3, OLMo-2, Phi-3

def decoder_params(m, norms, qk_norm=None, gain=norm_gain, fused=False):
    """Random weights under HF names model.layers.N.*: `norms` lists the per-layer norm
    module names; qk_norm "head" adds self_attn.q_norm/k_norm of size D, "whole" of size
    H*D / K*D; fused writes Phi-3's qkv_proj and gate_up_proj."""
    C, F, H, K, V = m["C"], m["F"], m["H"], m["K"], m["V"]
    D = m.get("D", C // H)
    p = {"model.embed_tokens.weight": torch.randn(V, C) * m.get("embed", 1.0)}
    for l in range(m["L"]):
        a = f"model.layers.{l}."
        for n in norms:
            p[a + n + ".weight"] = gain(C)
        wq, wk, wv = linear_w(H * D, C, 2.0), linear_w(K * D, C), linear_w(K * D, C)
        if fused:
            p[a + "self_attn.qkv_proj.weight"] = torch.cat([wq, wk, wv], 0)
        else:
            p[a + "self_attn.q_proj.weight"] = wq
            p[a + "self_attn.k_proj.weight"] = wk
            p[a + "self_attn.v_proj.weight"] = wv
        if qk_norm:
            p[a + "self_attn.q_norm.weight"] = gain(D if qk_norm == "head" else H * D)
            p[a + "self_attn.k_norm.weight"] = gain(D if qk_norm == "head" else K * D)
        p[a + "self_attn.o_proj.weight"] = linear_w(C, H * D)
        wg, wu = linear_w(F, C), linear_w(F, C)
        if fused:
            p[a + "mlp.gate_up_proj.weight"] = torch.cat([wg, wu], 0)
        else:
            p[a + "mlp.gate_proj.weight"] = wg
            p[a + "mlp.up_proj.weight"] = wu
        p[a + "mlp.down_proj.weight"] = linear_w(C, F)
    p["model.norm.weight"] = gain(C)
    if not m.get("tied"):
        p["lm_head.weight"] = linear_w(V, C, 4.0)
    return p


def decoder_config(m, arch, model_type, **extra):
    cfg = {
        "architectures": [arch],
        "model_type": model_type,
        "hidden_size": m["C"],
        "intermediate_size": m["F"],
        "num_hidden_layers": m["L"],
        "num_attention_heads": m["H"],
        "num_key_value_heads": m["K"],
        "vocab_size": m["V"],
        "max_position_embeddings": 16,
        "rms_norm_eps": m.get("eps", EPS),
        "rope_theta": m["theta"],
        "hidden_act": "silu",
        "tie_word_embeddings": bool(m.get("tied")),
        "bos_token_id": 1,
        "eos_token_id": m.get("eos", 2),
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[m["dtype"]],
    }
    cfg.update(extra)
    return cfg


def attention(q, k, v, m, scale, window=None, softcap=None):
    """q (B,T,H,D), k v (B,T,K,D) after RoPE -> pattern (B,H,T,T), z (B,T,H,D). transformers'
    eager attention: scores = q k^T * scale, soft-capped (Gemma 2), masked, softmax."""
    H, K = q.shape[2], k.shape[2]
    kr = k.repeat_interleave(H // K, dim=2)  # repeat_kv
    vr = v.repeat_interleave(H // K, dim=2)
    scores = (q.transpose(1, 2) @ kr.transpose(1, 2).transpose(-1, -2)) * scale
    if softcap:
        scores = torch.tanh(scores / softcap) * softcap
    pattern = causal_softmax(scores, window)
    return pattern, (pattern @ vr.transpose(1, 2)).transpose(1, 2)


def gemma_norm(x, w, eps):
    # Gemma2RMSNorm: x * rsqrt(mean(x²) + eps) * (1 + w)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * (1.0 + w)


def gemma2_params(m):
    # Gemma2RMSNorm weights start at 0 (gain 1 + w): draw w in [lo, lo + 1)
    lo = m.get("gain_lo", -0.5)
    return decoder_params(m, ["input_layernorm", "post_attention_layernorm",
                              "pre_feedforward_layernorm", "post_feedforward_layernorm"],
                          gain=lambda n: torch.rand(n) + lo)


def gemma2_config(m):
    """The keys of a Gemma 2 checkpoint's config.json (gemma-2-2b), sizes shrunk."""
    return decoder_config(
        m, "Gemma2ForCausalLM", "gemma2", head_dim=m["D"], hidden_act="gelu_pytorch_tanh",
        hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=m["scalar"],
        attn_logit_softcapping=m["attn_cap"], final_logit_softcapping=m["final_cap"],
        sliding_window=m["window"], attention_bias=False, attention_dropout=0.0,
        cache_implementation="hybrid", pad_token_id=0, rms_norm_eps=1e-6)


def gemma2_forward(p, m, ids):
    """HF Gemma2ForCausalLM.forward (modeling_gemma2.py), eval mode, eager, float64: the
    embedding times sqrt(hidden_size); per layer x + post_attention_layernorm(attn(
    input_layernorm(x))), then + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(.)));
    scores * query_pre_attn_scalar^-0.5, then cap * tanh(scores / cap); the sliding window on
    layers with layer_idx % 2 == 0; GeGLU with gelu_pytorch_tanh; logits soft-capped."""
    C, H, K, D = m["C"], m["H"], m["K"], m["D"]
    Bq, Tq = ids.shape
    eps = 1e-6
    rec = {}

    def lin(x, name):
        return x @ p[name + ".weight"].t()

    def nrm(x, name):
        return gemma_norm(x, p[name + ".weight"], eps)

    x = p["model.embed_tokens.weight"][ids] * (C ** 0.5)
    rec["hook_embed"] = x
    for l in range(m["L"]):
        a = f"model.layers.{l}."
        rec[f"blocks.{l}.hook_resid_pre"] = x
        n = nrm(x, a + "input_layernorm")
        q = lin(n, a + "self_attn.q_proj").view(Bq, Tq, H, D)
        k = lin(n, a + "self_attn.k_proj").view(Bq, Tq, K, D)
        v = lin(n, a + "self_attn.v_proj").view(Bq, Tq, K, D)
        window = m["window"] if l % 2 == 0 else None
        scalar = m["scalar"]
        pattern, z = attention(rope_half(q, m["theta"]), rope_half(k, m["theta"]), v, m,
                               scalar ** -0.5, window, m["attn_cap"])
        w_o = p[a + "self_attn.o_proj.weight"]  # (C, H*D)
        record_attention(rec, l, q, k, v, pattern, z, w_o.t())
        attn_out = nrm(lin(z.reshape(Bq, Tq, H * D), a + "self_attn.o_proj"), a + "post_attention_layernorm")
        rec[f"blocks.{l}.hook_attn_out"] = attn_out
        x = x + attn_out
        rec[f"blocks.{l}.hook_resid_mid"] = x
        n = nrm(x, a + "pre_feedforward_layernorm")
        post = gelu_new(lin(n, a + "mlp.gate_proj")) * lin(n, a + "mlp.up_proj")  # gelu_pytorch_tanh
        rec[f"blocks.{l}.mlp.hook_post"] = post
        mlp_out = nrm(lin(post, a + "mlp.down_proj"), a + "post_feedforward_layernorm")
        rec[f"blocks.{l}.hook_mlp_out"] = mlp_out
        x = x + mlp_out
        rec[f"blocks.{l}.hook_resid_post"] = x
    x = nrm(x, "model.norm")
    rec["ln_final.hook_normalized"] = x
    logits = x @ p["model.embed_tokens.weight"].t()  # tied
    if m["final_cap"]:
        logits = torch.tanh(logits / m["final_cap"]) * m["final_cap"]
    rec["logits"] = logits
    return rec


def qwen3_params(m):
    return decoder_params(m, ["input_layernorm", "post_attention_layernorm"], qk_norm="head")


def qwen3_config(m):
    """The keys of a Qwen3 checkpoint's config.json (Qwen3-0.6B), sizes shrunk."""
    return decoder_config(m, "Qwen3ForCausalLM", "qwen3", head_dim=m["D"], attention_bias=False,
                          attention_dropout=0.0, max_window_layers=m["L"], rope_scaling=None,
                          sliding_window=None, use_sliding_window=False, use_cache=True)


def qwen3_forward(p, m, ids):
    """HF Qwen3ForCausalLM.forward (modeling_qwen3.py), eval mode, eager, float64: Llama's
    block with q_norm and k_norm (RMSNorm over head_dim, one weight shared by every head)
    applied to q_proj(x) and k_proj(x) viewed per head, before RoPE; scaling head_dim^-0.5."""
    C, H, K, D = m["C"], m["H"], m["K"], m["D"]
    Bq, Tq = ids.shape
    rec = {}

    def lin(x, name):
        return x @ p[name + ".weight"].t()

    x = p["model.embed_tokens.weight"][ids]
    rec["hook_embed"] = x
    for l in range(m["L"]):
        a = f"model.layers.{l}."
        rec[f"blocks.{l}.hook_resid_pre"] = x
        n = rms_norm(x, p[a + "input_layernorm.weight"])
        q = lin(n, a + "self_attn.q_proj").view(Bq, Tq, H, D)
        k = lin(n, a + "self_attn.k_proj").view(Bq, Tq, K, D)
        v = lin(n, a + "self_attn.v_proj").view(Bq, Tq, K, D)
        if m.get("qk_norm", True):
            q = rms_norm(q, p[a + "self_attn.q_norm.weight"])
            k = rms_norm(k, p[a + "self_attn.k_norm.weight"])
        pattern, z = attention(rope_half(q, m["theta"]), rope_half(k, m["theta"]), v, m, D ** -0.5)
        w_o = p[a + "self_attn.o_proj.weight"]
        record_attention(rec, l, q, k, v, pattern, z, w_o.t())
        attn_out = lin(z.reshape(Bq, Tq, H * D), a + "self_attn.o_proj")
        rec[f"blocks.{l}.hook_attn_out"] = attn_out
        x = x + attn_out
        rec[f"blocks.{l}.hook_resid_mid"] = x
        n = rms_norm(x, p[a + "post_attention_layernorm.weight"])
        post = torch.nn.functional.silu(lin(n, a + "mlp.gate_proj")) * lin(n, a + "mlp.up_proj")
        rec[f"blocks.{l}.mlp.hook_post"] = post
        mlp_out = lin(post, a + "mlp.down_proj")
        rec[f"blocks.{l}.hook_mlp_out"] = mlp_out
        x = x + mlp_out
        rec[f"blocks.{l}.hook_resid_post"] = x
    x = rms_norm(x, p["model.norm.weight"])
    rec["ln_final.hook_normalized"] = x
    w_u = p["model.embed_tokens.weight"] if m["tied"] else p["lm_head.weight"]
    rec["logits"] = x @ w_u.t()
    return rec


def olmo2_params(m):
    return decoder_params(m, ["post_attention_layernorm", "post_feedforward_layernorm"], qk_norm="whole")


def olmo2_config(m):
    """The keys of an OLMo-2 checkpoint's config.json (OLMo-2-1124-7B), sizes shrunk."""
    return decoder_config(m, "Olmo2ForCausalLM", "olmo2", attention_bias=False, attention_dropout=0.0,
                          rope_scaling=None, use_cache=True, pad_token_id=0)


def olmo2_forward(p, m, ids):
    """HF Olmo2ForCausalLM.forward (modeling_olmo2.py), eval mode, eager, float64: no norm
    before attention or the MLP; x + post_attention_layernorm(attn(x)), then
    + post_feedforward_layernorm(mlp(.)); q_norm over all H*D values of q_proj(x), k_norm
    over all K*D of k_proj(x), before the per-head view and RoPE."""
    C, H, K = m["C"], m["H"], m["K"]
    D = C // H
    Bq, Tq = ids.shape
    rec = {}

    def lin(x, name):
        return x @ p[name + ".weight"].t()

    def post(x, name):
        return rms_norm(x, p[name + ".weight"]) if m.get("post_norms", True) else x

    x = p["model.embed_tokens.weight"][ids]
    rec["hook_embed"] = x
    for l in range(m["L"]):
        a = f"model.layers.{l}."
        rec[f"blocks.{l}.hook_resid_pre"] = x
        q, k = lin(x, a + "self_attn.q_proj"), lin(x, a + "self_attn.k_proj")
        if m.get("qk_norm", True):
            q, k = rms_norm(q, p[a + "self_attn.q_norm.weight"]), rms_norm(k, p[a + "self_attn.k_norm.weight"])
        q, k = q.view(Bq, Tq, H, D), k.view(Bq, Tq, K, D)
        v = lin(x, a + "self_attn.v_proj").view(Bq, Tq, K, D)
        pattern, z = attention(rope_half(q, m["theta"]), rope_half(k, m["theta"]), v, m, D ** -0.5)
        w_o = p[a + "self_attn.o_proj.weight"]
        record_attention(rec, l, q, k, v, pattern, z, w_o.t())
        attn_out = post(lin(z.reshape(Bq, Tq, H * D), a + "self_attn.o_proj"), a + "post_attention_layernorm")
        rec[f"blocks.{l}.hook_attn_out"] = attn_out
        x = x + attn_out
        rec[f"blocks.{l}.hook_resid_mid"] = x
        act = torch.nn.functional.silu(lin(x, a + "mlp.gate_proj")) * lin(x, a + "mlp.up_proj")
        rec[f"blocks.{l}.mlp.hook_post"] = act
        mlp_out = post(lin(act, a + "mlp.down_proj"), a + "post_feedforward_layernorm")
        rec[f"blocks.{l}.hook_mlp_out"] = mlp_out
        x = x + mlp_out
        rec[f"blocks.{l}.hook_resid_post"] = x
    x = rms_norm(x, p["model.norm.weight"])
    rec["ln_final.hook_normalized"] = x
    rec["logits"] = x @ p["lm_head.weight"].t()
    return rec


def phi3_params(m):
    return decoder_params(m, ["input_layernorm", "post_attention_layernorm"], fused=True)


def phi3_config(m):
    """The keys of Phi-3-mini-4k-instruct's config.json, sizes shrunk."""
    return decoder_config(m, "Phi3ForCausalLM", "phi3", attention_bias=False, attention_dropout=0.0,
                          embd_pdrop=0.0, resid_pdrop=0.0, initializer_range=0.02,
                          original_max_position_embeddings=16, rope_scaling=None,
                          sliding_window=2047, pad_token_id=0, use_cache=True)


def phi3_forward(p, m, ids):
    """HF Phi3ForCausalLM.forward (modeling_phi3.py), eval mode, eager, float64: Llama's
    block with q, k, v the first H*D, next K*D and last K*D outputs of qkv_proj, and gate, up
    the two halves of gate_up_proj's outputs (chunk(2): gate first), up * silu(gate). The
    window (2047) is longer than any sequence here."""
    C, F, H, K = m["C"], m["F"], m["H"], m["K"]
    D = C // H
    Bq, Tq = ids.shape
    rec = {}

    def lin(x, name):
        return x @ p[name + ".weight"].t()

    x = p["model.embed_tokens.weight"][ids]
    rec["hook_embed"] = x
    for l in range(m["L"]):
        a = f"model.layers.{l}."
        rec[f"blocks.{l}.hook_resid_pre"] = x
        n = rms_norm(x, p[a + "input_layernorm.weight"])
        qkv = lin(n, a + "self_attn.qkv_proj")
        q = qkv[..., :H * D].view(Bq, Tq, H, D)
        k = qkv[..., H * D:H * D + K * D].view(Bq, Tq, K, D)
        v = qkv[..., H * D + K * D:].view(Bq, Tq, K, D)
        pattern, z = attention(rope_half(q, m["theta"]), rope_half(k, m["theta"]), v, m, D ** -0.5)
        w_o = p[a + "self_attn.o_proj.weight"]
        record_attention(rec, l, q, k, v, pattern, z, w_o.t())
        attn_out = lin(z.reshape(Bq, Tq, H * D), a + "self_attn.o_proj")
        rec[f"blocks.{l}.hook_attn_out"] = attn_out
        x = x + attn_out
        rec[f"blocks.{l}.hook_resid_mid"] = x
        n = rms_norm(x, p[a + "post_attention_layernorm.weight"])
        gate, up = lin(n, a + "mlp.gate_up_proj").chunk(2, dim=-1)
        post = up * torch.nn.functional.silu(gate)
        rec[f"blocks.{l}.mlp.hook_post"] = post
        mlp_out = lin(post, a + "mlp.down_proj")
        rec[f"blocks.{l}.hook_mlp_out"] = mlp_out
        x = x + mlp_out
        rec[f"blocks.{l}.hook_resid_post"] = x
    x = rms_norm(x, p["model.norm.weight"])
    rec["ln_final.hook_normalized"] = x
    rec["logits"] = x @ p["lm_head.weight"].t()
    return rec


def greedy(forward, p, m, prompt, n):
    """n argmax steps after prompt (T,), each a full forward over the sequence so far (no
    cache). Returns the new ids and the smallest top-2 logit gap of any step."""
    seq, gap = list(prompt.tolist()), float("inf")
    for _ in range(n):
        last = forward(p, m, torch.tensor([seq]))["logits"][0, -1]
        top = torch.topk(last, 2).values
        gap = min(gap, (top[0] - top[1]).item())
        seq.append(int(last.argmax()))
    return seq[len(prompt):], gap


# ---------------------------------------------------------------- checks and output

def self_check(rec, m, p):
    """Invariants of the recorded sites, so a slip in this script shows here first."""
    for l in range(m["L"]):
        res = rec[f"blocks.{l}.attn.hook_result"].sum(dim=2)
        if m["family"] == "gpt2":
            b_o = p[f"h.{l}.attn.c_proj.bias"]
        elif m["family"] == "neox":
            b_o = p[f"gpt_neox.layers.{l}.attention.dense.bias"]
        else:
            b_o = p.get(f"model.layers.{l}.self_attn.o_proj.bias", torch.zeros(m["C"], dtype=torch.float64))
        o = res + b_o
        post_w = p.get(f"model.layers.{l}.post_attention_layernorm.weight")
        if m["family"] == "gemma2":  # the attention output is normed before the residual add
            o = gemma_norm(o, post_w, 1e-6)
        elif m["family"] == "olmo2":
            o = rms_norm(o, post_w)
        assert torch.allclose(o, rec[f"blocks.{l}.hook_attn_out"], atol=1e-10)
        pat = rec[f"blocks.{l}.attn.hook_pattern"]
        assert torch.allclose(pat.sum(-1), torch.ones_like(pat.sum(-1)), atol=1e-12)
        assert (pat.triu(1) == 0).all()
        pre, post = rec[f"blocks.{l}.hook_resid_pre"], rec[f"blocks.{l}.hook_resid_post"]
        attn_out, mlp_out = rec[f"blocks.{l}.hook_attn_out"], rec[f"blocks.{l}.hook_mlp_out"]
        if m.get("parallel"):
            # a parallel block reads its input once: no resid_mid, both branches add to it
            assert f"blocks.{l}.hook_resid_mid" not in rec
            assert torch.allclose(pre + attn_out + mlp_out, post, atol=1e-10)
        else:
            mid = rec[f"blocks.{l}.hook_resid_mid"]
            assert torch.allclose(pre + attn_out, mid, atol=1e-10)
            assert torch.allclose(mid + mlp_out, post, atol=1e-10)
        nxt = rec.get(f"blocks.{l + 1}.hook_resid_pre")
        if nxt is not None:
            assert torch.equal(nxt, rec[f"blocks.{l}.hook_resid_post"])
    # Patterns must not be near-uniform, or head-mapping bugs could hide.
    top = max(rec[f"blocks.{l}.attn.hook_pattern"][..., -1, :].max().item() for l in range(m["L"]))
    assert top > 0.5, f"attention too flat (max weight at last query {top:.3f})"


FAMILIES = {  # family -> (params, config, forward)
    "gpt2": (gpt2_params, gpt2_config, gpt2_forward),
    "llama": (llama_params, llama_config, llama_forward),
    "neox": (neox_params, neox_config, neox_forward),
    "gemma2": (gemma2_params, gemma2_config, gemma2_forward),
    "qwen3": (qwen3_params, qwen3_config, qwen3_forward),
    "olmo2": (olmo2_params, olmo2_config, olmo2_forward),
    "phi3": (phi3_params, phi3_config, phi3_forward),
}


def make_model(name, m, out_root):
    torch.manual_seed(m["seed"])
    make_params, make_config, forward = FAMILIES[m["family"]]
    params = make_params(m)
    config = make_config(m)
    ids = torch.randint(0, m["V"], (B, T))
    rows, ref = stored(params, m["dtype"])
    rec = forward(ref, m, ids)
    self_check(rec, m, ref)
    extra = []
    moved = {}
    for label, change in m.get("switches", {}).items():
        # each option the model is here for must matter, by far more than the C test's 1e-4
        moved[label] = (forward(ref, dict(m, **change), ids)["logits"] - rec["logits"]).abs().max().item()
        assert moved[label] > 1e-2, f"{name}: switching {label} off moves logits by {moved[label]:.1e}"
    if m["family"] == "neox" or m.get("greedy"):
        cont, gap = greedy(forward, ref, m, ids[0], N_GREEDY)
        # fp32 (and transformers' cached decoding) must be able to call every step
        assert gap > 1e-3, f"{name}: greedy step with top-2 gap {gap:.2e} is too close to call"
        # generate() would stop at eos; the stored continuation must not contain it
        assert config["eos_token_id"] not in cont, f"{name}: greedy emits eos"
        extra = [("greedy", "I32", np.array(cont, dtype=np.int32))]

    d = os.path.join(out_root, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    st_write.write(os.path.join(d, "model.safetensors"), rows)
    golden = [("tokens", "I32", ids.numpy().astype(np.int32))]
    golden += [(k, "F32", v.numpy().astype(np.float32)) for k, v in rec.items()]
    golden += extra
    st_write.write(os.path.join(d, "golden.safetensors"), golden,
                   {"format": "pt", "source": "tools/reference/make_goldens.py",
                    "reference": "float64 torch, Hugging Face semantics"})
    for f in ("config.json", "model.safetensors", "golden.safetensors"):
        size = os.path.getsize(os.path.join(d, f))
        assert size < 200 * 1024, f"{name}/{f} is {size} bytes"
    # The same forward in float32 shows how far an honest fp32 engine lands from these
    # goldens; it must stay well inside the C test's 1e-4.
    ref32 = {k: v.float() for k, v in ref.items()}
    rec32 = forward(ref32, m, ids)
    fp32_err = max((rec32[k].double() - rec[k]).abs().max().item() for k in rec)
    assert fp32_err < 2e-5, f"{name}: float32 rerun differs by {fp32_err:.2e}"
    note = ""
    if extra:
        assert greedy(forward, ref32, m, ids[0], N_GREEDY)[0] == cont, f"{name}: fp32 greedy differs"
        note = f", greedy {cont} (min top-2 gap {gap:.3f})"
    if moved:
        note += ", switched off -> max |logit change|: " + ", ".join(f"{k} {v:.2g}" for k, v in moved.items())
    print(f"{name}: {len(rec)} sites, logits |max| {rec['logits'].abs().max():.3f}, "
          f"fp32 rerun max error {fp32_err:.1e}, tokens {ids.tolist()}{note}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "data", "golden")
    torch.set_num_threads(1)  # one summation order, so every run gives the same bytes
    for name, m in MODELS.items():
        make_model(name, m, out_root)


if __name__ == "__main__":
    main()
