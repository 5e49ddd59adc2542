#!/usr/bin/env bash
# Runs libFuzzer targets built by `make fuzz` (CMake option DELAYQ_FUZZ, clang++).
#   scripts/fuzz.sh BUILD_DIR SECONDS TARGET...
# Each target runs for SECONDS (-max_total_time, one job) on fuzz/corpus/<target>/ with the
# JSON dictionary for the JSON targets. New interesting inputs go to BUILD_DIR/fuzz-corpus/
# <target>/ (scratch, not committed). A crash, leak, timeout or OOM input is copied into
# fuzz/corpus/<target>/ as regression-<kind>-<hash>, so `make test` replays it from then on;
# the script then exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "$1")
seconds=$2
shift 2
root=$(pwd)
failed=()

for target in "$@"; do
  binary="$build/fuzz/$target"
  [[ -x "$binary" ]] || { echo "fuzz: $binary is missing (make fuzz builds it)" >&2; exit 2; }
  scratch="$build/fuzz-corpus/$target"
  work="$build/fuzz-run/$target"
  mkdir -p "$scratch" "$work/artifacts"
  rm -f "$work"/artifacts/* "$work"/fuzz-*.log
  args=(-max_total_time="$seconds" -jobs=1 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$work/artifacts/")
  case "$target" in
    fuzz_seed_api | fuzz_v1_api) args+=(-dict="$root/fuzz/json.dict") ;;
  esac
  echo "fuzz: $target for ${seconds}s (log: $work/fuzz-0.log)"
  start=$(date +%s)
  status=0
  # -jobs writes the job's output to fuzz-0.log in the working directory.
  (cd "$work" && "$binary" "${args[@]}" "$scratch" "$root/fuzz/corpus/$target" >/dev/null 2>&1) ||
    status=$?
  end=$(date +%s)
  log="$work/fuzz-0.log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+' || true)
  echo "fuzz: $target ran $((end - start))s, ${runs:-?} executions, ${cov:-no stats}, exit $status"
  shopt -s nullglob
  artifacts=("$work"/artifacts/*)
  shopt -u nullglob
  if [[ $status -ne 0 || ${#artifacts[@]} -gt 0 ]]; then
    failed+=("$target")
    grep -E 'ERROR|FUZZ_CHECK|runtime error|SUMMARY' "$log" | head -20 || true
    for artifact in "${artifacts[@]}"; do
      name=$(basename "$artifact")
      cp "$artifact" "fuzz/corpus/$target/regression-$name"
      echo "fuzz: $target: kept fuzz/corpus/$target/regression-$name"
    done
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: failures in ${failed[*]} (inputs above; logs under $build/fuzz-run/)" >&2
  exit 1
fi
echo "fuzz: no crash in $*"
