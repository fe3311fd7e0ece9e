#!/usr/bin/env bash
# Fails on a breaking change of openapi.yaml against BASE_FILE (an earlier openapi.yaml), found by
# the pinned oasdiff, unless it is deliberate (docs/release.md): info.version's major number is
# above the base's, and each change (oasdiff id, operation, path) is listed in
# docs/contract-breaks/<new version>.txt. Used by scripts/lint-openapi.sh and the PR workflow.
#   usage: scripts/openapi-breaking.sh BASE_FILE
set -euo pipefail
cd "$(dirname "$0")/.."
base_file=${1:?usage: scripts/openapi-breaking.sh BASE_FILE}
report=$(mktemp)
trap 'rm -f "$report"' EXIT
version() { awk '/^info:/ { in_info = 1; next } in_info && /^  version:/ { print $2; exit }' "$1"; }
base_version=$(version "$base_file") new_version=$(version openapi.yaml)
scripts/tool.sh oasdiff breaking "$base_file" openapi.yaml -f json >"$report"
python3 - "$report" "$base_version" "$new_version" "docs/contract-breaks/$new_version.txt" <<'PY'
import json, os, sys

report, base, new, ack_file = sys.argv[1:5]
changes = sorted({f"{c['id']} {c.get('operation', '')} {c.get('path', '')}".strip()
                  for c in json.load(open(report)) or [] if c.get("level", 3) >= 3})  # 3: ERR
if not changes:
    print(f"openapi-breaking: no breaking change against {base}", file=sys.stderr)
    sys.exit(0)
listing = "\n".join("  " + c for c in changes)
if int(new.split(".")[0]) <= int(base.split(".")[0]):
    sys.exit(f"openapi-breaking: breaking changes against {base} without a new major version (info.version {new}):\n{listing}")
acked = set()
if os.path.exists(ack_file):
    acked = {l.strip() for l in open(ack_file) if l.strip() and not l.startswith("#")}
missing = [c for c in changes if c not in acked]
if missing:
    sys.exit(f"openapi-breaking: breaking changes of {new} not acknowledged in {ack_file}:\n" + "\n".join("  " + c for c in missing))
print(f"openapi-breaking: {len(changes)} breaking changes against {base}, each acknowledged in {ack_file} (major version {new})", file=sys.stderr)
PY
