#!/usr/bin/env bash
# lock-providers.sh: writes the provider lock file (.terraform.lock.hcl) of every module under
# modules/ with `terraform providers lock` (the registry's hashes for every platform below), then
# copies each module's lock file into every live/<env>/<unit>/ whose unit uses that module:
# Terragrunt copies the lock file of the unit directory into its working directory and back, so a
# plan and the later apply install the same provider releases. Needs the Terraform registry
# (run by .github/workflows/provider-locks.yml; docs/infrastructure.md, "Provider lock files").
# SKIP_LOCK=1 only copies (the existing module lock files): what the offline test runs.
set -euo pipefail
cd "$(dirname "$0")/.."
platforms=(-platform=linux_amd64 -platform=linux_arm64 -platform=darwin_amd64 -platform=darwin_arm64)

if [[ ${SKIP_LOCK:-} != 1 ]]; then
  for dir in modules/*/; do
    echo "lock-providers: ${dir%/}"
    terraform -chdir="$dir" providers lock "${platforms[@]}" >/dev/null
  done
fi

copied=0
for common in live/_envcommon/*.hcl; do
  unit=$(basename "$common" .hcl)
  module=$(sed -n 's|.*//modules/\([A-Za-z0-9_-]*\).*|\1|p' "$common" | head -1)
  if [[ -z $module || ! -f modules/$module/.terraform.lock.hcl ]]; then
    echo "lock-providers: $common names no module with a lock file (modules/${module:-?})" >&2
    exit 1
  fi
  for unit_dir in live/*/"$unit"/; do
    [[ -f $unit_dir/terragrunt.hcl ]] || continue
    cp "modules/$module/.terraform.lock.hcl" "$unit_dir/.terraform.lock.hcl"
    copied=$((copied + 1))
  done
done
echo "lock-providers: $copied unit lock files written"
