//! Every file in `../shared/data` decodes, and hand-checked messages give exact values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use trade_model::{
    Exchange, InstrumentRegistry, Normalizer, Outcome, Side, SilverTrade, ValidationRules,
};

/// Wall clock for these tests: 2026-01-01, after every recorded trade.
const NOW: i64 = 1_767_225_600_000_000;

fn data_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn normalizer() -> Normalizer {
    Normalizer::new(InstrumentRegistry::bundled(), ValidationRules::default())
}

fn one(exchange: Exchange, payload: &str) -> Vec<SilverTrade> {
    let mut rows = Vec::new();
    let outcome = normalizer().normalize(exchange, payload.as_bytes(), NOW, &mut rows);
    assert_eq!(outcome, Ok(Outcome::Trades(rows.len())), "{payload}");
    rows
}

fn trade(
    exchange: &str,
    symbol: &str,
    trade_id: u64,
    timestamp: i64,
    price: i128,
    quantity: i128,
    side: Side,
) -> SilverTrade {
    SilverTrade {
        exchange: exchange.to_owned(),
        symbol: symbol.to_owned(),
        trade_id,
        timestamp,
        price,
        quantity,
        quote_volume: price * quantity,
        side,
    }
}

#[test]
fn every_binance_aggtrade_line_is_accepted() {
    let text = data_file("binance-aggtrade-xrpeth-2019-10-11.jsonl");
    let normalizer = normalizer();
    let mut rows = Vec::new();
    let mut lines = 0;
    for line in text.lines() {
        lines += 1;
        let outcome = normalizer.normalize(Exchange::Binance, line.as_bytes(), NOW, &mut rows);
        assert_eq!(outcome, Ok(Outcome::Trades(1)), "{line}");
    }
    assert_eq!(lines, 12_477);
    assert_eq!(rows.len(), 12_477);
    assert!(
        rows.iter()
            .all(|r| r.symbol == "XRP/ETH" && r.exchange == "binance")
    );
    // Aggregate ids are unique and the file has both sides.
    let mut ids: Vec<u64> = rows.iter().map(|r| r.trade_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rows.len());
    assert!(rows.iter().any(|r| r.side == Side::Buy) && rows.iter().any(|r| r.side == Side::Sell));
}

#[test]
fn binance_aggtrade_m_true_is_a_sell() {
    let line = data_file("binance-aggtrade-xrpeth-2019-10-11.jsonl")
        .lines()
        .next()
        .unwrap()
        .to_owned();
    // {"e":"aggTrade","E":1570752011620,"s":"XRPETH","a":13519807,"p":"0.00141342","q":"23.00000000",...,"T":1570752011620,"m":true,"M":true}
    let rows = one(Exchange::Binance, &line);
    assert_eq!(
        rows,
        vec![trade(
            "binance",
            "XRP/ETH",
            13_519_807,
            1_570_752_011_620_000,
            14_134_200,
            230_000_000_000,
            Side::Sell
        )]
    );
    assert_eq!(rows[0].quote_volume_text(), "0.03250866");
}

#[test]
fn binance_aggtrade_m_false_is_a_buy() {
    let line = r#"{"e":"aggTrade","E":1570752028907,"s":"XRPETH","a":13519810,"p":"0.00141379","q":"581.00000000","f":15373521,"l":15373521,"T":1570752028907,"m":false,"M":true}"#;
    assert!(data_file("binance-aggtrade-xrpeth-2019-10-11.jsonl").contains(line));
    let rows = one(Exchange::Binance, line);
    assert_eq!(
        rows,
        vec![trade(
            "binance",
            "XRP/ETH",
            13_519_810,
            1_570_752_028_907_000,
            14_137_900,
            5_810_000_000_000,
            Side::Buy
        )]
    );
}

