#!/usr/bin/python3
"""Logit-lens MRR of the bridge entity on the two-hop test checkpoints, independent of the C
code.

For tests/data/twohop/{cot-3000,nocot-9000} (Hugging Face GPT-2 layout: Conv1D weights
stored [in, out], tied unembedding, learned positions, pre-LN, gelu_new) this script reads
model.safetensors directly (header parsed here, no safetensors package), runs a plain
float64 torch forward on every prompt of tests/data/twohop/prompts-trimmed.jsonl (ids used
exactly, no BOS) and, at every residual point k = 0..L (resid_pre of block k; k = L the
final resid_post) applies the model's own final LayerNorm and the unembedding. For the
`bridge` target at the named positions r1 and r2 it reports, per tag (all, id, ood):

  mrr[k]            mean over prompts of 1 / (rank + 1), rank = number of vocabulary
                    entries with a strictly greater logit (0 = top-1);
  top1[k]           fraction of prompts where the bridge is top-1;
  resolution_layer  first k with mrr[k] >= 0.9, or null.

Output: tests/data/twohop/lens-reference.json (fixed key order; the same on every run).
Run with Debian's interpreter:  /usr/bin/python3 tools/reference/twohop_lens_reference.py
"""

import json
import math
import os
import sys

import numpy as np
import torch

import st_write

torch.set_default_dtype(torch.float64)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DATA = os.path.join(ROOT, "tests", "data", "twohop")
MODELS = ["cot-3000", "nocot-9000"]
POSITIONS = ["r1", "r2"]
TAGS = ["all", "id", "ood"]


def read_safetensors(path):
    """{name: float64 tensor} from an F32 safetensors file."""
    out = {}
    for name, v in st_write.read(path).items():
        assert v.dtype == np.float32, (name, v.dtype)
        out[name] = torch.from_numpy(v).to(torch.float64)
    return out


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def residual_points(w, cfg, ids):
    """(L+1, T, C): resid_pre of every block, then the final resid_post."""
    L, H, eps = cfg["n_layer"], cfg["n_head"], cfg["layer_norm_epsilon"]
    T = len(ids)
    x = w["wte.weight"][ids] + w["wpe.weight"][:T]
    C = x.shape[-1]
    D = C // H
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    points = []
    for l in range(L):
        points.append(x.clone())
        p = f"h.{l}."
        h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (t.reshape(T, H, D).transpose(0, 1) for t in qkv.split(C, dim=-1))
        s = (q @ k.transpose(1, 2)) / math.sqrt(D)
        s = s.masked_fill(mask, float("-inf"))
        z = (torch.softmax(s, dim=-1) @ v).transpose(0, 1).reshape(T, C)
        x = x + z @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        x = x + gelu_new(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]) @ w[p + "mlp.c_proj.weight"] + w[
            p + "mlp.c_proj.bias"
        ]
    points.append(x)
    return torch.stack(points)


def token_id(written):
    assert written.startswith("#"), written
    return int(written[1:])


def model_reference(name, prompts):
    d = os.path.join(DATA, name)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    w = read_safetensors(os.path.join(d, "model.safetensors"))
    L = cfg["n_layer"]
    sums = {(tag, pos): [[0.0] * (L + 1), [0.0] * (L + 1), 0] for tag in TAGS for pos in POSITIONS}
    for p in prompts:
        ids = [token_id(t) if isinstance(t, str) else t for t in p["ids"]]
        bridge = token_id(p["targets"]["bridge"])
        x = residual_points(w, cfg, ids)
        logits = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], cfg["layer_norm_epsilon"]) @ w["wte.weight"].T
        tags = ["all"] + (p["tags"] if isinstance(p["tags"], list) else [p["tags"]])
        for pos in POSITIONS:
            t = p["positions"][pos]
            for k in range(L + 1):
                row = logits[k, t]
                rank = int((row > row[bridge]).sum())
                for tag in tags:
                    s = sums[(tag, pos)]
                    s[0][k] += 1.0 / (rank + 1)
                    s[1][k] += rank == 0
            for tag in tags:
                sums[(tag, pos)][2] += 1
    out = {"layers": L, "bridge": {}}
    for tag in TAGS:
        out["bridge"][tag] = {}
        for pos in POSITIONS:
            mrr_sum, top1_sum, n = sums[(tag, pos)]
            mrr = [v / n for v in mrr_sum]
            res = next((k for k, v in enumerate(mrr) if v >= 0.9), None)
            out["bridge"][tag][pos] = {
                "n": n,
                "mrr": [round(v, 10) for v in mrr],
                "top1": [round(v / n, 10) for v in top1_sum],
                "resolution_layer": res,
            }
    return out


def main():
    torch.set_num_threads(1)
    with open(os.path.join(DATA, "prompts-trimmed.jsonl")) as f:
        prompts = [json.loads(line) for line in f if line.strip()]
    ref = {
        "source": "tools/reference/twohop_lens_reference.py",
        "prompts": "twohop/prompts-trimmed.jsonl",
        "target": "bridge",
        "models": {name: model_reference(name, prompts) for name in MODELS},
    }
    path = os.path.join(DATA, "lens-reference.json")
    with open(path, "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(path, ROOT))


if __name__ == "__main__":
    sys.exit(main())
