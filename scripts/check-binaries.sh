#!/usr/bin/env bash
# No compiled binary is tracked in git: build outputs belong in .local/ (ignored), images in ECR.
# Recognises executables and libraries by their magic bytes (ELF, Mach-O, PE), whatever their name.
set -euo pipefail
cd "$(dirname "$0")/.."

found=()
while IFS= read -r -d '' path; do
  [[ -f $path && ! -L $path ]] || continue
  magic=$(head -c 4 -- "$path" | od -An -tx1 | tr -d ' \n')
  case $magic in
    7f454c46 | cffaedfe | cefaedfe | feedfacf | feedface | cafebabe | 4d5a*) found+=("$path") ;;
  esac
done < <(git ls-files -z)

if ((${#found[@]})); then
  echo "check-binaries: compiled binaries are tracked in git; remove them (git rm --cached) and build into .local/:" >&2
  printf '  %s\n' "${found[@]}" >&2
  exit 1
fi
echo "check-binaries: no compiled binary is tracked ($(git ls-files | wc -l) files)"
