//! # ch-support
//!
//! The one place where the workspace meets ClickHouse:
//!
//! - [`quote`]: SQL identifier quoting and string-literal escaping. Every identifier and
//!   literal that ends up in generated SQL goes through it.
//! - [`client`]: the one `clickhouse::Client` setup, from a [`ClickHouseConfig`].
//! - [`migrations`]: the ordered, idempotent migration runner (`schema_migrations`).
//!
//! ```
//! use ch_support::quote;
//! assert_eq!(quote::ident("silver_trades"), "`silver_trades`");
//! assert_eq!(quote::qualified("gold", "ohlcv_1m"), "`gold`.`ohlcv_1m`");
//! assert_eq!(quote::string_literal("it's"), "'it\\'s'");
//! ```
//!
//! Architecture invariant: no other crate builds a `clickhouse::Client` or quotes an
//! identifier by hand.

pub mod client;
pub mod migrations;
pub mod quote;

pub use client::{ClickHouseConfig, DEFAULT_CLICKHOUSE_URL, client};
