#!/usr/bin/python3
"""The files of `strata dataset twohop`, checked by code that shares nothing with the
generator: it reads only what was written and re-derives every split from the atomic facts.

    test_twohop_dataset.py        (STRATA_BIN, STRATA_TEST_DATA, STRATA_SHARED_FIXTURES)

Invariants (data/strata-twohop-dataset.h states the construction):
  - every head has exactly K distinct relations, every tail is an entity; exactly
    round(F x |atomic|) facts are OOD; all atomic facts are in train.jsonl once;
  - enumerating every (h, r1, r2) from the facts: the both-OOD queries are exactly
    test_inferred_ood, the mixed ones are the reported discards, the both-ID ones are split
    between the ID test and the pool; train two-hop = min(round(phi x |atomic ID|), pool);
  - train two-hop items have both hops ID and b = r1(h), t = r2(b), except the noisy ones,
    exactly round(xi x n) of them, wrong in the chosen entity only; the ID test is disjoint
    from the train two-hop queries;
  - token ids and texts agree with vocab.json and the fixture's naming; targets start with the
    input; the loss masks cover exactly the tokens after the input;
  - the prompt sets hold every test query with corrupted inputs as the fixture's do;
  - the same seed writes byte-identical files, another seed others;
  - with the default flags, the counts that do not depend on the draws equal those of the
    independently generated fixture (../shared/fixtures/twohop/data/meta.json) and the
    tokenizer.json holds the same vocabulary as the fixture's.
"""
import filecmp
import json
import os
import re
import subprocess
import tempfile
import unittest

FILES = ["train.jsonl", "test_inferred_id.jsonl", "test_inferred_ood.jsonl", "prompts-stage1.jsonl",
         "prompts-stage2.jsonl", "vocab.json", "tokenizer.json", "tokenizer_config.json", "dataset.json"]
TOKEN = re.compile(r"<[^<>]+>")


