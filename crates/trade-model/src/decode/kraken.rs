//! Kraken WebSocket v1 trade frames and v2 trade messages, told apart by their shape.
//!
//! - v1: `[channelID, [[price, volume, time, side, orderType, misc], ...], "trade", pair]`.
//!   No trade id: [`derive_v1_trade_id`] makes a stable one. `time` is seconds with
//!   microseconds, as text. Side `b`/`s` is the taker's.
//! - v2: `{"channel":"trade","type":"snapshot"|"update","data":[{symbol, side, price, qty,
//!   ord_type, trade_id, timestamp}, ...]}`. `price`/`qty` are JSON numbers: their text is
//!   kept (`RawValue`) and parsed as decimals, never as floats.
//! - Control messages (v1 `{"event":...}`, v2 heartbeat/status channels and method
//!   replies) are ignored; frames of other channels (book, ticker...) are
//!   `unsupported_message`.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::decimal::Spelling;
use crate::decode::{
    CheckedTrade, first_byte, push_trade, required, symbol, typed_error, unexpected_root, utf8,
};
use crate::model::{Exchange, Side, SilverTrade};
use crate::normalizer::{Context, Outcome};
use crate::reject::Reject;
use crate::time;

pub(crate) fn decode(
    payload: &[u8],
    context: &Context<'_>,
    out: &mut Vec<SilverTrade>,
) -> Result<Outcome, Reject> {
    match first_byte(payload) {
        Some(b'[') => decode_v1(payload, context, out),
        Some(b'{') => decode_object(payload, context, out),
        _ => Err(unexpected_root(
            payload,
            "expected a v1 array frame or a v2 object",
        )),
    }
}

/// The stable id of a Kraken v1 trade: the first 8 bytes (big-endian) of SHA-256 over
/// the pair as sent, the trade's position in its frame, and the six fields' text exactly
/// as sent, each length-prefixed. See `docs/TRADE-MODEL.md` for what this keeps stable.
///
/// ```
/// let fields = ["354.11000000", "0.89594024", "1618678142.557535", "s", "l", ""];
/// let a = trade_model::decode::kraken::derive_v1_trade_id("XMR/USD", 0, &fields);
/// assert_eq!(a, trade_model::decode::kraken::derive_v1_trade_id("XMR/USD", 0, &fields));
/// assert_ne!(a, trade_model::decode::kraken::derive_v1_trade_id("XMR/USD", 1, &fields));
/// ```
pub fn derive_v1_trade_id(pair: &str, position: u32, fields: &[&str]) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(b"kraken-v1-trade\0");
    hash_text(&mut hasher, pair);
    hasher.update(position.to_be_bytes());
    for field in fields {
        hash_text(&mut hasher, field);
    }
    let digest = hasher.finalize();
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

fn hash_text(hasher: &mut Sha256, text: &str) {
    hasher.update((text.len() as u64).to_be_bytes());
    hasher.update(text.as_bytes());
}

fn decode_v1(
    payload: &[u8],
    context: &Context<'_>,
    out: &mut Vec<SilverTrade>,
) -> Result<Outcome, Reject> {
    let frame: Vec<&RawValue> = serde_json::from_str(utf8(payload)?).map_err(Reject::from)?;
    if frame.len() < 4 {
        return Err(Reject::WrongType {
            field: "$".to_owned(),
            detail: format!("v1 frame has {} elements, expected 4", frame.len()),
        });
    }
    let channel: &str = element(&frame, frame.len() - 2, "channelName")?;
    if channel != "trade" {
        return Err(Reject::UnsupportedMessage {
            kind: format!("kraken v1 channel `{channel}`"),
        });
    }
    let pair: &str = element(&frame, frame.len() - 1, "pair")?;
    let trades: Vec<Vec<&str>> = element(&frame, 1, "trades")?;
    if trades.is_empty() {
        return Err(Reject::EmptyTrades);
    }
    let symbol = symbol(context, Exchange::Kraken, pair)?;
    for (position, fields) in trades.iter().enumerate() {
        let [price, volume, time_text, side, ..] = fields.as_slice() else {
            return Err(Reject::WrongType {
                field: format!("trades[{position}]"),
                detail: format!("{} fields, expected at least 4", fields.len()),
            });
        };
        let amounts = context.rules.amounts(price, volume, Spelling::PlainText)?;
        let timestamp =
            time::parse_unix_seconds(time_text).map_err(|_| Reject::InvalidTimestamp {
                field: "time",
                value: (*time_text).to_owned(),
            })?;
        let timestamp = context.rules.timestamp(timestamp, context.now_micros)?;
        let side = match *side {
            "b" => Side::Buy,
            "s" => Side::Sell,
            other => {
                return Err(Reject::InvalidSide {
                    field: "side",
                    value: other.to_owned(),
                });
            }
        };
        let position = u32::try_from(position).unwrap_or(u32::MAX);
        let trade = CheckedTrade {
            trade_id: derive_v1_trade_id(pair, position, fields),
            timestamp,
            amounts,
            side,
        };
        out.push(trade.into_row(Exchange::Kraken, symbol.clone()));
    }
    Ok(Outcome::Trades(trades.len()))
}

