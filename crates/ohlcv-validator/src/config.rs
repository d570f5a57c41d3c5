//! The validator's settings: one serde struct with defaults, loaded through
//! `layered-config` with the prefix `VALIDATOR` (e.g. `VALIDATOR__TOLERANCE__OHLC_ABS=1e-6`).
//!
//! Maps (`v1.files`, `mapping.symbols`, `mapping.exchanges`) are best set in the TOML file:
//! environment variable names are case-insensitive, so a key set through the environment
//! arrives lower-cased.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ch_support::ClickHouseConfig;
use layered_config::{ConfigError, Validate};
use serde::{Deserialize, Serialize};

use crate::timeframe::Timeframe;

/// Everything `validate` needs. `Default` compares the legacy tables `legacy_ohlcv_{tf}`
/// with the gold views `gold_ohlcv_{tf}` in the `default` database, for all six timeframes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidatorConfig {
    /// How to reach ClickHouse; `database` is where v2, silver and scratch objects live
    /// unless their own `database` key says otherwise.
    pub clickhouse: ClickHouseConfig,
    /// Timeframes to compare, in report order.
    pub timeframes: Vec<Timeframe>,
    /// The legacy candles.
    pub v1: V1Source,
    /// The gold views.
    pub v2: V2Source,
    /// The trades used to decide which side is right.
    pub silver: SilverSource,
    /// v1 names to v2 names.
    pub mapping: NameMapping,
    /// How close is equal.
    pub tolerance: Tolerance,
    /// Which windows to compare.
    pub range: RangeConfig,
    /// How much detail the reports carry.
    pub report: ReportLimits,
    /// Database for the validator's short-lived scratch tables (mismatch lists, loaded
    /// files); empty means `clickhouse.database`. They are dropped before `validate` returns.
    pub work_database: String,
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        Self {
            clickhouse: ClickHouseConfig::default(),
            timeframes: Timeframe::ALL.to_vec(),
            v1: V1Source::default(),
            v2: V2Source::default(),
            silver: SilverSource::default(),
            mapping: NameMapping::default(),
            tolerance: Tolerance::default(),
            range: RangeConfig::default(),
            report: ReportLimits::default(),
            work_database: String::new(),
        }
    }
}

/// Where the legacy candles are: a ClickHouse table per timeframe, or exported files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct V1Source {
    /// Database of the v1 tables; empty means `clickhouse.database`.
    pub database: String,
    /// Table name per timeframe; `{tf}` is replaced by the label (`1m`, ...).
    pub table: String,
    /// Column names in the v1 tables or files.
    pub columns: V1Columns,
    /// Exported files per timeframe label (`"1m" = "exports/ohlcv_1m.parquet"`). When a
    /// timeframe has a file, it is streamed into a scratch table through the ClickHouse
    /// engine (`.parquet` as Parquet, `.csv` as CSVWithNames) and `table` is not used.
    pub files: BTreeMap<String, PathBuf>,
}

impl Default for V1Source {
    fn default() -> Self {
        Self {
            database: String::new(),
            table: "legacy_ohlcv_{tf}".to_owned(),
            columns: V1Columns::default(),
            files: BTreeMap::new(),
        }
    }
}

/// Column names of the legacy candles. Defaults are the legacy job's names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct V1Columns {
    pub symbol: String,
    pub exchange: String,
    /// Window start: microseconds since the epoch (any integer type) or a DateTime.
    pub window_start: String,
    pub window_end: String,
    pub open: String,
    pub high: String,
    pub low: String,
    pub close: String,
    pub volume: String,
    pub trade_count: String,
    pub vwap: String,
}

impl Default for V1Columns {
    fn default() -> Self {
        Self {
            symbol: "symbol".into(),
            exchange: "exchange".into(),
            window_start: "window_start".into(),
            window_end: "window_end".into(),
            open: "open_price".into(),
            high: "high_price".into(),
            low: "low_price".into(),
            close: "close_price".into(),
            volume: "volume".into(),
            trade_count: "trade_count".into(),
            vwap: "vwap".into(),
        }
    }
}

/// Where the gold finalizing views are: `{prefix}ohlcv_{tf}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct V2Source {
    /// Database of the views; empty means `clickhouse.database`.
    pub database: String,
    /// Object name prefix shared with `gold-views`.
    pub prefix: String,
}

impl Default for V2Source {
    fn default() -> Self {
        Self {
            database: String::new(),
            prefix: "gold_".to_owned(),
        }
    }
}

/// The silver trades table used for attribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SilverSource {
    /// Database; empty means `clickhouse.database`.
    pub database: String,
    /// Table name.
    pub table: String,
}

impl Default for SilverSource {
    fn default() -> Self {
        Self {
            database: String::new(),
            table: "silver_trades".to_owned(),
        }
    }
}

/// Renames applied to v1 keys before they are matched with v2 keys. Names without an
/// entry are used as they are; nothing is derived by rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NameMapping {
    /// v1 symbol to v2 symbol, e.g. `BTCUSDT = "BTC/USDT"`.
    pub symbols: BTreeMap<String, String>,
    /// v1 exchange to v2 exchange, e.g. `BINANCE = "binance"`.
    pub exchanges: BTreeMap<String, String>,
}

/// Comparison tolerances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tolerance {
    /// Largest absolute difference at which open, high, low and close still match.
    pub ohlc_abs: f64,
    /// Largest absolute volume difference, used only when the v1 volume is floating point
    /// (decimal volumes must be exactly equal).
    pub volume_abs: f64,
    /// Attribution only: a wrong value within this distance of the recomputed one, with the
    /// right trade count, is put down to precision rather than to a wrong value.
    pub precision_abs: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Self {
            ohlc_abs: 1e-8,
            volume_abs: 1e-8,
            precision_abs: 1e-6,
        }
    }
}

