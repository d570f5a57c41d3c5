//! The one entry point from raw bytes to silver rows: [`Normalizer::normalize`].

use crate::decode;
use crate::model::{Exchange, SilverTrade};
use crate::registry::InstrumentRegistry;
use crate::reject::Reject;
use crate::validation::ValidationRules;

/// What a message turned into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This many trades were appended to the output.
    Trades(usize),
    /// A control message (heartbeat, subscription ack, a Coinbase type other than
    /// `match`/`last_match`): nothing to store, nothing wrong.
    Ignored,
}

/// Decodes, validates and normalizes raw exchange messages.
///
/// ```
/// use trade_model::{Exchange, InstrumentRegistry, Normalizer, Outcome, Side, ValidationRules};
/// let normalizer = Normalizer::new(InstrumentRegistry::bundled(), ValidationRules::default());
/// let raw = br#"{"e":"trade","E":1,"s":"ETHBTC","t":7,"p":"0.05","q":"2","T":1700000000000,"m":true}"#;
/// let mut rows = Vec::new();
/// let outcome = normalizer.normalize(Exchange::Binance, raw, 1_700_000_000_000_000, &mut rows);
/// assert_eq!(outcome, Ok(Outcome::Trades(1)));
/// assert_eq!(rows[0].symbol, "ETH/BTC");
/// assert_eq!(rows[0].side, Side::Sell);
/// assert_eq!(rows[0].quote_volume, 10_000_000_000_000_000_000); // 0.1 at scale 20
/// ```
#[derive(Debug, Clone)]
pub struct Normalizer {
    registry: InstrumentRegistry,
    rules: ValidationRules,
}

impl Normalizer {
    /// A normalizer with its registry and rules.
    pub fn new(registry: InstrumentRegistry, rules: ValidationRules) -> Self {
        Normalizer { registry, rules }
    }

    /// The registry in use.
    pub fn registry(&self) -> &InstrumentRegistry {
        &self.registry
    }

    /// The rules in use.
    pub fn rules(&self) -> &ValidationRules {
        &self.rules
    }

    /// Turns one raw message from `exchange`'s topic into silver rows appended to `out`.
    ///
    /// All or nothing: on `Err`, `out` is left as it was, even when the message carried
    /// several trades and only one was bad. `now_micros` is the wall clock (or a fixed
    /// "now" in tests) for the future-timestamp check.
    pub fn normalize(
        &self,
        exchange: Exchange,
        payload: &[u8],
        now_micros: i64,
        out: &mut Vec<SilverTrade>,
    ) -> Result<Outcome, Reject> {
        let before = out.len();
        let context = Context {
            registry: &self.registry,
            rules: &self.rules,
            now_micros,
        };
        let result = match exchange {
            Exchange::Binance => decode::binance::decode(payload, &context, out),
            Exchange::Kraken => decode::kraken::decode(payload, &context, out),
            Exchange::Coinbase => decode::coinbase::decode(payload, &context, out),
        };
        if result.is_err() {
            out.truncate(before);
        }
        result
    }

    /// One row of Kraken's historical trade CSV export (`unix_seconds,price,volume`),
    /// for the instrument `kraken_pair` (Kraken spelling, e.g. `BCH/EUR`).
    ///
    /// The export has neither trade id nor side, so it cannot become a [`SilverTrade`]
    /// without inventing data: it yields a [`decode::kraken_csv::CsvTrade`] whose id is
    /// derived from the pair, the row's position and its text.
    pub fn normalize_kraken_csv_row(
        &self,
        kraken_pair: &str,
        row_index: u64,
        line: &str,
        now_micros: i64,
    ) -> Result<decode::kraken_csv::CsvTrade, Reject> {
        let context = Context {
            registry: &self.registry,
            rules: &self.rules,
            now_micros,
        };
        decode::kraken_csv::decode_row(kraken_pair, row_index, line, &context)
    }
}

/// What every decoder needs.
pub(crate) struct Context<'n> {
    pub registry: &'n InstrumentRegistry,
    pub rules: &'n ValidationRules,
    pub now_micros: i64,
}
