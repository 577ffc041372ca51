#!/usr/bin/env python3
"""Golden token ids for llama2.c tokenizer.bin files and the stories260K GGUF vocabulary.

The encoder below is a PYTHON PORT, written for Strata, of `encode()` in karpathy/llama2.c
run.c (MIT, Copyright (c) 2023 Andrej): BOS/EOS off, a dummy-prefix token (the piece " ")
when the text is not empty, one token per UTF-8 codepoint with byte fallback to id
byte + 3, then repeatedly merge the leftmost adjacent pair whose concatenation is the
vocabulary entry with the highest score (scores must beat run.c's initial -1e10). It looks
pieces up by exact string like run.c's bsearch; the first id wins for duplicates.

With --run-c PATH it also compiles llama2.c's own run.c (not kept in this repository) into a
small harness that calls its encode() and checks every golden against it.

It also reads the tokenizer arrays of stories260K.gguf with a minimal GGUF v3 reader and
writes them as JSON (tests/data/stories260K-gguf-vocab.json), so the SentencePiece
constructor can be tested before the GGUF loader exists.

Run from the repository root:
  python3 tools/reference/llama2c_tokenizer_goldens.py \
      [--gguf ../shared/fixtures/stories260K-gguf/stories260K.gguf] [--run-c /path/to/run.c]
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

TEXTS = [
    "",
    "Once upon a time",
    "Once upon a time, there was a little girl named Lily.",
    "Hello world",
    " leading space",
    "trailing space ",
    "two  spaces   three",
    "line one\nline two\n\nend",
    "Tom's dog can't run! \"Yes,\" she said.",
    "12345 3.14159",
    "café naïve résumé",
    "日本語のテキスト",
    "emoji 🙂 and 👨‍👩‍👧",
    "tab\tseparated\tvalues",
    # repeats give equal-score candidates: run.c merges the leftmost
    "aaaaaaa hmmmmm looooong eeeeeeee",
    "!!!!!!! ........ ------",
    "the the the  the   the",
    "xlll oooo pppp llllll",
    "The quick brown fox jumps over the lazy dog.",
]


def read_tokenizer_bin(path, vocab_size):
    with open(path, "rb") as f:
        data = f.read()
    (max_len,) = struct.unpack_from("<i", data, 0)
    pos = 4
    pieces, scores = [], []
    for _ in range(vocab_size):
        score, n = struct.unpack_from("<fi", data, pos)
        pos += 8
        raw = data[pos:pos + n]
        pos += n
        # run.c keeps C strings: a NUL would end the piece
        raw = raw.split(b"\0", 1)[0]
        pieces.append(raw)
        scores.append(score)
    return max_len, pieces, scores


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def encode_llama2c(text, pieces, scores):
    """Port of run.c encode(t, text, bos=0, eos=0, ...)."""
    lookup = {}
    for i, p in enumerate(pieces):
        lookup.setdefault(p, i)
    raw = text.encode("utf-8")
    tokens = []
    if raw:
        tokens.append(lookup.get(b" ", -1))
    i = 0
    while i < len(raw):
        # run.c: a codepoint is a lead byte plus its continuation bytes (at most 4 bytes)
        j = i + 1
        while j < len(raw) and (raw[j] & 0xC0) == 0x80 and j - i < 4:
            j += 1
        cp = raw[i:j]
        if cp in lookup:
            tokens.append(lookup[cp])
        else:
            tokens.extend(b + 3 for b in cp)
        i = j
    threshold = f32(-1e10)
    while True:
        best_score, best_id, best_idx = threshold, -1, -1
        for k in range(len(tokens) - 1):
            cand = pieces[tokens[k]] + pieces[tokens[k + 1]]
            tid = lookup.get(cand, -1)
            if tid != -1 and scores[tid] > best_score:
                best_score, best_id, best_idx = scores[tid], tid, k
        if best_idx == -1:
            break
        tokens[best_idx:best_idx + 2] = [best_id]
    return tokens


# --- minimal GGUF v3 reader: only what the tokenizer arrays need ------------------------
GGUF_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
               10: "<Q", 11: "<q", 12: "<d"}


def gguf_value(data, pos, vtype):
    if vtype in GGUF_SCALAR:
        fmt = GGUF_SCALAR[vtype]
        return struct.unpack_from(fmt, data, pos)[0], pos + struct.calcsize(fmt)
    if vtype == 8:
        (n,) = struct.unpack_from("<Q", data, pos)
        return data[pos + 8:pos + 8 + n].decode("utf-8"), pos + 8 + n
    if vtype == 9:
        etype, n = struct.unpack_from("<IQ", data, pos)
        pos += 12
        out = []
        for _ in range(n):
            v, pos = gguf_value(data, pos, etype)
            out.append(v)
        return out, pos
    raise ValueError(f"unknown GGUF value type {vtype}")


def read_gguf_kv(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", data, 0)
    assert magic == b"GGUF" and version == 3, (magic, version)
    pos = 24
    kv = {}
    for _ in range(n_kv):
        (klen,) = struct.unpack_from("<Q", data, pos)
        key = data[pos + 8:pos + 8 + klen].decode("utf-8")
        pos += 8 + klen
        (vtype,) = struct.unpack_from("<I", data, pos)
        kv[key], pos = gguf_value(data, pos + 4, vtype)
    return kv


def encode_spm_pieces(text, pieces_str, scores):
    """The same algorithm on '▁' pieces, as llama.cpp's SPM tokenizer does it: text with
    spaces as '▁' and a leading '▁', <0xXX> byte pieces. Only used to cross-check."""
    lookup = {}
    for i, p in enumerate(pieces_str):
        lookup.setdefault(p, i)
    if not text:
        return []
    norm = "▁" + text.replace(" ", "▁")
    tokens = []
    for ch in norm:
        if ch in lookup:
            tokens.append(lookup[ch])
        else:
            tokens.extend(lookup[f"<0x{b:02X}>"] for b in ch.encode("utf-8"))
    while True:
        best, best_idx = None, -1
        for k in range(len(tokens) - 1):
            tid = lookup.get(pieces_str[tokens[k]] + pieces_str[tokens[k + 1]], -1)
            if tid != -1 and (best is None or scores[tid] > scores[best]):
                best, best_idx = tid, k
        if best_idx == -1:
            break
        tokens[best_idx:best_idx + 2] = [best]
    return tokens


RUNC_HARNESS = r"""
#define main llama2c_main
#include RUNC_PATH
#undef main
int main(int argc, char **argv) {
    Tokenizer t;
    build_tokenizer(&t, argv[1], atoi(argv[2]));
    char line[65536];
    while (fgets(line, sizeof line, stdin)) {
        /* one JSON-free line per text: hex bytes */
        char text[32768]; int n = 0;
        for (char *p = line; p[0] && p[1] && p[0] != '\n'; p += 2) {
            unsigned v; sscanf(p, "%2x", &v); text[n++] = (char) v;
        }
        text[n] = '\0';
        int *tokens = malloc((n + 3) * sizeof(int)); int nt = 0;
        encode(&t, text, 0, 0, tokens, &nt);
        for (int i = 0; i < nt; i++) printf(i ? " %d" : "%d", tokens[i]);
        printf("\n");
        free(tokens);
    }
    return 0;
}
"""


def run_c_check(run_c, tok_path, vocab_size, texts, goldens):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "harness.c")
        exe = os.path.join(d, "harness")
        with open(src, "w") as f:
            f.write(RUNC_HARNESS.replace("RUNC_PATH", json.dumps(os.path.abspath(run_c))))
        subprocess.run(["cc", "-O1", "-w", "-o", exe, src, "-lm"], check=True)
        inp = "".join(t.encode("utf-8").hex() + "\n" for t in texts)
        out = subprocess.run([exe, tok_path, str(vocab_size)], input=inp, capture_output=True,
                             text=True, check=True).stdout.splitlines()
    for t, line, gold in zip(texts, out, goldens):
        ids = [int(x) for x in line.split()]
        if ids != gold:
            sys.exit(f"run.c disagrees on {t!r}: {ids} != {gold}")
    print(f"run.c agrees on {len(texts)} texts for {tok_path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="tests/data")
    ap.add_argument("--gguf", default="../shared/fixtures/stories260K-gguf/stories260K.gguf")
    ap.add_argument("--run-c", help="llama2.c run.c to compile and compare against")
    args = ap.parse_args()

    out = {"generator": "tools/reference/llama2c_tokenizer_goldens.py (port of llama2.c run.c "
                        "encode(), bos=0 eos=0)", "tokenizers": {}}
    for name in ["stories260K/tok512.bin", "aidreams260K/tok512.bin"]:
        path = os.path.join(args.data, name)
        _, pieces, scores = read_tokenizer_bin(path, 512)
        goldens = [encode_llama2c(t, pieces, scores) for t in TEXTS]
        out["tokenizers"][name] = {"vocab_size": 512,
                                   "cases": [{"text": t, "ids": g} for t, g in zip(TEXTS, goldens)]}
        if args.run_c:
            run_c_check(args.run_c, path, 512, TEXTS, goldens)
    with open(os.path.join(args.data, "llama2c-tokenizer-goldens.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)

    if os.path.exists(args.gguf):
        kv = read_gguf_kv(args.gguf)
        vocab = {"source": "stories260K.gguf (ggml-org/tiny-llamas), keys tokenizer.ggml.*",
                 "model": kv["tokenizer.ggml.model"],
                 "tokens": kv["tokenizer.ggml.tokens"],
                 "scores": kv["tokenizer.ggml.scores"],
                 "token_type": kv["tokenizer.ggml.token_type"],
                 "bos_token_id": kv.get("tokenizer.ggml.bos_token_id"),
                 "eos_token_id": kv.get("tokenizer.ggml.eos_token_id")}
        with open(os.path.join(args.data, "stories260K-gguf-vocab.json"), "w") as f:
            json.dump(vocab, f, ensure_ascii=False, indent=0)
        stories = out["tokenizers"]["stories260K/tok512.bin"]["cases"]
        for case in stories:
            ids = encode_spm_pieces(case["text"], vocab["tokens"], vocab["scores"])
            if ids != case["ids"]:
                sys.exit(f"GGUF SPM and tok512 disagree on {case['text']!r}: {ids} != {case['ids']}")
        print(f"GGUF '▁' encoding equals tok512 encoding on {len(stories)} texts")


if __name__ == "__main__":
    main()
