//! Fixtures for the validator's tests against the real ClickHouse engine (the local stack's
//! front, `PHASE4_CLICKHOUSE_URL`, default http://127.0.0.1:18123). Every test works in a
//! database of its own, dropped at the end.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use ch_support::ClickHouseConfig;
use ch_support::quote::{ident, qualified};
use clickhouse::Client;
use ohlcv_validator::{Timeframe, ValidatorConfig};

/// 2024-03-01T00:00:00Z: the first trade of the fixture.
pub const BASE: i64 = 1_709_251_200;
/// Hours of trades per stream.
pub const HOURS: i64 = 3;

pub fn clickhouse_url() -> String {
    std::env::var("PHASE4_CLICKHOUSE_URL")
        .unwrap_or_else(|_| ch_support::DEFAULT_CLICKHOUSE_URL.to_owned())
}

/// A database of one test's own, with a client bound to it. Fails loudly when ClickHouse
/// is not running.
pub struct TestDb {
    pub name: String,
    pub client: Client,
    pub config: ClickHouseConfig,
}

impl TestDb {
    pub async fn new(prefix: &str) -> Self {
        let url = clickhouse_url();
        let admin = ch_support::client(&ClickHouseConfig {
            url: url.clone(),
            ..ClickHouseConfig::default()
        });
        if let Err(e) = admin.query("SELECT 1").execute().await {
            panic!("ClickHouse at {url} does not answer ({e}): run `cargo xtask stack up` first");
        }
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let name = format!(
            "p4t_{prefix}_{}_{millis}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        admin
            .query_raw(&format!("CREATE DATABASE {}", ident(&name)))
            .execute()
            .await
            .unwrap();
        let config = ClickHouseConfig {
            url,
            database: name.clone(),
            ..ClickHouseConfig::default()
        };
        let client = ch_support::client(&config);
        TestDb {
            name,
            client,
            config,
        }
    }

    pub fn table(&self, name: &str) -> String {
        qualified(&self.name, name)
    }

    pub async fn exec(&self, sql: &str) {
        if let Err(e) = self.client.query_raw(sql).execute().await {
            panic!("{e}\nSQL: {sql}");
        }
    }

    pub async fn drop(self) {
        self.exec(&format!("DROP DATABASE IF EXISTS {}", ident(&self.name)))
            .await;
    }

    /// A validator config over this database: v1 legacy tables with concatenated symbols.
    pub fn validator_config(&self) -> ValidatorConfig {
        let mut config = ValidatorConfig {
            clickhouse: self.config.clone(),
            ..ValidatorConfig::default()
        };
        config.mapping.symbols = BTreeMap::from([
            ("BTCUSDT".to_owned(), "BTC/USDT".to_owned()),
            ("ETHUSDT".to_owned(), "ETH/USDT".to_owned()),
            ("XRPUSDT".to_owned(), "XRP/USDT".to_owned()),
        ]);
        config.report.max_mismatches = 100_000;
        config
    }
}

/// `silver_trades` per the shared contract.
pub fn silver_ddl(table: &str) -> String {
    format!(
        "CREATE TABLE {table} (exchange LowCardinality(String), symbol LowCardinality(String), \
         trade_id UInt64, timestamp DateTime64(6, 'UTC'), price Decimal(38, 10), \
         quantity Decimal(38, 10), quote_volume Decimal(38, 20), side Enum8('BUY' = 1, 'SELL' = 2)) \
         ENGINE = MergeTree PARTITION BY toYYYYMMDD(timestamp) \
         ORDER BY (exchange, symbol, timestamp, trade_id)"
    )
}

/// Four streams (binance/kraken x BTC/USDT, ETH/USDT), one trade every 2 s for [`HOURS`]
/// hours; every seventh trade shares its predecessor's timestamp (a tie) at another price.
/// Window starts fall on such a tie for every seventh minute.
pub async fn fill_silver(db: &TestDb) {
    db.exec(&silver_ddl(&db.table("silver_trades"))).await;
    let per_stream = HOURS * 3600 / 2;
    db.exec(&format!(
        "INSERT INTO {t} SELECT \
           if(s < 2, 'binance', 'kraken') AS exchange, if(s % 2 = 0, 'BTC/USDT', 'ETH/USDT') AS symbol, \
           1000000 + number AS trade_id, \
           toDateTime64({BASE}, 6, 'UTC') + toIntervalSecond(k * 2 - if(k % 7 = 1, 2, 0)) AS timestamp, \
           toDecimal128(100 + (cityHash64(number, 'p') % 100000) / 1000, 10) AS price, \
           toDecimal128(0.001 + (cityHash64(number, 'q') % 5000) / 1000, 10) AS quantity, \
           toDecimal128(price, 20) * toDecimal128(quantity, 0) AS quote_volume, \
           if(number % 3 = 0, 'SELL', 'BUY') AS side \
         FROM (SELECT number, number % 4 AS s, intDiv(number, 4) AS k FROM numbers({n}))",
        t = db.table("silver_trades"),
        n = per_stream * 4,
    ))
    .await;
}

/// v2 candles as plain tables with the gold finalizing views' columns, computed with a
/// GROUP BY (stands in for `gold_views::apply` until it lands; the validator only reads
/// `gold_ohlcv_{tf}` by name).
pub async fn build_v2(db: &TestDb) {
    for tf in Timeframe::ALL {
        db.exec(&format!(
            "CREATE TABLE {t} ENGINE = MergeTree ORDER BY (exchange, symbol, window_start) AS \
             SELECT ex AS exchange, sym AS symbol, ws AS window_start, ws + {w} AS window_end, \
             o AS open, hi AS high, lo AS low, c AS close, vol AS volume, qv AS quote_volume, \
             n AS trade_count, qv / vol AS vwap FROM ( \
               SELECT exchange AS ex, symbol AS sym, \
               toDateTime(toStartOfInterval(timestamp, {i}, 'UTC'), 'UTC') AS ws, \
               argMin(price, (timestamp, trade_id)) AS o, max(price) AS hi, min(price) AS lo, \
               argMax(price, (timestamp, trade_id)) AS c, sum(quantity) AS vol, \
               sum(quote_volume) AS qv, count() AS n \
               FROM {s} GROUP BY ex, sym, ws)",
            t = db.table(&format!("gold_ohlcv_{}", tf.label())),
            w = tf.seconds(),
            i = tf.sql_interval(),
            s = db.table("silver_trades"),
        ))
        .await;
    }
}

/// The SELECT producing a legacy table that is an exact copy of v2 (Float64 prices,
/// microsecond window bounds, concatenated symbols).
pub fn legacy_copy_of_v2(db: &TestDb, tf: Timeframe) -> String {
    format!(
        "SELECT replaceAll(toString(symbol), '/', '') AS symbol, toString(exchange) AS exchange, \
         toInt64(toUnixTimestamp(window_start)) * 1000000 AS window_start, \
         toInt64(toUnixTimestamp(window_end)) * 1000000 AS window_end, \
         toFloat64(open) AS open_price, toFloat64(high) AS high_price, toFloat64(low) AS low_price, \
         toFloat64(close) AS close_price, toFloat64(volume) AS volume, toInt64(trade_count) AS trade_count, \
         toFloat64(vwap) AS vwap FROM {}",
        db.table(&format!("gold_ohlcv_{}", tf.label()))
    )
}

/// v1 tables identical to v2 for every timeframe.
pub async fn build_identical_v1(db: &TestDb) {
    for tf in Timeframe::ALL {
        let table = db.table(&format!("legacy_ohlcv_{}", tf.label()));
        db.exec(&ohlcv_validator::legacy_job::create_table_sql(&table))
            .await;
        db.exec(&format!(
            "INSERT INTO {table} {}",
            legacy_copy_of_v2(db, tf)
        ))
        .await;
    }
}

/// Micro-seconds of minute `m` after [`BASE`].
pub fn minute_micros(m: i64) -> i64 {
    (BASE + m * 60) * 1_000_000
}
