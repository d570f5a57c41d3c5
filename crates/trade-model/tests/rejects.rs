//! Each reject reason, with its code and a message naming the field and value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use trade_model::{Exchange, InstrumentRegistry, Normalizer, Reject, ValidationRules};

const NOW: i64 = 1_767_225_600_000_000;

fn reject(exchange: Exchange, payload: &[u8]) -> Reject {
    let normalizer = Normalizer::new(InstrumentRegistry::bundled(), ValidationRules::default());
    let mut rows = Vec::new();
    let result = normalizer.normalize(exchange, payload, NOW, &mut rows);
    assert!(rows.is_empty());
    result.unwrap_err()
}

fn binance(price: &str, quantity: &str, millis: &str) -> String {
    format!(
        r#"{{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"{price}","q":"{quantity}","T":{millis},"m":true}}"#
    )
}

#[test]
fn each_reason_has_its_code_and_names_the_value() {
    let ok_ms = "1700000000000";
    let cases: Vec<(Exchange, Vec<u8>, &str, &str)> = vec![
        (Exchange::Binance, b"{\"e\":\"trade\",".to_vec(), "malformed_json", "EOF"),
        (Exchange::Binance, b"\xff\xfe".to_vec(), "malformed_json", ""),
        (Exchange::Binance, br#"{"e":"trade","s":"BTCUSDT","t":1,"q":"1","T":1,"m":true}"#.to_vec(), "missing_field", "`p`"),
        (Exchange::Binance, br#"{"e":"trade","s":"BTCUSDT","t":"1","p":"1","q":"1","T":1,"m":true}"#.to_vec(), "wrong_type", "`t`"),
        (Exchange::Binance, br#"{"e":"trade","s":"BTCUSDT","t":1,"p":1.5,"q":"1","T":1,"m":true}"#.to_vec(), "wrong_type", "`p`"),
        (Exchange::Binance, br#"{"e":"24hrTicker","s":"BTCUSDT"}"#.to_vec(), "unsupported_message", "24hrTicker"),
        (Exchange::Binance, br#"{"e":"trade","s":"BTCXYZ","t":1,"p":"1","q":"1","T":1700000000000,"m":true}"#.to_vec(), "unknown_instrument", "BTCXYZ"),
        (Exchange::Binance, binance("NaN", "1", ok_ms).into_bytes(), "invalid_decimal", "price `NaN`"),
        (Exchange::Binance, binance("1", "Infinity", ok_ms).into_bytes(), "invalid_decimal", "quantity `Infinity`"),
        (Exchange::Binance, binance("1e5", "1", ok_ms).into_bytes(), "invalid_decimal", "`1e5`"),
        (Exchange::Binance, binance("0.00000000001", "1", ok_ms).into_bytes(), "too_many_fraction_digits", "`0.00000000001`"),
        (Exchange::Binance, binance("1", &"9".repeat(50), ok_ms).into_bytes(), "number_out_of_range", "quantity"),
        (Exchange::Binance, binance("0", "1", ok_ms).into_bytes(), "price_not_positive", "price `0`"),
        (Exchange::Binance, binance("1", "-2", ok_ms).into_bytes(), "quantity_not_positive", "quantity `-2`"),
        (Exchange::Binance, binance("20000000000", "1", ok_ms).into_bytes(), "price_out_of_bounds", "20000000000"),
        (Exchange::Binance, binance("1", "2000000000000", ok_ms).into_bytes(), "quantity_out_of_bounds", "2000000000000"),
        (Exchange::Binance, binance("9999999999", "999999999999", ok_ms).into_bytes(), "quote_volume_overflow", "9999999999"),
        (Exchange::Binance, binance("1", "1", &i64::MAX.to_string()).into_bytes(), "invalid_timestamp", "`T`"),
        (Exchange::Binance, binance("1", "1", "1800000000000").into_bytes(), "timestamp_in_future", "future"),
        (Exchange::Binance, binance("1", "1", "1000000000000").into_bytes(), "timestamp_too_old", "floor"),
        (Exchange::Coinbase, br#"{"type":"match","trade_id":1,"product_id":"BTC-USD","price":"1","size":"1","side":"hold","time":"2021-04-17T16:43:30Z"}"#.to_vec(), "invalid_side", "`hold`"),
        (Exchange::Coinbase, br#"{"type":"match","trade_id":1,"product_id":"BTC-USD","price":"1","size":"1","side":"buy","time":"yesterday"}"#.to_vec(), "invalid_timestamp", "`yesterday`"),
        (Exchange::Kraken, br#"[1,[],"trade","XBT/USD"]"#.to_vec(), "empty_trades", ""),
        (Exchange::Kraken, br#"[1,[["1","1","1618678150.8","b","m",""]],"book-10","XBT/USD"]"#.to_vec(), "unsupported_message", "book-10"),
        (Exchange::Kraken, br#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":"1","qty":1,"trade_id":1,"timestamp":"2023-09-25T07:48:36.925533Z"}]}"#.to_vec(), "wrong_type", "`price`"),
        (Exchange::Kraken, br#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":NaN,"qty":1,"trade_id":1,"timestamp":"2023-09-25T07:48:36.925533Z"}]}"#.to_vec(), "malformed_json", ""),
        (Exchange::Kraken, br#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":1e400,"qty":1,"trade_id":1,"timestamp":"2023-09-25T07:48:36.925533Z"}]}"#.to_vec(), "number_out_of_range", "1e400"),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (exchange, payload, code, fragment) in cases {
        let reject = reject(exchange, &payload);
        assert_eq!(
            reject.code(),
            code,
            "{}: {reject}",
            String::from_utf8_lossy(&payload)
        );
        assert!(
            reject.to_string().contains(fragment),
            "{reject} should mention {fragment}"
        );
        seen.insert(code);
    }
    // Every code but the path-only ones is exercised here.
    for code in Reject::CODES {
        assert!(seen.contains(code), "code {code} not covered");
    }
}
