#!/usr/bin/env bash
# `make run`: builds and runs the local stack in the foreground (devkit/cmd/devstack).
# exec, so that the stack is make's direct child and dies with it.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .local/bin
go build -o .local/bin/devstack ./devkit/cmd/devstack
exec .local/bin/devstack
