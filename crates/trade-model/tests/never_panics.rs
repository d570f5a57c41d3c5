//! Arbitrary and hostile input never panics, and a failed message appends nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;

use proptest::prelude::*;
use trade_model::generator::{Generator, GeneratorConfig};
use trade_model::{Exchange, InstrumentRegistry, Normalizer, Outcome, ValidationRules};

const NOW: i64 = 1_767_225_600_000_000;

static NORMALIZER: LazyLock<Normalizer> =
    LazyLock::new(|| Normalizer::new(InstrumentRegistry::bundled(), ValidationRules::default()));

/// Valid messages of every format, to mutate.
static SAMPLES: LazyLock<Vec<(Exchange, Vec<u8>)>> = LazyLock::new(|| {
    Generator::new(GeneratorConfig {
        invalid_per_million: 0,
        ..GeneratorConfig::default()
    })
    .take(400)
    .map(|m| (m.exchange, m.payload))
    .collect()
});

fn run(exchange: Exchange, payload: &[u8]) {
    let normalizer = &*NORMALIZER;
    let mut rows = Vec::new();
    match normalizer.normalize(exchange, payload, NOW, &mut rows) {
        Ok(Outcome::Trades(n)) => assert_eq!(rows.len(), n),
        Ok(Outcome::Ignored) | Err(_) => assert!(rows.is_empty()),
    }
    if let Ok(line) = std::str::from_utf8(payload) {
        let _ = normalizer.normalize_kraken_csv_row("BCH/EUR", 0, line, NOW);
    }
}

fn exchange() -> impl Strategy<Value = Exchange> {
    prop_oneof![
        Just(Exchange::Binance),
        Just(Exchange::Kraken),
        Just(Exchange::Coinbase)
    ]
}

/// Hostile values to splice into a valid message in place of a number or string.
const HOSTILE: &[&str] = &[
    "NaN",
    "\"NaN\"",
    "Infinity",
    "\"-Infinity\"",
    "-0",
    "\"-0\"",
    "\"-1\"",
    "-1",
    "1e309",
    "\"1e309\"",
    "99999999999999999999999999999999999999999999999999",
    "\"99999999999999999999999999999999999999999999\"",
    "18446744073709551616",
    "-9223372036854775809",
    "null",
    "true",
    "[]",
    "{}",
    "\"\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "0.000000000000000000000000000001",
    "\"0.00000000000000000001\"",
    "1.5",
    "\"\\\"\"",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes_never_panic(exchange in exchange(), bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        run(exchange, &bytes);
    }

    #[test]
    fn truncated_messages_never_panic(index in 0_usize..400, cut in 0_usize..1_000) {
        let samples = &*SAMPLES;
        let (exchange, payload) = &samples[index % samples.len()];
        run(*exchange, &payload[..cut.min(payload.len())]);
    }

    #[test]
    fn hostile_values_in_any_field_never_panic(index in 0_usize..400, field in 0_usize..64, hostile in 0_usize..HOSTILE.len()) {
        let samples = &*SAMPLES;
        let (exchange, payload) = &samples[index % samples.len()];
        let text = String::from_utf8(payload.clone()).unwrap();
        // Replace the field-th value (after a ':' or ',' or '[') with a hostile token.
        let starts: Vec<usize> = text.match_indices([':', ',', '[']).map(|(i, _)| i + 1).collect();
        let start = starts[field % starts.len()];
        let end = text[start..].find([',', '}', ']']).map_or(text.len(), |e| start + e);
        let mutated = format!("{}{}{}", &text[..start], HOSTILE[hostile], &text[end..]);
        run(*exchange, mutated.as_bytes());
    }

    #[test]
    fn byte_flips_and_invalid_utf8_never_panic(index in 0_usize..400, flips in proptest::collection::vec((0_usize..1_000, any::<u8>()), 1..6)) {
        let samples = &*SAMPLES;
        let (exchange, payload) = &samples[index % samples.len()];
        let mut bytes = payload.clone();
        for (at, value) in flips {
            let len = bytes.len();
            bytes[at % len] = value;
        }
        run(*exchange, &bytes);
    }
}

#[test]
fn deeply_nested_and_huge_inputs_never_panic() {
    let nested = "[".repeat(100_000);
    let wide = format!(
        "[1,[{}],\"trade\",\"XBT/USD\"]",
        vec![r#"["1","1","1618678150.8","b","m",""]"#; 10_000].join(",")
    );
    for exchange in Exchange::ALL {
        run(exchange, nested.as_bytes());
        run(exchange, wide.as_bytes());
        run(exchange, &[0xff; 1_000]);
        run(exchange, b"");
        run(exchange, b"   ");
    }
}
