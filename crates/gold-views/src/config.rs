//! What to generate: database, name prefix, timeframes, and per-timeframe storage choices.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::timeframe::Timeframe;

/// Storage choices that may differ per timeframe. Expressions are ClickHouse SQL over the
/// state table's columns (`window_start`, ...) and come from the operator's configuration,
/// not from data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeframeStorage {
    /// `PARTITION BY` expression; `None` picks the default: `toYYYYMM(window_start)` below one
    /// day, `toYear(window_start)` for daily and longer.
    pub partition_by: Option<String>,
    /// `TTL` expression, e.g. `window_start + INTERVAL 90 DAY`; `None` keeps candles forever.
    pub ttl: Option<String>,
}

/// Cluster mode: `ON CLUSTER`, Replicated engines and Distributed tables over them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Cluster name as configured in the servers' `remote_servers`.
    pub name: String,
    /// ZooKeeper/Keeper path prefix of the Replicated tables; `{shard}` and `{replica}`
    /// macros are appended per table.
    pub zookeeper_prefix: String,
    /// Sharding key of the Distributed tables (candles of one instrument stay on one shard).
    pub sharding_key: String,
    /// Suffix of the shard-local objects; the Distributed table keeps the plain name.
    pub local_suffix: String,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            name: "phase4".to_owned(),
            zookeeper_prefix: "/clickhouse/tables".to_owned(),
            sharding_key: "cityHash64(exchange, symbol)".to_owned(),
            local_suffix: "_local".to_owned(),
        }
    }
}

/// Everything the generator and `apply` need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoldConfig {
    /// Database holding `silver_trades` and every gold object.
    pub database: String,
    /// Prefix of every gold object name.
    pub prefix: String,
    /// Name of the silver table the candles are built from.
    pub source_table: String,
    /// Candle widths, in output order.
    pub timeframes: Vec<Timeframe>,
    /// Per-timeframe storage overrides, keyed by label (`"1m"`).
    pub storage: BTreeMap<String, TimeframeStorage>,
    /// `non_replicated_deduplication_window` of the state tables: how many recent insert
    /// blocks are remembered so that a retried insert (same `insert_deduplication_token`) is
    /// dropped. 0 disables it.
    pub deduplication_window: u64,
    /// Backfill chunk width in seconds of trade time.
    pub backfill_chunk_seconds: u64,
    /// Generate cluster DDL instead of single-server DDL (not runnable on the local engine).
    pub cluster: Option<ClusterConfig>,
    /// Rollup mode: build every timeframe except the smallest from the smallest one's
    /// states (`-MergeState`) instead of from the trades. Every width must be a multiple of
    /// the smallest.
    pub rollup: bool,
}

impl Default for GoldConfig {
    fn default() -> Self {
        Self {
            database: "default".to_owned(),
            prefix: "gold_".to_owned(),
            source_table: "silver_trades".to_owned(),
            timeframes: Timeframe::defaults(),
            storage: BTreeMap::new(),
            deduplication_window: 1_000,
            backfill_chunk_seconds: 86_400,
            cluster: None,
            rollup: false,
        }
    }
}

impl GoldConfig {
    /// In rollup mode, the timeframe every other one is built from (the smallest).
    pub fn rollup_base(&self) -> Option<Timeframe> {
        if !self.rollup {
            return None;
        }
        self.timeframes
            .iter()
            .min_by_key(|tf| tf.seconds())
            .copied()
    }

    /// The partition expression of a timeframe's state table.
    pub fn partition_by(&self, tf: &Timeframe) -> String {
        match self
            .storage
            .get(&tf.label())
            .and_then(|s| s.partition_by.clone())
        {
            Some(expr) => expr,
            None if tf.is_daily_or_longer() => "toYear(window_start)".to_owned(),
            None => "toYYYYMM(window_start)".to_owned(),
        }
    }

    /// The TTL expression of a timeframe's state table, if any.
    pub fn ttl(&self, tf: &Timeframe) -> Option<String> {
        self.storage.get(&tf.label()).and_then(|s| s.ttl.clone())
    }

    /// `{prefix}ohlcv_{label}_state`.
    pub fn state_table(&self, tf: &Timeframe) -> String {
        format!("{}ohlcv_{}_state", self.prefix, tf.label())
    }

    /// `{prefix}ohlcv_{label}_mv`.
    pub fn materialized_view(&self, tf: &Timeframe) -> String {
        format!("{}ohlcv_{}_mv", self.prefix, tf.label())
    }

