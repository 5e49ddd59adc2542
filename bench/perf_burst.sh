#!/usr/bin/env bash
# Profiles delayq during the burst drain of the fire-ms section of bench/run.py: one server (fsync),
# the same sequence as the suite (3 runs of 50,000 due within 5 s, then 100,000 due within one
# second), `perf record` attached to the server for the drain of the last run only.
#
#   bash bench/perf_burst.sh BUILD_DIR [--ack-mode batch|single] [--out DIR]
#
# Leaves DIR/perf.data (default: a temp dir, printed) and prints the loadgen line of each run,
# `perf report`'s top entries (self time, by symbol) and the samples per thread. Needs perf
# (linux-perf).
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: bash bench/perf_burst.sh BUILD_DIR [--ack-mode M] [--out DIR]" >&2; exit 2; }
build_dir=$1
shift
ack_mode=batch
out=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --ack-mode) ack_mode=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
out=${out:-$(mktemp -d /tmp/delayq-perf.XXXXXX)}
mkdir -p "$out"
delayq=$build_dir/src/delayq
loadgen=$build_dir/bench/delayq_loadgen

"$delayq" serve --listen 127.0.0.1:0 --data-dir "$out/data" --durability fsync --log-level warn \
  >"$out/stdout" 2>"$out/stderr" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
addr=""
for _ in $(seq 100); do
  addr=$(sed -nE 's|^delayq listening on http://(127\.0\.0\.1:[0-9]+)$|\1|p' "$out/stdout")
  [[ -n $addr ]] && break
  sleep 0.1
done
[[ -n $addr ]] || { echo "delayq did not start" >&2; exit 1; }

run() {  # run TASKS SPREAD_MS
  "$loadgen" fire-ms --addr "$addr" --tasks "$1" --spread-ms "$2" --lead-ms 5000 --consumers 4 \
    --max 100 --wait-ms 1000 --lease-ms 60000 --timeout-s 120 --ack-mode "$ack_mode"
}
for _ in 1 2 3; do run 50000 5000; done
# The burst: the adds take well under a second, the first task is due 5 s after they start;
# perf runs from 3 s in until the drain ends.
run 100000 1000 &
run_pid=$!
sleep 3
perf record -F 999 -g -o "$out/perf.data" -p "$pid" >/dev/null 2>"$out/perf.log" &
perf_pid=$!
wait "$run_pid"
kill -INT "$perf_pid"
wait "$perf_pid" || true
kill "$pid"
wait "$pid" || true
trap - EXIT
echo "perf data: $out/perf.data"
# `head` closes the pipe early: not a failure.
perf report -i "$out/perf.data" --no-children -g none --sort symbol --stdio 2>/dev/null |
  grep -E '^ +[0-9]' | head -25 || true
echo "samples by thread id (the store worker is the busiest):"
perf script -i "$out/perf.data" -F tid 2>/dev/null | sort | uniq -c | sort -rn | head -8 || true
