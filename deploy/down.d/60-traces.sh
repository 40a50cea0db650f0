# shellcheck shell=bash
# `make down` hook: stop the trace backend (see deploy/up.d/40-traces.sh) after the services, which
# flush their last spans to it when they stop: Jaeger first (it hands its last spans on to Kafka),
# then Zipkin, the trace UI. Their traces are in memory only and are gone.
stop_piece jaeger 10
stop_piece zipkin 10
rm -f "$RUN_DIR/jaeger.url" "$RUN_DIR/zipkin.url"
