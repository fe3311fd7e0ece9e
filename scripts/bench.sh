#!/usr/bin/env bash
# `make bench`: benchmarks, not tests. They print figures beside their targets and fail only when
# they cannot run. Takes about ten minutes on 2 cores.
#   1. giftbench: the API (POST /gifts, POST send) against the pgbench ceiling, latency at half the
#      saturated rate, peak RSS; tracing and metrics off, on as deployed and on keeping every trace,
#      side by side (POST /gifts, against a local fake Datadog Agent, docs/observability.md
#      "Overhead"); POST /gifts against a hand-written net/http + pgx peer doing the same key check
#      and database work (devkit/cmd/giftpeer), 16 connections, api/peer with tracing off, as
#      deployed and without an Agent, and the auth cost (the peer with its key check vs without);
#      and the end-to-end send -> SENT latency with the worker. Every API call carries the key of a
#      client "giftbench" made at the start. Arguments go to giftbench (-cpuprofile FILE: a CPU
#      profile of the API under load).
#   2. BenchmarkDrain (worker-svc/internal/drainbench): the worker's drain rate against the
#      emulator's raw receive+delete rate, median of five rounds.
# Saturation is measured with wrk (Debian package) when it is installed; as root this script
# installs it, elsewhere it falls back to a Go load generator and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "bench: installing wrk (apt-get)" >&2
  apt-get install -y -qq wrk >/dev/null 2>&1 || echo "bench: could not install wrk; using the Go load generator" >&2
fi
echo "== API and end to end (devkit/cmd/giftbench)"
go run ./devkit/cmd/giftbench "$@"
echo
echo "== worker drain rate (worker-svc/internal/drainbench)"
go test -run '^$' -bench Drain -benchtime 5x -timeout 30m ./worker-svc/internal/drainbench/
