//! # trade-model
//!
//! Real exchange messages in, validated silver trades out.
//!
//! - [`model`]: [`Exchange`], [`Side`] (the taker's), [`Instrument`] (`BASE/QUOTE`) and
//!   [`SilverTrade`], the `silver_trades` row with its ClickHouse encoding.
//! - [`decode`]: one decoder per exchange format (Binance trade/aggTrade, Kraken v1/v2 and
//!   historical CSV, Coinbase match/last_match).
//! - [`registry`]: [`InstrumentRegistry`], exchange symbols to canonical instruments, from
//!   `instruments.toml`.
//! - [`validation`]: [`ValidationRules`], configurable sanity bounds.
//! - [`reject`]: [`Reject`], why a message was refused, with a stable [`Reject::code`].
//! - [`normalizer`]: [`Normalizer`], the entry point from bytes to rows.
//! - [`decimal`], [`time`]: exact text-to-integer parsing (never through `f64`).
//! - [`generator`]: seeded realistic raw messages with their expected outcome.
//!
//! ```
//! use trade_model::{Exchange, InstrumentRegistry, Normalizer, Outcome, Side, ValidationRules};
//!
//! let normalizer = Normalizer::new(InstrumentRegistry::bundled(), ValidationRules::default());
//! let raw = br#"{"type":"match","trade_id":1,"product_id":"BTC-USD","price":"61000.5","size":"0.01","side":"sell","time":"2021-04-17T16:43:30.244075Z"}"#;
//! let mut rows = Vec::new();
//! let now = 1_618_677_900_000_000;
//! assert_eq!(normalizer.normalize(Exchange::Coinbase, raw, now, &mut rows), Ok(Outcome::Trades(1)));
//! assert_eq!(rows[0].side, Side::Buy); // Coinbase sends the maker's side
//! assert_eq!(rows[0].timestamp, 1_618_677_810_244_075);
//! assert_eq!(rows[0].price_text(), "61000.5");
//!
//! let bad = br#"{"type":"match","trade_id":2,"product_id":"BTC-USD","price":"-1","size":"0.01","side":"sell","time":"2021-04-17T16:43:30Z"}"#;
//! let reject = normalizer.normalize(Exchange::Coinbase, bad, now, &mut rows).unwrap_err();
//! assert_eq!(reject.code(), "price_not_positive");
//! ```
//!
//! Architecture invariant: this crate does no I/O, and never parses a price or a quantity
//! through a binary float.

pub mod decimal;
pub mod decode;
pub mod generator;
pub mod model;
pub mod normalizer;
pub mod registry;
pub mod reject;
pub mod time;
pub mod validation;

pub use model::{Exchange, Instrument, Side, SilverTrade};
pub use normalizer::{Normalizer, Outcome};
pub use registry::InstrumentRegistry;
pub use reject::Reject;
pub use validation::ValidationRules;
