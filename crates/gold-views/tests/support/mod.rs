//! Shared by the gold acceptance tests: a fresh database with `silver_trades` made by the
//! silver migrations, generated trades, and the three ways of computing candles (gold
//! views, plain SQL over silver, the Rust reference) rendered as comparable text rows.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use ch_support::migrations::{self, MigrationSet, Params};
use ch_support::{ClickHouseConfig, quote};
use clickhouse::Client;
use gold_views::reference::{self, format_decimal};
use gold_views::{GoldConfig, Timeframe};
use trade_model::SilverTrade;
use trade_model::generator::{Expected, Generator, GeneratorConfig};

/// Silver rows older than the TTL vanish at insert time and generated trades are from
/// 2024; ten years keeps them (a century would overflow DateTime and expire everything).
const SILVER_TTL_DAYS: u64 = 3_650;

/// `SilverTrade` as the `clickhouse` crate's schema check accepts it: the crate maps
/// `Enum8` to `i8`, while trade-model's `Side` is `#[repr(u8)]` (reported to its owner).
#[derive(clickhouse::Row, serde::Serialize)]
struct SilverRow<'a> {
    exchange: &'a str,
    symbol: &'a str,
    trade_id: u64,
    timestamp: i64,
    price: i128,
    quantity: i128,
    quote_volume: i128,
    side: i8,
}

impl<'a> From<&'a SilverTrade> for SilverRow<'a> {
    fn from(t: &'a SilverTrade) -> Self {
        SilverRow {
            exchange: &t.exchange,
            symbol: &t.symbol,
            trade_id: t.trade_id,
            timestamp: t.timestamp,
            price: t.price,
            quantity: t.quantity,
            quote_volume: t.quote_volume,
            side: t.side as i8,
        }
    }
}

pub struct TestDb {
    pub client: Client,
    pub config: GoldConfig,
}

impl TestDb {
    /// A new database (unique name, so tests run in parallel) holding `silver_trades`.
    pub async fn new(prefix: &str) -> TestDb {
        let url = integration_tests::require_clickhouse();
        let database = integration_tests::unique_name(prefix);
        let client = ch_support::client(&ClickHouseConfig {
            url,
            database: database.clone(),
            ..ClickHouseConfig::default()
        });
        let silver = MigrationSet::from_dir(
            "silver",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql/silver"),
        )
        .expect("read sql/silver");
        let params = Params::new(&database)
            .number("ttl_days", SILVER_TTL_DAYS)
            .number("dedup_window", 1_000);
        migrations::apply(&client, &silver, &params)
            .await
            .expect("silver migrations");
        let config = GoldConfig {
            database,
            ..GoldConfig::default()
        };
        TestDb { client, config }
    }

    pub fn qualified(&self, name: &str) -> String {
        quote::qualified(&self.config.database, name)
    }

    pub async fn insert(&self, trades: &[SilverTrade]) {
        let mut insert = self
            .client
            // Qualified: the local front ignores the `database` parameter on inserts.
            .insert_unescaped::<SilverRow>(&self.qualified("silver_trades"))
            .await
            .expect("start insert");
        for trade in trades {
            insert
                .write(&SilverRow::from(trade))
                .await
                .expect("write row");
        }
        insert.end().await.expect("insert acknowledged");
    }

    pub async fn count(&self, sql: &str) -> u64 {
        self.client.query(sql).fetch_one().await.expect(sql)
    }

    /// The finalizing view's candles.
    pub async fn gold_rows(&self, tf: &Timeframe) -> Vec<String> {
        let view = self.qualified(&self.config.candle_view(tf));
        let sql = format!(
            "SELECT concat(exchange, '|', symbol, '|', toString(toUnixTimestamp(window_start)), '|', \
toString(toUnixTimestamp(window_end)), '|', toString(open), '|', toString(high), '|', toString(low), '|', \
toString(close), '|', toString(volume), '|', toString(quote_volume), '|', toString(trade_count), '|', \
toString(vwap)) FROM {view} ORDER BY exchange, symbol, window_start"
        );
        self.client.query(&sql).fetch_all().await.expect(&sql)
    }

