#!/usr/bin/env bash
# The Debian package, installed into this machine as an operator would: dpkg -i, the
# unit's ExecStart run as the unit runs it (its user, environment, working directory,
# limits, no privileges), a task added, pulled and acked, an upgrade over an edited
# conffile, dpkg -r (nothing of the package left but its conffile and the data), dpkg -P
# (the conffile and the unit's enablement gone too), and `systemd-analyze verify` on the
# unit. The machine is left as it was found, also after a failure (cleanup trap).
#   tests/package/package_test.sh DEB VERSION
# Exit status 77 (ctest: skipped) when not root or dpkg is missing, or when a delayq
# package is already installed here (the test does not replace an operator's install).
set -uo pipefail

deb=${1:?usage: $0 DEB VERSION} version=${2:?usage: $0 DEB VERSION}
unit=/lib/systemd/system/delayq.service
conffile=/etc/delayq/delayq.yaml
data=/var/lib/delayq
topic=package_test

skip() {
  echo "SKIP: $*"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  [[ -s ${tmp:-/nonexistent}/stderr ]] && { echo "--- server stderr:" >&2; tail -20 "$tmp/stderr" >&2; }
  exit 1
}
step() { echo "== $(date +%T.%3N) $*"; }
status() { dpkg-query -W -f='${db:Status-Abbrev}' delayq 2>/dev/null; }

[[ $(id -u) -eq 0 ]] || skip "not root: installing a package needs root (CI runs make test as root)"
for tool in dpkg dpkg-query setpriv curl python3 getent; do
  command -v "$tool" >/dev/null || skip "$tool is missing: the package test needs dpkg and $tool"
done
[[ -f $deb ]] || fail "no package at $deb: the test package_build (cmake --build --target deb) makes it"

# One package test per machine at a time, whatever the build tree (dpkg has one database).
exec 9>/tmp/delayq-package-test.lock
flock -w 300 9 || fail "another package test held /tmp/delayq-package-test.lock for 300 s"
case "$(status)" in
  "" | "un ") ;;
  *) skip "a delayq package is installed here already (dpkg status '$(status)'); this test" \
    "would replace it: remove it with 'dpkg -P delayq' to run the test" ;;
esac
had_user=$(getent passwd delayq)
had_data=$([[ -e $data ]] && echo yes)
tmp=$(mktemp -d)
server_pid=

# A package whose maintainer scripts fail cannot be purged with them: then without them.
purge_package() {
  dpkg -P delayq </dev/null >/dev/null 2>&1 && return
  echo "cleanup: dpkg -P delayq failed; purging it without its maintainer scripts" >&2
  local script
  for script in preinst prerm postrm; do
    rm -f "$(dpkg-query --control-path delayq "$script" 2>/dev/null)"
  done
  dpkg -P --force-remove-reinstreq delayq </dev/null >/dev/null 2>&1 ||
    echo "cleanup: dpkg -P --force-remove-reinstreq delayq failed too: remove it by hand" >&2
}

cleanup() {
  local rc=$?
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid"
    wait "$server_pid" 2>/dev/null
  fi
  case "$(status)" in
    "" | "un ") ;;
    *) purge_package ;;
  esac
  # No delayq package was known before the test: any enablement state is the test's.
  DPKG_MAINTSCRIPT_PACKAGE=delayq deb-systemd-helper purge delayq.service >/dev/null 2>&1
  [[ -n $had_data ]] || rm -rf "$data"
  if [[ -z $had_user ]] && getent passwd delayq >/dev/null; then
    userdel delayq 2>/dev/null
    getent group delayq >/dev/null && groupdel delayq 2>/dev/null
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

check_installed() {
  [[ "$(status)" == "ii " ]] || fail "after dpkg -i the status is '$(status)', not 'ii'"
  local f
  for f in /usr/bin/delayq "$unit" "$conffile" /usr/share/man/man1/delayq.1.gz \
    /usr/share/doc/delayq/copyright /usr/share/doc/delayq/OPERATIONS.md.gz; do
    [[ -f $f ]] || fail "$f is not installed"
  done
  [[ "$(/usr/bin/delayq --version)" == "delayq $version" ]] ||
    fail "/usr/bin/delayq --version says '$(/usr/bin/delayq --version)', not 'delayq $version'"
  dpkg-query -W -f='${Conffiles}\n' delayq | grep -q "^ $conffile " ||
    fail "$conffile is not a conffile: $(dpkg-query -W -f='${Conffiles}' delayq)"
  local depends
  depends=$(dpkg-query -W -f='${Depends}' delayq)
  for d in libc6 librdkafka1 libstdc++6 adduser tzdata; do
    [[ ",$depends" == *", $d"* || "$depends" == "$d"* ]] || fail "Depends lacks $d: $depends"
  done
  zcat /usr/share/man/man1/delayq.1.gz | grep -q '^\.TH DELAYQ "1"' || fail "delayq.1 has no .TH"
  zcat /usr/share/man/man1/delayq.1.gz | grep -q 'data\\-dir' ||
    fail "delayq.1 lacks the server's flags (SERVE OPTIONS)"
  local uid
  uid=$(getent passwd delayq | cut -d: -f3)
  [[ -n $uid && $uid -lt 1000 ]] || fail "postinst made no system user delayq: '$(getent passwd delayq)'"
  [[ "$(stat -c '%U:%G %a' "$data")" == "delayq:delayq 750" || -n $had_data ]] ||
    fail "$data is $(stat -c '%U:%G %a' "$data"), not delayq:delayq 750"
  [[ "$(readlink /etc/systemd/system/multi-user.target.wants/delayq.service)" == "$unit" ]] ||
    fail "postinst did not enable the unit (deb-systemd-helper enable)"
}

