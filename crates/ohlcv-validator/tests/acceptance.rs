//! Acceptance tests of the gate against the real ClickHouse engine: identical sides pass,
//! each injected difference is detected, attributed and shown in every output, and v1
//! candles from the legacy job fail exactly where tie ordering made them wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use ohlcv_validator::legacy_job::{self, LegacyJobOptions};
use ohlcv_validator::report::{Mismatch, TimeframeReport};
use ohlcv_validator::{Timeframe, Verdict, current_fingerprint, validate};

fn tf_report(report: &ohlcv_validator::Report, tf: Timeframe) -> &TimeframeReport {
    report
        .timeframes
        .iter()
        .find(|t| t.timeframe == tf)
        .unwrap()
}

#[tokio::test]
async fn identical_sides_pass_every_timeframe() {
    let db = TestDb::new("val_identical").await;
    fill_silver(&db).await;
    build_v2(&db).await;
    build_identical_v1(&db).await;
    let config = db.validator_config();
    let report = validate(&db.client, &config).await.unwrap();
    println!("{}", report.markdown_table());
    assert!(report.passed(), "{}", report.to_json());
    assert_eq!(report.timeframes.len(), 6);
    let m1 = tf_report(&report, Timeframe::M1);
    assert_eq!(m1.v1_rows, 4 * 180);
    assert_eq!(m1.v2_rows, 4 * 180);
    assert_eq!(m1.volume_comparison, "float");
    assert_eq!(report.range.start, "2024-03-01T00:00:00Z");
    for line in report.markdown_table().lines().skip(2) {
        assert!(line.ends_with("| ✅ | ✅ | ✅ | ✅ PASS |"), "{line}");
    }
    // The fingerprint is reproducible, and changes with the data.
    assert_eq!(
        current_fingerprint(&db.client, &config, &report)
            .await
            .unwrap(),
        report.fingerprint
    );
    db.exec(&format!(
        "INSERT INTO {} {} LIMIT 1",
        db.table("legacy_ohlcv_1h"),
        legacy_copy_of_v2(&db, Timeframe::H1)
    ))
    .await;
    assert_ne!(
        current_fingerprint(&db.client, &config, &report)
            .await
            .unwrap(),
        report.fingerprint
    );
    // No scratch table is left behind.
    let leftovers: u64 = db
        .client
        .query_raw(&format!(
            "SELECT count() FROM system.tables WHERE database = '{}' AND name LIKE '\\_ohlcv\\_validator%'",
            db.name
        ))
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(leftovers, 0);
    db.drop().await;
}

/// The injected differences, one per key of binance BTC/USDT 1m unless said otherwise.
struct Injected {
    high_off_2e8: i64,
    missing: i64,
    volume_changed: i64,
    trade_count_changed: i64,
    open_tie_reordered: i64,
    extra_symbol: &'static str,
}

const INJECTED: Injected = Injected {
    high_off_2e8: 10,
    missing: 20,
    volume_changed: 30,
    trade_count_changed: 40,
    // Minute 14 starts on a tie (every seventh minute does).
    open_tie_reordered: 14,
    extra_symbol: "XRPUSDT",
};

async fn build_injected_v1(db: &TestDb) {
    build_identical_v1(db).await;
    let table = db.table("legacy_ohlcv_1m");
    let key = |m: i64| {
        format!(
            "exchange = 'binance' AND symbol = 'BTCUSDT' AND window_start = {}",
            minute_micros(m)
        )
    };
    let copy = db.table("legacy_copy");
    db.exec(&format!(
        "CREATE TABLE {copy} ENGINE = MergeTree ORDER BY tuple() AS SELECT * FROM {table}"
    ))
    .await;
    db.exec(&format!("TRUNCATE TABLE {table}")).await;
    let tie_open = format!(
        "(SELECT toFloat64(argMax(price, trade_id)) FROM {} WHERE exchange = 'binance' AND symbol = 'BTC/USDT' \
         AND timestamp = toDateTime64({}, 6, 'UTC'))",
        db.table("silver_trades"),
        BASE + INJECTED.open_tie_reordered * 60
    );
    db.exec(&format!(
        "INSERT INTO {table} SELECT symbol, exchange, window_start, window_end, \
         if({open_key}, {tie_open}, open_price) AS open_price, \
         if({high_key}, high_price + 2e-8, high_price) AS high_price, low_price, close_price, \
         if({vol_key}, volume * 1.5, volume) AS volume, \
         if({count_key}, trade_count + 1, trade_count) AS trade_count, vwap \
         FROM {copy} WHERE NOT ({missing_key})",
        open_key = key(INJECTED.open_tie_reordered),
        high_key = key(INJECTED.high_off_2e8),
        vol_key = key(INJECTED.volume_changed),
        count_key = key(INJECTED.trade_count_changed),
        missing_key = key(INJECTED.missing),
    ))
    .await;
    // An extra candle for a symbol nobody traded.
    db.exec(&format!(
        "INSERT INTO {table} VALUES ('{}', 'binance', {}, {}, 1, 2, 0.5, 1.5, 3, 4, 1.2)",
        INJECTED.extra_symbol,
        minute_micros(50),
        minute_micros(51)
    ))
    .await;
}

