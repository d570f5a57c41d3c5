//! # gold-views
//!
//! The gold layer: OHLCV candles computed by ClickHouse itself. For each timeframe this
//! crate generates an AggregatingMergeTree state table, a materialized view `TO` it and a
//! finalizing view (`-Merge`) with the columns readers use: `exchange, symbol,
//! window_start, window_end, open, high, low, close, volume, quote_volume, trade_count,
//! vwap`. It checks the DDL with sqlparser, applies it idempotently, and backfills existing
//! silver rows without a gap or a double count at the switch-over.
//!
//! ```
//! use gold_views::{GoldConfig, check, ddl};
//!
//! let statements = ddl::generate(&GoldConfig::default());
//! check::check_all(&statements).unwrap();
//! assert!(statements.iter().any(|s| s.name == "gold_ohlcv_1m"));
//! ```
//!
//! `xtask` and the tests call [`apply::apply`]; the `gold-views` binary is a thin shell.
//! Design and guarantees: `docs/GOLD-VIEWS.md`.
//!
//! Architecture invariant: every identifier and literal in generated SQL goes through
//! `ch_support::quote`; the materialized view and the backfill share one `SELECT`
//! ([`ddl::state_select`]) so both paths compute the same states.

pub mod apply;
pub mod check;
pub mod config;
pub mod ddl;
pub mod error;
pub mod output;
pub mod reference;
pub mod timeframe;

pub use apply::{ApplyEvent, ApplyOptions, ApplyReport, BackfillOutcome, apply, apply_with};
pub use config::{ClusterConfig, GoldConfig, TimeframeStorage};
pub use ddl::{Statement, generate};
pub use error::GoldError;
pub use timeframe::Timeframe;
