#!/usr/bin/env bash
# smoke.sh BASE_URL
#
# Post-deploy smoke check through the public endpoint, as a client sees the system (openapi.yaml):
# create a gift (201), ask for it to be sent (202), then read it until its status is SENT, which
# proves API, database, outbox relay, queue and worker work together on the new revisions.
# Fails (exit 1) on any unexpected HTTP status, on a FAILED gift, or when the gift is not SENT
# within SMOKE_TIMEOUT seconds (default 120). SMOKE_POLL_INTERVAL (default 2) spaces the reads.
# The gift is a real one with amount 1 and a message naming the run, so it can be told apart.
# Uses: curl, jq. docs/deploy.md says what a failure means.
set -euo pipefail

(($# == 1)) || { echo "usage: smoke.sh BASE_URL" >&2; exit 2; }
base=${1%/}
timeout=${SMOKE_TIMEOUT:-120}
interval=${SMOKE_POLL_INTERVAL:-2}
label=${SMOKE_LABEL:-"deploy smoke $(date -u +%Y-%m-%dT%H:%M:%SZ)"}

body=$(mktemp)
trap 'rm -f "$body"' EXIT

# call METHOD PATH WANT_STATUS [CURL_ARGS...]: prints the response body; fails on another status.
call() {
  local method=$1 path=$2 want=$3 status
  shift 3
  if ! status=$(curl -sS -o "$body" -w '%{http_code}' --max-time 10 -X "$method" "$@" "$base$path"); then
    echo "smoke: FAILED: $method $path: no HTTP response (curl exit above)" >&2
    return 1
  fi
  if [[ $status != "$want" ]]; then
    echo "smoke: FAILED: $method $path: HTTP $status, want $want: $(head -c 500 "$body")" >&2
    return 1
  fi
  cat "$body"
}

created=$(call POST /gifts 201 -H 'Content-Type: application/json' \
  --data "$(jq -cn --arg m "$label" '{amount: 1, message: $m}')")
id=$(jq -er '.gift_id' <<<"$created")
echo "smoke: created gift $id ($(jq -r .status <<<"$created"))"

key="smoke-$id"
accepted=$(call POST "/gifts/$id/send" 202 -H "Idempotency-Key: $key")
echo "smoke: send accepted ($(jq -r .status <<<"$accepted"))"

deadline=$((SECONDS + timeout))
status=''
while :; do
  gift=$(call GET "/gifts/$id" 200)
  now=$(jq -r .status <<<"$gift")
  [[ $now == "$status" ]] || echo "smoke: gift $id status $now"
  status=$now
  case $status in
    SENT)
      echo "smoke: PASSED: gift $id created, sent and SENT"
      exit 0
      ;;
    FAILED)
      echo "smoke: FAILED: gift $id is FAILED: $(jq -r '.last_error // "no last_error"' <<<"$gift")" >&2
      exit 1
      ;;
  esac
  if ((SECONDS >= deadline)); then
    echo "smoke: FAILED: gift $id not SENT within ${timeout}s (status $status): is the worker consuming? (docs/deploy.md)" >&2
    exit 1
  fi
  sleep "$interval"
done
