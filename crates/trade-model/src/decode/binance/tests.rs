//! The fast reader and the serde reader agree: same fields when the fast reader accepts,
//! hence the same rows or the same reject from `decode` as from serde alone.

use std::sync::LazyLock;

use proptest::prelude::*;

use super::{Fields, decode, normalize, read_with_serde, scan};
use crate::generator::{Format, Generator, GeneratorConfig};
use crate::model::{Exchange, SilverTrade};
use crate::normalizer::{Context, Outcome};
use crate::registry::InstrumentRegistry;
use crate::reject::Reject;
use crate::validation::ValidationRules;

const NOW: i64 = 1_767_225_600_000_000;

static REGISTRY: LazyLock<InstrumentRegistry> = LazyLock::new(InstrumentRegistry::bundled);
static RULES: LazyLock<ValidationRules> = LazyLock::new(ValidationRules::default);

fn context() -> Context<'static> {
    Context {
        registry: &REGISTRY,
        rules: &RULES,
        now_micros: NOW,
    }
}

type Decoded = (Result<Outcome, Reject>, Vec<SilverTrade>);

fn with_serde_only(payload: &[u8]) -> Decoded {
    let mut rows = Vec::new();
    let result =
        read_with_serde(payload).and_then(|fields| normalize(fields, &context(), &mut rows));
    (result, rows)
}

fn with_decoder(payload: &[u8]) -> Decoded {
    let mut rows = Vec::new();
    let result = decode(payload, &context(), &mut rows);
    (result, rows)
}

/// Whatever the fast reader accepts, serde reads into the same fields; and `decode`
/// returns exactly what serde alone would, reject message included.
fn assert_agree(payload: &[u8]) {
    let shown = String::from_utf8_lossy(payload);
    if let Some(fast) = scan(payload) {
        assert_eq!(read_with_serde(payload), Ok(fast), "{shown}");
    }
    assert_eq!(with_decoder(payload), with_serde_only(payload), "{shown}");
}

/// Binance messages of every shape, valid, invalid (every reject kind) and control.
static SAMPLES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    Generator::new(GeneratorConfig {
        seed: 3,
        exchanges: vec![Exchange::Binance],
        invalid_per_million: 200_000,
        control_per_million: 20_000,
        ..GeneratorConfig::default()
    })
    .take(3_000)
    .map(|message| message.payload)
    .collect()
});

#[test]
fn the_fast_reader_takes_every_shape_binance_sends() {
    let config = GeneratorConfig::valid_only(5, &[Exchange::Binance]);
    let mut shapes = std::collections::HashSet::new();
    for message in Generator::new(config).take(5_000) {
        let shown = String::from_utf8_lossy(&message.payload);
        let fast = scan(&message.payload);
        assert!(fast.is_some(), "declined: {shown}");
        assert_eq!(
            read_with_serde(&message.payload),
            Ok(fast.unwrap_or_default())
        );
        shapes.insert((message.format, message.combined_stream));
    }
    for format in [
        Format::BinanceTrade,
        Format::BinanceAggTrade,
        Format::BinanceFuturesTrade,
        Format::BinanceFuturesAggTrade,
    ] {
        for combined in [false, true] {
            assert!(
                shapes.contains(&(format, combined)),
                "{format:?} {combined}"
            );
        }
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/binance-aggtrade-xrpeth-2019-10-11.jsonl"
    );
    let real = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    for line in real.lines() {
        assert!(scan(line.as_bytes()).is_some(), "declined: {line}");
        assert_agree(line.as_bytes());
    }
}

#[test]
fn the_fast_reader_reads_fields_as_serde_does() {
    let plain = br#"{"e":"trade","E":1,"s":"BTCUSDT","t":7,"p":"0.05","q":"2","T":1700000000000,"m":true,"M":true}"#;
    let expected = Fields {
        id: false,
        e: Some("trade"),
        s: Some("BTCUSDT"),
        t: Some(7),
        a: None,
        p: Some("0.05"),
        q: Some("2"),
        trade_time: Some(1_700_000_000_000),
        m: Some(true),
    };
    assert_eq!(scan(plain), Some(expected.clone()));
    let spaced = b" {\n\t\"e\" : \"trade\" ,\"s\":\"BTCUSDT\",\"t\":7,\"p\":\"0.05\",\"q\":\"2\",\"T\":1700000000000,\"m\":true }\r\n";
    assert_eq!(scan(spaced), Some(expected.clone()));
    let combined = br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":7,"p":"0.05","q":"2","T":1700000000000,"m":true,"M":true}}"#;
    assert_eq!(scan(combined), Some(expected));
}

