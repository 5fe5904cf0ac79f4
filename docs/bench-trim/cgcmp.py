#!/usr/bin/env python3
"""Compare per-message steady-state costs per function of two cgprof.sh outputs (dirs).
Usage: cgcmp.py DIR_BASE DIR_NEW [yes|no inclusive] [N]"""
import os, re, subprocess, sys
def load(cg, txt, incl):
    out = open(txt).read()
    m = re.search(r': (\d+) cases.*?(\d+) passes\)', out)
    msgs = int(m[1]) * (1 + int(m[2]))
    ann = subprocess.run(["callgrind_annotate", f"--inclusive={incl}", "--show=Ir", "--threshold=100", "--auto=no", cg], cwd=os.path.dirname(os.path.abspath(cg)),
                         capture_output=True, text=True).stdout
    d = {}
    for l in ann.splitlines():
        mm = re.match(r'\s*([\d,]+) \([^)]*\)\s+(.*)$', l)
        if mm:
            if incl == 'yes' and not mm[2].endswith(']'):
                continue  # an inlined part; the function's own line carries its total
            k = mm[2]
            k = re.sub(r' \[[^\]]*\]$', '', k)
            k = re.sub(r'^.*?:(?=[^/]*$)', '', k) if ':' in k else k  # drop file
            k = re.sub(r'^[^:]*\.(rs|c|h|S):', '', mm[2]); k = re.sub(r' \[[^\]]*\]$', '', k)
            d[k] = d.get(k, 0) + int(mm[1].replace(',', ''))
    return msgs, d
def per(dirn, incl):
    ma, a = load(f"{dirn}/a.cg", f"{dirn}/a.txt", incl)
    mb, b = load(f"{dirn}/b.cg", f"{dirn}/b.txt", incl)
    return {k: (a.get(k, 0) - b.get(k, 0)) / (ma - mb) for k in set(a) | set(b)}
incl = sys.argv[3] if len(sys.argv) > 3 else 'no'
n = int(sys.argv[4]) if len(sys.argv) > 4 else 40
x, y = per(sys.argv[1], incl), per(sys.argv[2], incl)
rows = sorted(((y.get(k, 0) - x.get(k, 0)), k) for k in set(x) | set(y))
print("  base      new    diff")
for d, k in sorted(rows, key=lambda r: -abs(r[0]))[:n]:
    print(f"{x.get(k,0):8.0f} {y.get(k,0):8.0f} {d:+7.0f}  {k[:150]}")
