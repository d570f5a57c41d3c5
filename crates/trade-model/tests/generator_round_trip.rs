//! The generator's messages decode to exactly the trades (or rejects) it says they do,
//! and its streams have the shapes the pipeline must survive.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashSet};

use proptest::prelude::*;
use trade_model::generator::{
    Expected, Format, GENERATED_REJECT_CODES, GeneratedMessage, Generator, GeneratorConfig,
};
use trade_model::{Exchange, InstrumentRegistry, Normalizer, Outcome, ValidationRules};

fn normalizer() -> Normalizer {
    Normalizer::new(InstrumentRegistry::bundled(), ValidationRules::default())
}

fn check(normalizer: &Normalizer, config: &GeneratorConfig, message: &GeneratedMessage) {
    let mut rows = Vec::new();
    let result = normalizer.normalize(
        message.exchange,
        &message.payload,
        config.now_micros,
        &mut rows,
    );
    let text = String::from_utf8_lossy(&message.payload);
    match &message.expected {
        Expected::Trades(expected) => {
            assert_eq!(result, Ok(Outcome::Trades(expected.len())), "{text}");
            assert_eq!(&rows, expected, "{text}");
        }
        Expected::Reject(code) => {
            let reject = result.expect_err(&text);
            assert_eq!(reject.code(), *code, "{text}: {reject}");
            assert!(rows.is_empty());
        }
        Expected::Ignored => {
            assert_eq!(result, Ok(Outcome::Ignored), "{text}");
        }
    }
}

#[test]
fn two_hundred_thousand_messages_decode_as_expected_and_cover_every_shape() {
    let config = GeneratorConfig::default();
    let normalizer = normalizer();
    let mut codes = BTreeSet::new();
    let mut formats = HashSet::new();
    let mut combined = false;
    let mut ignored = 0;
    let mut largest_same_ms = 0;
    let mut run = (Exchange::Binance, String::new(), i64::MIN, 0);
    let mut out_of_order = 0;
    let mut last_seen = std::collections::HashMap::new();
    let mut boundaries = BTreeSet::new();
    let mut crossed_midnight = false;
    for message in Generator::new(config.clone()).take(200_000) {
        check(&normalizer, &config, &message);
        formats.insert(message.format);
        combined |= message.combined_stream;
        match &message.expected {
            Expected::Reject(code) => {
                codes.insert(*code);
            }
            Expected::Ignored => ignored += 1,
            Expected::Trades(trades) => {
                for trade in trades {
                    let millis = trade.timestamp / 1_000;
                    let key = (message.exchange, trade.symbol.clone(), millis);
                    if (run.0, run.1.clone(), run.2) == key {
                        run.3 += 1;
                    } else {
                        run = (key.0, key.1, key.2, 1);
                    }
                    largest_same_ms = largest_same_ms.max(run.3);
                    let previous =
                        last_seen.insert((message.exchange, trade.symbol.clone()), trade.timestamp);
                    if let Some(previous) = previous {
                        out_of_order += usize::from(trade.timestamp < previous);
                        crossed_midnight |= previous.div_euclid(86_400_000_000)
                            < trade.timestamp.div_euclid(86_400_000_000);
                    }
                    for (label, frame) in [
                        ("1m", 60),
                        ("5m", 300),
                        ("15m", 900),
                        ("30m", 1_800),
                        ("1h", 3_600),
                        ("1d", 86_400),
                    ] {
                        if trade.timestamp % (frame * 1_000_000) == 0 {
                            boundaries.insert(label);
                        }
                    }
                }
            }
        }
    }
    let all_codes: BTreeSet<&str> = GENERATED_REJECT_CODES.iter().copied().collect();
    assert_eq!(codes, all_codes, "every reject kind is generated");
    for format in [
        Format::BinanceTrade,
        Format::BinanceAggTrade,
        Format::BinanceFuturesTrade,
        Format::BinanceFuturesAggTrade,
        Format::KrakenV1,
        Format::KrakenV2,
        Format::CoinbaseMatch,
        Format::CoinbaseLastMatch,
        Format::Control,
    ] {
        assert!(formats.contains(&format), "{format:?} generated");
    }
    assert!(combined, "combined-stream envelopes generated");
    assert!(ignored > 0);
    assert!(
        largest_same_ms >= 100,
        "bursts of hundreds share a millisecond: {largest_same_ms}"
    );
    assert!(out_of_order > 100, "late trades: {out_of_order}");
    assert!(crossed_midnight, "the stream crosses midnight UTC");
    assert_eq!(
        boundaries.len(),
        6,
        "trades exactly on every window boundary: {boundaries:?}"
    );
}

#[test]
fn same_seed_same_stream_other_seed_other_stream() {
    let a: Vec<_> = Generator::new(GeneratorConfig::default())
        .take(2_000)
        .collect();
    let b: Vec<_> = Generator::new(GeneratorConfig::default())
        .take(2_000)
        .collect();
    let c: Vec<_> = Generator::new(GeneratorConfig {
        seed: 7,
        ..GeneratorConfig::default()
    })
    .take(2_000)
    .collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn valid_only_streams_have_no_rejects() {
    let config = GeneratorConfig::valid_only(3, &[Exchange::Binance]);
    for message in Generator::new(config).take(20_000) {
        assert_eq!(message.exchange, Exchange::Binance);
        assert!(matches!(message.expected, Expected::Trades(_)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// decode(generate(x)) == x, for any seed, any exchange mix and any invalid share.
    #[test]
    fn decode_of_generate_gives_back_the_trades(seed in any::<u64>(), invalid_per_million in 0_u32..=1_000_000, exchange_mask in 1_u8..8) {
        let exchanges: Vec<Exchange> = Exchange::ALL.into_iter().enumerate().filter(|(i, _)| exchange_mask & (1 << i) != 0).map(|(_, e)| e).collect();
        let config = GeneratorConfig { seed, invalid_per_million, exchanges, ..GeneratorConfig::default() };
        let normalizer = normalizer();
        for message in Generator::new(config.clone()).take(300) {
            check(&normalizer, &config, &message);
        }
    }
}