fn find<'a>(tf: &'a TimeframeReport, symbol: &str, minute: i64) -> &'a Mismatch {
    let start = ohlcv_validator::range::format_rfc3339(BASE + minute * 60);
    tf.mismatches
        .iter()
        .find(|m| m.exchange == "binance" && m.symbol == symbol && m.window_start == start)
        .unwrap_or_else(|| panic!("no mismatch for {symbol} {start} in {:#?}", tf.mismatches))
}

#[tokio::test]
async fn each_injected_difference_is_detected_attributed_and_shown() {
    let db = TestDb::new("val_injected").await;
    fill_silver(&db).await;
    build_v2(&db).await;
    build_injected_v1(&db).await;
    let config = db.validator_config();
    let report = validate(&db.client, &config).await.unwrap();
    let json = report.to_json();
    let html = report.to_html();
    let markdown = report.markdown_table();
    println!("{markdown}");
    assert!(!report.passed());
    let m1 = tf_report(&report, Timeframe::M1);
    assert_eq!(m1.verdict, Verdict::Fail);
    assert_eq!(m1.mismatch_counts.total, 6, "{:#?}", m1.mismatches);
    assert_eq!(m1.v1_rows, 4 * 180); // one removed, one extra
    assert_eq!(m1.v2_rows, 4 * 180);
    for other in [
        Timeframe::M5,
        Timeframe::M15,
        Timeframe::M30,
        Timeframe::H1,
        Timeframe::D1,
    ] {
        assert_eq!(tf_report(&report, other).verdict, Verdict::Pass);
    }
    assert!(
        markdown.contains("| 1m | 720 | 720 | ❌ | ❌ | ❌ | ❌ FAIL |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| 5m | 144 | 144 | ✅ | ✅ | ✅ | ✅ PASS |"),
        "{markdown}"
    );

    let cases: [(&str, i64, &[&str], &str); 6] = [
        ("BTC/USDT", INJECTED.high_off_2e8, &["high"], "precision"),
        (
            "BTC/USDT",
            INJECTED.missing,
            &["only_in_v2"],
            "missing_trades",
        ),
        ("BTC/USDT", INJECTED.volume_changed, &["volume"], "value"),
        (
            "BTC/USDT",
            INJECTED.trade_count_changed,
            &["trade_count"],
            "extra_trades",
        ),
        (
            "BTC/USDT",
            INJECTED.open_tie_reordered,
            &["open"],
            "tie_ordering",
        ),
        ("XRP/USDT", 50, &["only_in_v1"], "extra_trades"),
    ];
    for (symbol, minute, kinds, cause) in cases {
        let m = find(m1, symbol, minute);
        assert_eq!(m.kinds, kinds, "{m:#?}");
        assert_eq!(m.attribution, "v1_wrong", "{m:#?}");
        assert_eq!(m.v1_cause.as_deref(), Some(cause), "{m:#?}");
        assert_eq!(m.v2_cause, None, "{m:#?}");
        // Shown in the JSON and the HTML.
        let needle = format!("\"window_start\": \"{}\"", m.window_start);
        assert!(json.contains(&needle), "JSON lacks {needle}");
        let heading = format!("binance {symbol} {}", m.window_start);
        assert!(html.contains(&heading), "HTML lacks {heading}");
    }
    let by_cause: BTreeMap<&str, u64> = m1
        .attribution
        .iter()
        .map(|a| (a.v1_cause.as_str(), a.candles))
        .collect();
    assert_eq!(by_cause.get("tie_ordering"), Some(&1));
    assert_eq!(by_cause.get("extra_trades"), Some(&2));
    // Charts: one SVG per mismatch.
    assert_eq!(html.matches("<svg").count(), 6);
    db.drop().await;
}

