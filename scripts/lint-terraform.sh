#!/usr/bin/env bash
# Offline checks of the infrastructure code (make lint-terraform):
#   1. terraform fmt -check on modules/
#   2. canonical HCL format and wiring of live/ against modules/, and every link into
#      docs/runbook.md names an existing heading (tools/iaccheck; make test-iac
#      runs the same checks plus the tests proving each can fail)
#   3. tflint, bundled terraform ruleset with every rule on, once per module (zero findings)
#   4. trivy config on modules/: zero HIGH/CRITICAL findings; accepted ones are suppressed inline
#      next to the resource with the reason (#trivy:ignore:ID)
# tflint and trivy are the pinned builds of scripts/tool.sh; nothing is downloaded at check time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '== %s\n' "$*"; }

step "terraform fmt -check -recursive modules/"
if ! command -v terraform >/dev/null; then
  echo "lint-terraform: terraform is not on PATH (CI installs 1.11.4; see .github/workflows/pr.yml)" >&2
  exit 1
fi
# TF_CLI_CONFIG_FILE may point at a missing file on this machine; fmt needs no CLI config.
env -u TF_CLI_CONFIG_FILE terraform fmt -check -recursive -diff modules/

step "HCL format and wiring of live/ (tools/iaccheck)"
(cd tools/iaccheck && GOWORK=off go run ./cmd/iaccheck -root "$root")

step "tflint (terraform ruleset, preset all) per module"
tflint=$(scripts/tool.sh --path tflint)
failed=0 count=0
for dir in modules/*/; do
  count=$((count + 1))
  if ! "$tflint" --chdir="$dir" --config="$root/.tflint.hcl" --format=compact; then
    echo "lint-terraform: tflint findings in $dir" >&2
    failed=1
  fi
done
[[ $failed == 0 ]] || exit 1
echo "tflint: $count modules, no findings"

step "trivy config --severity HIGH,CRITICAL modules/"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
scripts/tool.sh trivy config --skip-check-update --exit-code 1 --severity HIGH,CRITICAL -q modules/ >"$out" 2>&1 || {
  cat "$out" >&2
  echo "lint-terraform: trivy found HIGH/CRITICAL misconfigurations (fix, or suppress inline with the reason)" >&2
  exit 1
}
echo "trivy: no HIGH/CRITICAL findings"
