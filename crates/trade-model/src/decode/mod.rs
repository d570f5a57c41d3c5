//! One decoder per exchange format. Each reads borrowed JSON (no copy of strings), parses
//! numbers from their text and appends validated rows.

pub mod binance;
pub mod coinbase;
pub mod kraken;
pub mod kraken_csv;

use serde::Deserialize;

use crate::model::Exchange;
use crate::normalizer::Context;
use crate::reject::Reject;

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
