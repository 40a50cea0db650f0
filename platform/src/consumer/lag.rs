//! The consumer-lag gauge, fed by librdkafka's statistics callback rather than by the batch
//! loop: only librdkafka knows each partition's end.

use rdkafka::ClientContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::statistics::Statistics;

use crate::instruments::CONSUMER_LAG;

/// Turns librdkafka's periodic statistics into `taskflow_consumer_lag{topic,group}`: the
/// records between this member's position and each partition's end, summed per topic over
/// the partitions it holds (librdkafka reports -1 for a partition it does not know yet).
pub(super) struct LagReport {
    pub(super) group: String,
}

impl ClientContext for LagReport {
    fn stats(&self, statistics: Statistics) {
        for (topic, stats) in &statistics.topics {
            let lag: i64 = stats
                .partitions
                .values()
                .filter(|p| p.partition >= 0 && p.consumer_lag >= 0)
                .map(|p| p.consumer_lag)
                .sum();
            CONSUMER_LAG
                .with_label_values(&[topic.as_str(), self.group.as_str()])
                .set(lag);
        }
    }
}

impl ConsumerContext for LagReport {}
