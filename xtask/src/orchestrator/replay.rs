//! Replays a seeded, realistic raw trade stream (every exchange format, invalid and control
//! messages included, from `trade_model::generator`) into the broker's raw topics, and
//! counts what the processor must make of it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use serde::{Deserialize, Serialize};
use trade_model::generator::{Expected, GeneratedMessage, Generator, GeneratorConfig};

use super::config::TopicsConfig;

/// Partitions of each raw topic and of the dead-letter topic, as `stack up` creates the
/// default ones.
const RAW_PARTITIONS: i32 = 3;
const DLQ_PARTITIONS: i32 = 1;

/// Creates the configured raw and dead-letter topics that do not exist yet (the broker
/// does not auto-create them). A no-op for the default topics, which `stack up` creates.
pub fn ensure_topics(brokers: &str, topics: &TopicsConfig) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .context("creating the Kafka admin client")?;
    let raw = topics.raw_topics();
    let mut wanted: Vec<(&str, i32)> = raw
        .iter()
        .map(|name| (name.as_str(), RAW_PARTITIONS))
        .collect();
    wanted.push((topics.dlq.as_str(), DLQ_PARTITIONS));
    crate::stack::broker::ensure_topics(&admin, &wanted)
        .context("creating the raw and dead-letter topics")
}

/// What a replay sent and what the processor must make of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplaySummary {
    /// Generator seed.
    pub seed: u64,
    /// The generator's first trade time (micros since the epoch).
    pub start_micros: i64,
    /// The generator's "now" (micros); future-dated rejects are an hour past it.
    pub now_micros: i64,
    /// Messages sent.
    pub messages: u64,
    /// Messages per exchange.
    pub by_exchange: BTreeMap<String, u64>,
    /// Silver rows the valid messages hold.
    pub trades: u64,
    /// Messages that must be rejected (dead-lettered), by reject code.
    pub rejects: BTreeMap<String, u64>,
    /// Control messages that must be ignored.
    pub ignored: u64,
    /// Earliest and latest valid trade time (micros).
    pub trade_span_micros: Option<(i64, i64)>,
}

impl ReplaySummary {
    /// All rejects together.
    pub fn reject_total(&self) -> u64 {
        self.rejects.values().sum()
    }

    fn count(&mut self, message: &GeneratedMessage) {
        self.messages += 1;
        *self
            .by_exchange
            .entry(message.exchange.as_str().to_owned())
            .or_default() += 1;
        match &message.expected {
            Expected::Trades(rows) => {
                self.trades += rows.len() as u64;
                for row in rows {
                    let (lo, hi) = self
                        .trade_span_micros
                        .unwrap_or((row.timestamp, row.timestamp));
                    self.trade_span_micros = Some((lo.min(row.timestamp), hi.max(row.timestamp)));
                }
            }
            Expected::Reject(code) => *self.rejects.entry((*code).to_owned()).or_default() += 1,
            Expected::Ignored => self.ignored += 1,
        }
    }

    /// One line for logs and Notes.
    pub fn describe(&self) -> String {
        let exchanges = self
            .by_exchange
            .iter()
            .map(|(e, n)| format!("{e} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "{} raw messages ({exchanges}): {} trades, {} invalid ({} kinds), {} control",
            self.messages,
            self.trades,
            self.reject_total(),
            self.rejects.len(),
            self.ignored
        )
    }
}

/// The generator settings of a replay whose "now" is `now_micros` and whose trades start
/// `lead_micros` before it.
pub fn generator_config(seed: u64, now_micros: i64, lead_micros: i64) -> GeneratorConfig {
    GeneratorConfig {
        seed,
        start_micros: now_micros - lead_micros,
        now_micros,
        ..GeneratorConfig::default()
    }
}

/// A producer for the raw topics (lz4: the broker cannot serve snappy batches).
pub fn producer(brokers: &str) -> anyhow::Result<BaseProducer> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "60000")
        .create()
        .context("creating the Kafka producer")
}

/// Sends messages from `generator`, counting them into `summary`.
pub struct Replayer {
    producer: BaseProducer,
    topics: TopicsConfig,
    generator: Generator,
    /// What was sent so far.
    pub summary: ReplaySummary,
}

impl Replayer {
    /// A replayer of `config`'s stream into the raw `topics` at `brokers`.
    pub fn new(
        brokers: &str,
        topics: &TopicsConfig,
        config: GeneratorConfig,
    ) -> anyhow::Result<Self> {
        let summary = ReplaySummary {
            seed: config.seed,
            start_micros: config.start_micros,
            now_micros: config.now_micros,
            ..ReplaySummary::default()
        };
        Ok(Self {
            producer: producer(brokers)?,
            topics: topics.clone(),
            generator: Generator::new(config),
            summary,
        })
    }

    /// Sends the next `count` messages.
    pub fn send(&mut self, count: u64) -> anyhow::Result<()> {
        for _ in 0..count {
            let Some(message) = self.generator.next() else {
                break;
            };
            let topic = self.topics.raw_topic(message.exchange);
            let mut record: BaseRecord<'_, (), [u8]> =
                BaseRecord::to(&topic).payload(message.payload.as_slice());
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((e, back))
                        if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) =>
                    {
                        self.producer.poll(Duration::from_millis(50));
                        record = back;
                    }
                    Err((e, _)) => return Err(e).context(format!("producing to {topic}")),
                }
            }
            self.summary.count(&message);
            self.producer.poll(Duration::ZERO);
        }
        Ok(())
    }

    /// Waits until every message is acknowledged by the broker.
    pub fn flush(&self) -> anyhow::Result<()> {
        self.producer
            .flush(Duration::from_secs(60))
            .context("the broker did not acknowledge every message within 60 s")
    }
}

/// Replays `total` messages as fast as the broker takes them; prints progress.
pub fn replay_all(
    brokers: &str,
    topics: &TopicsConfig,
    config: GeneratorConfig,
    total: u64,
) -> anyhow::Result<ReplaySummary> {
    let mut replayer = Replayer::new(brokers, topics, config)?;
    let started = Instant::now();
    let chunk = 10_000;
    let mut sent = 0;
    while sent < total {
        let n = chunk.min(total - sent);
        replayer.send(n)?;
        sent += n;
        println!("  replayed {sent}/{total} messages");
    }
    replayer.flush()?;
    println!(
        "  replay done in {:.1}s: {}",
        started.elapsed().as_secs_f64(),
        replayer.summary.describe()
    );
    Ok(replayer.summary)
}
