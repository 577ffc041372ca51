#!/usr/bin/env python3
"""The byte-level BPE tokenizer.json files of tests/data/hf-pipeline, converted to GGUF as
llama.cpp's convert_hf_to_gguf.py converts a model's vocabulary, each in a tiny model body.

Writes tests/data/gguf-vocab/<name>.gguf:

    name              from hf-pipeline/     architecture  tokenizer.ggml.pre
    llama3            llama3                llama         llama-bpe
    qwen2             qwen2                 qwen2         qwen2
    deepseek-r1-qwen  deepseek-r1-qwen      qwen2         deepseek-r1-qwen
    gpt2              gpt2                  gptneox       gpt-2
    gpt-neox          gpt-neox              gptneox       olmo

The vocabulary follows the converter's _set_vocab_gpt2 (checked against ggml-org/llama.cpp's
convert_hf_to_gguf.py) step for step:
  * get_vocab_base: transformers' AutoTokenizer over the folder; for every id below
    vocab_size (the tokenizer's own size: the model body has no config.json saying more), the
    token's string, "[PAD<i>]" (UNUSED) for an id the tokenizer lacks; an added token
    CONTROL when it is special or looks special (does_token_look_special), else
    USER_DEFINED with '▁' written as ' '; a non-normalized added token as
    decode(encode(token)); every other id NORMAL;
  * tokenizer.ggml.model "gpt2", tokenizer.ggml.pre, the token list and types;
  * gguf-py's SpecialVocab(folder, load_merges=True): the merges, bos/eos ids named by
    tokenizer_config.json, add_bos_token/add_eos_token from it or from the post-processor's
    template.
The converter picks tokenizer.ggml.pre by hashing the ids the tokenizer gives one text
(get_vocab_base_pre); these small models match no known hash, so the name is the one the
converter gives the family's real model (Meta-Llama-3-8B "llama-bpe", Qwen1.5/2 "qwen2",
DeepSeek-R1-Distill-Qwen "deepseek-r1-qwen", openai-community/gpt2 "gpt-2", GPT-NeoX-20B and
its tokenizer's users "olmo").

The model body is seeded random F32 weights of the smallest shape the architecture row
accepts (C = 4, one layer, one head, F = 8, tied unembedding): only the tokenizer is under
test; tests/test-gguf.c (/data/gguf/vocab/*) opens each file, encodes every text of
hf-pipeline/goldens.json and requires HF tokenizers' ids, HF's decode, and transformers'
BOS/EOS policy.

Run from the repository root with tokenizers, transformers and gguf importable, e.g.
    PYTHONPATH=/work/venv-gguf/lib/python3.11/site-packages \\
        /work/venv-tok/bin/python tools/reference/make_gguf_vocab_goldens.py
Deterministic: a rerun writes the same bytes.
"""

import os
import sys

import numpy as np

import gguf
from transformers import AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
PIPELINE = os.path.join(ROOT, "tests", "data", "hf-pipeline")
OUT = os.path.join(ROOT, "tests", "data", "gguf-vocab")

FILES = {  # name: (hf-pipeline folder, general.architecture, tokenizer.ggml.pre)
    "llama3": ("llama3", "llama", "llama-bpe"),
    "qwen2": ("qwen2", "qwen2", "qwen2"),
    "deepseek-r1-qwen": ("deepseek-r1-qwen", "qwen2", "deepseek-r1-qwen"),
    "gpt2": ("gpt2", "gptneox", "gpt-2"),
    "gpt-neox": ("gpt-neox", "gptneox", "olmo"),
}

C, F, CTX = 4, 8, 64  # width, MLP width, context: one head of 4, one layer


def does_token_look_special(token):
    """convert_hf_to_gguf.py's TextModel.does_token_look_special."""
    seems_special = token in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
    seems_special = seems_special or (token.startswith("<|") and token.endswith("|>"))
    seems_special = seems_special or (token.startswith("<｜") and token.endswith("｜>"))
    seems_special = seems_special or (token.startswith("<unused") and token.endswith(">"))
    return seems_special


