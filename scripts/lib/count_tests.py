#!/usr/bin/env python3
"""Counts test cases in a meson testlog.json: each TAP 'ok'/'not ok' line is one case ('ok ...
# SKIP' is a skipped one, never a pass); a test that printed no TAP (or crashed after its last
case) counts as one case by its result. Prints 'PASSED FAILED SKIPPED'."""
import json
import re
import sys

passed = failed = skipped = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    entry = json.loads(line)
    out = entry.get("stdout") or ""
    skips = len(re.findall(r"^ok \d+[^\n]*# SKIP", out, re.M | re.I))
    oks = len(re.findall(r"^ok \d+", out, re.M)) - skips
    bad = len(re.findall(r"^not ok \d+", out, re.M))
    ok_result = entry.get("result") in ("OK", "EXPECTEDFAIL")
    skipped += skips
    if oks + bad + skips == 0:
        passed, failed = (passed + 1, failed) if ok_result else (passed, failed + 1)
        continue
    passed += oks
    failed += bad
    if not ok_result and bad == 0:
        failed += 1  # every case passed, yet the binary failed (crash, leak, sanitizer)
print(passed, failed, skipped)