/// The windows compared. Both empty: the overlap of the two sides. Either set: RFC 3339
/// bounds, `start` inclusive and `end` exclusive, on the window start. In every case
/// windows that have not ended yet (by this machine's clock) are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RangeConfig {
    /// Inclusive lower bound on `window_start`, e.g. `2024-01-01T00:00:00Z`.
    pub start: String,
    /// Exclusive upper bound on `window_start`.
    pub end: String,
}

/// Bounds on report detail; counts are always complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportLimits {
    /// Mismatching candles listed in detail (with attribution) per timeframe.
    pub max_mismatches: u64,
    /// Mismatches drawn as charts in the HTML report, over all timeframes.
    pub html_charts: usize,
}

impl Default for ReportLimits {
    fn default() -> Self {
        Self {
            max_mismatches: 50,
            html_charts: 20,
        }
    }
}

impl ValidatorConfig {
    /// Database for v1 tables.
    pub fn v1_database(&self) -> &str {
        or_default(&self.v1.database, &self.clickhouse.database)
    }
    /// Database for the gold views.
    pub fn v2_database(&self) -> &str {
        or_default(&self.v2.database, &self.clickhouse.database)
    }
    /// Database of `silver_trades`.
    pub fn silver_database(&self) -> &str {
        or_default(&self.silver.database, &self.clickhouse.database)
    }
    /// Database for scratch tables.
    pub fn work_database(&self) -> &str {
        or_default(&self.work_database, &self.clickhouse.database)
    }
    /// v1 table name for one timeframe.
    pub fn v1_table(&self, tf: Timeframe) -> String {
        self.v1.table.replace("{tf}", tf.label())
    }
    /// v2 view name for one timeframe.
    pub fn v2_view(&self, tf: Timeframe) -> String {
        format!("{}ohlcv_{}", self.v2.prefix, tf.label())
    }

    /// The configuration as it enters the fingerprint: everything that changes what is
    /// compared, without credentials.
    pub fn fingerprint_material(&self) -> serde_json::Value {
        let mut copy = self.clone();
        copy.clickhouse.password = String::new();
        copy.clickhouse.user = String::new();
        copy.report = ReportLimits::default();
        serde_json::to_value(&copy).unwrap_or(serde_json::Value::Null)
    }
}

fn or_default<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    if value.is_empty() { fallback } else { value }
}

impl Validate for ValidatorConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            key: key.to_owned(),
            message: message.to_owned(),
        };
        if self.timeframes.is_empty() {
            return Err(invalid("timeframes", "must list at least one timeframe"));
        }
        for (key, value) in [
            ("tolerance.ohlc_abs", self.tolerance.ohlc_abs),
            ("tolerance.volume_abs", self.tolerance.volume_abs),
            ("tolerance.precision_abs", self.tolerance.precision_abs),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(invalid(key, "must be a finite number >= 0"));
            }
        }
        if !self.v1.table.contains("{tf}") && self.timeframes.len() > 1 && self.v1.files.is_empty()
        {
            return Err(invalid(
                "v1.table",
                "must contain `{tf}` when several timeframes are compared",
            ));
        }
        for label in self.v1.files.keys() {
            if Timeframe::parse(label).is_err() {
                return Err(invalid(
                    &format!("v1.files.{label}"),
                    "is not a timeframe label (1m, 5m, 15m, 30m, 1h, 1d)",
                ));
            }
        }
        for (key, value) in [
            ("range.start", &self.range.start),
            ("range.end", &self.range.end),
        ] {
            if !value.is_empty() && crate::range::parse_rfc3339(value).is_none() {
                return Err(invalid(
                    key,
                    "is not an RFC 3339 time such as 2024-01-01T00:00:00Z",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_use_legacy_and_gold_names() {
        let config = ValidatorConfig::default();
        assert_eq!(config.v1_table(Timeframe::H1), "legacy_ohlcv_1h");
        assert_eq!(config.v2_view(Timeframe::M5), "gold_ohlcv_5m");
        assert_eq!(config.v1.columns.open, "open_price");
        assert_eq!(config.tolerance.ohlc_abs, 1e-8);
    }

    #[test]
    fn env_overrides_and_bad_values_name_the_key() {
        let env = [("VALIDATOR__TOLERANCE__OHLC_ABS".to_owned(), "-1".to_owned())];
        let err =
            layered_config::load_from::<ValidatorConfig, _>(None, "VALIDATOR", env).unwrap_err();
        assert!(err.to_string().contains("tolerance.ohlc_abs"), "{err}");

        let env = [(
            "VALIDATOR__TIMEFRAMES".to_owned(),
            "[\"1m\", \"1h\"]".to_owned(),
        )];
        let config: ValidatorConfig = layered_config::load_from(None, "VALIDATOR", env).unwrap();
        assert_eq!(config.timeframes, vec![Timeframe::M1, Timeframe::H1]);
    }

    #[test]
    fn unknown_timeframe_is_rejected_with_its_key() {
        let env = [("VALIDATOR__TIMEFRAMES".to_owned(), "[\"2m\"]".to_owned())];
        let err =
            layered_config::load_from::<ValidatorConfig, _>(None, "VALIDATOR", env).unwrap_err();
        assert!(err.to_string().contains("timeframes"), "{err}");
    }
}
