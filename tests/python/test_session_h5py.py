#!/usr/bin/python3
"""Read a Strata session with h5py and check it against docs/session-format.md.

    test_session_h5py.py WRITER

WRITER is tests/write-sample-session (built by meson); it writes the sample session of
tests/session-sample.c, whose arrays are formulas of the element index i and a salt:
    float32  ((i * 7919 + salt) % 10007) / 10007      (float32 arithmetic)
    float64  the same in float64
    int32    ((i * 7919 + salt) % 50257) - 1
so every value is recomputed here independently of the C reader.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

WRITER = None


def formula(kind, n, salt):
    i = np.arange(n, dtype=np.int64)
    m = (i * 7919 + salt)
    if kind == "f32":
        return (m % 10007).astype(np.float32) / np.float32(10007)
    if kind == "f64":
        return (m % 10007).astype(np.float64) / np.float64(10007)
    return ((m % 50257) - 1).astype(np.int32)


def attr_str(obj, name):
    v = obj.attrs[name]
    return v.decode() if isinstance(v, bytes) else str(v)


class SessionFromPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.tmp.name, "sample.h5")
        subprocess.run([WRITER, cls.path], check=True)
        cls.f = h5py.File(cls.path, "r")

    @classmethod
    def tearDownClass(cls):
        cls.f.close()
        cls.tmp.cleanup()

    def check(self, dset, kind, shape, salt):
        dtype = {"f32": np.float32, "f64": np.float64, "i32": np.int32}[kind]
        self.assertEqual(dset.dtype, np.dtype(dtype).newbyteorder("<"), dset.name)
        self.assertEqual(dset.shape, shape, dset.name)
        n = int(np.prod(shape))
        if n > 0:
            self.assertEqual(dset.compression, "gzip", dset.name)
            self.assertTrue(dset.shuffle, dset.name)
            self.assertIsNotNone(dset.chunks, dset.name)
        want = formula(kind, n, salt).reshape(shape)
        got = dset[()]
        # Bit for bit: compare the bytes, not the values (-0.0 == 0.0 would hide a change).
        self.assertEqual(got.tobytes(), want.astype(got.dtype).tobytes(), dset.name)

    def test_header(self):
        f = self.f
        self.assertEqual(attr_str(f, "format"), "strata-session")
        self.assertEqual(int(f.attrs["format_major"]), 1)
        self.assertEqual(int(f.attrs["format_minor"]), 5)
        self.assertRegex(attr_str(f, "program_version"), r"^\d+\.\d+\.\d+")
        self.assertRegex(attr_str(f, "created"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        self.assertRegex(attr_str(f, "modified"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        self.assertEqual(int(f["analyses"].attrs["count"]), 2)
        self.assertEqual(sorted(f["analyses"].keys()), ["000000", "000001"])

    def test_model(self):
        m = self.f["analyses/000000/model"]
        self.assertEqual(attr_str(m, "name"), "twohop-cot")
        self.assertEqual(attr_str(m, "arch"), "gpt2")
        self.assertEqual(attr_str(m, "tokenizer_sha256"), "")
        self.assertEqual(len(attr_str(m, "weights_sha256")), 64)
        self.assertEqual(int(m.attrs["add_bos"]), 0)
        self.assertEqual(attr_str(m, "device"), "cuda")  # format 1.3
        self.assertEqual(attr_str(self.f["analyses/000001/model"], "device"), "cpu")
        c = m["config"]
        self.assertEqual(attr_str(c, "family"), "gpt2")
        self.assertEqual(attr_str(c, "rope"), "none")
        self.assertEqual(int(c.attrs["n_layers"]), 4)
        self.assertEqual(c.attrs["norm_eps"].dtype, np.float32)
        self.assertEqual(c.attrs["norm_eps"], np.float32(1e-5))
        c1 = self.f["analyses/000001/model/config"]
        self.assertEqual(attr_str(c1, "family"), "llama")
        self.assertEqual(attr_str(c1, "rope"), "half")
        self.assertEqual(int(c1.attrs["n_kv_heads"]), 2)

    def test_prompts(self):
        p = self.f["analyses/000000/prompts"]
        self.assertEqual(int(p.attrs["count"]), 3)
        self.assertEqual(attr_str(p, "source"), "twohop/test_id.jsonl")
        for i, T in enumerate([5, 7, 4]):
            g = p["%06d" % i]
            self.check(g["ids"], "i32", (T,), 1000 + 10 * i)
            if i == 2:
                self.assertNotIn("corrupt_ids", g)
            else:
                self.check(g["corrupt_ids"], "i32", (T,), 1000 + 10 * i + 1)
            self.assertEqual("text" in g.attrs, i != 1)
        g = p["000000"]
        self.assertEqual([s.decode() for s in g["target_names"][()]], ["bridge", "answer"])
        self.assertEqual(list(g["target_ids"][()]), [17, 50256])
        self.assertEqual([s.decode() for s in g["position_names"][()]], ["r1", "r2"])
        self.assertEqual(list(g["position_indices"][()]), [1, 2])
        self.assertEqual(int(g.attrs["contrast"]), -1)
        self.assertEqual([s.decode() for s in p["000001/tags"][()]], ["ood", "hard"])
        self.assertEqual(p["000002/tags"].shape, (0,))

    def test_lens(self):
        lens = self.f["analyses/000000/lens"]
        self.assertEqual(int(lens.attrs["has_lens"]), 1)
        self.assertEqual(int(lens.attrs["topk"]), 3)
        self.check(lens["candidates"], "i32", (6,), 1007)
        self.assertNotIn("candidates", self.f["analyses/000001/lens"])
        res = lens["results"]
        self.assertEqual(int(res.attrs["count"]), 3)
        for i, T in enumerate([5, 7, 4]):
            r = res["%06d" % i]
            salt = 1000 + 20 * i
            L, K = int(r.attrs["n_layers"]), int(r.attrs["topk"])
            self.assertEqual((L, int(r.attrs["T"]), K), (4, T, 3))
            self.assertEqual(int(r.attrs["vocab"]), 50257)
            self.check(r["ids"], "i32", (T,), salt)
            self.assertEqual(r["pieces"].shape, (T,))
            self.check(r["topk_ids"], "i32", (L + 1, T, K), salt + 1)
            self.check(r["topk_prob"], "f32", (L + 1, T, K), salt + 2)
            self.check(r["topk_logit"], "f32", (L + 1, T, K), salt + 3)
            self.assertEqual(int(r["targets"].attrs["count"]), 2)
            for k in range(2):
                t = r["targets/%06d" % k]
                ts = salt + 100 * (k + 1)
                self.assertEqual(attr_str(t, "name"), ["bridge", "answer"][k])
                self.check(t["prob"], "f32", (L + 1, T), ts)
                self.check(t["logprob"], "f32", (L + 1, T), ts + 1)
                self.check(t["logit"], "f32", (L + 1, T), ts + 2)
                self.check(t["rank"], "i32", (L + 1, T), ts + 3)
                if k == 0:
                    self.check(t["cand_rank"], "i32", (L + 1, T), ts + 4)
                else:
                    self.assertNotIn("cand_rank", t)
                self.check(t["resolution"], "i32", (T,), ts + 5)
                self.check(t["resolution_threshold"], "i32", (T,), ts + 6)
        # The token table (format 1.1): distinct top-k ids ascending, one piece each; the
        # 4-token prompt has none (as a 1.0 file).
        r0 = res["000000"]
        ids = r0["token_ids"][()]
        self.assertEqual(list(ids), sorted(set(r0["topk_ids"][()].ravel().tolist())))
        pieces = r0["token_pieces"][()]
        self.assertEqual(pieces.shape, ids.shape)
        self.assertEqual(pieces[0], b"\xe2\x96")
        self.assertEqual(pieces[1], ("tok%d" % ids[1]).encode())
        self.assertNotIn("token_ids", res["000002"])
        # Byte-level pieces are raw bytes, not necessarily UTF-8 on their own.
        pieces = res["000001/pieces"][()]
        self.assertEqual(list(pieces[:4]), [b"<|endoftext|>", "Ġthe".encode(), b"", b"\xe2\x96"])
        agg = lens["aggregates"]
        self.assertEqual(int(agg.attrs["count"]), 2)
        a = agg["000001"]
        self.assertEqual(attr_str(a, "tag"), "ood")
        self.check(a["mrr"], "f64", (5,), 1002)
        self.check(a["mean_prob"], "f64", (5,), 1003)
        self.check(a["top1"], "f64", (5,), 1004)
        self.check(a["resolution_counts"], "i32", (6,), 1005)

    def test_patching(self):
        pr = self.f["analyses/000000/patching/results"]
        self.assertEqual(int(pr.attrs["count"]), 2)  # prompt 2 has no corrupted input
        r = pr["000001"]
        salt = 1000 + 30 * 1
        self.assertEqual(attr_str(r, "direction"), "denoise")  # salt 1030 is even
        self.assertEqual(attr_str(r, "metric"), "prob")  # 1030 % 3 == 1
        self.assertEqual(int(r.attrs["contrast"]), -1)
        self.assertEqual(int(r.attrs["answer_pos"]), 6)
        self.assertEqual(r.attrs["baseline_clean"], 2.5)
        self.check(r["clean_ids"], "i32", (7,), 1010)
        self.check(r["corrupt_ids"], "i32", (7,), 1011)
        maps = r["maps"]
        self.assertEqual(int(maps.attrs["count"]), 3)
        self.assertEqual([attr_str(maps[k], "site") for k in sorted(maps.keys())],
                         ["resid_pre", "head_at", "mlp_out"])
        self.check(maps["000000/metric"], "f64", (4, 7), salt)
        self.check(maps["000000/score"], "f64", (4, 7), salt + 1)
        self.assertEqual(int(maps["000001"].attrs["head_pos"]), 3)
        self.check(maps["000001/score"], "f64", (4, 4), salt + 3)
        agg = self.f["analyses/000001/patching/aggregates/000001"]
        self.assertEqual(attr_str(agg, "site"), "head")
        self.check(agg["mean_score"], "f64", (8, 4), 2004)
        self.check(agg["mean_metric"], "f64", (8, 4), 2005)

    def test_circuit_attention_view(self):
        c = self.f["analyses/000000/circuit"]
        self.assertEqual([s.decode() for s in c["node_kind"][()][:5]],
                         ["resid", "attn", "mlp", "head", "resid"])
        self.assertEqual(c["node_layer"].shape, (8,))
        self.assertEqual(list(c["node_head"][()][:4]), [-1, -1, -1, 1])
        self.check(c["node_effect"], "f64", (8,), 900)
        self.assertEqual(list(c["edge_from"][()]), list(range(7)))
        self.assertEqual(list(c["edge_to"][()]), list(range(1, 8)))
        self.assertNotIn("circuit", self.f["analyses/000001"])
        att = self.f["analyses/000000/attention"]
        self.check(att["pattern"], "f32", (2, 3, 6, 6), 1005)
        self.assertNotIn("attention", self.f["analyses/000001"])
        v = self.f["view"]
        self.assertEqual(attr_str(v, "figure"), "patch")
        self.assertEqual(attr_str(v, "patch_site"), "head_at")
        self.assertEqual(attr_str(v, "curve"), "mrr")
        self.assertEqual(attr_str(v, "target"), "bridge")
        self.assertEqual(attr_str(v, "tag"), "ood")
        self.assertEqual([int(v.attrs[k]) for k in ("analysis", "prompt", "layer", "position", "head")],
                         [1, 2, 3, -1, 2])
        self.assertEqual(int(v.attrs["compare"]), 1)
        self.assertEqual([int(v.attrs[k]) for k in ("trace_topk", "trace_anywhere", "range_first", "range_count")],
                         [3, 1, 1, 2])


if __name__ == "__main__":
    WRITER = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
