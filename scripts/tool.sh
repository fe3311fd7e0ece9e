#!/usr/bin/env bash
# tool.sh NAME [ARGS...]: run a pinned Go tool, building it once into a cache outside the clone.
#
# Each tool is pinned by its own module under tools/NAME (a `tool` directive plus go.sum), so its
# whole dependency graph is locked. The binary is cached under
#   ${GIFT_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecs-sre-gift-worker/tools}/NAME-<sha of go.mod+go.sum>/
# so a reused machine skips the build and a version bump builds afresh.
#   tool.sh --build NAME...   only build (used to warm the cache in parallel with the tests)
#   tool.sh --path NAME       print the binary's path (building it if needed)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${GIFT_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecs-sre-gift-worker/tools}

tool_path() {
  local name=$1 dir="$root/tools/$1"
  [[ -f "$dir/go.mod" ]] || { echo "tool.sh: unknown tool $name (no tools/$name/go.mod)" >&2; return 2; }
  local key pkg
  key=$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -c1-16)
  pkg=$(awk '$1=="tool"{print $2}' "$dir/go.mod")
  local out="$cache/$name-$key/$name"
  if [[ ! -x "$out" ]]; then
    echo "tool.sh: building $name ($pkg) into $out; once per version, cached outside the clone" >&2
    mkdir -p "$(dirname "$out")"
    local env=()
    # trivy v0.74 needs the encoding/json/v2 experiment to compile.
    [[ $name == trivy ]] && env+=(GOEXPERIMENT=jsonv2)
    (cd "$dir" && env GOWORK=off "${env[@]}" go build -trimpath -o "$out.tmp.$$" "$pkg")
    mv -f "$out.tmp.$$" "$out"
  fi
  printf '%s\n' "$out"
}

case "${1:-}" in
  --build) shift; for t in "$@"; do tool_path "$t" >/dev/null; done ;;
  --path) tool_path "$2" ;;
  "") echo "usage: tool.sh NAME [ARGS...] | --build NAME... | --path NAME" >&2; exit 2 ;;
  *) name=$1; shift; bin=$(tool_path "$name"); exec "$bin" "$@" ;;
esac
