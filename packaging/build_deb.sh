#!/usr/bin/env bash
# Builds the delayq Debian package from the release build's binary with dpkg-deb (the
# binary comes from the CMake build, so there is no debian/ source package to run
# dpkg-buildpackage on). `make package` runs it through the CMake target `deb`.
#   packaging/build_deb.sh BINARY VERSION OUTPUT.deb
# Exit status 77 when a tool is missing (the test suite then skips the package tests).
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 BINARY VERSION OUTPUT.deb" >&2
  exit 2
fi
binary=$1 version=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")

for tool in dpkg-deb dpkg-shlibdeps help2man strip gzip; do
  if ! command -v "$tool" >/dev/null; then
    echo "build_deb.sh: $tool is missing: run scripts/bootstrap.sh (Debian packages dpkg-dev," \
      "help2man, binutils)" >&2
    exit 77
  fi
done

work=$(mktemp -d "$(dirname "$out")/.deb-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
doc=$root/usr/share/doc/delayq

# The binary without its debug information (the release build's RelWithDebInfo binary is
# about 90 MB; stripped about 10), as dh_strip would.
install_binary() {
  install -D -m 0755 "$binary" "$root/usr/bin/delayq"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/delayq"
}

install_files() {
  install -D -m 0644 "$here/delayq.service" "$root/lib/systemd/system/delayq.service"
  install -D -m 0644 "$here/delayq.yaml" "$root/etc/delayq/delayq.yaml"
  install -d -m 0755 "$doc"
  for f in README.md docs/OPERATIONS.md docs/CONFIG.md docs/API.md; do
    gzip -9n <"$src/$f" >"$doc/$(basename "$f").gz"
  done
  install -m 0644 "$here/copyright" "$doc/copyright"
  {
    echo "delayq ($version) unstable; urgency=medium"
    echo
    echo "  * Built from the delayq source tree$(git -C "$src" rev-parse --short HEAD 2>/dev/null |
      sed 's/^/ at commit /')."
    echo
    echo " -- delayq maintainers <maintainers@users.noreply.r-seed-d995504f.example>  $(date -R)"
  } | gzip -9n >"$doc/changelog.gz"
}

# delayq(1) from `delayq --help` and `delayq --version` (help2man), with the server's
# flags (`delayq serve --help`) as a section of its own. The binary is run as `delayq` on
# PATH so that the usage line does not name the build directory.
install_man_page() {
  mkdir -p "$work/bin"
  ln -s "$root/usr/bin/delayq" "$work/bin/delayq"
  {
    echo "[SERVE OPTIONS]"
    echo ".nf"
    PATH="$work/bin:$PATH" delayq serve --help | sed -e 's/\\/\\e/g' -e 's/-/\\-/g' \
      -e "s/^\([.']\)/\\\\\&\1/"
    echo ".fi"
  } >"$work/serve.h2m"
  install -d -m 0755 "$root/usr/share/man/man1"
  PATH="$work/bin:$PATH" help2man --no-info --section 1 \
    --name "durable delay-queue service and its command-line client" \
    --include "$work/serve.h2m" --include "$here/delayq.h2m" delayq |
    gzip -9n >"$root/usr/share/man/man1/delayq.1.gz"
}

# Depends: the shared libraries the binary links (dpkg-shlibdeps, which needs a
# debian/control beside it), adduser for the postinst, tzdata for schedules' time zones
# (read from /usr/share/zoneinfo at run time, so no library names it).
depends() {
  mkdir -p "$work/debian"
  printf 'Source: delayq\n\nPackage: delayq\nArchitecture: any\n' >"$work/debian/control"
  local shlibs
  shlibs=$(cd "$work" && dpkg-shlibdeps -O root/usr/bin/delayq 2>"$work/shlibdeps.log") || {
    cat "$work/shlibdeps.log" >&2
    exit 1
  }
  shlibs=${shlibs#shlibs:Depends=}
  [[ -n "$shlibs" ]] || { echo "build_deb.sh: dpkg-shlibdeps found no libraries" >&2; exit 1; }
  echo "$shlibs, adduser, tzdata"
}

write_control() {
  local control=$root/DEBIAN
  install -d -m 0755 "$control"
  install -m 0755 "$here/debian/postinst" "$here/debian/prerm" "$here/debian/postrm" "$control/"
  echo /etc/delayq/delayq.yaml >"$control/conffiles"
  cat >"$control/control" <<EOF
Package: delayq
Version: $version
Architecture: $(dpkg --print-architecture)
Maintainer: delayq maintainers <maintainers@users.noreply.r-seed-d995504f.example>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $(depends)
Section: net
Priority: optional
Description: durable delay-queue service
 delayq stores tasks ("give this back at time T") durably in an embedded
 RocksDB store, or in Redis for several instances, and delivers them when
 due: pulled under a lease, called back over HTTP, or produced to Kafka or
 a Redis stream. It serves a seed-compatible API and the native /v1 HTTP
 API, Prometheus metrics and a web dashboard. The same binary is the
 command-line client. Runs as the systemd unit delayq.service.
EOF
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
    xargs -0 md5sum) >"$control/md5sums"
}

install_binary
install_files
install_man_page
write_control
# gzip rather than dpkg-deb's default xz: `make test` builds the package every run, and
# xz took 6.2 s to compress it on the 2-core CI machine, gzip 0.5 s (4.2 MB, not 3.0 MB).
dpkg-deb --root-owner-group -Zgzip -z6 --build "$root" "$work/delayq.deb" >/dev/null
mv "$work/delayq.deb" "$out"
echo "build_deb.sh: $out"
