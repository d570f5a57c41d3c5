//! # silver-processor
//!
//! Consumes raw exchange trades from the broker, validates and normalizes them with
//! `trade-model`, routes rejects to the dead-letter topic and inserts `silver_trades` rows
//! into ClickHouse, one partition offset range per insert, exactly once
//! (`docs/SILVER-DELIVERY.md`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use silver_processor::config::{ENV_PREFIX, Settings};
//! let settings: Settings = layered_config::load(None, ENV_PREFIX)?;
//! let summary = silver_processor::processor::run(settings, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! println!("{} rows inserted", summary.rows_inserted);
//! # Ok(()) }
//! ```
//!
//! Architecture invariant: only this crate commits consumer offsets, and only after the
//! ClickHouse insert covering them has been acknowledged (and the dead letters among them
//! delivered).

pub mod batch;
pub mod config;
pub mod dlq;
pub mod http;
pub mod metrics;
pub mod processor;
pub mod schema;
pub mod sink;
