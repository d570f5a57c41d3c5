//! Shared harness of the silver tests: a fresh set of topics, a fresh ClickHouse database
//! with the silver schema, generated messages with their expected outcome, and readers
//! for what the processor wrote.
//!
//! Storage: the broker is the local stack's tansu on **PostgreSQL** storage
//! (`cargo xtask stack up`), the one engine that resumes exactly at a committed offset
//! inside a producer batch; on the memory storage a crash test would lose messages
//! because of the broker, not the processor (docs/LOCAL-STACK.md).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ch_support::{ClickHouseConfig, quote};
use futures::future::join_all;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use silver_processor::config::Settings;
use trade_model::generator::{Expected, GeneratedMessage, Generator, GeneratorConfig};
use trade_model::{Exchange, SilverTrade};

pub const PARTITIONS: i32 = 3;

pub fn kafka_brokers() -> String {
    std::env::var("PHASE4_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".to_owned())
}

pub fn clickhouse_url() -> String {
    std::env::var("PHASE4_CLICKHOUSE_URL")
        .unwrap_or_else(|_| ch_support::DEFAULT_CLICKHOUSE_URL.to_owned())
}

pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// `p4t_<prefix>_<pid>_<millis>_<n>`: valid as topic segment, group and database name.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    format!(
        "p4t_{prefix}_{}_{millis}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A free local port for the processor's HTTP listener.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What a test run expects.
#[derive(Debug, Default)]
pub struct Expectation {
    pub rows: Vec<SilverTrade>,
    /// (payload, reason) of every invalid message.
    pub rejects: Vec<(Vec<u8>, String)>,
    pub messages: u64,
    pub ignored: u64,
}

impl Expectation {
    pub fn rejects_by_reason(&self) -> BTreeMap<String, u64> {
        let mut by = BTreeMap::new();
        for (_, reason) in &self.rejects {
            *by.entry(reason.clone()).or_default() += 1;
        }
        by
    }
}

pub fn sort_rows(rows: &mut [SilverTrade]) {
    rows.sort_by(|a, b| {
        (
            &a.exchange,
            &a.symbol,
            a.timestamp,
            a.trade_id,
            a.price,
            a.quantity,
        )
            .cmp(&(
                &b.exchange,
                &b.symbol,
                b.timestamp,
                b.trade_id,
                b.price,
                b.quantity,
            ))
    });
}

/// One test's private world: topics per exchange, a DLQ topic, a group and a database.
pub struct Harness {
    pub name: String,
    pub brokers: String,
    pub topics: BTreeMap<Exchange, String>,
    pub dlq_topic: String,
    pub group: String,
    pub database: String,
    pub http_port: u16,
    pub client: clickhouse::Client,
}

