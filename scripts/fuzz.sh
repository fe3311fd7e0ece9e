#!/usr/bin/env bash
# `make fuzz`: runs each fuzz target with `go test -fuzz` for FUZZTIME (default 60s), one worker
# at a time (-parallel 1: the targets drive a real API, PostgreSQL and the SQS emulator, and the
# machine is shared). `make test` already replays every target's seeds and testdata/fuzz corpus;
# this explores beyond them. A failure leaves the input in the package's testdata/fuzz/<Target>/:
# fix the bug, keep the file (it joins the corpus), commit both.
# Minimizing a new input is capped at 10 s so the slow (HTTP + database) targets spend their time
# exploring. Inputs that widened coverage stay in $(go env GOCACHE)/fuzz/<package>/<Target>/; the
# committed testdata/fuzz corpus was gathered that way: copy new ones over to keep them.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-60s}
targets=(
  "./api-svc/internal/apiserver FuzzCreateGift"
  "./api-svc/internal/apiserver FuzzSendHeaders"
  "./shared/queue FuzzParse"
)
failed=()
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "== $name ($pkg) for $fuzztime" >&2
  # grep drops the API's own log lines, which a failing target prints in full.
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 10s -parallel 1 "$pkg" 2>&1 |
    grep -v '^ *{"timestamp"'; then
    failed+=("$name")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: failing targets: ${failed[*]} (inputs in testdata/fuzz/)" >&2
  exit 1
fi
