#!/usr/bin/env python3
"""Counts test cases in a meson testlog.json: each TAP 'ok'/'not ok' line is one case; a test
that printed no TAP (or crashed after its last case) counts as one case by its result.
Prints 'PASSED FAILED'."""
import json
import re
import sys

passed = failed = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    entry = json.loads(line)
    out = entry.get("stdout") or ""
    oks = len(re.findall(r"^ok \d+", out, re.M))
    bad = len(re.findall(r"^not ok \d+", out, re.M))
    ok_result = entry.get("result") in ("OK", "EXPECTEDFAIL")
    if oks + bad == 0:
        passed, failed = (passed + 1, failed) if ok_result else (passed, failed + 1)
        continue
    passed += oks
    failed += bad
    if not ok_result and bad == 0:
        failed += 1  # every case passed, yet the binary failed (crash, leak, sanitizer)
print(passed, failed)
