#!/usr/bin/env bash
# check-modules-ref.sh ENV...
# Fails, with what to do, when the modules_ref that live/ENV/env.hcl pins does not exist on the
# repository: Terragrunt would otherwise fail deep in a git clone ("couldn't find remote ref").
# A ref named modules-v* must be a tag; any other (dev's "main") must be a branch.
# REMOTE (default origin) is the repository to ask (git ls-remote); LIVE_DIR (default live).
# Run by pr.yml before terragrunt plan, and by hand before an apply.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
remote=${REMOTE:-origin}
live=${LIVE_DIR:-live}
(($# > 0)) || { echo "usage: check-modules-ref.sh ENV..." >&2; exit 2; }
status=0
for env in "$@"; do
  file="$live/$env/env.hcl"
  ref=$(sed -n 's/^[[:space:]]*modules_ref[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
  if [[ -z $ref ]]; then
    echo "::error file=$file::no modules_ref = \"...\" in $file"
    status=1
    continue
  fi
  if [[ $ref == modules-v* ]]; then
    want="refs/tags/$ref" kind=tag
  else
    want="refs/heads/$ref" kind=branch
  fi
  if git ls-remote --exit-code "$remote" "$want" >/dev/null; then
    echo "check-modules-ref: $env pins modules_ref = $ref ($kind exists)"
    continue
  fi
  status=1
  if [[ $kind == tag ]]; then
    latest=$(git ls-remote --tags --refs "$remote" 'modules-v*' | sed 's|.*refs/tags/||' | sort -V | tail -1)
    echo "::error file=$file::$env pins modules_ref = \"$ref\", but the repository has no tag $ref, so terragrunt cannot download the modules. Either create it: Actions > release > Run workflow on main with modules_version = ${ref#modules-v} (tags the modules of main's HEAD; docs/release.md), or pin an existing tag in $file (latest: ${latest:-none})."
  else
    echo "::error file=$file::$env pins modules_ref = \"$ref\", which is neither a modules-v* tag nor a branch of the repository. dev follows main (modules_ref = \"main\"); other environments pin a modules-v* tag (docs/release.md)."
  fi
done
exit $status