    /// `{prefix}ohlcv_{label}`: the finalized candles users read.
    pub fn candle_view(&self, tf: &Timeframe) -> String {
        format!("{}ohlcv_{}", self.prefix, tf.label())
    }

    /// `{prefix}trades_tap`: the Null table every timeframe's view reads from.
    pub fn tap_table(&self) -> String {
        format!("{}trades_tap", self.prefix)
    }

    /// `{prefix}trades_tap_mv`: the one view from silver into the tap. Creating it is the
    /// switch-over instant for all timeframes at once.
    pub fn tap_view(&self) -> String {
        format!("{}trades_tap_mv", self.prefix)
    }

    /// `{prefix}backfill_ledger`: identities of trades the live path saw during a backfill.
    pub fn ledger_table(&self) -> String {
        format!("{}backfill_ledger", self.prefix)
    }

    /// `{prefix}backfill_ledger_mv`.
    pub fn ledger_view(&self) -> String {
        format!("{}backfill_ledger_mv", self.prefix)
    }

    /// `{prefix}backfill_snapshot`: the silver rows taken for the backfill.
    pub fn snapshot_table(&self) -> String {
        format!("{}backfill_snapshot", self.prefix)
    }

    /// `{prefix}backfill_progress`: the record of finished backfill chunks.
    pub fn progress_table(&self) -> String {
        format!("{}backfill_progress", self.prefix)
    }
}

impl layered_config::Validate for GoldConfig {
    fn validate(&self) -> Result<(), layered_config::ConfigError> {
        let invalid = |key: &str, message: &str| layered_config::ConfigError::Invalid {
            key: key.to_owned(),
            message: message.to_owned(),
        };
        if self.database.is_empty() {
            return Err(invalid("database", "must not be empty"));
        }
        if self.source_table.is_empty() {
            return Err(invalid("source_table", "must not be empty"));
        }
        if self.timeframes.is_empty() {
            return Err(invalid("timeframes", "must list at least one timeframe"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for tf in &self.timeframes {
            if !seen.insert(tf.seconds()) {
                return Err(invalid(
                    "timeframes",
                    &format!("`{tf}` repeats a width already listed"),
                ));
            }
        }
        for label in self.storage.keys() {
            if !self.timeframes.iter().any(|tf| &tf.label() == label) {
                return Err(invalid(
                    &format!("storage.{label}"),
                    "names a timeframe that is not in `timeframes`",
                ));
            }
        }
        if let Some(base) = self.rollup_base()
            && let Some(tf) = self
                .timeframes
                .iter()
                .find(|tf| tf.seconds() % base.seconds() != 0)
        {
            return Err(invalid(
                "rollup",
                &format!("`{tf}` is not a multiple of the smallest timeframe `{base}`"),
            ));
        }
        if self.backfill_chunk_seconds == 0 {
            return Err(invalid("backfill_chunk_seconds", "must be at least 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use layered_config::Validate;

    #[test]
    fn defaults_are_valid() {
        GoldConfig::default().validate().unwrap();
    }

    #[test]
    fn rollup_needs_multiples_of_the_smallest_timeframe() {
        let mut config = GoldConfig {
            rollup: true,
            ..GoldConfig::default()
        };
        config.validate().unwrap();
        assert_eq!(config.rollup_base(), Some("1m".parse().unwrap()));
        config.timeframes = vec!["2m".parse().unwrap(), "5m".parse().unwrap()];
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains("`rollup`"), "{err}");
    }

    #[test]
    fn storage_for_an_unknown_timeframe_is_refused_by_key() {
        let mut config = GoldConfig::default();
        config
            .storage
            .insert("2h".into(), TimeframeStorage::default());
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains("storage.2h"), "{err}");
    }

    #[test]
    fn environment_overrides_timeframes_and_names_a_bad_one() {
        let env = [("GV__TIMEFRAMES".to_owned(), r#"["1m", "4h"]"#.to_owned())];
        let config: GoldConfig = layered_config::load_from(None, "GV", env).unwrap();
        assert_eq!(config.timeframes.len(), 2);
        let env = [("GV__TIMEFRAMES".to_owned(), r#"["1m", "7h"]"#.to_owned())];
        let err = layered_config::load_from::<GoldConfig, _>(None, "GV", env).unwrap_err();
        assert!(err.to_string().contains("timeframes"), "{err}");
    }
}
