#!/usr/bin/env bash
# Every Go module of go.work stands alone: with GOWORK=off it builds, vets, and `go mod tidy`
# would change nothing. The services reach the local shared/ (and testkit/, for their tests)
# through the replace directives in their own go.mod, as a release of shared would be consumed.
# Development tooling stays out of production: no module but devkit itself requires devkit (shared,
# the services and testkit: `go list -m all`), and no service binary contains testkit or devkit
# code (`go version -m` on each built command).
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

for dir in shared testkit api-svc worker-svc; do
  if devkit=$(cd "$dir" && GOWORK=off go list -m all | grep '/devkit'); then
    echo "check-modules: $dir requires devkit (development tooling) in its module graph: $devkit" >&2
    failed=1
  fi
done

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
for dir in api-svc worker-svc; do
  (cd "$dir" && GOWORK=off go build -o "$bin/" ./cmd/...)
done
for exe in "$bin"/*; do
  echo "check-modules: $(basename "$exe") binary (go version -m)"
  if kits=$(go version -m "$exe" | grep -E '/(testkit|devkit)([/ 	]|$)'); then
    echo "check-modules: $(basename "$exe") contains test or development code:" >&2
    echo "$kits" >&2
    failed=1
  fi
done
exit "$failed"
