//! One decoder per exchange format. Each reads borrowed JSON (no copy of strings), parses
//! numbers from their text and appends validated rows.

pub mod binance;
pub mod coinbase;
pub mod kraken;
pub mod kraken_csv;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::model::{Exchange, Side, SilverTrade};
use crate::normalizer::{Context, Outcome};
use crate::reject::Reject;
use crate::validation::Amounts;

/// Maps a typed-decode failure to a reject naming the field: the error path is re-run
/// with `serde_path_to_error`, so the fast path pays nothing for it.
pub(crate) fn typed_error<'a, T: Deserialize<'a>>(
    payload: &'a [u8],
    error: serde_json::Error,
) -> Reject {
    use serde_json::error::Category;
    if error.classify() != Category::Data {
        return Reject::from(error);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    match serde_path_to_error::deserialize::<_, serde::de::IgnoredAny>(&mut deserializer) {
        Err(inner) => Reject::from(inner.into_inner()),
        Ok(_) => {
            let mut deserializer = serde_json::Deserializer::from_slice(payload);
            match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
                Err(located) => Reject::WrongType {
                    field: located.path().to_string(),
                    detail: located.inner().to_string(),
                },
                Ok(_) => Reject::WrongType {
                    field: "?".to_owned(),
                    detail: error.to_string(),
                },
            }
        }
    }
}

/// The reject for a payload whose first byte is not a root the format allows: serde_json's
/// own error when it is not JSON at all, so the DLQ says where it broke; otherwise a wrong
/// type at the root, saying what the format `expected`.
pub(crate) fn unexpected_root(payload: &[u8], expected: &str) -> Reject {
    match serde_json::from_slice::<IgnoredAny>(payload) {
        Err(error) => Reject::from(error),
        Ok(_) => Reject::WrongType {
            field: "$".to_owned(),
            detail: expected.to_owned(),
        },
    }
}

/// A trade whose amounts, time and side have passed validation; only its symbol is left.
pub(crate) struct CheckedTrade {
    pub trade_id: u64,
    pub timestamp: i64,
    pub amounts: Amounts,
    pub side: Side,
}

impl CheckedTrade {
    /// The silver row, under an already resolved canonical `symbol`.
    pub(crate) fn into_row(self, exchange: Exchange, symbol: String) -> SilverTrade {
        SilverTrade {
            exchange: exchange.as_str().to_owned(),
            symbol,
            trade_id: self.trade_id,
            timestamp: self.timestamp,
            price: self.amounts.price,
            quantity: self.amounts.quantity,
            quote_volume: self.amounts.quote_volume,
            side: self.side,
        }
    }
}

/// Resolves `raw_symbol` and appends the row. The symbol is resolved last, after the
/// amounts and the time: which reject a message with several problems gets is part of
/// the DLQ contract, so that order lives here once. (Kraken v1 resolves its pair once per
/// frame, before the trades, and builds rows with [`CheckedTrade::into_row`].)
pub(crate) fn push_trade(
    out: &mut Vec<SilverTrade>,
    context: &Context<'_>,
    exchange: Exchange,
    raw_symbol: &str,
    trade: CheckedTrade,
) -> Result<Outcome, Reject> {
    let symbol = symbol(context, exchange, raw_symbol)?;
    out.push(trade.into_row(exchange, symbol));
    Ok(Outcome::Trades(1))
}

/// `value`, or the reject naming the absent `field`. Not `ok_or`: that builds the reject
/// for every field that is present and then drops it, and `Reject`'s drop is an
/// out-of-line call on the hot path.
pub(crate) fn required<T>(value: Option<T>, field: &'static str) -> Result<T, Reject> {
    match value {
        Some(value) => Ok(value),
        None => Err(Reject::MissingField { field }),
    }
}

pub(crate) fn symbol(
    context: &Context<'_>,
    exchange: Exchange,
    raw: &str,
) -> Result<String, Reject> {
    context
        .registry
        .canonical_symbol(exchange, raw)
        .ok_or_else(|| Reject::UnknownInstrument {
            exchange: exchange.as_str(),
            symbol: raw.to_owned(),
        })
}

/// The payload as text: checked once here so the JSON parser can borrow strings without
/// validating each one again.
pub(crate) fn utf8(payload: &[u8]) -> Result<&str, Reject> {
    std::str::from_utf8(payload).map_err(|error| Reject::MalformedJson {
        detail: format!("invalid UTF-8 at byte {}", error.valid_up_to()),
    })
}

pub(crate) fn first_byte(payload: &[u8]) -> Option<u8> {
    payload.iter().copied().find(|b| !b.is_ascii_whitespace())
}