fn element<'a, T: Deserialize<'a>>(
    frame: &[&'a RawValue],
    index: usize,
    name: &str,
) -> Result<T, Reject> {
    let raw = frame.get(index).ok_or_else(|| Reject::WrongType {
        field: name.to_owned(),
        detail: "absent".to_owned(),
    })?;
    serde_json::from_str(raw.get()).map_err(|error| Reject::WrongType {
        field: name.to_owned(),
        detail: error.to_string(),
    })
}

#[derive(Deserialize)]
struct ObjectMessage<'a> {
    #[serde(borrow, default)]
    channel: Option<&'a str>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(default)]
    event: Option<IgnoredAny>,
    #[serde(default)]
    method: Option<IgnoredAny>,
    #[serde(borrow, default)]
    data: Option<Vec<V2Trade<'a>>>,
}

#[derive(Deserialize)]
struct V2Trade<'a> {
    #[serde(borrow, default)]
    symbol: Option<&'a str>,
    #[serde(borrow, default)]
    side: Option<&'a str>,
    #[serde(borrow, default)]
    price: Option<&'a RawValue>,
    #[serde(borrow, default)]
    qty: Option<&'a RawValue>,
    #[serde(default)]
    trade_id: Option<u64>,
    #[serde(borrow, default)]
    timestamp: Option<&'a str>,
}

fn decode_object(
    payload: &[u8],
    context: &Context<'_>,
    out: &mut Vec<SilverTrade>,
) -> Result<Outcome, Reject> {
    // Control messages may carry `data` of any shape, so look at the envelope first.
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow, default)]
        channel: Option<&'a str>,
        #[serde(default)]
        event: Option<IgnoredAny>,
        #[serde(default)]
        method: Option<IgnoredAny>,
    }
    let text = utf8(payload)?;
    let envelope: Envelope<'_> =
        serde_json::from_str(text).map_err(|e| typed_error::<Envelope<'_>>(payload, e))?;
    match envelope.channel {
        Some("trade") => {}
        Some("heartbeat" | "status") => return Ok(Outcome::Ignored),
        Some(other) => {
            return Err(Reject::UnsupportedMessage {
                kind: format!("kraken v2 channel `{other}`"),
            });
        }
        None if envelope.event.is_some() || envelope.method.is_some() => {
            return Ok(Outcome::Ignored);
        }
        None => return Err(Reject::MissingField { field: "channel" }),
    }
    let message: ObjectMessage<'_> =
        serde_json::from_str(text).map_err(|e| typed_error::<ObjectMessage<'_>>(payload, e))?;
    let _ = (message.channel, message.event, message.method);
    match message.kind {
        Some("snapshot" | "update") => {}
        Some(other) => {
            return Err(Reject::UnsupportedMessage {
                kind: format!("kraken v2 trade type `{other}`"),
            });
        }
        None => return Err(Reject::MissingField { field: "type" }),
    }
    let trades = required(message.data, "data")?;
    if trades.is_empty() {
        return Err(Reject::EmptyTrades);
    }
    for trade in &trades {
        let pair = required(trade.symbol, "symbol")?;
        let side = required(trade.side, "side")?;
        let price = number_text(trade.price, "price")?;
        let quantity = number_text(trade.qty, "qty")?;
        let trade_id = required(trade.trade_id, "trade_id")?;
        let time_text = required(trade.timestamp, "timestamp")?;
        let amounts = context
            .rules
            .amounts(price, quantity, Spelling::JsonNumber)?;
        let timestamp =
            time::parse_rfc3339_micros(time_text).map_err(|_| Reject::InvalidTimestamp {
                field: "timestamp",
                value: time_text.to_owned(),
            })?;
        let timestamp = context.rules.timestamp(timestamp, context.now_micros)?;
        let side = match side {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            other => {
                return Err(Reject::InvalidSide {
                    field: "side",
                    value: other.to_owned(),
                });
            }
        };
        push_trade(
            out,
            context,
            Exchange::Kraken,
            pair,
            CheckedTrade {
                trade_id,
                timestamp,
                amounts,
                side,
            },
        )?;
    }
    Ok(Outcome::Trades(trades.len()))
}

/// The text of a JSON number; a string or anything else is the wrong type.
fn number_text<'a>(raw: Option<&'a RawValue>, field: &'static str) -> Result<&'a str, Reject> {
    let text = required(raw, field)?.get();
    match text.as_bytes().first() {
        Some(b'-' | b'0'..=b'9') => Ok(text),
        _ => Err(Reject::WrongType {
            field: field.to_owned(),
            detail: format!("expected a JSON number, found `{text}`"),
        }),
    }
}
