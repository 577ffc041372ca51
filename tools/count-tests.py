#!/usr/bin/env python3
"""Print one closing line "N passed, N failed, N skipped" over meson test logs.

Each argument is a meson build folder; its meson-logs/testlog.json holds one JSON object
per test. A TAP test counts its subtests, so the line reflects every GLib test case.
Exit status 1 when anything failed or no test ran at all."""
import json
import re
import sys

passed = failed = skipped = 0
for build in sys.argv[1:]:
    try:
        lines = open(f"{build}/meson-logs/testlog.json").read().splitlines()
    except OSError as e:
        print(f"{build}: no test log ({e.strerror})", file=sys.stderr)
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        ok = [l for l in t.get("stdout", "").splitlines() if re.match(r"^(not )?ok \d+", l)]
        if not ok:  # not TAP, or crashed before printing: count the test itself
            res = t["result"]
            passed += res == "OK"
            skipped += res == "SKIP"
            failed += res not in ("OK", "SKIP", "EXPECTEDFAIL")
            continue
        for l in ok:
            if l.startswith("not ok"):
                failed += "# TODO" not in l
            elif "# SKIP" in l:
                skipped += 1
            else:
                passed += 1
        if t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL"):
            failed += 1  # the binary itself failed (crash, bad exit) after its cases
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