#[tokio::test]
async fn legacy_job_fails_exactly_where_tie_ordering_made_v1_wrong() {
    let db = TestDb::new("val_legacy").await;
    fill_silver(&db).await;
    build_v2(&db).await;
    let options = LegacyJobOptions {
        database: db.name.clone(),
        seed: 7,
        ..LegacyJobOptions::default()
    };
    let written = legacy_job::run(&db.client, &options, &Timeframe::ALL)
        .await
        .unwrap();
    assert_eq!(written[0], (Timeframe::M1, 720));
    let config = db.validator_config();
    let report = validate(&db.client, &config).await.unwrap();
    println!("{}", report.markdown_table());

    let mut total_wrong = 0;
    for tf in Timeframe::ALL {
        // The oracle, computed here from both tables without the validator's SQL.
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct Candle {
            exchange: String,
            symbol: String,
            ws: i64,
            open: f64,
            close: f64,
        }
        let legacy: Vec<Candle> = db
            .client
            .query_raw(&format!(
                "SELECT exchange, symbol, intDiv(window_start, 1000000) AS ws, open_price AS open, \
                 close_price AS close FROM {}",
                db.table(&format!("legacy_ohlcv_{}", tf.label()))
            ))
            .fetch_all()
            .await
            .unwrap();
        let gold: Vec<Candle> = db
            .client
            .query_raw(&format!(
                "SELECT toString(exchange) AS exchange, replaceAll(toString(symbol), '/', '') AS symbol, \
                 toInt64(toUnixTimestamp(window_start)) AS ws, toFloat64(open) AS open, \
                 toFloat64(close) AS close FROM {}",
                db.table(&format!("gold_ohlcv_{}", tf.label()))
            ))
            .fetch_all()
            .await
            .unwrap();
        let gold: BTreeMap<(String, String, i64), (f64, f64)> = gold
            .into_iter()
            .map(|c| ((c.exchange, c.symbol, c.ws), (c.open, c.close)))
            .collect();
        assert_eq!(gold.len(), legacy.len());
        let expected: BTreeSet<(String, String, String)> = legacy
            .into_iter()
            .filter(|c| {
                let (open, close) = gold[&(c.exchange.clone(), c.symbol.clone(), c.ws)];
                (c.open - open).abs() > 1e-8 || (c.close - close).abs() > 1e-8
            })
            .map(|c| {
                let symbol = config.mapping.symbols[&c.symbol].clone();
                (
                    c.exchange,
                    symbol,
                    ohlcv_validator::range::format_rfc3339(c.ws),
                )
            })
            .collect();
        let t = tf_report(&report, tf);
        let found: BTreeSet<(String, String, String)> = t
            .mismatches
            .iter()
            .map(|m| (m.exchange.clone(), m.symbol.clone(), m.window_start.clone()))
            .collect();
        assert_eq!(found, expected, "{tf}");
        assert_eq!(t.mismatch_counts.total as usize, expected.len());
        for m in &t.mismatches {
            assert_eq!(m.attribution, "v1_wrong", "{m:#?}");
            assert_eq!(m.v1_cause.as_deref(), Some("tie_ordering"), "{m:#?}");
            assert!(
                m.kinds.iter().all(|k| k == "open" || k == "close"),
                "{m:#?}"
            );
        }
        // Where the data agree it passes: same keys, volumes (within the float tolerance)
        // and trade counts.
        assert!(
            t.rows_match && t.volume_match && t.trade_count_match,
            "{tf}: {t:#?}"
        );
        assert_eq!(t.volume_comparison, "float");
        assert_eq!(t.verdict == Verdict::Pass, expected.is_empty());
        total_wrong += expected.len();
    }
    let m1 = tf_report(&report, Timeframe::M1);
    assert!(
        total_wrong > 0 && (m1.mismatch_counts.total as usize) < 720 / 2,
        "ties must break some, not most, candles"
    );
    db.drop().await;
}

