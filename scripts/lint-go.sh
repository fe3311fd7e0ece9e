#!/usr/bin/env bash
# gofmt and golangci-lint (pinned, cached outside the clone) over the five workspace modules.
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l shared testkit devkit api-svc worker-svc)
if [[ -n $unformatted ]]; then
  echo "lint-go: not gofmt-formatted:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./shared/... ./testkit/... ./devkit/... ./api-svc/... ./worker-svc/...
scripts/tool.sh golangci-lint run ./shared/... ./testkit/... ./devkit/... ./api-svc/... ./worker-svc/...
