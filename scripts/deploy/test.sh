#!/usr/bin/env bash
# Offline tests of the deploy scripts: wait-rollout.sh against describe-services responses
# for each outcome (testdata/describe-services/<case>/NN.json, README there; replayed in order by the
# fake `aws` in testdata/bin), and smoke.sh against a local stand-in of the public API
# (testdata/fake-api.mjs) for its failures (the key's among them: none, malformed, unknown), the
# real local stack (devkit/cmd/devstack, with a key issued by testdata/issuekey) for its pass.
# Run by `make test` (test-deploy).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PATH="$here/testdata/bin:$PATH"
failures=0

fail() {
  echo "FAIL $1: $2" >&2
  failures=$((failures + 1))
}

API=arn:aws:ecs:ap-northeast-1:111111111111:task-definition/gift-dev-api:42
WORKER=arn:aws:ecs:ap-northeast-1:111111111111:task-definition/gift-dev-worker:38

# wait_case NAME FIXTURES TIMEOUT WANT_EXIT WANT_CALLS WANT_OUTPUT...
wait_case() {
  local name=$1 fixtures=$2 timeout=$3 want_exit=$4 want_calls=$5 before=$failures
  shift 5
  export FAKE_AWS_FIXTURES="$here/testdata/describe-services/$fixtures" FAKE_AWS_LOG="$tmp/$name.calls"
  : >"$FAKE_AWS_LOG"
  local got=0
  # timeout(1): a broken deadline must fail the test, not hang it.
  POLL_INTERVAL=0 timeout 60 "$here/wait-rollout.sh" gift-dev "$timeout" \
    "gift-dev-api=$API" "gift-dev-worker=$WORKER" >"$tmp/$name.out" 2>&1 || got=$?
  [[ $got == "$want_exit" ]] || fail "$name" "exit $got, want $want_exit; output:$(printf '\n%s' "$(cat "$tmp/$name.out")")"
  local calls
  calls=$(wc -l <"$FAKE_AWS_LOG")
  [[ $calls == "$want_calls" ]] || fail "$name" "$calls describe-services calls, want $want_calls"
  grep -qx 'ecs describe-services --cluster gift-dev --services gift-dev-api gift-dev-worker --output json' "$FAKE_AWS_LOG" ||
    fail "$name" "describe-services not called as expected: $(head -1 "$FAKE_AWS_LOG")"
  local want
  for want in "$@"; do
    grep -qF -- "$want" "$tmp/$name.out" || fail "$name" "output lacks \"$want\":$(printf '\n%s' "$(cat "$tmp/$name.out")")"
  done
  ((failures > before)) || echo "ok   wait-rollout $name"
}

# Both services must complete: the API completes on the 2nd response, the worker on the 3rd.
wait_case completed completed 600 0 3 "COMPLETED: gift-dev-api gift-dev-worker"
# The circuit breaker marks the new API deployment FAILED and starts the rollback; the worker is
# still in progress and is not waited for.
wait_case rolled_back rolled_back 600 3 2 \
  "ROLLED BACK: gift-dev-api" "ECS deployment circuit breaker: tasks failed to start."
# The rollback already finished between two polls: the failed deployment is gone from the list,
# the event that names its id (seen on the first poll) says why.
wait_case rolled_back_gone rolled_back_gone 600 3 2 \
  "ROLLED BACK: gift-dev-api" "(deployment ecs-svc/2001) deployment failed: tasks failed to start."
# The worker never finishes: one poll, the deadline (0 s) has passed.
wait_case timed_out timed_out 0 4 1 "TIMED OUT after 0s: gift-dev-worker still in progress (IN_PROGRESS running 1/2 pending 1)"
wait_case missing_service missing_service 600 2 1 "no such service in cluster gift-dev: gift-dev-worker"

