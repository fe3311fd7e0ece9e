#!/usr/bin/env bash
# Fails when the committed generated code is not what openapi.yaml produces (drift).
set -euo pipefail
cd "$(dirname "$0")/.."
generated=(api-svc/internal/httpapi/api.gen.go shared/giftclient/client.gen.go sdk/typescript/schema.d.ts)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "${generated[@]}"; do
  [[ -f $f ]] || { echo "check-generated: $f is missing: run make generate" >&2; exit 1; }
  mkdir -p "$tmp/$(dirname "$f")" && cp "$f" "$tmp/$f"
done
scripts/generate.sh
status=0
for f in "${generated[@]}"; do
  if ! diff -u "$tmp/$f" "$f" >&2; then
    echo "check-generated: $f differs from what openapi.yaml generates: run make generate and commit" >&2
    cp "$tmp/$f" "$f" # leave the working tree as it was
    status=1
  fi
done
exit $status
