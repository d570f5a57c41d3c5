//! # silver-processor
//!
//! Consumes raw exchange trades from the broker, validates and normalizes them with
//! `trade-model`, routes rejects to the dead-letter topic and inserts `silver_trades` rows
//! into ClickHouse, one partition offset range per insert, exactly once.
//!
//! Architecture invariant: only this crate commits consumer offsets, and only after the
//! ClickHouse insert covering them has been acknowledged.
