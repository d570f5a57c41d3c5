//! Kraken's historical trade CSV export: `unix_seconds,price,volume` per line, no header,
//! no trade id, no side.
//!
//! Without a side such a row cannot be a [`crate::SilverTrade`] (inventing the side would
//! be a guess), so it decodes to a [`CsvTrade`]: enough for candles and backfill checks.

use crate::decimal::Spelling;
use crate::decode::{kraken::derive_v1_trade_id, symbol};
use crate::model::Exchange;
use crate::normalizer::Context;
use crate::reject::Reject;
use crate::time;

/// One row of the CSV export, validated like a live trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvTrade {
    /// Canonical `BASE/QUOTE`.
    pub symbol: String,
    /// Derived like a Kraken v1 id, from the pair, the row index and the row's text.
    pub trade_id: u64,
    /// Microseconds since the epoch (the export has whole seconds).
    pub timestamp: i64,
    /// Price mantissa at scale 10.
    pub price: i128,
    /// Quantity mantissa at scale 10.
    pub quantity: i128,
    /// price × quantity at scale 20.
    pub quote_volume: i128,
}

pub(crate) fn decode_row(
    pair: &str,
    row_index: u64,
    line: &str,
    context: &Context<'_>,
) -> Result<CsvTrade, Reject> {
    let line = line.trim_end_matches(['\r', '\n']);
    let mut fields = line.split(',');
    let (Some(seconds), Some(price), Some(volume), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(Reject::WrongType {
            field: "row".to_owned(),
            detail: format!("`{line}` is not `unix_seconds,price,volume`"),
        });
    };
    let amounts = context.rules.amounts(price, volume, Spelling::PlainText)?;
    let timestamp = time::parse_unix_seconds(seconds).map_err(|_| Reject::InvalidTimestamp {
        field: "unix_seconds",
        value: seconds.to_owned(),
    })?;
    let timestamp = context.rules.timestamp(timestamp, context.now_micros)?;
    let position = u32::try_from(row_index).unwrap_or(u32::MAX);
    Ok(CsvTrade {
        symbol: symbol(context, Exchange::Kraken, pair)?,
        trade_id: derive_v1_trade_id(pair, position, &[seconds, price, volume]),
        timestamp,
        price: amounts.price,
        quantity: amounts.quantity,
        quote_volume: amounts.quote_volume,
    })
}
