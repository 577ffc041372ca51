#!/usr/bin/env python3
"""tokenizer.json files for every pipeline step Strata reads, and their golden ids from the
Hugging Face `tokenizers` package (and the BOS/EOS policy from `transformers`).

Writes tests/fuzz/tokenizer-seeds/<name>.json, the same files cut to a 64-entry vocabulary
(seeds for tests/fuzz/fuzz-tokenizer-json.c), and tests/data/hf-pipeline/:
  <name>/tokenizer.json          small models trained here on CORPUS (hf_pipeline_texts.py),
                                 put behind the normalizer / pre-tokenizer / post-processor /
                                 decoder / added tokens of a model family, written by hand in
                                 HF's own JSON form (the families' published configurations)
  <name>/tokenizer_config.json   where the family has one that matters (BOS policy)
  goldens.json                   {"texts": [...], "tokenizers": {name: {
                                    "ids": [ids of each text, encode(add_special_tokens=False)],
                                    "decoded": {index: decode(ids)} where it differs from the
                                               text (absent: the file has no decoder),
                                    "specials": what encode(add_special_tokens=True) adds,
                                    "transformers": what AutoTokenizer(...)(text) adds}}}
The script refuses to write goldens when HF's specials are not the same around every text,
or when an added token does not get the id the file gives it.

Run from the repository root with a venv that has the reference packages (never a runtime or
test dependency):
  /usr/bin/python3 -m venv --system-site-packages /work/venv-tok
  /work/venv-tok/bin/pip install tokenizers transformers
  /work/venv-tok/bin/python tools/reference/hf_pipeline_goldens.py
"""
import json
import math
import os
import sys
import unicodedata
from collections import Counter

import tokenizers
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

sys.path.insert(0, os.path.dirname(__file__))
from hf_pipeline_texts import CORPUS, texts  # noqa: E402

OUT = "tests/data/hf-pipeline"

LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
             r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
            r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
GPT2_RE = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
SPM = "\u2581"  # '▁'

CORPUS_LINES = [line for line in CORPUS.splitlines() if line.strip()] * 4


# ---- HF JSON pieces ------------------------------------------------------------------------

def split(pattern, behavior, invert=False, regex=True):
    return {"type": "Split", "pattern": {"Regex" if regex else "String": pattern},
            "behavior": behavior, "invert": invert}


def byte_level(add_prefix_space=False, use_regex=False, trim_offsets=True):
    return {"type": "ByteLevel", "add_prefix_space": add_prefix_space,
            "trim_offsets": trim_offsets, "use_regex": use_regex}


def metaspace(scheme, split_=True, replacement=SPM):
    return {"type": "Metaspace", "replacement": replacement, "prepend_scheme": scheme,
            "split": split_}


def seq(kind, items):
    key = {"normalizer": "normalizers", "pre": "pretokenizers", "decoder": "decoders",
           "post": "processors"}[kind]
    return {"type": "Sequence", key: items}


def replace(pattern, content, regex=False):
    return {"type": "Replace", "pattern": {"Regex" if regex else "String": pattern},
            "content": content}


def spm_decoder(strip=True):
    steps = [replace(SPM, " "), {"type": "ByteFallback"}, {"type": "Fuse"}]
    if strip:
        steps.append({"type": "Strip", "content": " ", "start": 1, "stop": 0})
    return seq("decoder", steps)


def template(before, after, ids):
    """TemplateProcessing of one sequence: special tokens `before` $A `after`."""
    single = ([{"SpecialToken": {"id": t, "type_id": 0}} for t in before] +
              [{"Sequence": {"id": "A", "type_id": 0}}] +
              [{"SpecialToken": {"id": t, "type_id": 0}} for t in after])
    pair = single + [{"Sequence": {"id": "B", "type_id": 1}}]
    return {"type": "TemplateProcessing", "single": single, "pair": pair,
            "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]}
                               for t in before + after}}