impl Harness {
    /// Checks the stack, creates topics and the database with the silver schema.
    pub async fn new(prefix: &str) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn,silver_processor=info")
            .with_test_writer()
            .try_init();
        let brokers = kafka_brokers();
        let metadata = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("log_level", "0")
            .create::<BaseConsumer>()
            .and_then(|c| c.fetch_metadata(None, Duration::from_secs(5)));
        if let Err(e) = metadata {
            panic!(
                "the Kafka broker at {brokers} does not answer ({e}): run `cargo xtask stack up` first"
            );
        }
        let name = unique_name(prefix);
        let topics: BTreeMap<Exchange, String> = Exchange::ALL
            .iter()
            .map(|e| (*e, format!("{name}.{}.raw", e.as_str())))
            .collect();
        let dlq_topic = format!("{name}.dlq");
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .unwrap();
        let mut new_topics: Vec<NewTopic> = topics
            .values()
            .map(|t| NewTopic::new(t, PARTITIONS, TopicReplication::Fixed(1)))
            .collect();
        new_topics.push(NewTopic::new(&dlq_topic, 1, TopicReplication::Fixed(1)));
        for result in admin
            .create_topics(new_topics.iter(), &AdminOptions::new())
            .await
            .unwrap()
        {
            result.unwrap();
        }
        let database = name.clone();
        let config = ClickHouseConfig {
            url: clickhouse_url(),
            database: "default".into(),
            ..ClickHouseConfig::default()
        };
        let bootstrap = ch_support::client(&config);
        if let Err(e) = bootstrap.query("SELECT 1").execute().await {
            panic!(
                "ClickHouse at {} does not answer ({e}): run `cargo xtask stack up` first",
                config.url
            );
        }
        let settings = silver_processor::config::SchemaSettings::default();
        silver_processor::schema::apply(&bootstrap, &database, &settings)
            .await
            .unwrap();
        let client = ch_support::client(&ClickHouseConfig {
            database: database.clone(),
            ..config
        });
        Self {
            group: format!("{name}_group"),
            name,
            brokers,
            topics,
            dlq_topic,
            database,
            http_port: free_port(),
            client,
        }
    }

    /// Processor settings for this world.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::default();
        s.kafka.brokers = self.brokers.clone();
        s.kafka.group_id = self.group.clone();
        s.kafka.topics = self.topics.values().cloned().collect();
        s.kafka.dlq_topic = self.dlq_topic.clone();
        s.kafka.session_timeout_ms = 6_000;
        s.clickhouse.url = clickhouse_url();
        s.clickhouse.database = self.database.clone();
        s.batch.max_rows = 20_000;
        s.batch.max_age_ms = 500;
        s.retry.max_backoff_ms = 1_000;
        s.http.listen = format!("127.0.0.1:{}", self.http_port);
        s.log.filter = "warn,silver_processor=info".into();
        s
    }

    /// The same settings as `SILVER__*` environment variables, for the binary.
    pub fn env(&self) -> Vec<(String, String)> {
        let s = self.settings();
        let topics = s
            .kafka
            .topics
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(",");
        vec![
            ("SILVER__KAFKA__BROKERS".into(), s.kafka.brokers),
            ("SILVER__KAFKA__GROUP_ID".into(), s.kafka.group_id),
            ("SILVER__KAFKA__TOPICS".into(), format!("[{topics}]")),
            ("SILVER__KAFKA__DLQ_TOPIC".into(), s.kafka.dlq_topic),
            ("SILVER__KAFKA__SESSION_TIMEOUT_MS".into(), "6000".into()),
            ("SILVER__CLICKHOUSE__URL".into(), s.clickhouse.url),
            ("SILVER__CLICKHOUSE__DATABASE".into(), s.clickhouse.database),
            (
                "SILVER__BATCH__MAX_ROWS".into(),
                s.batch.max_rows.to_string(),
            ),
            (
                "SILVER__BATCH__MAX_AGE_MS".into(),
                s.batch.max_age_ms.to_string(),
            ),
            ("SILVER__RETRY__MAX_BACKOFF_MS".into(), "1000".into()),
            ("SILVER__HTTP__LISTEN".into(), s.http.listen),
            ("SILVER__LOG__FILTER".into(), s.log.filter),
        ]
    }

    /// `count` generated messages of every exchange format, with timestamps in the last
    /// days so the TTL keeps them and the future check behaves as at generation.
    pub fn generate(&self, seed: u64, count: usize) -> Vec<GeneratedMessage> {
        let now = now_micros();
        let config = GeneratorConfig {
            seed,
            start_micros: now - 3 * 86_400_000_000,
            now_micros: now,
            ..GeneratorConfig::default()
        };
        Generator::new(config).take(count).collect()
    }

    /// Generates messages until they hold at least `trades` valid trades.
    pub fn generate_trades(&self, seed: u64, trades: usize) -> Vec<GeneratedMessage> {
        let now = now_micros();
        let config = GeneratorConfig {
            seed,
            start_micros: now - 3 * 86_400_000_000,
            now_micros: now,
            ..GeneratorConfig::default()
        };
        let mut total = 0;
        let mut out = Vec::new();
        for m in Generator::new(config) {
            if let Expected::Trades(rows) = &m.expected {
                total += rows.len();
            }
            out.push(m);
            if total >= trades {
                break;
            }
        }
        out
    }

    pub fn expectation(messages: &[GeneratedMessage]) -> Expectation {
        let mut e = Expectation {
            messages: messages.len() as u64,
            ..Expectation::default()
        };
        for m in messages {
            match &m.expected {
                Expected::Trades(rows) => e.rows.extend(rows.iter().cloned()),
                Expected::Reject(code) => e.rejects.push((m.payload.clone(), (*code).to_owned())),
                Expected::Ignored => e.ignored += 1,
            }
        }
        sort_rows(&mut e.rows);
        e
    }

    /// Produces every message to its exchange's topic (default batching, lz4).
    pub async fn produce(&self, messages: &[GeneratedMessage]) {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("compression.type", "lz4")
            .set("queue.buffering.max.messages", "1000000")
            .create()
            .unwrap();
        for chunk in messages.chunks(20_000) {
            let mut sends = Vec::with_capacity(chunk.len());
            for m in chunk {
                let record =
                    FutureRecord::<(), _>::to(&self.topics[&m.exchange]).payload(&m.payload);
                sends.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
            }
            for delivery in join_all(sends).await {
                delivery.unwrap().map_err(|(e, _)| e).unwrap();
            }
        }
    }

    pub async fn silver_count(&self) -> u64 {
        self.client
            .query(&format!(
                "SELECT count() FROM {}",
                quote::qualified(&self.database, "silver_trades")
            ))
            .fetch_one::<u64>()
            .await
            .unwrap_or(0)
    }

    pub async fn silver_rows(&self) -> Vec<SilverTrade> {
        let mut rows = self
            .client
            .query(&format!(
                "SELECT ?fields FROM {}",
                quote::qualified(&self.database, "silver_trades")
            ))
            .fetch_all::<SilverTrade>()
            .await
            .unwrap();
        sort_rows(&mut rows);
        rows
    }

    /// Reads the DLQ topic from the start until `expected` messages or `timeout`.
    /// Returns (payload, headers by key).
    pub fn dlq_messages(
        &self,
        expected: usize,
        timeout: Duration,
    ) -> Vec<(Vec<u8>, BTreeMap<String, String>)> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", format!("{}_dlq_reader", self.name))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_uncommitted")
            .set("session.timeout.ms", "6000")
            .create()
            .unwrap();
        consumer.subscribe(&[&self.dlq_topic]).unwrap();
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < expected && Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) {
                let mut headers = BTreeMap::new();
                if let Some(h) = m.headers() {
                    for header in h.iter() {
                        headers.insert(
                            header.key.to_owned(),
                            String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned(),
                        );
                    }
                }
                out.push((m.payload().unwrap_or_default().to_vec(), headers));
            }
        }
        // A short grace period catches duplicates beyond the expected count.
        let grace = Instant::now() + Duration::from_secs(2);
        while Instant::now() < grace {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                out.push((m.payload().unwrap_or_default().to_vec(), BTreeMap::new()));
            }
        }
        out
    }

    /// GETs a path of the processor's HTTP endpoint: (status, body).
    pub async fn http_get(&self, path: &str) -> Option<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.http_port))
            .await
            .ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
        Some((status, body))
    }

    /// Value of one sample line (`name{labels} value`) in a metrics exposition.
    pub fn metric(text: &str, sample: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(sample) && l[sample.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// Drops the test database (topics stay; tansu has no cheap delete).
    pub async fn cleanup(&self) {
        let _ = self
            .client
            .query(&format!(
                "DROP DATABASE IF EXISTS {}",
                quote::ident(&self.database)
            ))
            .execute()
            .await;
    }
}

/// Polls `condition` every 250 ms until it holds or `timeout` passes.
pub async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    let mut next_report = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if Instant::now() >= next_report {
            eprintln!("still waiting for {what}");
            next_report += Duration::from_secs(10);
        }
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}
