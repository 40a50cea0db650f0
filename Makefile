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
# both. Empty: keep what runs now. `make test` sets it to 1.
TRACING ?=
# make chaos: how many fault runs, the seed that orders them, or an explicit comma-separated list.
RUNS ?=
SEED ?=
FAULTS ?=
# The short chaos run in `make test`: one fault per kind of piece (a worker, the database, the API).
CI_FAULTS := kill-executor,crash-postgres,kill-tasks

.PHONY: help up down status logs test build lint fmt schemas-check bench tools bench-peers seed compose-up compose-down compose-logs chaos trace-screenshot

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

lint: ## rustfmt check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt: ## format the code
	cargo fmt --all

schemas-check: up ## register every Avro contract; fail on a change the registry calls incompatible
	@source .taskflow/dev.env && cargo run --quiet -p taskflow-platform --bin schemas-check -- schemas/avro

# Tests that restart the shared broker run last and alone (nextest filter `broker_restart`).
ALONE := test(/under_a_broker_restart/)

# The tests include one trace in the trace backend (tracing_backend): its `up` runs with TRACING=1.
test: TRACING = 1
test: up tools lint ## start what the tests need, then lint and run every test against the real servers
	@source .taskflow/dev.env && cargo nextest run --workspace --no-fail-fast -E 'not $(ALONE)'
	@source .taskflow/dev.env && timeout 300 deploy/foreign-client-check.sh
	@source .taskflow/dev.env && timeout 300 deploy/analytics-check.sh
	@source .taskflow/dev.env && deploy/schemathesis-check.sh
	@source .taskflow/dev.env && deploy/dashboard-check.sh
	@deploy/compose-check.sh
	@source .taskflow/dev.env && FAULTS=$(CI_FAULTS) RUNS=3 timeout 900 deploy/chaos.sh
	@source .taskflow/dev.env && cargo nextest run --workspace --no-fail-fast -E '$(ALONE)' --success-output final

bench: ## submission and end-to-end execution throughput and latency, then svc-notify under 1,000 and 10,000 SSE clients (release builds, own databases and topics, ~5 min)
	@deploy/bench.sh

chaos: up ## seeded faults under load, each run reconciled against P1-P7 (RUNS=20 SEED=7 FAULTS=kill-kafka,...; ~1 min a run)
	@source .taskflow/dev.env && RUNS=$(RUNS) SEED=$(SEED) FAULTS=$(FAULTS) deploy/chaos.sh

trace-screenshot: TRACING = 1
trace-screenshot: up ## a screenshot of one task's trace in the trace UI (Zipkin) -> .taskflow/trace-screenshot.png
	@source .taskflow/dev.env && deploy/trace-screenshot.sh

bench-peers: ## TaskFlow next to River (Go) on the same PostgreSQL, same no-op workload: one table + latency chart (~6 min)
	@deploy/bench-peers.sh

compose-up: ## TaskFlow in Docker: build the four images, start them with PostgreSQL, Kafka and the registry (EXECUTORS=n, TRACING=1 for Jaeger)
	@EXECUTORS=$(EXECUTORS) TRACING=$(TRACING) deploy/compose/run.sh up

compose-down: ## stop what `make compose-up` started (data volumes stay)
	@deploy/compose/run.sh down

compose-logs: ## follow the logs of the compose services
	@deploy/compose/run.sh logs
