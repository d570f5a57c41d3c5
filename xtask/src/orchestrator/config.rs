//! The orchestrator's settings: defaults, then an optional TOML file, then environment
//! variables `PHASE4_MIGRATE__<KEY>` (e.g. `PHASE4_MIGRATE__TARGETS__TOTAL_CPU=20`).

use std::path::{Path, PathBuf};

use ch_support::ClickHouseConfig;
use layered_config::{ConfigError, Validate};
use serde::{Deserialize, Serialize};

/// The environment prefix of [`OrchestratorConfig`].
pub const CONFIG_PREFIX: &str = "PHASE4_MIGRATE";

/// Budget targets of the resource checkpoint (step 7). Defaults come from the tracker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Targets {
    /// Upper bound of the platform's declared CPU limits after the migration, in cores.
    pub total_cpu: f64,
    /// Upper bound of the platform's declared memory limits after the migration, in GiB.
    pub total_ram_gb: f64,
    /// Services to eliminate; 0 means "as many as the decommission list names".
    pub services_eliminated: u32,
    /// Upper bound of the processor's average CPU under the stated load, in cores.
    pub processor_cpu: f64,
    /// Upper bound of the processor's peak RSS under the stated load, in MiB.
    pub processor_ram_mb: u64,
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            total_cpu: 22.0,
            total_ram_gb: 26.0,
            services_eliminated: 0,
            processor_cpu: 0.5,
            processor_ram_mb: 512,
        }
    }
}

/// What the phase plan and the tracker claim, compared with measurements in the Notes.
/// These are the user's documents' numbers, kept here so they are never typed into output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanClaims {
    /// The tracker's "Services eliminated" figure.
    pub services_eliminated: u32,
    /// The plan's "before" CPU total.
    pub cpu_before: f64,
    /// The plan's "before" memory total, GiB.
    pub ram_before_gb: f64,
    /// The plan's Spark master figures: CPU, GiB.
    pub spark_master: (f64, f64),
    /// The plan's per-worker figures: CPU, GiB.
    pub spark_worker: (f64, f64),
    /// The plan's five streaming jobs together: CPU, GiB.
    pub streaming_jobs: (f64, f64),
}

impl Default for PlanClaims {
    fn default() -> Self {
        Self {
            services_eliminated: 9,
            cpu_before: 37.0,
            ram_before_gb: 46.0,
            spark_master: (1.0, 1.0),
            spark_worker: (4.0, 8.0),
            streaming_jobs: (4.5, 2.75),
        }
    }
}

/// The legacy deployment the migration takes apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LegacyConfig {
    /// The compose file that step 6 edits. The demo points this at a copy under `target/`.
    pub compose_file: PathBuf,
    /// Further compose files that make up the platform (counted in the totals, not edited).
    pub extra_compose_files: Vec<PathBuf>,
    /// The compose project name of the running legacy containers.
    pub compose_project: String,
    /// Services removed together with the listed ones because they only serve them (the
    /// checkpoint cleaner mounts the Spark checkpoint volume and nothing else).
    pub also_remove: Vec<String>,
    /// The v1 candles tables in ClickHouse; `{tf}` is replaced by the timeframe label.
    pub v1_candles_table: String,
    /// The database of the v1 candles tables; empty means `clickhouse.database`. When it
    /// names another database, the demo takes the candles there as given and does not
    /// build them (several migrations can then be checked against one v1 set).
    pub v1_candles_database: String,
}

impl Default for LegacyConfig {
    fn default() -> Self {
        Self {
            compose_file: PathBuf::from("target/demo/legacy/docker-compose.v1.yml"),
            extra_compose_files: Vec::new(),
            compose_project: "market-v1".to_owned(),
            also_remove: vec!["spark-checkpoint-cleaner".to_owned()],
            v1_candles_table: "legacy_ohlcv_{tf}".to_owned(),
            v1_candles_database: String::new(),
        }
    }
}

/// How step 7 measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeasureConfig {
    /// How long to sample container stats and the processor, in seconds.
    pub sample_seconds: u64,
    /// Trades per second replayed while the processor is sampled.
    pub load_rate: u32,
}

impl Default for MeasureConfig {
    fn default() -> Self {
        Self {
            sample_seconds: 10,
            load_rate: 2_000,
        }
    }
}

