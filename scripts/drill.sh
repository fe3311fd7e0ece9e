#!/usr/bin/env bash
# `make drill-NAME`: builds the drill program and rehearses one failure scenario of the runbook on
# a local stack of its own (devkit/cmd/drill). Exit 0 on PASS, 1 on FAIL.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .local/bin
go build -o .local/bin/drill ./devkit/cmd/drill
exec .local/bin/drill "$@"
