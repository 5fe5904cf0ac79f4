#!/usr/bin/env python3
"""Medians of a paired-trim.sh output: python3 paired-trim.py OUT A B.
Per round and binary the best of its REPS runs (noise only slows a run down), the ratio B/A
of each round, and the median of those ratios over the rounds; also each binary's median of
all its runs, and the load averages (1 min) the runs started with."""
import re, statistics as st, sys
f, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
runs = {}   # (round, which, figure) -> [values]
loads = {}  # (round, which) -> [1-min loads]
cur = None
for l in open(f):
    m = re.match(r'== round (\d+) (\S+) (\w+) (\S+) rep \d+ load ([\d.]+)', l)
    if m:
        cur = (int(m[1]), m[2]); loads.setdefault(cur, []).append(float(m[5])); continue
    if cur is None: continue
    def add(k, v): runs.setdefault((cur[0], cur[1], k), []).append(float(v))
    if m := re.search(r'^(\S+): \d+ cases.*?(\d+) messages/s', l): add('trim ' + m[1] + ' msg/s', m[2])
    if m := re.search(r'whole path: .*?(\d+) msg/s \(.*?; ([\d.]+) µs', l): add('inbound whole msg/s', m[1]); add('inbound CPU µs/msg (lower)', m[2])
    if m := re.search(r'without the store.*?: (\d+) msg/s; trim alone (\d+)', l): add('inbound without store msg/s', m[1]); add('inbound trim alone msg/s', m[2])
    if m := re.search(r'bare mail-parser parse.*?(\d+) msg/s', l): add('inbound bare parse msg/s', m[1])
rounds = sorted({r for r, _, _ in runs})
figs = sorted({k for _, _, k in runs})
print(f"{'figure':34s} {'median '+a:>12s} {'median '+b:>12s}  per-round {b}/{a} (best of reps)  median")
for k in figs:
    lower = '(lower)' in k
    best = (lambda v: min(v)) if lower else (lambda v: max(v))
    ratios = []
    for r in rounds:
        x, y = runs.get((r, a, k)), runs.get((r, b, k))
        if x and y:
            ratios.append(best(y) / best(x) if not lower else best(x) / best(y))
    allx = [v for r in rounds for v in runs.get((r, a, k), [])]
    ally = [v for r in rounds for v in runs.get((r, b, k), [])]
    if ratios:
        print(f"{k:34s} {st.median(allx):12.1f} {st.median(ally):12.1f}  {' '.join(f'{x:.2f}' for x in ratios):30s}  {st.median(ratios):.3f}")
print("(for 'lower' figures the ratio is A/B, so above 1 is faster for B too)")
print("load average (1 min) at the runs' starts, per round:")
for r in rounds:
    print(f"  round {r}: {a} {min(loads.get((r, a), [0])):.2f}-{max(loads.get((r, a), [0])):.2f}, {b} {min(loads.get((r, b), [0])):.2f}-{max(loads.get((r, b), [0])):.2f}")