#[tokio::test]
async fn v1_exports_in_parquet_and_csv_are_read_through_the_engine() {
    let db = TestDb::new("val_files").await;
    fill_silver(&db).await;
    build_v2(&db).await;
    build_injected_v1(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = db.validator_config();
    config.timeframes = vec![Timeframe::M1, Timeframe::H1];
    for (tf, format, ext) in [
        (Timeframe::M1, "Parquet", "parquet"),
        (Timeframe::H1, "CSVWithNames", "csv"),
    ] {
        let mut cursor = db
            .client
            .query_raw(&format!(
                // One block, so the front's streamed Parquet is one file (it writes one
                // Parquet file per block; reported).
                "SELECT {} FROM {} ORDER BY exchange, symbol, window_start \
                 SETTINGS max_block_size = 1000000, preferred_block_size_bytes = 1000000000",
                legacy_job::legacy_columns(),
                db.table(&format!("legacy_ohlcv_{}", tf.label()))
            ))
            .fetch_bytes(format)
            .unwrap();
        let mut bytes = Vec::new();
        while let Some(chunk) = cursor.next().await.unwrap() {
            bytes.extend_from_slice(&chunk);
        }
        let path = dir.path().join(format!("ohlcv_{}.{ext}", tf.label()));
        std::fs::write(&path, &bytes).unwrap();
        config.v1.files.insert(tf.label().to_owned(), path);
    }
    // The tables are gone: only the files can be read.
    for tf in [Timeframe::M1, Timeframe::H1] {
        db.exec(&format!(
            "DROP TABLE {}",
            db.table(&format!("legacy_ohlcv_{}", tf.label()))
        ))
        .await;
    }
    let report = validate(&db.client, &config).await.unwrap();
    println!("{}", report.markdown_table());
    let m1 = tf_report(&report, Timeframe::M1);
    assert_eq!(m1.mismatch_counts.total, 6);
    assert_eq!(
        find(m1, "BTC/USDT", INJECTED.open_tie_reordered)
            .v1_cause
            .as_deref(),
        Some("tie_ordering")
    );
    assert_eq!(tf_report(&report, Timeframe::H1).verdict, Verdict::Pass);
    assert_eq!(tf_report(&report, Timeframe::H1).v1_rows, 4 * 3);
    db.drop().await;
}

#[tokio::test]
async fn explicit_range_limits_the_comparison_and_missing_v2_is_an_error() {
    let db = TestDb::new("val_range").await;
    fill_silver(&db).await;
    build_v2(&db).await;
    build_injected_v1(&db).await;
    let mut config = db.validator_config();
    config.timeframes = vec![Timeframe::M1];
    // Minutes 60..120 hold none of the injected differences.
    config.range.start = ohlcv_validator::range::format_rfc3339(BASE + 3600);
    config.range.end = ohlcv_validator::range::format_rfc3339(BASE + 7200);
    let report = validate(&db.client, &config).await.unwrap();
    assert!(report.passed(), "{}", report.to_json());
    assert_eq!(report.timeframes[0].v1_rows, 4 * 60);
    assert_eq!(report.range.start, "2024-03-01T01:00:00Z");

    config.v2.prefix = "nothing_".to_owned();
    let err = validate(&db.client, &config).await.unwrap_err();
    assert!(err.to_string().contains("nothing_ohlcv_1m"), "{err}");
    db.drop().await;
}

#[tokio::test]
async fn real_gold_views_agree_with_their_copy_and_fail_only_on_legacy_ties() {
    let db = TestDb::new("val_gold").await;
    fill_silver(&db).await;
    let gold = gold_views::config::GoldConfig {
        database: db.name.clone(),
        ..Default::default()
    };
    gold_views::apply::apply(&db.client, &gold, true, |_| {})
        .await
        .unwrap();
    let config = db.validator_config();

    build_identical_v1(&db).await;
    let report = validate(&db.client, &config).await.unwrap();
    assert!(report.passed(), "{}", report.to_json());
    assert_eq!(tf_report(&report, Timeframe::M1).v2_rows, 720);
    assert_eq!(tf_report(&report, Timeframe::M1).volume_comparison, "float");

    let options = LegacyJobOptions {
        database: db.name.clone(),
        seed: 11,
        ..LegacyJobOptions::default()
    };
    legacy_job::run(&db.client, &options, &Timeframe::ALL)
        .await
        .unwrap();
    let report = validate(&db.client, &config).await.unwrap();
    println!("{}", report.markdown_table());
    for t in &report.timeframes {
        assert!(
            t.rows_match && t.volume_match && t.trade_count_match,
            "{t:#?}"
        );
        for m in &t.mismatches {
            assert_eq!(
                (m.attribution.as_str(), m.v1_cause.as_deref()),
                ("v1_wrong", Some("tie_ordering")),
                "{m:#?}"
            );
        }
    }
    assert!(tf_report(&report, Timeframe::M1).mismatch_counts.total > 0);
    db.drop().await;
}

#[tokio::test]
async fn decimal_volumes_compare_exactly_and_a_duplicated_candle_is_found() {
    let db = TestDb::new("val_decimal").await;
    fill_silver(&db).await;
    build_v2(&db).await;
    let table = db.table("legacy_ohlcv_1m");
    // The legacy shape, except that this export kept exact volumes.
    db.exec(&format!(
        "CREATE TABLE {table} (symbol String, exchange String, window_start Int64, \
         window_end Int64, open_price Float64, high_price Float64, low_price Float64, \
         close_price Float64, volume Decimal(38, 10), trade_count Int64, vwap Float64) \
         ENGINE = MergeTree ORDER BY (exchange, symbol, window_start)"
    ))
    .await;
    let key = |m: i64| {
        format!(
            "exchange = 'binance' AND symbol = 'BTC/USDT' AND window_start = toDateTime({}, 'UTC')",
            BASE + m * 60
        )
    };
    let copy = |filter: &str| {
        format!(
            "INSERT INTO {table} SELECT replaceAll(toString(symbol), '/', ''), toString(exchange), \
             toInt64(toUnixTimestamp(window_start)) * 1000000, \
             toInt64(toUnixTimestamp(window_end)) * 1000000, toFloat64(open), toFloat64(high), \
             toFloat64(low), toFloat64(close), \
             if({one_unit_more}, volume + toDecimal128('0.0000000001', 10), volume), \
             toInt64(trade_count), toFloat64(vwap) FROM {gold} WHERE {filter}",
            one_unit_more = key(10),
            gold = db.table("gold_ohlcv_1m"),
        )
    };
    db.exec(&copy("1")).await;
    // The same candle once more: a duplicate key with equal values.
    db.exec(&copy(&key(20))).await;

    let mut config = db.validator_config();
    config.timeframes = vec![Timeframe::M1];
    let report = validate(&db.client, &config).await.unwrap();
    let m1 = tf_report(&report, Timeframe::M1);
    assert_eq!(m1.volume_comparison, "decimal");
    assert_eq!(m1.v1_rows, 4 * 180 + 1);
    assert_eq!(m1.mismatch_counts.total, 2, "{:#?}", m1.mismatches);
    // One unit of the tenth decimal: within any float tolerance, but not equal.
    let volume = find(m1, "BTC/USDT", 10);
    assert_eq!(volume.kinds, ["volume"], "{volume:#?}");
    assert_eq!(
        (volume.attribution.as_str(), volume.v1_cause.as_deref()),
        ("v1_wrong", Some("precision"))
    );
    let duplicate = find(m1, "BTC/USDT", 20);
    assert_eq!(duplicate.kinds, ["duplicate_key"], "{duplicate:#?}");
    assert_eq!(duplicate.v1_cause.as_deref(), Some("duplicate_candle"));
    assert!(!m1.rows_match && !m1.volume_match && m1.ohlc_within_tolerance);
    // The checksums are the gate's: recomputing them gives the same fingerprint.
    assert_eq!(
        current_fingerprint(&db.client, &config, &report)
            .await
            .unwrap(),
        report.fingerprint
    );
    db.drop().await;
}
