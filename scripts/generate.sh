#!/usr/bin/env bash
# Regenerates every file derived from openapi.yaml with the pinned oapi-codegen (api-svc/go.mod
# `tool` directive): the server stubs + models + embedded spec in api-svc, the Go client in shared;
# and with the pinned openapi-typescript (package-lock.json) the TypeScript types of sdk/typescript.
set -euo pipefail
cd "$(dirname "$0")/.."
gen() { # gen CONFIG_DIR
  (cd "$1" && go tool oapi-codegen -config oapi-codegen.yaml "$OLDPWD/openapi.yaml")
}
gen api-svc/internal/httpapi
gen shared/giftclient
scripts/npm-deps.sh
npx --no-install openapi-typescript openapi.yaml -o sdk/typescript/schema.d.ts
