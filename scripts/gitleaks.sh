#!/usr/bin/env bash
# gitleaks (pinned: tools/gitleaks) over the working tree and over the whole git history, with its
# default rules (.gitleaks.toml: all of them; the tree scan skips .local/, make run's git-ignored
# state). Findings are printed redacted. An accepted finding (a test fixture that looks like a key)
# goes into .gitleaksignore as its fingerprint, preceded by a comment line with the date and
# the reason (docs/supply-chain.md); no rule is switched off globally.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/tool.sh --path gitleaks)
status=0
echo "== gitleaks dir (working tree)" >&2
"$bin" dir . --no-banner --redact --no-color || status=1
echo "== gitleaks git (every commit reachable from HEAD)" >&2
"$bin" git . --no-banner --redact --no-color || status=1
if ((status != 0)); then
  echo "gitleaks: secrets found (above): rotate the secret first, then remove it; see docs/supply-chain.md" >&2
fi
exit $status