# render-task-definition.sh: the newest revision (testdata/task-definition/api.json, as
# describe-task-definition returns it) with the new image and version everywhere the version is
# written (environment, docker label, the FireLens log tags), nothing else changed, and none of the
# read-only fields register-task-definition refuses.
render_case() {
  local before=$failures out="$tmp/render.json"
  export FAKE_AWS_LOG="$tmp/render.calls" FAKE_AWS_TASK_DEFINITION="$here/testdata/task-definition/api.json"
  : >"$FAKE_AWS_LOG"
  if ! "$here/render-task-definition.sh" gift-dev-api "registry/gift-dev/api:abc1234" abc1234 >"$out" 2>"$tmp/render.err"; then
    fail render "exit non-zero: $(cat "$tmp/render.err")"
    unset FAKE_AWS_TASK_DEFINITION
    return
  fi
  unset FAKE_AWS_TASK_DEFINITION
  local check
  for check in \
    '.containerDefinitions[0].image == "registry/gift-dev/api:abc1234"' \
    '[.containerDefinitions[0].environment[] | select(.name == "DD_VERSION") | .value] == ["abc1234"]' \
    '.containerDefinitions[0].dockerLabels["com.datadoghq.tags.version"] == "abc1234"' \
    '.containerDefinitions[0].logConfiguration.options.dd_tags == "env:dev,version:abc1234"' \
    '.containerDefinitions[1].image == "public.ecr.aws/datadog/agent:7"' \
    '.containerDefinitions[1].logConfiguration.options == {"awslogs-group": "/ecs/gift-dev/api"}' \
    '.containerDefinitions[1].environment == [{"name": "DD_ENV", "value": "dev"}]' \
    '[has("taskDefinitionArn", "revision", "status", "registeredAt", "registeredBy", "requiresAttributes", "compatibilities")] | any | not' \
    '.family == "gift-dev-api" and .cpu == "512" and .taskRoleArn == "arn:aws:iam::111111111111:role/gift-dev-api-task"'; do
    [[ $(jq "$check" "$out") == true ]] || fail render "not true: $check; got:$(printf '\n%s' "$(cat "$out")")"
  done
  ((failures > before)) || echo "ok   render-task-definition"
}
render_case

# smoke.sh, passing: against the real local stack (devstack: PostgreSQL, the SQS emulator, the
# API and the worker built from this tree), on free ports so that it runs beside `make run`, with
# a key of the client smoke-local issued on the stack's database as an operator would
# (testdata/issuekey, connected as the stack's gift_operator).
# All four ports are held open together while they are chosen: ports taken one at a time, each
# released before the next is asked for, can come back twice (the API once got the emulator's).
free_ports() {
  node -e '
    const net = require("net");
    const servers = [];
    for (let i = 0; i < Number(process.argv[1]); i++) servers.push(net.createServer().listen(0, "127.0.0.1"));
    Promise.all(servers.map((s) => new Promise((ok) => s.on("listening", ok)))).then(() => {
      console.log(servers.map((s) => s.address().port).join(" "));
      servers.forEach((s) => s.close());
    });' "$1"
}

smoke_real_stack() {
  local root api_port pg_port sqs_port health_port log="$tmp/devstack.log"
  root=$(cd "$here/../.." && pwd)
  read -r api_port pg_port sqs_port health_port < <(free_ports 4)
  (cd "$root" && go build -o "$tmp/devstack" ./devkit/cmd/devstack &&
    go build -o "$tmp/issuekey" ./scripts/deploy/testdata/issuekey/main.go)
  DEVSTACK_STATE_DIR="$tmp/stack" DEVSTACK_PG_PORT=$pg_port SQS_EMULATOR_PORT=$sqs_port \
    API_PORT=$api_port WORKER_HEALTH_ADDR="127.0.0.1:$health_port" "$tmp/devstack" >"$log" 2>&1 &
  local pid=$! deadline=$((SECONDS + 180))
  until curl -fsS -o /dev/null "http://127.0.0.1:$api_port/readyz" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      fail "smoke real_stack" "the local stack did not become ready:$(printf '\n%s' "$(tail -20 "$log")")"
      kill "$pid" 2>/dev/null || true
      return
    fi
    sleep 0.5
  done
  local got=0 key
  if ! key=$(DATABASE_URL=$(sed -n 's/^DATABASE_URL=//p' "$tmp/stack/giftctl.env") "$tmp/issuekey" 2>"$tmp/issuekey.err"); then
    fail "smoke real_stack" "could not issue an API key: $(cat "$tmp/issuekey.err")"
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return
  fi
  SMOKE_API_KEY=$key SMOKE_POLL_INTERVAL=0.2 SMOKE_TIMEOUT=60 "$here/smoke.sh" "http://127.0.0.1:$api_port" >"$tmp/real.out" 2>&1 || got=$?
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [[ $got != 0 ]] || ! grep -qF "smoke: PASSED" "$tmp/real.out" || ! grep -qF "status SENT" "$tmp/real.out"; then
    fail "smoke real_stack" "exit $got, want 0 and PASSED:$(printf '\n%s' "$(cat "$tmp/real.out")")"
    return
  fi
  if grep -qF -- "$key" "$tmp/real.out"; then
    fail "smoke real_stack" "the output shows the API key"
    return
  fi
  echo "ok   smoke real_stack"
}
smoke_real_stack

