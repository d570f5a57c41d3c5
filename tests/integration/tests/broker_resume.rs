//! A consumer group resumes exactly at its committed offsets, headers intact.
//!
//! Storage: this runs against the local stack's broker, tansu 0.6.0 on **PostgreSQL**
//! storage (`cargo xtask stack up`). That engine is chosen because it is the one that
//! resumes exactly when the committed offset falls inside a producer batch: tansu's
//! memory storage keeps each batch under its first offset and skips the rest of the batch
//! on resume, and its SQLite storage becomes very slow once headers are stored
//! (docs/LOCAL-STACK.md). The test therefore proves the broker the silver processor's
//! tests stand on, with the producer's default batching.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::future::join_all;
use integration_tests::{require_broker, unique_name};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const PARTITIONS: i32 = 2;
const MESSAGES_PER_PARTITION: i64 = 1_000;
/// The first consumer commits here: the next offset to read, well inside a producer batch.
const COMMITTED_OFFSET: i64 = 637;

/// (key, value) pairs, compared as a multiset: tansu does not keep header order.
type HeaderSet = BTreeSet<(String, Vec<u8>)>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    payload: Vec<u8>,
    headers: HeaderSet,
}

fn headers_of(message: &impl Message) -> HeaderSet {
    let mut set = HeaderSet::new();
    if let Some(headers) = message.headers() {
        for header in headers.iter() {
            set.insert((
                header.key.to_owned(),
                header.value.map(<[u8]>::to_vec).unwrap_or_default(),
            ));
        }
    }
    set
}

fn create_topic(brokers: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let new_topic = NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1));
    let results =
        futures::executor::block_on(admin.create_topics([&new_topic], &AdminOptions::new()))
            .unwrap();
    for result in results {
        result.unwrap();
    }
}

/// Produces every message with the producer's default batching (no `batch.num.messages`,
/// no `linger.ms` override); returns what went where.
fn produce(brokers: &str, topic: &str) -> BTreeMap<(i32, i64), Stored> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        // tansu cannot serve snappy batches; lz4 is one it can.
        .set("compression.type", "lz4")
        .create()
        .unwrap();
    let mut sends = Vec::new();
    let mut sent = Vec::new();
    for sequence in 0..MESSAGES_PER_PARTITION {
        for partition in 0..PARTITIONS {
            let payload = format!("trade {partition}/{sequence}").into_bytes();
            let sequence_text = sequence.to_string();
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "exchange",
                    value: Some("binance"),
                })
                .insert(Header {
                    key: "sequence",
                    value: Some(sequence_text.as_str()),
                })
                .insert(Header {
                    key: "trace",
                    value: Some(&[0u8, 1, 2, 255][..]),
                });
            let record = FutureRecord::<(), _>::to(topic)
                .partition(partition)
                .payload(&payload)
                .headers(headers.clone());
            sends.push(
                producer
                    .send_result(record)
                    .map_err(|(error, _)| error)
                    .unwrap(),
            );
            sent.push(Stored {
                payload: payload.clone(),
                headers: headers_of_owned(&headers),
            });
        }
    }
    let deliveries = futures::executor::block_on(join_all(sends));
    let mut stored = BTreeMap::new();
    for (delivery, message) in deliveries.into_iter().zip(sent) {
        let delivered = delivery.unwrap().map_err(|(error, _)| error).unwrap();
        stored.insert((delivered.partition, delivered.offset), message);
    }
    stored
}

fn headers_of_owned(headers: &OwnedHeaders) -> HeaderSet {
    headers
        .iter()
        .map(|header| {
            (
                header.key.to_owned(),
                header.value.map(<[u8]>::to_vec).unwrap_or_default(),
            )
        })
        .collect()
}

fn consumer(brokers: &str, group: &str, topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        // read_committed offset lookups time out on tansu with PostgreSQL 15; the
        // producer is not transactional, so read_uncommitted sees the same messages.
        .set("isolation.level", "read_uncommitted")
        // A restarted member waits for the old one's session to expire; keep it short.
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "1000")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    consumer
}

