//! # ohlcv-validator
//!
//! The hard gate: compares legacy (v1) candles with the gold (v2) views inside ClickHouse,
//! attributes each mismatch against a recomputation from `silver_trades`, and renders the
//! tracker table, a JSON report (`docs/VALIDATION-REPORT.md`) and an HTML report.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ohlcv_validator::ValidatorError> {
//! use ohlcv_validator::{ValidatorConfig, validate};
//!
//! let config = ValidatorConfig::default(); // legacy_ohlcv_{tf} vs gold_ohlcv_{tf}
//! let client = ch_support::client(&config.clickhouse);
//! let report = validate(&client, &config).await?;
//! println!("{}", report.markdown_table());
//! std::fs::write("validation.json", report.to_json()).ok();
//! std::process::exit(if report.passed() { 0 } else { 2 });
//! # }
//! ```
//!
//! Architecture invariant: the comparison runs in ClickHouse; this process only streams
//! counts and the first N mismatches, never both sides.

pub mod config;
pub mod error;
pub mod files;
pub mod html;
pub mod legacy_job;
pub mod range;
pub mod report;
pub mod sql;
pub mod timeframe;
pub mod validate;

pub use config::ValidatorConfig;
pub use error::ValidatorError;
pub use report::{Report, Verdict};
pub use timeframe::Timeframe;
pub use validate::{current_fingerprint, validate};