/// Each line is a way a payload can differ from what Binance sends; the decoder's answer
/// must not depend on which reader took it.
#[test]
fn edge_cases_agree() {
    let base = r#"{"e":"trade","E":1,"s":"BTCUSDT","t":7,"p":"0.05","q":"2","T":1700000000000,"m":true,"M":true}"#;
    let cases: Vec<String> = vec![
        base.to_owned(),
        base.replace(r#""t":7"#, r#""t":07"#),
        base.replace(r#""t":7"#, r#""t":0"#),
        base.replace(r#""t":7"#, r#""t":-0"#),
        base.replace(r#""t":7"#, r#""t":-7"#),
        base.replace(r#""t":7"#, r#""t":7.0"#),
        base.replace(r#""t":7"#, r#""t":7e0"#),
        base.replace(r#""t":7"#, r#""t":"7""#),
        base.replace(r#""t":7"#, r#""t":null"#),
        base.replace(r#""t":7"#, r#""t":18446744073709551615"#),
        base.replace(r#""t":7"#, r#""t":18446744073709551616"#),
        base.replace(r#""t":7"#, r#""t":9999999999999999999"#),
        base.replace(r#""t":7"#, r#""t":99999999999999999999"#),
        base.replace("1700000000000", "9223372036854775807"),
        base.replace("1700000000000", "9223372036854775808"),
        base.replace("1700000000000", "-1700000000000"),
        base.replace("1700000000000", "0"),
        base.replace(r#""E":1"#, r#""E":01"#),
        base.replace(r#""E":1"#, r#""E":-"#),
        base.replace(r#""E":1"#, r#""E":1.5"#),
        base.replace(r#""E":1"#, r#""E":-1"#),
        base.replace(r#""E":1"#, r#""E":[1]"#),
        base.replace(r#""E":1"#, r#""E":{"x":1}"#),
        base.replace(r#""E":1"#, r#""E":nul"#),
        base.replace(r#""E":1"#, r#""E":"\u0041""#),
        base.replace(r#""m":true"#, r#""m":false"#),
        base.replace(r#""m":true"#, r#""m":1"#),
        base.replace(r#""m":true"#, r#""m":tru"#),
        base.replace(r#""m":true"#, r#""m":truex"#),
        base.replace(r#""m":true"#, r#""m":"true""#),
        base.replace(r#""e":"trade""#, r#""e":null"#),
        base.replace(r#""e":"trade""#, r#""e":"aggTrade""#),
        base.replace(r#""e":"trade""#, r#""e":"24hrTicker""#),
        base.replace(r#""e":"trade""#, r#""\u0065":"trade""#),
        base.replace(r#""e":"trade""#, r#""e":"tr\u0061de""#),
        base.replace(r#""e":"trade""#, r#""e":"trade","e":"trade""#),
        base.replace(r#""s":"BTCUSDT""#, r#""s":"BTCUSDT","s":"ETHBTC""#),
        base.replace(r#""s":"BTCUSDT""#, r#""s":"BTC\tUSDT""#),
        base.replace(r#""s":"BTCUSDT""#, r#""s":"BTCÜSDT""#),
        base.replace(r#""s":"BTCUSDT""#, r#""s":"NOPEXYZ""#),
        base.replace(r#""s":"BTCUSDT","#, ""),
        base.replace(r#""p":"0.05""#, r#""p":0.05"#),
        base.replace(r#""p":"0.05""#, r#""p":"NaN""#),
        base.replace(r#""p":"0.05""#, r#""p":"-1""#),
        base.replace(r#""p":"0.05""#, r#""p":"""#),
        base.replace(r#""q":"2""#, r#""q":"0.00000000001""#),
        base.replace(r#""M":true"#, r#""M":true,"#),
        base.replace(r#""M":true"#, r#""M":true,"x""#),
        base.replace(r#""M":true"#, r#""X":"MARKET""#),
        base.replace(r#""M":true"#, r#""id":1"#),
        base.replace(r#""M":true"#, r#""data":{}"#),
        base.replace(r#""M":true"#, r#""data":null"#),
        base.replace(':', " : "),
        base.replace(',', "\n,\t"),
        format!("{base} "),
        format!("{base}x"),
        format!("{base}{base}"),
        format!("\u{c}{base}"),
        format!("\u{feff}{base}"),
        format!("[{base}]"),
        format!(r#"{{"stream":"x","data":{base}}}"#),
        format!(r#"{{"data":{base},"stream":"x"}}"#),
        format!(r#"{{"stream":"x","data":{base},"data":{base}}}"#),
        format!(r#"{{"stream":"x","data":{{"data":{base}}}}}"#),
        format!(r#"{{"e":"trade","data":{base}}}"#),
        format!(r#"{{"id":1,"data":{base}}}"#),
        format!(r#"{{"stream":"x","data":[{base}]}}"#),
        format!(r#"{{"stream":"x","data":"{{}}"}}"#),
        format!(r#"{{"stream":"x","data":{base}"#),
        r#"{"result":null,"id":1}"#.to_owned(),
        r#"{"result":null}"#.to_owned(),
        "{}".to_owned(),
        " { } ".to_owned(),
        "{".to_owned(),
        "{,}".to_owned(),
        r#"{"e"}"#.to_owned(),
        r#"{"e":}"#.to_owned(),
        "null".to_owned(),
        "[]".to_owned(),
        "\"trade\"".to_owned(),
        String::new(),
    ];
    for case in &cases {
        assert_agree(case.as_bytes());
    }
    for bytes in [
        &b"\xff\xfe"[..],
        b"{\"e\":\"tr\xffde\"}",
        b"{\"e\":\"trade\"\x00}",
    ] {
        assert_agree(bytes);
    }
}

/// Bytes that change how JSON reads, so mutations hit the reader's decisions often.
const SIGNIFICANT: &[u8] = b"{}[]\":,\\ \t\n\r0123456789-+.eEtrufalsn\x00\x0c\x7f\xc3\xff";

fn mutate(payload: &[u8], kind: u8, at: usize, byte: u8, count: usize) -> Vec<u8> {
    let mut bytes = payload.to_vec();
    if bytes.is_empty() {
        return bytes;
    }
    let at = at % bytes.len();
    let significant = SIGNIFICANT[usize::from(byte) % SIGNIFICANT.len()];
    match kind % 6 {
        0 => bytes.truncate(at),
        1 => bytes[at] = significant,
        2 => bytes[at] = byte,
        3 => bytes.insert(at, significant),
        4 => {
            let end = (at + count).min(bytes.len());
            bytes.drain(at..end);
        }
        _ => {
            // Repeat a slice: duplicated members, doubled delimiters, nested envelopes.
            let end = (at + count).min(bytes.len());
            let slice = bytes[at..end].to_vec();
            bytes.splice(at..at, slice);
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    #[test]
    fn generated_messages_agree(index in 0_usize..3_000) {
        let samples = &*SAMPLES;
        assert_agree(&samples[index % samples.len()]);
    }

    #[test]
    fn mutated_messages_agree(
        index in 0_usize..3_000,
        mutations in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>(), 1_usize..24), 1..4),
    ) {
        let samples = &*SAMPLES;
        let mut payload = samples[index % samples.len()].clone();
        for (kind, at, byte, count) in mutations {
            payload = mutate(&payload, kind, at, byte, count);
        }
        assert_agree(&payload);
    }

    #[test]
    fn truncated_messages_agree(index in 0_usize..3_000, cut in 0_usize..400) {
        let samples = &*SAMPLES;
        let payload = &samples[index % samples.len()];
        assert_agree(&payload[..cut.min(payload.len())]);
    }

    #[test]
    fn arbitrary_bytes_agree(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        assert_agree(&bytes);
    }

    #[test]
    fn arbitrary_text_in_any_value_agrees(index in 0_usize..3_000, field in 0_usize..32, value in "[ -~]{0,24}") {
        let samples = &*SAMPLES;
        let text = String::from_utf8_lossy(&samples[index % samples.len()]).into_owned();
        let starts: Vec<usize> = text.match_indices([':', ',']).map(|(i, _)| i + 1).collect();
        let start = starts[field % starts.len()];
        let end = text[start..].find([',', '}']).map_or(text.len(), |e| start + e);
        assert_agree(format!("{}{value}{}", &text[..start], &text[end..]).as_bytes());
    }
}
