//! Acceptance: backfilling 1,000,000 existing trades while live inserts continue leaves no
//! candle missing or double counted, in all six timeframes. The live inserts include late
//! trades whose timestamps fall inside the backfilled range, which is what defeats a plain
//! timestamp watermark. Real ClickHouse engine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gold_views::{ApplyEvent, BackfillOutcome, GoldConfig, Timeframe, apply};
use support::{TestDb, assert_same_rows, generated_trades, reference_rows};
use trade_model::SilverTrade;

const EXISTING: usize = 1_000_000;
const LIVE_POOL: usize = 200_000;
const LIVE_BATCH: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfilling_a_million_trades_during_live_inserts_misses_and_doubles_nothing() {
    let mut db = TestDb::new("gold_backfill").await;
    db.config = GoldConfig {
        backfill_chunk_seconds: 6 * 3_600,
        ..db.config.clone()
    };
    let mut trades = generated_trades(11, EXISTING + LIVE_POOL);
    let mut live: Vec<SilverTrade> = trades.split_off(EXISTING);
    // Every fifth live trade is sent back into the existing range (a late arrival for a
    // window the backfill also covers), under a fresh id.
    let oldest = trades.iter().map(|t| t.timestamp).min().unwrap();
    let newest = trades.iter().map(|t| t.timestamp).max().unwrap();
    for (i, t) in live.iter_mut().enumerate().filter(|(i, _)| i % 5 == 0) {
        t.timestamp = oldest + (newest - oldest) / LIVE_POOL as i64 * i as i64;
        t.trade_id += 1 << 40;
    }

    let started = Instant::now();
    for batch in trades.chunks(50_000) {
        db.insert(batch).await;
    }
    println!(
        "inserted {EXISTING} existing trades in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let db = Arc::new(db);
    let stop = Arc::new(AtomicBool::new(false));
    let batches_sent = Arc::new(AtomicUsize::new(0));
    let live_task = {
        let (db, stop, batches_sent) = (db.clone(), stop.clone(), batches_sent.clone());
        tokio::spawn(async move {
            let mut sent = 0;
            for batch in live.chunks(LIVE_BATCH) {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                db.insert(batch).await;
                sent += batch.len();
                batches_sent.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            live.truncate(sent);
            live
        })
    };
    while batches_sent.load(Ordering::SeqCst) < 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let before_apply = batches_sent.load(Ordering::SeqCst);
    let started = Instant::now();
    let report = apply(&db.client, &db.config, true, |event| {
        if !matches!(
            event,
            ApplyEvent::Created { .. } | ApplyEvent::ChunkInserted { .. }
        ) {
            println!("  {event}");
        }
    })
    .await
    .unwrap();
    let during_apply = batches_sent.load(Ordering::SeqCst) - before_apply;
    println!(
        "apply --backfill took {:.1} s; {during_apply} live batch(es) of {LIVE_BATCH} landed meanwhile",
        started.elapsed().as_secs_f64()
    );
    let BackfillOutcome::Finished { rows, .. } = report.backfill else {
        panic!("backfill did not finish: {report:?}");
    };
    assert!(
        during_apply >= 2,
        "live inserts did not overlap the backfill"
    );
    assert!(rows as usize >= EXISTING, "backfill counted {rows} rows");

    let after = batches_sent.load(Ordering::SeqCst);
    while batches_sent.load(Ordering::SeqCst) < after + 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let live = live_task.await.unwrap();
    trades.extend(live);

    let silver_rows = db
        .count(&format!(
            "SELECT count() FROM {}",
            db.qualified("silver_trades")
        ))
        .await;
    assert_eq!(silver_rows as usize, trades.len());
    for tf in Timeframe::defaults() {
        let gold = db.gold_rows(&tf).await;
        let plain = db.plain_sql_rows(&tf).await;
        assert_same_rows(&format!("{tf}: gold view vs plain SQL"), &gold, &plain);
        let reference = reference_rows(&trades, &tf);
        assert_same_rows(
            &format!("{tf}: gold view vs Rust reference"),
            &gold,
            &reference,
        );
        println!(
            "{tf}: {} candles over {} trades equal three ways",
            gold.len(),
            trades.len()
        );
    }
    let leftovers = db
        .count(&format!(
            "SELECT count() FROM system.tables WHERE database = '{}' AND name IN ('gold_backfill_ledger', 'gold_backfill_ledger_mv', 'gold_backfill_snapshot')",
            db.config.database
        ))
        .await;
    assert_eq!(leftovers, 0, "backfill helpers left behind");
    Arc::try_unwrap(db).ok().unwrap().drop().await;
}

/// An `apply --backfill` that dies in the middle of a chunk (after some timeframes got the
/// chunk's states, before the chunk was recorded) is resumed by running it again: recorded
/// chunks are skipped, the repeated inserts are dropped by their deduplication token, and
/// the candles come out exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_backfill_resumes_without_double_counting() {
    let mut db = TestDb::new("gold_resume").await;
    db.config = GoldConfig {
        backfill_chunk_seconds: 3_600,
        ..db.config.clone()
    };
    let trades = generated_trades(13, 150_000);
    for batch in trades.chunks(50_000) {
        db.insert(batch).await;
    }
    let db = Arc::new(db);

    let crashing = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut inserted_in_second_chunk = 0;
            let mut chunks_done = 0;
            apply(&db.client, &db.config, true, move |event| match event {
                ApplyEvent::ChunkDone { .. } => chunks_done += 1,
                ApplyEvent::ChunkInserted { .. } if chunks_done == 1 => {
                    inserted_in_second_chunk += 1;
                    if inserted_in_second_chunk == 3 {
                        panic!("simulated crash after 3 timeframes of chunk 2");
                    }
                }
                _ => {}
            })
            .await
        })
    };
    assert!(
        crashing.await.is_err(),
        "the first attempt should have crashed"
    );
    let recorded = db
        .count(&format!(
            "SELECT count() FROM {} WHERE step = 'chunk'",
            db.qualified("gold_backfill_progress")
        ))
        .await;
    assert_eq!(recorded, 1, "one chunk recorded before the crash");

    let mut planned = None;
    let report = apply(&db.client, &db.config, true, |event| {
        if let ApplyEvent::BackfillPlanned { already_done, .. } = event {
            planned = Some(*already_done);
        }
    })
    .await
    .unwrap();
    assert_eq!(planned, Some(1), "the recorded chunk is skipped");
    assert!(
        matches!(report.backfill, BackfillOutcome::Finished { .. }),
        "{report:?}"
    );

    for tf in Timeframe::defaults() {
        let gold = db.gold_rows(&tf).await;
        assert_same_rows(
            &format!("{tf}: gold view vs plain SQL"),
            &gold,
            &db.plain_sql_rows(&tf).await,
        );
        assert_same_rows(
            &format!("{tf}: gold view vs Rust reference"),
            &gold,
            &reference_rows(&trades, &tf),
        );
    }
    Arc::try_unwrap(db).ok().unwrap().drop().await;
}
