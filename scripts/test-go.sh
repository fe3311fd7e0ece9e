#!/usr/bin/env bash
# Every Go test of the workspace, with the race detector. Tests that need PostgreSQL or SQS start
# a throwaway cluster and the emulator themselves (testkit/testenv), or use DATABASE_URL /
# SQS_ENDPOINT when those are set.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -race -count=1 -timeout 15m ./shared/... ./testkit/... ./devkit/... ./api-svc/... ./worker-svc/... "$@"
