#!/usr/bin/env bash
# wait-rollout.sh CLUSTER TIMEOUT_SECONDS SERVICE=TASK_DEFINITION_ARN...
#
# Waits until every SERVICE has rolled out its TASK_DEFINITION_ARN, and says how it ended. Unlike
# `aws ecs wait services-stable` (10 minutes, then exit 255 whatever happened) it reads what ECS
# says about the deployment itself:
#   - the deployment of TASK_DEFINITION_ARN is PRIMARY with rolloutState COMPLETED: completed;
#   - it has rolloutState FAILED, or a newer PRIMARY deployment replaced it, or a service event
#     says it failed (the deployment circuit breaker, which then rolls the service back to the
#     last completed deployment): rolled back;
#   - neither within TIMEOUT_SECONDS: timed out.
#
# Exit status: 0 completed (every service), 3 rolled back (at least one service; printed at once,
# the others are not waited for), 4 timed out, 2 usage or AWS CLI error.
# POLL_INTERVAL (seconds, default 15) spaces the describe-services calls.
# Uses: aws ecs describe-services (allowed to the CI deploy role), jq. docs/deploy.md explains the
# outcomes and what to do about each.
set -euo pipefail

readonly EXIT_COMPLETED=0 EXIT_USAGE=2 EXIT_ROLLED_BACK=3 EXIT_TIMED_OUT=4

usage() {
  echo "usage: wait-rollout.sh CLUSTER TIMEOUT_SECONDS SERVICE=TASK_DEFINITION_ARN..." >&2
  exit "$EXIT_USAGE"
}

(($# >= 3)) || usage
cluster=$1 timeout=$2
shift 2
[[ $timeout =~ ^[0-9]+$ ]] || usage
interval=${POLL_INTERVAL:-15}
[[ $interval =~ ^[0-9]+$ ]] || usage

services=() wants='{}'
for pair in "$@"; do
  [[ $pair == ?*=?* ]] || usage
  services+=("${pair%%=*}")
  wants=$(jq -c --arg s "${pair%%=*}" --arg td "${pair#*=}" '. + {($s): $td}' <<<"$wants")
done

# One line per service: SERVICE STATE DEPLOYMENT_ID DETAIL, STATE being completed, rolled_back or
# in_progress. The deployment of interest runs the wanted task definition; its id (remembered in
# $seen once observed, since ECS drops a rolled-back deployment from the list) is what the circuit
# breaker's events name: "(deployment ecs-svc/123) deployment failed: tasks failed to start."
# shellcheck disable=SC2016 # a jq program: its $names are jq's, not the shell's
readonly JQ_STATE='
  .services[] as $s
  | ($wants[$s.serviceName]) as $want
  | select($want != null)
  | ($s.deployments // []) as $deps
  | ([$deps[] | select(.status == "PRIMARY")][0]) as $primary
  | ([$deps[] | select(.taskDefinition == $want)][0]) as $mine
  | ($mine.id // $seen[$s.serviceName] // "-") as $id
  | ([($s.events // [])[] | .message
       | select($id != "-" and contains("(deployment " + $id + ")") and contains("deployment failed"))][0]) as $failed_event
  | if $mine != null and $mine.status == "PRIMARY" and $mine.rolloutState == "COMPLETED" then
      [$s.serviceName, "completed", $id, ($want + " running " + ($mine.runningCount | tostring) + "/" + ($mine.desiredCount | tostring))]
    elif $mine != null and $mine.rolloutState == "FAILED" then
      [$s.serviceName, "rolled_back", $id, ($mine.rolloutStateReason // $failed_event // "rolloutState FAILED")]
    elif $failed_event != null then
      [$s.serviceName, "rolled_back", $id, $failed_event]
    elif $mine == null and $primary != null then
      [$s.serviceName, "rolled_back", $id, ("no deployment of " + $want + " any more; the PRIMARY one runs " + $primary.taskDefinition)]
    else
      [$s.serviceName, "in_progress", $id, (if $mine == null then "no deployment of " + $want + " yet"
        else ($mine.rolloutState // "?") + " running " + ($mine.runningCount | tostring) + "/"
          + ($mine.desiredCount | tostring) + " pending " + (($mine.pendingCount // 0) | tostring) end)]
    end
  | @tsv'

deadline=$(($(date +%s) + timeout))
last='' seen='{}'
while :; do
  if ! out=$(aws ecs describe-services --cluster "$cluster" --services "${services[@]}" --output json); then
    echo "wait-rollout: aws ecs describe-services failed" >&2
    exit "$EXIT_USAGE"
  fi
  missing=$(jq -r --argjson wants "$wants" '($wants | keys) - [.services[].serviceName] | join(" ")' <<<"$out")
  if [[ -n $missing ]]; then
    echo "wait-rollout: no such service in cluster $cluster: $missing" >&2
    jq -c '.failures // empty' <<<"$out" >&2
    exit "$EXIT_USAGE"
  fi
  states=$(jq -r --argjson wants "$wants" --argjson seen "$seen" "$JQ_STATE" <<<"$out")
  seen=$(awk -F'\t' '$3 != "-" {print $1 "\t" $3}' <<<"$states" |
    jq -R -s -c --argjson seen "$seen" '$seen + ([split("\n")[] | select(. != "") | split("\t") | {(.[0]): .[1]}] | add // {})')
  if [[ $states != "$last" ]]; then
    printf '%s\n' "$states" | sed 's/^/wait-rollout: /'
    last=$states
  fi

  rolled_back=$(awk -F'\t' '$2 == "rolled_back"' <<<"$states")
  if [[ -n $rolled_back ]]; then
    while IFS=$'\t' read -r svc _ _ detail; do
      echo "wait-rollout: ROLLED BACK: $svc did not complete its deployment ($detail); the circuit breaker returns it to the last completed deployment" >&2
    done <<<"$rolled_back"
    exit "$EXIT_ROLLED_BACK"
  fi
  if ! awk -F'\t' '$2 != "completed" {found=1} END {exit !found}' <<<"$states"; then
    echo "wait-rollout: COMPLETED: ${services[*]}"
    exit "$EXIT_COMPLETED"
  fi
  if (($(date +%s) >= deadline)); then
    awk -F'\t' '$2 != "completed"' <<<"$states" | while IFS=$'\t' read -r svc _ _ detail; do
      echo "wait-rollout: TIMED OUT after ${timeout}s: $svc still in progress ($detail)" >&2
    done
    exit "$EXIT_TIMED_OUT"
  fi
  sleep "$interval"
done
