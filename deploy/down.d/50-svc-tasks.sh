# shellcheck shell=bash
# `make down` hook (sourced by deploy/down.sh before the core pieces stop, so svc-tasks can still
# flush its outbox relay and commit its Kafka offsets): stop svc-tasks through its pidfile, only
# if the pidfile names the process we started. SIGTERM (actix drains in-flight requests), SIGKILL
# after 10 s. See deploy/up.d/50-svc-tasks.sh.
stop_piece svc-tasks 10
