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

.PHONY: drill-worker-down drill-backlog drill-db-down drill-dlq
drill-worker-down: deps ## Rehearse "Worker stopped" on a local stack of its own: PASS/FAIL
	@scripts/drill.sh worker-down
drill-backlog: deps ## Rehearse "Queue backlog": flood a slow worker, add a second, verify the drain
	@scripts/drill.sh backlog
drill-db-down: deps ## Rehearse "Database unreachable": stop PostgreSQL, verify 503s, hold, recovery
	@scripts/drill.sh db-down
drill-dlq: deps ## Rehearse the DLQ path: forced failure ends FAILED in the DLQ; giftctl retry ends SENT
	@scripts/drill.sh dlq

.PHONY: test
test: deps test-go test-iac ## Run every test (unit, integration, contract, IaC wiring)

.PHONY: test-go
test-go: ## Go tests of the three modules against a real PostgreSQL and the SQS emulator
	@scripts/test-go.sh

.PHONY: test-iac
test-iac: ## Offline checks of modules/ and live/ wiring (Go + hashicorp/hcl)
	cd tools/iaccheck && GOWORK=off go test -count=1 ./...

.PHONY: lint
lint: deps lint-go lint-modules lint-binaries lint-openapi lint-generated lint-terraform lint-workflows ## Run every linter

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

.PHONY: lint-terraform
lint-terraform: ## terraform fmt, HCL fmt of live/, tflint and trivy config (all pinned, offline)
	@scripts/lint-terraform.sh

.PHONY: lint-workflows
lint-workflows: ## actionlint over .github/workflows
	@scripts/tool.sh actionlint -color=false

.PHONY: generate
generate: ## Regenerate the server stubs and the Go client from openapi.yaml
	@scripts/generate.sh

.PHONY: bench
bench: deps ## Benchmarks (not tests): throughput, latency, RSS, pgbench ceiling; prints figures
	@scripts/bench.sh

.PHONY: tools
tools: ## Build the pinned linters into the cache outside the clone
	@scripts/tool.sh --build actionlint oasdiff golangci-lint tflint trivy

.PHONY: deps
deps: ## Install the pinned npm packages (SQS emulator, Redocly CLI) when the lock file changed
	@scripts/npm-deps.sh

.PHONY: clean
clean: ## Remove local state (.local/: throwaway clusters and built binaries)
	rm -rf .local
