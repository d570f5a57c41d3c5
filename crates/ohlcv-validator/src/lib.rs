//! # ohlcv-validator
//!
//! The hard gate: compares legacy (v1) candles with the gold (v2) views inside ClickHouse,
//! attributes each mismatch against a recomputation from `silver_trades`, and renders the
//! tracker table, a JSON report and an HTML report.
//!
//! Architecture invariant: the comparison runs in ClickHouse; this process only streams.
