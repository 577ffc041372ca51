#!/usr/bin/python3
"""Golden gradients and AdamW losses for Strata's GPT-2 trainer, independent of the C code.

On the tiny GPT-2 checkpoint of make_goldens.py (tests/data/golden/gpt2: 2 layers, C 32,
4 heads, V 61, N 16, tied embeddings, F32) this script
  1. draws a seeded batch (B 3, T 12) whose targets are the next tokens after each
     sequence's prompt (-1 on the prompt and on the last position: the loss covers the
     generated tokens only) and computes, with torch autograd in float64 on make_goldens'
     GPT-2 forward (Hugging Face semantics), the mean cross-entropy over the counted
     positions (F.cross_entropy, ignore_index=-1), the gradient of every parameter and the
     gradients at the residual-stream sites;
  2. backpropagates a logit-difference metric (logit[a] - logit[c] at one position, summed
     over the batch) to resid_pre and resid_post (attribution patching's gradient);
  3. runs 5 steps of torch.optim.AdamW in float32 (lr 1e-2, betas (0.9, 0.999), eps 1e-8,
     weight decay 0.1 on the matrices and embeddings, none on biases and LayerNorm
     parameters), with clip_grad_norm_(max_norm 1.0) and Hugging Face's linear schedule
     (2 warmup steps, 6 total) as a LambdaLR, recording the loss before each step and after
     the last.
It writes tests/data/golden/train/golden.safetensors: `tokens`, `targets` (B, T) I32;
`loss` (1,); `grad.<strata tensor name>` in Strata's layout ([out, in] matrices, c_attn
split into w_q, w_k, w_v); `site.<TransformerLens name>` and `metric.<TransformerLens
name>` (B, T, C); `metric_pos`, `metric_ids` I32; `adamw_loss` (6,) and `adamw_norm` (5,),
the gradient norm before each clipping.

Run with Debian's interpreter (torch + numpy):
    /usr/bin/python3 tools/reference/make_train_goldens.py [OUT_DIR]
The output is byte-identical on every run (seeded, one torch thread).
"""

import json
import os
import sys

import numpy as np
import torch

import make_goldens
import st_write

B, T = 3, 12
PROMPTS = [4, 6, 9]          # prompt length of each sequence: targets start at its last token
METRIC_POS, METRIC_IDS = 7, (5, 11)
LR, BETAS, EPS, WD, MAX_NORM = 1e-2, (0.9, 0.999), 1e-8, 0.1, 1.0
WARMUP, TOTAL, STEPS = 2, 6, 5
SITES = ["hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post"]


def model_dims(cfg):
    return dict(L=cfg["n_layer"], C=cfg["n_embd"], H=cfg["n_head"], N=cfg["n_positions"], V=cfg["vocab_size"])


def strata_grads(p, m):
    """HF-named gradients -> Strata's tensor names and [out, in] layout."""
    C = m["C"]
    g = {"tok_embed": p["wte.weight"].grad, "pos_embed": p["wpe.weight"].grad}
    for l in range(m["L"]):
        h, s = f"h.{l}.", f"layers.{l}."
        qkv_w, qkv_b = p[h + "attn.c_attn.weight"].grad, p[h + "attn.c_attn.bias"].grad
        g[s + "norm1_w"], g[s + "norm1_b"] = p[h + "ln_1.weight"].grad, p[h + "ln_1.bias"].grad
        for i, n in enumerate("qkv"):
            g[s + f"w_{n}"] = qkv_w[:, i * C:(i + 1) * C].t()
            g[s + f"b_{n}"] = qkv_b[i * C:(i + 1) * C]
        g[s + "w_o"], g[s + "b_o"] = p[h + "attn.c_proj.weight"].grad.t(), p[h + "attn.c_proj.bias"].grad
        g[s + "norm2_w"], g[s + "norm2_b"] = p[h + "ln_2.weight"].grad, p[h + "ln_2.bias"].grad
        g[s + "w_up"], g[s + "b_up"] = p[h + "mlp.c_fc.weight"].grad.t(), p[h + "mlp.c_fc.bias"].grad
        g[s + "w_down"], g[s + "b_down"] = p[h + "mlp.c_proj.weight"].grad.t(), p[h + "mlp.c_proj.bias"].grad
    g["norm_f_w"], g["norm_f_b"] = p["ln_f.weight"].grad, p["ln_f.bias"].grad
    return g


def site_names(m):
    return [f"blocks.{l}.{s}" for l in range(m["L"]) for s in SITES]


def loss_of(p, m, ids, targets, keep=()):
    rec = make_goldens.gpt2_forward(p, m, ids)
    for k in keep:
        rec[k].retain_grad()
    logits = rec["logits"]
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, m["V"]), targets.reshape(-1), ignore_index=-1)
    return loss, rec


def leaf_params(raw, dtype):
    return {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in raw.items()}


