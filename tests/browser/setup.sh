#!/usr/bin/env bash
# Installs the browser tests' one npm dependency (playwright-core, pinned in
# package-lock.json) when it is missing. Chromium itself is Debian's (scripts/bootstrap.sh);
# playwright-core never downloads a browser.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -f node_modules/playwright-core/package.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
