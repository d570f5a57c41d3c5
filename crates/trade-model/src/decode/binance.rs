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
//!
//! Two readers feed one decoder. Binance's hot topic is worth a reader of its own: `scan`
//! reads the spelling Binance actually sends without serde and without allocating, and
//! declines anything else (escapes, `null`, nested values, fractions, duplicates, `id`,
//! malformed JSON). Declined payloads go through serde, which is the reference: the only
//! reader that explains JSON problems. Both yield the same `Fields` and everything after
//! that is shared, so no reject can depend on which reader ran.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::decimal::Spelling;
use crate::decode::{
    CheckedTrade, first_byte, push_trade, required, typed_error, unexpected_root, utf8,
};
use crate::model::{Exchange, Side, SilverTrade};
use crate::normalizer::{Context, Outcome};
use crate::reject::Reject;
use crate::time;

/// What a Binance message says about a trade, whichever reader read it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Fields<'a> {
    /// An `id` key was present: a subscription reply when there is no `e`.
    id: bool,
    e: Option<&'a str>,
    s: Option<&'a str>,
    t: Option<u64>,
    a: Option<u64>,
    p: Option<&'a str>,
    q: Option<&'a str>,
    trade_time: Option<i64>,
    m: Option<bool>,
}

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

impl<'a> From<Message<'a>> for Fields<'a> {
    fn from(message: Message<'a>) -> Self {
        Fields {
            id: message.id.is_some(),
            e: message.e,
            s: message.s,
            t: message.t,
            a: message.a,
            p: message.p,
            q: message.q,
            trade_time: message.trade_time,
            m: message.m,
        }
    }
}

pub(crate) fn decode(
    payload: &[u8],
    context: &Context<'_>,
    out: &mut Vec<SilverTrade>,
) -> Result<Outcome, Reject> {
    let fields = match scan(payload) {
        Some(fields) => fields,
        None => read_with_serde(payload)?,
    };
    normalize(fields, context, out)
}

/// The reference reader: every payload [`scan`] declines, with serde's account of what is
/// wrong in the reject.
fn read_with_serde(payload: &[u8]) -> Result<Fields<'_>, Reject> {
    if first_byte(payload) != Some(b'{') {
        return Err(unexpected_root(payload, "expected a JSON object"));
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
    Ok(Fields::from(message))
}

fn normalize(
    fields: Fields<'_>,
    context: &Context<'_>,
    out: &mut Vec<SilverTrade>,
) -> Result<Outcome, Reject> {
    let trade_id = match fields.e {
        Some("trade") => required(fields.t, "t")?,
        Some("aggTrade") => required(fields.a, "a")?,
        Some(other) => {
            return Err(Reject::UnsupportedMessage {
                kind: format!("binance event `{other}`"),
            });
        }
        None if fields.id => return Ok(Outcome::Ignored),
        None => return Err(Reject::MissingField { field: "e" }),
    };
    let raw_symbol = required(fields.s, "s")?;
    let price = required(fields.p, "p")?;
    let quantity = required(fields.q, "q")?;
    let millis = required(fields.trade_time, "T")?;
    let buyer_is_maker = required(fields.m, "m")?;

    let amounts = context
        .rules
        .amounts(price, quantity, Spelling::PlainText)?;
    let timestamp = time::millis_to_micros(millis).map_err(|_| Reject::InvalidTimestamp {
        field: "T",
        value: millis.to_string(),
    })?;
    let timestamp = context.rules.timestamp(timestamp, context.now_micros)?;
    let side = if buyer_is_maker {
        Side::Sell
    } else {
        Side::Buy
    };
    push_trade(
        out,
        context,
        Exchange::Binance,
        raw_symbol,
        CheckedTrade {
            trade_id,
            timestamp,
            amounts,
            side,
        },
    )
}

