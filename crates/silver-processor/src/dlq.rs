//! The dead-letter topic: rejected messages with their original bytes and the reason in
//! headers, delivered (acknowledged by the broker) before their offsets are committed.

use futures::future::join_all;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::batch::{RejectedMessage, TopicPartition};

/// Header names on every dead-letter message.
pub mod headers {
    /// `Reject::code`, e.g. `price_not_positive`.
    pub const REASON: &str = "reason";
    /// The reject's message.
    pub const REASON_DETAIL: &str = "reason_detail";
    /// Topic the message was read from.
    pub const SOURCE_TOPIC: &str = "source_topic";
    /// Its partition, in decimal.
    pub const SOURCE_PARTITION: &str = "source_partition";
    /// Its offset, in decimal.
    pub const SOURCE_OFFSET: &str = "source_offset";
}

/// Some dead-letter messages were not acknowledged.
#[derive(Debug, thiserror::Error)]
#[error(
    "dead-letter topic `{topic}`: {failed} of {total} messages from `{source_partition}` not delivered: {first_error}"
)]
pub struct DlqError {
    /// The dead-letter topic.
    pub topic: String,
    /// The source partition.
    pub source_partition: String,
    /// How many failed.
    pub failed: usize,
    /// How many were sent.
    pub total: usize,
    /// The first failure.
    pub first_error: String,
}

/// Sends rejects to the dead-letter topic.
#[derive(Clone)]
pub struct DeadLetters {
    producer: FutureProducer,
    topic: String,
}

impl DeadLetters {
    /// A sender to `topic` over `producer`.
    pub fn new(producer: FutureProducer, topic: &str) -> Self {
        Self {
            producer,
            topic: topic.to_owned(),
        }
    }

    /// Sends every reject and waits for all acknowledgements. On error, the caller sends
    /// the same rejects again (a dead letter may then appear twice; silver never does).
    pub async fn deliver(
        &self,
        source: &TopicPartition,
        rejects: &[RejectedMessage],
    ) -> Result<(), DlqError> {
        if rejects.is_empty() {
            return Ok(());
        }
        let partition_text = source.partition.to_string();
        let mut pending = Vec::with_capacity(rejects.len());
        let mut errors = Vec::new();
        for reject in rejects {
            let offset_text = reject.offset.to_string();
            let headers = OwnedHeaders::new_with_capacity(5)
                .insert(Header {
                    key: headers::REASON,
                    value: Some(reject.reason),
                })
                .insert(Header {
                    key: headers::REASON_DETAIL,
                    value: Some(reject.detail.as_str()),
                })
                .insert(Header {
                    key: headers::SOURCE_TOPIC,
                    value: Some(source.topic.as_str()),
                })
                .insert(Header {
                    key: headers::SOURCE_PARTITION,
                    value: Some(partition_text.as_str()),
                })
                .insert(Header {
                    key: headers::SOURCE_OFFSET,
                    value: Some(offset_text.as_str()),
                });
            let record = FutureRecord::<(), [u8]>::to(&self.topic)
                .payload(reject.payload.as_slice())
                .headers(headers);
            match self.producer.send_result(record) {
                Ok(future) => pending.push(future),
                Err((e, _)) => errors.push(e.to_string()),
            }
        }
        for result in join_all(pending).await {
            match result {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => errors.push(e.to_string()),
                Err(_) => errors.push("delivery cancelled".to_owned()),
            }
        }
        if errors.is_empty() {
            return Ok(());
        }
        Err(DlqError {
            topic: self.topic.clone(),
            source_partition: source.to_string(),
            failed: errors.len(),
            total: rejects.len(),
            first_error: errors.swap_remove(0),
        })
    }
}
