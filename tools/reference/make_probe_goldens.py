#!/usr/bin/python3
"""Golden logit-lens and activation-patching numbers for Strata's probes, independent of
the C code.

For a seeded GPT-2 and a seeded Llama (GQA, HF rotate-half RoPE, untied lm_head) model
this script
  1. draws random weights and writes them as a Hugging Face checkpoint
     (config.json + model.safetensors, F32) under OUT_DIR/<name>/;
  2. runs a plain float64 torch forward pass (written here from the HF modeling code, not
     importing Strata or transformers) with hooks that can overwrite resid_pre, attn_out,
     mlp_out or one head of z at chosen positions;
  3. writes OUT_DIR/<name>/probe-golden.json with
       lens:  for the clean prompt, every residual point k = 0..L (resid_pre of block k,
              k = L the final resid_post) and position: the target's probability,
              log-probability and rank (tokens with a strictly greater logit) under the
              model's own final norm, and the top-5 ids;
       patch: denoising with the logit difference target - contrast at the last position,
              clean into corrupted, for resid_pre / attn_out / mlp_out at (layer, position)
              and per head (hook_z of one head) over all positions and at the last one:
              the raw metric and the score (M - M_corr) / (M_clean - M_corr);
  4. writes OUT_DIR/gpt2/attribution-golden.json: attribution patching, the first-order
     estimate of the same patches from one forward and one backward pass (autograd) of the
     corrupted run (denoise) and of the clean run (noise): metric estimate and score per
     site, laid out as `patch` above.

Run with Debian's interpreter:  /usr/bin/python3 tools/reference/make_probe_goldens.py [OUT_DIR]
OUT_DIR defaults to tests/data/probe-golden. The output is the same on every run.
"""

import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

torch.set_default_dtype(torch.float64)
EPS = 1e-5
CLEAN = [5, 17, 9, 30, 2, 11]
CORRUPT = [5, 23, 9, 41, 2, 11]  # differs at positions 1 and 3

MODELS = {
    "gpt2": dict(family="gpt2", seed=2001, L=3, C=32, H=4, N=16, V=61),
    "llama": dict(family="llama", seed=2002, L=3, C=32, F=48, H=4, K=2, V=67, theta=10000.0),
}


def lin_w(out_f, in_f, gain=1.0):
    return torch.randn(out_f, in_f) * (gain / math.sqrt(in_f))


def gain(n):
    return torch.rand(n) + 0.5


def make_params(m):
    """Weights in [out, in] (nn.Linear) form, keyed by role; the file layout is made later."""
    C, V, L = m["C"], m["V"], m["L"]
    p = {"embed": torch.randn(V, C), "layers": []}
    gpt2 = m["family"] == "gpt2"
    if gpt2:
        p["pos"] = torch.randn(m["N"], C) * 0.5
    H = m["H"]
    K = H if gpt2 else m["K"]
    D = C // H
    F = 4 * C if gpt2 else m["F"]
    for _ in range(L):
        lw = dict(n1=gain(C), wq=lin_w(H * D, C, 2.0), wk=lin_w(K * D, C), wv=lin_w(K * D, C),
                  wo=lin_w(C, H * D), n2=gain(C), wup=lin_w(F, C), wdown=lin_w(C, F))
        if gpt2:
            lw.update(n1b=torch.randn(C) * 0.2, bq=torch.randn(H * D) * 0.2, bk=torch.randn(K * D) * 0.2,
                      bv=torch.randn(K * D) * 0.2, bo=torch.randn(C) * 0.2, n2b=torch.randn(C) * 0.2,
                      bup=torch.randn(F) * 0.2, bdown=torch.randn(C) * 0.2)
        else:
            lw["wgate"] = lin_w(F, C)
        p["layers"].append(lw)
    p["nf"] = gain(C)
    if gpt2:
        p["nfb"] = torch.randn(C) * 0.2
    else:
        p["lm_head"] = lin_w(V, C, 4.0)
    return p


