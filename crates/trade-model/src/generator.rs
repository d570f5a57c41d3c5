//! Seeded generator of realistic raw exchange messages, each with its expected outcome.
//!
//! Every format the decoders read is produced: Binance trade/aggTrade (plain and combined
//! stream, spot and futures), Kraken v1 frames (several trades each) and v2 messages,
//! Coinbase `match`/`last_match`, plus control messages that must be ignored. Prices walk
//! randomly per instrument; trades come in same-millisecond bursts, land exactly on
//! candle boundaries, cross midnight UTC (the default start is 23:55 UTC), arrive late
//! and out of order; a configurable share is invalid, covering every reject kind.
//!
//! Expected outcomes assume [`InstrumentRegistry::bundled`](crate::InstrumentRegistry::bundled)
//! and [`ValidationRules::default`](crate::ValidationRules::default), with the
//! generator's fixed `now_micros` passed to `normalize`.
//!
//! ```
//! use trade_model::generator::{Expected, Generator, GeneratorConfig};
//! use trade_model::{InstrumentRegistry, Normalizer, ValidationRules};
//!
//! let config = GeneratorConfig::default();
//! let normalizer = Normalizer::new(InstrumentRegistry::bundled(), ValidationRules::default());
//! for message in Generator::new(config.clone()).take(1_000) {
//!     let mut rows = Vec::new();
//!     let result = normalizer.normalize(message.exchange, &message.payload, config.now_micros, &mut rows);
//!     match message.expected {
//!         Expected::Trades(expected) => assert_eq!(rows, expected),
//!         Expected::Reject(code) => assert_eq!(result.unwrap_err().code(), code),
//!         Expected::Ignored => assert!(rows.is_empty()),
//!     }
//! }
//! ```

use std::fmt::Write as _;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::decimal::{PRICE_SCALE, format_scaled};
use crate::decode::kraken::derive_v1_trade_id;
use crate::model::{Exchange, Side, SilverTrade};
use crate::reject::Reject;
use crate::time::format_rfc3339_micros;

/// 2024-03-09T23:55:00Z: five minutes before a midnight UTC.
pub const DEFAULT_START_MICROS: i64 = 1_710_028_500_000_000;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// Same seed, same messages.
    pub seed: u64,
    /// The time of the first trade (microseconds since the epoch).
    pub start_micros: i64,
    /// The fixed "now" to pass to `normalize`; timestamps stay below it.
    pub now_micros: i64,
    /// Exchanges to draw messages from (equally likely).
    pub exchanges: Vec<Exchange>,
    /// Share of invalid messages, per million messages.
    pub invalid_per_million: u32,
    /// Share of late trades (timestamp up to ten minutes back), per million.
    pub late_per_million: u32,
    /// Share of control messages (heartbeats, acks), per million.
    pub control_per_million: u32,
    /// Largest number of trades sharing one millisecond.
    pub max_burst: u32,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 42,
            start_micros: DEFAULT_START_MICROS,
            now_micros: DEFAULT_START_MICROS + 30 * 86_400_000_000,
            exchanges: Exchange::ALL.to_vec(),
            invalid_per_million: 50_000,
            late_per_million: 10_000,
            control_per_million: 5_000,
            max_burst: 200,
        }
    }
}

impl GeneratorConfig {
    /// Only valid trades (no invalid or control messages): for throughput benchmarks.
    pub fn valid_only(seed: u64, exchanges: &[Exchange]) -> Self {
        GeneratorConfig {
            seed,
            exchanges: exchanges.to_vec(),
            invalid_per_million: 0,
            control_per_million: 0,
            ..GeneratorConfig::default()
        }
    }
}

/// The wire format a message was generated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Binance spot `trade`.
    BinanceTrade,
    /// Binance spot `aggTrade`.
    BinanceAggTrade,
    /// Binance futures `trade` (`X` present, no `M`).
    BinanceFuturesTrade,
    /// Binance futures `aggTrade`.
    BinanceFuturesAggTrade,
    /// Kraken WebSocket v1 trade frame.
    KrakenV1,
    /// Kraken WebSocket v2 trade message.
    KrakenV2,
    /// Coinbase `match`.
    CoinbaseMatch,
    /// Coinbase `last_match`.
    CoinbaseLastMatch,
    /// A control message (heartbeat, subscription ack).
    Control,
}

