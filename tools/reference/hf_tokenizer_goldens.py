#!/usr/bin/env python3
"""Golden ids for tokenizer.json files, from the Hugging Face `tokenizers` package.

Writes, under tests/data/:
  hf-bytelevel-bpe/tokenizer.json  a small GPT-2-style byte-level BPE trained here
  hf-spm-bpe/tokenizer.json        a small Llama-2-style BPE (Prepend/Replace '▁' normalizer,
                                   byte_fallback, <0xXX> byte pieces) trained here
  hf-metaspace-bpe/tokenizer.json  the same model behind a Metaspace pre-tokenizer (split on
                                   '▁', prepend "always") with merges in the older "a b" string
                                   form and ignore_merges on
  hf-tokenizer-goldens.json        {file: [{text, ids}]} for those two and the two-hop
                                   WordLevel tokenizer (twohop/tokenizer.json)
Both trained tokenizers learn from TRAIN_TEXT below (a few KB, written for this file), so
the output is deterministic for a given `tokenizers` version.
Run from the repository root:  python3 tools/reference/hf_tokenizer_goldens.py
Needs: pip install tokenizers  (reference tooling only).
"""
import json
import os

import tokenizers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from hf_pipeline_goldens import relayout

DATA = "tests/data"

TRAIN_TEXT = """
Once upon a time there was a little robot named Pip. Pip lived in a workshop full of gears,
springs and tiny screws. Every morning Pip would wake up, stretch its metal arms and say:
"Today I'm going to build something wonderful!" The old clockmaker who owned the workshop
smiled. "You can't build wonders in a day," he'd say, "but you'll learn something new."
They've worked together for 12 years, 3 months and 14 days. In 2023 they built 1,024 clocks.
The clocks ticked: tick, tock, tick, tock. Some were red, some were blue, and one was gold.
Pip's favourite was the tall clock in the corner; it chimed at 6:00 and 18:00 exactly.
The children of the village came to see the clocks. They laughed and played and asked
questions: Why do clocks tick? How do springs work? What makes the hands move around?
Pip answered every question patiently, because Pip loved to explain how things work.
Café owners, bakers and teachers all bought clocks. The teacher said: naïve questions
are the best questions. Über-clocks, mini-clocks, and self-winding clocks filled shelves.
""" * 4

TWOHOP_TEXTS = [
    "<e_105><r_34><r_32>",
    "<e_105><r_34><r_32><e_76><e_16></a>",
    "<e_0><r_0><e_299></a><pad>",
    "<e_1>x<e_2>",        # text that is no token: the unk token <pad>
    "<e_1> <e_2>",        # a space is no token either
    "hello",
    "",
    "<e_1<e_2>",          # a broken tag before a good one
]

BYTELEVEL_TEXTS = [
    "",
    "Once upon a time there was a little robot.",
    "I'm can't we'll they've",
    "a   b\n\n\n  c",
    "trailing spaces   ",
    "12345 3.14159",
    "café naïve Über 日本語 🙂",
    "clock<|endoftext|>Pip<|endoftext|>",
    "tab\tand\ttabs",
    "unseen zebra xylophone quartz",
]

SPM_TEXTS = [
    "",
    "Once upon a time there was a little robot.",
    "Hello world",
    " leading and  double  spaces ",
    "line one\nline two",
    "café naïve Über",
    "日本語 🙂 emoji",
    "<s>Pip</s> said hi",
    "unseen zebra xylophone quartz",
    "12345 3.14159",
]


def train_bytelevel():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=500, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>"], show_progress=False)
    tok.train_from_iterator([TRAIN_TEXT], trainer=trainer)
    return tok


def train_spm():
    """Llama-2 layout: <unk> <s> </s>, then <0x00>..<0xFF>, then the learned pieces."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"),
                                           normalizers.Replace(" ", "▁")])
    trainer = trainers.BpeTrainer(vocab_size=450, min_frequency=2,
                                  special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    tok.train_from_iterator([TRAIN_TEXT], trainer=trainer)
    spec = relayout(json.loads(tok.to_str()), ["<unk>", "<s>", "</s>"], with_bytes=True)
    vocab = spec["model"]["vocab"]
    for t in spec["added_tokens"]:
        t["id"] = vocab[t["content"]]
    spec["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    return Tokenizer.from_str(json.dumps(spec))


def metaspace_variant(spm):
    spec = json.loads(spm.to_str())
    spec["normalizer"] = None
    spec["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always",
                             "split": True}
    spec["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m
                               for m in spec["model"]["merges"]]
    spec["model"]["ignore_merges"] = True
    return spec


def save(tok, rel):
    path = os.path.join(DATA, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(json.loads(tok.to_str()), ensure_ascii=False, indent=1))
    return Tokenizer.from_file(path)  # goldens come from the file as written


def cases(tok, texts):
    return [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in texts]


def main():
    out = {"generator": f"tools/reference/hf_tokenizer_goldens.py (tokenizers "
                        f"{tokenizers.__version__})", "files": {}}
    twohop = Tokenizer.from_file(os.path.join(DATA, "twohop/tokenizer.json"))
    out["files"]["twohop/tokenizer.json"] = cases(twohop, TWOHOP_TEXTS)
    bl = save(train_bytelevel(), "hf-bytelevel-bpe/tokenizer.json")
    out["files"]["hf-bytelevel-bpe/tokenizer.json"] = cases(bl, BYTELEVEL_TEXTS)
    spm = save(train_spm(), "hf-spm-bpe/tokenizer.json")
    out["files"]["hf-spm-bpe/tokenizer.json"] = cases(spm, SPM_TEXTS)
    path = os.path.join(DATA, "hf-metaspace-bpe/tokenizer.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:  # written by hand to keep "a b" merges
        json.dump(metaspace_variant(spm), f, ensure_ascii=False, indent=1)
    meta = Tokenizer.from_file(path)
    out["files"]["hf-metaspace-bpe/tokenizer.json"] = cases(meta, SPM_TEXTS)
    with open(os.path.join(DATA, "hf-tokenizer-goldens.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)
    for name, cs in out["files"].items():
        print(name)
        for c in cs[:4]:
            print("  ", repr(c["text"]), c["ids"])


if __name__ == "__main__":
    main()
