#!/bin/bash
# /opt/kafka/bin/kafka-<tool>.sh, as in the official image: the name picks the tool's class.
set -euo pipefail
case "$(basename "$0")" in
  kafka-broker-api-versions.sh) main=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
  kafka-topics.sh) main=org.apache.kafka.tools.TopicCommand ;;
  kafka-console-consumer.sh) main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  kafka-console-producer.sh) main=org.apache.kafka.tools.ConsoleProducer ;;
  kafka-consumer-groups.sh) main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  kafka-storage.sh) main=kafka.tools.StorageTool ;;
  kafka-configs.sh) main=org.apache.kafka.admin.ConfigCommand ;;
  *) echo "unknown tool $(basename "$0")" >&2; exit 2 ;;
esac
exec java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile=/opt/kafka/config/log4j2-tools.properties \
  -cp "/opt/kafka/libs/*" "$main" "$@"
