//! The processor's settings: defaults, then a TOML file, then `SILVER__*` environment
//! variables (see `layered-config`). Validated once at start; an error names the key.

use std::net::SocketAddr;

use ch_support::ClickHouseConfig;
use layered_config::{ConfigError, Validate};
use serde::{Deserialize, Serialize};

/// Environment prefix: `SILVER__BATCH__MAX_ROWS=20000`.
pub const ENV_PREFIX: &str = "SILVER";

/// Everything the processor can be told.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The broker, consumer group and topics.
    pub kafka: KafkaSettings,
    /// Where `silver_trades` lives.
    pub clickhouse: ClickHouseConfig,
    /// When a partition's batch is flushed.
    pub batch: BatchSettings,
    /// Retry pacing for transient ClickHouse and broker errors.
    pub retry: RetrySettings,
    /// The `silver_trades` schema: applied at start, and its parameters.
    pub schema: SchemaSettings,
    /// The health and metrics endpoint.
    pub http: HttpSettings,
    /// Log output.
    pub log: LogSettings,
}

/// Broker connection, group and topics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSettings {
    /// `bootstrap.servers`, comma-separated `host:port`.
    pub brokers: String,
    /// Consumer group id; offsets are committed under it.
    pub group_id: String,
    /// Raw topics to consume. Ignored when `topic_regex` is set.
    pub topics: Vec<String>,
    /// A regex subscription instead of a list, e.g. `^market\.crypto\.trades\..*\.raw$`.
    pub topic_regex: String,
    /// With a topic list: one consumer per topic, in group `<group_id>.<topic>` (tansu
    /// 0.6.0 stalls fetches that span topics). `false`: one consumer in `group_id`.
    pub consumer_per_topic: bool,
    /// Where rejected messages go, with their reason in headers.
    pub dlq_topic: String,
    /// `session.timeout.ms`: how soon a crashed member's partitions move on.
    pub session_timeout_ms: u32,
    /// `max.poll.interval.ms`: must exceed the longest ClickHouse outage we ride through
    /// without leaving the group.
    pub max_poll_interval_ms: u32,
    /// `queued.max.messages.kbytes`: librdkafka's prefetch queue bound, per consumer.
    pub queued_max_messages_kbytes: u32,
    /// `fetch.max.bytes`: largest fetch response.
    pub fetch_max_bytes: u32,
    /// `isolation.level`; `read_uncommitted` because tansu on PostgreSQL 15 times out on
    /// `read_committed` lookups and our producers are not transactional.
    pub isolation_level: String,
    /// `auto.offset.reset` for a group with no committed offset: `earliest` or `latest`.
    pub auto_offset_reset: String,
    /// Compression of dead-letter messages: `lz4`, `zstd` or `none` (never snappy: tansu
    /// cannot serve it).
    pub dlq_compression: String,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:19092".to_owned(),
            group_id: "silver-processor".to_owned(),
            topics: vec![
                "market.crypto.trades.binance.raw".to_owned(),
                "market.crypto.trades.kraken.raw".to_owned(),
                "market.crypto.trades.coinbase.raw".to_owned(),
            ],
            topic_regex: String::new(),
            consumer_per_topic: true,
            dlq_topic: "market.crypto.trades.dlq".to_owned(),
            session_timeout_ms: 10_000,
            max_poll_interval_ms: 600_000,
            // With three consumers (one per topic), 2 MiB each took peak RSS past the
            // 64 MB target; 1 MiB keeps it near 40 MiB at the same throughput
            // (`cargo xtask bench silver`, docs/SILVER-DELIVERY.md).
            queued_max_messages_kbytes: 1_024,
            fetch_max_bytes: 1024 * 1024,
            isolation_level: "read_uncommitted".to_owned(),
            auto_offset_reset: "earliest".to_owned(),
            dlq_compression: "lz4".to_owned(),
        }
    }
}

/// Per-partition flush triggers and the global memory bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchSettings {
    /// Flush a partition's batch at this many rows.
    pub max_rows: usize,
    /// Flush a partition's batch at this many raw payload bytes.
    pub max_bytes: usize,
    /// Flush a partition's batch when its first message is this old (milliseconds).
    pub max_age_ms: u64,
    /// When all batches together hold more raw bytes than this, flush the biggest and
    /// pause the partitions while inserting.
    pub max_in_flight_bytes: usize,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            max_rows: 20_000,
            max_bytes: 4 * 1024 * 1024,
            max_age_ms: 1_000,
            // 4 MiB: peak RSS 52.8 MiB at a sustained 49.7k trades/s, against 61.2 MiB
            // with 8 MiB (docs/SILVER-DELIVERY.md); throughput unchanged.
            max_in_flight_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Exponential backoff for retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySettings {
    /// First wait, milliseconds.
    pub initial_backoff_ms: u64,
    /// Longest wait, milliseconds.
    pub max_backoff_ms: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            initial_backoff_ms: 100,
            max_backoff_ms: 5_000,
        }
    }
}

