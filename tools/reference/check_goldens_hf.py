#!/usr/bin/python3
"""Optional cross-check: the goldens against Hugging Face transformers itself.

make_goldens.py re-implements the HF forward passes in plain torch so the project needs no
transformers install. This script closes the loop where transformers is available: it loads
every tests/data/golden/<name>/ folder that has a config.json (GPT-2, Llama, Qwen2, Mistral,
GPT-NeoX, Gemma 2, Qwen3, OLMo-2, Phi-3) with from_pretrained, runs it in float64 with eager
attention, and compares with golden.safetensors: logits; the residual stream
(output_hidden_states, plus the final norm's input for the last resid_post); the attention
patterns (output_attentions); q/k/v before RoPE (the q/k/v projections' outputs, or the q/k
norms' where the family has them, a fused one split as the model splits it); z (the
attention output projection's input); attn_out and mlp_out (the output projection's and the
MLP's outputs, or the post-norms' after them in Gemma 2 and OLMo-2); mlp.hook_post (the MLP
down projection's input); resid_mid (the input of the norm before the MLP, of OLMo-2's MLP;
in a parallel GPT-NeoX block that input is resid_pre). Where the golden file holds
`greedy`, it must equal model.generate(tokens[0], greedy) exactly. It prints the largest
|diff| per group (logits, hidden, pattern, qkv, other). A model_type the installed
transformers lacks (qwen3, olmo2 before 4.51 / 4.47) is reported as skipped.

tests/data/golden/recipes/<name>/ (make_recipe_goldens.py: a recipe.json and weights in
Strata's own names) is compared the same way where transformers has the same model: a
Gemma-2-shaped recipe is loaded into Gemma2ForCausalLM. The other recipes have no
transformers counterpart and are only checked by their own script's invariants.

    /work/venv-tf/bin/python tools/reference/check_goldens_hf.py
    (a venv with --system-site-packages over Debian's torch, and transformers==4.44.2)
Checked with transformers 4.44.2 (and earlier 4.40.2) and torch 1.13; and with transformers
5.25.0 on torch 2.15 (CPU) from PyPI in a separate venv, which also has Qwen3 and OLMo-2.
"""

import json
import os
import sys

import numpy as np
import torch
import transformers

import st_write


def read_golden(path):
    return {k: torch.from_numpy(v) for k, v in st_write.read(path).items()}


def layers_of(model, cfg):
    """(blocks, per-block module names): `o`, the attention output projection (its input is
    z); `attn_out` and `mlp_out`, the modules whose outputs are hook_attn_out and hook_mlp_out
    (the output projection and the MLP, or the post-norms after them); `down`, the MLP down
    projection (its input is mlp.hook_post); `mid`, the module whose input is resid_mid in a
    sequential block (the second norm, or OLMo-2's MLP); and the modules whose outputs are
    q, k, v before RoPE (the projections, the q/k norms where the family has them, or one
    fused projection, `qkv`)."""
    t = cfg["model_type"]
    if t == "gpt2":
        return model.transformer.h, dict(o="attn.c_proj", attn_out="attn.c_proj", mlp_out="mlp",
                                          down="mlp.c_proj", mid="ln_2", qkv="attn.c_attn")
    if t == "gpt_neox":
        return model.gpt_neox.layers, dict(o="attention.dense", attn_out="attention.dense", mlp_out="mlp",
                                           down="mlp.dense_4h_to_h", mid="post_attention_layernorm",
                                           qkv="attention.query_key_value")
    names = dict(o="self_attn.o_proj", attn_out="self_attn.o_proj", mlp_out="mlp", down="mlp.down_proj",
                 mid="post_attention_layernorm", q="self_attn.q_proj", k="self_attn.k_proj",
                 v="self_attn.v_proj")
    if t in ("gemma2", "olmo2"):  # post-norms: hook_attn_out and hook_mlp_out are their outputs
        names.update(attn_out="post_attention_layernorm", mlp_out="post_feedforward_layernorm",
                     mid="pre_feedforward_layernorm" if t == "gemma2" else "mlp")
    if t in ("qwen3", "olmo2"):  # q/k norms before RoPE
        names.update(q="self_attn.q_norm", k="self_attn.k_norm")
    if t == "phi3":
        for x in "qkv":
            del names[x]
        names["qkv"] = "self_attn.qkv_proj"
    return model.model.layers, names


