#!/usr/bin/python3
"""Reference logits of the real llama2.c model stories260K, from a float64 numpy forward.

The forward follows llama2.c run.c line for line (RMSNorm, RoPE on ADJACENT pairs
(2i, 2i+1) of each head, GQA with kv head h / (H/K), SwiGLU, classifier shared with the
token embedding), evaluated for all positions at once with a causal mask. It writes
tests/data/golden/stories260K-logits.safetensors:
    tokens                      (1, T) I32   BOS then " Once upon a time, there was a ..."
    logits                      (1, T, V) F32
    blocks.L.hook_resid_pre     (1, T, C) F32   to locate a mismatch when logits differ
    ln_final.hook_normalized    (1, T, C) F32   final RMSNorm output, gain included
    greedy                      (40,) I32     argmax continuation of BOS alone, BOS excluded

    /usr/bin/python3 tools/reference/stories260k_reference.py [MODEL.bin [TOK.bin [OUT]]]
"""

import os
import struct
import sys

import numpy as np

import st_write

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
EPS = 1e-5
THETA = 10000.0
BOS = 1
N_GREEDY = 40

# BOS, then llama2.c's encoding of "Once upon a time, there was a little girl named Lily."
# (with its dummy-prefix space); main() checks that these pieces spell that text.
TOKENS = [BOS, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426]
TEXT = b" Once upon a time, there was a little girl named Lily."


def load_model(path):
    """llama2.c v0 checkpoint: 7 int32 header, then float32 arrays ([out, in] matrices)."""
    raw = open(path, "rb").read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("<7i", raw[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    head = dim // n_heads
    kv_dim = n_kv * head
    f = np.frombuffer(raw, dtype="<f4", offset=28).astype(np.float64)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        a = f[pos:pos + n].reshape(shape)
        pos += n
        return a

    m = dict(dim=dim, hidden=hidden, L=n_layers, H=n_heads, K=n_kv, V=vocab, D=head)
    m["emb"] = take(vocab, dim)
    m["rms_att"] = take(n_layers, dim)
    m["wq"] = take(n_layers, dim, dim)
    m["wk"] = take(n_layers, kv_dim, dim)
    m["wv"] = take(n_layers, kv_dim, dim)
    m["wo"] = take(n_layers, dim, dim)
    m["rms_ffn"] = take(n_layers, dim)
    m["w1"] = take(n_layers, hidden, dim)
    m["w2"] = take(n_layers, dim, hidden)
    m["w3"] = take(n_layers, hidden, dim)
    m["rms_final"] = take(dim)
    take(seq_len, head // 2)  # freq_cis_real, unused by run.c
    take(seq_len, head // 2)  # freq_cis_imag
    m["wcls"] = m["emb"] if shared else take(vocab, dim)
    assert pos == f.size, f"{path}: {f.size - pos} floats left over"
    return m


def load_vocab(path, V):
    raw = open(path, "rb").read()
    off, pieces = 4, []
    for _ in range(V):
        _score, n = struct.unpack("<fi", raw[off:off + 8])
        pieces.append(raw[off + 8:off + 8 + n])
        off += 8 + n
    return pieces


def rmsnorm(x, w):
    # run.c: o = w * (x / sqrt(mean(x²) + 1e-5))
    return w * (x / np.sqrt((x * x).mean(-1, keepdims=True) + EPS))


def rope_adjacent(x):
    """x (T, n, D): rotate pairs (2i, 2i+1) by pos * 10000^(-2i/D), as run.c does."""
    T, _, D = x.shape
    freq = 1.0 / THETA ** (np.arange(0, D, 2) / D)  # (D/2)
    ang = np.arange(T)[:, None, None] * freq[None, None, :]  # (T, 1, D/2)
    c, s = np.cos(ang), np.sin(ang)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out


def forward(m, ids):
    """ids (T,) -> logits (T, V) and the recorded residual sites."""
    T, H, K, D = len(ids), m["H"], m["K"], m["D"]
    x = m["emb"][ids]  # (T, C)
    rec = {}
    causal = np.tril(np.ones((T, T), dtype=bool))
    for l in range(m["L"]):
        rec[f"blocks.{l}.hook_resid_pre"] = x
        xb = rmsnorm(x, m["rms_att"][l])
        q = rope_adjacent((xb @ m["wq"][l].T).reshape(T, H, D))
        k = rope_adjacent((xb @ m["wk"][l].T).reshape(T, K, D))
        v = (xb @ m["wv"][l].T).reshape(T, K, D)
        kvh = np.arange(H) // (H // K)  # query head h reads kv head h / kv_mul
        scores = np.einsum("thd,shd->hts", q, k[:, kvh]) / np.sqrt(D)
        scores = np.where(causal[None], scores, -np.inf)
        att = np.exp(scores - scores.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        z = np.einsum("hts,shd->thd", att, v[:, kvh]).reshape(T, H * D)
        x = x + z @ m["wo"][l].T
        xb = rmsnorm(x, m["rms_ffn"][l])
        h1 = xb @ m["w1"][l].T
        h = h1 / (1.0 + np.exp(-h1)) * (xb @ m["w3"][l].T)
        x = x + h @ m["w2"][l].T
    x = rmsnorm(x, m["rms_final"])
    rec["ln_final.hook_normalized"] = x
    return x @ m["wcls"].T, rec


def greedy(m, n):
    """Argmax continuation of BOS, recomputing the whole prefix each step (run.c with
    temperature 0 gives the same ids). Also returns the smallest top-1/top-2 logit gap."""
    ids, gap = [BOS], np.inf
    for _ in range(n):
        logits, _ = forward(m, np.array(ids))
        top2 = np.sort(logits[-1])[-2:]
        gap = min(gap, top2[1] - top2[0])
        ids.append(int(np.argmax(logits[-1])))
    return ids[1:], gap


def main():
    model_path = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/fixtures/stories260K/stories260K.bin"
    tok_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(model_path), "tok512.bin")
    out = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "tests", "data", "golden", "stories260K-logits.safetensors")
    m = load_model(model_path)
    pieces = load_vocab(tok_path, m["V"])
    assert b"".join(pieces[i] for i in TOKENS[1:]) == TEXT

    ids = np.array(TOKENS)
    logits, rec = forward(m, ids)
    cont, gap = greedy(m, N_GREEDY)
    # fp32 engines agree on the argmax only where the top two logits are well apart.
    assert gap > 1e-3, f"greedy step with top-2 gap {gap:.2e} is too close to call"

    T = len(TOKENS)
    tensors = [("tokens", "I32", ids.reshape(1, T).astype(np.int32))]
    tensors += [(k, "F32", v.reshape(1, T, -1).astype(np.float32)) for k, v in rec.items()]
    tensors += [("logits", "F32", logits.reshape(1, T, -1).astype(np.float32)),
                ("greedy", "I32", np.array(cont, dtype=np.int32))]
    st_write.write(out, tensors, {"format": "pt", "source": "tools/reference/stories260k_reference.py",
                                  "reference": "float64 numpy, llama2.c run.c semantics"})
    print(f"logits |max| {np.abs(logits).max():.3f}, greedy gap {gap:.3f}")
    print("greedy:", cont)
    print("text:", b"".join(pieces[i] for i in cont).decode("utf-8", "replace"))


if __name__ == "__main__":
    main()
