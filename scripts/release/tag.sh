#!/usr/bin/env bash
# tag.sh: create the release tags of this commit (HEAD), each with a changelog from the commits
# since the previous tag of the same component, and push them together (all or none).
#
# Versions come from the environment, X.Y.Z each; an empty one releases nothing for that component:
#   MODULES_VERSION  -> modules-vX.Y.Z     Terraform modules (modules/): what live/<env>/env.hcl pins
#   SHARED_VERSION   -> shared/vX.Y.Z      Go module shared (the tag form Go expects for a module in
#   API_VERSION      -> api-svc/vX.Y.Z     a subdirectory: <dir>/vX.Y.Z)
#   WORKER_VERSION   -> worker-svc/vX.Y.Z
# REMOTE (default origin) is where the tags go; NOTES_DIR (default: a temporary directory) receives
# one <tag>.md of release notes per tag, for `gh release create --notes-file`.
# Refuses: a malformed version, a Go module major version >= 2 (its module path would need /vN),
# a tag that exists, a version not above the component's latest tag, a component with no commit
# since its latest tag. Used by .github/workflows/release.yml; docs/release.md.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
remote=${REMOTE:-origin}
notes=${NOTES_DIR:-$(mktemp -d)}
mkdir -p "$notes"

# component: NAME TAG_PREFIX VERSION_VARIABLE PATHS...
components=(
  "modules|modules-v|MODULES_VERSION|modules"
  "shared|shared/v|SHARED_VERSION|shared"
  "api-svc|api-svc/v|API_VERSION|api-svc shared"
  "worker-svc|worker-svc/v|WORKER_VERSION|worker-svc shared"
)

err() {
  echo "release: $*" >&2
  exit 1
}

git fetch --quiet --tags "$remote"
tags=() pushed=false
# A refusal after some tags were created here removes them: all or none.
trap '$pushed || ((${#tags[@]} == 0)) || git tag -d "${tags[@]}" >/dev/null' EXIT
for c in "${components[@]}"; do
  IFS='|' read -r name prefix var paths <<<"$c"
  version=${!var:-}
  [[ -n $version ]] || continue
  [[ $version =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || err "$var=$version is not X.Y.Z"
  if [[ $name != modules ]] && ((BASH_REMATCH[1] >= 2)); then
    err "$name v$version: a Go module at major version 2 or more needs the /v${BASH_REMATCH[1]} suffix in its module path first"
  fi
  tag="$prefix$version"
  git rev-parse -q --verify "refs/tags/$tag" >/dev/null && err "tag $tag exists already"
  prev=$(git tag -l "$prefix*" --sort=-v:refname | grep -E "^${prefix}[0-9]+\.[0-9]+\.[0-9]+$" | head -1 || true)
  if [[ -n $prev ]]; then
    highest=$(printf '%s\n%s\n' "${prev#"$prefix"}" "$version" | sort -V | tail -1)
    [[ $highest == "$version" && ${prev#"$prefix"} != "$version" ]] || err "$tag is not above the latest $prev"
  fi
  # shellcheck disable=SC2086 # paths is a space-separated list of directories
  changes=$(git log --no-merges --format='- %s (%h)' ${prev:+"$prev"..}HEAD -- $paths)
  [[ -n $changes ]] || err "$name: no commit touches $paths since $prev: nothing to release"
  {
    echo "$tag"
    echo
    echo "Changes in $paths since ${prev:-the first commit}:"
    echo
    echo "$changes"
  } >"$notes/${tag//\//-}.md"
  git tag -a "$tag" -F "$notes/${tag//\//-}.md"
  tags+=("$tag")
  echo "release: $tag on $(git rev-parse --short HEAD) (previous: ${prev:-none}, $(wc -l <<<"$changes") commits)"
done

((${#tags[@]} > 0)) || err "no version given: set at least one of MODULES_VERSION, SHARED_VERSION, API_VERSION, WORKER_VERSION"
git push --quiet --atomic "$remote" "${tags[@]/#/refs/tags/}" ||
  err "pushing ${tags[*]} to $remote failed; no tag was created there"
pushed=true
printf '%s\n' "${tags[@]}" >"$notes/tags.txt"
echo "release: pushed ${tags[*]}; notes in $notes"