def write_checkpoint(d, m, p):
    os.makedirs(d, exist_ok=True)
    rows = []

    def add(name, t):
        rows.append((name, "F32", t.float().numpy()))

    if m["family"] == "gpt2":
        add("wte.weight", p["embed"])
        add("wpe.weight", p["pos"])
        for l, lw in enumerate(p["layers"]):
            h = f"h.{l}."
            add(h + "ln_1.weight", lw["n1"]), add(h + "ln_1.bias", lw["n1b"])
            add(h + "attn.c_attn.weight", torch.cat([lw["wq"], lw["wk"], lw["wv"]], 0).t())
            add(h + "attn.c_attn.bias", torch.cat([lw["bq"], lw["bk"], lw["bv"]]))
            add(h + "attn.c_proj.weight", lw["wo"].t()), add(h + "attn.c_proj.bias", lw["bo"])
            add(h + "ln_2.weight", lw["n2"]), add(h + "ln_2.bias", lw["n2b"])
            add(h + "mlp.c_fc.weight", lw["wup"].t()), add(h + "mlp.c_fc.bias", lw["bup"])
            add(h + "mlp.c_proj.weight", lw["wdown"].t()), add(h + "mlp.c_proj.bias", lw["bdown"])
        add("ln_f.weight", p["nf"]), add("ln_f.bias", p["nfb"])
        cfg = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
               "n_layer": m["L"], "n_embd": m["C"], "n_head": m["H"], "n_positions": m["N"], "n_ctx": m["N"],
               "vocab_size": m["V"], "layer_norm_epsilon": EPS, "bos_token_id": m["V"] - 1,
               "eos_token_id": m["V"] - 1, "tie_word_embeddings": True, "torch_dtype": "float32"}
    else:
        add("model.embed_tokens.weight", p["embed"])
        for l, lw in enumerate(p["layers"]):
            a = f"model.layers.{l}."
            add(a + "input_layernorm.weight", lw["n1"])
            add(a + "self_attn.q_proj.weight", lw["wq"]), add(a + "self_attn.k_proj.weight", lw["wk"])
            add(a + "self_attn.v_proj.weight", lw["wv"]), add(a + "self_attn.o_proj.weight", lw["wo"])
            add(a + "post_attention_layernorm.weight", lw["n2"])
            add(a + "mlp.gate_proj.weight", lw["wgate"]), add(a + "mlp.up_proj.weight", lw["wup"])
            add(a + "mlp.down_proj.weight", lw["wdown"])
        add("model.norm.weight", p["nf"])
        add("lm_head.weight", p["lm_head"])
        cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": m["C"],
               "intermediate_size": m["F"], "num_hidden_layers": m["L"], "num_attention_heads": m["H"],
               "num_key_value_heads": m["K"], "vocab_size": m["V"], "max_position_embeddings": 16,
               "rms_norm_eps": EPS, "rope_theta": m["theta"], "hidden_act": "silu",
               "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}
    st_write.write(os.path.join(d, "model.safetensors"), rows)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    # Everything computes from the weights exactly as stored (float32 values).
    def f32(t):
        return t.float().double()
    q = {k: f32(v) for k, v in p.items() if k != "layers"}
    q["layers"] = [{k: f32(v) for k, v in lw.items()} for lw in p["layers"]]
    return q


def norm(m, x, w, b=None):
    if m["family"] == "gpt2":
        return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, EPS)
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + EPS) * w


