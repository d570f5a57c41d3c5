//! End to end: generated raw messages of every exchange format → broker → processor (as a
//! library task) → `silver_trades` and the dead-letter topic, compared with the trade
//! model's own decoding of the same input; `/metrics` compared with the test's counts.
//!
//! Needs the local stack (`cargo xtask stack up`): tansu on PostgreSQL storage and the
//! ClickHouse front. A missing part fails the test with a message saying so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Harness, wait_for};
use trade_model::generator::Format;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silver_holds_exactly_the_valid_trades_and_dlq_exactly_the_invalid_ones() {
    let harness = Harness::new("silver_e2e").await;
    let messages = harness.generate(7, 30_000);
    let formats: std::collections::BTreeSet<String> =
        messages.iter().map(|m| format!("{:?}", m.format)).collect();
    for format in [
        Format::BinanceTrade,
        Format::BinanceAggTrade,
        Format::BinanceFuturesTrade,
        Format::BinanceFuturesAggTrade,
        Format::KrakenV1,
        Format::KrakenV2,
        Format::CoinbaseMatch,
        Format::CoinbaseLastMatch,
        Format::Control,
    ] {
        assert!(
            formats.contains(&format!("{format:?}")),
            "no {format:?} generated"
        );
    }
    let expected = Harness::expectation(&messages);
    assert!(!expected.rejects.is_empty() && expected.ignored > 0);
    harness.produce(&messages).await;

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let processor = tokio::spawn(silver_processor::processor::run(
        harness.settings(),
        async move {
            let _ = stop_rx.await;
        },
    ));

    let rows_expected = expected.rows.len() as u64;
    wait_for(
        "every message consumed and every row inserted",
        Duration::from_secs(240),
        || async {
            let consumed = harness
                .http_get("/metrics")
                .await
                .and_then(|(_, body)| Harness::metric(&body, "silver_messages_consumed_total"))
                .unwrap_or(0.0);
            consumed as u64 >= expected.messages && harness.silver_count().await >= rows_expected
        },
    )
    .await;
    // Let the last commits land, then scrape while the processor is still up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, ready) = harness.http_get("/readyz").await.unwrap();
    assert_eq!(status, 200, "readyz: {ready}");
    let (_, metrics) = harness.http_get("/metrics").await.unwrap();

    // /metrics matches the test's own counts.
    let metric = |sample: &str| Harness::metric(&metrics, sample).unwrap_or(-1.0) as i64;
    assert_eq!(
        metric("silver_messages_consumed_total"),
        expected.messages as i64
    );
    assert_eq!(metric("silver_rows_inserted_total"), rows_expected as i64);
    assert_eq!(
        metric("silver_messages_ignored_total"),
        expected.ignored as i64
    );
    for (reason, count) in expected.rejects_by_reason() {
        let sample = format!("silver_rejects_total{{reason=\"{reason}\"}}");
        assert_eq!(metric(&sample), count as i64, "{sample}");
    }
    assert!(metrics.contains("silver_insert_latency_seconds_count"));
    assert!(metrics.contains("silver_batch_rows_count"));
    assert!(metrics.contains("silver_partition_lag"));
    assert!(metrics.contains("silver_in_flight_bytes"));

    stop_tx.send(()).unwrap();
    let summary = tokio::time::timeout(Duration::from_secs(60), processor)
        .await
        .expect("processor stops after shutdown")
        .unwrap()
        .unwrap();
    assert_eq!(summary.consumed, expected.messages);

    // silver_trades == the trade model's own decoding, same count, same content.
    let stored = harness.silver_rows().await;
    assert_eq!(stored.len(), expected.rows.len());
    assert!(
        stored == expected.rows,
        "silver_trades content differs from the trade model"
    );

    // DLQ == the invalid messages, each with its reason and source coordinates.
    let dlq = harness.dlq_messages(expected.rejects.len(), Duration::from_secs(90));
    assert_eq!(dlq.len(), expected.rejects.len(), "dead letters");
    let mut got: Vec<(Vec<u8>, String)> = dlq
        .iter()
        .map(|(payload, headers)| (payload.clone(), headers["reason"].clone()))
        .collect();
    let mut want = expected.rejects.clone();
    got.sort();
    want.sort();
    assert!(got == want, "dead letters differ from the invalid messages");
    let topics: std::collections::BTreeSet<&String> = harness.topics.values().collect();
    for (_, headers) in &dlq {
        assert!(topics.contains(&headers["source_topic"]), "{headers:?}");
        assert!(headers["source_partition"].parse::<i32>().is_ok());
        assert!(headers["source_offset"].parse::<i64>().is_ok());
        assert!(!headers["reason_detail"].is_empty());
    }
    let by_reason: BTreeMap<String, u64> = expected.rejects_by_reason();
    println!(
        "e2e: {} messages, {} rows, rejects {by_reason:?}",
        expected.messages,
        stored.len()
    );
    harness.cleanup().await;
}
