#!/usr/bin/python3
"""Engine-level golden outputs for Strata's model recipes, independent of the C code.

A recipe describes a decoder-only transformer as data (recipe.json); the weights use
Strata's own internal tensor names (weights.safetensors), so a test can run the engine on
them without any checkpoint loader. For each variant in RECIPES this script draws seeded
random weights, runs the float64 torch forward below, which implements the semantics
literally, and writes

    tests/data/golden/recipes/<name>/recipe.json         the recipe, every key present
    tests/data/golden/recipes/<name>/weights.safetensors  F32, names below
    tests/data/golden/recipes/<name>/golden.safetensors   `tokens` (B, T) I32 + every site, F32

Run with Debian's interpreter (torch + numpy, no transformers):
    /usr/bin/python3 tools/reference/make_recipe_goldens.py [OUT_DIR]
OUT_DIR defaults to tests/data/golden/recipes. The output is byte-identical on every run
(seeded per recipe, one torch thread, fixed key order), and every file is under 200 KB.

Weights (F32; matrices are [rows, cols] = nn.Linear [out, in]; a tensor is absent when the
recipe has no use for it). C = d_model, H = n_heads, K = n_kv_heads, D = d_head,
F = d_mlp, V = vocab:
  tok_embed (V,C); pos_embed (n_ctx,C) iff learned_pos; norm_f_w (C); norm_f_b (C) iff
  layernorm; unembed (V,C) iff not tied; b_unembed (V) iff unembed_bias.
  layers.{l}.: norm1_w, norm1_b (b iff layernorm); w_q (H*D,C), b_q (iff qkv_bias);
  w_k (K*D,C), b_k; w_v (K*D,C), b_v; q_norm_w, k_norm_w iff qk_norm ((D) for "head",
  (H*D) resp. (K*D) for "whole"), q_norm_b, k_norm_b iff qk_norm and layernorm;
  w_o (C,H*D), b_o (iff o_bias); attn_post_w, attn_post_b (iff post_norms; b iff
  layernorm); norm2_w, norm2_b (b iff layernorm); w_gate (F,C) iff gated, b_gate iff gated
  and mlp_bias; w_up (F,C), b_up (iff mlp_bias); w_down (C,F), b_down (iff mlp_bias);
  mlp_post_w, mlp_post_b (iff post_norms; b iff layernorm).

Reference semantics (float64):
- norms: layernorm (x - mean) / sqrt(var_biased + eps) * w + b; rmsnorm
  x / sqrt(mean(x^2) + eps) * w; rmsnorm_unit_offset x / sqrt(mean(x^2) + eps) * (1 + w).
  Every norm of the model (norm1, norm2, final, post norms, q/k norms) is of this kind;
  biases only for layernorm.
- embed: hook_embed = tok_embed[ids] * embed_scale; hook_pos_embed = pos_embed[0..T)
  (iff learned_pos, broadcast to (B,T,C)); resid_pre of block 0 = hook_embed
  (+ hook_pos_embed).
- pre_norms (optional key, default true; written only when false, so the files made before
  it keep their bytes): without pre-norms n1 = x and n2 = x_mid (or x), and norm1_w/b,
  norm2_w/b do not exist (OLMo-2).
- block, input x: n1 = norm(x; norm1). q = n1 W_q^T + b_q (B,T,H,D); k, v likewise with K
  heads. qk_norm "head": q = norm over each head's D values with q_norm_w (D), k likewise
  with k_norm_w; "whole": q = norm over the H*D values with q_norm_w (H*D), k over its K*D.
  attn.hook_q / hook_k = after the q/k norm, before RoPE; attn.hook_v = v.
  RoPE on the first rope_dims dims of each head (the rest passes through): pair i
  (i < rope_dims/2) has frequency theta^(-2i/rope_dims), angle = position * frequency;
  "half" pairs (i, i + rope_dims/2) (HF rotate_half on the first rope_dims dims),
  "adjacent" pairs (2i, 2i+1); (a, b) -> (a cos - b sin, a sin + b cos).
  scores = (q_h . k_{h // (H/K)}) * attn_scale; if attn_softcap > 0:
  scores = attn_softcap * tanh(scores / attn_softcap). Key j is visible from query i iff
  j <= i and (the layer is not windowed or i - j < window); layer l is windowed iff
  window > 0 and l % window_period == 0. pattern = softmax over the visible keys
  (hook_pattern (B,H,T,T), exact zeros where masked); z = pattern v (hook_z (B,T,H,D)).
  hook_result (B,T,H,C) = z_h W_o[:, h*D:(h+1)*D]^T (no bias, no post norm).
  o = z W_o^T + b_o; attn_out = norm(o; attn_post) if post_norms else o (hook_attn_out).
  sequential: x_mid = x + attn_out (hook_resid_mid), n2 = norm(x_mid; norm2);
  parallel: n2 = norm(x; norm2) of the block's input, and there is no hook_resid_mid.
  MLP: gated: post = act(n2 W_gate^T + b_gate) * (n2 W_up^T + b_up); else
  post = act(n2 W_up^T + b_up) (mlp.hook_post). m = post W_down^T + b_down;
  mlp_out = norm(m; mlp_post) if post_norms else m (hook_mlp_out).
  sequential: resid_post = x_mid + mlp_out; parallel: resid_post = x + attn_out + mlp_out.
  activations: gelu_tanh 0.5u(1 + tanh(sqrt(2/pi)(u + 0.044715u^3))); gelu_erf
  0.5u(1 + erf(u/sqrt 2)); silu u sigmoid(u).
- final: ln_final.hook_normalized = norm(x; norm_f); logits = hook_normalized W_u^T
  + b_unembed (W_u = tok_embed when tied, else unembed); if final_softcap > 0:
  logits = final_softcap * tanh(logits / final_softcap). `logits` is after the softcap.

Checks made before anything is written: the site invariants (pattern rows sum to 1 over
the visible keys and are exactly 0 elsewhere, against a mask built independently of the
forward; the residual identities of sequential and parallel blocks; hook_result summed
over heads plus b_o gives o; q/k after an RMS norm have unit mean square per group);
attention is far from uniform; every option the recipe sets moves the logits by more than
1e-2 when switched off or to its usual confusion (half <-> adjacent pairing, partial <->
full rope_dims, the other norm kind, silu <-> gelu, ...; gelu_tanh <-> gelu_erf, whose
functions differ by at most 4.7e-4, by more than GELU_CONFUSION_MIN = 5e-4); and a float32
rerun lands within 2e-5 of every site.
"""