def added(content, special=True, normalized=None, lstrip=False, rstrip=False,
          single_word=False):
    return {"content": content, "single_word": single_word, "lstrip": lstrip,
            "rstrip": rstrip, "normalized": (not special) if normalized is None else normalized,
            "special": special}


# ---- training ------------------------------------------------------------------------------

def train(model, trainer, pre=None, normalizer=None):
    tok = Tokenizer(model)
    if normalizer is not None:
        tok.normalizer = normalizer
    if pre is not None:
        tok.pre_tokenizer = pre
    tok.train_from_iterator(CORPUS_LINES, trainer=trainer)
    return json.loads(tok.to_str())


def byte_bpe(regex, vocab_size=1100):
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    return train(models.BPE(), trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()), pre=pre)


def relayout(spec, first, with_bytes):
    """Puts the tokens `first` (and <0x00>..<0xFF>) at the start of a BPE vocabulary, as
    SentencePiece conversions lay them out."""
    learned = sorted(spec["model"]["vocab"].items(), key=lambda kv: kv[1])
    vocab = {}
    for t in first:
        vocab[t] = len(vocab)
    if with_bytes:
        for b in range(256):
            vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece, _ in learned:
        if piece not in vocab:
            vocab[piece] = len(vocab)
    spec["model"]["vocab"] = vocab
    return spec


def spm_bpe(first, pre=None, normalizer=None, vocab_size=700):
    spec = train(models.BPE(), trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, show_progress=False), pre=pre,
        normalizer=normalizer)
    return relayout(spec, first, with_bytes=True)


def all_chars():
    chars = set()
    for t in texts() + CORPUS_LINES:
        for form in (t, t.lower(), unicodedata.normalize("NFKD", t),
                     unicodedata.normalize("NFKC", t), unicodedata.normalize("NFKC", t).lower()):
            chars.update(form)
    chars.update(SPM + "§#_")
    return sorted(c for c in chars if not c.isspace() or c == "\u3000")


def char_bpe():
    """Every character of the texts, plus 150 merges: a model on which any pre-tokenizer
    shows its cuts (merges never cross a piece)."""
    alphabet = all_chars()
    return train(models.BPE(unk_token="[UNK]"), trainers.BpeTrainer(
        vocab_size=len(alphabet) + 160, min_frequency=2, show_progress=False,
        special_tokens=["[UNK]"], initial_alphabet=alphabet, limit_alphabet=len(alphabet)),
        pre=pre_tokenizers.Whitespace())


def unigram(first, words, vocab_size):
    """A Unigram model built by counting: every character of `words`, and their substrings
    of 2..8 characters seen at least three times, scored by log relative frequency.
    (tokenizers' UnigramTrainer is not deterministic from one process to the next; Viterbi
    is exercised the same way by any scores.)"""
    counts = Counter()
    for w, n in words.items():
        for i in range(len(w)):
            for k in range(1, min(8, len(w) - i) + 1):
                counts[w[i:i + k]] += n
    chars = sorted(p for p in counts if len(p) == 1)
    multi = sorted((p for p, n in counts.items() if len(p) > 1 and n >= 3),
                   key=lambda p: (-counts[p] * len(p), p))[:vocab_size - len(chars) - len(first)]
    total = sum(counts[p] for p in chars)
    vocab = [[t, 0.0] for t in first]
    for p in sorted(chars + multi, key=lambda p: (-counts[p], p)):
        vocab.append([p, round(math.log(counts[p] / total), 6)])
    unk = first.index("<unk>")
    return {"version": "1.0", "truncation": None, "padding": None,
            "model": {"type": "Unigram", "unk_id": unk, "vocab": vocab, "byte_fallback": False}}


def word_counts(pre, normalizer=None):
    """The corpus as HF would pre-tokenize it for training: {piece: count}."""
    counts = Counter()
    for line in CORPUS_LINES:
        if normalizer is not None:
            line = normalizer.normalize_str(line)
        for piece, _ in pre.pre_tokenize_str(line):
            counts[piece] += 1
    return counts


