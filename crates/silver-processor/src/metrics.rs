//! Prometheus metrics (`prometheus-client`), served as text on `/metrics`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::batch::TopicPartition;

type Labels = Vec<(String, String)>;

/// Every metric the processor exports.
pub struct Metrics {
    registry: Registry,
    /// Messages read from the raw topics.
    pub messages_consumed: Counter,
    /// Rows acknowledged by ClickHouse (a replayed, deduplicated batch counts again).
    pub rows_inserted: Counter,
    /// Batches acknowledged by ClickHouse.
    pub batches_inserted: Counter,
    /// Control messages (heartbeats, acks) skipped.
    pub messages_ignored: Counter,
    /// Rejects by reason code.
    pub rejects: Family<Labels, Counter>,
    /// Failed insert attempts (each is retried).
    pub insert_failures: Counter,
    /// Seconds per successful insert.
    pub insert_latency_seconds: Histogram,
    /// Rows per inserted batch.
    pub batch_rows: Histogram,
    /// Committed offset behind the high watermark, per partition.
    pub lag: Family<Labels, Gauge>,
    /// Raw bytes held in open batches.
    pub in_flight_bytes: Gauge<i64, std::sync::atomic::AtomicI64>,
    /// Partitions currently assigned.
    pub assigned_partitions: Gauge<i64, std::sync::atomic::AtomicI64>,
    /// Offsets committed (count of commits).
    pub commits: Counter<u64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `silver_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("silver");
        let m = Self {
            messages_consumed: Counter::default(),
            rows_inserted: Counter::default(),
            batches_inserted: Counter::default(),
            messages_ignored: Counter::default(),
            rejects: Family::default(),
            insert_failures: Counter::default(),
            insert_latency_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            batch_rows: Histogram::new(exponential_buckets(1.0, 4.0, 11)),
            lag: Family::default(),
            in_flight_bytes: Gauge::default(),
            assigned_partitions: Gauge::default(),
            commits: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "messages_consumed",
            "Messages read from the raw topics",
            m.messages_consumed.clone(),
        );
        registry.register(
            "rows_inserted",
            "Rows acknowledged by ClickHouse",
            m.rows_inserted.clone(),
        );
        registry.register(
            "batches_inserted",
            "Batches acknowledged by ClickHouse",
            m.batches_inserted.clone(),
        );
        registry.register(
            "messages_ignored",
            "Control messages skipped",
            m.messages_ignored.clone(),
        );
        registry.register(
            "rejects",
            "Messages sent to the dead-letter topic, by reason",
            m.rejects.clone(),
        );
        registry.register(
            "insert_failures",
            "Failed insert attempts (retried)",
            m.insert_failures.clone(),
        );
        registry.register(
            "insert_latency_seconds",
            "Time per acknowledged insert",
            m.insert_latency_seconds.clone(),
        );
        registry.register(
            "batch_rows",
            "Rows per inserted batch",
            m.batch_rows.clone(),
        );
        registry.register(
            "partition_lag",
            "Messages between the committed offset and the high watermark",
            m.lag.clone(),
        );
        registry.register(
            "in_flight_bytes",
            "Raw bytes held in open batches",
            m.in_flight_bytes.clone(),
        );
        registry.register(
            "assigned_partitions",
            "Partitions assigned to this member",
            m.assigned_partitions.clone(),
        );
        registry.register("commits", "Offset commits", m.commits.clone());
        Self { registry, ..m }
    }

    /// Counts one reject.
    pub fn reject(&self, reason: &str) {
        self.rejects
            .get_or_create(&vec![("reason".to_owned(), reason.to_owned())])
            .inc();
    }

    /// Sets a partition's lag.
    pub fn set_lag(&self, tp: &TopicPartition, lag: i64) {
        self.lag
            .get_or_create(&vec![
                ("topic".to_owned(), tp.topic.clone()),
                ("partition".to_owned(), tp.partition.to_string()),
            ])
            .set(lag);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_every_metric() {
        let m = Metrics::new();
        m.messages_consumed.inc_by(3);
        m.reject("price_not_positive");
        m.set_lag(
            &TopicPartition {
                topic: "t".into(),
                partition: 0,
            },
            5,
        );
        let text = m.render();
        for name in [
            "silver_messages_consumed_total 3",
            "silver_rejects_total{reason=\"price_not_positive\"} 1",
            "silver_partition_lag{topic=\"t\",partition=\"0\"} 5",
            "silver_insert_latency_seconds_bucket",
            "silver_batch_rows_bucket",
            "silver_in_flight_bytes",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
    }
}
