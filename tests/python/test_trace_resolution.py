#!/usr/bin/python3
"""The trace resolution of `strata lens --generate` against a reference written here.

    test_trace_resolution.py        (STRATA_BIN and STRATA_TEST_DATA from the environment)

Runs `strata lens --generate N --json` on stories260K (GGUF) and on the two-hop CoT
checkpoint (tests/data/twohop, prompts-trimmed.jsonl) and recomputes, from the JSON alone
(ids, pieces, the number generated, the per-cell target ranks of the lens grid):

- the writing positions of each target, its first cell held (rank < K at p < its last
  writing position, ids[p] not the target itself: earliest position, then shallowest layer), the writing position that
  cell anticipates (the first w > p) and the tokens ahead (w - 1 - p), the rule of
  probes/strata-trace-resolution.h, written again here;
- the targets chosen automatically (numbers and capitalized pieces that are not only
  sentence-initial, most frequent first, capped), from the pieces;
and checks the invariants: p < w, tokens ahead >= 0, every automatic target is written in
the generated part.
"""
import json
import os
import subprocess
import tempfile
import unittest

DATA = os.environ.get("STRATA_TEST_DATA", "")
STORIES = os.path.join(DATA, "stories260K-gguf", "stories260K.gguf")
TWOHOP = os.path.join(DATA, "twohop", "cot-3000")
TWOHOP_PROMPTS = os.path.join(DATA, "twohop", "prompts-trimmed.jsonl")
PROMPT = "Lily had 3 red balls and Tom had 2. Lily said"


