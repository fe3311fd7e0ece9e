# ecs-sre-gift-worker: every command a developer or CI needs. `make help` lists them.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# The five Go modules of the workspace (go.work), as package patterns.
GO_PKGS := ./shared/... ./testkit/... ./devkit/... ./api-svc/... ./worker-svc/...

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

# BENCH_FLAGS go to giftbench, e.g. BENCH_FLAGS=-cpuprofile=/tmp/api.pprof for a CPU profile of
# the API serving POST /gifts (go tool pprof -top /tmp/api.pprof).
BENCH_FLAGS ?=

.PHONY: bench
bench: deps ## Benchmarks (not tests): throughput, latency, RSS, pgbench ceiling, API vs hand-written peer; prints figures
	@scripts/bench.sh $(BENCH_FLAGS)

# `make soak` parameters: how long the load and the faults last, gift flows started per second, and
# more flags of devkit/cmd/soak (SOAK_FLAGS=-restart-emulator adds the emulator's restart and the
# giftctl reconcile that recovers its lost messages).
SOAK_DURATION ?= 5m
SOAK_RATE ?= 2.5
SOAK_FLAGS ?=

.PHONY: soak
soak: deps ## Soak under faults, then audit that no accepted send is lost (not in make test; SOAK_DURATION, SOAK_RATE)
	go run ./devkit/cmd/soak -duration $(SOAK_DURATION) -rate $(SOAK_RATE) $(SOAK_FLAGS)

# `make lifecycle` parameters: how many schedules, and the seed that draws them (printed, and
# printed again with any violation so that the run can be repeated).
LIFECYCLE_SCHEDULES ?= 3000
LIFECYCLE_SEED ?= $(shell date +%s)

.PHONY: lifecycle
lifecycle: deps ## Lifecycle model test, long run: LIFECYCLE_SCHEDULES (3000) seeded schedules in waves of 200 (LIFECYCLE_SEED)
	LIFECYCLE_SCHEDULES=$(LIFECYCLE_SCHEDULES) LIFECYCLE_SEED=$(LIFECYCLE_SEED) \
		go test -count=1 -timeout 4h -run 'TestLifecycle$$' -v ./devkit/lifecycle/

.PHONY: fuzz
fuzz: deps ## Fuzz each target for FUZZTIME (default 60s) with go test -fuzz; `make test` replays the seeds
	@scripts/fuzz.sh

.PHONY: tools
tools: ## Build the pinned linters into the cache outside the clone
	@scripts/tool.sh --build actionlint oasdiff golangci-lint tflint trivy govulncheck gitleaks indexdb

.PHONY: deps
deps: ## Install the pinned npm packages (SQS emulator, Redocly CLI) when the lock file changed
	@scripts/npm-deps.sh

.PHONY: clean
clean: ## Remove local state (.local/: throwaway clusters and built binaries)
	rm -rf .local