def generate(out, *args):
    p = subprocess.run([os.environ["STRATA_BIN"], "dataset", "twohop", "--out", out, *args], capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise AssertionError("strata dataset twohop %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
    return p.stdout


def load(path):
    with open(path) as f:
        return json.load(f)


def jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


class Dataset:
    def __init__(self, d):
        self.meta = load(os.path.join(d, "dataset.json"))
        self.vocab = load(os.path.join(d, "vocab.json"))
        self.train = jsonl(os.path.join(d, "train.jsonl"))
        self.test_id = jsonl(os.path.join(d, "test_inferred_id.jsonl"))
        self.test_ood = jsonl(os.path.join(d, "test_inferred_ood.jsonl"))
        self.stage1 = jsonl(os.path.join(d, "prompts-stage1.jsonl"))
        self.stage2 = jsonl(os.path.join(d, "prompts-stage2.jsonl"))
        self.tokenizer = load(os.path.join(d, "tokenizer.json"))


class TwohopDataset(unittest.TestCase):
    def check(self, ds, E, R, K, F, phi, xi=0.0, kind="tail"):
        c = ds.meta["counts"]
        atomic = [x for x in ds.train if x["type"] in ("atomic_id", "atomic_ood")]
        inferred = [x for x in ds.train if x["type"] == "train_inferred"]
        self.assertEqual(len(atomic) + len(inferred), len(ds.train))

        # atomic facts: K distinct relations per head, tails in E, the OOD share
        fact, ood = {}, {}
        for x in atomic:
            key = (x["h"], x["r1"])
            self.assertNotIn(key, fact, "atomic fact %s twice" % (key,))
            self.assertTrue(0 <= x["h"] < E and 0 <= x["r1"] < R and 0 <= x["t"] < E)
            self.assertIsNone(x["r2"])
            self.assertIsNone(x["b"])
            fact[key] = x["t"]
            ood[key] = x["type"] == "atomic_ood"
        for h in range(E):
            self.assertEqual(sum(1 for (hh, _) in fact if hh == h), K, "head %d" % h)
        self.assertEqual(len(fact), E * K)
        self.assertEqual(sum(ood.values()), round(F * E * K))
        self.assertEqual(c["atomic"], E * K)
        self.assertEqual(c["atomic_ood"], sum(ood.values()))

        # every candidate query, from the facts alone
        by_head = {}
        for (h, r) in fact:
            by_head.setdefault(h, []).append(r)
        both_id, both_ood, mixed = set(), set(), 0
        for (h, r1), b in fact.items():
            for r2 in by_head[b]:
                o1, o2 = ood[(h, r1)], ood[(b, r2)]
                if o1 and o2:
                    both_ood.add((h, r1, r2))
                elif o1 or o2:
                    mixed += 1
                else:
                    both_id.add((h, r1, r2))
        self.assertEqual(c["twohop_candidates"], E * K * K)
        self.assertEqual(c["discarded_mixed"], mixed)

        def query(x):
            return (x["h"], x["r1"], x["r2"])

        def consistent(x):
            return fact[(x["h"], x["r1"])] == x["b"] and fact[(x["b"], x["r2"])] == x["t"]

        test_ood = {query(x) for x in ds.test_ood}
        self.assertEqual(test_ood, both_ood)
        self.assertTrue(all(consistent(x) for x in ds.test_ood))
        test_id = {query(x) for x in ds.test_id}
        self.assertEqual(len(test_id), len(ds.test_id))
        self.assertTrue(test_id <= both_id)
        self.assertTrue(all(consistent(x) for x in ds.test_id))
        self.assertEqual(c["pool_id_train"], len(both_id) - len(test_id))

        train_q = [query(x) for x in inferred]
        self.assertEqual(len(set(train_q)), len(train_q), "a two-hop query twice in training")
        self.assertTrue(set(train_q) <= both_id - test_id, "a train query with an OOD hop or in the ID test")
        n_id = E * K - round(F * E * K)
        self.assertEqual(len(inferred), min(round(phi * n_id), len(both_id) - len(test_id)))
        self.assertEqual(c["train_inferred"], len(inferred))

        noisy = [x for x in inferred if x["noisy"]]
        self.assertEqual(len(noisy), round(xi * len(inferred)))
        self.assertEqual(c["train_noisy"], len(noisy))
        self.assertFalse(any(x["noisy"] for x in atomic + ds.test_id + ds.test_ood))
        for x in inferred:
            b = fact[(x["h"], x["r1"])]
            t = fact[(b, x["r2"])]
            if not x["noisy"]:
                self.assertEqual((x["b"], x["t"]), (b, t))
            elif kind == "tail":
                self.assertEqual(x["b"], b)
                self.assertNotEqual(x["t"], t)
            else:
                self.assertNotEqual(x["b"], b)
                self.assertEqual(x["t"], t)
            self.assertTrue(0 <= x["b"] < E and 0 <= x["t"] < E)

        self.check_tokens(ds, E, R)
        self.check_prompts(ds, fact, E)

    def check_tokens(self, ds, E, R):
        want = {"<e_%d>" % i: i for i in range(E)}
        want.update({"<r_%d>" % j: E + j for j in range(R)})
        want.update({"</a>": E + R, "<pad>": E + R + 1})
        self.assertEqual(ds.vocab, want)
        self.assertEqual(ds.tokenizer["model"]["vocab"], want)
        self.assertEqual(ds.tokenizer["model"]["type"], "WordLevel")
        self.assertEqual({t["content"]: t["id"] for t in ds.tokenizer["added_tokens"]}, want)
        for x in ds.train + ds.test_id + ds.test_ood:
            two = x["r2"] is not None
            inp = [x["h"], E + x["r1"]] + ([E + x["r2"]] if two else [])
            cot = inp + ([x["b"]] if two else []) + [x["t"], E + R]
            nocot = inp + [x["t"], E + R]
            self.assertEqual(x["input_ids"], inp)
            self.assertEqual(x["target_ids_cot"], cot)
            self.assertEqual(x["target_ids_nocot"], nocot)
            for text, ids in (("input_text", "input_ids"), ("target_text_cot", "target_ids_cot"),
                              ("target_text_nocot", "target_ids_nocot")):
                self.assertEqual([want[t] for t in TOKEN.findall(x[text])], x[ids])
                self.assertEqual("".join(TOKEN.findall(x[text])), x[text])
            self.assertEqual(x["loss_mask_cot"], [0] * len(inp) + [1] * (len(cot) - len(inp)))
            self.assertEqual(x["loss_mask_nocot"], [0] * len(inp) + [1] * (len(nocot) - len(inp)))

    def check_prompts(self, ds, fact, E):
        tests = [(x, "id") for x in ds.test_id] + [(x, "ood") for x in ds.test_ood]
        self.assertEqual(len(ds.stage1), len(tests))
        self.assertEqual(len(ds.stage2), len(tests))
        for (x, tag), p1, p2 in zip(tests, ds.stage1, ds.stage2):
            ids = x["input_ids"]
            self.assertEqual(p1["ids"], ids)
            self.assertEqual(p1["targets"], {"bridge": "#%d" % x["b"], "answer": "#%d" % x["t"]})
            self.assertEqual(p1["positions"], {"h": 0, "r1": 1, "r2": 2})
            self.assertEqual(p1["tags"], [tag])
            # h replaced by a head whose r1-fact exists and has another bridge: the contrast
            h2 = p1["corrupt_ids"][0]
            self.assertEqual(p1["corrupt_ids"][1:], ids[1:])
            self.assertNotEqual(fact[(h2, x["r1"])], x["b"])
            self.assertEqual(p1["contrast"], "#%d" % fact[(h2, x["r1"])])
            self.assertEqual(p2["ids"], ids + [x["b"]])
            self.assertEqual(p2["targets"], {"answer": "#%d" % x["t"]})
            self.assertEqual(p2["positions"], {"h": 0, "r1": 1, "r2": 2, "b": 3})
            self.assertEqual(p2["tags"], [tag])
            b2 = p2["corrupt_ids"][3]
            self.assertEqual(p2["corrupt_ids"][:3], ids)
            self.assertNotEqual(fact[(b2, x["r2"])], x["t"])
            self.assertEqual(p2["contrast"], "#%d" % fact[(b2, x["r2"])])

    def test_small_tail_noise(self):
        with tempfile.TemporaryDirectory() as d:
            generate(d, "--entities", "40", "--relations", "8", "--per-entity", "4", "--phi", "3",
                     "--test-prob", "0.2", "--noise", "0.1", "--seed", "3")
            self.check(Dataset(d), 40, 8, 4, 0.05, 3.0, xi=0.1)

    def test_small_bridge_noise_and_tiny_phi(self):
        with tempfile.TemporaryDirectory() as d:
            generate(d, "--entities", "30", "--relations", "5", "--per-entity", "5", "--ood-fraction", "0.2",
                     "--phi", "0.5", "--test-prob", "0.05", "--noise", "0.25", "--noise-kind", "bridge")
            self.check(Dataset(d), 30, 5, 5, 0.2, 0.5, xi=0.25, kind="bridge")

    def test_phi_above_the_pool(self):
        # phi x |atomic ID| exceeds the ID pool: training takes all of it
        with tempfile.TemporaryDirectory() as d:
            generate(d, "--entities", "20", "--relations", "6", "--per-entity", "3", "--phi", "50")
            ds = Dataset(d)
            self.assertEqual(ds.meta["counts"]["train_inferred"], ds.meta["counts"]["pool_id_train"])
            self.check(ds, 20, 6, 3, 0.05, 50.0)

    def test_default_matches_fixture(self):
        with tempfile.TemporaryDirectory() as d:
            generate(d)
            ds = Dataset(d)
            self.check(ds, 300, 40, 20, 0.05, 18.0)
            fixture_tok = load(os.path.join(os.environ["STRATA_TEST_DATA"], "twohop", "tokenizer.json"))
            self.assertEqual(ds.tokenizer["model"], fixture_tok["model"])
            self.assertEqual(ds.tokenizer["added_tokens"], fixture_tok["added_tokens"])
            meta = os.path.join(os.environ.get("STRATA_SHARED_FIXTURES", ""), "twohop", "data", "meta.json")
            if not os.path.exists(meta):
                self.skipTest("no %s" % meta)
            fixture = load(meta)
            for k in ("n_entities", "n_relations", "facts_per_entity", "ood_frac", "phi", "p_test_id"):
                self.assertEqual(ds.meta["params"][k], fixture["params"][k], k)
            for k in ("atomic", "atomic_id", "atomic_ood", "twohop_candidates", "train_inferred", "train_total"):
                self.assertEqual(ds.meta["counts"][k], fixture["counts"][k], k)
            self.assertEqual(ds.meta["vocab_size"], fixture["vocab_size"])
            self.assertEqual(ds.meta["token_ids"], fixture["token_ids"])

    def test_paper_scale(self):
        with tempfile.TemporaryDirectory() as d:
            generate(d, "--entities", "2000", "--relations", "200", "--per-entity", "20", "--phi", "7.2")
            ds = Dataset(d)
            self.assertEqual(ds.meta["counts"]["atomic"], 40000)
            self.assertEqual(ds.meta["counts"]["atomic_ood"], 2000)
            self.assertEqual(ds.meta["counts"]["twohop_candidates"], 800000)
            self.assertEqual(ds.meta["counts"]["train_inferred"], 273600)
            self.check(ds, 2000, 200, 20, 0.05, 7.2)

    def test_seed(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b, \
                tempfile.TemporaryDirectory() as c:
            args = ["--entities", "50", "--relations", "10", "--per-entity", "5", "--noise", "0.1"]
            generate(a, *args, "--seed", "11")
            generate(b, *args, "--seed", "11")
            generate(c, *args, "--seed", "12")
            match, mismatch, errors = filecmp.cmpfiles(a, b, FILES, shallow=False)
            self.assertEqual((mismatch, errors), ([], []))
            self.assertFalse(filecmp.cmp(os.path.join(a, "train.jsonl"), os.path.join(c, "train.jsonl"), shallow=False))
            self.assertFalse(filecmp.cmp(os.path.join(a, "prompts-stage1.jsonl"),
                                         os.path.join(c, "prompts-stage1.jsonl"), shallow=False))
            self.assertEqual(sorted(os.listdir(a)), sorted(FILES), "a temporary file left behind")


if __name__ == "__main__":
    unittest.main()
