# TaskFlow developer entry points. `make up` and `make test` are the two a newcomer needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Build outputs live outside the clone so a fresh clone (CI) reuses them on the same machine.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/taskflow/target
# Partition count of TaskFlow's task topics (created by the services and the tests).
export TASKFLOW_TASK_PARTITIONS ?= 12
# How many svc-executor instances `make up` runs (make up EXECUTORS=3). Empty: as many as run
# now (1 when none does), so `make test` or `make bench` keep an EXECUTORS=3 setup as it is.
EXECUTORS ?=
# How many svc-scheduler instances `make up` runs (make up SCHEDULERS=2); same rule as EXECUTORS.
SCHEDULERS ?=
# Tracing (make up TRACING=1): also run a trace backend (Jaeger, query API on 127.0.0.1:16686) and
# its UI (Zipkin, http://127.0.0.1:19411/zipkin/) and point every service at it; TRACING=0 stops
# both. Empty: keep what runs now. `make test-traces` sets it to 1.
TRACING ?=
# make chaos: how many fault runs, the seed that orders them, or an explicit comma-separated list.
RUNS ?=
SEED ?=
FAULTS ?=
# The short chaos run in `make test`: one fault per kind of piece (a worker, the database, the API).
CI_FAULTS := kill-executor,crash-postgres,kill-tasks

.PHONY: help up down status logs test test-unit test-traces build lint fmt schemas-check bench tools bench-peers seed compose-up compose-down compose-logs compose-test helm-check chaos trace-screenshot

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

up: ## install what is missing, start PostgreSQL, Kafka and the schema registry, print where to look
	@EXECUTORS=$(EXECUTORS) SCHEDULERS=$(SCHEDULERS) TRACING=$(TRACING) deploy/up.sh

down: ## stop what `make up` started
	@deploy/down.sh

status: ## show what runs, where, and whether it answers
	@deploy/status.sh

seed: up ## demo data: two tenants (acme, globex) with a mix of tasks and a few schedules, for the dashboard and the CLI
	@source .taskflow/dev.env && deploy/seed.sh

logs: ## tail the logs of everything `make up` started
	@deploy/logs.sh

tools: ## install the cargo tools the targets use (cargo-nextest), once per machine
	@deploy/install-tools.sh

build: ## compile the workspace
	cargo build --workspace --all-targets

lint: ## rustfmt check, clippy with warnings as errors, and make up's and make test's builds sharing their dependencies
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	@checks/build-unity.sh

fmt: ## format the code
	cargo fmt --all

schemas-check: up ## register every Avro contract; fail on a change the registry calls incompatible
	@source .taskflow/dev.env && cargo run --quiet -p taskflow-platform --bin schemas-check -- schemas/avro

# The tests build in the dev profile, like `make up`'s services (deploy/lib.sh SERVICE_PROFILE):
# cargo's own `test` profile has the same settings under another name, and so would compile every
# dependency a second time.
NEXTEST := cargo nextest run --cargo-profile dev

# Tests that restart the shared broker run last and alone (nextest filter `broker_restart`).
ALONE := test(/under_a_broker_restart/)
# The tests that read the trace backend's query API: `make test-traces` runs them (it starts the
# backend, which a new machine first builds from the Go module proxy, ~10 min once).
TRACES := test(/^tracing_backend::/)

# Lint right after `make up`: its check build shares the proc macros and build scripts `make up`
# compiled (unoptimised, see Cargo.toml), ~80 s on a new 2-core machine, and fails fast.
T := checks/timed.sh
test: tools ## lint, then every test against the real servers, the outside checks and a short chaos run; ends with where the time went
	@rm -f .taskflow/test-times
	@$(T) up $(MAKE) --no-print-directory up
	@$(T) lint $(MAKE) --no-print-directory lint
	@$(T) prune-topics checks/prune-test-topics.sh
	@source .taskflow/dev.env && $(T) tests $(NEXTEST) --workspace --no-fail-fast -E 'not $(ALONE) and not $(TRACES)'
	@source .taskflow/dev.env && $(T) foreign-client timeout 300 checks/foreign-client-check.sh
	@source .taskflow/dev.env && $(T) analytics timeout 300 checks/analytics-check.sh
	@source .taskflow/dev.env && $(T) schemathesis checks/schemathesis-check.sh
	@source .taskflow/dev.env && $(T) dashboard checks/dashboard-check.sh
	@source .taskflow/dev.env && $(T) seed checks/seed-check.sh
	@$(T) compose-check checks/compose-check.sh
	@$(T) helm-check checks/helm-check.sh
	@source .taskflow/dev.env && FAULTS=$(CI_FAULTS) RUNS=3 $(T) chaos timeout 900 checks/chaos.sh
	@source .taskflow/dev.env && $(T) broker-restart $(NEXTEST) --workspace --no-fail-fast -E '$(ALONE)' --success-output final
	@echo "make test: green; where the time went:" && $(T) --report

test-unit: tools ## the inner loop: every test that needs no server (unit tests of every crate, the chaos judge), no stack needed
	@$(NEXTEST) --workspace --lib --bins --no-fail-fast
	@python3 -m unittest discover -s checks/chaos -p 'test_*.py' -q

test-traces: TRACING = 1
test-traces: up tools ## a task's spans reach a real OpenTelemetry receiver (Jaeger) as one trace; starts the trace backend
	@source .taskflow/dev.env && $(NEXTEST) --workspace --no-fail-fast -E '$(TRACES)'

bench: ## submission and end-to-end execution throughput and latency, then svc-notify under 1,000 and 10,000 SSE clients (release builds, own databases and topics, ~5 min)
	@bench/bench.sh

chaos: up ## seeded faults under load, each run reconciled against P1-P7 (RUNS=20 SEED=7 FAULTS=kill-kafka,...; ~1 min a run)
	@source .taskflow/dev.env && RUNS=$(RUNS) SEED=$(SEED) FAULTS=$(FAULTS) checks/chaos.sh

trace-screenshot: TRACING = 1
trace-screenshot: up ## a screenshot of one task's trace in the trace UI (Zipkin) -> .taskflow/trace-screenshot.png
	@source .taskflow/dev.env && checks/trace-screenshot.sh

bench-peers: ## TaskFlow next to River (Go) on the same PostgreSQL, same no-op workload: one table + latency chart (~6 min)
	@bench/bench-peers.sh

compose-up: ## TaskFlow in containers (Docker, or podman here): build the four images, start them with PostgreSQL, Kafka, the registry and the nginx entry point on :18080 (EXECUTORS=n, TRACING=1 for Jaeger)
	@EXECUTORS=$(EXECUTORS) TRACING=$(TRACING) deploy/compose/run.sh up

# VOLUMES=1: also delete the data volumes (PostgreSQL, Kafka).
VOLUMES ?=
compose-down: ## stop what `make compose-up` started (data volumes stay; VOLUMES=1 deletes them)
	@VOLUMES=$(VOLUMES) deploy/compose/run.sh down

compose-test: ## a second compose stack from nothing (project taskflow-test, port 18089): tasks, SSE, a schedule, an executor killed, a restart keeping data, then down
	@checks/compose-test.sh

helm-check: ## the Helm chart deploy/helm/taskflow offline: lint --strict, template per ci/ values, Kubernetes schemas, chart unit test
	@checks/helm-check.sh

compose-logs: ## follow the logs of the compose services
	@deploy/compose/run.sh logs
