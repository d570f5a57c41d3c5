//! The harness behind `cargo xtask bench silver`: end-to-end throughput of the release
//! processor binary on the local stack, its own CPU-seconds per 100k trades and its peak
//! RSS, plus the two other parts measured alone (broker consume, engine-front insert) so
//! the report can say which part limits end-to-end throughput.
//!
//! Usage: `silver_bench <processor-binary> [trades]` (default 300,000 valid trades).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ch_support::{ClickHouseConfig, quote};
use futures::future::join_all;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use trade_model::generator::{Expected, GeneratedMessage, Generator, GeneratorConfig};
use trade_model::{Exchange, SilverTrade};

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // After `pid (comm)`: state is field 3, utime 14, stime 15 (1-based) → index 11, 12.
    let ticks: f64 = fields
        .get(11)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Peak resident set (VmHWM) in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let binary = args
        .next()
        .expect("usage: silver_bench <processor-binary> [trades]");
    let trades: usize = args.next().map(|t| t.parse().unwrap()).unwrap_or(300_000);
    let brokers = env_or("PHASE4_KAFKA_BROKERS", "127.0.0.1:19092");
    let url = env_or("PHASE4_CLICKHOUSE_URL", ch_support::DEFAULT_CLICKHOUSE_URL);
    let name = format!(
        "p4b_silver_{}_{}",
        std::process::id(),
        now_micros() / 1_000_000
    );

    // Input: valid trades of every exchange, generated once.
    let now = now_micros();
    let mut config = GeneratorConfig::valid_only(5, &Exchange::ALL);
    config.start_micros = now - 2 * 86_400_000_000;
    config.now_micros = now;
    let mut messages: Vec<GeneratedMessage> = Vec::new();
    let mut expected_rows: Vec<SilverTrade> = Vec::new();
    for m in Generator::new(config) {
        if let Expected::Trades(rows) = &m.expected {
            expected_rows.extend(rows.iter().cloned());
        }
        messages.push(m);
        if expected_rows.len() >= trades {
            break;
        }
    }
    let total_trades = expected_rows.len() as u64;
    let payload_bytes: usize = messages.iter().map(|m| m.payload.len()).sum();

    // Topics and database.
    let topics: BTreeMap<Exchange, String> = Exchange::ALL
        .iter()
        .map(|e| (*e, format!("{name}.{}.raw", e.as_str())))
        .collect();
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let mut new_topics: Vec<NewTopic> = topics
        .values()
        .map(|t| NewTopic::new(t, 3, TopicReplication::Fixed(1)))
        .collect();
    let dlq = format!("{name}.dlq");
    new_topics.push(NewTopic::new(&dlq, 1, TopicReplication::Fixed(1)));
    for r in admin
        .create_topics(new_topics.iter(), &AdminOptions::new())
        .await
        .unwrap()
    {
        r.unwrap();
    }
    let ch_default = ch_support::client(&ClickHouseConfig {
        url: url.clone(),
        ..ClickHouseConfig::default()
    });
    silver_processor::schema::apply(
        &ch_default,
        &name,
        &silver_processor::config::SchemaSettings::default(),
    )
    .await
    .unwrap();
    let ch = ch_support::client(&ClickHouseConfig {
        url: url.clone(),
        database: name.clone(),
        ..ClickHouseConfig::default()
    });

    // 1. Produce everything first (the broker's produce rate, for the record).
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("compression.type", "lz4")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    let started = Instant::now();
    for chunk in messages.chunks(50_000) {
        let sends: Vec<_> = chunk
            .iter()
            .map(|m| {
                producer
                    .send_result(
                        FutureRecord::<(), _>::to(&topics[&m.exchange]).payload(&m.payload),
                    )
                    .map_err(|(e, _)| e)
                    .unwrap()
            })
            .collect();
        for d in join_all(sends).await {
            d.unwrap().map_err(|(e, _)| e).unwrap();
        }
    }
    let produce_secs = started.elapsed().as_secs_f64();
    println!(
        "input: {} messages, {total_trades} trades, {:.1} MiB; produced in {produce_secs:.2} s ({:.0} msg/s)",
        messages.len(),
        payload_bytes as f64 / 1_048_576.0,
        messages.len() as f64 / produce_secs
    );

    // 2. The broker alone: a plain consumer group reading everything.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("{name}_rawread"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_uncommitted")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    let topic_refs: Vec<&str> = topics.values().map(String::as_str).collect();
    consumer.subscribe(&topic_refs).unwrap();
    let mut read = 0usize;
    let mut first_at = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    while read < messages.len() && Instant::now() < deadline {
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(200)) {
            first_at.get_or_insert_with(Instant::now);
            read += 1;
        }
    }
    let broker_secs = first_at
        .map(|t| t.elapsed().as_secs_f64())
        .unwrap_or(f64::NAN);
    drop(consumer);
    println!(
        "broker alone: consumed {read} messages in {broker_secs:.2} s after the first one = {:.0} msg/s",
        read as f64 / broker_secs
    );

    // 3. The engine front alone: insert the expected rows in 50k-row batches.
    let scratch = quote::qualified(&name, "front_probe");
    ch.query(&format!(
        "CREATE TABLE {scratch} AS {} ENGINE = MergeTree ORDER BY (exchange, symbol, timestamp, trade_id)",
        quote::qualified(&name, "silver_trades")
    ))
    .execute()
    .await
    .unwrap();
    let started = Instant::now();
    // Row validation off, as in the processor's sink.
    let ch_insert = ch.clone().with_validation(false);
    for chunk in expected_rows.chunks(50_000) {
        let mut insert = ch_insert
            .insert_unescaped::<SilverTrade>(&scratch)
            .await
            .unwrap();
        for row in chunk {
            insert.write(row).await.unwrap();
        }
        insert.end().await.unwrap();
    }
    let front_secs = started.elapsed().as_secs_f64();
    println!(
        "engine front alone: inserted {total_trades} rows in {front_secs:.2} s = {:.0} rows/s",
        total_trades as f64 / front_secs
    );

    // 4. End to end: the release processor binary.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let topic_list = topics
        .values()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(",");
    let mut child = Command::new(&binary)
        .arg("run")
        .env("SILVER__KAFKA__BROKERS", &brokers)
        .env("SILVER__KAFKA__GROUP_ID", format!("{name}_silver"))
        .env("SILVER__KAFKA__TOPICS", format!("[{topic_list}]"))
        .env("SILVER__KAFKA__DLQ_TOPIC", &dlq)
        .env("SILVER__KAFKA__SESSION_TIMEOUT_MS", "6000")
        .env("SILVER__CLICKHOUSE__URL", &url)
        .env("SILVER__CLICKHOUSE__DATABASE", &name)
        .env("SILVER__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("SILVER__LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let count = || async {
        ch.query(&format!(
            "SELECT count() FROM {}",
            quote::qualified(&name, "silver_trades")
        ))
        .fetch_one::<u64>()
        .await
        .unwrap_or(0)
    };
    let spawned = Instant::now();
    let mut first_row: Option<(Instant, f64)> = None;
    let mut done = 0;
    let deadline = Instant::now() + Duration::from_secs(900);
    while Instant::now() < deadline {
        done = count().await;
        if done > 0 && first_row.is_none() {
            first_row = Some((Instant::now(), cpu_seconds(pid)));
        }
        if done >= total_trades {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let end_cpu = cpu_seconds(pid);
    let rss = peak_rss_mib(pid);
    let total_secs = spawned.elapsed().as_secs_f64();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let (first_at, first_cpu) = first_row.unwrap_or((spawned, 0.0));
    let steady_secs = first_at.elapsed().as_secs_f64();
    println!(
        "end to end: {done} of {total_trades} trades in {total_secs:.2} s incl. group join; \
         {:.0} trades/s from the first stored row",
        done as f64 / steady_secs.max(1e-9)
    );
    println!(
        "processor: {end_cpu:.2} CPU-s total, {:.3} CPU-s per 100k trades overall, \
         {:.3} CPU-s per 100k trades after the first row (target <= 0.200), peak RSS {rss:.1} MiB (target < 64)",
        end_cpu * 100_000.0 / total_trades as f64,
        (end_cpu - first_cpu) * 100_000.0 / total_trades as f64
    );
    let e2e = done as f64 / steady_secs.max(1e-9);
    let broker = read as f64 / broker_secs;
    let front = total_trades as f64 / front_secs;
    let processor_cpu_rate = total_trades as f64 / (end_cpu - first_cpu).max(1e-9);
    let limiter = [
        ("broker (consume)", broker),
        ("engine front (insert)", front),
        ("processor (CPU-bound rate)", processor_cpu_rate),
    ]
    .into_iter()
    .min_by(|a, b| a.1.total_cmp(&b.1))
    .map(|(n, _)| n)
    .unwrap_or("unknown");
    println!(
        "limit: e2e {e2e:.0}/s vs broker alone {broker:.0} msg/s, front alone {front:.0} rows/s, \
         processor CPU allows {processor_cpu_rate:.0} trades/s per core → the slowest part is the {limiter}"
    );
    let _ = ch_default
        .query(&format!("DROP DATABASE IF EXISTS {}", quote::ident(&name)))
        .execute()
        .await;
}