/// Schema parameters (see `sql/silver/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchemaSettings {
    /// Run the silver migrations before consuming.
    pub apply_on_start: bool,
    /// `silver_trades` TTL in days.
    pub ttl_days: u32,
    /// `non_replicated_deduplication_window`: how many recent insert blocks ClickHouse
    /// remembers for deduplication.
    pub dedup_window: u32,
}

impl Default for SchemaSettings {
    fn default() -> Self {
        Self {
            apply_on_start: true,
            ttl_days: 30,
            dedup_window: 10_000,
        }
    }
}

/// HTTP listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Address for `/healthz`, `/readyz` and `/metrics`.
    pub listen: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8080".to_owned(),
        }
    }
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A `tracing` filter, e.g. `info,silver_processor=debug`.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "text".to_owned(),
            filter: "info".to_owned(),
        }
    }
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        let k = &self.kafka;
        if k.brokers.trim().is_empty() {
            return Err(invalid("kafka.brokers", "must name at least one broker"));
        }
        if k.group_id.trim().is_empty() {
            return Err(invalid("kafka.group_id", "must not be empty"));
        }
        if k.topic_regex.is_empty() && k.topics.iter().all(|t| t.trim().is_empty()) {
            return Err(invalid(
                "kafka.topics",
                "give a topic list or kafka.topic_regex",
            ));
        }
        if k.dlq_topic.trim().is_empty() {
            return Err(invalid("kafka.dlq_topic", "must not be empty"));
        }
        if !matches!(
            k.isolation_level.as_str(),
            "read_uncommitted" | "read_committed"
        ) {
            return Err(invalid(
                "kafka.isolation_level",
                "must be read_uncommitted or read_committed",
            ));
        }
        if !matches!(k.auto_offset_reset.as_str(), "earliest" | "latest") {
            return Err(invalid(
                "kafka.auto_offset_reset",
                "must be earliest or latest",
            ));
        }
        if !matches!(k.dlq_compression.as_str(), "lz4" | "zstd" | "none") {
            return Err(invalid(
                "kafka.dlq_compression",
                "must be lz4, zstd or none (tansu cannot serve snappy)",
            ));
        }
        let b = &self.batch;
        // One insert must stay one block, so a batch cannot exceed the block size we ask
        // ClickHouse for (see sink::BLOCK_ROWS).
        if b.max_rows == 0 || b.max_rows > crate::sink::BLOCK_ROWS {
            return Err(invalid(
                "batch.max_rows",
                format!("must be between 1 and {}", crate::sink::BLOCK_ROWS),
            ));
        }
        if b.max_bytes == 0 {
            return Err(invalid("batch.max_bytes", "must be at least 1"));
        }
        if b.max_age_ms == 0 {
            return Err(invalid("batch.max_age_ms", "must be at least 1"));
        }
        if b.max_in_flight_bytes < b.max_bytes {
            return Err(invalid(
                "batch.max_in_flight_bytes",
                "must be at least batch.max_bytes",
            ));
        }
        if self.retry.initial_backoff_ms == 0
            || self.retry.max_backoff_ms < self.retry.initial_backoff_ms
        {
            return Err(invalid(
                "retry.max_backoff_ms",
                "need 0 < retry.initial_backoff_ms <= retry.max_backoff_ms",
            ));
        }
        if self.schema.ttl_days == 0 {
            return Err(invalid("schema.ttl_days", "must be at least 1"));
        }
        if self.schema.dedup_window < 100 {
            return Err(invalid(
                "schema.dedup_window",
                "must be at least 100 blocks, or replays fall out of the window",
            ));
        }
        if self.http.listen.parse::<SocketAddr>().is_err() {
            return Err(invalid(
                "http.listen",
                "must be an address like 0.0.0.0:8080",
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", "must be text or json"));
        }
        if self.clickhouse.url.trim().is_empty() {
            return Err(invalid("clickhouse.url", "must not be empty"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        layered_config::load_from(
            None,
            ENV_PREFIX,
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn defaults_are_valid() {
        let s = load(&[]).unwrap();
        assert_eq!(s.kafka.topics.len(), 3);
        assert_eq!(s.clickhouse.url, "http://127.0.0.1:18123");
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let s = load(&[
            ("SILVER__BATCH__MAX_ROWS", "123"),
            ("SILVER__LOG__FORMAT", "json"),
        ])
        .unwrap();
        assert_eq!(s.batch.max_rows, 123);
        assert_eq!(s.log.format, "json");
    }

    #[test]
    fn rule_violation_names_the_key() {
        let err = load(&[("SILVER__KAFKA__DLQ_COMPRESSION", "snappy")]).unwrap_err();
        assert!(err.to_string().contains("kafka.dlq_compression"), "{err}");
        let err = load(&[("SILVER__BATCH__MAX_ROWS", "0")]).unwrap_err();
        assert!(err.to_string().contains("batch.max_rows"), "{err}");
    }
}