def linear_schedule(step):
    """transformers.get_linear_schedule_with_warmup's factor."""
    if step < WARMUP:
        return step / max(1, WARMUP)
    return max(0.0, (TOTAL - step) / max(1, TOTAL - WARMUP))


def adamw_run(raw, m, ids, targets, dtype):
    p = leaf_params(raw, dtype)
    decay = [v for k, v in p.items() if k.endswith(".weight") and not k.split(".")[-2].startswith("ln")]
    rest = [v for v in p.values() if all(v is not d for d in decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": rest, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule)
    losses, norms = [], []
    for _ in range(STEPS):
        opt.zero_grad()
        loss, _ = loss_of(p, m, ids, targets)
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(list(p.values()), MAX_NORM).item())
        losses.append(loss.item())
        opt.step()
        sched.step()
    with torch.no_grad():
        losses.append(loss_of(p, m, ids, targets)[0].item())
    return losses, norms


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.join(here, "..", "..", "tests", "data", "golden")
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "train")
    torch.set_num_threads(1)
    torch.manual_seed(4242)
    with open(os.path.join(root, "gpt2", "config.json")) as f:
        m = model_dims(json.load(f))
    raw = st_write.read(os.path.join(root, "gpt2", "model.safetensors"))
    ids = torch.randint(0, m["V"], (B, T))
    targets = torch.full((B, T), -1, dtype=torch.long)
    for b, n in enumerate(PROMPTS):
        targets[b, n - 1:T - 1] = ids[b, n:]

    p = leaf_params(raw, torch.float64)
    names = site_names(m)
    loss, rec = loss_of(p, m, ids, targets, names)
    loss.backward()
    grads = strata_grads(p, m)
    out = [("tokens", "I32", ids.numpy().astype(np.int32)), ("targets", "I32", targets.numpy().astype(np.int32)),
           ("loss", "F32", np.array([loss.item()], dtype=np.float32))]
    out += [("grad." + k, "F32", v.numpy().astype(np.float32)) for k, v in grads.items()]
    out += [("site." + k, "F32", rec[k].grad.numpy().astype(np.float32)) for k in names]

    # float32 autograd must land well inside the C test's tolerance of these float64 values
    p32 = leaf_params(raw, torch.float32)
    loss32, _ = loss_of(p32, m, ids, targets)
    loss32.backward()
    g32 = strata_grads(p32, m)
    # Each tensor's error is measured against its largest gradient, floored at 1 % of the
    # model's largest: b_k's gradient is 0 in exact arithmetic (a constant added to every
    # key's score leaves the softmax unchanged), so float32 leaves only rounding there.
    floor = 0.01 * max(v.abs().max().item() for v in grads.values())
    fp32_err = max(((g32[k].double() - v).abs().max().item() / max(v.abs().max().item(), floor))
                   for k, v in grads.items())
    assert fp32_err < 2e-5, f"float32 gradients differ by {fp32_err:.1e} of their max"

    p = leaf_params(raw, torch.float64)
    rec = make_goldens.gpt2_forward(p, m, ids)
    for k in names:
        rec[k].retain_grad()
    a, c = METRIC_IDS
    (rec["logits"][:, METRIC_POS, a] - rec["logits"][:, METRIC_POS, c]).sum().backward()
    out += [("metric." + k, "F32", rec[k].grad.numpy().astype(np.float32)) for k in names if "resid_p" in k]
    out += [("metric_pos", "I32", np.array([METRIC_POS], dtype=np.int32)),
            ("metric_ids", "I32", np.array(METRIC_IDS, dtype=np.int32))]

    losses, norms = adamw_run(raw, m, ids, targets, torch.float32)
    losses64, _ = adamw_run(raw, m, ids, targets, torch.float64)
    # an error in the optimizer or the schedule moves the losses by far more than this
    drift = max(abs(x - y) / abs(y) for x, y in zip(losses, losses64))
    assert norms[0] > MAX_NORM, "the first step must clip"
    out += [("adamw_loss", "F32", np.array(losses, dtype=np.float32)),
            ("adamw_norm", "F32", np.array(norms, dtype=np.float32))]

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "golden.safetensors")
    st_write.write(path, out, {"format": "pt", "source": "tools/reference/make_train_goldens.py",
                               "reference": "torch autograd float64 (gradients), torch.optim.AdamW float32"})
    size = os.path.getsize(path)
    assert size < 200 * 1024, f"{path} is {size} bytes"
    print(f"loss {loss.item():.6f}, {len(grads)} parameter gradients (float32 autograd within {fp32_err:.1e} "
          f"of their max), {len(names)} sites; AdamW losses {[round(x, 6) for x in losses]}, norms "
          f"{[round(x, 4) for x in norms]}; float32 vs float64 AdamW losses differ by {drift:.1e} relative; "
          f"{size} bytes")


if __name__ == "__main__":
    main()