/// How step 5 compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationSettings {
    /// Largest absolute open/high/low/close difference that still matches (the tracker's
    /// 1e-8).
    pub ohlc_abs: f64,
    /// Largest absolute volume difference against v1's Float64 volumes. A Float64 sum of
    /// thousands of quantities near 7e8 is off by ~1e-6, so 1e-8 fails on arithmetic
    /// alone. A missing or extra trade still shows in the trade count, compared exactly.
    /// (The validator has absolute tolerances only; a relative one would fit Float64 better.)
    pub volume_abs: f64,
}

impl Default for ValidationSettings {
    fn default() -> Self {
        Self {
            ohlc_abs: 1e-8,
            volume_abs: 1e-4,
        }
    }
}

/// The broker topics the processor consumes and the replays write to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicsConfig {
    /// The raw topic of each exchange; `{exchange}` is replaced by `binance`, `kraken`,
    /// `coinbase`.
    pub raw: String,
    /// The dead-letter topic.
    pub dlq: String,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        Self {
            raw: "market.crypto.trades.{exchange}.raw".to_owned(),
            dlq: "market.crypto.trades.dlq".to_owned(),
        }
    }
}

impl TopicsConfig {
    /// The raw topic of `exchange`.
    pub fn raw_topic(&self, exchange: trade_model::Exchange) -> String {
        self.raw.replace("{exchange}", exchange.as_str())
    }

    /// Every raw topic, in `Exchange::ALL` order.
    pub fn raw_topics(&self) -> Vec<String> {
        trade_model::Exchange::ALL
            .into_iter()
            .map(|exchange| self.raw_topic(exchange))
            .collect()
    }
}

/// The silver processor that step 3 deploys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessorConfig {
    /// Cargo profile to build it with (`release` or `dev`).
    pub profile: String,
    /// Where its health and metrics endpoints listen.
    pub http_listen: String,
    /// Consumer group.
    pub group_id: String,
    /// How long step 3 waits for it to catch up, in seconds.
    pub catch_up_timeout_secs: u64,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        Self {
            profile: "release".to_owned(),
            http_listen: "127.0.0.1:18080".to_owned(),
            group_id: "silver-processor".to_owned(),
            catch_up_timeout_secs: 300,
        }
    }
}

/// Everything `migrate`, `status`, `demo` and `rollback` need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrchestratorConfig {
    /// The state file (relative paths are under the workspace root).
    pub state_file: PathBuf,
    /// Where `status` writes the tracker.
    pub progress_file: PathBuf,
    /// Where the validator's reports and other artifacts go.
    pub work_dir: PathBuf,
    /// The tracker's "Phase Owner".
    pub phase_owner: String,
    /// Kafka bootstrap servers.
    pub kafka_brokers: String,
    /// The raw and dead-letter topics.
    pub topics: TopicsConfig,
    /// ClickHouse connection.
    pub clickhouse: ClickHouseConfig,
    /// The legacy deployment.
    pub legacy: LegacyConfig,
    /// Budget targets.
    pub targets: Targets,
    /// The plan's claims, compared in Notes.
    pub plan_claims: PlanClaims,
    /// How step 7 measures.
    pub measure: MeasureConfig,
    /// The processor step 3 deploys.
    pub processor: ProcessorConfig,
    /// How step 5 compares.
    pub validation: ValidationSettings,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        Self {
            state_file: PathBuf::from("target/migration/state.json"),
            progress_file: PathBuf::from("docs/PROGRESS.md"),
            work_dir: PathBuf::from("target/migration"),
            phase_owner: "Platform Engineering".to_owned(),
            kafka_brokers: std::env::var("PHASE4_KAFKA_BROKERS")
                .unwrap_or_else(|_| "127.0.0.1:19092".to_owned()),
            topics: TopicsConfig::default(),
            clickhouse: ClickHouseConfig {
                url: std::env::var("PHASE4_CLICKHOUSE_URL")
                    .unwrap_or_else(|_| ch_support::DEFAULT_CLICKHOUSE_URL.to_owned()),
                ..ClickHouseConfig::default()
            },
            legacy: LegacyConfig::default(),
            targets: Targets::default(),
            plan_claims: PlanClaims::default(),
            measure: MeasureConfig::default(),
            processor: ProcessorConfig::default(),
            validation: ValidationSettings::default(),
        }
    }
}

