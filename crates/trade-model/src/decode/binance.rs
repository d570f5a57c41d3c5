//! Binance `trade` and `aggTrade`, plain or wrapped in a combined stream
//! (`{"stream":..,"data":{..}}`), spot and USDⓈ-M futures.
//!
//! - trade id: `t` for `trade`, `a` (the aggregate id) for `aggTrade`;
//! - time: `T` (trade time, milliseconds), not `E` (event time);
//! - side: `m` = buyer is maker, so `m: true` means the taker SOLD;
//! - futures messages (`X` present, no `M`) are stored under exchange `binance` too.
//!
//! A subscription reply (`{"result":null,"id":1}`) is ignored; another event type on a
//! trade topic is `unsupported_message`.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::decimal::Spelling;
use crate::decode::{first_byte, symbol, typed_error, utf8};
use crate::model::{Exchange, Side, SilverTrade};
use crate::normalizer::{Context, Outcome};
use crate::reject::Reject;
use crate::time;

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    id: Option<IgnoredAny>,
    #[serde(borrow, default)]
    e: Option<&'a str>,
    #[serde(borrow, default)]
    s: Option<&'a str>,
    #[serde(default)]
    t: Option<u64>,
    #[serde(default)]
    a: Option<u64>,
    #[serde(borrow, default)]
    p: Option<&'a str>,
    #[serde(borrow, default)]
    q: Option<&'a str>,
    #[serde(rename = "T", default)]
    trade_time: Option<i64>,
    #[serde(default)]
    m: Option<bool>,
}

pub(crate) fn decode(
    payload: &[u8],
    context: &Context<'_>,
    out: &mut Vec<SilverTrade>,
) -> Result<Outcome, Reject> {
    if first_byte(payload) != Some(b'{') {
        return Err(not_an_object(payload));
    }
    let text = utf8(payload)?;
    let message: Message<'_> =
        serde_json::from_str(text).map_err(|e| typed_error::<Message<'_>>(payload, e))?;
    let message = match message.data {
        Some(inner) if message.e.is_none() => {
            let inner_text = inner.get();
            let inner = inner_text.as_bytes();
            if first_byte(inner) != Some(b'{') {
                return Err(Reject::WrongType {
                    field: "data".to_owned(),
                    detail: "expected an object".to_owned(),
                });
            }
            serde_json::from_str(inner_text).map_err(|e| typed_error::<Message<'_>>(inner, e))?
        }
        _ => message,
    };
    let trade_id = match message.e {
        Some("trade") => message.t.ok_or(Reject::MissingField { field: "t" })?,
        Some("aggTrade") => message.a.ok_or(Reject::MissingField { field: "a" })?,
        Some(other) => {
            return Err(Reject::UnsupportedMessage {
                kind: format!("binance event `{other}`"),
            });
        }
        None if message.id.is_some() => return Ok(Outcome::Ignored),
        None => return Err(Reject::MissingField { field: "e" }),
    };
    let raw_symbol = message.s.ok_or(Reject::MissingField { field: "s" })?;
    let price = message.p.ok_or(Reject::MissingField { field: "p" })?;
    let quantity = message.q.ok_or(Reject::MissingField { field: "q" })?;
    let millis = message
        .trade_time
        .ok_or(Reject::MissingField { field: "T" })?;
    let buyer_is_maker = message.m.ok_or(Reject::MissingField { field: "m" })?;

    let amounts = context
        .rules
        .amounts(price, quantity, Spelling::PlainText)?;
    let timestamp = time::millis_to_micros(millis).map_err(|_| Reject::InvalidTimestamp {
        field: "T",
        value: millis.to_string(),
    })?;
    let timestamp = context.rules.timestamp(timestamp, context.now_micros)?;
    let symbol = symbol(context, Exchange::Binance, raw_symbol)?;
    out.push(SilverTrade {
        exchange: Exchange::Binance.as_str().to_owned(),
        symbol,
        trade_id,
        timestamp,
        price: amounts.price,
        quantity: amounts.quantity,
        quote_volume: amounts.quote_volume,
        side: if buyer_is_maker {
            Side::Sell
        } else {
            Side::Buy
        },
    });
    Ok(Outcome::Trades(1))
}

fn not_an_object(payload: &[u8]) -> Reject {
    match serde_json::from_slice::<IgnoredAny>(payload) {
        Err(error) => Reject::from(error),
        Ok(_) => Reject::WrongType {
            field: "$".to_owned(),
            detail: "expected a JSON object".to_owned(),
        },
    }
}
