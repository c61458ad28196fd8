#!/usr/bin/env python3
"""gen-report-events.py -- write N event lines for measuring `c2tap report`.

usage: scripts/gen-report-events.py N [SEED] > events.jsonl

The lines are the golden events of tests/golden/ (every kind c2tap writes, alerts
included) taken in turn, with their time moved forward 10 ms a line and their names
drawn from a Zipf-like distribution over 500,000 names: a few names carry most of the
traffic and the long tail overflows the report's 10,000-name tables, as a busy
network's day would. Deterministic for a given SEED (default 1).
"""
import glob
import json
import os
import random
import sys
from datetime import datetime, timedelta, timezone

NAMES = 500_000
NAME_FIELDS = ("DestinationHostname", "QueryName", "TlsSni", "HttpHost")


def main():
    n = int(sys.argv[1])
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    templates = []
    for path in sorted(glob.glob(os.path.join(root, "tests", "golden", "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            templates += [json.loads(line) for line in f if line.strip()]
    if not templates:
        sys.exit("gen-report-events: no tests/golden/*.jsonl")
    start = datetime(2026, 12, 1, tzinfo=timezone.utc)
    out = sys.stdout
    for i in range(n):
        ev = dict(templates[i % len(templates)])
        t = start + timedelta(milliseconds=10 * i)
        ev["UtcTime"] = t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"
        # Zipf-like rank: int(NAMES ** u) puts half the draws on about 700 names.
        rank = int(NAMES ** rng.random())
        for k in NAME_FIELDS:
            if isinstance(ev.get(k), str) and ev[k] != "-":
                ev[k] = f"host{rank}.example{rank % 97}.test"
        out.write(json.dumps(ev, separators=(",", ":")))
        out.write("\n")


if __name__ == "__main__":
    main()
