# ecs-sre-gift-worker: every command a developer or CI needs. `make help` lists them.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# The four Go modules of the workspace (go.work), as package patterns.
GO_PKGS := ./shared/... ./devkit/... ./api-svc/... ./worker-svc/...

.PHONY: help
help: ## List the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-z][a-z-]*:.*## /{printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: deps ## Run the whole system locally in the foreground (API + worker + PostgreSQL + SQS emulator)
	@scripts/run-local.sh

.PHONY: test
test: deps test-go test-iac test-deploy test-release test-images ## Run every test (unit, integration, contract, IaC wiring, deploy and release scripts, image binaries)

.PHONY: test-go
test-go: ## Go tests of the three modules against a real PostgreSQL and the SQS emulator
	@scripts/test-go.sh

.PHONY: test-iac
test-iac: ## Offline checks of modules/ and live/ wiring (Go + hashicorp/hcl)
	cd tools/iaccheck && GOWORK=off go test -count=1 ./...

.PHONY: test-deploy
test-deploy: ## Deploy scripts offline: rollout wait on describe-services fixtures, smoke check on the local stack
	@scripts/deploy/test.sh

.PHONY: test-images
test-images: ## The images' binaries built by replaying the Dockerfiles (no Docker): static, small, healthcheck and --help run
	cd tools/imagecheck && GOWORK=off go test -count=1 ./...

.PHONY: test-release
test-release: ## Release scripts offline: tagging, changelogs, all-or-none push, modules_ref check
	@scripts/release/test.sh

.PHONY: lint
lint: deps lint-go lint-modules lint-binaries lint-openapi lint-generated lint-typescript lint-terraform lint-workflows lint-images lint-vulns lint-secrets ## Run every linter

.PHONY: lint-go
lint-go: ## gofmt + golangci-lint (pinned) over the workspace
	@scripts/lint-go.sh

.PHONY: lint-modules
lint-modules: ## Each Go module builds, vets and is tidy on its own (GOWORK=off)
	@scripts/check-modules.sh

.PHONY: lint-binaries
lint-binaries: ## Fail when a compiled binary is tracked in git
	@scripts/check-binaries.sh

.PHONY: lint-openapi
lint-openapi: ## Redocly lint of openapi.yaml and a breaking-change check against main
	@scripts/lint-openapi.sh

.PHONY: lint-generated
lint-generated: ## Fail when committed generated code differs from what openapi.yaml produces
	@scripts/check-generated.sh

.PHONY: lint-typescript
lint-typescript: deps ## tsc --strict over the TypeScript SDK proof (sdk/typescript: generated types + typed client)
	npx --no-install tsc -p sdk/typescript --strict --noEmit

.PHONY: lint-terraform
lint-terraform: ## terraform fmt, HCL fmt of live/, tflint and trivy config (all pinned, offline)
	@scripts/lint-terraform.sh

.PHONY: lint-workflows
lint-workflows: ## actionlint (with shellcheck on run: scripts) over .github/workflows, shellcheck over scripts
	@scripts/lint-workflows.sh

.PHONY: lint-images
lint-images: ## Dockerfiles and compose.yaml against the repository: COPY sources, build args, shipped binaries
	cd tools/imagecheck && GOWORK=off go run ./cmd/imagecheck

.PHONY: lint-vulns
lint-vulns: ## govulncheck (pinned, offline vulnerability DB built once per version) over every Go module but tools/
	@scripts/govulncheck.sh

.PHONY: lint-secrets
lint-secrets: ## gitleaks (pinned) over the working tree and the git history
	@scripts/gitleaks.sh

.PHONY: generate
generate: ## Regenerate the server stubs, the Go client and the TypeScript types from openapi.yaml
	@scripts/generate.sh

.PHONY: bench
bench: deps ## Benchmarks (not tests): throughput, latency, RSS, pgbench ceiling; prints figures
	@scripts/bench.sh

.PHONY: tools
tools: ## Build the pinned linters into the cache outside the clone
	@scripts/tool.sh --build actionlint oasdiff golangci-lint tflint trivy govulncheck gitleaks indexdb

.PHONY: deps
deps: ## Install the pinned npm packages (SQS emulator, Redocly CLI) when the lock file changed
	@scripts/npm-deps.sh

.PHONY: clean
clean: ## Remove local state (.local/: throwaway clusters and built binaries)
	rm -rf .local