/// Polls until `done` says so or `timeout` passes; returns every message seen, in order.
fn consume(
    consumer: &BaseConsumer,
    timeout: Duration,
    mut done: impl FnMut(&[(i32, i64, Stored)]) -> bool,
) -> Vec<(i32, i64, Stored)> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while Instant::now() < deadline && !done(&seen) {
        if let Some(result) = consumer.poll(Duration::from_millis(200)) {
            let message = result.unwrap();
            seen.push((
                message.partition(),
                message.offset(),
                Stored {
                    payload: message.payload().unwrap_or_default().to_vec(),
                    headers: headers_of(&message),
                },
            ));
        }
    }
    seen
}

#[test]
fn resumes_exactly_at_committed_offsets_inside_a_producer_batch() {
    let brokers = require_broker();
    let topic = unique_name("broker_resume");
    let group = unique_name("broker_resume_group");
    create_topic(&brokers, &topic);
    let produced = produce(&brokers, &topic);
    for partition in 0..PARTITIONS {
        let offsets: Vec<i64> = produced
            .keys()
            .filter(|(p, _)| *p == partition)
            .map(|(_, offset)| *offset)
            .collect();
        assert_eq!(
            offsets,
            (0..MESSAGES_PER_PARTITION).collect::<Vec<_>>(),
            "partition {partition}: the broker assigned offsets with gaps"
        );
    }

    // First consumer: read at least up to the commit point on every partition, commit
    // COMMITTED_OFFSET (the next offset to read) and leave.
    let first = consumer(&brokers, &group, &topic);
    let seen = consume(&first, Duration::from_secs(120), |seen| {
        (0..PARTITIONS).all(|partition| {
            seen.iter()
                .any(|(p, offset, _)| *p == partition && *offset >= COMMITTED_OFFSET - 1)
        })
    });
    for partition in 0..PARTITIONS {
        let offsets: Vec<i64> = seen
            .iter()
            .filter(|(p, offset, _)| *p == partition && *offset < COMMITTED_OFFSET)
            .map(|(_, offset, _)| *offset)
            .collect();
        assert_eq!(
            offsets,
            (0..COMMITTED_OFFSET).collect::<Vec<_>>(),
            "first consumer, partition {partition}: not every message before the commit point"
        );
    }
    for (partition, offset, message) in &seen {
        assert_eq!(
            Some(message),
            produced.get(&(*partition, *offset)),
            "first consumer: partition {partition} offset {offset} differs from what was produced"
        );
    }
    let mut commit = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        commit
            .add_partition_offset(&topic, partition, Offset::Offset(COMMITTED_OFFSET))
            .unwrap();
    }
    first.commit(&commit, CommitMode::Sync).unwrap();
    drop(first);

    // Second consumer, same group: must start at COMMITTED_OFFSET on each partition and
    // read every later message exactly once.
    let remaining = (MESSAGES_PER_PARTITION - COMMITTED_OFFSET) as usize * PARTITIONS as usize;
    let second = consumer(&brokers, &group, &topic);
    let started = Instant::now();
    let mut resumed = consume(&second, Duration::from_secs(120), |seen| {
        seen.len() >= remaining
    });
    let time_to_resume = started.elapsed();
    // Anything redelivered would arrive now.
    resumed.extend(consume(&second, Duration::from_secs(3), |_| false));
    eprintln!(
        "second consumer read {} messages in {:.1} s (group join included)",
        resumed.len(),
        time_to_resume.as_secs_f64()
    );
    for partition in 0..PARTITIONS {
        let offsets: Vec<i64> = resumed
            .iter()
            .filter(|(p, _, _)| *p == partition)
            .map(|(_, offset, _)| *offset)
            .collect();
        assert_eq!(
            offsets,
            (COMMITTED_OFFSET..MESSAGES_PER_PARTITION).collect::<Vec<_>>(),
            "second consumer, partition {partition}: did not resume exactly at offset \
             {COMMITTED_OFFSET} (a gap or a duplicate)"
        );
    }
    for (partition, offset, message) in &resumed {
        assert_eq!(
            Some(message),
            produced.get(&(*partition, *offset)),
            "second consumer: partition {partition} offset {offset}: payload or headers differ"
        );
    }
}
