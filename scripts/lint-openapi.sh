#!/usr/bin/env bash
# Lints openapi.yaml with the pinned Redocly CLI and, when a base revision is known, fails on
# breaking changes (scripts/openapi-breaking.sh: clients generate SDKs from this file).
#   OPENAPI_BASE_REF: the git revision to compare with (default: origin/main when it exists).
set -euo pipefail
cd "$(dirname "$0")/.."
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
npx --no-install redocly lint --format=stylish openapi.yaml

base=${OPENAPI_BASE_REF:-}
if [[ -z $base ]] && git rev-parse -q --verify origin/main >/dev/null; then
  base=origin/main
fi
if [[ -n $base ]] && git cat-file -e "$base:openapi.yaml" 2>/dev/null; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  git show "$base:openapi.yaml" >"$tmp/base.yaml"
  echo "lint-openapi: breaking-change check against $base" >&2
  scripts/openapi-breaking.sh "$tmp/base.yaml"
else
  echo "lint-openapi: no base revision (set OPENAPI_BASE_REF) - breaking-change check skipped here; the PR workflow runs it against the target branch" >&2
fi