import json
import math
import os
import sys

import numpy as np
import torch

import st_write

B, T = 2, 7  # two sequences of seven tokens per recipe

# The recipe keys, in the order recipe.json writes them.
KEYS = ["n_layers", "d_model", "n_heads", "n_kv_heads", "d_head", "d_mlp", "vocab", "n_ctx",
        "norm", "norm_eps", "activation", "gated", "parallel", "post_norms", "qk_norm",
        "learned_pos", "rope", "rope_dims", "rope_theta", "attn_scale", "attn_softcap",
        "window", "window_period", "final_softcap", "embed_scale", "qkv_bias", "o_bias",
        "mlp_bias", "unembed_bias", "tied"]

# Keys added later, with their default; recipe.json has them only where they differ from it.
OPTIONAL_KEYS = {"pre_norms": True}

COMMON = dict(d_model=32, n_heads=4, d_head=8, n_ctx=16)

# Weight scales are chosen so activations are O(1) and attention is far from uniform (the
# checks below assert both); fp32 rounding stays near 1e-6.
RECIPES = {
    # Gemma-2-like: (1 + w) RMS norms before and after each sublayer, GeGLU, score and
    # final softcaps, a sliding window on layers 0 and 2 only, sqrt(C) embedding scale,
    # an attention scale that is not 1/sqrt(D), GQA, tied embedding.
    "gemma-like": dict(seed=2001, recipe=dict(
        COMMON, n_layers=3, n_kv_heads=2, d_mlp=48, vocab=61,
        norm="rmsnorm_unit_offset", norm_eps=1e-6, activation="gelu_tanh", gated=True,
        parallel=False, post_norms=True, qk_norm="none", learned_pos=False,
        rope="half", rope_dims=8, rope_theta=10000.0, attn_scale=1.0 / math.sqrt(12.0),
        attn_softcap=2.0, window=3, window_period=2, final_softcap=3.0,
        embed_scale=math.sqrt(32.0), qkv_bias=False, o_bias=False, mlp_bias=False,
        unembed_bias=False, tied=True)),
    # Qwen3/OLMo-like pieces: per-head RMS q/k norm, SwiGLU, partial adjacent-pair RoPE
    # (GPT-J style: 4 of 8 dims), a window on every layer, every bias there is, untied.
    "qknorm-partial": dict(seed=2002, recipe=dict(
        COMMON, n_layers=2, n_kv_heads=4, d_mlp=48, vocab=53,
        norm="rmsnorm", norm_eps=1e-6, activation="silu", gated=True,
        parallel=False, post_norms=False, qk_norm="head", learned_pos=False,
        rope="adjacent", rope_dims=4, rope_theta=10000.0, attn_scale=1.0 / math.sqrt(8.0),
        attn_softcap=0.0, window=4, window_period=1, final_softcap=0.0,
        embed_scale=1.0, qkv_bias=True, o_bias=True, mlp_bias=True,
        unembed_bias=True, tied=False)),
    # GPT-2-like LayerNorm with biases, exact-erf GELU, parallel residual, learned
    # positions, no RoPE, and a whole-vector q/k LayerNorm (k over K*D = 16 values, not 32).
    "parallel-learned": dict(seed=2003, recipe=dict(
        COMMON, n_layers=2, n_kv_heads=2, d_mlp=48, vocab=67,
        norm="layernorm", norm_eps=1e-5, activation="gelu_erf", gated=False,
        parallel=True, post_norms=False, qk_norm="whole", learned_pos=True,
        rope="none", rope_dims=0, rope_theta=10000.0, attn_scale=1.0 / math.sqrt(8.0),
        attn_softcap=0.0, window=0, window_period=1, final_softcap=0.0,
        embed_scale=1.0, qkv_bias=True, o_bias=True, mlp_bias=True,
        unembed_bias=True, tied=False)),
}


