//! The vocabulary: exchanges, sides, canonical instruments and the silver trade row.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_repr::{Deserialize_repr, Serialize_repr};

use crate::decimal::{PRICE_SCALE, QUOTE_VOLUME_SCALE, format_scaled};

/// An exchange whose raw trades we ingest. Its string form is the `silver_trades.exchange`
/// value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Exchange {
    /// Binance spot and USDⓈ-M futures (both stored as `binance`, see `docs/TRADE-MODEL.md`).
    Binance,
    /// Kraken WebSocket v1 and v2.
    Kraken,
    /// Coinbase Exchange WebSocket `match` / `last_match`.
    Coinbase,
}

impl Exchange {
    /// Every exchange, in a fixed order.
    pub const ALL: [Exchange; 3] = [Exchange::Binance, Exchange::Kraken, Exchange::Coinbase];

    /// The `silver_trades.exchange` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Exchange::Binance => "binance",
            Exchange::Kraken => "kraken",
            Exchange::Coinbase => "coinbase",
        }
    }

    /// The raw topic this exchange's messages arrive on.
    pub const fn raw_topic(self) -> &'static str {
        match self {
            Exchange::Binance => "market.crypto.trades.binance.raw",
            Exchange::Kraken => "market.crypto.trades.kraken.raw",
            Exchange::Coinbase => "market.crypto.trades.coinbase.raw",
        }
    }
}

impl fmt::Display for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of `binance`, `kraken`, `coinbase`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown exchange `{0}` (expected binance, kraken or coinbase)")]
pub struct UnknownExchange(pub String);

impl FromStr for Exchange {
    type Err = UnknownExchange;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "binance" => Ok(Exchange::Binance),
            "kraken" => Ok(Exchange::Kraken),
            "coinbase" => Ok(Exchange::Coinbase),
            other => Err(UnknownExchange(other.to_owned())),
        }
    }
}

/// The taker's side: BUY when the aggressor bought (lifted the ask).
///
/// Stored as `Enum8('BUY' = 1, 'SELL' = 2)`; `repr(i8)` because the `clickhouse` crate's
/// row validation maps `Enum8` to `i8` (the RowBinary byte is the same either way).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize_repr, Deserialize_repr,
)]
#[repr(i8)]
pub enum Side {
    /// The taker bought.
    Buy = 1,
    /// The taker sold.
    Sell = 2,
}

impl Side {
    /// `BUY` or `SELL`, as in the ClickHouse enum.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A canonical instrument, `BASE/QUOTE` in upper case with the industry's asset names
/// (BTC, not XBT).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Instrument {
    base: String,
    quote: String,
    symbol: String,
}

impl Instrument {
    /// Builds `BASE/QUOTE` from two canonical asset names.
    pub fn new(base: &str, quote: &str) -> Self {
        Instrument {
            base: base.to_owned(),
            quote: quote.to_owned(),
            symbol: format!("{base}/{quote}"),
        }
    }
    /// The base asset (`BTC` in `BTC/USDT`).
    pub fn base(&self) -> &str {
        &self.base
    }
    /// The quote asset (`USDT` in `BTC/USDT`).
    pub fn quote(&self) -> &str {
        &self.quote
    }
    /// The `silver_trades.symbol` value, `BASE/QUOTE`.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }
}

impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.symbol)
    }
}

/// One row of `silver_trades`, field for field and in column order.
///
/// Representations, chosen once here:
/// - `timestamp`: `DateTime64(6, 'UTC')` as `i64` microseconds since the Unix epoch;
/// - `price`, `quantity`: `Decimal(38, 10)` as the `i128` mantissa (value × 10^10);
/// - `quote_volume`: `Decimal(38, 20)` as the `i128` mantissa of price × quantity, exact;
/// - `side`: `Enum8('BUY' = 1, 'SELL' = 2)` through `serde_repr`.
///
/// The trade's identity, for dedup and for tie-breaking, is `(exchange, symbol, trade_id)`.
#[derive(clickhouse::Row, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SilverTrade {
    /// `binance`, `kraken` or `coinbase`.
    pub exchange: String,
    /// Canonical `BASE/QUOTE`.
    pub symbol: String,
    /// The exchange's trade id (Binance aggTrade: the aggregate id); derived for Kraken v1.
    pub trade_id: u64,
    /// Exchange trade time, microseconds since the Unix epoch, UTC.
    pub timestamp: i64,
    /// Price mantissa at scale 10.
    pub price: i128,
    /// Quantity (base asset) mantissa at scale 10.
    pub quantity: i128,
    /// price × quantity mantissa at scale 20.
    pub quote_volume: i128,
    /// The taker's side.
    pub side: Side,
}

impl SilverTrade {
    /// Column names of `silver_trades`, in order.
    pub const COLUMNS: [&'static str; 8] = [
        "exchange",
        "symbol",
        "trade_id",
        "timestamp",
        "price",
        "quantity",
        "quote_volume",
        "side",
    ];

    /// The price as decimal text (no float involved).
    pub fn price_text(&self) -> String {
        format_scaled(self.price, PRICE_SCALE)
    }
    /// The quantity as decimal text.
    pub fn quantity_text(&self) -> String {
        format_scaled(self.quantity, PRICE_SCALE)
    }
    /// The quote volume as decimal text.
    pub fn quote_volume_text(&self) -> String {
        format_scaled(self.quote_volume, QUOTE_VOLUME_SCALE)
    }
    /// The order candles use for open/close: exchange timestamp, then trade id.
    pub fn sequence_key(&self) -> (i64, u64) {
        (self.timestamp, self.trade_id)
    }
}