def subword_bpe(words, specials, prefix, suffix, n_merges):
    """BPE with a continuing-subword prefix and an end-of-word suffix, trained the way
    tokenizers' BpeTrainer does (most frequent pair first; merged = left + right without
    the prefix), with ties broken by the pair's text so that a rerun gives the same file
    (BpeTrainer's alphabet order follows a randomly seeded hash map)."""
    seqs = []
    for w, n in sorted(words.items()):
        sym = [c if i == 0 else prefix + c for i, c in enumerate(w)]
        sym[-1] += suffix
        seqs.append((sym, n))
    vocab = {t: i for i, t in enumerate(specials)}
    for sym, _ in seqs:
        for t in sym:
            vocab.setdefault(t, None)
    for t in sorted(k for k, v in vocab.items() if v is None):
        vocab[t] = len([v for v in vocab.values() if v is not None])
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for sym, n in seqs:
            for a, b in zip(sym, sym[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        (a, b), n = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        if n < 2:
            break
        new = a + b[len(prefix):]
        merges.append([a, b])
        vocab.setdefault(new, len(vocab))
        for sym, _ in seqs:
            i = 0
            while i < len(sym) - 1:
                if sym[i] == a and sym[i + 1] == b:
                    sym[i:i + 2] = [new]
                i += 1
    return {"version": "1.0", "truncation": None, "padding": None,
            "model": {"type": "BPE", "dropout": None, "unk_token": "[UNK]",
                      "continuing_subword_prefix": prefix, "end_of_word_suffix": suffix,
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": vocab, "merges": merges}}


# ---- assembling ----------------------------------------------------------------------------

def model_vocab(spec):
    v = spec["model"]["vocab"]
    return {p: i for i, (p, _) in enumerate(v)} if isinstance(v, list) else v


def assemble(spec, normalizer, pre, post, decoder, tokens):
    """Sets the steps and the added tokens; ids as HF gives them: the model's id when the
    model lists the content, else the next free id after the model's vocabulary."""
    vocab = model_vocab(spec)
    nxt = len(vocab)
    out = []
    for t in tokens:
        if t["content"] in vocab:
            i = vocab[t["content"]]
        else:
            i, nxt = nxt, nxt + 1
        out.append(dict(id=i, **t))
    spec = dict(spec)
    spec["added_tokens"] = out
    spec["normalizer"] = normalizer
    spec["pre_tokenizer"] = pre
    spec["post_processor"] = post(lambda c: next(t["id"] for t in out if t["content"] == c)) \
        if callable(post) else post
    spec["decoder"] = decoder
    return spec


def family_llama3():
    spec = byte_bpe(LLAMA3_RE)
    spec["model"]["ignore_merges"] = True
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>",
                "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>",
                "<|python_tag|>"]

    def post(id_of):
        return seq("post", [byte_level(True, True, False),
                            template(["<|begin_of_text|>"], [], {"<|begin_of_text|>":
                                                                 id_of("<|begin_of_text|>")})])
    spec = assemble(spec, None, seq("pre", [split(LLAMA3_RE, "Isolated"), byte_level()]), post,
                    byte_level(True, True, True), [added(t) for t in specials])
    config = {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>",
              "clean_up_tokenization_spaces": True, "model_max_length": 131072,
              "tokenizer_class": "PreTrainedTokenizerFast"}
    return spec, config


QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>",
                 "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|vision_pad|>"]


def family_qwen2(base):
    tokens = [added(t) for t in QWEN_SPECIALS]
    tokens += [added(t, special=False, normalized=False) for t in ["<tool_call>", "</tool_call>"]]
    spec = assemble(base, {"type": "NFC"},
                    seq("pre", [split(QWEN2_RE, "Isolated"), byte_level()]),
                    byte_level(False, False, False), byte_level(False, False, False), tokens)
    config = {"add_prefix_space": False, "bos_token": None, "eos_token": "<|im_end|>",
              "pad_token": "<|endoftext|>", "unk_token": None, "errors": "replace",
              "split_special_tokens": False, "clean_up_tokenization_spaces": False}
    return spec, config


def family_deepseek(base):
    """A DeepSeek-R1 distill of Qwen: Qwen's model and steps, DeepSeek's added tokens, a BOS
    template and add_bos_token in tokenizer_config.json."""
    bos, eos = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
    tokens = [added(bos), added(eos), added("<｜▁pad▁｜>")]
    tokens += [added(t, special=False, normalized=True)
               for t in ["<｜User｜>", "<｜Assistant｜>", "<think>", "</think>"]]
    tokens += [added(t) for t in QWEN_SPECIALS[:3]]
    spec = assemble(base, {"type": "NFC"},
                    seq("pre", [split(QWEN2_RE, "Isolated"), byte_level()]),
                    lambda id_of: template([bos], [], {bos: id_of(bos)}),
                    byte_level(False, False, False), tokens)
    config = {"add_bos_token": True, "add_eos_token": False,
              "bos_token": {"__type": "AddedToken", "content": bos, "lstrip": False,
                            "normalized": True, "rstrip": False, "single_word": False},
              "eos_token": {"__type": "AddedToken", "content": eos, "lstrip": False,
                            "normalized": True, "rstrip": False, "single_word": False},
              "legacy": True, "model_max_length": 16384}
    return spec, config


def family_gemma():
    first = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"]
    spec = spm_bpe(first, normalizer=normalizers.Replace(" ", SPM))
    spec["model"].update(unk_token="<unk>", fuse_unk=True, byte_fallback=True)
    tokens = [added(t) for t in first] + [added("\t\t", special=False, normalized=False)]
    spec = assemble(spec, replace(" ", SPM), None,
                    lambda id_of: template(["<bos>"], [], {"<bos>": id_of("<bos>")}),
                    spm_decoder(strip=False), tokens)
    config = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<bos>",
              "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"}
    return spec, config


def family_llama2():
    """Llama 2 / Mistral as transformers converts them today (legacy=False): Metaspace with
    prepend_scheme "first", byte fallback, a Strip decoder; [INST] tokens with lstrip/rstrip
    and a single_word one."""
    first = ["<unk>", "<s>", "</s>"]
    spec = spm_bpe(first, pre=pre_tokenizers.Metaspace(prepend_scheme="first"))
    spec["model"].update(unk_token="<unk>", fuse_unk=True, byte_fallback=True)
    tokens = [added(t) for t in first]
    tokens += [added("[INST]", lstrip=True), added("[/INST]", rstrip=True),
               added("<<SYS>>", special=False, normalized=False, single_word=True)]
    spec = assemble(spec, None, metaspace("first", False),
                    lambda id_of: template(["<s>"], [], {"<s>": id_of("<s>")}),
                    spm_decoder(strip=True), tokens)
    config = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>",
              "eos_token": "</s>", "unk_token": "<unk>", "legacy": False}
    return spec, config