def split_qkv(cfg, out):
    """q, k, v before RoPE from a fused projection output (B, T, 3C)."""
    if cfg["model_type"] == "gpt2":
        return out.split(cfg["n_embd"], dim=-1)  # [Q | K | V] along the output axis
    H = cfg["num_attention_heads"]
    D = cfg["hidden_size"] // H
    if cfg["model_type"] == "phi3":  # [Q (H*D) | K (K*D) | V (K*D)] along the output axis
        KD = cfg["num_key_value_heads"] * D
        return out[..., :H * D], out[..., H * D:H * D + KD], out[..., H * D + KD:]
    # GPT-NeoX: per head [q_h; k_h; v_h], i.e. a view (H, 3, D) of the output axis
    qkv = out.view(*out.shape[:-1], H, 3, D)
    return qkv[..., 0, :], qkv[..., 1, :], qkv[..., 2, :]


def check(d):
    g = read_golden(os.path.join(d, "golden.safetensors"))
    cfg = json.load(open(os.path.join(d, "config.json")))
    if cfg["model_type"] not in transformers.models.auto.configuration_auto.CONFIG_MAPPING:
        print(f"{os.path.basename(d)}: skipped, transformers {transformers.__version__} has no "
              f"{cfg['model_type']} (run with a newer transformers to check it)")
        return 0.0
    # transformers 5 calls torch_dtype `dtype`
    dtype_arg = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    model = transformers.AutoModelForCausalLM.from_pretrained(
        d, attn_implementation="eager", **{dtype_arg: torch.float64}).eval()
    L = cfg["n_layer"] if cfg["model_type"] == "gpt2" else cfg["num_hidden_layers"]
    blocks, names = layers_of(model, cfg)

    got = {}  # (layer, key) -> tensor, from forward hooks

    def hook(key, inp=False):
        def fn(_mod, args, out):
            got[key] = (args[0] if inp else out).detach()
        return fn

    for l, blk in enumerate(blocks):
        for key in ("attn_out", "mlp_out", "q", "k", "v", "qkv"):
            if key in names:
                blk.get_submodule(names[key]).register_forward_hook(hook((l, key)))
        blk.get_submodule(names["o"]).register_forward_hook(hook((l, "z"), inp=True))
        blk.get_submodule(names["down"]).register_forward_hook(hook((l, "post"), inp=True))
        blk.get_submodule(names["mid"]).register_forward_hook(hook((l, "mid"), inp=True))
    final_norm = {"gpt2": "transformer.ln_f", "gpt_neox": "gpt_neox.final_layer_norm"}.get(
        cfg["model_type"], "model.norm")
    model.get_submodule(final_norm).register_forward_hook(hook("final_in", inp=True))

    with torch.no_grad():
        out = model(g["tokens"].long(), output_hidden_states=True, output_attentions=True)
    worst = {}  # category -> (max |diff|, tensor name)

    def cmp(cat, name, ref):
        err = (g[name].double() - ref.reshape(g[name].shape)).abs().max().item()
        if err >= worst.get(cat, (-1.0, ""))[0]:
            worst[cat] = (err, name)

    cmp("logits", "logits", out.logits)
    for l in range(L):
        b = f"blocks.{l}."
        cmp("hidden", b + "hook_resid_pre", out.hidden_states[l])
        cmp("pattern", b + "attn.hook_pattern", out.attentions[l])
        if "qkv" in names:
            q, k, v = split_qkv(cfg, got[(l, "qkv")])
        else:
            q, k, v = got[(l, "q")], got[(l, "k")], got[(l, "v")]
        cmp("qkv", b + "attn.hook_q", q)
        cmp("qkv", b + "attn.hook_k", k)
        cmp("qkv", b + "attn.hook_v", v)
        cmp("other", b + "attn.hook_z", got[(l, "z")])
        cmp("other", b + "hook_attn_out", got[(l, "attn_out")])
        cmp("other", b + "mlp.hook_post", got[(l, "post")])
        cmp("other", b + "hook_mlp_out", got[(l, "mlp_out")])
        # the second norm reads resid_mid in a sequential block, resid_pre in a parallel one
        if b + "hook_resid_mid" in g:
            cmp("other", b + "hook_resid_mid", got[(l, "mid")])
        else:
            assert cfg.get("use_parallel_residual"), f"{d}: {b}hook_resid_mid missing"
            cmp("hidden", b + "hook_resid_pre", got[(l, "mid")])
        # resid_post is the next block's input, or the final norm's input after the last
        cmp("hidden", b + "hook_resid_post", out.hidden_states[l + 1] if l + 1 < L else got["final_in"])
    # HF's last hidden state has the final norm applied.
    cmp("hidden", "ln_final.hook_normalized", out.hidden_states[L])
    line = ", ".join(f"{cat} {err:.2e}" for cat, (err, _) in worst.items())
    err, name = max(worst.values())
    if "greedy" in g:
        # transformers' own decoding loop (KV cache), greedy, from tokens[0] alone
        prompt = g["tokens"][:1].long()
        kw = dict(attention_mask=torch.ones_like(prompt), max_new_tokens=len(g["greedy"]),
                  do_sample=False, num_beams=1, pad_token_id=cfg["eos_token_id"])
        note = ""
        with torch.no_grad():
            try:
                gen = model.generate(prompt, **kw)
            except AttributeError as e:
                # Gemma 2's HybridCache (4.44.2) calls torch._dynamo, which torch 1.13 lacks:
                # decode with a full forward per step instead (still generate's own loop)
                if "_dynamo" not in str(e):
                    raise
                model.generation_config.cache_implementation = None
                gen = model.generate(prompt, use_cache=False, **kw)
                note = " (no KV cache: HybridCache needs torch 2)"
        new = gen[0, g["tokens"].shape[1]:].tolist()
        ok = new == g["greedy"].tolist()
        line += f", greedy {'matches' if ok else 'DIFFERS'} {new}{note}"
        if not ok:
            err, name = float("inf"), "greedy"
    print(f"{os.path.basename(d)}: worst {name} {err:.2e}; {line}")
    return err


