#!/usr/bin/env bash
# Installs the Debian packages delayq needs, and only those that are missing.
# Idempotent and quiet when everything is present (one dpkg-query, no apt-get).
#   scripts/bootstrap.sh          build + test dependencies
#   scripts/bootstrap.sh bench    also the benchmark references (wrk, nginx, beanstalkd, redis) and perf
#   scripts/bootstrap.sh fuzz     also clang and libFuzzer's runtime (make fuzz)
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config ccache curl
  libboost1.81-dev libboost-json1.81-dev
  librocksdb-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev libssl-dev
  libcurl4-openssl-dev libhiredis-dev libjemalloc-dev
  # Schedules: time zones from the system's IANA database through Howard Hinnant's date library.
  libhowardhinnant-date-dev tzdata
  redis-server redis-tools
  # Failover tests start Sentinels; the clock-step test runs delayq under libfaketime.
  redis-sentinel faketime
  libgtest-dev libgmock-dev libbenchmark-dev
  # The dashboard's browser test (tests/browser) drives Debian's Chromium; the config-centre
  # test starts Debian's etcd (binary: etcd).
  chromium etcd-server
  prometheus  # promtool: tests/integration/metrics_test.cc checks /metrics with it
  # The Kafka sink (librdkafka; its mock cluster runs the sink tests) and kcat, the
  # independent consumer those tests read back with.
  librdkafka-dev kcat
  # The client libraries' suites (tests/clients): Go 1.19 and pytest for Debian's python3.
  golang-go python3-pytest
  # The Debian package (make package, tests/package): dpkg-shlibdeps computes its Depends,
  # help2man writes its man page, man-db answers systemd-analyze verify's man: check.
  dpkg-dev help2man man-db
)
# Node.js + npm run the browser test (playwright-core); a machine may already have them.
command -v npm >/dev/null || packages+=(nodejs npm)
if [[ "${1:-}" == "bench" ]]; then
  # The references of bench/run.py: nginx (HTTP ceiling, callback receiver), wrk, beanstalkd,
  # redis-server + redis-tools (redis-benchmark); linux-perf for bench/perf_burst.sh.
  packages+=(wrk nginx-light beanstalkd redis-server redis-tools linux-perf)
fi
if [[ "${1:-}" == "fuzz" ]]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  bash "$(dirname "$0")/../tests/browser/setup.sh"
  exit 0
fi

echo "bootstrap: installing ${missing[*]}"
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
bash "$(dirname "$0")/../tests/browser/setup.sh"
echo "bootstrap: done"