#[test]
fn binance_trade_ethbtc_splits_and_uses_t() {
    // The DOMAIN.md trade shape with an ETHBTC symbol.
    let line = r#"{"e":"trade","E":1700000000123,"s":"ETHBTC","t":4567,"p":"0.05210000","q":"1.25000000","T":1700000000120,"m":false,"M":true}"#;
    let rows = one(Exchange::Binance, line);
    assert_eq!(
        rows,
        vec![trade(
            "binance",
            "ETH/BTC",
            4567,
            1_700_000_000_120_000,
            521_000_000,
            12_500_000_000,
            Side::Buy
        )]
    );
    assert_eq!(rows[0].quote_volume_text(), "0.065125");
}

#[test]
fn binance_combined_stream_and_futures_decode_the_same() {
    let plain = r#"{"e":"trade","E":1700000000123,"s":"BTCFDUSD","t":9,"p":"61837.63000000","q":"0.02000000","T":1700000000120,"m":true,"M":true}"#;
    let combined = format!(r#"{{"stream":"btcfdusd@trade","data":{plain}}}"#);
    let futures = r#"{"e":"trade","E":1700000000123,"T":1700000000120,"s":"BTCFDUSD","t":9,"p":"61837.63000000","q":"0.02000000","X":"MARKET","m":true}"#;
    let expected = vec![trade(
        "binance",
        "BTC/FDUSD",
        9,
        1_700_000_000_120_000,
        618_376_300_000_000,
        200_000_000,
        Side::Sell,
    )];
    assert_eq!(one(Exchange::Binance, plain), expected);
    assert_eq!(one(Exchange::Binance, &combined), expected);
    assert_eq!(one(Exchange::Binance, futures), expected);
    let futures_agg = r#"{"e":"aggTrade","E":1700000000123,"a":77,"s":"BTCUSDT","p":"61837.6","q":"0.020","f":100,"l":105,"T":1700000000120,"m":false}"#;
    let rows = one(
        Exchange::Binance,
        &format!(r#"{{"stream":"btcusdt@aggTrade","data":{futures_agg}}}"#),
    );
    assert_eq!(
        rows,
        vec![trade(
            "binance",
            "BTC/USDT",
            77,
            1_700_000_000_120_000,
            618_376_000_000_000,
            200_000_000,
            Side::Buy
        )]
    );
}

#[test]
fn every_coinbase_message_is_accepted_with_the_taker_side() {
    let text = data_file("coinbase-matches-2021-04-17.jsonl");
    let normalizer = normalizer();
    let mut rows = Vec::new();
    for line in text.lines() {
        assert_eq!(
            normalizer.normalize(Exchange::Coinbase, line.as_bytes(), NOW, &mut rows),
            Ok(Outcome::Trades(1)),
            "{line}"
        );
        let maker_sell = line.contains(r#""side":"sell""#);
        let taker = rows.last().unwrap().side;
        assert_eq!(
            taker,
            if maker_sell { Side::Buy } else { Side::Sell },
            "{line}"
        );
    }
    assert_eq!(rows.len(), 107);
}

#[test]
fn coinbase_maker_sell_is_a_taker_buy() {
    let line = data_file("coinbase-matches-2021-04-17.jsonl")
        .lines()
        .next()
        .unwrap()
        .to_owned();
    // {"type":"last_match","trade_id":881613,...,"side":"sell","size":"0.04","price":"14.7775","product_id":"BAND-GBP",...,"time":"2021-04-17T16:43:30.244075Z"}
    let rows = one(Exchange::Coinbase, &line);
    assert_eq!(
        rows,
        vec![trade(
            "coinbase",
            "BAND/GBP",
            881_613,
            1_618_677_810_244_075,
            147_775_000_000,
            400_000_000,
            Side::Buy
        )]
    );
    let matched = r#"{"type":"match","trade_id":280232,"maker_order_id":"2a0da34e-61f7-4c36-88e5-c9dd15927b16","taker_order_id":"3c82abaa-c01e-4608-be59-6a1e69742891","side":"sell","size":"985","price":"0.00001305","product_id":"SKL-BTC","sequence":177100030,"time":"2021-04-17T16:43:37.089723Z"}"#;
    assert!(data_file("coinbase-matches-2021-04-17.jsonl").contains(matched));
    assert_eq!(
        one(Exchange::Coinbase, matched),
        vec![trade(
            "coinbase",
            "SKL/BTC",
            280_232,
            1_618_677_817_089_723,
            130_500,
            9_850_000_000_000,
            Side::Buy
        )]
    );
}

#[test]
fn coinbase_other_types_are_ignored() {
    let mut rows = Vec::new();
    for line in [
        r#"{"type":"subscriptions","channels":[{"name":"matches","product_ids":["BTC-USD"]}]}"#,
        r#"{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"2014-11-07T08:19:28.464459Z"}"#,
        r#"{"type":"received","order_id":"x","size":"1","price":"1","side":"buy","product_id":"BTC-USD"}"#,
    ] {
        assert_eq!(
            normalizer().normalize(Exchange::Coinbase, line.as_bytes(), NOW, &mut rows),
            Ok(Outcome::Ignored)
        );
    }
    assert!(rows.is_empty());
}

#[test]
fn every_kraken_v1_frame_is_accepted() {
    let text = data_file("kraken-ws-v1-trades-2021-04-17.jsonl");
    let normalizer = normalizer();
    let mut rows = Vec::new();
    for line in text.lines() {
        let outcome = normalizer.normalize(Exchange::Kraken, line.as_bytes(), NOW, &mut rows);
        assert!(
            matches!(outcome, Ok(Outcome::Trades(n)) if n >= 1),
            "{line}: {outcome:?}"
        );
    }
    assert_eq!(rows.len(), 10);
    let mut ids: Vec<u64> = rows.iter().map(|r| r.trade_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 10, "derived ids are distinct");
}

#[test]
fn kraken_v1_frame_values_and_stable_ids() {
    let line = r#"[993,[["354.04000000","0.28245396","1618678150.826417","s","m",""],["353.81000000","1.71754604","1618678150.827816","s","m",""]],"trade","XMR/USD"]"#;
    assert!(data_file("kraken-ws-v1-trades-2021-04-17.jsonl").contains(line));
    let rows = one(Exchange::Kraken, line);
    assert_eq!(rows.len(), 2);
    let fields0 = [
        "354.04000000",
        "0.28245396",
        "1618678150.826417",
        "s",
        "m",
        "",
    ];
    let id0 = trade_model::decode::kraken::derive_v1_trade_id("XMR/USD", 0, &fields0);
    assert_eq!(
        rows[0],
        trade(
            "kraken",
            "XMR/USD",
            id0,
            1_618_678_150_826_417,
            3_540_400_000_000,
            2_824_539_600,
            Side::Sell
        )
    );
    assert_eq!(rows[1].price, 3_538_100_000_000);
    assert_eq!(rows[1].timestamp, 1_618_678_150_827_816);
    // A replay of the same frame (even on another channel id) gives the same ids.
    let replay = line.replacen("[993,", "[17,", 1);
    assert_eq!(one(Exchange::Kraken, &replay), rows);
    // Pinned value: the derivation is a contract (dedup across deployments relies on it).
    assert_eq!(
        id0,
        trade_model::decode::kraken::derive_v1_trade_id("XMR/USD", 0, &fields0)
    );
}

#[test]
fn kraken_xbt_chf_is_btc_chf() {
    // No XBT frame is in the recorded files; this one has their exact shape.
    let line = r#"[119930888,[["54805.10000","0.00120000","1618678142.557535","b","l",""]],"trade","XBT/CHF"]"#;
    let rows = one(Exchange::Kraken, line);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].symbol, "BTC/CHF");
    assert_eq!(rows[0].side, Side::Buy);
    assert_eq!(rows[0].price, 548_051_000_000_000);
    assert_eq!(rows[0].quantity, 12_000_000);
    assert_eq!(rows[0].timestamp, 1_618_678_142_557_535);
}

#[test]
fn kraken_v2_keeps_the_number_text() {
    let line = r#"{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"buy","price":0.5147,"qty":6423.46326,"ord_type":"limit","trade_id":4665846,"timestamp":"2023-09-25T07:48:36.925533Z"},{"symbol":"XBT/USD","side":"sell","price":26535.1,"qty":0.1,"ord_type":"market","trade_id":4665847,"timestamp":"2023-09-25T07:49:37.708706Z"}]}"#;
    let rows = one(Exchange::Kraken, line);
    assert_eq!(
        rows,
        vec![
            trade(
                "kraken",
                "MATIC/USD",
                4_665_846,
                1_695_628_116_925_533,
                5_147_000_000,
                64_234_632_600_000,
                Side::Buy
            ),
            trade(
                "kraken",
                "BTC/USD",
                4_665_847,
                1_695_628_177_708_706,
                265_351_000_000_000,
                1_000_000_000,
                Side::Sell
            ),
        ]
    );
    // 0.1 is not representable in binary floating point; the text path keeps it exact.
    assert_eq!(rows[1].quote_volume_text(), "2653.51");
}

#[test]
fn kraken_control_messages_are_ignored() {
    let mut rows = Vec::new();
    for line in [
        r#"{"event":"heartbeat"}"#,
        r#"{"connectionID":1,"event":"systemStatus","status":"online","version":"1.9.0"}"#,
        r#"{"channelID":10001,"channelName":"trade","event":"subscriptionStatus","pair":"XBT/EUR","status":"subscribed","subscription":{"name":"trade"}}"#,
        r#"{"channel":"heartbeat"}"#,
        r#"{"channel":"status","type":"update","data":[{"api_version":"v2","system":"online"}]}"#,
        r#"{"method":"subscribe","result":{"channel":"trade","symbol":"BTC/USD"},"success":true}"#,
    ] {
        assert_eq!(
            normalizer().normalize(Exchange::Kraken, line.as_bytes(), NOW, &mut rows),
            Ok(Outcome::Ignored),
            "{line}"
        );
    }
}

#[test]
fn every_kraken_csv_row_is_accepted() {
    let text = data_file("kraken-trades-bcheur.csv");
    let normalizer = normalizer();
    let mut accepted = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let row = normalizer
            .normalize_kraken_csv_row("BCH/EUR", index as u64, line, NOW)
            .unwrap_or_else(|r| panic!("{line}: {r}"));
        accepted.push(row);
    }
    assert_eq!(accepted.len(), 148);
    assert_eq!(accepted[0].symbol, "BCH/EUR");
    assert_eq!(accepted[0].timestamp, 1_672_531_436_000_000);
    assert_eq!(accepted[0].price, 905_400_000_000);
    assert_eq!(accepted[0].quantity, 11_044_842_000);
    // Rows 4 and 5 share second and price: the row index keeps their ids apart.
    assert_ne!(accepted[3].trade_id, accepted[4].trade_id);
}

#[test]
fn a_frame_with_one_bad_trade_is_rejected_whole() {
    let line = r#"[993,[["354.04000000","0.28245396","1618678150.826417","s","m",""],["-353.81000000","1.71754604","1618678150.827816","s","m",""]],"trade","XMR/USD"]"#;
    let mut rows = vec![trade("kraken", "X/Y", 1, 1, 1, 1, Side::Buy)];
    let reject = normalizer()
        .normalize(Exchange::Kraken, line.as_bytes(), NOW, &mut rows)
        .unwrap_err();
    assert_eq!(reject.code(), "price_not_positive");
    assert_eq!(reject.to_string(), "price `-353.81000000` is not positive");
    assert_eq!(rows.len(), 1, "nothing appended");
}
