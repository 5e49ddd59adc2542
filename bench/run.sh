#!/usr/bin/env bash
# Benchmarks delayq against an nginx reference with one load generator for both.
#
#   bash bench/run.sh BUILD_DIR           full run (10 s per measurement, 3 repetitions, median)
#   bash bench/run.sh BUILD_DIR --quick   smoke run (1 s, one repetition, 2,000 firing tasks,
#                                         fewer tasks and rounds in the v1 and callback runs;
#                                         < 45 s), registered as the CTest test bench_smoke
#
# Needs BUILD_DIR/src/delayq and BUILD_DIR/bench/delayq_loadgen (ninja delayq delayq_loadgen),
# curl, nginx for the reference rows and as the callback receiver (both skipped with a note
# when nginx is not installed), and wrk for the callback reference (apt package wrk;
# scripts/bootstrap.sh bench installs it; skipped with a note when missing).
# Every server it starts is its own, on loopback, with fresh data directories under a temp dir,
# and is stopped on exit. Progress goes to stderr, a Markdown table to stdout. Exits non-zero
# when any step fails or a result is not a valid measurement (no requests, errors, lost or
# duplicated tasks), so the smoke test catches a broken server or tool, not just a crash.
set -euo pipefail

usage() {
  echo "usage: bash bench/run.sh BUILD_DIR [--quick]" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 2 ]] || usage
