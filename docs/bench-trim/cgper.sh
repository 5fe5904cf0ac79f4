#!/usr/bin/env bash
# Instructions per message of `digestd bench trim` on each corpus, counted by callgrind (immune
# to the machine's load): for each binary and corpus, cgprof.sh's two runs with different pass
# counts, and (instructions_a - instructions_b) / (messages_a - messages_b), so one-time costs
# (compiling the patterns, warming the regex caches, reading the corpus) cancel out.
# callgrind_annotate runs in the runs' folder: from inside the source tree it shortens
# the file names and groups some lines differently.
# Prints per binary and corpus: extract (body::extract, i.e. choosing the body and trimming it)
# and whole (the bench's loop: parse + extract + trim).
# Usage: cgper.sh NAME... (binaries /work/bench/digestd-NAME); CORPORA=dir, OUT=dir of runs.
set -eu
BINS=${BINS:-/work/bench}   # where the release binaries digestd-<name> are
here=$(cd "$(dirname "$0")" && pwd)
CORPORA=${CORPORA:-/work/shared/corpora}
OUT=${OUT:-/tmp/cgper}
for name in "$@"; do
  for c in "$CORPORA"/*/; do
    c=$(basename "$c"); d="$OUT/$name-$c"
    [ -f "$d/b.txt" ] || "$here/cgprof.sh" "$BINS/digestd-$name" "$CORPORA/$c" "$d" > /dev/null
    python3 - "$d" "$name" "$c" <<'PY'
import re, subprocess, sys
d, name, corpus = sys.argv[1:4]
def stats(run):
    out = open(f"{d}/{run}.txt").read()
    m = re.search(r': (\d+) cases.*?(\d+) passes\)', out)
    msgs = int(m[1]) * (1 + int(m[2]))
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--show=Ir", "--threshold=100",
                          "--auto=no", f"{d}/{run}.cg"], capture_output=True, text=True, cwd=d).stdout
    tot = int(re.search(r'([\d,]+) \(100.0%\)\s+PROGRAM TOTALS', ann)[1].replace(',', ''))
    ext = next(int(m[1].replace(',', '')) for m in re.finditer(
        r'(?m)^\s*([\d,]+) \([^)]*\)\s+\S+:digestd::inbound::trim::body::extract \[', ann))
    return msgs, tot, ext
(ma, ta, ea), (mb, tb, eb) = stats('a'), stats('b')
print(f"{name:8s} {corpus:32s} extract {(ea-eb)/(ma-mb):8.0f}  whole {(ta-tb)/(ma-mb):8.0f}  (messages {ma} - {mb})")
PY
  done
done
