//! # gold-views
//!
//! Generates the gold OHLCV DDL (AggregatingMergeTree tables, materialized views `TO` them,
//! finalizing views), checks it, and applies it with a gap-free backfill.
//!
//! Architecture invariant: every identifier goes through `ch_support::quote`.
