//! Throughput of the gate: validates N 1m candles per side (default 10,000,000; override
//! with `OHLCV_BENCH_CANDLES`) against the real ClickHouse engine and prints candles/s
//! (target: at least 2,000,000), this process's peak RSS (VmHWM) and the load average
//! around the run. The tables are measured once their background merges have
//! settled, next to the engine's floor on them (a `count()` scan, reading every compared
//! column); `RUST_LOG=ohlcv_validator=debug` adds the time of each step.
//!
//! v2 is a plain table with the gold finalizing view's columns (what is measured is the
//! validator, not the gold views); v1 has the legacy types (Float64, microseconds) and
//! concatenated symbols mapped through 100 configured names. 100 candles differ, so the
//! attribution path runs too. Run with `cargo bench -p ohlcv-validator`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use ch_support::ClickHouseConfig;
use ch_support::quote::{ident, qualified, string_literal};
use ohlcv_validator::{Timeframe, ValidatorConfig, validate};

const SYMBOLS: u64 = 100;
const EXCHANGES: u64 = 3;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Other work on the machine shares the engine's cores; the rate means little without it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // Step timings from the library's tracing (override with RUST_LOG).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("ohlcv_validator=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let candles: u64 = std::env::var("OHLCV_BENCH_CANDLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let url = std::env::var("PHASE4_CLICKHOUSE_URL")
        .unwrap_or_else(|_| ch_support::DEFAULT_CLICKHOUSE_URL.to_owned());
    let database = format!("p4bench_validator_{}", std::process::id());
    let admin = ch_support::client(&ClickHouseConfig {
        url: url.clone(),
        ..ClickHouseConfig::default()
    });
    if let Err(e) = admin.query("SELECT 1").execute().await {
        panic!("ClickHouse at {url} does not answer ({e}): run `cargo xtask stack up` first");
    }
    let exec = |sql: String| {
        let admin = admin.clone();
        async move {
            if let Err(e) = admin.query_raw(&sql).execute().await {
                panic!("{e}\nSQL: {sql}");
            }
        }
    };
    exec(format!("CREATE DATABASE {}", ident(&database))).await;
    let t = |name: &str| qualified(&database, name);
    let keys_per_minute = SYMBOLS * EXCHANGES;
    let generated = Instant::now();
    exec(format!(
        "CREATE TABLE {} (exchange LowCardinality(String), symbol LowCardinality(String), \
         trade_id UInt64, timestamp DateTime64(6, 'UTC'), price Decimal(38, 10), \
         quantity Decimal(38, 10), quote_volume Decimal(38, 20), side Enum8('BUY' = 1, 'SELL' = 2)) \
         ENGINE = MergeTree ORDER BY (exchange, symbol, timestamp, trade_id)",
        t("silver_trades")
    ))
    .await;
    exec(format!(
        "CREATE TABLE {} (exchange LowCardinality(String), symbol LowCardinality(String), \
         window_start DateTime('UTC'), window_end DateTime('UTC'), open Decimal(38, 10), \
         high Decimal(38, 10), low Decimal(38, 10), close Decimal(38, 10), volume Decimal(38, 10), \
         quote_volume Decimal(38, 20), trade_count UInt64, vwap Decimal(38, 10)) \
         ENGINE = MergeTree ORDER BY (exchange, symbol, window_start)",
        t("gold_ohlcv_1m")
    ))
    .await;
    exec(format!(
        "INSERT INTO {} SELECT \
         ['binance', 'kraken', 'coinbase'][1 + s % {EXCHANGES}] AS exchange, \
         concat('S', toString(intDiv(s, {EXCHANGES})), '/USDT') AS symbol, \
         toDateTime(1704067200 + m * 60, 'UTC') AS window_start, window_start + 60 AS window_end, \
         toDecimal128(100 + (cityHash64(number, 1) % 100000) / 1000, 10) AS open, \
         open + toDecimal128((cityHash64(number, 2) % 1000) / 1000, 10) AS high, \
         open - toDecimal128((cityHash64(number, 3) % 1000) / 1000, 10) AS low, \
         open + toDecimal128(((cityHash64(number, 4) % 1000) - 500) / 10000, 10) AS close, \
         toDecimal128((cityHash64(number, 5) % 1000000) / 1000, 10) AS volume, \
         toDecimal128(0, 20) AS quote_volume, 1 + cityHash64(number, 6) % 500 AS trade_count, \
         open AS vwap \
         FROM (SELECT number, number % {keys_per_minute} AS s, intDiv(number, {keys_per_minute}) AS m \
               FROM numbers({candles}))",
        t("gold_ohlcv_1m")
    ))
    .await;
    exec(ohlcv_validator::legacy_job::create_table_sql(&t(
        "legacy_ohlcv_1m",
    )))
    .await;
    exec(format!(
        "INSERT INTO {} SELECT replaceAll(toString(symbol), '/', '') AS symbol, toString(exchange), \
         toInt64(toUnixTimestamp(window_start)) * 1000000, toInt64(toUnixTimestamp(window_end)) * 1000000, \
         toFloat64(open) + if(rowNumberInAllBlocks() % {stride} = 7, 1e-6, 0), toFloat64(high), \
         toFloat64(low), toFloat64(close), toFloat64(volume), toInt64(trade_count), toFloat64(vwap) \
         FROM {}",
        t("legacy_ohlcv_1m"),
        t("gold_ohlcv_1m"),
        stride = (candles / 100).max(1),
    ))
    .await;
    println!(
        "generated {candles} candles per side in {:.1} s",
        generated.elapsed().as_secs_f64()
    );
    // Freshly inserted parts are merged in the background, which would compete with the
    // validation for the same cores: measure settled tables, as a gate run sees them.
    let settling = Instant::now();
    let merges = format!(
        "SELECT count() FROM system.merges WHERE database = {}",
        string_literal(&database)
    );
    while admin.query(&merges).fetch_all::<u64>().await.unwrap() != [0]
        && settling.elapsed().as_secs() < 300
    {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    println!(
        "background merges settled in {:.1} s",
        settling.elapsed().as_secs_f64()
    );

    // The engine's floor here, to read the rate against: what a scan costs before any
    // comparison work.
    let floors = [
        (
            "count() over v1 (metadata only)",
            format!("SELECT count() FROM {}", t("legacy_ohlcv_1m")),
        ),
        (
            "count() over v1 scanning window_start",
            format!(
                "SELECT count() FROM {} WHERE window_start >= 0",
                t("legacy_ohlcv_1m")
            ),
        ),
        (
            "reading every compared column of v1",
            format!(
                "SELECT sum(cityHash64(symbol, exchange)), sum(window_start), sum(open_price), \
                 sum(high_price), sum(low_price), sum(close_price), sum(volume), sum(trade_count) FROM {}",
                t("legacy_ohlcv_1m")
            ),
        ),
        (
            "reading every compared column of v2",
            format!(
                "SELECT sum(cityHash64(exchange, symbol)), sum(toUInt32(window_start)), sum(open), \
                 sum(high), sum(low), sum(close), sum(volume), sum(trade_count) FROM {}",
                t("gold_ohlcv_1m")
            ),
        ),
    ];
    for (what, sql) in floors {
        let started = Instant::now();
        exec(sql).await;
        println!("floor: {what}: {:.3} s", started.elapsed().as_secs_f64());
    }

    let mut config = ValidatorConfig {
        clickhouse: ClickHouseConfig {
            url,
            database: database.clone(),
            ..ClickHouseConfig::default()
        },
        timeframes: vec![Timeframe::M1],
        ..ValidatorConfig::default()
    };
    config.mapping.symbols = (0..SYMBOLS)
        .map(|i| (format!("S{i}USDT"), format!("S{i}/USDT")))
        .collect::<BTreeMap<_, _>>();
    let client = ch_support::client(&config.clickhouse);
    let load_before = load_average();
    let started = Instant::now();
    let report = validate(&client, &config).await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let load_after = load_average();
    let tf = &report.timeframes[0];
    println!("{}", report.markdown_table());
    println!(
        "validated {} v1 + {} v2 1m candles in {seconds:.2} s: {:.0} candles/s per side \
         (target >= 2,000,000); mismatches {} (expected about 100); peak RSS (VmHWM) {} KiB; \
         1-minute load average {load_before} before, {load_after} after ({} CPUs)",
        tf.v1_rows,
        tf.v2_rows,
        tf.v1_rows as f64 / seconds,
        tf.mismatch_counts.total,
        peak_rss_kib(),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    exec(format!("DROP DATABASE {}", ident(&database))).await;
}
