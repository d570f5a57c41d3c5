#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Conformance of the local ClickHouse front (`deploy/local/chfront.py` over chDB) with the
//! real `clickhouse` crate at its defaults: LZ4-compressed request bodies and
//! `RowBinaryWithNamesAndTypes` validation.
//!
//! These tests run against the running stack (`cargo xtask stack up`) at
//! `PHASE4_CLICKHOUSE_URL` (default `http://127.0.0.1:18123`) and fail when it is not
//! there. Each test uses its own table names, so they can run in parallel. The restart test
//! starts its own front on a free port and a temporary directory, so restarting it cannot
//! disturb the other tests; it is still the real engine.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ch_support::{ClickHouseConfig, quote};
use clickhouse::Client;
use clickhouse::error::Error;
use serde::{Deserialize, Serialize};
use serde_repr::{Deserialize_repr, Serialize_repr};

const MILLION: u64 = 1_000_000;
/// 2024-03-01T00:00:00Z in microseconds: rows spread over a few hours from here.
const BASE_MICROS: i64 = 1_709_251_200_000_000;
const DECIMAL_10: i128 = 10_000_000_000;

fn client_for(url: &str) -> Client {
    ch_support::client(&ClickHouseConfig {
        url: url.to_owned(),
        ..Default::default()
    })
}

/// The stack's client; fails the test with a clear message when the front is not running.
fn stack_client() -> Client {
    client_for(&integration_tests::require_clickhouse())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize_repr, Deserialize_repr)]
#[repr(i8)] // validation maps Enum8 to i8 only; u8 is rejected as a schema mismatch
enum Side {
    Buy = 1,
    Sell = 2,
}

/// Same column types as `silver_trades`.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Serialize, Deserialize)]
struct SilverLike {
    exchange: String,
    symbol: String,
    trade_id: u64,
    timestamp: i64,
    price: i128,
    quantity: i128,
    quote_volume: i128,
    side: Side,
}

const SILVER_COLUMNS: &str = "exchange LowCardinality(String), symbol LowCardinality(String), \
     trade_id UInt64, timestamp DateTime64(6, 'UTC'), price Decimal(38, 10), \
     quantity Decimal(38, 10), quote_volume Decimal(38, 20), side Enum8('BUY' = 1, 'SELL' = 2)";

/// Row `i` of a deterministic data set, so fetched rows can be checked without a copy.
fn silver_row(i: u64) -> SilverLike {
    const EXCHANGES: [&str; 3] = ["binance", "kraken", "coinbase"];
    const SYMBOLS: [&str; 4] = ["BTC/USDT", "ETH/USDT", "ETH/BTC", "BTC/FDUSD"];
    let mix = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let price = 60_000 * DECIMAL_10 + i128::from(mix % 1_000_000_000_000);
    let quantity = i128::from(mix >> 40) + 1;
    SilverLike {
        exchange: EXCHANGES[(i % 3) as usize].to_owned(),
        symbol: SYMBOLS[(i % 4) as usize].to_owned(),
        trade_id: i,
        // Several trades share a timestamp, as on real exchanges.
        timestamp: BASE_MICROS + (i / 3) as i64 * 37_000,
        price,
        quantity,
        // Decimal(38,10) x Decimal(38,10) = Decimal(38,20): the mantissas multiply exactly.
        quote_volume: price * quantity,
        side: if mix & 1 == 0 { Side::Buy } else { Side::Sell },
    }
}

async fn create_silver_like(client: &Client, table: &str) {
    client
        .query(&format!(
            "CREATE TABLE {} ({SILVER_COLUMNS}) ENGINE = MergeTree \
             PARTITION BY toYYYYMMDD(timestamp) ORDER BY (exchange, symbol, timestamp, trade_id)",
            quote::ident(table)
        ))
        .execute()
        .await
        .unwrap();
}

async fn insert_silver_rows(client: &Client, table: &str, ids: std::ops::Range<u64>) {
    let mut insert = client.insert::<SilverLike>(table).await.unwrap();
    for i in ids {
        insert.write(&silver_row(i)).await.unwrap();
    }
    insert.end().await.unwrap();
}

async fn drop_table(client: &Client, table: &str) {
    client
        .query(&format!("DROP TABLE IF EXISTS {}", quote::ident(table)))
        .execute()
        .await
        .unwrap();
}

fn server_message(error: Error) -> String {
    match error {
        Error::BadResponse(message) => message,
        other => panic!("expected the server's error (BadResponse), got {other:?}"),
    }
}