# ---------------------------------------------------------------- random weights

def linear_w(out_f, in_f, gain=1.0):
    return torch.randn(out_f, in_f) * (gain / math.sqrt(in_f))


def bias(n, scale=0.2):
    return torch.randn(n) * scale


def make_weights(r):
    """Seeded weights in Strata's internal names, in a fixed order."""
    C, H, K, D, F, V = (r[k] for k in ("d_model", "n_heads", "n_kv_heads", "d_head", "d_mlp", "vocab"))
    ln = r["norm"] == "layernorm"

    def gain(n):
        # the effective gain lands in [0.5, 1.5) for every kind, so a missing or doubled
        # unit offset shows
        if r["norm"] == "rmsnorm_unit_offset":
            return torch.rand(n) - 0.5
        return torch.rand(n) + 0.5

    def norm(prefix, n):
        p = {prefix + "_w": gain(n)}
        if ln:
            p[prefix + "_b"] = bias(n)
        return p

    w = {"tok_embed": torch.randn(V, C) * 0.5}
    if r["learned_pos"]:
        w["pos_embed"] = torch.randn(r["n_ctx"], C) * 0.5
    for l in range(r["n_layers"]):
        a = f"layers.{l}."
        p = dict(norm(a + "norm1", C))
        p[a + "w_q"] = linear_w(H * D, C, 2.0)
        if r["qkv_bias"]:
            p[a + "b_q"] = bias(H * D, 0.5)
        p[a + "w_k"] = linear_w(K * D, C)
        if r["qkv_bias"]:
            p[a + "b_k"] = bias(K * D, 0.5)
        p[a + "w_v"] = linear_w(K * D, C)
        if r["qkv_bias"]:
            p[a + "b_v"] = bias(K * D, 0.5)
        if r["qk_norm"] != "none":
            whole = r["qk_norm"] == "whole"
            p.update(norm(a + "q_norm", H * D if whole else D))
            p.update(norm(a + "k_norm", K * D if whole else D))
        p[a + "w_o"] = linear_w(C, H * D)
        if r["o_bias"]:
            p[a + "b_o"] = bias(C)
        if r["post_norms"]:
            p.update(norm(a + "attn_post", C))
        p.update(norm(a + "norm2", C))
        if r["gated"]:
            p[a + "w_gate"] = linear_w(F, C, 2.0)
            if r["mlp_bias"]:
                p[a + "b_gate"] = bias(F)
        p[a + "w_up"] = linear_w(F, C, 2.0)
        if r["mlp_bias"]:
            p[a + "b_up"] = bias(F)
        p[a + "w_down"] = linear_w(C, F)
        if r["mlp_bias"]:
            p[a + "b_down"] = bias(C)
        if r["post_norms"]:
            p.update(norm(a + "mlp_post", C))
        w.update(p)
    w.update(norm("norm_f", C))
    if not r["tied"]:
        w["unembed"] = linear_w(V, C, 4.0)
    if r["unembed_bias"]:
        w["b_unembed"] = bias(V, 0.5)
    return w


# ---------------------------------------------------------------- reference forward

def norm(r, x, w, b):
    """The recipe's norm over the last axis of x."""
    eps = r["norm_eps"]
    if r["norm"] == "layernorm":
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * w + b
    y = x / torch.sqrt((x ** 2).mean(-1, keepdim=True) + eps)
    return y * (1.0 + w) if r["norm"] == "rmsnorm_unit_offset" else y * w


def act(r, u):
    if r["activation"] == "gelu_tanh":
        return 0.5 * u * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (u + 0.044715 * u ** 3)))
    if r["activation"] == "gelu_erf":
        return 0.5 * u * (1.0 + torch.erf(u / math.sqrt(2.0)))
    assert r["activation"] == "silu"
    return u * torch.sigmoid(u)