def family_t5():
    """A T5-style Unigram: Metaspace after WhitespaceSplit, an EOS template, extra_ids."""
    pre = [{"type": "WhitespaceSplit"}, metaspace("always")]
    norm = seq("normalizer", [{"type": "NFKC"}, replace(" {2,}", " ", regex=True),
                              {"type": "Lowercase"}])
    words = word_counts(pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Metaspace()]),
                        normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()]))
    spec = unigram(["<pad>", "</s>", "<unk>"], words, 600)
    tokens = [added(t) for t in ["<pad>", "</s>", "<unk>"]]
    tokens += [added(f"<extra_id_{i}>") for i in range(4)]
    spec = assemble(spec, norm, seq("pre", pre),
                    lambda id_of: template([], ["</s>"], {"</s>": id_of("</s>")}),
                    metaspace("always"), tokens)
    config = {"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>", "extra_ids": 4}
    return spec, config


def family_unigram_bytes():
    """A SentencePiece Unigram with byte fallback (Gemma-3 / newer SentencePiece models):
    <0xXX> pieces, Metaspace "first" without split, a small vocabulary so that rare characters
    fall back to bytes."""
    first = ["<unk>", "<s>", "</s>"]
    spec = unigram(first, word_counts(pre_tokenizers.Metaspace(prepend_scheme="first")), 500)
    learned = spec["model"]["vocab"]
    vocab = [[t, 0.0] for t in first] + [[f"<0x{b:02X}>", 0.0] for b in range(256)]
    vocab += [p for p in learned if p[0] not in first]
    spec["model"].update(vocab=vocab, unk_id=0, byte_fallback=True)
    tokens = [added(t) for t in first]
    spec = assemble(spec, None, metaspace("first", False),
                    lambda id_of: template(["<s>"], [], {"<s>": id_of("<s>")}),
                    spm_decoder(strip=True), tokens)
    return spec, {"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": True}