# smoke.sh, failing: a gift that stays QUEUED (no worker) fails when its deadline passes; an API
# that answers 500 fails at once; a key the API does not know fails on the first call (401); no
# key, or a value that is not a key, fails before any call. A small stand-in of the API
# (testdata/fake-api.mjs) plays each; it answers 401 to any request without the right key and
# logs every request, so each case also proves that every call carried the key.
key_a=gk_0123abcd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
key_b=gk_4567cdef_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB

# smoke_case NAME MODE SMOKE_API_KEY WANT_EXIT TIMEOUT WANT_REQUESTS WANT_OUTPUT...: the fake API
# accepts key_a only; WANT_REQUESTS is the number of requests it must have received, all of them
# authorized unless the key given is not key_a.
smoke_case() {
  local name=$1 mode=$2 key=$3 want_exit=$4 timeout=$5 want_requests=$6
  shift 6
  local port_file="$tmp/$name.port" requests="$tmp/$name.requests"
  : >"$requests"
  FAKE_API_MODE=$mode FAKE_API_KEY=$key_a node "$here/testdata/fake-api.mjs" "$port_file" "$requests" >"$tmp/$name.api.log" 2>&1 &
  local pid=$! deadline=$((SECONDS + 10))
  until [[ -s $port_file ]]; do
    if ((SECONDS >= deadline)); then
      fail "smoke $name" "fake API did not start: $(cat "$tmp/$name.api.log")"
      kill "$pid" 2>/dev/null || true
      return
    fi
    sleep 0.1
  done
  local got=0
  SMOKE_API_KEY=$key SMOKE_TIMEOUT=$timeout SMOKE_POLL_INTERVAL=0 \
    "$here/smoke.sh" "http://127.0.0.1:$(cat "$port_file")" >"$tmp/$name.out" 2>&1 || got=$?
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local before=$failures
  [[ $got == "$want_exit" ]] || fail "smoke $name" "exit $got, want $want_exit; output:$(printf '\n%s' "$(cat "$tmp/$name.out")")"
  local want
  for want in "$@"; do
    grep -qF -- "$want" "$tmp/$name.out" || fail "smoke $name" "output lacks \"$want\":$(printf '\n%s' "$(cat "$tmp/$name.out")")"
  done
  local n
  n=$(wc -l <"$requests")
  if [[ $want_requests == many ]]; then
    ((n > 2)) || fail "smoke $name" "$n requests reached the API, want more than 2"
  else
    [[ $n == "$want_requests" ]] || fail "smoke $name" "$n requests reached the API, want $want_requests:$(printf '\n%s' "$(cat "$requests")")"
  fi
  if [[ $key == "$key_a" ]] && grep -v ' authorized$' "$requests" >"$tmp/$name.unauthorized"; then
    fail "smoke $name" "requests without the key:$(printf '\n%s' "$(cat "$tmp/$name.unauthorized")")"
  fi
  local shown=${key%%$'\n'*} # grep -F reads each line of a pattern as a pattern of its own
  if [[ -n $shown ]] && grep -qF -- "$shown" "$tmp/$name.out"; then
    fail "smoke $name" "the output shows the API key"
  fi
  ((failures > before)) || echo "ok   smoke $name"
}

smoke_case stuck stuck "$key_a" 1 0 many "status QUEUED" "not SENT within 0s"
smoke_case broken broken "$key_a" 1 30 1 "POST /gifts: HTTP 500, want 201"
smoke_case wrong_key stuck "$key_b" 1 30 1 "POST /gifts: HTTP 401, want 201" "API_KEY_INVALID"
smoke_case no_key stuck "" 2 30 0 "SMOKE_API_KEY is not set"
smoke_case not_a_key stuck "Bearer $key_a" 2 30 0 "SMOKE_API_KEY is not a Gift API key"
smoke_case key_with_newline stuck "$key_a
" 2 30 0 "SMOKE_API_KEY is not a Gift API key"

if ((failures > 0)); then
  echo "scripts/deploy/test.sh: $failures failure(s)" >&2
  exit 1
fi
echo "scripts/deploy/test.sh: all passed"