def lens_json(*args):
    with tempfile.TemporaryDirectory() as t:
        out = os.path.join(t, "lens.json")
        p = subprocess.run([os.environ["STRATA_BIN"], "lens", *args, "--json", out], capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError("strata lens %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
        with open(out) as f:
            return json.load(f)


def strip_marker(piece):
    for m in (" ", "\u2581", "\u0120"):
        if piece.startswith(m):
            return piece[len(m):]
    return piece


def is_number(piece):
    s = strip_marker(piece)
    return s != "" and all("0" <= c <= "9" for c in s)


def is_capitalized(piece):
    s = strip_marker(piece)
    return s != "" and s[0].isupper()


def begins_sentence(pieces, w, add_bos):
    for q in range(w - 1, -1, -1):
        if q == 0 and add_bos:
            return True
        piece = pieces[q]
        if "\n" in piece or piece == "<0x0A>" or "\u010a" in piece:
            return True
        text = strip_marker(piece).rstrip(" \"'()[]")
        if text:
            return text[-1] in ".!?"
    return True


def auto_targets(prompt, typed, add_bos, cap):
    """The (name, id) list strata adds after the typed targets."""
    ids, pieces, n = prompt["ids"], prompt["pieces"], prompt["generated"]
    typed_ids = set(typed.values())
    stats = {}  # id -> [count, first, qualifies]
    for w in range(len(ids) - n, len(ids)):
        i, piece = ids[w], pieces[w]
        if (add_bos and w == 0) or i in typed_ids:
            continue
        number = is_number(piece)
        if not number and not is_capitalized(piece):
            continue
        s = stats.setdefault(i, [0, w, False])
        s[0] += 1
        s[2] = s[2] or number or not begins_sentence(pieces, w, add_bos)
    names = set(typed)
    out = []
    for i, (count, first, ok) in sorted(stats.items(), key=lambda kv: (-kv[1][0], kv[1][1])):
        if not ok or len(out) == cap:
            continue
        piece = pieces[ids.index(i)]
        name = "#%d" % i if piece in names else piece
        names.add(name)
        out.append((name, i))
    return out


def reference(prompt, name, target_id, K, anywhere):
    ids, T, n = prompt["ids"], len(prompt["ids"]), prompt["generated"]
    start = 0 if anywhere else T - n
    written = [w for w in range(start, T) if ids[w] == target_id]
    first = None
    if written:
        grid = prompt["lens"]
        for p in range(written[-1]):
            if ids[p] == target_id:  # the lens echoes the input token there
                continue
            layers = [k for k in range(len(grid)) if grid[k][p]["targets"][name]["rank"] < K]
            if layers:
                first = (layers[0], p)
                break
    if first is None:
        return written, None, None, None
    w_star = min(w for w in written if w > first[1])
    return written, first, w_star, w_star - 1 - first[1]


class TraceResolution(unittest.TestCase):
    def check(self, d, K, anywhere, typed_per_prompt, auto=True, cap=32):
        self.assertEqual(d["settings"]["trace_topk"], K)
        self.assertEqual(d["settings"]["trace_written"], "anywhere" if anywhere else "generated")
        add_bos = d["model"]["add_bos"]
        n_first = 0
        for i, prompt in enumerate(d["prompts"]):
            typed = typed_per_prompt(i)
            targets = list(prompt["targets"].items())
            self.assertEqual(targets[:len(typed)], list(typed.items()))
            chosen = auto_targets(prompt, typed, add_bos, cap) if auto else []
            self.assertEqual(targets[len(typed):], chosen)
            entries = prompt["trace_resolution"]
            self.assertEqual([(e["name"], e["id"]) for e in entries], targets)
            T, n = len(prompt["ids"]), prompt["generated"]
            for e in entries:
                written, first, w_star, ahead = reference(prompt, e["name"], e["id"], K, anywhere)
                self.assertEqual(e["topk"], K)
                self.assertEqual(e["written"], written, e["name"])
                got = (e["first"]["layer"], e["first"]["position"]) if e["first"] else None
                self.assertEqual(got, first, e["name"])
                self.assertEqual(e["written_at"], w_star, e["name"])
                self.assertEqual(e["tokens_ahead"], ahead, e["name"])
                # Invariants, independent of the reference above.
                for w in e["written"]:
                    self.assertEqual(prompt["ids"][w], e["id"])
                    if not anywhere:
                        self.assertGreaterEqual(w, T - n)
                if e["first"]:
                    n_first += 1
                    self.assertLess(e["first"]["position"], e["written_at"])
                    self.assertIn(e["written_at"], e["written"])
                    self.assertGreaterEqual(e["tokens_ahead"], 0)
                    self.assertEqual(e["tokens_ahead"], e["written_at"] - 1 - e["first"]["position"])
                if e["name"] in dict(chosen):
                    self.assertTrue(any(w >= T - n for w in e["written"]), e["name"])
        return n_first

    def test_stories_auto(self):
        d = lens_json(STORIES, "--prompt", PROMPT, "--generate", "80")
        self.assertEqual(d["prompts"][0]["generated"], 80)
        self.assertGreater(len(d["prompts"][0]["trace_resolution"]), 0)
        self.assertGreater(self.check(d, 1, False, lambda i: {}), 0)

    def test_stories_typed_topk(self):
        d = lens_json(STORIES, "--prompt", PROMPT, "--generate", "80", "--target", "Lily", "--target", "#29",
                      "--trace-topk", "3", "--trace-max", "2")
        self.check(d, 3, False, lambda i: {"Lily": d["prompts"][0]["targets"]["Lily"], "#29": 29}, cap=2)

    def test_stories_anywhere(self):
        d = lens_json(STORIES, "--prompt", PROMPT, "--generate", "40", "--trace-targets", "none",
                      "--target", "Lily", "--trace-anywhere", "--trace-topk", "2")
        self.check(d, 2, True, lambda i: {"Lily": d["prompts"][0]["targets"]["Lily"]}, auto=False)
        self.assertGreater(len(d["prompts"][0]["trace_resolution"][0]["written"]), 0)

    def test_twohop_cot(self):
        d = lens_json(TWOHOP, "--prompts", TWOHOP_PROMPTS, "--generate", "3")
        with open(TWOHOP_PROMPTS) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        typed = lambda i: {k: int(v[1:]) for k, v in lines[i]["targets"].items()}
        # The CoT model writes the bridge, then the answer: both have a first cell.
        self.assertGreaterEqual(self.check(d, 1, False, typed), len(lines))


if __name__ == "__main__":
    unittest.main()
