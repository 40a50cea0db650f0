# shellcheck shell=bash
# `make down` hook: stop svc-notify (see deploy/up.d/70-svc-notify.sh) before the core pieces, so
# it commits its Kafka offsets. Open streams end at once (clients reconnect and resume).
stop_piece svc-notify 10
