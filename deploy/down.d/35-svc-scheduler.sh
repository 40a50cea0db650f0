# shellcheck shell=bash
# `make down` hook: stop svc-scheduler (see deploy/up.d/80-svc-scheduler.sh) first, so no trigger
# is decided while the services that turn it into a task stop; its outbox keeps what it decided.
stop_piece svc-scheduler 10
