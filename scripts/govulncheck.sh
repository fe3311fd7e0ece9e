#!/usr/bin/env bash
# govulncheck (pinned: tools/govulncheck) over every Go module of the repository except the tool
# modules under tools/, against a vulnerability database built offline from the pinned
# golang.org/x/vulndb (tools/indexdb/go.mod: the same version pins the indexer and its data).
#
# The database is built once per vulndb version into the tool cache outside the clone:
#   ${GIFT_TOOLS_CACHE:-~/.cache/ecs-sre-gift-worker/tools}/vulndb-<version>/
# The standard library is checked at the Go version the images are built with (the
# `FROM golang:X` of the Dockerfiles), not at whatever Go runs this script: that is what ships.
# Fails on any vulnerability whose vulnerable function the code can reach (govulncheck's default).
# Refresh: bump golang.org/x/vulndb in tools/indexdb (`go get -tool golang.org/x/vulndb/cmd/indexdb@<newer>`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cache=${GIFT_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecs-sre-gift-worker/tools}

version=$(awk '$1 == "golang.org/x/vulndb" {print $2}' tools/indexdb/go.mod)
[[ -n $version ]] || { echo "govulncheck: no golang.org/x/vulndb requirement in tools/indexdb/go.mod" >&2; exit 2; }
db="$cache/vulndb-$version"
if [[ ! -f $db/index/db.json ]]; then
  start=$SECONDS
  echo "govulncheck: building the vulnerability database $version into $db (once per version)" >&2
  src=$(cd tools/indexdb && GOWORK=off go mod download -json golang.org/x/vulndb | jq -r .Dir)
  indexdb=$(scripts/tool.sh --path indexdb)
  tmp="$db.tmp.$$"
  rm -rf "$tmp"
  "$indexdb" -vulns "$src/data/osv" -out "$tmp"
  rm -rf "$db"
  mv "$tmp" "$db"
  echo "govulncheck: database built in $((SECONDS - start)) s" >&2
fi

# The Go of the images: both Dockerfiles must agree.
mapfile -t go_versions < <(sed -n 's/^FROM golang:\([0-9.]*\)-.*/\1/p' api-svc/Dockerfile worker-svc/Dockerfile | sort -u)
if ((${#go_versions[@]} != 1)); then
  echo "govulncheck: the Dockerfiles build with different (or no) Go versions: ${go_versions[*]:-none}" >&2
  exit 2
fi
toolchain="go${go_versions[0]}"

bin=$(scripts/tool.sh --path govulncheck)
mapfile -t modules < <(git ls-files '*go.mod' ':!:tools/**' | xargs -n1 dirname | sort)
status=0
for m in "${modules[@]}"; do
  start=$SECONDS
  echo "== govulncheck $m (stdlib of $toolchain, vulndb $version)" >&2
  if ! (cd "$m" && GOWORK=off GOTOOLCHAIN=$toolchain "$bin" -db "file://$db" ./...); then
    status=1
  fi
  echo "   ($((SECONDS - start)) s)" >&2
done
if ((status != 0)); then
  echo "govulncheck: vulnerable code is reachable (above): upgrade the module or the Go version of the Dockerfiles (docs/supply-chain.md)" >&2
fi
exit $status