/// What `normalize` must return for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// These rows, in order.
    Trades(Vec<SilverTrade>),
    /// A reject with this code.
    Reject(&'static str),
    /// `Outcome::Ignored`.
    Ignored,
}

/// One generated raw message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedMessage {
    /// The topic's exchange.
    pub exchange: Exchange,
    /// How it was spelled.
    pub format: Format,
    /// Whether a Binance message is wrapped in a combined-stream envelope.
    pub combined_stream: bool,
    /// The raw bytes, as the exchange would send them.
    pub payload: Vec<u8>,
    /// The expected outcome.
    pub expected: Expected,
}

/// Every reject kind the generator can produce, by code: all of [`Reject::CODES`] but
/// the last, `empty_trades`, which needs a message shape the generator does not make.
pub const GENERATED_REJECT_CODES: &[&str] = match Reject::CODES.split_last() {
    Some((_, generated)) => generated,
    None => &[],
};

struct Market {
    exchange: Exchange,
    /// The exchange's spelling.
    raw_symbol: &'static str,
    canonical: &'static str,
    /// Price mantissa (scale 10).
    price: i128,
    /// Price digits the exchange uses.
    price_decimals: u32,
    /// Quantity digits the exchange uses.
    quantity_decimals: u32,
    /// Typical quantity, whole units (upper bound of the draw).
    max_quantity_units: i128,
    next_trade_id: u64,
}

/// An infinite iterator of [`GeneratedMessage`]s.
pub struct Generator {
    config: GeneratorConfig,
    rng: ChaCha8Rng,
    markets: Vec<Market>,
    /// Current exchange time, microseconds.
    clock_micros: i64,
    /// Pending same-millisecond trades of a burst: (market index, remaining).
    burst: Option<(usize, u32)>,
    buffer: String,
}

const DECIMALS_BINANCE: u32 = 8;

impl Generator {
    /// A generator; equal configs give equal streams.
    pub fn new(config: GeneratorConfig) -> Self {
        let mut markets = Vec::new();
        let mut add = |exchange,
                       raw_symbol,
                       canonical,
                       price_units_text: i128,
                       price_decimals,
                       quantity_decimals,
                       max_quantity_units| {
            if config.exchanges.contains(&exchange) {
                markets.push(Market {
                    exchange,
                    raw_symbol,
                    canonical,
                    price: price_units_text,
                    price_decimals,
                    quantity_decimals,
                    max_quantity_units,
                    next_trade_id: 1_000_000,
                });
            }
        };
        let p = |whole: i128, frac_e10: i128| whole * 10_000_000_000 + frac_e10;
        add(
            Exchange::Binance,
            "BTCUSDT",
            "BTC/USDT",
            p(61_837, 6_300_000_000),
            2,
            DECIMALS_BINANCE,
            2,
        );
        add(
            Exchange::Binance,
            "ETHBTC",
            "ETH/BTC",
            p(0, 520_000_000),
            5,
            4,
            50,
        );
        add(
            Exchange::Binance,
            "BTCFDUSD",
            "BTC/FDUSD",
            p(61_800, 0),
            2,
            5,
            2,
        );
        add(
            Exchange::Binance,
            "XRPETH",
            "XRP/ETH",
            p(0, 14_134_200),
            8,
            0,
            5_000,
        );
        add(
            Exchange::Kraken,
            "XBT/USD",
            "BTC/USD",
            p(61_850, 0),
            1,
            8,
            3,
        );
        add(
            Exchange::Kraken,
            "XBT/CHF",
            "BTC/CHF",
            p(55_400, 0),
            1,
            8,
            3,
        );
        add(
            Exchange::Kraken,
            "XDG/USD",
            "DOGE/USD",
            p(0, 1_612_340_000),
            7,
            8,
            100_000,
        );
        add(
            Exchange::Kraken,
            "ETH/EUR",
            "ETH/EUR",
            p(3_120, 0),
            2,
            8,
            40,
        );
        add(
            Exchange::Coinbase,
            "BTC-USD",
            "BTC/USD",
            p(61_860, 0),
            2,
            8,
            3,
        );
        add(
            Exchange::Coinbase,
            "ETH-USD",
            "ETH/USD",
            p(3_400, 0),
            2,
            8,
            40,
        );
        add(
            Exchange::Coinbase,
            "SKL-USD",
            "SKL/USD",
            p(0, 5_752_000_000),
            4,
            2,
            20_000,
        );
        let rng = ChaCha8Rng::seed_from_u64(config.seed);
        Generator {
            clock_micros: config.start_micros,
            config,
            rng,
            markets,
            burst: None,
            buffer: String::with_capacity(512),
        }
    }