def family_digits_punct():
    """BERT-era BPE: accents stripped, lower case, digits one by one, punctuation isolated,
    continuing_subword_prefix and end_of_word_suffix, BertProcessing."""
    norm = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(),
                                 normalizers.Lowercase(), normalizers.Strip()])
    pre = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                   pre_tokenizers.Digits(individual_digits=True),
                                   pre_tokenizers.Punctuation()])
    spec = subword_bpe(word_counts(pre, norm), ["[UNK]", "[CLS]", "[SEP]"], "##", "</w>", 300)
    tokens = [added(t) for t in ["[UNK]", "[CLS]", "[SEP]"]]
    spec = assemble(spec,
                    seq("normalizer", [{"type": "NFD"}, {"type": "StripAccents"},
                                       {"type": "Lowercase"},
                                       {"type": "Strip", "strip_left": True, "strip_right": True}]),
                    seq("pre", [{"type": "WhitespaceSplit"},
                                {"type": "Digits", "individual_digits": True},
                                {"type": "Punctuation", "behavior": "Isolated"}]),
                    lambda id_of: {"type": "BertProcessing", "sep": ["[SEP]", id_of("[SEP]")],
                                   "cls": ["[CLS]", id_of("[CLS]")]},
                    None, tokens)
    return spec, None


def variants(base):
    """The same character-level model behind one configuration per group of steps."""
    extra = [added("<sep>"), added("[MASK]", lstrip=True, single_word=True),
             added("hello", special=False, normalized=True)]
    bert_post = (lambda id_of: {"type": "BertProcessing", "sep": ["<sep>", id_of("<sep>")],
                                "cls": ["[MASK]", id_of("[MASK]")]})
    cfgs = {
        # Split String MergedWithPrevious, then \p{P} Contiguous
        "split-a": (None, seq("pre", [split(" ", "MergedWithPrevious", regex=False),
                                      split(r"\p{P}", "Contiguous")]), None, None),
        # only letter and digit runs survive (invert + Removed), then digits start pieces
        "split-b": (None, seq("pre", [split(r"\p{L}+|\p{N}+", "Removed", invert=True),
                                      split(r"\d", "MergedWithNext", invert=True)]), None, None),
        # String MergedWithNext, then anchors, case folding, look-ahead and Oniguruma's \h
        "split-c": (None, seq("pre", [split(" ", "MergedWithNext", regex=False),
                                      split(r"(?i)the|^\s+|\s+$|\h+|\s+(?=\d)", "Isolated")]),
                    None, None),
        # whitespace runs removed, punctuation joins what precedes, digits contiguous
        "split-d": (None, seq("pre", [split(r"\s+", "Removed"),
                                      {"type": "Punctuation", "behavior": "MergedWithPrevious"},
                                      {"type": "Digits", "individual_digits": False}]),
                    None, None),
        "whitespace": (seq("normalizer", [{"type": "Strip", "strip_left": True,
                                           "strip_right": False}, {"type": "Lowercase"}]),
                       {"type": "Whitespace"}, None, None),
        "bert": (seq("normalizer", [{"type": "NFKD"}, {"type": "StripAccents"},
                                    {"type": "Lowercase"}, {"type": "Nmt"}]),
                 {"type": "BertPreTokenizer"}, bert_post, None),
        "chardelim": (seq("normalizer", [replace(r"\d+", "#", regex=True),
                                         {"type": "Prepend", "prepend": "§"},
                                         {"type": "Strip", "strip_left": False,
                                          "strip_right": True}]),
                      seq("pre", [{"type": "CharDelimiterSplit", "delimiter": "-"},
                                  {"type": "Punctuation", "behavior": "Removed"}]), None, None),
        "metaspace-never": ({"type": "NFKC"}, metaspace("never"), None,
                            metaspace("never")),
        "metaspace-custom": (None, metaspace("always", False, "_"), None,
                             seq("decoder", [metaspace("always", True, "_"),
                                             replace("§", "S")])),
    }
    out = {}
    for name, (norm, pre, post, dec) in cfgs.items():
        out[name] = (assemble(base, norm, pre, post, dec, extra), None)
    return out


