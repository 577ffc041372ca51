#!/usr/bin/env python3
"""Golden GPT-2 token ids from two implementations Strata did not write.

1. The algorithm of OpenAI's original encoder (openai/gpt-2 src/encoder.py): the published
   pre-tokenizer regex run with the `regex` module, bytes_to_unicode, and BPE that merges
   the lowest-ranked pair (every occurrence, left to right) until none is left. Restated
   here for Python 3 from the published code.
2. tiktoken, built from the same local encoder.json/vocab.bpe (no network).

Both must agree on every text; the ids go to tests/data/gpt2-tokenizer-goldens.json.
Run from the repository root:  python3 tools/reference/gpt2_tokenizer_goldens.py
Needs: pip install regex tiktoken  (reference tooling only, never a runtime dependency).
"""
import json
import os
import sys

import regex

DATA = "tests/data"
PAT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

TEXTS = [
    "",
    "Hello world",
    "I'm can't we'll they've she'd you're it's",
    "I'M CAN'T WE'LL",  # the contraction rules are case-sensitive
    "don''t 'tis ''",
    "café naïve résumé Ångström",
    "e\u0301 combining acute",
    "日本語のテキストと中文",
    "한국어 텍스트",
    "مرحبا بالعالم",
    "हिन्दी पाठ",
    "emoji 🙂🙃 family 👨‍👩‍👧‍👦 flag 🇫🇷 skin 👍🏽",
    "a   b\n\n\n  c",
    "trailing spaces   ",
    "   leading spaces",
    "\n\n",
    " ",
    "12345 3.14159 1,000,000 2024-01-01",
    "tab\tseparated\t\tvalues\t",
    "mixed: Hello, World! (x+y)*z = 42; email@example.com #tag $5.00",
    "nbsp\u00a0here, ideographic\u3000space, nel\u0085end",
    "line\r\nwindows\r\n",
    "word \u0085word a\u0085\u0085 b \u2028x",  # NEL and LS are \s to `regex`
    "<|endoftext|> is plain text to encoder.py",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "   \t\n mixed whitespace \t ",
    "snake_case camelCase kebab-case SCREAMING_CASE",
    "\u0001\u0002 control \u007f",  # (NUL cannot pass through a C string)
    "The quick brown fox jumps over the lazy dog.",
]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class OpenAIEncoder:
    """encoder.py's Encoder: get_pairs + bpe + encode."""

    def __init__(self, encoder, merges):
        self.encoder = encoder
        self.byte_encoder = bytes_to_unicode()
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.pat = regex.compile(PAT)

    def bpe(self, token):
        word = tuple(token)
        pairs = set(zip(word, word[1:]))
        if not pairs:
            return [token]
        while True:
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                new_word.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = set(zip(word, word[1:]))
        return list(word)

    def encode(self, text):
        ids = []
        for token in regex.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token))
        return ids


def main():
    enc_path = os.path.join(DATA, "gpt2-tokenizer/encoder.json")
    bpe_path = os.path.join(DATA, "gpt2-tokenizer/vocab.bpe")
    with open(enc_path, encoding="utf-8") as f:
        encoder = json.load(f)
    with open(bpe_path, encoding="utf-8") as f:
        merges = [tuple(line.split()) for line in f.read().split("\n")[1:] if line]
    openai = OpenAIEncoder(encoder, merges)

    import tiktoken
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks
    ranks = data_gym_to_mergeable_bpe_ranks(vocab_bpe_file=bpe_path, encoder_json_file=enc_path)
    tik = tiktoken.Encoding("gpt2-local", pat_str=PAT, mergeable_ranks=ranks,
                            special_tokens={"<|endoftext|>": 50256})

    cases = []
    for text in TEXTS:
        a = openai.encode(text)
        b = tik.encode(text, disallowed_special=())
        if a != b:
            sys.exit(f"encoder.py algorithm and tiktoken disagree on {text!r}:\n{a}\n{b}")
        cases.append({"text": text, "ids": a})
    out = {"generator": "tools/reference/gpt2_tokenizer_goldens.py (openai/gpt-2 encoder.py "
                        "algorithm with `regex`, cross-checked with tiktoken "
                        f"{tiktoken.__version__})", "cases": cases}
    with open(os.path.join(DATA, "gpt2-tokenizer-goldens.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)
    print(f"{len(cases)} texts; encoder.py algorithm == tiktoken on all")


if __name__ == "__main__":
    main()
