//! Coinbase Exchange `match` and `last_match`.
//!
//! `side` is the MAKER order's side: `sell` means a resting sell was hit, so the taker
//! BOUGHT. Other message types (subscriptions, heartbeat, ticker, received/open/done...)
//! are ignored.

use serde::Deserialize;

use crate::decimal::Spelling;
use crate::decode::{
    CheckedTrade, first_byte, push_trade, required, typed_error, unexpected_root, utf8,
};
use crate::model::{Exchange, Side, SilverTrade};
use crate::normalizer::{Context, Outcome};
use crate::reject::Reject;
use crate::time;

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(default)]
    trade_id: Option<u64>,
    #[serde(borrow, default)]
    product_id: Option<&'a str>,
    #[serde(borrow, default)]
    price: Option<&'a str>,
    #[serde(borrow, default)]
    size: Option<&'a str>,
    #[serde(borrow, default)]
    side: Option<&'a str>,
    #[serde(borrow, default)]
    time: Option<&'a str>,
}

pub(crate) fn decode(
    payload: &[u8],
    context: &Context<'_>,
    out: &mut Vec<SilverTrade>,
) -> Result<Outcome, Reject> {
    if first_byte(payload) != Some(b'{') {
        return Err(unexpected_root(payload, "expected a JSON object"));
    }
    let text = utf8(payload)?;
    let message: Message<'_> =
        serde_json::from_str(text).map_err(|e| typed_error::<Message<'_>>(payload, e))?;
    match message.kind {
        Some("match" | "last_match") => {}
        Some(_) => return Ok(Outcome::Ignored),
        None => return Err(Reject::MissingField { field: "type" }),
    }
    let trade_id = required(message.trade_id, "trade_id")?;
    let product = required(message.product_id, "product_id")?;
    let price = required(message.price, "price")?;
    let size = required(message.size, "size")?;
    let maker_side = required(message.side, "side")?;
    let time_text = required(message.time, "time")?;

    let taker_side = match maker_side {
        "sell" => Side::Buy,
        "buy" => Side::Sell,
        other => {
            return Err(Reject::InvalidSide {
                field: "side",
                value: other.to_owned(),
            });
        }
    };
    let amounts = context.rules.amounts(price, size, Spelling::PlainText)?;
    let timestamp =
        time::parse_rfc3339_micros(time_text).map_err(|_| Reject::InvalidTimestamp {
            field: "time",
            value: time_text.to_owned(),
        })?;
    let timestamp = context.rules.timestamp(timestamp, context.now_micros)?;
    push_trade(
        out,
        context,
        Exchange::Coinbase,
        product,
        CheckedTrade {
            trade_id,
            timestamp,
            amounts,
            side: taker_side,
        },
    )
}