    fn chance(&mut self, per_million: u32) -> bool {
        per_million > 0 && self.rng.random_range(0..1_000_000) < per_million
    }

    /// Moves the clock: mostly small gaps, sometimes exactly onto a candle boundary.
    fn advance_clock(&mut self, exchange: Exchange) {
        let roll = self.rng.random_range(0..100);
        let step: i64 = if roll < 5 {
            // Exactly onto the next boundary of a timeframe (1m..1h; midnight is crossed by
            // the default start time). Binance keeps whole milliseconds, so stay on them.
            let frames = [60, 300, 900, 1_800, 3_600].map(|s: i64| s * 1_000_000);
            let frame = frames[self.rng.random_range(0..frames.len())];
            let next = (self.clock_micros.div_euclid(frame) + 1) * frame;
            if next - self.clock_micros <= 120_000_000 {
                next - self.clock_micros
            } else {
                1_000
            }
        } else {
            self.rng.random_range(0..400_000)
        };
        self.clock_micros += step;
        if exchange == Exchange::Binance {
            self.clock_micros -= self.clock_micros.rem_euclid(1_000);
        }
        // Never pass the configured "now".
        self.clock_micros = self.clock_micros.min(self.config.now_micros - 1_000_000);
    }

    fn next_trade(&mut self, market_index: usize, late: bool) -> SilverTrade {
        let tick_exponent =
            PRICE_SCALE - self.markets[market_index].price_decimals.min(PRICE_SCALE);
        let tick = 10_i128.pow(tick_exponent);
        let moves = self.rng.random_range(-3_i128..=3);
        let quantity_exponent = PRICE_SCALE
            - self.markets[market_index]
                .quantity_decimals
                .min(PRICE_SCALE);
        let quantity_step = 10_i128.pow(quantity_exponent);
        let max_quantity = self.markets[market_index].max_quantity_units * 10_000_000_000;
        let quantity_steps = self
            .rng
            .random_range(1..=(max_quantity / quantity_step).max(1));
        let side = if self.rng.random::<bool>() {
            Side::Buy
        } else {
            Side::Sell
        };
        let late_by = if late {
            self.rng.random_range(1_000_000..600_000_000)
        } else {
            0
        };
        let exchange = self.markets[market_index].exchange;
        let mut timestamp = self.clock_micros - late_by;
        if exchange == Exchange::Binance {
            timestamp -= timestamp.rem_euclid(1_000);
        }
        let market = &mut self.markets[market_index];
        market.price = (market.price + moves * tick).max(tick * 10);
        market.next_trade_id += 1;
        let quantity = quantity_steps * quantity_step;
        SilverTrade {
            exchange: exchange.as_str().to_owned(),
            symbol: market.canonical.to_owned(),
            trade_id: market.next_trade_id,
            timestamp,
            price: market.price,
            quantity,
            quote_volume: market.price * quantity,
            side,
        }
    }

    fn pick_market(&mut self) -> usize {
        if let Some((index, remaining)) = self.burst {
            self.burst = if remaining > 1 {
                Some((index, remaining - 1))
            } else {
                None
            };
            return index;
        }
        let index = self.rng.random_range(0..self.markets.len());
        let exchange = self.markets[index].exchange;
        self.advance_clock(exchange);
        if self.config.max_burst > 1 && self.chance(20_000) {
            let size = self.rng.random_range(2..=self.config.max_burst);
            self.burst = Some((index, size - 1));
        }
        index
    }