build_dir=$1
quick=0
if [[ $# -eq 2 ]]; then
  [[ $2 == --quick ]] || usage
  quick=1
fi

if ((quick)); then
  duration_s=1
  repetitions=1
  fire_tasks=2000
  # Two seconds instead of five keeps the smoke run short; it still covers a second boundary.
  fire_spread_s=2
else
  duration_s=10
  repetitions=3
  fire_tasks=50000
  fire_spread_s=5
fi
# Seconds from the start of the add phase to the first due second (the loadgen's minimum is 3).
# 50,000 fsynced adds take ~1 s on a quiet machine but several on a slow disk; the margin keeps
# the add phase out of the firing window, which would otherwise count as lateness.
fire_lead_s=$((quick ? 3 : 10))
fire_consumers=4

# v1 API and callbacks.
batch_size=100
pull_consumers=4
pull_max=100
longpoll_rounds=$((quick ? 20 : 200))
if ((quick)); then
  pull_tasks=10000
  callback_tasks=2000
  lateness_tasks=1000
  wrk_duration_s=2
else
  pull_tasks=100000
  callback_tasks=20000
  lateness_tasks=10000
  wrk_duration_s=5
fi
# The lateness tasks are due within one second starting at least this far ahead, so their
# add phase (batches of 1,000) is over well before the first is due.
lateness_lead_ms=5000
# Raised from the defaults (64 and 64) so a loopback receiver, not the limit, bounds the rate.
callback_flags=(--callbacks-max-in-flight-per-topic 256 --callbacks-max-per-host 256)
# Generous: a closed-loop run ends within a request of its duration; only a hung server or
# a hung loadgen reaches this.
loadgen_timeout_s=$((duration_s + 30))

delayq=$build_dir/src/delayq
loadgen=$build_dir/bench/delayq_loadgen
for binary in "$delayq" "$loadgen"; do
  if [[ ! -x $binary ]]; then
    echo "bench: $binary not found; build it first: ninja -C $build_dir delayq delayq_loadgen" >&2
    exit 1
  fi
done
command -v curl >/dev/null || { echo "bench: curl is required" >&2; exit 1; }

log() { echo "bench: $*" >&2; }
fail() {
  echo "bench: FAILED: $*" >&2
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/delayq-bench.XXXXXX")
started_pids=()
succeeded=0

# Stops one process we started: TERM, then KILL after 10 s (and its children, for the nginx
# master's workers, which a KILLed master would leave behind).
stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  local children
  children=$(pgrep -P "$pid" || true)
  # shellcheck disable=SC2086  # $children is a list of pids, split on purpose
  kill -KILL "$pid" $children 2>/dev/null || true
  return 1
}

# Once reaped, a pid may be reused by an unrelated process: drop it from the cleanup list.
forget_pid() {
  local pid kept=()
  for pid in "${started_pids[@]}"; do [[ $pid == "$1" ]] || kept+=("$pid"); done
  started_pids=("${kept[@]}")
}

cleanup() {
  local pid
  for pid in "${started_pids[@]}"; do stop_pid "$pid" || true; done
  if ((succeeded)); then
    rm -rf "$work"
  else
    log "logs and data kept in $work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- delayq ------------------------------------------------------------------------------

# start_delayq NAME DURABILITY [FLAGS...]: a fresh instance; sets delayq_addr and delayq_pid.
start_delayq() {
  local name=$1 durability=$2 dir=$work/$1
  shift 2
  mkdir -p "$dir"
  # Created here so the polling below never races the child's redirection.
  : >"$dir/stdout"
  "$delayq" serve --listen 127.0.0.1:0 --data-dir "$dir/data" --durability "$durability" \
    --log-level warn "$@" >"$dir/stdout" 2>"$dir/stderr" &
  delayq_pid=$!
  started_pids+=("$delayq_pid")
  delayq_addr=""
  for _ in $(seq 100); do
    delayq_addr=$(sed -nE 's|^delayq listening on http://(127\.0\.0\.1:[0-9]+)$|\1|p' "$dir/stdout")
    [[ -n $delayq_addr ]] && return 0
    kill -0 "$delayq_pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -5 "$dir/stderr" >&2 || true
  fail "delayq ($name) did not start"
}

# stop_delayq NAME: a clean stop is part of the test; a crash or hang on SIGTERM fails the run.
stop_delayq() {
  local name=$1 status=0
  stop_pid "$delayq_pid" || fail "delayq ($name) did not stop within 10 s of SIGTERM"
  wait "$delayq_pid" || status=$?
  forget_pid "$delayq_pid"
  ((status == 0)) || { tail -5 "$work/$name/stderr" >&2; fail "delayq ($name) exited $status"; }
  local warnings
  warnings=$(grep -c 'level=\(warning\|error\|critical\)' "$work/$name/stderr" || true)
  ((warnings == 0)) || log "delayq ($name) logged $warnings warnings/errors, e.g.: $(grep -m1 'level=' "$work/$name/stderr")"
}

metric() {  # metric ADDR NAME: one counter from /metrics; fails when it is missing
  local value
  value=$(curl -sf "http://$1/metrics" | awk -v name="$2" '$1 == name { print $2 }')
  [[ $value =~ ^[0-9]+$ ]] || fail "/metrics on $1 has no counter $2"
  echo "$value"
}

# ---- nginx reference -----------------------------------------------------------------------

nginx_bin=$(command -v nginx || true)
[[ -z $nginx_bin && -x /usr/sbin/nginx ]] && nginx_bin=/usr/sbin/nginx
nginx_addr=""

# A port nobody listens on now; nginx cannot report a port it picked itself, so we guess
# and retry on a bind race.
free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# start_nginx NAME: a fresh instance in $work/NAME; sets nginx_addr and nginx_pid. Besides the
# reference location / it serves /cb, the callback receiver, which logs every request to
# $work/NAME/cb.log (unbuffered: one write per request, so a line is there once answered).
start_nginx() {
  local dir=$work/$1 port attempt
  mkdir -p "$dir"
  for attempt in 1 2 3 4 5; do
    port=$(free_port) || fail "no free loopback port for nginx"
    # The master may run as root: it then switches its worker to the compiled-in default
    # user (nobody), which needs no files here. All paths point into the temp dir so the
    # instance touches nothing of a system nginx.
    cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  # The default (1,000) would make the reference reconnect during the run; delayq does not.
  keepalive_requests 1000000;
  log_format dq '\$msec \$http_x_delayq_due_at \$http_x_delayq_task_id';
  server {
    listen 127.0.0.1:$port;
    default_type application/json;
    location / { return 200 '{"dm_error":0}'; }
    location /cb {
      access_log $dir/cb.log dq;
      return 200 'ok';
    }
  }
}
EOF
    "$nginx_bin" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" 2>>"$dir/stderr" &
    nginx_pid=$!
    started_pids+=("$nginx_pid")
    for _ in $(seq 50); do
      if curl -sf -o /dev/null "http://127.0.0.1:$port/"; then
        nginx_addr=127.0.0.1:$port
        return 0
      fi
      kill -0 "$nginx_pid" 2>/dev/null || break
      sleep 0.1
    done
    stop_pid "$nginx_pid" || true
    wait "$nginx_pid" 2>/dev/null || true
    forget_pid "$nginx_pid"
    grep -q "Address already in use" "$dir/error.log" "$dir/stderr" 2>/dev/null || break
    log "nginx port $port was taken, retrying (attempt $attempt)"
  done
  cat "$dir/error.log" "$dir/stderr" >&2 2>/dev/null || true
  fail "nginx did not start"
}

# ---- running the loadgen -------------------------------------------------------------------

json_number() {  # json_number JSON FIELD
  sed -nE "s/.*\"$2\":(-?[0-9.]+).*/\1/p" <<<"$1"
}

median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# run_tool TIMEOUT_S COMMAND...: sets tool_out to the command's stdout. Runs it in the
# background and waits, in this shell (not in $(...)), because bash defers a trapped signal
# until a foreground child exits; so Ctrl-C or a CTest timeout stops the run, and via cleanup
# the tool, at once.
run_tool() {
  local timeout_s=$1 out_file=$work/tool.out status=0 pid
  shift
  timeout "$timeout_s" "$@" >"$out_file" &
  pid=$!
  started_pids+=("$pid")
  wait "$pid" || status=$?
  forget_pid "$pid"
  tool_out=$(<"$out_file")
  return "$status"
}

# run_loadgen TIMEOUT_S ARGS...: sets loadgen_out to the loadgen's JSON line.
run_loadgen() {
  local timeout_s=$1 status=0
  shift
  run_tool "$timeout_s" "$loadgen" "$@" || status=$?
  loadgen_out=$tool_out
  return "$status"
}

# wait_for_lines FILE COUNT TIMEOUT_S: until FILE has at least COUNT lines; fails after TIMEOUT_S.
wait_for_lines() {
  local file=$1 count=$2 deadline=$((SECONDS + $3)) lines
  while :; do
    lines=$(wc -l <"$file")
    ((lines >= count)) && return 0
    if ((SECONDS >= deadline)); then
      log "$file has $lines of $count lines after $3 s"
      return 1
    fi
    sleep 0.05
  done
}

# run_closed_loop SCENARIO ADDR CONNECTIONS [extra args]: runs the repetitions and sets
# result_rps and result_p99 to their medians and result_requests to their sum. Any run with
# no requests or any error fails.
run_closed_loop() {
  local scenario=$1 addr=$2 connections=$3
  shift 3
  local rps=() p99=() out requests errors i
  result_requests=0
  for ((i = 1; i <= repetitions; i++)); do
    run_loadgen "$loadgen_timeout_s" "$scenario" --addr "$addr" \
      --connections "$connections" --duration-s "$duration_s" "$@" ||
      fail "loadgen $scenario --connections $connections exited $? ($loadgen_out)"
    out=$loadgen_out
    log "  $out"
    requests=$(json_number "$out" requests)
    errors=$(json_number "$out" errors)
    [[ -n $requests && $requests -gt 0 ]] || fail "loadgen $scenario: no requests completed"
    [[ $errors == 0 ]] || fail "loadgen $scenario: $errors requests failed"
    result_requests=$((result_requests + requests))
    rps+=("$(json_number "$out" rps)")
    p99+=("$(json_number "$out" p99_ms)")
  done
  result_rps=$(median "${rps[@]}")
  result_p99=$(median "${p99[@]}")
}

fmt_rps() { awk -v v="$1" 'BEGIN { printf "%.0f req/s", v }'; }
fmt_rate() { awk -v v="$1" -v unit="$2" 'BEGIN { printf "%.0f %s", v, unit }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

rows=()
row() { rows+=("| $1 | $2 | $3 | $4 |"); }

log "work dir $work ($(df -PT "$work" | awk 'NR == 2 { print $2 }') on $(df -P "$work" | awk 'NR == 2 { print $1 }')), $(nproc) CPUs"
log "mode: $([[ $quick == 1 ]] && echo quick || echo full), ${duration_s} s per run, $repetitions repetition(s)"

# ---- (a) nginx reference -------------------------------------------------------------------

declare -A nginx_rps nginx_p99
if [[ -n $nginx_bin ]]; then
  start_nginx nginx
  log "nginx $("$nginx_bin" -v 2>&1 | sed 's|.*/||') on $nginx_addr"
  # 1 connection as well, so every delayq row is compared at its own concurrency.
  for connections in 1 64; do
    log "(a) nginx return 200, $connections connection(s)"
    run_closed_loop http "$nginx_addr" "$connections" --path /
    nginx_rps[$connections]=$result_rps
    nginx_p99[$connections]=$result_p99
    row "nginx \`return 200\` (reference), $connections conn" \
      "—" "$(fmt_rps "$result_rps"), p99 ${result_p99} ms" "1.00"
  done
  stop_pid "$nginx_pid" || fail "nginx did not stop"
  wait "$nginx_pid" || true
  forget_pid "$nginx_pid"
else
  log "NOTE: nginx is not installed; skipping the reference rows (apt-get install nginx-light)"
fi

# ---- (b) seed adds -------------------------------------------------------------------------

declare -A add_rps
for durability in fsync buffered; do
  for connections in 1 64; do
    name=add-$durability-$connections
    start_delayq "$name" "$durability"
    log "(b) seed add, $durability, $connections connection(s), delayq on $delayq_addr"
    added_before=$(metric "$delayq_addr" delayq_tasks_added_total)
    commits_before=$(metric "$delayq_addr" delayq_add_commits_total)
    run_closed_loop add "$delayq_addr" "$connections"
    added_after=$(metric "$delayq_addr" delayq_tasks_added_total)
    commits_after=$(metric "$delayq_addr" delayq_add_commits_total)
    added=$((added_after - added_before))
    commits=$((commits_after - commits_before))
    ((added > 0 && commits > 0)) || fail "/metrics shows $added adds in $commits commits"
    per_commit=$(awk -v a="$added" -v c="$commits" 'BEGIN { printf "%.1f", a / c }')
    log "  $added adds in $commits group commits: $per_commit per commit"
    stop_delayq "$name"
    add_rps[$durability-$connections]=$result_rps

    ours="$(fmt_rps "$result_rps"), p99 ${result_p99} ms"
    if [[ $durability == fsync ]]; then
      ours+=", $per_commit adds/fsync"
    fi
    if [[ -n ${nginx_rps[$connections]:-} ]]; then
      row "seed add, $durability, $connections conn" "$ours" \
        "$(fmt_rps "${nginx_rps[$connections]}"), p99 ${nginx_p99[$connections]} ms" \
        "$(ratio "$result_rps" "${nginx_rps[$connections]}")"
    else
      row "seed add, $durability, $connections conn" "$ours" "n/a (no nginx)" "n/a"
    fi
  done
done

# ---- (c) firing ----------------------------------------------------------------------------

start_delayq fire fsync
log "(c) firing: $fire_tasks tasks over $fire_spread_s s, $fire_consumers consumers, delayq on $delayq_addr"
run_loadgen $((fire_lead_s + fire_spread_s + 120)) fire --addr "$delayq_addr" \
  --tasks "$fire_tasks" --spread-s "$fire_spread_s" --consumers "$fire_consumers" \
  --lead-s "$fire_lead_s" ||
  fail "loadgen fire exited $? ($loadgen_out)"
fire_out=$loadgen_out
log "  $fire_out"
stop_delayq fire
for field in missing duplicates unexpected early add_errors; do
  value=$(json_number "$fire_out" "$field")
  [[ $value == 0 ]] || fail "firing: $field = $value"
done
[[ $(json_number "$fire_out" received) == "$fire_tasks" ]] || fail "firing: not every task received"
added_after_due=$(json_number "$fire_out" added_after_due)
fire_note=""
if [[ $added_after_due != 0 ]]; then
  # The adds ran into the firing window, so part of the lateness is the add phase's.
  log "WARNING: $added_after_due tasks were acknowledged after their due second"
  fire_note=" ($added_after_due added after due)"
fi
per_second=$((fire_tasks / fire_spread_s))
row "firing: $fire_tasks tasks due on $fire_spread_s distinct seconds (~$per_second/s, 1 s resolution), $fire_consumers consumers, fsync" \
  "lateness p50 $(json_number "$fire_out" p50_ms) ms, p99 $(json_number "$fire_out" p99_ms) ms, max $(json_number "$fire_out" max_ms) ms; 0 duplicates$fire_note" \
  "seed: 1,000/s on time, 3,000/s sometimes 1–2 s late" "—"
fire_add_rps=$(json_number "$fire_out" add_rps)
row "firing add phase, 32 conn, fsync" "$(fmt_rps "$fire_add_rps")" "seed: ~35 writes/s" "—"

# ---- (d) v1 batch adds ---------------------------------------------------------------------

for connections in 1 64; do
  name=batch-fsync-$connections
  start_delayq "$name" fsync
  log "(d) v1 batch add, $batch_size tasks per request, fsync, $connections connection(s), delayq on $delayq_addr"
  added_before=$(metric "$delayq_addr" delayq_tasks_added_total)
  run_closed_loop batch "$delayq_addr" "$connections" --batch "$batch_size"
  added_after=$(metric "$delayq_addr" delayq_tasks_added_total)
  stop_delayq "$name"
  # A batch is all or nothing: every answered request stored exactly its tasks.
  expected=$((result_requests * batch_size))
  (((added_after - added_before) == expected)) ||
    fail "batch: /metrics shows $((added_after - added_before)) tasks added, expected $expected"
  tasks_per_s=$(awk -v r="$result_rps" -v b="$batch_size" 'BEGIN { printf "%.1f", r * b }')
  reference="seed single add, fsync, $connections conn: $(fmt_rps "${add_rps[fsync-$connections]}")"
  reference+=", so ×$(ratio "$tasks_per_s" "${add_rps[fsync-$connections]}") the tasks/s"
  row "v1 batch add, $batch_size tasks/request, fsync, $connections conn" \
    "$(fmt_rate "$tasks_per_s" tasks/s) ($(fmt_rps "$result_rps")), p99 ${result_p99} ms" \
    "$reference" "—"
done

# ---- (e) v1 pull + ack ---------------------------------------------------------------------

start_delayq pull fsync
log "(e) v1 pull + ack: $pull_tasks tasks due, $pull_consumers consumers, max $pull_max, delayq on $delayq_addr"
run_loadgen 180 pull --addr "$delayq_addr" --tasks "$pull_tasks" --consumers "$pull_consumers" \
  --max "$pull_max" --lease-ms 60000 ||
  fail "loadgen pull exited $? ($loadgen_out)"
pull_out=$loadgen_out
log "  $pull_out"
stop_delayq pull
for field in missing duplicates unexpected redelivered preload_errors pull_errors ack_errors; do
  value=$(json_number "$pull_out" "$field")
  [[ $value == 0 ]] || fail "pull: $field = $value"
done
[[ $(json_number "$pull_out" acked) == "$pull_tasks" ]] || fail "pull: not every task acked"
row "v1 pull + ack: $pull_tasks tasks due, $pull_consumers consumers, max $pull_max, lease 60 s; the acks of a pull pipelined on its connection; fsync" \
  "$(fmt_rate "$(json_number "$pull_out" tasks_per_s)" tasks/s) pulled and acked, pull p99 $(json_number "$pull_out" pull_p99_ms) ms, $pull_max acks p99 $(json_number "$pull_out" acks_p99_ms) ms; each task exactly once" \
  "preload, batches of 1,000: $(fmt_rate "$(json_number "$pull_out" preload_tasks_per_s)" tasks/s)" "—"

# ---- (f) v1 long poll ----------------------------------------------------------------------

start_delayq longpoll fsync
log "(f) v1 long poll: $longpoll_rounds rounds, delayq on $delayq_addr"
run_loadgen $((longpoll_rounds * 12 + 30)) longpoll --addr "$delayq_addr" \
  --rounds "$longpoll_rounds" --delay-ms 200 --wait-ms 10000 ||
  fail "loadgen longpoll exited $? ($loadgen_out)"
longpoll_out=$loadgen_out
log "  $longpoll_out"
stop_delayq longpoll
row "v1 long poll: a pull waits (wait_ms 10000) on a fresh topic, a task is added with delay_ms 200; $longpoll_rounds rounds, fsync" \
  "answer read − due_at_ms: p50 $(json_number "$longpoll_out" p50_ms) ms, p99 $(json_number "$longpoll_out" p99_ms) ms, max $(json_number "$longpoll_out" max_ms) ms" \
  "—" "—"

# ---- (g) callbacks -------------------------------------------------------------------------

# check_callback_log LOG IDS: sets callback_log_out; fails unless every id was called exactly
# once and none early.
check_callback_log() {
  run_loadgen 60 callback-log --log "$1" --ids "$2" ||
    fail "callbacks: $1 does not hold each added task exactly once ($loadgen_out)"
  callback_log_out=$loadgen_out
  log "  $callback_log_out"
}

if [[ -n $nginx_bin ]]; then
  start_nginx callbacks
  callback_url=http://$nginx_addr/cb
  callback_log=$work/callbacks/cb.log
  : >"$callback_log"
  flags_note="--callbacks-max-in-flight-per-topic 256 --callbacks-max-per-host 256"
  start_delayq callbacks fsync "${callback_flags[@]}"
  log "(g) callbacks to nginx $callback_url, delayq on $delayq_addr ($flags_note)"

  # Throughput: every task due at the same instant, the start of the add phase ("due now").
  log "(g) callback throughput: $callback_tasks tasks due now"
  run_loadgen 120 callback-add --addr "$delayq_addr" --tasks "$callback_tasks" \
    --url "$callback_url" --topic bench_cb_throughput --ids-out "$work/cb-throughput.ids" ||
    fail "loadgen callback-add exited $? ($loadgen_out)"
  add_out=$loadgen_out
  log "  $add_out"
  wait_for_lines "$callback_log" "$callback_tasks" 120 || fail "callbacks: not every task was called"
  # A moment for late duplicates to show up, then the log starts over for the next part.
  sleep 0.5
  cp "$callback_log" "$work/cb-throughput.log"
  : >"$callback_log"
  check_callback_log "$work/cb-throughput.log" "$work/cb-throughput.ids"
  first_due_ms=$(json_number "$add_out" first_due_ms)
  last_log_ms=$(json_number "$callback_log_out" last_log_ms)
  callback_rate=$(awk -v n="$callback_tasks" -v ms=$((last_log_ms - first_due_ms)) \
    'BEGIN { print n * 1000 / (ms > 0 ? ms : 1) }')
  log "  $callback_tasks callbacks in $((last_log_ms - first_due_ms)) ms from the due instant; add phase $(json_number "$add_out" add_s) s"
  throughput_lateness="lateness p50 $(json_number "$callback_log_out" p50_ms) ms, p99 $(json_number "$callback_log_out" p99_ms) ms, max $(json_number "$callback_log_out" max_ms) ms"

  # Lateness: due within one second, added well before it.
  log "(g) callback lateness: $lateness_tasks tasks due within one second, >= $lateness_lead_ms ms ahead"
  run_loadgen 120 callback-add --addr "$delayq_addr" --tasks "$lateness_tasks" \
    --url "$callback_url" --topic bench_cb_lateness --lead-ms "$lateness_lead_ms" \
    --spread-ms 1000 --ids-out "$work/cb-lateness.ids" ||
    fail "loadgen callback-add exited $? ($loadgen_out)"
  add_out=$loadgen_out
  log "  $add_out"
  late_note=""
  added_after_due=$(json_number "$add_out" added_after_due)
  if [[ $added_after_due != 0 ]]; then
    log "WARNING: $added_after_due callback tasks were acknowledged after they were due"
    late_note=" ($added_after_due added after due)"
  fi
  wait_for_lines "$callback_log" "$lateness_tasks" $((lateness_lead_ms / 1000 + 60)) ||
    fail "callbacks: not every task was called"
  sleep 0.5
  cp "$callback_log" "$work/cb-lateness.log"
  check_callback_log "$work/cb-lateness.log" "$work/cb-lateness.ids"
  lateness_out=$callback_log_out
  stop_delayq callbacks

  # Reference: the same nginx location (logging included) under wrk.
  wrk_bin=$(command -v wrk || true)
  wrk_rps=""
  if [[ -n $wrk_bin ]]; then
    log "(g) wrk -t1 -c64 -d${wrk_duration_s}s $callback_url"
    run_tool $((wrk_duration_s + 30)) "$wrk_bin" -t1 -c64 -d"${wrk_duration_s}s" "$callback_url" ||
      fail "wrk exited $?"
    log "  $(tr -s ' \n' ' ' <<<"$tool_out")"
    ! grep -q 'Non-2xx' <<<"$tool_out" || fail "wrk: $(grep 'Non-2xx' <<<"$tool_out")"
    wrk_rps=$(awk '$1 == "Requests/sec:" { print $2 }' <<<"$tool_out")
    [[ -n $wrk_rps ]] || fail "wrk printed no Requests/sec"
  else
    log "NOTE: wrk is not installed; skipping the callback reference (apt-get install wrk)"
  fi
  stop_pid "$nginx_pid" || fail "nginx did not stop"
  wait "$nginx_pid" || true
  forget_pid "$nginx_pid"

  ours="$(fmt_rate "$callback_rate" callbacks/s) (due instant → last logged), $throughput_lateness; each task exactly once"
  if [[ -n $wrk_rps ]]; then
    row "callbacks: $callback_tasks tasks due now → nginx \`return 200\` /cb, access log on; delayq $flags_note, fsync" \
      "$ours" "wrk -t1 -c64 -d${wrk_duration_s}s on /cb: $(fmt_rps "$wrk_rps")" "$(ratio "$callback_rate" "$wrk_rps")"
  else
    row "callbacks: $callback_tasks tasks due now → nginx \`return 200\` /cb, access log on; delayq $flags_note, fsync" \
      "$ours" "n/a (no wrk)" "n/a"
  fi
  row "callback lateness: $lateness_tasks tasks due within one second (at_ms uniform, ≥ $((lateness_lead_ms / 1000)) s ahead, added in batches); same delayq flags" \
    "receiver \$msec − X-Delayq-Due-At: p50 $(json_number "$lateness_out" p50_ms) ms, p99 $(json_number "$lateness_out" p99_ms) ms, max $(json_number "$lateness_out" max_ms) ms; each task exactly once$late_note" \
    "—" "—"
else
  log "NOTE: nginx is not installed; skipping the callback runs (apt-get install nginx-light)"
fi

# ---- report --------------------------------------------------------------------------------

echo "| scenario | delayq (median of $repetitions) | reference | ratio to nginx |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "Loopback only; the load generator shares the machine ($(nproc) CPUs) with the server."
echo "Data on $(df -PT "$work" | awk 'NR == 2 { print $2 }'); fsync figures depend on that device."
[[ -n $nginx_bin ]] || echo "nginx not installed: reference rows and callback runs skipped."
if [[ -n $nginx_bin ]]; then
  echo "Callback lateness is at the 1 ms resolution of nginx's \$msec (the receiver's log time)."
fi
succeeded=1
log "done"