def rope(x, theta):
    """HF rotate_half on (T, heads, D)."""
    T, _, D = x.shape
    inv = 1.0 / theta ** (torch.arange(0, D, 2) / D)
    ang = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    cos = torch.cat([ang.cos(), ang.cos()], -1)[:, None, :]
    sin = torch.cat([ang.sin(), ang.sin()], -1)[:, None, :]
    rot = torch.cat([-x[..., D // 2:], x[..., :D // 2]], -1)
    return x * cos + rot * sin


def forward(m, p, ids, patches=(), cache=None, track=None):
    """patches: (site, layer, pos, head, value) with site in resid_pre/attn_out/mlp_out/z.
    cache: dict filled with (site, layer) -> (T, ...) activations. track: dict filled with
    (site, layer) -> the activation tensor itself, kept in the autograd graph (its .grad is
    the gradient of whatever is backpropagated from the logits). Returns logits (T, V)."""
    gpt2 = m["family"] == "gpt2"
    T, C, H = len(ids), m["C"], m["H"]
    K = H if gpt2 else m["K"]
    D = C // H

    def hook(site, l, x):
        for (s, pl, pos, head, v) in patches:
            if s == site and pl == l:
                x = x.clone()
                if head is None:
                    x[pos] = v
                else:
                    x[pos, head] = v
        if cache is not None:
            cache[(site, l)] = x.clone()
        if track is not None:
            x = x + 0  # a node of its own, so its gradient is the total one through every path
            x.retain_grad()
            track[(site, l)] = x
        return x

    x = p["embed"][torch.tensor(ids)]
    if track is not None:
        x.requires_grad_()  # every activation downstream joins the graph
    if gpt2:
        x = x + p["pos"][:T]
    for l, w in enumerate(p["layers"]):
        x = hook("resid_pre", l, x)
        h = norm(m, x, w["n1"], w.get("n1b"))
        q = h @ w["wq"].T + (w["bq"] if gpt2 else 0)
        k = h @ w["wk"].T + (w["bk"] if gpt2 else 0)
        v = h @ w["wv"].T + (w["bv"] if gpt2 else 0)
        q, k, v = q.view(T, H, D), k.view(T, K, D), v.view(T, K, D)
        if not gpt2:
            q, k = rope(q, m["theta"]), rope(k, m["theta"])
        k = k.repeat_interleave(H // K, dim=1)
        v = v.repeat_interleave(H // K, dim=1)
        s = torch.einsum("thd,shd->hts", q, k) / math.sqrt(D)
        s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
        z = torch.einsum("hts,shd->thd", s.softmax(-1), v)
        z = hook("z", l, z)
        a = z.reshape(T, H * D) @ w["wo"].T + (w["bo"] if gpt2 else 0)
        a = hook("attn_out", l, a)
        x = x + a
        h = norm(m, x, w["n2"], w.get("n2b"))
        if gpt2:
            u = h @ w["wup"].T + w["bup"]
            u = 0.5 * u * (1 + torch.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u ** 3)))
            o = u @ w["wdown"].T + w["bdown"]
        else:
            g = h @ w["wgate"].T
            o = (g * torch.sigmoid(g) * (h @ w["wup"].T)) @ w["wdown"].T
        o = hook("mlp_out", l, o)
        x = x + o
    if cache is not None:
        cache[("resid_post", m["L"] - 1)] = x.clone()
    return unembed(m, p, x)


def unembed(m, p, x):
    h = norm(m, x, p["nf"], p.get("nfb"))
    return h @ (p["embed"] if m["family"] == "gpt2" else p["lm_head"]).T


def attribution(m, p, run_ids, other_cache, target, contrast, m_clean, m_corr, denoise):
    """Attribution patching (a first-order estimate of every patching effect): run `run_ids`,
    backpropagate the logit difference at the last position, and estimate each patch's
    change of the metric as (a_other - a_run) . dM/da at its site and position, a_other
    taken from `other_cache`; heads sum hook_z's products over every position (head) or take
    the last one (head_at). The metric estimate is M_run + that product; the score reads as
    for real patching (strata-patching.h): denoising (run the corrupted input, patch clean
    values in) (estimate - M_corr) / (M_clean - M_corr), noising (estimate - M_clean) / (M_clean - M_corr)."""
    L, T = m["L"], len(run_ids)
    track = {}
    logits = forward(m, p, run_ids, track=track)
    metric = logits[-1, target] - logits[-1, contrast]
    metric.backward()
    m_run = float(metric)

    def score(v):
        return (v - m_corr) / (m_clean - m_corr) if denoise else (v - m_clean) / (m_clean - m_corr)

    sites = {}
    for site in ("resid_pre", "attn_out", "mlp_out"):
        sites[site] = [[m_run + float((other_cache[(site, l)][t] - track[(site, l)][t]) @ track[(site, l)].grad[t])
                        for t in range(T)] for l in range(L)]
    delta = [(other_cache[("z", l)] - track[("z", l)]) * track[("z", l)].grad for l in range(L)]
    sites["head"] = [[m_run + float(delta[l][:, h].sum()) for h in range(m["H"])] for l in range(L)]
    sites["head_at"] = [[m_run + float(delta[l][T - 1, h].sum()) for h in range(m["H"])] for l in range(L)]
    return {"baseline": m_run,
            "sites": {s: {"metric": v, "score": [[score(x) for x in row] for row in v]} for s, v in sites.items()}}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/probe-golden"
    for name, m in MODELS.items():
        torch.manual_seed(m["seed"])
        p = write_checkpoint(os.path.join(out, name), m, make_params(m))
        L, T = m["L"], len(CLEAN)
        clean_cache, corr_cache = {}, {}
        lc = forward(m, p, CLEAN, cache=clean_cache)
        lx = forward(m, p, CORRUPT, cache=corr_cache)
        target = int(lc[-1].argmax())
        order = lx[-1].argsort(descending=True).tolist()
        contrast = next(t for t in order if t != target)

        # Lens on the clean prompt.
        points = [clean_cache[("resid_pre", k)] for k in range(L)] + [clean_cache[("resid_post", L - 1)]]
        lens = {"prob": [], "logprob": [], "rank": [], "top5": []}
        for x in points:
            lg = unembed(m, p, x)
            lp = lg.log_softmax(-1)
            lens["prob"].append(lp[:, target].exp().tolist())
            lens["logprob"].append(lp[:, target].tolist())
            lens["rank"].append((lg > lg[:, target:target + 1]).sum(-1).tolist())
            lens["top5"].append(lg.argsort(-1, descending=True)[:, :5].tolist())
        assert torch.allclose(unembed(m, p, points[L]), lc)

        def ld(logits):
            return float(logits[-1, target] - logits[-1, contrast])

        m_clean, m_corr = ld(lc), ld(lx)
        sites = {}
        for site in ("resid_pre", "attn_out", "mlp_out"):
            metric = [[ld(forward(m, p, CORRUPT, [(site, l, t, None, clean_cache[(site, l)][t])]))
                       for t in range(T)] for l in range(L)]
            sites[site] = metric
        sites["head"] = [[ld(forward(m, p, CORRUPT, [("z", l, t, h, clean_cache[("z", l)][t, h]) for t in range(T)]))
                          for h in range(m["H"])] for l in range(L)]
        sites["head_at"] = [[ld(forward(m, p, CORRUPT, [("z", l, T - 1, h, clean_cache[("z", l)][T - 1, h])]))
                             for h in range(m["H"])] for l in range(L)]
        patch = {"baseline_clean": m_clean, "baseline_corrupt": m_corr, "sites": {}}
        for site, metric in sites.items():
            score = [[(v - m_corr) / (m_clean - m_corr) for v in row] for row in metric]
            patch["sites"][site] = {"metric": metric, "score": score}
        golden = {"clean_ids": CLEAN, "corrupt_ids": CORRUPT, "target": target, "contrast": contrast,
                  "lens": lens, "patch": patch}
        with open(os.path.join(out, name, "probe-golden.json"), "w") as f:
            json.dump(golden, f)
        if m["family"] != "gpt2":  # Strata's backward pass covers the GPT-2 family
            continue
        estimate = {"denoise": attribution(m, p, CORRUPT, clean_cache, target, contrast, m_clean, m_corr, True),
                    "noise": attribution(m, p, CLEAN, corr_cache, target, contrast, m_clean, m_corr, False)}
        with open(os.path.join(out, name, "attribution-golden.json"), "w") as f:
            json.dump(estimate, f)
        print(f"{name}: target {target} contrast {contrast} LD clean {m_clean:.4f} corrupt {m_corr:.4f}")


if __name__ == "__main__":
    main()