verify_unit() {
  if ! command -v systemd-analyze >/dev/null; then
    echo "systemd-analyze is not installed: the unit is not verified"
    return
  fi
  systemd-analyze verify "$unit" >"$tmp/verify" 2>&1 || fail "systemd-analyze verify: $(cat "$tmp/verify")"
  ! grep -q delayq "$tmp/verify" || fail "systemd-analyze verify warns: $(cat "$tmp/verify")"
  # The hardening stays in force: systemd's exposure score, 0 (safe) to 10 (exposed);
  # --threshold counts in tenths.
  systemd-analyze security --offline=yes --threshold=25 "$unit" >"$tmp/security" 2>&1 ||
    fail "the unit's exposure rose above 2.5: $(tail -3 "$tmp/security")"
  tail -1 "$tmp/security"
}

# A setting of the unit's [Service] section (the last one given wins, as in systemd).
unit_value() { sed -n "s/^$1=//p" "$unit" | tail -1; }

# The unit's ExecStart as systemd runs it: its User and Group without capabilities or new
# privileges, its WorkingDirectory, UMask and LimitNOFILE, and a clean environment of what
# systemd sets plus Environment= and EnvironmentFile=. One override: DELAYQ_LISTEN (the
# environment beats the file) picks a free loopback port, so that the test does not
# take 7700 from anything else on the machine.
start_service() {
  local exec_start user group workdir nofile umask_ envfile
  exec_start=$(unit_value ExecStart) user=$(unit_value User) group=$(unit_value Group)
  workdir=$(unit_value WorkingDirectory) nofile=$(unit_value LimitNOFILE)
  umask_=$(unit_value UMask) envfile=$(unit_value EnvironmentFile)
  [[ $exec_start != *[\"\'\\]* ]] || fail "ExecStart has quoting this test cannot parse: $exec_start"
  local -a argv env
  read -r -a argv <<<"${exec_start#[-@:+!]}"
  [[ ${argv[0]} == /usr/bin/delayq ]] || fail "ExecStart does not run the packaged binary: $exec_start"
  [[ $user == delayq && $group == delayq ]] ||
    fail "the unit runs as $user:$group, not as the package's user delayq:delayq"
  env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin LANG=C.UTF-8 "USER=$user"
    "LOGNAME=$user" "HOME=$(getent passwd "$user" | cut -d: -f6)"
    "SHELL=$(getent passwd "$user" | cut -d: -f7)")
  local e
  while read -r -a e; do env+=("${e[@]}"); done < <(sed -n 's/^Environment=//p' "$unit")
  if [[ -n $envfile && -f ${envfile#-} ]]; then
    while IFS= read -r e; do [[ $e == [A-Za-z_]*=* ]] && env+=("$e"); done <"${envfile#-}"
  fi
  env+=(DELAYQ_LISTEN=127.0.0.1:0)
  local hard
  hard=$(ulimit -Hn)
  if [[ $hard != unlimited && $hard -lt $nofile ]]; then
    echo "LimitNOFILE=$nofile is above this machine's hard limit $hard: running with $hard"
    nofile=$hard
  fi
  (
    cd "$workdir" || exit 126
    ulimit -n "$nofile" && umask "$umask_" &&
      exec setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
        --bounding-set=-all --inh-caps=-all env -i "${env[@]}" "${argv[@]}"
  ) >"$tmp/stdout" 2>"$tmp/stderr" </dev/null &
  server_pid=$!
  local i
  for ((i = 0; i < 150; i++)); do
    url=$(sed -n 's/^delayq listening on //p' "$tmp/stdout")
    [[ -n $url ]] && break
    kill -0 "$server_pid" 2>/dev/null || fail "the service exited at start-up"
    sleep 0.1
  done
  [[ -n $url ]] || fail "the service did not print 'delayq listening on' within 15 s"
  echo "serving on $url"
  local proc=/proc/$server_pid/status uid
  uid=$(id -u "$user")
  grep -q "^Uid:[[:space:]]*${uid}[[:space:]]*${uid}[[:space:]]*${uid}[[:space:]]*${uid}$" "$proc" ||
    fail "the service does not run as $user: $(grep ^Uid "$proc")"
  grep -q '^NoNewPrivs:[[:space:]]*1$' "$proc" || fail "the service may gain privileges"
  grep -q '^CapBnd:[[:space:]]*0*$' "$proc" || fail "the service keeps capabilities: $(grep ^CapBnd "$proc")"
  grep -Eq "^Max open files +$nofile +$nofile " "/proc/$server_pid/limits" ||
    fail "the service's open-file limit is not $nofile: $(grep 'open files' "/proc/$server_pid/limits")"
}

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

add_pull_ack() {
  local id pulled lease
  id=$(curl -sS --fail-with-body -d '{"payload": {"n": 1}}' "$url/v1/topics/$topic/tasks" |
    json 'd["id"]') || fail "v1 add failed"
  pulled=$(curl -sS --fail-with-body -d '{"max": 1, "wait_ms": 5000, "lease_ms": 30000}' \
    "$url/v1/topics/$topic/pull") || fail "v1 pull failed: $pulled"
  [[ "$(json 'd["tasks"][0]["id"], d["tasks"][0]["payload"]' <<<"$pulled")" == "$id {'n': 1}" ]] ||
    fail "the pull did not hand back task $id with its payload: $pulled"
  lease=$(json 'd["tasks"][0]["lease"]' <<<"$pulled")
  # The packaged binary is also the client.
  /usr/bin/delayq ack "$id" --lease "$lease" --server "$url" >"$tmp/ack" 2>&1 ||
    fail "delayq ack: $(cat "$tmp/ack")"
  [[ "$(/usr/bin/delayq get "$id" --json --server "$url" | json 'd["state"]')" == "done" ]] ||
    fail "task $id is not done after its ack"
  echo "task $id added, pulled and acked"
  [[ -f $data/CURRENT ]] || fail "the store is not in $data"
  [[ -z "$(find "$data" ! -user delayq)" ]] || fail "files in $data not owned by delayq"
}

stop_service() {
  kill -TERM "$server_pid"
  local i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$server_pid" 2>/dev/null && fail "the service did not stop within 30 s of SIGTERM"
  wait "$server_pid"
  local rc=$?
  server_pid=
  [[ $rc -eq 0 ]] || fail "the service exited with status $rc after SIGTERM, not 0"
}

# Debian semantics: dpkg -r leaves conffiles (status rc), dpkg -P takes them too.
check_removed() {
  [[ "$(status)" == "rc " ]] || fail "after dpkg -r the status is '$(status)', not 'rc'"
  local f
  while IFS= read -r f; do
    if [[ $f == "$conffile" ]]; then
      [[ -f $f ]] || fail "dpkg -r removed the conffile $f (only purge should)"
    elif [[ -d $f ]]; then
      # A directory may stay only when it holds the conffile or another package owns it.
      [[ $f == /etc/delayq || $f == /. ]] && continue
      dpkg-query -S "$f" >/dev/null 2>&1 || fail "dpkg -r left the directory $f"
    elif [[ -e $f || -L $f ]]; then
      fail "dpkg -r left $f"
    fi
  done <"$tmp/files"
  [[ -f $data/CURRENT ]] || fail "dpkg -r removed the data in $data"
}

check_purged() {
  [[ "$(status)" == "" || "$(status)" == "un " ]] || fail "after dpkg -P the status is '$(status)'"
  [[ ! -e $conffile && ! -e /etc/delayq ]] || fail "dpkg -P left $conffile or /etc/delayq"
  [[ -z "$(find /etc/systemd/system -name delayq.service)" ]] ||
    fail "dpkg -P left the unit enabled: $(find /etc/systemd/system -name delayq.service)"
  ! grep -rqs delayq /var/lib/systemd/deb-systemd-helper-enabled ||
    fail "dpkg -P left deb-systemd-helper state for delayq"
  [[ -f $data/CURRENT ]] || fail "dpkg -P removed the data in $data (it is the operator's)"
}

step "dpkg -i $(basename "$deb")"
dpkg -i "$deb" </dev/null >"$tmp/dpkg" 2>&1 || fail "dpkg -i: $(cat "$tmp/dpkg")"
check_installed
dpkg-query -L delayq >"$tmp/files"
step "systemd-analyze verify $unit"
verify_unit
step "the unit's ExecStart"
start_service
add_pull_ack
stop_service
step "dpkg -i again (upgrade) over an edited conffile"
echo "# edited by the package test" >>"$conffile"
dpkg -i "$deb" </dev/null >"$tmp/dpkg" 2>&1 || fail "dpkg -i (upgrade): $(cat "$tmp/dpkg")"
[[ "$(status)" == "ii " ]] || fail "after the upgrade the status is '$(status)'"
tail -1 "$conffile" | grep -q "edited by the package test" || fail "the upgrade replaced the edited conffile"
step "dpkg -r delayq"
dpkg -r delayq </dev/null >"$tmp/dpkg" 2>&1 || fail "dpkg -r: $(cat "$tmp/dpkg")"
check_removed
step "dpkg -P delayq"
dpkg -P delayq </dev/null >"$tmp/dpkg" 2>&1 || fail "dpkg -P: $(cat "$tmp/dpkg")"
check_purged
step "passed"
