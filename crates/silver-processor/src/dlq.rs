//! The dead-letter topic: rejected messages with their original bytes and the reason in
//! headers, delivered (acknowledged by the broker) before their offsets are committed.
//!
//! The producer is a `BaseProducer` polled by whoever awaits acknowledgements, not a
//! `FutureProducer`: the latter's polling thread calls `poll(100 ms)`, whose last
//! sub-millisecond remainder rounds down to a zero timeout and spins, which was about 60%
//! of the idle processor's CPU (`perf`, docs/SILVER-DELIVERY.md).

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaResult;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, ProducerContext};
use tokio::sync::oneshot;

use crate::batch::{RejectedMessage, TopicPartition};

/// How often a sender waiting for acknowledgements serves librdkafka's delivery reports.
const ACK_POLL_INTERVAL: Duration = Duration::from_millis(2);

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

/// Routes each delivery report to the sender waiting for it.
pub struct AckRouter;

impl ClientContext for AckRouter {}

impl ProducerContext for AckRouter {
    type DeliveryOpaque = Box<oneshot::Sender<Result<(), String>>>;

    fn delivery(&self, result: &DeliveryResult<'_>, waiting: Self::DeliveryOpaque) {
        let outcome = match result {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(e.to_string()),
        };
        // The sender may have given up (shutdown); the report is then of no use.
        let _ = waiting.send(outcome);
    }
}

/// Sends rejects to the dead-letter topic.
#[derive(Clone)]
pub struct DeadLetters {
    producer: Arc<BaseProducer<AckRouter>>,
    topic: String,
}

impl DeadLetters {
    /// A sender to `topic`, with a producer made from `config`.
    pub fn new(config: &ClientConfig, topic: &str) -> KafkaResult<Self> {
        Ok(Self {
            producer: Arc::new(config.create_with_context(AckRouter)?),
            topic: topic.to_owned(),
        })
    }

    /// Serves pending delivery reports, errors and logs without waiting. Called
    /// periodically, so that librdkafka's event queue does not grow while no reject is
    /// being delivered.
    pub fn serve_events(&self) {
        self.producer.poll(Duration::ZERO);
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
            let (ack, acked) = oneshot::channel();
            let record = BaseRecord::<(), [u8], _>::with_opaque_to(&self.topic, Box::new(ack))
                .payload(reject.payload.as_slice())
                .headers(headers);
            match self.producer.send(record) {
                Ok(()) => pending.push(acked),
                Err((e, _)) => errors.push(e.to_string()),
            }
        }
        let mut acks = std::pin::pin!(join_all(pending));
        let results = loop {
            self.producer.poll(Duration::ZERO);
            tokio::select! {
                results = &mut acks => break results,
                () = tokio::time::sleep(ACK_POLL_INTERVAL) => {}
            }
        };
        for result in results {
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e),
                Err(_) => errors.push("delivery report dropped".to_owned()),
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