impl Validate for OrchestratorConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            key: key.to_owned(),
            message: message.to_owned(),
        };
        if self.targets.total_cpu.is_nan() || self.targets.total_cpu <= 0.0 {
            return Err(invalid(
                "targets.total_cpu",
                "must be a positive number of cores",
            ));
        }
        if self.targets.total_ram_gb.is_nan() || self.targets.total_ram_gb <= 0.0 {
            return Err(invalid(
                "targets.total_ram_gb",
                "must be a positive number of GiB",
            ));
        }
        if self.targets.processor_cpu.is_nan() || self.targets.processor_cpu <= 0.0 {
            return Err(invalid(
                "targets.processor_cpu",
                "must be a positive number of cores",
            ));
        }
        if self.measure.sample_seconds == 0 {
            return Err(invalid("measure.sample_seconds", "must be at least 1"));
        }
        if self.clickhouse.database.is_empty() {
            return Err(invalid("clickhouse.database", "must not be empty"));
        }
        if !self.topics.raw.contains("{exchange}") {
            return Err(invalid(
                "topics.raw",
                "must contain `{exchange}` (one raw topic per exchange)",
            ));
        }
        if self.topics.dlq.trim().is_empty() {
            return Err(invalid("topics.dlq", "must not be empty"));
        }
        Ok(())
    }
}

impl OrchestratorConfig {
    /// Loads the layers; `file` is optional.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        Ok(layered_config::load(file, CONFIG_PREFIX)?)
    }

    /// `path` made absolute against the workspace root.
    pub fn resolve(path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            crate::paths::workspace_root().join(path)
        }
    }

    /// The state file, absolute.
    pub fn state_path(&self) -> PathBuf {
        Self::resolve(&self.state_file)
    }

    /// The tracker file, absolute.
    pub fn progress_path(&self) -> PathBuf {
        Self::resolve(&self.progress_file)
    }

    /// The work directory, absolute.
    pub fn work_path(&self) -> PathBuf {
        Self::resolve(&self.work_dir)
    }

    /// The database of the v1 candles tables.
    pub fn v1_candles_database(&self) -> &str {
        if self.legacy.v1_candles_database.is_empty() {
            &self.clickhouse.database
        } else {
            &self.legacy.v1_candles_database
        }
    }

    /// The edited compose file, absolute.
    pub fn compose_path(&self) -> PathBuf {
        Self::resolve(&self.legacy.compose_file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_targets_and_errors_name_the_key() {
        let env = [(
            "PHASE4_MIGRATE__TARGETS__TOTAL_CPU".to_owned(),
            "20".to_owned(),
        )];
        let config: OrchestratorConfig =
            layered_config::load_from(None, CONFIG_PREFIX, env).unwrap();
        assert_eq!(config.targets.total_cpu, 20.0);
        let env = [(
            "PHASE4_MIGRATE__TARGETS__TOTAL_CPU".to_owned(),
            "-1".to_owned(),
        )];
        let err = layered_config::load_from::<OrchestratorConfig, _>(None, CONFIG_PREFIX, env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("targets.total_cpu"), "{err}");
    }

    #[test]
    fn topics_follow_their_template_and_one_without_exchange_is_refused() {
        let env = [(
            "PHASE4_MIGRATE__TOPICS__RAW".to_owned(),
            "t1.{exchange}.raw".to_owned(),
        )];
        let config: OrchestratorConfig =
            layered_config::load_from(None, CONFIG_PREFIX, env).unwrap();
        assert_eq!(
            config.topics.raw_topics(),
            ["t1.binance.raw", "t1.kraken.raw", "t1.coinbase.raw"]
        );
        assert_eq!(
            OrchestratorConfig::default().topics.raw_topics()[0],
            "market.crypto.trades.binance.raw"
        );
        let env = [(
            "PHASE4_MIGRATE__TOPICS__RAW".to_owned(),
            "t1.raw".to_owned(),
        )];
        let err = layered_config::load_from::<OrchestratorConfig, _>(None, CONFIG_PREFIX, env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("topics.raw"), "{err}");
    }

    #[test]
    fn v1_candles_live_in_the_migration_database_unless_another_is_named() {
        let mut config = OrchestratorConfig::default();
        assert_eq!(config.v1_candles_database(), "default");
        config.legacy.v1_candles_database = "legacy".to_owned();
        assert_eq!(config.v1_candles_database(), "legacy");
    }
}
