#!/bin/bash
# The apache/kafka image's start script, the part deploy/compose.yaml uses: KAFKA_* variables
# -> /opt/kafka/config/server.properties, format the log dir once with CLUSTER_ID, run the broker.
set -euo pipefail
conf=/opt/kafka/config/server.properties
: >"$conf"
for name in $(compgen -e | sort); do
  [[ "$name" == KAFKA_* ]] || continue
  case "$name" in
    KAFKA_HOME | KAFKA_VERSION | KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_LOG4J_OPTS | KAFKA_JMX_OPTS | \
      KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_GC_LOG_OPTS) continue ;;
  esac
  key="${name#KAFKA_}"
  key="${key,,}"
  key="${key//___/-}"
  key="${key//__/@}"
  key="${key//_/.}"
  key="${key//@/_}"
  printf '%s=%s\n' "$key" "${!name}" >>"$conf"
done
cp=(-cp "/opt/kafka/libs/*")
log=(-Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties)
data="$(sed -n 's/^log\.dirs=//p' "$conf")"
data="${data:-/tmp/kraft-combined-logs}"
if [[ ! -f "${data%%,*}/meta.properties" ]]; then
  : "${CLUSTER_ID:?CLUSTER_ID is needed to format a new log directory}"
  java "${log[@]}" "${cp[@]}" kafka.tools.StorageTool format --cluster-id="$CLUSTER_ID" -c "$conf" --ignore-formatted
fi
# shellcheck disable=SC2086 # options lists, split on purpose
exec java ${KAFKA_HEAP_OPTS:--Xmx1g -Xms256m} ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true} \
  ${KAFKA_OPTS:-} "${log[@]}" "${cp[@]}" kafka.Kafka "$conf"