#[tokio::test]
async fn ddl_creates_describes_and_drops_a_table() {
    let client = stack_client();
    let table = integration_tests::unique_name("conformance_ddl");
    let exists = format!("EXISTS TABLE {}", quote::ident(&table));

    create_silver_like(&client, &table).await;
    assert_eq!(client.query(&exists).fetch_one::<u8>().await.unwrap(), 1);

    #[derive(Debug, clickhouse::Row, Deserialize)]
    struct Column {
        name: String,
        r#type: String,
    }
    let columns = client
        .query("SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = ? ORDER BY position")
        .bind(table.as_str())
        .fetch_all::<Column>()
        .await
        .unwrap();
    let described: Vec<String> = columns
        .iter()
        .map(|c| format!("{} {}", c.name, c.r#type))
        .collect();
    assert_eq!(described[0], "exchange LowCardinality(String)");
    assert_eq!(described[3], "timestamp DateTime64(6, 'UTC')");
    assert_eq!(described[7], "side Enum8('BUY' = 1, 'SELL' = 2)");

    drop_table(&client, &table).await;
    assert_eq!(client.query(&exists).fetch_one::<u8>().await.unwrap(), 0);
}

#[tokio::test]
async fn million_silver_rows_round_trip_with_lz4_and_validation() {
    let client = stack_client();
    let table = integration_tests::unique_name("conformance_million");
    create_silver_like(&client, &table).await;

    let started = Instant::now();
    insert_silver_rows(&client, &table, 0..MILLION).await;
    let insert_secs = started.elapsed().as_secs_f64();
    println!(
        "insert: {MILLION} rows in {insert_secs:.2} s = {:.0} rows/s (LZ4 on, validation on)",
        MILLION as f64 / insert_secs
    );

    // Stream the rows back in id order and compare each with its regenerated original.
    let started = Instant::now();
    let mut cursor = client
        .query(&format!(
            "SELECT ?fields FROM {} ORDER BY trade_id",
            quote::ident(&table)
        ))
        .fetch::<SilverLike>()
        .unwrap();
    let mut expected_id = 0;
    while let Some(row) = cursor.next().await.unwrap() {
        assert_eq!(row, silver_row(expected_id), "row {expected_id} differs");
        expected_id += 1;
    }
    let fetch_secs = started.elapsed().as_secs_f64();
    assert_eq!(expected_id, MILLION, "row count after fetch-back");
    println!(
        "fetch: {MILLION} rows in {fetch_secs:.2} s = {:.0} rows/s (compared row by row)",
        MILLION as f64 / fetch_secs
    );

    drop_table(&client, &table).await;
}

#[derive(Debug, PartialEq, Eq, clickhouse::Row, Deserialize)]
struct Candle {
    exchange: String,
    symbol: String,
    window_start: u32,
    open: i128,
    close: i128,
    volume: i128,
    trade_count: u64,
}

#[tokio::test]
async fn aggregating_view_merges_to_the_direct_group_by() {
    let client = stack_client();
    let trades = integration_tests::unique_name("conformance_mv_trades");
    let state = integration_tests::unique_name("conformance_mv_state");
    let view = integration_tests::unique_name("conformance_mv");
    let (trades_q, state_q, view_q) = (
        quote::ident(&trades),
        quote::ident(&state),
        quote::ident(&view),
    );
    create_silver_like(&client, &trades).await;
    let decimal = "Decimal(38, 10)";
    let order_key = "Tuple(DateTime64(6, 'UTC'), UInt64)";
    let ddl = [
        format!(
            "CREATE TABLE {state_q} (exchange LowCardinality(String), symbol LowCardinality(String), \
             window_start DateTime('UTC'), \
             open AggregateFunction(argMin, {decimal}, {order_key}), \
             close AggregateFunction(argMax, {decimal}, {order_key}), \
             volume AggregateFunction(sum, {decimal}), trade_count AggregateFunction(count)) \
             ENGINE = AggregatingMergeTree ORDER BY (exchange, symbol, window_start)"
        ),
        format!(
            "CREATE MATERIALIZED VIEW {view_q} TO {state_q} AS SELECT exchange, symbol, \
             toStartOfInterval(timestamp, INTERVAL 1 MINUTE, 'UTC') AS window_start, \
             argMinState(price, (timestamp, trade_id)) AS open, \
             argMaxState(price, (timestamp, trade_id)) AS close, \
             sumState(quantity) AS volume, countState() AS trade_count \
             FROM {trades_q} GROUP BY exchange, symbol, window_start"
        ),
    ];
    for statement in &ddl {
        client.query(statement).execute().await.unwrap();
    }
    // Several inserts give several parts per window, so -Merge has partial states to combine.
    for batch in 0..4 {
        insert_silver_rows(&client, &trades, batch * 50_000..(batch + 1) * 50_000).await;
    }

    let merged = client
        .query(&format!(
            "SELECT exchange, symbol, toUnixTimestamp(window_start) AS window_start, \
             argMinMerge(open) AS open, argMaxMerge(close) AS close, sumMerge(volume) AS volume, \
             countMerge(trade_count) AS trade_count FROM {state_q} \
             GROUP BY exchange, symbol, window_start ORDER BY exchange, symbol, window_start"
        ))
        .fetch_all::<Candle>()
        .await
        .unwrap();
    let direct = client
        .query(&format!(
            "SELECT exchange, symbol, \
             toUnixTimestamp(toStartOfInterval(timestamp, INTERVAL 1 MINUTE, 'UTC')) AS window_start, \
             argMin(price, (timestamp, trade_id)) AS open, argMax(price, (timestamp, trade_id)) AS close, \
             sum(quantity) AS volume, count() AS trade_count FROM {trades_q} \
             GROUP BY exchange, symbol, window_start ORDER BY exchange, symbol, window_start"
        ))
        .fetch_all::<Candle>()
        .await
        .unwrap();
    assert!(
        direct.len() > 100,
        "expected many candles, got {}",
        direct.len()
    );
    assert_eq!(merged.len(), direct.len());
    assert_eq!(merged, direct);
    println!(
        "aggregating view: {} candles match the direct GROUP BY",
        merged.len()
    );

    for name in [&view, &state, &trades] {
        drop_table(&client, name).await;
    }
}

#[tokio::test]
async fn server_errors_surface_with_the_server_code() {
    let client = stack_client();
    let missing = integration_tests::unique_name("conformance_missing");

    let error = client
        .query(&format!("SELECT * FROM {}", quote::ident(&missing)))
        .fetch_all::<u64>()
        .await
        .unwrap_err();
    let message = server_message(error);
    assert!(
        message.contains("Code: 60"),
        "UNKNOWN_TABLE expected: {message}"
    );
    assert!(message.contains("UNKNOWN_TABLE"), "{message}");

    // An error after the first rows were streamed arrives in-band and still names its code.
    let mut cursor = client
        .query("SELECT throwIf(number = 5000000) FROM system.numbers LIMIT 10000000")
        .fetch::<u8>()
        .unwrap();
    let error = loop {
        match cursor.next().await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the stream ended without the server's error"),
            Err(error) => break error,
        }
    };
    let message = server_message(error);
    assert!(
        message.contains("Code: 395"),
        "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO expected: {message}"
    );
}

#[tokio::test]
async fn multi_statement_request_is_refused() {
    let client = stack_client();
    let kept = integration_tests::unique_name("conformance_kept");
    create_silver_like(&client, &kept).await;

    let error = client
        .query(&format!("SELECT 1; DROP TABLE {}", quote::ident(&kept)))
        .execute()
        .await
        .unwrap_err();
    let message = server_message(error);
    assert!(
        message.contains("Code: 62"),
        "SYNTAX_ERROR expected: {message}"
    );
    assert!(message.contains("Multi-statements"), "{message}");
    let exists = format!("EXISTS TABLE {}", quote::ident(&kept));
    assert_eq!(
        client.query(&exists).fetch_one::<u8>().await.unwrap(),
        1,
        "the second statement ran"
    );

    // A `;` inside a literal, a quoted identifier or a comment is not a separator, and one
    // trailing `;` is fine.
    let text = client
        .query("SELECT 'a;b' AS `c;d` /* ; */ -- ;\n;")
        .fetch_one::<String>()
        .await
        .unwrap();
    assert_eq!(text, "a;b");

    drop_table(&client, &kept).await;
}

/// A front of our own on a free port, so restarting it cannot disturb the other tests.
struct OwnFront {
    child: Child,
    url: String,
}

fn chdb_python() -> PathBuf {
    if let Ok(python) = std::env::var("PHASE4_CHDB_PYTHON") {
        return python.into();
    }
    let tools = std::env::var("PHASE4_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").expect("HOME is set")).join(".cache/phase4/tools")
        });
    tools.join("chdb-venv/bin/python")
}

