#!/usr/bin/env bash
# Kafka's command-line tools, from the same cached jars as the local broker (there is no Kafka
# distribution with bin/*.sh here). --bootstrap-server 127.0.0.1:19092 is added when missing.
#   deploy/kafka/cli.sh topics --list
#   deploy/kafka/cli.sh topics --describe --topic NAME
#   deploy/kafka/cli.sh console-producer --topic NAME
#   deploy/kafka/cli.sh console-consumer --topic NAME --from-beginning
#   deploy/kafka/cli.sh consumer-groups --describe --group NAME
#   deploy/kafka/cli.sh org.apache.kafka.tools.SomeOtherTool ARGS...
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

(($# >= 1)) || { sed -n '2,9p' "${BASH_SOURCE[0]}"; exit 2; }
tool="$1"
shift
case "$tool" in
  topics) main=org.apache.kafka.tools.TopicCommand ;;
  console-producer) main=org.apache.kafka.tools.ConsoleProducer ;;
  console-consumer) main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  consumer-groups) main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  configs) main=org.apache.kafka.admin.ConfigCommand ;;
  *.*) main="$tool" ;;
  *) die "unknown tool '$tool' (topics, console-producer, console-consumer, consumer-groups, configs, or a class name)" ;;
esac

home="$(kafka_home)"
[[ -f "$home/.complete" ]] || die "Kafka jars not in the cache yet ($home): run \`make up\` first"
args=("$@")
if [[ " ${args[*]} " != *" --bootstrap-server "* ]]; then
  args=(--bootstrap-server "$HOST:$KAFKA_PORT" "${args[@]}")
fi
java="$(find_java 17)" || die "no Java 17+ found"
# Tools log at WARN only: their INFO lines would drown the output.
exec "$java" -Dlog4j2.configurationFile="$DEPLOY_DIR/kafka/log4j2-tools.properties" \
  -cp "$home/libs/*" "$main" "${args[@]}"