def rope(r, x):
    """x (B,T,n,D): rotate the first rope_dims dims of each head by position."""
    if r["rope"] == "none":
        return x
    R, Tq = r["rope_dims"], x.shape[1]
    i = torch.arange(R // 2, dtype=torch.float64)
    freq = r["rope_theta"] ** (-2.0 * i / R)
    ang = torch.arange(Tq, dtype=torch.float64)[:, None] * freq[None, :]  # (T, R/2)
    cos, sin = torch.cos(ang)[None, :, None, :].to(x.dtype), torch.sin(ang)[None, :, None, :].to(x.dtype)
    if r["rope"] == "half":
        ia, ib = torch.arange(R // 2), torch.arange(R // 2) + R // 2
    else:
        assert r["rope"] == "adjacent"
        ia, ib = 2 * torch.arange(R // 2), 2 * torch.arange(R // 2) + 1
    a, b = x[..., ia], x[..., ib]
    y = x.clone()
    y[..., ia] = a * cos - b * sin
    y[..., ib] = a * sin + b * cos
    return y


def visible(r, l, Tq):
    """(T, T) bool: key j visible from query i."""
    i = torch.arange(Tq)[:, None]
    j = torch.arange(Tq)[None, :]
    vis = j <= i
    if r["window"] > 0 and l % r["window_period"] == 0:
        vis = vis & (i - j < r["window"])
    return vis


def forward(r, w, ids):
    """ids (B,T) -> dict of sites, in the order golden.safetensors stores them."""
    C, H, K, D = r["d_model"], r["n_heads"], r["n_kv_heads"], r["d_head"]
    Bq, Tq = ids.shape
    ln = r["norm"] == "layernorm"
    rec = {}

    def nrm(x, prefix):
        return norm(r, x, w[prefix + "_w"], w[prefix + "_b"] if ln else None)

    def lin(x, wname, bname, has_bias):
        y = x @ w[wname].t()
        return y + w[bname] if has_bias else y

    x = w["tok_embed"][ids] * r["embed_scale"]
    rec["hook_embed"] = x
    if r["learned_pos"]:
        pos = w["pos_embed"][torch.arange(Tq)].expand(Bq, Tq, C)
        rec["hook_pos_embed"] = pos
        x = x + pos
    for l in range(r["n_layers"]):
        a = f"layers.{l}."
        s = f"blocks.{l}."
        rec[s + "hook_resid_pre"] = x
        n1 = nrm(x, a + "norm1") if r.get("pre_norms", True) else x
        q = lin(n1, a + "w_q", a + "b_q", r["qkv_bias"])
        k = lin(n1, a + "w_k", a + "b_k", r["qkv_bias"])
        v = lin(n1, a + "w_v", a + "b_v", r["qkv_bias"]).view(Bq, Tq, K, D)
        if r["qk_norm"] == "head":
            q = nrm(q.view(Bq, Tq, H, D), a + "q_norm")
            k = nrm(k.view(Bq, Tq, K, D), a + "k_norm")
        else:
            if r["qk_norm"] == "whole":
                q, k = nrm(q, a + "q_norm"), nrm(k, a + "k_norm")
            q, k = q.view(Bq, Tq, H, D), k.view(Bq, Tq, K, D)
        rec[s + "attn.hook_q"], rec[s + "attn.hook_k"], rec[s + "attn.hook_v"] = q, k, v
        qr, kr = rope(r, q), rope(r, k)
        kv_of = torch.arange(H) // (H // K)  # query head h reads key/value head h // (H/K)
        kh, vh = kr[:, :, kv_of].transpose(1, 2), v[:, :, kv_of].transpose(1, 2)  # (B,H,T,D)
        scores = (qr.transpose(1, 2) @ kh.transpose(-1, -2)) * r["attn_scale"]
        if r["attn_softcap"] > 0:
            scores = r["attn_softcap"] * torch.tanh(scores / r["attn_softcap"])
        pattern = torch.softmax(scores.masked_fill(~visible(r, l, Tq), float("-inf")), dim=-1)
        rec[s + "attn.hook_pattern"] = pattern
        z = (pattern @ vh).transpose(1, 2)  # (B,T,H,D)
        rec[s + "attn.hook_z"] = z
        rec[s + "attn.hook_result"] = torch.einsum("bthd,chd->bthc", z, w[a + "w_o"].view(C, H, D))
        o = lin(z.reshape(Bq, Tq, H * D), a + "w_o", a + "b_o", r["o_bias"])
        attn_out = nrm(o, a + "attn_post") if r["post_norms"] else o
        rec[s + "hook_attn_out"] = attn_out
        pre = r.get("pre_norms", True)
        if r["parallel"]:
            n2 = nrm(x, a + "norm2") if pre else x
        else:
            mid = x + attn_out
            rec[s + "hook_resid_mid"] = mid
            n2 = nrm(mid, a + "norm2") if pre else mid
        up = lin(n2, a + "w_up", a + "b_up", r["mlp_bias"])
        if r["gated"]:
            post = act(r, lin(n2, a + "w_gate", a + "b_gate", r["mlp_bias"])) * up
        else:
            post = act(r, up)
        rec[s + "mlp.hook_post"] = post
        m = lin(post, a + "w_down", a + "b_down", r["mlp_bias"])
        mlp_out = nrm(m, a + "mlp_post") if r["post_norms"] else m
        rec[s + "hook_mlp_out"] = mlp_out
        x = x + attn_out + mlp_out if r["parallel"] else mid + mlp_out
        rec[s + "hook_resid_post"] = x
    x = nrm(x, "norm_f")
    rec["ln_final.hook_normalized"] = x
    logits = lin(x, "tok_embed" if r["tied"] else "unembed", "b_unembed", r["unembed_bias"])
    if r["final_softcap"] > 0:
        logits = r["final_softcap"] * torch.tanh(logits / r["final_softcap"])
    rec["logits"] = logits
    return rec


# ---------------------------------------------------------------- checks and output

def self_check(r, w, rec):
    """Invariants of the recorded sites; the attention mask is rebuilt here, not taken from
    the forward."""
    H, K, D = r["n_heads"], r["n_kv_heads"], r["d_head"]
    for l in range(r["n_layers"]):
        s, a = f"blocks.{l}.", f"layers.{l}."
        pat = rec[s + "attn.hook_pattern"]
        # visibility written out by loops: causal, and the window on windowed layers
        windowed = r["window"] > 0 and l % r["window_period"] == 0
        vis = torch.tensor([[j <= i and (not windowed or i - j < r["window"]) for j in range(T)]
                            for i in range(T)])
        assert (pat[..., ~vis] == 0).all(), f"{s}: weight on a masked key"
        assert (pat[..., vis] > 0).all()
        assert torch.allclose(pat.sum(-1), torch.ones_like(pat.sum(-1)), atol=1e-12)
        if windowed:
            assert not torch.equal(vis, torch.ones(T, T, dtype=torch.bool).tril()), "window hides nothing"
        # hook_result summed over heads is o without its bias
        o = rec[s + "attn.hook_result"].sum(dim=2)
        if r["o_bias"]:
            o = o + w[a + "b_o"]
        if r["post_norms"]:
            o = norm(r, o, w[a + "attn_post_w"], w.get(a + "attn_post_b"))
        assert torch.allclose(o, rec[s + "hook_attn_out"], atol=1e-10)
        # q/k after an RMS norm: unit mean square per group once the gain is divided out
        if r["qk_norm"] != "none" and r["norm"] != "layernorm":
            for t, n in (("q", H), ("k", K)):
                g = w[a + t + "_norm_w"] + (1.0 if r["norm"] == "rmsnorm_unit_offset" else 0.0)
                y = rec[s + "attn.hook_" + t]
                y = (y / g) if r["qk_norm"] == "head" else (y.reshape(B, T, n * D) / g)
                ms = (y ** 2).mean(-1)
                assert ((ms - 1).abs() < 1e-3).all(), f"{s}{t}: mean square {ms.min():.4f}"
        pre, post = rec[s + "hook_resid_pre"], rec[s + "hook_resid_post"]
        attn_out, mlp_out = rec[s + "hook_attn_out"], rec[s + "hook_mlp_out"]
        if r["parallel"]:
            assert s + "hook_resid_mid" not in rec
            assert torch.allclose(pre + attn_out + mlp_out, post, atol=1e-10)
        else:
            mid = rec[s + "hook_resid_mid"]
            assert torch.allclose(pre + attn_out, mid, atol=1e-10)
            assert torch.allclose(mid + mlp_out, post, atol=1e-10)
        nxt = rec.get(f"blocks.{l + 1}.hook_resid_pre")
        if nxt is not None:
            assert torch.equal(nxt, post)
    # Patterns must not be near-uniform, or head-mapping bugs could hide.
    top = max(rec[f"blocks.{l}.attn.hook_pattern"][..., -1, :].max().item() for l in range(r["n_layers"]))
    assert top > 0.5, f"attention too flat (max weight at last query {top:.3f})"


# The two GELUs differ by at most 4.7e-4 (at u = -2.7), so mistaking one for the other
# moves these logits by about 1e-3, not 1e-2; that is still 10x the C test's 1e-4, and the
# confusion is checked against this lower bound instead.
GELU_CONFUSION_MIN = 5e-4


def switches(r):
    """(label, recipe, least logit change) triples: each option the recipe uses, switched
    off or to the value it is most easily confused with."""
    out = []

    def sw(label, least=1e-2, **kv):
        out.append((label, dict(r, **kv), least))

    sw("norm " + r["norm"], norm={"layernorm": "rmsnorm", "rmsnorm": "rmsnorm_unit_offset",
                                  "rmsnorm_unit_offset": "rmsnorm"}[r["norm"]])
    sw("activation " + r["activation"], activation="gelu_erf" if r["activation"] == "silu" else "silu")
    if r["activation"] != "silu":
        sw("gelu_tanh <-> gelu_erf", least=GELU_CONFUSION_MIN,
           activation={"gelu_tanh": "gelu_erf", "gelu_erf": "gelu_tanh"}[r["activation"]])
    if r["gated"]:
        sw("gated", gated=False)
    sw("parallel" if r["parallel"] else "sequential", parallel=not r["parallel"])
    if r["post_norms"]:
        sw("post_norms", post_norms=False)
    if r["qk_norm"] != "none":
        sw("qk_norm " + r["qk_norm"], qk_norm="none")
    if r["learned_pos"]:
        sw("learned_pos", learned_pos=False)
    if r["rope"] != "none":
        sw("rope " + r["rope"], rope="none")
        sw("rope pairing", rope={"half": "adjacent", "adjacent": "half"}[r["rope"]])
        sw("rope_theta", rope_theta=r["rope_theta"] * 100.0)
        if r["rope_dims"] < r["d_head"]:
            sw("partial rope_dims", rope_dims=r["d_head"])
    if r["attn_scale"] != 1.0 / math.sqrt(r["d_head"]):
        sw("attn_scale", attn_scale=1.0 / math.sqrt(r["d_head"]))
    if r["attn_softcap"] > 0:
        sw("attn_softcap", attn_softcap=0.0)
    if r["window"] > 0:
        sw("window", window=0)
        if r["window_period"] > 1:
            sw("window_period", window_period=1)
    if r["final_softcap"] > 0:
        sw("final_softcap", final_softcap=0.0)
    if r["embed_scale"] != 1.0:
        sw("embed_scale", embed_scale=1.0)
    for key in ("qkv_bias", "o_bias", "mlp_bias", "unembed_bias"):
        if r[key]:
            sw(key, **{key: False})
    if not r["tied"]:
        sw("untied", tied=True)
    return out


def make_recipe(name, spec, out_root):
    r = spec["recipe"]
    assert sorted(k for k in r if k not in OPTIONAL_KEYS) == sorted(KEYS), f"{name}: recipe keys"
    r = {k: r[k] for k in KEYS + [k for k in OPTIONAL_KEYS if r.get(k, OPTIONAL_KEYS[k]) != OPTIONAL_KEYS[k]]}
    torch.manual_seed(spec["seed"])
    w32 = make_weights(r)
    ids = torch.randint(0, r["vocab"], (B, T))
    w = {k: v.double() for k, v in w32.items()}
    rec = forward(r, w, ids)
    self_check(r, w, rec)

    # every option the recipe sets must matter, by far more than the C test's 1e-4
    moved = {}
    for label, r2, least in switches(r):
        moved[label] = (forward(r2, w, ids)["logits"] - rec["logits"]).abs().max().item()
        assert moved[label] > least, f"{name}: switching {label} moves logits by {moved[label]:.1e}"

    d = os.path.join(out_root, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "recipe.json"), "w") as f:
        json.dump(r, f, indent=2)
        f.write("\n")
    st_write.write(os.path.join(d, "weights.safetensors"),
                   [(k, "F32", v.numpy()) for k, v in w32.items()],
                   {"format": "pt", "source": "tools/reference/make_recipe_goldens.py"})
    golden = [("tokens", "I32", ids.numpy().astype(np.int32))]
    golden += [(k, "F32", v.numpy().astype(np.float32)) for k, v in rec.items()]
    st_write.write(os.path.join(d, "golden.safetensors"), golden,
                   {"format": "pt", "source": "tools/reference/make_recipe_goldens.py",
                    "reference": "float64 torch, Strata recipe semantics"})
    for f in ("recipe.json", "weights.safetensors", "golden.safetensors"):
        size = os.path.getsize(os.path.join(d, f))
        assert size < 200 * 1024, f"{name}/{f} is {size} bytes"
    # An honest fp32 engine lands this close to the goldens; well inside the C test's 1e-4.
    rec32 = forward(r, {k: v.float() for k, v in w32.items()}, ids)
    fp32_err = max((rec32[k].double() - rec[k]).abs().max().item() for k in rec)
    assert fp32_err < 2e-5, f"{name}: float32 rerun differs by {fp32_err:.2e}"
    top = max(rec[f"blocks.{l}.attn.hook_pattern"][..., -1, :].max().item() for l in range(r["n_layers"]))
    print(f"{name}: {len(rec)} sites, logits |max| {rec['logits'].abs().max():.3f}, "
          f"top attention {top:.3f}, fp32 rerun max error {fp32_err:.1e}, tokens {ids.tolist()}")
    print("  option switched -> max |logit change|: "
          + ", ".join(f"{k} {v:.2g}" for k, v in moved.items()))


# ---------------------------------------------------------------- the HF goldens as recipes

def read_safetensors(path):
    """name -> float64 (or int64 for I32) torch tensor; F32, F16, BF16 and I32."""
    return {k: torch.from_numpy(v).long() if v.dtype == np.int32 else torch.from_numpy(v).double()
            for k, v in st_write.read(path).items()}


def hf_as_recipe(cfg, p):
    """An HF checkpoint of make_goldens.py (GPT-2, Llama/Qwen2/Mistral, GPT-NeoX, Gemma 2,
    Qwen3, OLMo-2, Phi-3) as a recipe and weights in Strata's names: the recipe semantics
    must reproduce its goldens."""
    t = cfg["model_type"]
    w = {}
    if t == "gpt2":
        C, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
        r = dict(n_layers=L, d_model=C, n_heads=H, n_kv_heads=H, d_head=C // H, d_mlp=4 * C,
                 vocab=cfg["vocab_size"], n_ctx=cfg["n_positions"], norm="layernorm",
                 norm_eps=cfg["layer_norm_epsilon"], activation="gelu_tanh", gated=False,
                 parallel=False, post_norms=False, qk_norm="none", learned_pos=True, rope="none",
                 rope_dims=0, rope_theta=10000.0, attn_scale=(C // H) ** -0.5, attn_softcap=0.0,
                 window=0, window_period=1, final_softcap=0.0, embed_scale=1.0, qkv_bias=True,
                 o_bias=True, mlp_bias=True, unembed_bias=False, tied=True)
        w["tok_embed"], w["pos_embed"] = p["wte.weight"], p["wpe.weight"]
        for l in range(L):
            h, a = f"h.{l}.", f"layers.{l}."
            w[a + "norm1_w"], w[a + "norm1_b"] = p[h + "ln_1.weight"], p[h + "ln_1.bias"]
            for i, x in enumerate("qkv"):  # Conv1D is [in, out]
                w[a + "w_" + x] = p[h + "attn.c_attn.weight"][:, i * C:(i + 1) * C].t()
                w[a + "b_" + x] = p[h + "attn.c_attn.bias"][i * C:(i + 1) * C]
            w[a + "w_o"], w[a + "b_o"] = p[h + "attn.c_proj.weight"].t(), p[h + "attn.c_proj.bias"]
            w[a + "norm2_w"], w[a + "norm2_b"] = p[h + "ln_2.weight"], p[h + "ln_2.bias"]
            w[a + "w_up"], w[a + "b_up"] = p[h + "mlp.c_fc.weight"].t(), p[h + "mlp.c_fc.bias"]
            w[a + "w_down"], w[a + "b_down"] = p[h + "mlp.c_proj.weight"].t(), p[h + "mlp.c_proj.bias"]
        w["norm_f_w"], w["norm_f_b"] = p["ln_f.weight"], p["ln_f.bias"]
    elif t == "gpt_neox":
        C, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
        D = C // H
        r = dict(n_layers=L, d_model=C, n_heads=H, n_kv_heads=H, d_head=D,
                 d_mlp=cfg["intermediate_size"], vocab=cfg["vocab_size"],
                 n_ctx=cfg["max_position_embeddings"], norm="layernorm",
                 norm_eps=cfg["layer_norm_eps"], activation="gelu_erf", gated=False,
                 parallel=cfg["use_parallel_residual"], post_norms=False, qk_norm="none",
                 learned_pos=False, rope="half", rope_dims=int(D * cfg["rotary_pct"]),
                 rope_theta=float(cfg["rotary_emb_base"]), attn_scale=D ** -0.5,
                 attn_softcap=0.0, window=0, window_period=1, final_softcap=0.0,
                 embed_scale=1.0, qkv_bias=True, o_bias=True, mlp_bias=True,
                 unembed_bias=False, tied=False)
        w["tok_embed"] = p["gpt_neox.embed_in.weight"]
        for l in range(L):
            h, a = f"gpt_neox.layers.{l}.", f"layers.{l}."
            w[a + "norm1_w"] = p[h + "input_layernorm.weight"]
            w[a + "norm1_b"] = p[h + "input_layernorm.bias"]
            qkv_w = p[h + "attention.query_key_value.weight"].view(H, 3, D, C)
            qkv_b = p[h + "attention.query_key_value.bias"].view(H, 3, D)
            for i, x in enumerate("qkv"):  # rows of head h are [q_h; k_h; v_h]
                w[a + "w_" + x] = qkv_w[:, i].reshape(C, C)
                w[a + "b_" + x] = qkv_b[:, i].reshape(C)
            w[a + "w_o"], w[a + "b_o"] = p[h + "attention.dense.weight"], p[h + "attention.dense.bias"]
            w[a + "norm2_w"] = p[h + "post_attention_layernorm.weight"]
            w[a + "norm2_b"] = p[h + "post_attention_layernorm.bias"]
            w[a + "w_up"], w[a + "b_up"] = p[h + "mlp.dense_h_to_4h.weight"], p[h + "mlp.dense_h_to_4h.bias"]
            w[a + "w_down"], w[a + "b_down"] = p[h + "mlp.dense_4h_to_h.weight"], p[h + "mlp.dense_4h_to_h.bias"]
        w["norm_f_w"] = p["gpt_neox.final_layer_norm.weight"]
        w["norm_f_b"] = p["gpt_neox.final_layer_norm.bias"]
        w["unembed"] = p["embed_out.weight"]
    else:  # llama, qwen2, mistral, and Gemma 2, Qwen3, OLMo-2, Phi-3 under model.layers.N.
        C, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
        D = cfg.get("head_dim", C // H)
        K = cfg["num_key_value_heads"]
        bias = "model.layers.0.self_attn.q_proj.bias" in p
        r = dict(n_layers=L, d_model=C, n_heads=H, n_kv_heads=K, d_head=D,
                 d_mlp=cfg["intermediate_size"], vocab=cfg["vocab_size"],
                 n_ctx=cfg["max_position_embeddings"], norm="rmsnorm", norm_eps=cfg["rms_norm_eps"],
                 activation="silu", gated=True, parallel=False, post_norms=False, qk_norm="none",
                 learned_pos=False, rope="half", rope_dims=D, rope_theta=float(cfg["rope_theta"]),
                 attn_scale=D ** -0.5, attn_softcap=0.0, window=0, window_period=1,
                 final_softcap=0.0, embed_scale=1.0, qkv_bias=bias, o_bias=False,
                 mlp_bias=False, unembed_bias=False, tied=cfg["tie_word_embeddings"])
        if t in ("mistral", "phi3") and cfg.get("sliding_window"):
            r.update(window=cfg["sliding_window"])  # every layer
        if t == "gemma2":
            r.update(norm="rmsnorm_unit_offset", activation="gelu_tanh", post_norms=True,
                     attn_scale=cfg["query_pre_attn_scalar"] ** -0.5,
                     attn_softcap=cfg["attn_logit_softcapping"] or 0.0,
                     final_softcap=cfg["final_logit_softcapping"] or 0.0,
                     window=cfg["sliding_window"] or 0, window_period=2, embed_scale=C ** 0.5)
        if t == "qwen3":
            r.update(qk_norm="head")
        if t == "olmo2":
            r.update(qk_norm="whole", post_norms=True, pre_norms=False)
        # the norms each family puts around its sublayers, in Strata's names
        norms = {"gemma2": dict(norm1_w="input_layernorm", attn_post_w="post_attention_layernorm",
                                norm2_w="pre_feedforward_layernorm",
                                mlp_post_w="post_feedforward_layernorm"),
                 "olmo2": dict(attn_post_w="post_attention_layernorm",
                               mlp_post_w="post_feedforward_layernorm")}.get(
            t, dict(norm1_w="input_layernorm", norm2_w="post_attention_layernorm"))
        w["tok_embed"] = p["model.embed_tokens.weight"]
        for l in range(L):
            h, a = f"model.layers.{l}.", f"layers.{l}."
            for ours, theirs in norms.items():
                w[a + ours] = p[h + theirs + ".weight"]
            if t == "phi3":  # qkv_proj rows: q, then k, then v; gate_up_proj rows: gate, then up
                qkv = p[h + "self_attn.qkv_proj.weight"]
                w[a + "w_q"], w[a + "w_k"], w[a + "w_v"] = qkv.split([H * D, K * D, K * D], 0)
                w[a + "w_gate"], w[a + "w_up"] = p[h + "mlp.gate_up_proj.weight"].chunk(2, 0)
            else:
                for x in "qkv":
                    w[a + "w_" + x] = p[h + f"self_attn.{x}_proj.weight"]
                    if bias:
                        w[a + "b_" + x] = p[h + f"self_attn.{x}_proj.bias"]
                for x in ("gate", "up"):
                    w[a + "w_" + x] = p[h + f"mlp.{x}_proj.weight"]
            if r["qk_norm"] != "none":
                w[a + "q_norm_w"] = p[h + "self_attn.q_norm.weight"]
                w[a + "k_norm_w"] = p[h + "self_attn.k_norm.weight"]
            w[a + "w_o"] = p[h + "self_attn.o_proj.weight"]
            w[a + "w_down"] = p[h + "mlp.down_proj.weight"]
        w["norm_f_w"] = p["model.norm.weight"]
        if not r["tied"]:
            w["unembed"] = p["lm_head.weight"]
    assert sorted(k for k in r if k not in OPTIONAL_KEYS) == sorted(KEYS)
    return r, w


def check_hf_goldens(golden_root):
    """Run the recipe forward on every HF golden checkpoint of make_goldens.py (which
    check_goldens_hf.py ties to transformers) and compare every site it stores. Any
    difference beyond float32 storage means the recipe semantics above are not the HF ones."""
    worst = 0.0
    for name in sorted(os.listdir(golden_root)):
        d = os.path.join(golden_root, name)
        if not os.path.isfile(os.path.join(d, "config.json")):
            continue
        cfg = json.load(open(os.path.join(d, "config.json")))
        r, w = hf_as_recipe(cfg, read_safetensors(os.path.join(d, "model.safetensors")))
        g = read_safetensors(os.path.join(d, "golden.safetensors"))
        rec = forward(r, w, g["tokens"])
        sites = [k for k in g if k not in ("tokens", "greedy")]
        assert sorted(sites) == sorted(rec), f"{name}: site sets differ"
        err = max((rec[k] - g[k]).abs().max().item() for k in sites)
        assert err < 1e-5, f"{name}: the recipe forward differs from its golden by {err:.2e}"
        worst = max(worst, err)
        print(f"  HF golden {name} as a recipe: {len(sites)} sites, max |diff| {err:.1e}")
    return worst


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "..", "tests", "data", "golden", "recipes")
    torch.set_num_threads(1)  # one summation order, so every run gives the same bytes
    for name, spec in RECIPES.items():
        make_recipe(name, spec, out_root)
    # The same forward reproduces make_goldens.py's HF-semantics goldens (GPT-2, Llama,
    # Qwen2, Mistral, GPT-NeoX, Gemma 2, Qwen3, OLMo-2, Phi-3) when their checkpoints are
    # written as recipes.
    check_hf_goldens(os.path.join(here, "..", "..", "tests", "data", "golden"))


if __name__ == "__main__":
    main()