fn front_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local/chfront.py")
}

impl OwnFront {
    async fn start(data_dir: &std::path::Path, port: u16) -> Self {
        let python = chdb_python();
        let child = Command::new(&python)
            .arg(front_script())
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--data-dir",
            ])
            .arg(data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} (chDB venv missing?): {e}",
                    python.display()
                )
            });
        let url = format!("http://127.0.0.1:{port}");
        let client = client_for(&url);
        let deadline = Instant::now() + Duration::from_secs(60);
        while client.query("SELECT 1").fetch_one::<u8>().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "own front on {url} did not come up"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Self { child, url }
    }

    /// SIGTERM, as the stack manager stops it, then wait for the exit.
    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "front did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for OwnFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn data_survives_a_front_restart() {
    let data_dir = std::env::temp_dir().join(integration_tests::unique_name("chfront_restart"));
    let port = free_port();
    let table = integration_tests::unique_name("conformance_restart");

    let front = OwnFront::start(&data_dir, port).await;
    let client = client_for(&front.url);
    create_silver_like(&client, &table).await;
    insert_silver_rows(&client, &table, 0..10_000).await;
    front.stop();

    let front = OwnFront::start(&data_dir, port).await;
    let client = client_for(&front.url);
    let rows = client
        .query(&format!(
            "SELECT ?fields FROM {} ORDER BY trade_id",
            quote::ident(&table)
        ))
        .fetch_all::<SilverLike>()
        .await
        .unwrap();
    assert_eq!(rows.len(), 10_000);
    assert!(
        rows.iter()
            .enumerate()
            .all(|(i, row)| *row == silver_row(i as u64))
    );
    front.stop();
    std::fs::remove_dir_all(&data_dir).unwrap();
}
