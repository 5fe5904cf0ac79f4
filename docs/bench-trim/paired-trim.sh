#!/usr/bin/env bash
# Paired wall-clock runs for #20 point 3: `bench trim` (each shared corpus) and `bench inbound`,
# binary A (before #20) and binary B alternating, the order swapped every round, REPS runs of
# each binary per corpus inside a round, all pinned to one core (taskset -c $CPU). Each run's
# header line records the load average at its start. Output: OUT; medians: paired-trim.py OUT.
# Usage: A=base B=trim2 ROUNDS=5 REPS=3 OUT=/work/bench/paired-trim.txt paired-trim.sh
set -u
BINS=${BINS:-/work/bench}   # where the release binaries digestd-<name> are
A=${A:-base}; B=${B:-trim2}; ROUNDS=${ROUNDS:-5}; REPS=${REPS:-3}; CPU=${CPU:-1}
OUT=${OUT:-/work/bench/paired-trim.txt}
CORPORA=${CORPORA:-/work/shared/corpora}
: > "$OUT"
load() { cut -d' ' -f1-3 /proc/loadavg; }
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then order="$A $B"; else order="$B $A"; fi
  for c in "$CORPORA"/*/; do
    for rep in $(seq 1 "$REPS"); do
      for which in $order; do
        echo "== round $r $which trim $(basename "$c") rep $rep load $(load)" >> "$OUT"
        timeout 300 taskset -c "$CPU" "$BINS/digestd-$which" bench trim --corpus "$c" >> "$OUT" 2>&1
      done
    done
  done
  for rep in $(seq 1 "$REPS"); do
    for which in $order; do
      echo "== round $r $which inbound - rep $rep load $(load)" >> "$OUT"
      (cd /tmp && timeout 600 taskset -c "$CPU" "$BINS/digestd-$which" bench inbound --messages 10000 >> "$OUT" 2>&1)
    done
  done
done
echo ALLDONE >> "$OUT"