/// The fast reader. `Some` only when serde would read the payload into exactly these
/// fields, so it accepts a strict subset of JSON and declines (`None`) the rest:
///
/// - keys and strings without escapes (serde cannot borrow an escaped `&str`, and an
///   escaped key may still name a field);
/// - `t`, `a`, `T` as integers of at most 19 digits without sign, `m` as a boolean, the
///   strings as strings: never `null`, never another type;
/// - other members: a string, an integer, `true`, `false` or `null`;
/// - `data` as an object of the same kind, at the top level only, once; no `id` anywhere
///   (subscription replies are rare, serde handles them);
/// - each known field at most once (serde rejects duplicates).
fn scan(payload: &[u8]) -> Option<Fields<'_>> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut scanner = Scanner { text, at: 0 };
    let mut outer = Fields::default();
    let mut data = None;
    scanner.whitespace();
    scanner.object(&mut outer, Some(&mut data))?;
    scanner.whitespace();
    if scanner.at != text.len() {
        return None;
    }
    // As in `read_with_serde`: the envelope's `data` is the message unless the top level
    // is itself an event.
    Some(match data {
        Some(inner) if outer.e.is_none() => inner,
        _ => outer,
    })
}

struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// JSON's four whitespace bytes only: serde refuses a form feed, `first_byte` does not.
    fn whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let rest = self.text.as_bytes().get(self.at..)?;
        rest.starts_with(word.as_bytes())
            .then(|| self.at += word.len())
    }

    /// A string without escapes or control characters, which serde would refuse or copy.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = self.text.as_bytes().get(start..)?;
        let length = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest.get(length) != Some(&b'"') {
            return None;
        }
        self.at = start + length + 1;
        self.text.get(start..start + length)
    }

    /// JSON forbids leading zeros; 19 digits always fit a `u64`, 20 may not, and serde
    /// reads a larger number as a float, which is the wrong type.
    fn unsigned(&mut self) -> Option<u64> {
        let rest = self.text.as_bytes().get(self.at..)?;
        let mut value: u64 = 0;
        let mut digits = 0;
        for &byte in rest {
            let digit = byte.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            if digits == 19 {
                return None;
            }
            value = value * 10 + u64::from(digit);
            digits += 1;
        }
        if digits == 0 || (digits > 1 && rest.first() == Some(&b'0')) {
            return None;
        }
        self.at += digits;
        Some(value)
    }

    fn boolean(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.literal("true").map(|()| true),
            b'f' => self.literal("false").map(|()| false),
            _ => None,
        }
    }

    /// A member serde ignores. Fractions and exponents are declined rather than checked:
    /// Binance sends none outside strings.
    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' => {
                self.at += 1;
                self.unsigned().map(drop)
            }
            b'0'..=b'9' => self.unsigned().map(drop),
            _ => None,
        }
    }

    /// One object into `fields`; its `data` member into `data` when one is expected.
    fn object(
        &mut self,
        fields: &mut Fields<'a>,
        mut data: Option<&mut Option<Fields<'a>>>,
    ) -> Option<()> {
        self.eat(b'{')?;
        self.whitespace();
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.whitespace();
            self.eat(b':')?;
            self.whitespace();
            match key {
                "e" => once(&mut fields.e, self.string()?)?,
                "s" => once(&mut fields.s, self.string()?)?,
                "p" => once(&mut fields.p, self.string()?)?,
                "q" => once(&mut fields.q, self.string()?)?,
                "t" => once(&mut fields.t, self.unsigned()?)?,
                "a" => once(&mut fields.a, self.unsigned()?)?,
                "T" => once(
                    &mut fields.trade_time,
                    i64::try_from(self.unsigned()?).ok()?,
                )?,
                "m" => once(&mut fields.m, self.boolean()?)?,
                "data" => {
                    // `take` leaves `None`: a second `data` or one inside `data` declines.
                    let slot = data.take()?;
                    let mut inner = Fields::default();
                    self.object(&mut inner, None)?;
                    *slot = Some(inner);
                }
                "id" => return None,
                _ => self.skip_scalar()?,
            }
            self.whitespace();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.whitespace();
                }
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// Sets a field that must not have been seen yet.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

#[cfg(test)]
mod tests;