def recipe_as_gemma2(r, w):
    """A recipe transformers can run: Gemma-2 ((1 + w) RMS norms before and after each
    sublayer, GeGLU with tanh GELU, score and final softcaps, the window on even layers,
    sqrt(C) embedding scale, full half-pair RoPE, no biases, tied). None for any other."""
    C, D = r["d_model"], r["d_head"]
    if not (r["norm"] == "rmsnorm_unit_offset" and r["activation"] == "gelu_tanh" and r["gated"]
            and not r["parallel"] and r["post_norms"] and r["qk_norm"] == "none"
            and not r["learned_pos"] and r["rope"] == "half" and r["rope_dims"] == D
            and r["window_period"] == 2 and r["attn_softcap"] > 0 and r["final_softcap"] > 0
            and abs(r["embed_scale"] - C ** 0.5) < 1e-12 and r["tied"]
            and not any(r[k] for k in ("qkv_bias", "o_bias", "mlp_bias", "unembed_bias"))):
        return None
    scalar = r["attn_scale"] ** -2  # newer transformers want an int where it is one
    scalar = round(scalar) if abs(scalar - round(scalar)) < 1e-9 else scalar
    cfg = transformers.Gemma2Config(
        vocab_size=r["vocab"], hidden_size=C, intermediate_size=r["d_mlp"],
        num_hidden_layers=r["n_layers"], num_attention_heads=r["n_heads"],
        num_key_value_heads=r["n_kv_heads"], head_dim=D, hidden_activation="gelu_pytorch_tanh",
        max_position_embeddings=r["n_ctx"], rms_norm_eps=r["norm_eps"], rope_theta=r["rope_theta"],
        attention_bias=False, query_pre_attn_scalar=scalar,
        sliding_window=r["window"], attn_logit_softcapping=r["attn_softcap"],
        final_logit_softcapping=r["final_softcap"], tie_word_embeddings=True,
        attn_implementation="eager")
    model = transformers.Gemma2ForCausalLM(cfg).to(torch.float64).eval()
    sd = {"model.embed_tokens.weight": w["tok_embed"], "lm_head.weight": w["tok_embed"],
          "model.norm.weight": w["norm_f_w"]}
    names = dict(norm1_w="input_layernorm", attn_post_w="post_attention_layernorm",
                 norm2_w="pre_feedforward_layernorm", mlp_post_w="post_feedforward_layernorm",
                 w_q="self_attn.q_proj", w_k="self_attn.k_proj", w_v="self_attn.v_proj",
                 w_o="self_attn.o_proj", w_gate="mlp.gate_proj", w_up="mlp.up_proj",
                 w_down="mlp.down_proj")
    for l in range(r["n_layers"]):
        for ours, theirs in names.items():
            sd[f"model.layers.{l}.{theirs}.weight"] = w[f"layers.{l}.{ours}"]
    model.load_state_dict({k: v.double() for k, v in sd.items()}, strict=True)
    return model