def family_roberta(base):
    """GPT-2 / RoBERTa: ByteLevel with its own regex and add_prefix_space, RobertaProcessing,
    <mask> with lstrip."""
    tokens = [added("<s>"), added("<pad>"), added("</s>"), added("<unk>"),
              added("<mask>", lstrip=True)]
    spec = assemble(base, None, byte_level(True, True, True),
                    lambda id_of: {"type": "RobertaProcessing", "sep": ["</s>", id_of("</s>")],
                                   "cls": ["<s>", id_of("<s>")], "trim_offsets": True,
                                   "add_prefix_space": True},
                    byte_level(True, True, True), tokens)
    return spec, None


def family_gpt2(base):
    """OpenAI's GPT-2 as HF publishes it: no normalizer, ByteLevel with its own regex and no
    prefix space, a ByteLevel post-processor (nothing added), <|endoftext|>."""
    spec = assemble(base, None, byte_level(False, True, True), byte_level(True, True, False),
                    byte_level(True, True, True), [added("<|endoftext|>")])
    config = {"add_prefix_space": False, "bos_token": "<|endoftext|>",
              "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
              "model_max_length": 1024, "tokenizer_class": "PreTrainedTokenizerFast"}
    return spec, config


def family_gpt_neox(base):
    """EleutherAI's GPT-NeoX-20B tokenizer (GPT-NeoX, Pythia, MPT, OLMo 1): NFC, GPT-2's
    ByteLevel, <|endoftext|> and <|padding|>, and runs of 2 to 24 spaces as added tokens that
    are not special (normalized, so matched after NFC)."""
    tokens = [added("<|endoftext|>"), added("<|padding|>")]
    tokens += [added(" " * n, special=False, normalized=True) for n in range(24, 1, -1)]
    spec = assemble(base, {"type": "NFC"}, byte_level(False, True, True),
                    byte_level(False, True, True), byte_level(False, True, True), tokens)
    config = {"add_prefix_space": False, "bos_token": "<|endoftext|>",
              "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
              "tokenizer_class": "PreTrainedTokenizerFast"}
    return spec, config


def family_bytelevel_normalizer(base):
    """The ByteLevel normalizer (bytes -> characters before anything else), no pre-tokenizer."""
    tokens = [added("<|endoftext|>"), added("ab", special=False, normalized=True)]
    return assemble(base, {"type": "ByteLevel"}, None, None, byte_level(), tokens), None


