//! Acceptance: `apply` is idempotent, a candle reflects a trade as soon as its insert is
//! acknowledged (and is revised by a late trade), sums do not wrap at the Decimal128
//! boundary, and a retried insert is not counted twice. Real ClickHouse engine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use gold_views::{BackfillOutcome, Timeframe, apply};
use support::TestDb;
use trade_model::{Side, SilverTrade};

const ONE: i128 = 10_000_000_000;
/// 2024-03-10T00:00:00Z.
const MIDNIGHT_MICROS: i64 = 1_710_028_800_000_000;

fn trade(trade_id: u64, timestamp: i64, price: i128, quantity: i128) -> SilverTrade {
    SilverTrade {
        exchange: "binance".into(),
        symbol: "BTC/USDT".into(),
        trade_id,
        timestamp,
        price,
        quantity,
        quote_volume: price * quantity,
        side: Side::Buy,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_twice_leaves_every_show_create_unchanged() {
    let db = TestDb::new("gold_idem").await;
    let first = apply(&db.client, &db.config, true, |_| {}).await.unwrap();
    assert_eq!(first.created.len(), 20, "{first:?}");
    let before = db.show_create_all().await;
    let second = apply(&db.client, &db.config, true, |_| {}).await.unwrap();
    assert!(second.created.is_empty(), "{second:?}");
    assert_eq!(second.unchanged.len(), 20);
    assert_eq!(second.backfill, BackfillOutcome::AlreadyFinished);
    let third = apply(&db.client, &db.config, false, |_| {}).await.unwrap();
    assert!(third.created.is_empty(), "{third:?}");
    let after = db.show_create_all().await;
    assert_eq!(before.len(), after.len());
    for ((name, b), (_, a)) in before.iter().zip(&after) {
        assert_eq!(b, a, "SHOW CREATE of {name} changed");
    }

    // drop_all leaves only silver (and the migration record) behind.
    for sql in gold_views::ddl::drop_all(&db.config) {
        db.client.query(&sql).execute().await.unwrap();
    }
    let left: Vec<String> = db
        .show_create_all()
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(left.iter().all(|n| !n.starts_with("gold_")), "{left:?}");
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candle_reflects_a_trade_right_after_the_insert_and_a_late_trade_revises_it() {
    let db = TestDb::new("gold_fresh").await;
    apply(&db.client, &db.config, false, |_| {}).await.unwrap();
    let tf: Timeframe = "1m".parse().unwrap();
    let start = MIDNIGHT_MICROS;

    db.insert(&[trade(10, start + 30_000_000, 100 * ONE, ONE)])
        .await;
    let rows = db.gold_rows(&tf).await;
    assert_eq!(
        rows,
        ["binance|BTC/USDT|1710028800|1710028860|100|100|100|100|1|100|1|100"]
    );

    // Two minutes later; the minute in between has no trade and so no row.
    db.insert(&[trade(11, start + 150_000_000, 103 * ONE, ONE)])
        .await;
    // Late: back in the first (closed) window, earlier than its open, same timestamp as
    // a second late trade with a smaller id.
    db.insert(&[
        trade(13, start + 1_000_000, 98 * ONE, ONE),
        trade(12, start + 1_000_000, 99 * ONE, 2 * ONE),
    ])
    .await;
    let rows = db.gold_rows(&tf).await;
    assert_eq!(
        rows,
        [
            "binance|BTC/USDT|1710028800|1710028860|99|100|98|100|4|396|3|99",
            "binance|BTC/USDT|1710028920|1710028980|103|103|103|103|1|103|1|103",
        ]
    );
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_sums_do_not_wrap_at_the_decimal128_boundary() {
    let db = TestDb::new("gold_overflow").await;
    apply(&db.client, &db.config, false, |_| {}).await.unwrap();
    // The largest Decimal(38, 10) quantity at the smallest price: each quote volume is the
    // largest Decimal(38, 20); two of them overflow both Decimal128 sums.
    let largest = 10_i128.pow(38) - 1;
    db.insert(&[
        trade(1, MIDNIGHT_MICROS, 1, largest),
        trade(2, MIDNIGHT_MICROS + 1, 1, largest),
    ])
    .await;
    let rows = db.gold_rows(&"1d".parse().unwrap()).await;
    assert_eq!(
        rows,
        [
            "binance|BTC/USDT|1710028800|1710115200|0.0000000001|0.0000000001|0.0000000001|0.0000000001|\
19999999999999999999999999999.9999999998|1999999999999999999.99999999999999999998|2|0.0000000001"
        ]
    );
    let wrapped: String = db
        .client
        .query(&format!(
            "SELECT toString(sum(quantity)) FROM {}",
            db.qualified("silver_trades")
        ))
        .fetch_one()
        .await
        .unwrap_or_else(|e| format!("error: {e}"));
    println!("plain Decimal128 sum of the same quantities: {wrapped}");
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_insert_with_the_same_token_is_not_counted_twice() {
    let db = TestDb::new("gold_dedup").await;
    apply(&db.client, &db.config, false, |_| {}).await.unwrap();
    let silver = db.qualified("silver_trades");
    for _ in 0..2 {
        db.client
            .query(&format!(
                "INSERT INTO {silver} VALUES ('kraken', 'ETH/USD', 7, '2024-03-10 00:00:01.000000', 2000, 1, 2000, 'SELL')"
            ))
            .with_setting("insert_deduplication_token", "market.crypto.trades.kraken.raw:0:7-7")
            .with_setting("deduplicate_blocks_in_dependent_materialized_views", "1")
            .execute()
            .await
            .unwrap();
    }
    assert_eq!(db.count(&format!("SELECT count() FROM {silver}")).await, 1);
    let rows = db.gold_rows(&"1m".parse().unwrap()).await;
    assert_eq!(
        rows,
        ["kraken|ETH/USD|1710028800|1710028860|2000|2000|2000|2000|1|2000|1|2000"]
    );
    db.drop().await;
}
