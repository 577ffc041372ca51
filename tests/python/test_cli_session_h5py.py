#!/usr/bin/python3
"""Read sessions WRITTEN BY THE CLI with h5py and check them against the CLI's own JSON.

    test_cli_session_h5py.py        (STRATA_BIN and STRATA_TEST_DATA from the environment)

Runs `strata lens ... --json --session` and `strata patch ... --json --session` on
stories260K (clean "Lily went to the park. She", corrupt "Tim went to the park. He",
target " She", contrast " He") and checks the documented datasets of
docs/session-format.md: names, dtypes, shapes, and values equal to what the JSON of the same
run reports (ids, top-k, target probabilities, patching scores), plus invariants the JSON
does not state (the lens probability is the softmax of the logits; attention rows sum to 1).
"""
import json
import math
import os
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

CLEAN = "Lily went to the park. She"
CORRUPT = "Tim went to the park. He"


def attr_str(obj, name):
    v = obj.attrs[name]
    return v.decode() if isinstance(v, bytes) else str(v)


def run(*args):
    p = subprocess.run([os.environ["STRATA_BIN"], *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError("strata %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
    return p


class CliSession(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        t = cls.tmp.name
        model = os.path.join(os.environ["STRATA_TEST_DATA"], "stories260K", "stories260K.bin")
        run("lens", model, "--prompt", CLEAN, "--target", " She", "--target", " He",
            "--json", os.path.join(t, "lens.json"), "--session", os.path.join(t, "lens.h5"))
        run("patch", model, "--clean", CLEAN, "--corrupt", CORRUPT, "--target", " She", "--contrast", " He",
            "--json", os.path.join(t, "patch.json"), "--session", os.path.join(t, "patch.h5"))
        with open(os.path.join(t, "lens.json")) as f:
            cls.lens_json = json.load(f)
        with open(os.path.join(t, "patch.json")) as f:
            cls.patch_json = json.load(f)
        cls.lens = h5py.File(os.path.join(t, "lens.h5"), "r")
        cls.patch = h5py.File(os.path.join(t, "patch.h5"), "r")

    @classmethod
    def tearDownClass(cls):
        cls.lens.close()
        cls.patch.close()
        cls.tmp.cleanup()

    def test_header_and_model(self):
        for f, js in ((self.lens, self.lens_json), (self.patch, self.patch_json)):
            self.assertEqual(attr_str(f, "format"), "strata-session")
            self.assertEqual(int(f.attrs["format_major"]), 1)
            self.assertEqual(int(f.attrs["format_minor"]), 5)
            self.assertEqual(attr_str(f, "program_version"), js["strata_version"])
            self.assertEqual(int(f["analyses"].attrs["count"]), 1)
            m = f["analyses/000000/model"]
            self.assertEqual(attr_str(m, "weights_sha256"), js["model"]["weights_sha256"])
            self.assertEqual(attr_str(m, "tokenizer_sha256"), js["model"]["tokenizer_sha256"])
            self.assertEqual(attr_str(m, "name"), js["model"]["name"])
            self.assertEqual(int(m["config"].attrs["n_layers"]), js["model"]["layers"])
            self.assertEqual(int(m["config"].attrs["vocab"]), js["model"]["vocab"])
            self.assertEqual(int(m.attrs["add_bos"]), int(js["model"]["add_bos"]))
            # format 1.3: the device that ran it, as the JSON says (no GPU here: cpu or cuda).
            self.assertIn(attr_str(m, "device"), ("cpu", "cuda"))
            self.assertEqual(attr_str(m, "device"), js["model"]["device"])
            self.assertEqual(js["device"], js["model"]["device"])

    def test_lens_matches_json(self):
        js = self.lens_json["prompts"][0]
        L = self.lens_json["model"]["layers"]
        T = len(js["ids"])
        r = self.lens["analyses/000000/lens/results/000000"]
        K = int(r.attrs["topk"])
        self.assertEqual((int(r.attrs["n_layers"]), int(r.attrs["T"]), K), (L, T, 10))  # the default top-k
        self.assertEqual(r["ids"].dtype, np.dtype("<i4"))
        self.assertEqual(list(r["ids"][()]), js["ids"])
        p = self.lens["analyses/000000/prompts/000000"]
        self.assertEqual(list(p["ids"][()]), js["ids"])
        self.assertEqual(attr_str(p, "text"), CLEAN)
        self.assertEqual([s.decode() for s in p["target_names"][()]], [" She", " He"])
        for name in ("topk_ids", "topk_prob", "topk_logit"):
            self.assertEqual(r[name].shape, (L + 1, T, K), name)
        ids, prob, logit = r["topk_ids"][()], r["topk_prob"][()], r["topk_logit"][()]
        self.assertEqual(prob.dtype, np.dtype("<f4"))
        for k in range(L + 1):
            for t in range(T):
                cell = js["lens"][k][t]
                self.assertEqual([e["id"] for e in cell["topk"]], list(ids[k, t]))
                # JSON carries the float32 values as doubles: equal once rounded back.
                self.assertEqual([np.float32(e["prob"]) for e in cell["topk"]], list(prob[k, t]))
                self.assertEqual([np.float32(e["logit"]) for e in cell["topk"]], list(logit[k, t]))
        targets = r["targets"]
        self.assertEqual(int(targets.attrs["count"]), 2)
        for i, name in enumerate([" She", " He"]):
            tg = targets["%06d" % i]
            self.assertEqual(attr_str(tg, "name"), name)
            self.assertEqual(int(tg.attrs["id"]), js["lens"][0][0]["targets"][name]["id"])
            tp = tg["prob"][()]
            self.assertEqual(tp.shape, (L + 1, T))
            self.assertEqual(tg["rank"].dtype, np.dtype("<i4"))
            for k in range(L + 1):
                for t in range(T):
                    want = js["lens"][k][t]["targets"][name]
                    self.assertEqual(np.float32(want["prob"]), tp[k, t])
                    self.assertEqual(want["rank"], int(tg["rank"][k, t]))
            # The lens at the last residual point is the model's output distribution: the
            # target's probability is the softmax of the logits the JSON reports, with the
            # normaliser recovered from the top-1 entry (log Z = logit_1 - log p_1).
            last = js["lens"][L][T - 1]
            log_z = last["topk"][0]["logit"] - math.log(last["topk"][0]["prob"])
            want = math.exp(last["targets"][name]["logit"] - log_z)
            self.assertAlmostEqual(float(tp[L, T - 1]), want, delta=1e-5 + 1e-4 * want)
        # Softmax over the top-k: probability ratios are exponentials of logit differences.
        for j in range(1, K):
            self.assertAlmostEqual(math.log(prob[L, T - 1, 0] / prob[L, T - 1, j]),
                                   float(logit[L, T - 1, 0] - logit[L, T - 1, j]), delta=1e-4)

    def test_token_table(self):
        # Format 1.1: every top-k id has its piece, equal to the piece the JSON prints.
        r = self.lens["analyses/000000/lens/results/000000"]
        ids = list(r["token_ids"][()])
        self.assertEqual(ids, sorted(set(ids)))
        self.assertTrue(set(r["topk_ids"][()].ravel().tolist()) <= set(ids))
        pieces = dict(zip(ids, (p.decode("utf-8", "surrogateescape") for p in r["token_pieces"][()])))
        for row in self.lens_json["prompts"][0]["lens"]:
            for cell in row:
                for e in cell["topk"]:
                    self.assertEqual(pieces[e["id"]], e["piece"])

    def test_patching_matches_json(self):
        js = self.patch_json
        L = js["model"]["layers"]
        T = len(js["clean_ids"])
        res = self.patch["analyses/000000/patching/results"]
        self.assertEqual(int(res.attrs["count"]), 1)
        r = res["000000"]
        self.assertEqual(list(r["clean_ids"][()]), js["clean_ids"])
        self.assertEqual(list(r["corrupt_ids"][()]), js["corrupt_ids"])
        self.assertEqual(attr_str(r, "direction"), "denoise")
        self.assertEqual(attr_str(r, "metric"), "logit-diff")
        self.assertEqual(attr_str(r, "target_name"), " She")
        self.assertEqual(int(r.attrs["target"]), js["target"]["id"])
        self.assertEqual(int(r.attrs["contrast"]), js["contrast"])
        self.assertEqual(int(r.attrs["answer_pos"]), js["answer_pos"])
        self.assertEqual(float(r.attrs["baseline_clean"]), js["baseline"]["clean"])
        self.assertEqual(float(r.attrs["baseline_corrupt"]), js["baseline"]["corrupt"])
        maps = r["maps"]
        self.assertEqual(int(maps.attrs["count"]), 3)
        for i, site in enumerate(["resid_pre", "attn_out", "mlp_out"]):
            m = maps["%06d" % i]
            self.assertEqual(attr_str(m, "site"), site)
            for name in ("metric", "score"):
                d = m[name]
                self.assertEqual(d.dtype, np.dtype("<f8"))
                self.assertEqual(d.shape, (L, T))
                self.assertEqual(d[()].tolist(), js["sites"][site][name])
        # Denoising resid_pre at layer 0, last position restores most of the clean answer.
        self.assertGreater(maps["000000/score"][0, T - 1], 0.5)

    def test_patch_session_has_lens_circuit_attention(self):
        a = self.patch["analyses/000000"]
        L, H = self.patch_json["model"]["layers"], self.patch_json["model"]["heads"]
        T = len(self.patch_json["clean_ids"])
        self.assertEqual(int(a["lens"].attrs["has_lens"]), 1)
        lr = a["lens/results/000000"]
        self.assertEqual(list(lr["ids"][()]), self.patch_json["clean_ids"])
        # The contrast token is named in the token table, for the caption of a reopened file.
        self.assertIn(self.patch_json["contrast"], list(lr["token_ids"][()]))
        c = a["circuit"]
        self.assertEqual(attr_str(c, "target_name"), " She")
        n = c["node_kind"].shape[0]
        self.assertGreater(n, 0)
        self.assertTrue(np.all(c["edge_from"][()] < n) and np.all(c["edge_to"][()] < n))
        att = a["attention/pattern"]
        self.assertEqual(att.shape, (L, H, T, T))
        pat = att[()]
        np.testing.assert_allclose(pat.sum(axis=-1), 1.0, atol=1e-5)
        self.assertEqual(float(np.abs(np.triu(pat, k=1)).max()), 0.0)  # causal
        v = self.patch["view"]
        self.assertEqual(attr_str(v, "figure"), "patch")
        self.assertEqual(attr_str(v, "patch_site"), "resid_pre")
        self.assertEqual(attr_str(v, "target"), " She")
        self.assertEqual(attr_str(self.lens["view"], "figure"), "lens")


if __name__ == "__main__":
    unittest.main(verbosity=2)
