#!/usr/bin/env bash
# actionlint over .github/workflows, with shellcheck checking every `run:` script, then shellcheck
# over the repository's own shell scripts. shellcheck comes from the OS packages (Debian/Ubuntu:
# installed here when missing and apt-get can run; GitHub's ubuntu runners already have it).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v shellcheck >/dev/null; then
  sudo=()
  ((EUID == 0)) || sudo=(sudo -n)
  if command -v apt-get >/dev/null; then
    echo "lint-workflows: installing shellcheck (apt-get)" >&2
    "${sudo[@]}" apt-get install -y -q shellcheck >/dev/null ||
      { "${sudo[@]}" apt-get update -q >/dev/null && "${sudo[@]}" apt-get install -y -q shellcheck >/dev/null; }
  fi
  command -v shellcheck >/dev/null ||
    { echo "lint-workflows: shellcheck is required: install it (apt-get install shellcheck, brew install shellcheck)" >&2; exit 1; }
fi

scripts/tool.sh actionlint -color=false -shellcheck "$(command -v shellcheck)"
mapfile -t scripts < <(git ls-files '*.sh' .ci/run 'scripts/deploy/testdata/bin/*')
shellcheck "${scripts[@]}"
echo "lint-workflows: actionlint and shellcheck clean (${#scripts[@]} scripts)"
