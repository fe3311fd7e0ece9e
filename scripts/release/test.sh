#!/usr/bin/env bash
# Offline tests of the release scripts against throwaway git repositories (a bare one stands in
# for GitHub): tag.sh tags, writes the changelog and pushes all tags or none; check-modules-ref.sh
# accepts existing refs and explains a missing one. Run by `make test` (test-release).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL $1: $2" >&2
  failures=$((failures + 1))
}
export GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.com GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@example.com
export GIT_CONFIG_NOSYSTEM=1 HOME=$tmp

git init -q --bare "$tmp/remote.git"
git init -q -b main "$tmp/work"
cd "$tmp/work"
git remote add origin "$tmp/remote.git"
commit() { # FILE MESSAGE
  mkdir -p "$(dirname "$1")"
  echo "$2" >>"$1"
  git add "$1"
  git commit -q -m "$2"
}
commit modules/sqs/main.tf "sqs: a queue"
commit shared/go.mod "shared: first module"
commit api-svc/go.mod "api: first module"
git push -q origin main

# run NAME WANT_EXIT [VAR=VALUE...] -- runs tag.sh with the variables, checks its exit status.
run() {
  local name=$1 want=$2 got=0
  shift 2
  env MODULES_VERSION= SHARED_VERSION= API_VERSION= WORKER_VERSION= NOTES_DIR="$tmp/notes-$name" "$@" \
    "$here/tag.sh" >"$tmp/$name.out" 2>&1 || got=$?
  [[ $got == "$want" ]] || fail "$name" "exit $got, want $want:$(printf '\n%s' "$(cat "$tmp/$name.out")")"
}
remote_tags() { git ls-remote --tags --refs origin | sed 's|.*refs/tags/||' | sort | tr '\n' ' '; }
expect_output() { # NAME TEXT
  grep -qF -- "$2" "$tmp/$1.out" || fail "$1" "output lacks \"$2\":$(printf '\n%s' "$(cat "$tmp/$1.out")")"
}

run first 0 MODULES_VERSION=0.1.0 SHARED_VERSION=0.1.0 API_VERSION=1.0.0
[[ $(remote_tags) == "api-svc/v1.0.0 modules-v0.1.0 shared/v0.1.0 " ]] || fail first "remote tags: $(remote_tags)"
grep -qF -- "- sqs: a queue (" "$tmp/notes-first/modules-v0.1.0.md" || fail first "modules notes lack the sqs commit"
grep -qF -- "api: first module" "$tmp/notes-first/modules-v0.1.0.md" && fail first "modules notes list an api commit"
grep -qF -- "shared: first module" "$tmp/notes-first/api-svc-v1.0.0.md" || fail first "api notes lack the shared change it builds with"
[[ $(git cat-file -t modules-v0.1.0) == tag ]] || fail first "modules-v0.1.0 is not an annotated tag"

commit modules/sqs/main.tf "sqs: longer retention"
run again 1 MODULES_VERSION=0.1.0
expect_output again "tag modules-v0.1.0 exists already"
run lower 1 MODULES_VERSION=0.0.9
expect_output lower "modules-v0.0.9 is not above the latest modules-v0.1.0"
run unchanged 1 SHARED_VERSION=0.2.0
expect_output unchanged "shared: no commit touches shared since shared/v0.1.0"
run major 1 SHARED_VERSION=2.0.0
expect_output major "needs the /v2 suffix"
run malformed 1 MODULES_VERSION=v0.2
expect_output malformed "MODULES_VERSION=v0.2 is not X.Y.Z"
run nothing 1
expect_output nothing "no version given"
# All or none: a valid modules tag and a refused shared tag push nothing and leave no local tag.
run partial 1 MODULES_VERSION=0.2.0 SHARED_VERSION=0.2.0
git rev-parse -q --verify refs/tags/modules-v0.2.0 >/dev/null && fail partial "left the local tag modules-v0.2.0"
[[ $(remote_tags) == "api-svc/v1.0.0 modules-v0.1.0 shared/v0.1.0 " ]] || fail partial "remote tags changed: $(remote_tags)"
run second 0 MODULES_VERSION=0.2.0
grep -qF -- "Changes in modules since modules-v0.1.0" "$tmp/notes-second/modules-v0.2.0.md" || fail second "notes do not start at the previous tag"
grep -qF -- "sqs: longer retention" "$tmp/notes-second/modules-v0.2.0.md" || fail second "notes lack the new commit"
grep -qF -- "sqs: a queue" "$tmp/notes-second/modules-v0.2.0.md" && fail second "notes repeat a released commit"
((failures > 0)) || echo "ok   release tag.sh"

# check-modules-ref.sh: dev on a branch, prod on a tag; then prod on a missing tag.
before=$failures
mkdir -p "$tmp/live/dev" "$tmp/live/prod"
echo '  modules_ref    = "main"' >"$tmp/live/dev/env.hcl"
echo '  modules_ref    = "modules-v0.2.0"' >"$tmp/live/prod/env.hcl"
LIVE_DIR="$tmp/live" "$here/check-modules-ref.sh" dev prod >"$tmp/ref-ok.out" 2>&1 ||
  fail check-modules-ref "existing refs refused:$(printf '\n%s' "$(cat "$tmp/ref-ok.out")")"
echo '  modules_ref    = "modules-v0.3.0"' >"$tmp/live/prod/env.hcl"
if LIVE_DIR="$tmp/live" "$here/check-modules-ref.sh" dev prod >"$tmp/ref-missing.out" 2>&1; then
  fail check-modules-ref "a missing tag passed"
fi
for want in 'prod pins modules_ref = "modules-v0.3.0", but the repository has no tag modules-v0.3.0' \
  'modules_version = 0.3.0' '(latest: modules-v0.2.0)'; do
  grep -qF -- "$want" "$tmp/ref-missing.out" ||
    fail check-modules-ref "the message lacks \"$want\":$(printf '\n%s' "$(cat "$tmp/ref-missing.out")")"
done
echo '  modules_ref    = "feature-x"' >"$tmp/live/dev/env.hcl"
LIVE_DIR="$tmp/live" "$here/check-modules-ref.sh" dev >/dev/null 2>&1 && fail check-modules-ref "a missing branch passed"
((failures > before)) || echo "ok   release check-modules-ref.sh"

if ((failures > 0)); then
  echo "scripts/release/test.sh: $failures failure(s)" >&2
  exit 1
fi
echo "scripts/release/test.sh: all passed"