    /// The same candles recomputed from silver in plain SQL, written independently of the
    /// generator: seconds-based intervals, aggregates directly over the trades.
    pub async fn plain_sql_rows(&self, tf: &Timeframe) -> Vec<String> {
        let silver = self.qualified("silver_trades");
        let width = tf.seconds();
        let sql = format!(
            "SELECT concat(exchange, '|', symbol, '|', toString(toUnixTimestamp(ws)), '|', \
toString(toUnixTimestamp(ws) + {width}), '|', toString(argMin(price, (timestamp, trade_id))), '|', \
toString(max(price)), '|', toString(min(price)), '|', toString(argMax(price, (timestamp, trade_id))), '|', \
toString(sum(toDecimal256(quantity, 10))), '|', toString(sum(toDecimal256(quote_volume, 20))), '|', \
toString(count()), '|', \
toString(toDecimal128(sum(toDecimal256(quote_volume, 20)) / sum(toDecimal256(quantity, 10)), 10))) \
FROM {silver} GROUP BY exchange, symbol, toStartOfInterval(timestamp, INTERVAL {width} SECOND, 'UTC') AS ws \
ORDER BY exchange, symbol, ws"
        );
        self.client.query(&sql).fetch_all().await.expect(&sql)
    }

    /// Every object of the database with its `SHOW CREATE` text.
    pub async fn show_create_all(&self) -> Vec<(String, String)> {
        let names: Vec<String> = self
            .client
            .query(&format!(
                "SELECT groupArray(name) FROM (SELECT name FROM system.tables WHERE database = {} ORDER BY name)",
                quote::string_literal(&self.config.database)
            ))
            .fetch_one()
            .await
            .expect("list objects");
        let mut out = vec![];
        for name in names {
            let sql = format!("SHOW CREATE TABLE {}", self.qualified(&name));
            let text: String = self.client.query(&sql).fetch_one().await.expect(&sql);
            out.push((name, text));
        }
        out
    }

    pub async fn drop(self) {
        self.client
            .query(&format!(
                "DROP DATABASE IF EXISTS {}",
                quote::ident(&self.config.database)
            ))
            .execute()
            .await
            .expect("drop test database");
    }
}

/// The Rust reference's candles, rendered like the SQL rows.
pub fn reference_rows(trades: &[SilverTrade], tf: &Timeframe) -> Vec<String> {
    reference::candles(trades, tf)
        .expect("reference candles")
        .into_iter()
        .map(|c| {
            [
                c.exchange,
                c.symbol,
                c.window_start.to_string(),
                c.window_end.to_string(),
                format_decimal(c.open, 10),
                format_decimal(c.high, 10),
                format_decimal(c.low, 10),
                format_decimal(c.close, 10),
                format_decimal(c.volume, 10),
                format_decimal(c.quote_volume, 20),
                c.trade_count.to_string(),
                format_decimal(c.vwap, 10),
            ]
            .join("|")
        })
        .collect()
}

/// `count` valid trades from the trade model's seeded generator, in arrival order. They
/// include same-millisecond bursts of up to 200 trades, late trades (up to ten minutes
/// back), trades exactly on window boundaries and a midnight UTC crossing.
pub fn generated_trades(seed: u64, count: usize) -> Vec<SilverTrade> {
    let config = GeneratorConfig::valid_only(seed, &trade_model::Exchange::ALL);
    let mut out = Vec::with_capacity(count);
    for message in Generator::new(config) {
        if let Expected::Trades(rows) = message.expected {
            out.extend(rows);
        }
        if out.len() >= count {
            out.truncate(count);
            break;
        }
    }
    out
}

/// Explains the first difference between two row lists.
pub fn assert_same_rows(what: &str, left: &[String], right: &[String]) {
    if left == right {
        return;
    }
    let first = left
        .iter()
        .zip(right)
        .position(|(l, r)| l != r)
        .unwrap_or(left.len().min(right.len()));
    panic!(
        "{what}: {} vs {} rows; first difference at {first}:\n  {:?}\n  {:?}",
        left.len(),
        right.len(),
        left.get(first),
        right.get(first)
    );
}
