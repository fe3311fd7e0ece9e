#!/usr/bin/env bash
# Every Go module of go.work stands alone: with GOWORK=off it builds, vets, and `go mod tidy`
# would change nothing. The services reach the local shared/ (and devkit/, for their tests) through
# the replace directives in their own go.mod, as a release of shared would be consumed.
set -euo pipefail
cd "$(dirname "$0")/.."

failed=0
for dir in $(go work edit -json | jq -r '.Use[].DiskPath'); do
  echo "check-modules: $dir (GOWORK=off)"
  if ! (cd "$dir" && GOWORK=off go build ./... && GOWORK=off go vet ./... && GOWORK=off go mod tidy -diff); then
    echo "check-modules: $dir does not stand alone (build, vet or go mod tidy -diff above)" >&2
    failed=1
  fi
done
exit "$failed"
