#!/usr/bin/env bash
# Two callgrind runs of `bench trim` on one corpus with different pass counts, kept in OUTDIR
# as a.cg/a.txt and b.cg/b.txt for cgcmp.py / cgdiff.py, which divide the difference in
# instructions by the difference in messages (one-time costs cancel out). The pass counts are
# set by slowing the binary's monotonic clock (slowclock.so, SLOWCLOCK=KA and KB), which
# changes no instruction of a pass. Usage: cgprof.sh BINARY CORPUS_DIR OUTDIR
set -eu
bin=$1; corpus=$2; out=$3; mkdir -p "$out"
here=$(dirname "$0")
so=${TMPDIR:-/tmp}/slowclock.so
[ -f "$so" ] || gcc -O2 -shared -fPIC -o "$so" "$here/slowclock.c" -ldl
run() {
  SLOWCLOCK=$2 LD_PRELOAD="$so" valgrind --tool=callgrind \
    --callgrind-out-file="$out/$1.cg" "$bin" bench trim --corpus "$corpus" 2>/dev/null > "$out/$1.txt"
}
run a "${KA:-8}"
run b "${KB:-2}"
cat "$out/a.txt" "$out/b.txt"