def family_wordlevel():
    norm = seq("normalizer", [{"type": "Lowercase"}, replace(r"\d", "0", regex=True)])
    words = {}
    for line in CORPUS_LINES + texts():
        for w in pre_tokenizers.Whitespace().pre_tokenize_str(line.lower()):
            words.setdefault("".join("0" if c.isdigit() else c for c in w[0]), None)
    vocab = {"[UNK]": 0}
    for w in sorted(words)[::3]:  # a third of the words: the rest is unknown
        vocab.setdefault(w, len(vocab))
    spec = {"version": "1.0", "truncation": None, "padding": None,
            "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}}
    return assemble(spec, norm, {"type": "Whitespace"}, None, None,
                    [added("[SEP]"), added("[UNK]")]), None


# ---- goldens ---------------------------------------------------------------------------------

def write(name, spec, config):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(spec, ensure_ascii=False, indent=1))
    cpath = os.path.join(d, "tokenizer_config.json")
    if config is not None:
        with open(cpath, "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False, indent=1)
    elif os.path.exists(cpath):
        os.remove(cpath)
    size = os.path.getsize(path)
    assert size < 200_000, f"{path}: {size} bytes"
    tok = Tokenizer.from_file(path)  # goldens come from the file as written
    for t in spec["added_tokens"]:
        assert tok.token_to_id(t["content"]) == t["id"], (name, t)
    return tok


PROBE = "plain text"


def specials_of(name, full, plain):
    """The ids around `plain` in `full` (prefix, suffix)."""
    for i in range(len(full) - len(plain) + 1):
        if full[i:i + len(plain)] == plain:
            return full[:i], full[i + len(plain):]
    raise AssertionError(f"{name}: {plain} not inside {full}")


def transformers_specials(name, path, tok, ts):
    try:
        from transformers import AutoTokenizer
    except ImportError:
        return None
    tf = AutoTokenizer.from_pretrained(path)
    pre, suf = specials_of(name, tf(PROBE)["input_ids"],
                           tf(PROBE, add_special_tokens=False)["input_ids"])
    for t in ts:
        plain = tf(t, add_special_tokens=False)["input_ids"]
        assert plain == tok.encode(t, add_special_tokens=False).ids, (name, t)
        assert tf(t)["input_ids"] == pre + plain + suf, (name, t)
    return {"prefix": pre, "suffix": suf}


def goldens(name, tok, has_decoder, ts):
    entry = {"ids": [], "has_decoder": has_decoder}
    decoded = {}
    pre, suf = specials_of(name, tok.encode(PROBE).ids, tok.encode(PROBE, add_special_tokens=False).ids)
    for i, t in enumerate(ts):
        ids = tok.encode(t, add_special_tokens=False).ids
        entry["ids"].append(ids)
        if has_decoder:
            back = tok.decode(ids, skip_special_tokens=False)
            if back != t:
                decoded[str(i)] = back
        assert tok.encode(t).ids == pre + ids + suf, (name, t)
    entry["specials"] = {"prefix": pre, "suffix": suf}
    if has_decoder:
        entry["decoded"] = decoded
    return entry


def dump(out, path):
    """One text / one id list per line: readable diffs without megabyte lines."""
    lines = ["{", f'"generator": {json.dumps(out["generator"])},', '"texts": [']
    lines.append(",\n".join(json.dumps(t, ensure_ascii=False) for t in out["texts"]))
    lines.append("],")
    lines.append('"tokenizers": {')
    items = []
    for name, e in out["tokenizers"].items():
        head = {k: v for k, v in e.items() if k not in ("ids", "decoded")}
        s = f'{json.dumps(name)}: {{\n"meta": {json.dumps(head, ensure_ascii=False)},\n"ids": [\n'
        s += ",\n".join(json.dumps(ids, separators=(",", ":")) for ids in e["ids"])
        s += "\n]"
        if "decoded" in e:
            s += ',\n"decoded": ' + json.dumps(e["decoded"], ensure_ascii=False, indent=0)
        s += "\n}"
        items.append(s)
    lines.append(",\n".join(items))
    lines.append("}}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


SEEDS = "tests/fuzz/tokenizer-seeds"


def shrink(spec, keep=64):
    """The same steps over the first `keep` entries of the vocabulary (ids renumbered the
    way HF numbers added tokens), for a fuzzing seed of a few KB."""
    spec = json.loads(json.dumps(spec))
    m = spec["model"]
    if isinstance(m["vocab"], list):
        m["vocab"] = m["vocab"][:keep]
        if m.get("unk_id") is not None and m["unk_id"] >= keep:
            m["unk_id"] = None
        vocab = {p: i for i, (p, _) in enumerate(m["vocab"])}
    else:
        m["vocab"] = {p: i for p, i in m["vocab"].items() if i < keep}
        vocab = m["vocab"]
    if "merges" in m:
        skip = len(m.get("continuing_subword_prefix") or "")
        m["merges"] = [mg for mg in m["merges"] if mg[0] in vocab and mg[1] in vocab and
                       mg[0] + mg[1][skip:] in vocab]
    if m.get("unk_token") is not None and m["unk_token"] not in vocab and m["type"] == "BPE":
        m["unk_token"] = None
    nxt = len(vocab)
    new = {}
    for t in spec["added_tokens"]:
        if t["content"] in vocab:
            t["id"] = vocab[t["content"]]
        else:
            t["id"], nxt = nxt, nxt + 1
        new[t["content"]] = t["id"]

    def fix(node):
        if isinstance(node, dict):
            if node.get("type") in ("RobertaProcessing", "BertProcessing"):
                for k in ("sep", "cls"):
                    node[k][1] = new.get(node[k][0], 0)
            for st in node.get("special_tokens", {}).values() if node.get("type") == \
                    "TemplateProcessing" else []:
                st["ids"] = [new.get(t, 0) for t in st["tokens"]]
            for v in node.values():
                fix(v)
        elif isinstance(node, list):
            for v in node:
                fix(v)
    fix(spec["post_processor"])
    return spec


def main():
    ts = texts()
    qwen_base = byte_bpe(QWEN2_RE)
    families = {
        "llama3": family_llama3(),
        "qwen2": family_qwen2(qwen_base),
        "deepseek-r1-qwen": family_deepseek(qwen_base),
        "gemma": family_gemma(),
        "llama2-metaspace": family_llama2(),
        "t5-unigram": family_t5(),
        "unigram-byte-fallback": family_unigram_bytes(),
        "digits-punct": family_digits_punct(),
        "roberta": family_roberta(qwen_base),
        "bytelevel-normalizer": family_bytelevel_normalizer(qwen_base),
        "wordlevel": family_wordlevel(),
    }
    families.update(variants(char_bpe()))
    gpt2_base = byte_bpe(GPT2_RE)
    families["gpt2"] = family_gpt2(gpt2_base)
    families["gpt-neox"] = family_gpt_neox(gpt2_base)
    try:
        import transformers
        tf_version = f", transformers {transformers.__version__}"
    except ImportError:
        tf_version = ""
    out = {"generator": f"tools/reference/hf_pipeline_goldens.py (tokenizers "
                        f"{tokenizers.__version__}{tf_version})",
           "texts": ts, "tokenizers": {}}
    os.makedirs(SEEDS, exist_ok=True)
    for name, (spec, config) in families.items():
        seed = os.path.join(SEEDS, f"{name}.json")
        with open(seed, "w", encoding="utf-8") as f:
            f.write(json.dumps(shrink(spec), ensure_ascii=False, separators=(",", ":")))
        Tokenizer.from_file(seed)  # a seed HF loads too
        tok = write(name, spec, config)
        e = goldens(name, tok, spec["decoder"] is not None, ts)
        tf = transformers_specials(name, os.path.join(OUT, name), tok, ts)
        if tf is not None:
            e["transformers"] = tf
        out["tokenizers"][name] = e
        n = sum(len(i) for i in e["ids"])
        print(f"{name:24s} {os.path.getsize(os.path.join(OUT, name, 'tokenizer.json')):7d} bytes"
              f"  {len(ts)} texts, {n} ids, {len(e.get('decoded', {}))} decodes differ,"
              f" specials {e['specials']}, transformers {e.get('transformers')}")
    dump(out, os.path.join(OUT, "goldens.json"))


if __name__ == "__main__":
    main()
