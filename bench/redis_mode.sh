#!/usr/bin/env bash
# Distributed mode: adds/s and fired/s with 1, 2 and 3 delayq instances on one
# Redis, beside redis-benchmark (EVALSHA of a trivial script, ZADD) on the same server in
# the same run. Everything on loopback; every server is started here and stopped on exit.
#
#   bash bench/redis_mode.sh BUILD_DIR            full (5 s per add measurement, 3 repetitions)
#   bash bench/redis_mode.sh BUILD_DIR --quick    smoke (1 s, 1 repetition, small sizes)
#   INSTANCES="3" bash bench/redis_mode.sh ...    only these instance counts
#   KEEP_WORK=1 bash bench/redis_mode.sh ...      keep the work directory (server logs)
#   bash bench/redis_mode.sh BUILD_DIR --cluster  the same against a 3-master Redis Cluster
#                                                 (references: one master's rate)
#
# Redis runs with appendonly yes, appendfsync everysec (see docs/OPERATIONS.md for what that
# means for an acknowledged add). Adds: seed single adds, 64 connections from one loadgen
# process, spread round-robin over the instances. Each repetition measures the references
# just before its own run (ratios per repetition, medians reported). Fired: each instance
# gets its own topic of N tasks due at once, pulled (max 100) and acked by 4 consumers on
# that instance; rates summed. Prints a Markdown table on stdout, progress on stderr.
# Nothing here asserts a time; a run with errors or lost tasks exits non-zero.
set -euo pipefail

build=${1:?usage: bench/redis_mode.sh BUILD_DIR [--quick] [--cluster]}
quick=0
cluster=0
for arg in "${@:2}"; do
  case $arg in
    --quick) quick=1 ;;
    --cluster) cluster=1 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
delayq=$build/src/delayq
loadgen=$build/bench/delayq_loadgen
for tool in "$delayq" "$loadgen"; do [[ -x $tool ]] || { echo "missing $tool" >&2; exit 1; }; done
for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "missing $tool (scripts/bootstrap.sh bench)" >&2; exit 1; }
done

