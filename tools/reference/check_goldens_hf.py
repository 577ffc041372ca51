#!/usr/bin/python3
"""Optional cross-check: the goldens against Hugging Face transformers itself.

make_goldens.py re-implements the HF forward passes in plain torch so the project needs no
transformers install. This script closes the loop where transformers is available: it loads
every tests/data/golden/<name>/ folder with from_pretrained, runs it in float64 with eager
attention, and compares logits, the residual stream (output_hidden_states), the attention
patterns (output_attentions) and the q/k/v projections (forward hooks) with golden.safetensors.

    PYTHONPATH=/path/to/transformers /usr/bin/python3 tools/reference/check_goldens_hf.py
Checked with transformers 4.40.2 and torch 1.13.
"""

import json
import os
import struct
import sys

import numpy as np
import torch
import transformers


def read_golden(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dt = {"F32": "<f4", "I32": "<i4"}[info["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dt).reshape(info["shape"]).copy())
    return out


def check(d):
    g = read_golden(os.path.join(d, "golden.safetensors"))
    cfg = json.load(open(os.path.join(d, "config.json")))
    model = transformers.AutoModelForCausalLM.from_pretrained(
        d, torch_dtype=torch.float64, attn_implementation="eager").eval()
    gpt2 = cfg["model_type"] == "gpt2"
    L = cfg["n_layer"] if gpt2 else cfg["num_hidden_layers"]
    blocks = model.transformer.h if gpt2 else model.model.layers

    proj = {}  # (layer, 'q'|'k'|'v') -> (B,T,C') projection outputs, before RoPE

    def hook(key):
        def fn(_mod, _inp, out):
            proj[key] = out.detach()
        return fn

    for l, blk in enumerate(blocks):
        if gpt2:
            blk.attn.c_attn.register_forward_hook(hook((l, "qkv")))
        else:
            for s in "qkv":
                getattr(blk.self_attn, s + "_proj").register_forward_hook(hook((l, s)))

    with torch.no_grad():
        out = model(g["tokens"].long(), output_hidden_states=True, output_attentions=True)
    worst = {}

    def cmp(name, ref):
        err = (g[name].double() - ref.reshape(g[name].shape)).abs().max().item()
        worst[name] = err

    cmp("logits", out.logits)
    for l in range(L):
        cmp(f"blocks.{l}.hook_resid_pre", out.hidden_states[l])
        cmp(f"blocks.{l}.attn.hook_pattern", out.attentions[l])
        if gpt2:
            C = cfg["n_embd"]
            q, k, v = proj[(l, "qkv")].split(C, dim=-1)
        else:
            q, k, v = proj[(l, "q")], proj[(l, "k")], proj[(l, "v")]
        cmp(f"blocks.{l}.attn.hook_q", q)
        cmp(f"blocks.{l}.attn.hook_k", k)
        cmp(f"blocks.{l}.attn.hook_v", v)
    # HF's last hidden state has the final norm applied.
    cmp("ln_final.hook_normalized", out.hidden_states[L])
    name, err = max(worst.items(), key=lambda kv: kv[1])
    print(f"{os.path.basename(d)}: {len(worst)} tensors, worst {name} {err:.2e}")
    return err


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    # transformers 4.40 builds Mistral's causal mask with torch.full in the default dtype
    # from finfo(float64).min, which overflows float32.
    torch.set_default_dtype(torch.float64)
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "data", "golden")
    worst = 0.0
    for name in sorted(os.listdir(root)):
        if os.path.isdir(os.path.join(root, name)):
            worst = max(worst, check(os.path.join(root, name)))
    # goldens are float32 roundings of a float64 run: ~1e-6 relative on values up to ~30
    print("OK" if worst < 1e-5 else "MISMATCH")
    sys.exit(0 if worst < 1e-5 else 1)


if __name__ == "__main__":
    main()
