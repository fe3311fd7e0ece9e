#!/usr/bin/env bash
# Installs the pinned npm packages (package-lock.json) unless node_modules already matches the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
echo "npm-deps: installing pinned npm packages (npm ci)" >&2
npm ci --no-audit --no-fund --loglevel=error
printf '%s\n' "$want" >"$stamp"