reps=$((quick ? 1 : 3))
add_s=$((quick ? 1 : 5))
fire_tasks=$((quick ? 2000 : 30000))  # per instance
bench_requests=$((quick ? 20000 : 200000))
work=$(mktemp -d /tmp/delayq-redis-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n ${KEEP_WORK:-} ]] || rm -rf "$work"
}
trap cleanup EXIT
log() { echo "redis-bench: [${SECONDS}s] $*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
json_number() { sed -nE "s/.*\"$2\":(-?[0-9.]+).*/\1/p" <<<"$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# A cluster node also listens on PORT + 10000 (its bus), so PORT must stay below 55536.
free_cluster_port() {
  python3 -c '
import random, socket
for _ in range(1000):
    port = random.randint(20000, 30000)
    try:
        for p in (port, port + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", p)); s.close()
        print(port); break
    except OSError:
        pass'
}

# start_redis PORT [ARGS...]: one redis-server with AOF (everysec) in its own directory.
start_redis() {
  local node=$work/redis-$1
  mkdir -p "$node"
  redis-server --bind 127.0.0.1 --port "$1" --dir "$node" --appendonly yes --appendfsync everysec \
    --save '' --daemonize no --logfile "$node/redis.log" "${@:2}" &
  pids+=($!)
  for _ in $(seq 100); do redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  redis-cli -p "$1" ping | grep -q PONG || fail "redis-server on port $1 did not start"
}
ports=()
if ((cluster)); then
  for _ in 1 2 3; do ports+=("$(free_cluster_port)"); done
  for p in "${ports[@]}"; do start_redis "$p" --cluster-enabled yes --cluster-config-file nodes.conf; done
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 0 \
    --cluster-yes >"$work/cluster-create.log" 2>&1 || fail "redis-cli --cluster create failed"
  for _ in $(seq 100); do
    ok=0
    for p in "${ports[@]}"; do redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' && ((ok += 1)); done
    ((ok == 3)) && break
    sleep 0.1
  done
  ((ok == 3)) || fail "the cluster did not reach cluster_state:ok"
else
  ports=("$(free_port)")
  start_redis "${ports[0]}"
fi
port=${ports[0]}
url=redis://127.0.0.1:$port/0
flush_all() { for p in "${ports[@]}"; do redis-cli -p "$p" FLUSHALL >/dev/null; done; }
log "redis $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/') on $url ($((cluster ? 3 : 1)) master(s); appendonly yes, appendfsync everysec)"

# References on the same server: unpipelined, 64 clients. Run right before each delayq
# measurement (the machine is shared and its speed drifts over minutes), so each
# repetition has its own ratio; the table shows medians.
sha=""
for p in "${ports[@]}"; do sha=$(redis-cli -p "$p" SCRIPT LOAD "return 1"); done
reference() {  # reference EVALSHA|ZADD -> requests per second (on the master owning bench_zset)
  local args target=$port
  if [[ $1 == EVALSHA ]]; then args=(evalsha "$sha" 0); else args=(-r 1000000 zadd bench_zset __rand_int__ __rand_int__); fi
  for p in "${ports[@]}"; do
    [[ $(redis-cli -p "$p" del bench_zset 2>&1) =~ ^[0-9]+$ ]] && target=$p
  done
  local line
  line=$(redis-benchmark -h 127.0.0.1 -p "$target" -q -n "$bench_requests" -c 64 "${args[@]}" | tr '\r' '\n' | grep 'requests per second' | tail -1)
  log "redis-benchmark -c 64 ${args[*]}: $line"
  sed -nE 's/.*: ([0-9.]+) requests per second.*/\1/p' <<<"$line"
}
flush_all

# start_instances K: K delayq instances on the Redis; sets addrs.
addrs=()
instance_pids=()
# Instances sharing this machine split its cores: io_threads = cores / instances (at least
# 1), as an operator would size co-located instances (docs/OPERATIONS.md, "Sizing"); six
# HTTP threads on two cores for three instances cost 15 % of the add rate.
start_instances() {
  local io_threads=$(($(nproc) / $1))
  ((io_threads >= 1)) || io_threads=1
  addrs=()
  instance_pids=()
  for ((k = 0; k < $1; k++)); do
    local dir=$work/i$k
    mkdir -p "$dir"
    : >"$dir/stdout"
    "$delayq" serve --listen 127.0.0.1:0 --data-dir "$dir/data" --store redis --redis-url "$url" \
      --io-threads "$io_threads" --log-level warn >"$dir/stdout" 2>"$dir/stderr" &
    instance_pids+=($!)
    pids+=($!)
    local addr=""
    for _ in $(seq 100); do
      addr=$(sed -nE 's|^delayq listening on http://(127\.0\.0\.1:[0-9]+)$|\1|p' "$dir/stdout")
      [[ -n $addr ]] && break
      sleep 0.1
    done
    [[ -n $addr ]] || { cat "$dir/stderr" >&2; fail "delayq instance $k did not start"; }
    addrs+=("$addr")
  done
}
stop_instances() {
  for pid in "${instance_pids[@]}"; do kill "$pid"; done
  for pid in "${instance_pids[@]}"; do wait "$pid" || fail "a delayq instance exited non-zero"; done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
declare -A add_rate=() fire_rate=() add_ratio=() fire_ratio=() ref_evalsha=() ref_zadd=()
for k in ${INSTANCES:-1 2 3}; do  # INSTANCES="3": only those
  add_values=() fire_values=() add_ratios=() fire_ratios=() evalsha_values=() zadd_values=()
  for ((i = 1; i <= reps; i++)); do
    flush_all
    start_instances "$k"
    evalsha_values+=("$(reference EVALSHA)")
    # One client process for all instances (as redis-benchmark is one), its 64 connections
    # spread over them round-robin; every instance adds to the same topic.
    "$loadgen" add --addr "$(IFS=,; echo "${addrs[*]}")" --connections 64 --duration-s "$add_s" \
      --topic bench >"$work/add.out" || fail "loadgen add exited $?"
    out=$(<"$work/add.out")
    [[ $(json_number "$out" errors) == 0 ]] || fail "adds with errors: $out"
    add_values+=("$(json_number "$out" rps)")
    add_ratios+=("$(ratio "${add_values[-1]}" "${evalsha_values[-1]}")")
    zadd_values+=("$(reference ZADD)")
    lg=()
    for ((j = 0; j < k; j++)); do
      "$loadgen" pull --addr "${addrs[$j]}" --tasks "$fire_tasks" --consumers 4 --topic "fire$j" \
        --timeout-s 120 >"$work/pull$j.out" &
      lg+=($!)
    done
    for pid in "${lg[@]}"; do wait "$pid" || fail "loadgen pull exited $?"; done
    sum=0
    for ((j = 0; j < k; j++)); do
      out=$(<"$work/pull$j.out")
      [[ $(json_number "$out" acked) == "$fire_tasks" && $(json_number "$out" duplicates) == 0 ]] ||
        fail "pull run lost or repeated tasks: $out"
      sum=$(awk -v a="$sum" -v b="$(json_number "$out" tasks_per_s)" 'BEGIN { print a + b }')
    done
    fire_values+=("$sum")
    fire_ratios+=("$(ratio "$sum" "${zadd_values[-1]}")")
    log "$k instance(s), run $i: adds ${add_values[-1]}/s (EVALSHA ${evalsha_values[-1]}/s, ${add_ratios[-1]}x), pulled+acked $sum tasks/s (ZADD ${zadd_values[-1]}/s, ${fire_ratios[-1]}x)"
    stop_instances
  done
  add_rate[$k]=$(median "${add_values[@]}")
  fire_rate[$k]=$(median "${fire_values[@]}")
  add_ratio[$k]=$(median "${add_ratios[@]}")
  fire_ratio[$k]=$(median "${fire_ratios[@]}")
  ref_evalsha[$k]=$(median "${evalsha_values[@]}")
  ref_zadd[$k]=$(median "${zadd_values[@]}")
done

echo "| instances | seed adds/s (64 conn) | EVALSHA req/s | × EVALSHA | pulled+acked tasks/s | ZADD req/s | × ZADD |"
echo "|---|---|---|---|---|---|---|"
for k in ${INSTANCES:-1 2 3}; do
  echo "| $k | ${add_rate[$k]} | ${ref_evalsha[$k]} | ${add_ratio[$k]} | ${fire_rate[$k]} | ${ref_zadd[$k]} | ${fire_ratio[$k]} |"
done
echo
echo "Redis: $( ((cluster)) && echo "a 3-master Redis Cluster (references: one master)" || echo "one server")."
echo "Medians of $reps repetitions; each ratio is taken against the reference measured on the same Redis just before (redis-benchmark -c 64, unpipelined; EVALSHA of \"return 1\")."
echo "Machine: $(nproc) cores, $(lscpu | sed -nE 's/^Model name: +//p'); $(date -u +%Y-%m-%dT%H:%MZ); commit $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)."
