#!/usr/bin/env python3
"""Golden token ids of the tokenizer.json that `strata dataset twohop` writes, from the
Hugging Face `tokenizers` package.

    /work/venv-tok/bin/python tools/reference/twohop_tokenizer_goldens.py build-dev/app/strata

For each configuration below the script runs `strata dataset twohop`, loads the written
tokenizer.json with `tokenizers.Tokenizer.from_file` and encodes (add_special_tokens=False)
every vocabulary entry alone and the input and target texts of the first items of train.jsonl
and of both test files. It refuses to write when an id differs from what the dataset's own
files say (input_ids, target_ids_*, vocab.json) or, for the fixture's configuration (300
entities, 40 relations), from what the fixture's tokenizer (tests/data/twohop/tokenizer.json)
gives. Writes tests/data/twohop/dataset-tokenizer-goldens.json:
  {"tokenizers_version": ..., "configs": [{"args": [CLI flags], "vocab_size": N,
                                          "texts": [...], "ids": [[...], ...]}]}
tests/test-twohop-dataset.c encodes the same texts with Strata's reader of the same files.
"""
import json
import os
import subprocess
import sys
import tempfile

import tokenizers
from tokenizers import Tokenizer

OUT = "tests/data/twohop/dataset-tokenizer-goldens.json"
FIXTURE_TOKENIZER = "tests/data/twohop/tokenizer.json"
CONFIGS = [
    [],  # the fixture's configuration
    ["--entities", "12", "--relations", "5", "--per-entity", "2", "--phi", "2", "--test-prob", "0.2", "--seed", "7"],
]
N_ITEMS = 40
FIELDS = [("input_text", "input_ids"), ("target_text_cot", "target_ids_cot"),
          ("target_text_nocot", "target_ids_nocot")]


def head(path, n):
    with open(path) as f:
        return [json.loads(line) for _, line in zip(range(n), f)]


def config_goldens(strata, args):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([strata, "dataset", "twohop", "--out", d, *args], check=True, capture_output=True)
        tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        vocab = json.load(open(os.path.join(d, "vocab.json")))
        texts, expected = [], []
        for t, i in sorted(vocab.items(), key=lambda kv: kv[1]):
            texts.append(t)
            expected.append([i])
        for name in ("train.jsonl", "test_inferred_id.jsonl", "test_inferred_ood.jsonl"):
            for item in head(os.path.join(d, name), N_ITEMS):
                for text_key, ids_key in FIELDS:
                    texts.append(item[text_key])
                    expected.append(item[ids_key])
        got = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
        for t, g, e in zip(texts, got, expected):
            if g != e:
                sys.exit("%s: tokenizers gives %s for %r, the dataset says %s" % (args, g, t, e))
        if not args:
            fixture = Tokenizer.from_file(FIXTURE_TOKENIZER)
            fgot = [e.ids for e in fixture.encode_batch(texts, add_special_tokens=False)]
            if fgot != got:
                sys.exit("the fixture's tokenizer differs from the generated one")
        return {"args": args, "vocab_size": tok.get_vocab_size(), "texts": texts, "ids": got}


def main():
    strata = sys.argv[1]
    out = {"tokenizers_version": tokenizers.__version__, "configs": [config_goldens(strata, a) for a in CONFIGS]}
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %s: %s" % (OUT, ", ".join("%d texts" % len(c["texts"]) for c in out["configs"])))


if __name__ == "__main__":
    main()