    fn generate(&mut self) -> GeneratedMessage {
        let market_index = self.pick_market();
        let exchange = self.markets[market_index].exchange;
        if self.chance(self.config.control_per_million) {
            return self.control(exchange);
        }
        let late = self.chance(self.config.late_per_million);
        let invalid = self.chance(self.config.invalid_per_million);
        let format = match exchange {
            Exchange::Binance => [
                Format::BinanceTrade,
                Format::BinanceAggTrade,
                Format::BinanceFuturesTrade,
                Format::BinanceFuturesAggTrade,
            ][self.rng.random_range(0..4)],
            Exchange::Kraken => {
                if self.rng.random::<bool>() {
                    Format::KrakenV1
                } else {
                    Format::KrakenV2
                }
            }
            Exchange::Coinbase => {
                if self.rng.random_range(0..20) == 0 {
                    Format::CoinbaseLastMatch
                } else {
                    Format::CoinbaseMatch
                }
            }
        };
        // Kraken frames carry several trades; a burst inside a frame shares the time.
        let trade_count = match format {
            Format::KrakenV1 | Format::KrakenV2 => self.rng.random_range(1..=4),
            _ => 1,
        };
        let mut trades: Vec<SilverTrade> = (0..trade_count)
            .map(|_| self.next_trade(market_index, late))
            .collect();
        let combined_stream = matches!(exchange, Exchange::Binance) && self.rng.random::<bool>();
        let spoil = if invalid {
            Some(expressible(
                format,
                GENERATED_REJECT_CODES[self.rng.random_range(0..GENERATED_REJECT_CODES.len())],
            ))
        } else {
            None
        };
        let raw_symbol = self.markets[market_index].raw_symbol;
        // The spoiled trade is the last one, so multi-trade frames test all-or-nothing.
        let spoiled = trades.len() - 1;
        if exchange == Exchange::Kraken && format == Format::KrakenV1 {
            for (position, trade) in trades.iter_mut().enumerate() {
                let fields = self.kraken_v1_fields(trade, market_index);
                let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
                trade.trade_id = derive_v1_trade_id(raw_symbol, position as u32, &refs);
            }
        }
        let payload = self.render(
            format,
            market_index,
            &trades,
            combined_stream,
            spoil.map(|code| (spoiled, code)),
        );
        let expected = match spoil {
            Some(code) => Expected::Reject(code),
            None => Expected::Trades(trades),
        };
        GeneratedMessage {
            exchange,
            format,
            combined_stream,
            payload: payload.into_bytes(),
            expected,
        }
    }

    fn control(&mut self, exchange: Exchange) -> GeneratedMessage {
        let payload = match exchange {
            Exchange::Binance => r#"{"result":null,"id":1}"#.to_owned(),
            Exchange::Kraken => {
                if self.rng.random::<bool>() {
                    r#"{"event":"heartbeat"}"#.to_owned()
                } else {
                    r#"{"channel":"heartbeat"}"#.to_owned()
                }
            }
            Exchange::Coinbase => format!(
                r#"{{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"{}"}}"#,
                format_rfc3339_micros(self.clock_micros)
            ),
        };
        GeneratedMessage {
            exchange,
            format: Format::Control,
            combined_stream: false,
            payload: payload.into_bytes(),
            expected: Expected::Ignored,
        }
    }

    fn kraken_v1_fields(&self, trade: &SilverTrade, market_index: usize) -> [String; 6] {
        let market = &self.markets[market_index];
        [
            fixed(trade.price, market.price_decimals.max(5)),
            fixed(trade.quantity, 8),
            format!(
                "{}.{:06}",
                trade.timestamp.div_euclid(1_000_000),
                trade.timestamp.rem_euclid(1_000_000)
            ),
            if trade.side == Side::Buy {
                "b".to_owned()
            } else {
                "s".to_owned()
            },
            "l".to_owned(),
            String::new(),
        ]
    }

