#!/usr/bin/env bash
# smoke.sh BASE_URL
#
# Post-deploy smoke check through the public endpoint, as a client sees the system (openapi.yaml):
# create a gift (201), ask for it to be sent (202), then read it until its status is SENT, which
# proves API, database, outbox relay, queue and worker work together on the new revisions.
# Fails (exit 1) on any unexpected HTTP status, on a FAILED gift, or when the gift is not SENT
# within SMOKE_TIMEOUT seconds (default 120). SMOKE_POLL_INTERVAL (default 2) spaces the reads.
# The gift is a real one with amount 1 and a message naming the run, so it can be told apart.
#
# Every call carries "Authorization: Bearer $SMOKE_API_KEY", the key of the environment's client
# smoke-<env> (deploy-env.yml reads it from Secrets Manager; docs/deploy.md, "The smoke check's API
# key"). Without a key, or with one that is not a Gift API key, it stops (exit 2) before any call.
# The key is never printed, and never put on a command line (ps would show it): curl reads the
# header from a file only this user can read.
# Uses: curl, jq. docs/deploy.md says what a failure means.
set -euo pipefail

(($# == 1)) || { echo "usage: SMOKE_API_KEY=gk_... smoke.sh BASE_URL" >&2; exit 2; }
base=${1%/}
timeout=${SMOKE_TIMEOUT:-120}
interval=${SMOKE_POLL_INTERVAL:-2}
label=${SMOKE_LABEL:-"deploy smoke $(date -u +%Y-%m-%dT%H:%M:%SZ)"}

if [[ -z ${SMOKE_API_KEY:-} ]]; then
  echo "smoke: FAILED: SMOKE_API_KEY is not set: the API answers 401 without a key (docs/deploy.md, \"The smoke check's API key\")" >&2
  exit 2
fi
# The format of shared/apikey: gk_, 8 lowercase hex digits, _, 43 base64url characters.
if [[ ! $SMOKE_API_KEY =~ ^gk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$ ]]; then
  echo "smoke: FAILED: SMOKE_API_KEY is not a Gift API key (gk_<8 hex digits>_<43 characters>, ${#SMOKE_API_KEY} characters given): is the secret's value the key alone, without quotes, JSON or a newline?" >&2
  exit 2
fi

body=$(mktemp)
auth=$(mktemp) # mode 0600
trap 'rm -f "$body" "$auth"' EXIT
printf 'Authorization: Bearer %s\n' "$SMOKE_API_KEY" >"$auth"

# call METHOD PATH WANT_STATUS [CURL_ARGS...]: prints the response body; fails on another status.
call() {
  local method=$1 path=$2 want=$3 status
  shift 3
  if ! status=$(curl -sS -o "$body" -w '%{http_code}' --max-time 10 -X "$method" -H "@$auth" "$@" "$base$path"); then
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