def get_vocab_base(folder):
    """convert_hf_to_gguf.py's TextModel.get_vocab_base, but for the pre-tokenizer name."""
    tokens, toktypes = [], []
    tokenizer = AutoTokenizer.from_pretrained(folder)
    vocab_size = len(tokenizer.vocab)
    assert max(tokenizer.vocab.values()) < vocab_size
    reverse_vocab = {id_: encoded_tok for encoded_tok, id_ in tokenizer.vocab.items()}
    added_vocab = tokenizer.get_added_vocab()
    added_tokens_decoder = tokenizer.added_tokens_decoder
    for i in range(vocab_size):
        if i not in reverse_vocab:
            tokens.append(f"[PAD{i}]")
            toktypes.append(gguf.TokenType.UNUSED)
            continue
        token = reverse_vocab[i]
        if token in added_vocab:
            if not added_tokens_decoder[i].normalized:
                token = tokenizer.decode(tokenizer.encode(token, add_special_tokens=False))
            if added_tokens_decoder[i].special or does_token_look_special(token):
                toktypes.append(gguf.TokenType.CONTROL)
            else:
                token = token.replace("\u2581", " ")
                toktypes.append(gguf.TokenType.USER_DEFINED)
        else:
            toktypes.append(gguf.TokenType.NORMAL)
        tokens.append(token)
    return tokens, toktypes


def body(arch, V, rng):
    """(keys, tensors) of a one-layer model of the architecture, tied unembedding."""
    def mat(r, c):
        return (rng.standard_normal((r, c)) / np.sqrt(c)).astype(np.float32)

    def vec(n, around=0.0):
        return (around + 0.1 * rng.standard_normal(n)).astype(np.float32)

    t = {"token_embd.weight": mat(V, C)}
    keys = {"context_length": CTX, "embedding_length": C, "block_count": 1,
            "feed_forward_length": F, "attention.head_count": 1}
    if arch == "gptneox":
        keys.update({"rope.dimension_count": C, "use_parallel_residual": True,
                     "attention.layer_norm_epsilon": 1e-5})
        t.update({"blk.0.attn_norm.weight": vec(C, 1), "blk.0.attn_norm.bias": vec(C),
                  "blk.0.attn_qkv.weight": mat(3 * C, C), "blk.0.attn_qkv.bias": vec(3 * C),
                  "blk.0.attn_output.weight": mat(C, C), "blk.0.attn_output.bias": vec(C),
                  "blk.0.ffn_norm.weight": vec(C, 1), "blk.0.ffn_norm.bias": vec(C),
                  "blk.0.ffn_up.weight": mat(F, C), "blk.0.ffn_up.bias": vec(F),
                  "blk.0.ffn_down.weight": mat(C, F), "blk.0.ffn_down.bias": vec(C),
                  "output_norm.weight": vec(C, 1), "output_norm.bias": vec(C)})
    else:  # llama, qwen2 (with its q/k/v biases)
        keys.update({"attention.head_count_kv": 1, "rope.freq_base": 10000.0,
                     "attention.layer_norm_rms_epsilon": 1e-6})
        t.update({"blk.0.attn_norm.weight": vec(C, 1), "blk.0.attn_q.weight": mat(C, C),
                  "blk.0.attn_k.weight": mat(C, C), "blk.0.attn_v.weight": mat(C, C),
                  "blk.0.attn_output.weight": mat(C, C), "blk.0.ffn_norm.weight": vec(C, 1),
                  "blk.0.ffn_gate.weight": mat(F, C), "blk.0.ffn_up.weight": mat(F, C),
                  "blk.0.ffn_down.weight": mat(C, F), "output_norm.weight": vec(C, 1)})
        if arch == "qwen2":
            t.update({"blk.0.attn_q.bias": vec(C), "blk.0.attn_k.bias": vec(C),
                      "blk.0.attn_v.bias": vec(C)})
    return keys, t


def convert(name, folder, arch, pre, seed):
    src = os.path.join(PIPELINE, folder)
    tokens, toktypes = get_vocab_base(src)
    path = os.path.join(OUT, f"{name}.gguf")
    w = gguf.GGUFWriter(path, arch)
    w.add_name(name)
    keys, tensors = body(arch, len(tokens), np.random.default_rng(seed))
    for k, v in keys.items():
        key = f"{arch}.{k}"
        if isinstance(v, bool):
            w.add_bool(key, v)
        elif isinstance(v, int):
            w.add_uint32(key, v)
        else:
            w.add_float32(key, v)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    # _set_vocab_gpt2
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(toktypes)
    special_vocab = gguf.SpecialVocab(src, load_merges=True)
    special_vocab.add_to_gguf(w, quiet=True)
    for tname, data in tensors.items():
        w.add_tensor(tname, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    size = os.path.getsize(path)
    assert size < 120_000, size
    kinds = {int(k): toktypes.count(k) for k in set(toktypes)}
    print(f"{path}: {size} bytes, {len(tokens)} tokens (types {kinds}), "
          f"{len(special_vocab.merges)} merges, {special_vocab}")


def main():
    os.makedirs(OUT, exist_ok=True)
    for seed, (name, (folder, arch, pre)) in enumerate(FILES.items()):
        convert(name, folder, arch, pre, 1000 + seed)


if __name__ == "__main__":
    sys.exit(main())