    fn render(
        &mut self,
        format: Format,
        market_index: usize,
        trades: &[SilverTrade],
        combined_stream: bool,
        spoil: Option<(usize, &'static str)>,
    ) -> String {
        let mut out = std::mem::take(&mut self.buffer);
        out.clear();
        let raw_symbol = self.markets[market_index].raw_symbol;
        let now = self.config.now_micros;
        let spoil_for = |index: usize| spoil.filter(|(at, _)| *at == index).map(|(_, code)| code);
        match format {
            Format::BinanceTrade
            | Format::BinanceAggTrade
            | Format::BinanceFuturesTrade
            | Format::BinanceFuturesAggTrade => {
                let trade = &trades[0];
                let code = spoil_for(0);
                let fields = Fields::new(
                    code,
                    fixed(trade.price, DECIMALS_BINANCE),
                    fixed(trade.quantity, DECIMALS_BINANCE),
                );
                let symbol = if code == Some("unknown_instrument") {
                    "NOPEXYZ"
                } else {
                    raw_symbol
                };
                let millis = match code {
                    Some("timestamp_in_future") => (now + 3_600_000_000) / 1_000,
                    Some("timestamp_too_old") => 1_104_537_600_000,
                    _ => trade.timestamp / 1_000,
                };
                let time = if code == Some("invalid_timestamp") {
                    i64::MAX.to_string()
                } else {
                    millis.to_string()
                };
                let agg = matches!(
                    format,
                    Format::BinanceAggTrade | Format::BinanceFuturesAggTrade
                );
                let futures = matches!(
                    format,
                    Format::BinanceFuturesTrade | Format::BinanceFuturesAggTrade
                );
                let event = match code {
                    Some("unsupported_message") => "24hrTicker",
                    _ if agg => "aggTrade",
                    _ => "trade",
                };
                let maker = if trade.side == Side::Sell {
                    "true"
                } else {
                    "false"
                };
                if combined_stream {
                    let stream = raw_symbol.to_ascii_lowercase();
                    let _ = write!(
                        out,
                        r#"{{"stream":"{stream}@{}","data":"#,
                        if agg { "aggTrade" } else { "trade" }
                    );
                }
                let _ = write!(out, r#"{{"e":"{event}","E":{},"s":"{symbol}","#, millis + 3);
                let id = trade.trade_id;
                if agg {
                    let _ = write!(
                        out,
                        r#""a":{id},"p":"{}","q":"{}","f":{},"l":{},"T":{time},"m":{maker}"#,
                        fields.price,
                        fields.quantity,
                        id * 3,
                        id * 3 + 1
                    );
                } else {
                    let _ = write!(
                        out,
                        r#""t":{id},"p":"{}","q":"{}","T":{time},"m":{maker}"#,
                        fields.price, fields.quantity
                    );
                }
                if futures {
                    out.push_str(r#","X":"MARKET"}"#);
                } else {
                    out.push_str(r#","M":true}"#);
                }
                if combined_stream {
                    out.push('}');
                }
            }
            Format::KrakenV1 => {
                let channel = if spoil_for(trades.len() - 1) == Some("unsupported_message") {
                    "book-10"
                } else {
                    "trade"
                };
                let pair = if spoil_for(trades.len() - 1) == Some("unknown_instrument") {
                    "FOO/ZZZ"
                } else {
                    raw_symbol
                };
                let _ = write!(out, "[{},[", 100 + market_index);
                for (index, trade) in trades.iter().enumerate() {
                    let code = spoil_for(index);
                    let [price, volume, time, side, kind, misc] =
                        self.kraken_v1_fields(trade, market_index);
                    let fields = Fields::new(code, price, volume);
                    let time = match code {
                        Some("timestamp_in_future") => {
                            format!("{}.000000", now / 1_000_000 + 3_600)
                        }
                        Some("timestamp_too_old") => "1104537600.000000".to_owned(),
                        Some("invalid_timestamp") => "soon".to_owned(),
                        _ => time,
                    };
                    let side = if code == Some("invalid_side") {
                        "x".to_owned()
                    } else {
                        side
                    };
                    if index > 0 {
                        out.push(',');
                    }
                    let _ = write!(
                        out,
                        r#"["{}","{}","{time}","{side}","{kind}","{misc}"]"#,
                        fields.price, fields.quantity
                    );
                }
                let _ = write!(out, r#"],"{channel}","{pair}"]"#);
            }
            Format::KrakenV2 => {
                let channel = if spoil.map(|s| s.1) == Some("unsupported_message") {
                    "book"
                } else {
                    "trade"
                };
                let _ = write!(out, r#"{{"channel":"{channel}","type":"update","data":["#);
                for (index, trade) in trades.iter().enumerate() {
                    let code = spoil_for(index);
                    let fields = Fields::new(
                        code,
                        format_scaled(trade.price, PRICE_SCALE),
                        format_scaled(trade.quantity, PRICE_SCALE),
                    );
                    let pair = if code == Some("unknown_instrument") {
                        "FOO/ZZZ"
                    } else {
                        raw_symbol
                    };
                    let side = match code {
                        Some("invalid_side") => "both",
                        _ if trade.side == Side::Buy => "buy",
                        _ => "sell",
                    };
                    let time = match code {
                        Some("timestamp_in_future") => format_rfc3339_micros(now + 3_600_000_000),
                        Some("timestamp_too_old") => "2005-01-01T00:00:00.000000Z".to_owned(),
                        Some("invalid_timestamp") => "2024-02-30T00:00:00.000000Z".to_owned(),
                        _ => format_rfc3339_micros(trade.timestamp),
                    };
                    if index > 0 {
                        out.push(',');
                    }
                    let (price, quantity) = (&fields.price, &fields.quantity);
                    let _ = write!(
                        out,
                        r#"{{"symbol":"{pair}","side":"{side}","price":{price},"qty":{quantity},"ord_type":"limit","trade_id":{},"timestamp":"{time}"}}"#,
                        trade.trade_id
                    );
                }
                out.push_str("]}");
            }
            Format::CoinbaseMatch | Format::CoinbaseLastMatch | Format::Control => {
                let trade = &trades[0];
                let code = spoil_for(0);
                let fields = Fields::new(
                    code,
                    format_scaled(trade.price, PRICE_SCALE),
                    format_scaled(trade.quantity, PRICE_SCALE),
                );
                let product = if code == Some("unknown_instrument") {
                    "FOO-ZZZ"
                } else {
                    raw_symbol
                };
                let kind = if format == Format::CoinbaseLastMatch {
                    "last_match"
                } else {
                    "match"
                };
                // Coinbase sends the maker's side: the opposite of the taker's.
                let maker_side = match code {
                    Some("invalid_side") => "hold",
                    _ if trade.side == Side::Buy => "sell",
                    _ => "buy",
                };
                let time = match code {
                    Some("timestamp_in_future") => format_rfc3339_micros(now + 3_600_000_000),
                    Some("timestamp_too_old") => "2005-01-01T00:00:00.000000Z".to_owned(),
                    Some("invalid_timestamp") => "yesterday".to_owned(),
                    _ => format_rfc3339_micros(trade.timestamp),
                };
                let _ = write!(
                    out,
                    r#"{{"type":"{kind}","trade_id":{},"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8","taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","side":"{maker_side}","size":"{}","price":"{}","product_id":"{product}","sequence":{},"time":"{time}"}}"#,
                    trade.trade_id,
                    fields.quantity,
                    fields.price,
                    trade.trade_id * 7
                );
            }
        }
        // Spoilers that act on the whole text.
        if let Some((_, code)) = spoil {
            match code {
                "malformed_json" => {
                    let cut = out.len() / 2;
                    out.truncate(cut);
                }
                "missing_field" => {
                    out = remove_first_field(&out, format);
                }
                "wrong_type" => {
                    out = make_wrong_type(&out, format);
                }
                _ => {}
            }
        }
        let text = out.clone();
        self.buffer = out;
        text
    }
}

impl Iterator for Generator {
    type Item = GeneratedMessage;
    fn next(&mut self) -> Option<GeneratedMessage> {
        if self.markets.is_empty() {
            return None;
        }
        Some(self.generate())
    }
}

/// Price and quantity text of one trade, after the spoilers that act on them.
struct Fields {
    price: String,
    quantity: String,
}

impl Fields {
    fn new(code: Option<&str>, price: String, quantity: String) -> Self {
        let (price, quantity) = match code {
            Some("invalid_decimal") => ("NaN".to_owned(), quantity),
            Some("too_many_fraction_digits") => ("1.00000000001".to_owned(), quantity),
            Some("number_out_of_range") => (price, "1".repeat(40)),
            Some("price_not_positive") => ("-1.5".to_owned(), quantity),
            Some("quantity_not_positive") => (price, "0".to_owned()),
            Some("price_out_of_bounds") => ("20000000000".to_owned(), quantity),
            Some("quantity_out_of_bounds") => (price, "2000000000000".to_owned()),
            Some("quote_volume_overflow") => ("9999999999".to_owned(), "999999999999".to_owned()),
            _ => (price, quantity),
        };
        Fields { price, quantity }
    }
}

/// Reject kinds a format cannot express map to one it can (a Kraken v2 number cannot
/// be `NaN` in valid JSON; Binance has no side text, only the boolean `m`).
fn expressible(format: Format, code: &'static str) -> &'static str {
    match (format, code) {
        (Format::KrakenV2, "invalid_decimal") => "too_many_fraction_digits",
        (Format::KrakenV1, "missing_field") => "wrong_type",
        (
            Format::BinanceTrade
            | Format::BinanceAggTrade
            | Format::BinanceFuturesTrade
            | Format::BinanceFuturesAggTrade,
            "invalid_side",
        ) => "wrong_type",
        (Format::CoinbaseMatch | Format::CoinbaseLastMatch, "unsupported_message") => {
            "invalid_side"
        }
        _ => code,
    }
}

/// `mantissa` (scale 10) with exactly `decimals` fractional digits, as Binance and Kraken
/// v1 write them (`"61837.63000000"`). The generator only produces values that fit.
fn fixed(mantissa: i128, decimals: u32) -> String {
    let decimals = decimals.min(PRICE_SCALE);
    let divisor = 10_i128.pow(PRICE_SCALE);
    let integer = mantissa / divisor;
    let fraction = (mantissa % divisor) / 10_i128.pow(PRICE_SCALE - decimals);
    if decimals == 0 {
        return integer.to_string();
    }
    let width = decimals as usize;
    format!("{integer}.{fraction:0width$}")
}

fn remove_first_field(text: &str, format: Format) -> String {
    let target = match format {
        Format::BinanceTrade
        | Format::BinanceAggTrade
        | Format::BinanceFuturesTrade
        | Format::BinanceFuturesAggTrade => "\"s\":",
        Format::KrakenV2 => "\"trade_id\":",
        Format::CoinbaseMatch | Format::CoinbaseLastMatch | Format::Control => "\"product_id\":",
        // A v1 frame has no names; `expressible` maps this case to `wrong_type`.
        Format::KrakenV1 => return text.to_owned(),
    };
    match text.find(target) {
        Some(start) => {
            let rest = &text[start..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            let mut removed = String::with_capacity(text.len());
            removed.push_str(&text[..start]);
            let tail = &rest[end..];
            removed.push_str(tail.strip_prefix(',').unwrap_or(tail));
            if removed.ends_with(",}") {
                removed.replace_range(removed.len() - 2.., "}");
            }
            removed
        }
        None => text.to_owned(),
    }
}

fn make_wrong_type(text: &str, format: Format) -> String {
    match format {
        Format::BinanceTrade | Format::BinanceFuturesTrade => {
            text.replacen("\"t\":", "\"t\":\"x\",\"_t\":", 1)
        }
        Format::BinanceAggTrade | Format::BinanceFuturesAggTrade => {
            text.replacen("\"a\":", "\"a\":\"x\",\"_a\":", 1)
        }
        Format::KrakenV1 => match text.rfind(",\"") {
            Some(at) => format!("{},42]", &text[..at]),
            None => text.to_owned(),
        },
        Format::KrakenV2 => text.replacen("\"trade_id\":", "\"trade_id\":\"x\",\"_id\":", 1),
        Format::CoinbaseMatch | Format::CoinbaseLastMatch | Format::Control => {
            text.replacen("\"trade_id\":", "\"trade_id\":\"x\",\"_id\":", 1)
        }
    }
}
