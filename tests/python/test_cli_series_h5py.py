#!/usr/bin/python3
"""Read a SERIES session written by the CLI with h5py, by the names of docs/session-format.md
(format 1.2, /series), and check it against the JSON of the same run.

    test_cli_series_h5py.py        (STRATA_BIN and STRATA_TEST_DATA from the environment)

Runs `strata series tests/data/twohop-series/cot --prompts twohop/prompts-trimmed.jsonl
--patch --site resid_pre --site mlp_out --json --session --view series-patch`.
"""
import json
import os
import subprocess
import tempfile
import unittest

import h5py
import numpy as np


def attr_str(obj, name):
    v = obj.attrs[name]
    return v.decode() if isinstance(v, bytes) else str(v)


def strings(ds):
    return [s.decode() if isinstance(s, bytes) else s for s in ds[()]]


class CliSeries(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        data = os.environ["STRATA_TEST_DATA"]
        cls.json_path = os.path.join(cls.tmp.name, "series.json")
        cls.h5_path = os.path.join(cls.tmp.name, "series.h5")
        p = subprocess.run([os.environ["STRATA_BIN"], "series", os.path.join(data, "twohop-series", "cot"),
                            "--prompts", os.path.join(data, "twohop", "prompts-trimmed.jsonl"),
                            "--patch", "--site", "resid_pre", "--site", "mlp_out",
                            "--json", cls.json_path, "--session", cls.h5_path,
                            "--view", "series-patch", "--view-tag", "ood", "--view-position", "r1"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError("strata series failed (%d): %s" % (p.returncode, p.stderr))
        with open(cls.json_path) as f:
            cls.js = json.load(f)
        cls.f = h5py.File(cls.h5_path, "r")

    @classmethod
    def tearDownClass(cls):
        cls.f.close()
        cls.tmp.cleanup()

    def test_header_and_view(self):
        f = self.f
        self.assertEqual(attr_str(f, "format"), "strata-session")
        self.assertEqual((int(f.attrs["format_major"]), int(f.attrs["format_minor"])), (1, 5))
        self.assertEqual(int(f["analyses"].attrs["count"]), 0)  # a series alone
        v = f["view"]
        # A 1.1 reader reads a checkpoint figure from `figure` and ignores `series_figure`.
        self.assertEqual(attr_str(v, "figure"), "lens")
        self.assertEqual(attr_str(v, "series_figure"), "series-patch")
        self.assertEqual(attr_str(v, "tag"), "ood")
        self.assertEqual(int(v.attrs["position"]), 1)  # r1
        self.assertEqual(attr_str(v, "patch_site"), "resid_pre")
        self.assertEqual((int(v.attrs["run"]), int(v.attrs["checkpoint"])), (-1, -1))

    def test_settings_and_prompts(self):
        s = self.f["series"]
        js = self.js
        self.assertEqual(attr_str(s, "tokenizer_sha256"), js["tokenizer_sha256"])
        self.assertEqual(int(s.attrs["raw"]), 0)
        self.assertEqual(float(s.attrs["threshold"]), js["settings"]["threshold"])
        self.assertEqual(attr_str(s, "answer_target"), "answer")
        self.assertNotIn("answer_position", s.attrs)  # each prompt's last
        self.assertEqual(int(s.attrs["has_patch"]), 1)
        self.assertEqual(attr_str(s, "patch_direction"), "noise")
        self.assertEqual(attr_str(s, "patch_metric"), "top1-change")
        self.assertEqual(strings(s["patch_sites"]), ["resid_pre", "mlp_out"])
        self.assertEqual(int(s.attrs["patch_head_pos"]), -1)
        p = s["prompts"]
        self.assertEqual(int(p.attrs["count"]), js["n_prompts"])
        self.assertEqual(attr_str(p, "source"), js["prompt_source"])
        first = p["000000"]
        self.assertEqual(first["ids"].dtype, np.dtype("<i4"))
        self.assertEqual(strings(first["position_names"]), js["positions"])
        self.assertEqual(strings(first["target_names"]), js["targets"])

    def test_checkpoints_match_json(self):
        runs = self.f["series/runs"]
        self.assertEqual(int(runs.attrs["count"]), len(self.js["runs"]))
        for r, jr in enumerate(self.js["runs"]):
            run = runs["%06d" % r]
            self.assertEqual(attr_str(run, "name"), jr["name"])
            self.assertEqual(attr_str(run, "path"), jr["path"])
            cps = run["checkpoints"]
            self.assertEqual(int(cps.attrs["count"]), len(jr["checkpoints"]))
            for c, jc in enumerate(jr["checkpoints"]):
                cp = cps["%06d" % c]
                self.assertEqual(int(cp.attrs["step"]), jc["step"])
                self.assertEqual(attr_str(cp, "label"), jc["label"])
                self.assertEqual(int(cp.attrs["done"]), 1)
                self.assertEqual(attr_str(cp["model"], "weights_sha256"), jc["model"]["weights_sha256"])
                self.assertEqual(attr_str(cp["model"], "device"), jc["model"]["device"])
                self.assertIn(jc["model"]["device"], ("cpu", "cuda"))
                L = int(cp["model/config"].attrs["n_layers"])
                aggs = cp["lens_aggregates"]
                n = 0
                for tag, by_target in jc["aggregate"].items():
                    for target, by_pos in by_target.items():
                        for pos, want in by_pos.items():
                            a = aggs["%06d" % n]
                            n += 1
                            self.assertEqual((attr_str(a, "tag"), attr_str(a, "target"), attr_str(a, "position")),
                                             (tag, target, pos))
                            self.assertEqual(int(a.attrs["n_prompts"]), want["n"])
                            rl = int(a.attrs["resolution_layer"])
                            self.assertEqual(None if rl < 0 else rl, want["resolution_layer"])
                            for name in ("mrr", "mean_prob", "top1"):
                                d = a[name]
                                self.assertEqual((d.dtype, d.shape), (np.dtype("<f8"), (L + 1,)))
                                self.assertEqual(d[()].tolist(), want[name])
                            self.assertEqual(a["resolution_counts"][()].tolist(), want["resolution_counts"])
                self.assertEqual(int(aggs.attrs["count"]), n)
                acc = cp["accuracy"]
                rows = list(zip(strings(acc["tag"]), strings(acc["target"]), acc["n"][()].tolist(),
                                acc["correct"][()].tolist()))
                want = [(t, g, v["n"], v["correct"]) for t, by in jc["accuracy"].items() for g, v in by.items()]
                self.assertEqual(rows, want)
                pa = cp["patch_aggregates"]
                n = 0
                for tag, agg in jc["patch"].items():
                    for site, maps in agg["sites"].items():
                        a = pa["%06d" % n]
                        n += 1
                        self.assertEqual((attr_str(a, "tag"), attr_str(a, "site")), (tag, site))
                        self.assertEqual(int(a.attrs["n_prompts"]), agg["n"])
                        self.assertEqual(a["mean_score"][()].tolist(), maps["mean_score"])
                self.assertEqual(int(pa.attrs["count"]), n)
                # The causal strength is a fraction of prompts.
                scores = np.concatenate([pa["%06d/mean_score" % i][()].ravel() for i in range(n)])
                self.assertTrue(np.all((scores >= 0) & (scores <= 1)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