def check_recipe(d):
    """A recipe golden (make_recipe_goldens.py) against the transformers model it matches."""
    name = os.path.basename(d)
    r = json.load(open(os.path.join(d, "recipe.json")))
    w = read_golden(os.path.join(d, "weights.safetensors"))
    g = read_golden(os.path.join(d, "golden.safetensors"))
    model = recipe_as_gemma2(r, w)
    if model is None:
        print(f"recipes/{name}: no transformers counterpart (internal invariants only)")
        return 0.0
    L = r["n_layers"]
    got = {}

    def hook(key, inp=False):
        def fn(_mod, args, out):
            got[key] = (args[0] if inp else out).detach()
        return fn

    for l, blk in enumerate(model.model.layers):
        for x in "qkv":
            getattr(blk.self_attn, x + "_proj").register_forward_hook(hook((l, x)))
        blk.self_attn.o_proj.register_forward_hook(hook((l, "z"), inp=True))
        blk.post_attention_layernorm.register_forward_hook(hook((l, "attn_out")))
        blk.pre_feedforward_layernorm.register_forward_hook(hook((l, "mid"), inp=True))
        blk.mlp.down_proj.register_forward_hook(hook((l, "post"), inp=True))
        blk.post_feedforward_layernorm.register_forward_hook(hook((l, "mlp_out")))
    model.model.norm.register_forward_hook(hook("final_in", inp=True))
    with torch.no_grad():
        out = model(g["tokens"].long(), output_hidden_states=True, output_attentions=True,
                    use_cache=False)
    worst = {}

    def cmp(cat, key, ref):
        err = (g[key].double() - ref.double().reshape(g[key].shape)).abs().max().item()
        if err >= worst.get(cat, (-1.0, ""))[0]:
            worst[cat] = (err, key)

    cmp("logits", "logits", out.logits)
    for l in range(L):
        b = f"blocks.{l}."
        cmp("hidden", b + "hook_resid_pre", out.hidden_states[l])
        cmp("hidden", b + "hook_resid_post", out.hidden_states[l + 1] if l + 1 < L else got["final_in"])
        cmp("pattern", b + "attn.hook_pattern", out.attentions[l])
        for x in "qkv":
            cmp("qkv", b + "attn.hook_" + x, got[(l, x)])
        cmp("other", b + "attn.hook_z", got[(l, "z")])
        cmp("other", b + "hook_attn_out", got[(l, "attn_out")])
        cmp("other", b + "hook_resid_mid", got[(l, "mid")])
        cmp("other", b + "mlp.hook_post", got[(l, "post")])
        cmp("other", b + "hook_mlp_out", got[(l, "mlp_out")])
    cmp("hidden", "ln_final.hook_normalized", out.hidden_states[L])
    line = ", ".join(f"{cat} {err:.2e}" for cat, (err, _) in worst.items())
    err, key = max(worst.values())
    print(f"recipes/{name} as Gemma2ForCausalLM: worst {key} {err:.2e}; {line}")
    return err


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    # transformers 4.40 builds Mistral's causal mask with torch.full in the default dtype
    # from finfo(float64).min, which overflows float32.
    torch.set_default_dtype(torch.float64)
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "data", "golden")
    worst = 0.0
    for name in sorted(os.listdir(root)):
        # recipes/ holds engine-level goldens without an HF checkpoint
        if os.path.isfile(os.path.join(root, name, "config.json")):
            worst = max(worst, check(os.path.join(root, name)))
    recipes = os.path.join(root, "recipes")
    for name in sorted(os.listdir(recipes)) if os.path.isdir(recipes) else []:
        worst = max(worst, check_recipe(os.path.join(recipes, name)))
    # goldens are float32 roundings of a float64 run: ~1e-6 relative on values up to ~30
    print("OK" if worst < 1e-5 else "MISMATCH")
    sys.exit(0 if worst < 1e-5 else 1)


if __name__ == "__main__":
    main()
