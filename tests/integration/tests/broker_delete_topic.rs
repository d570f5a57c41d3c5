//! Deleting one topic leaves every other topic and its records in place.
//!
//! tansu 0.6.0's PostgreSQL storage deletes *every* topic of the cluster on one
//! DeleteTopics request (`topic_delete_by.sql` filters by cluster, not by topic); the
//! stack's schema (`deploy/local/tansu/schema.sql`) guards against it with a trigger. A
//! test or tool that deletes its own topics would otherwise wipe the topics of every test
//! running beside it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use integration_tests::{require_broker, unique_name};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

fn topic_names(brokers: &str) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(None, Duration::from_secs(10))
        .unwrap();
    metadata
        .topics()
        .iter()
        .map(|t| t.name().to_owned())
        .collect()
}

#[tokio::test]
async fn deleting_one_topic_keeps_the_others_and_their_records() {
    let brokers = require_broker();
    let name = unique_name("delete_topic");
    let doomed = format!("{name}.doomed");
    let kept = format!("{name}.kept");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let topics = [
        NewTopic::new(&doomed, 1, TopicReplication::Fixed(1)),
        NewTopic::new(&kept, 1, TopicReplication::Fixed(1)),
    ];
    for result in admin
        .create_topics(topics.iter(), &AdminOptions::new())
        .await
        .unwrap()
    {
        result.unwrap();
    }
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    for topic in [&doomed, &kept] {
        producer
            .send(
                FutureRecord::<(), str>::to(topic).payload("still here"),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }

    for result in admin
        .delete_topics(&[doomed.as_str()], &AdminOptions::new())
        .await
        .unwrap()
    {
        result.unwrap();
    }

    let names = topic_names(&brokers);
    assert!(
        !names.contains(&doomed),
        "the deleted topic is still listed"
    );
    assert!(
        names.contains(&kept),
        "deleting `{doomed}` also deleted `{kept}`: the broker's schema lacks the \
         delete guard of deploy/local/tansu/schema.sql (run `cargo xtask stack up`)"
    );
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("{name}_reader"))
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(&kept, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let message = consumer
        .poll(Duration::from_secs(30))
        .expect("no record left in the kept topic")
        .unwrap();
    assert_eq!(message.payload(), Some(&b"still here"[..]));

    let _ = admin
        .delete_topics(&[kept.as_str()], &AdminOptions::new())
        .await;
}
