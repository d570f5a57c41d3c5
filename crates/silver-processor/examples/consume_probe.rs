//! Diagnostic: how fast a plain consumer group reads the given topics from the start.
//! Usage: `consume_probe <brokers> <topic>...`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

fn main() {
    let mut args = std::env::args().skip(1);
    let brokers = args.next().expect("brokers");
    let topics: Vec<String> = args.collect();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("probe_{}", std::process::id()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_uncommitted")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&refs).unwrap();
    let start = Instant::now();
    let mut count = 0u64;
    let mut per = std::collections::BTreeMap::<String, u64>::new();
    let mut last_report = Instant::now();
    while start.elapsed() < Duration::from_secs(40) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            count += 1;
            *per.entry(format!("{}:{}", m.topic(), m.partition()))
                .or_default() += 1;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            println!("{:>5.1}s {count} {per:?}", start.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
    }
}
