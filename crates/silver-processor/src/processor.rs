//! The consume → normalize → batch → insert → commit loop.
//!
//! One task owns every partition's batch; flushing is inline, so while a batch is being
//! inserted no new message is taken (and, while an insert is being retried, the assigned
//! partitions are paused so librdkafka stops prefetching). Per partition the order is
//! always: dead letters acknowledged → range recorded in `silver_ingest_state` → rows
//! inserted with the range's token → offset committed. `docs/SILVER-DELIVERY.md` explains
//! why this is exactly once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::watch;
use trade_model::{Exchange, InstrumentRegistry, Normalizer, Outcome, ValidationRules};

use crate::batch::{
    FlushReason, OffsetRange, PartitionBatch, RejectedMessage, TopicPartition, replay_bound,
};
use crate::config::{RetrySettings, Settings};
use crate::dlq::DeadLetters;
use crate::http::{HttpState, Readiness, router};
use crate::metrics::Metrics;
use crate::sink::Sink;

/// Reject code for a message on a topic whose name names no known exchange.
pub const UNKNOWN_SOURCE_TOPIC: &str = "unknown_source_topic";

/// Why the processor stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    /// librdkafka refused the configuration or the subscription.
    #[error("kafka setup: {0}")]
    Kafka(#[from] KafkaError),
    /// The HTTP listener could not bind.
    #[error("http listener `{addr}`: {source}")]
    Http {
        /// The configured address.
        addr: String,
        /// The bind error.
        source: std::io::Error,
    },
    /// The silver migrations cannot be applied (other than ClickHouse being down).
    #[error("silver schema: {0}")]
    Schema(#[from] ch_support::migrations::MigrationError),
}

/// What a run did, for tests and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Messages consumed.
    pub consumed: u64,
    /// Rows acknowledged by ClickHouse.
    pub rows_inserted: u64,
    /// Batches committed.
    pub batches_committed: u64,
}

/// Records revocations and keeps the assigned-partition count current.
pub struct SilverContext {
    revoked: Mutex<Vec<TopicPartition>>,
    /// This consumer's share of `Readiness::assigned_partitions`.
    assigned: std::sync::atomic::AtomicUsize,
    /// Whether librdkafka's last statistics showed a broker connection up.
    broker_up: Arc<std::sync::atomic::AtomicBool>,
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
}

impl ClientContext for SilverContext {
    /// Lag and broker reachability come from librdkafka's own statistics, which cost no
    /// extra requests: tansu serves requests on a connection in order, so watermark or
    /// metadata requests queued behind a long-polling fetch time out and disturb it.
    fn stats(&self, statistics: rdkafka::Statistics) {
        let reachable = statistics
            .brokers
            .values()
            .any(|b| b.nodeid >= 0 && b.state == "UP");
        self.broker_up.store(reachable, Ordering::Relaxed);
        for topic in statistics.topics.values() {
            for partition in topic.partitions.values() {
                if partition.partition >= 0 && partition.consumer_lag >= 0 {
                    self.metrics.set_lag(
                        &TopicPartition {
                            topic: topic.topic.clone(),
                            partition: partition.partition,
                        },
                        partition.consumer_lag,
                    );
                }
            }
        }
    }
}

impl ConsumerContext for SilverContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let mut revoked = self.revoked.lock().unwrap_or_else(PoisonError::into_inner);
            for elem in list.elements() {
                revoked.push(TopicPartition {
                    topic: elem.topic().to_owned(),
                    partition: elem.partition(),
                });
            }
            tracing::info!(partitions = list.count(), "partitions revoked");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // Taken from the event, never from `consumer.assignment()`: that call waits for
        // librdkafka's main thread, which can be waiting for this very callback (seen
        // during a rebalance after a broker restart and in the close of a dropped
        // consumer: the worker task, and with it every consumer, hung for good). The
        // group protocol is eager, so an assignment is the whole set and a revocation
        // leaves none.
        let assigned = match rebalance {
            Rebalance::Assign(list) => list.count(),
            Rebalance::Revoke(_) | Rebalance::Error(_) => 0,
        };
        let before = self.assigned.swap(assigned, Ordering::Relaxed);
        let total = &self.readiness.assigned_partitions;
        if assigned >= before {
            total.fetch_add(assigned - before, Ordering::Relaxed);
        } else {
            total.fetch_sub(before - assigned, Ordering::Relaxed);
        }
        self.metrics
            .assigned_partitions
            .set(i64::try_from(total.load(Ordering::Relaxed)).unwrap_or(i64::MAX));
        if let Rebalance::Assign(list) = rebalance {
            tracing::info!(partitions = list.count(), "partitions assigned");
        }
    }
}

impl SilverContext {
    fn take_revoked(&self) -> Vec<TopicPartition> {
        std::mem::take(&mut *self.revoked.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

type SilverConsumer = StreamConsumer<SilverContext>;

/// The exchange a raw topic carries: the first dot-separated segment that names one
/// (`market.crypto.trades.kraken.raw` → Kraken).
pub fn exchange_for_topic(topic: &str) -> Option<Exchange> {
    topic.split('.').find_map(|segment| segment.parse().ok())
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

struct PartitionState {
    tp: TopicPartition,
    exchange: Option<Exchange>,
    batch: PartitionBatch,
}

/// Runs the processor until `shutdown` resolves, then flushes, commits and returns.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RunSummary, ProcessorError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let metrics = Arc::new(Metrics::new());
    let readiness = Arc::new(Readiness::default());

    let listener = tokio::net::TcpListener::bind(&settings.http.listen)
        .await
        .map_err(|source| ProcessorError::Http {
            addr: settings.http.listen.clone(),
            source,
        })?;
    let http_state = HttpState {
        readiness: readiness.clone(),
        metrics: metrics.clone(),
    };
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(http_state)).await {
            tracing::error!(error = %e, "http server stopped");
        }
    });

    let client = ch_support::client(&settings.clickhouse);
    if settings.schema.apply_on_start {
        apply_schema(&client, &settings, &stop_rx).await?;
    }
    let sink = Sink::new(client, &settings.clickhouse.database);

    let dlq = DeadLetters::new(&producer_config(&settings), &settings.kafka.dlq_topic)?;
    // One consumer per topic (each in its own group `<group_id>.<topic>`) unless a regex
    // is given: tansu 0.6.0 stalls a fetch that spans several topics after draining the
    // first partition, and separate consumers also keep one exchange's backlog from
    // delaying another's.
    let subscriptions: Vec<(String, Vec<String>)> = if !settings.kafka.topic_regex.is_empty() {
        vec![(
            settings.kafka.group_id.clone(),
            vec![settings.kafka.topic_regex.clone()],
        )]
    } else if settings.kafka.consumer_per_topic {
        settings
            .kafka
            .topics
            .iter()
            .map(|t| (format!("{}.{t}", settings.kafka.group_id), vec![t.clone()]))
            .collect()
    } else {
        vec![(
            settings.kafka.group_id.clone(),
            settings.kafka.topics.clone(),
        )]
    };
    let mut consumers: Vec<Arc<SilverConsumer>> = Vec::new();
    let mut broker_flags = Vec::new();
    for (group, topics) in &subscriptions {
        let broker_up = Arc::new(std::sync::atomic::AtomicBool::new(false));
        broker_flags.push(broker_up.clone());
        let mut config = consumer_config(&settings);
        config.set("group.id", group);
        let consumer: SilverConsumer = config.create_with_context(SilverContext {
            revoked: Mutex::new(Vec::new()),
            assigned: std::sync::atomic::AtomicUsize::new(0),
            broker_up: broker_up.clone(),
            readiness: readiness.clone(),
            metrics: metrics.clone(),
        })?;
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        consumers.push(Arc::new(consumer));
    }

    let committed = Arc::new(Mutex::new(HashMap::<TopicPartition, i64>::new()));
    let probe = tokio::spawn(probe_loop(
        broker_flags,
        sink.clone(),
        dlq.clone(),
        readiness.clone(),
        stop_rx.clone(),
    ));

    let normalizer = Normalizer::new(InstrumentRegistry::bundled(), ValidationRules::default());
    let mut workers: Vec<Worker> = consumers
        .into_iter()
        .map(|consumer| Worker {
            normalizer: normalizer.clone(),
            dlq: dlq.clone(),
            sink: sink.clone(),
            consumer,
            metrics: metrics.clone(),
            readiness: readiness.clone(),
            committed: committed.clone(),
            stop: stop_rx.clone(),
            settings: settings.clone(),
            partitions: Vec::new(),
            in_flight_bytes: 0,
            summary: RunSummary::default(),
        })
        .collect();
    futures::future::join_all(workers.iter_mut().map(Worker::consume)).await;
    readiness.shutting_down.store(true, Ordering::Relaxed);
    probe.abort();
    let mut summary = RunSummary::default();
    for w in &workers {
        summary.consumed += w.summary.consumed;
        summary.rows_inserted += w.summary.rows_inserted;
        summary.batches_committed += w.summary.batches_committed;
    }
    tracing::info!(?summary, "silver processor stopped");
    Ok(summary)
}

async fn apply_schema(
    client: &clickhouse::Client,
    settings: &Settings,
    stop: &watch::Receiver<bool>,
) -> Result<(), ProcessorError> {
    let mut backoff = Backoff::new(&settings.retry);
    loop {
        match crate::schema::apply(client, &settings.clickhouse.database, &settings.schema).await {
            Ok(outcomes) => {
                tracing::info!(?outcomes, "silver schema ready");
                return Ok(());
            }
            Err(e @ ch_support::migrations::MigrationError::ClickHouse { .. })
                if !*stop.borrow() =>
            {
                tracing::warn!(error = %e, "clickhouse not reachable for migrations; retrying");
                backoff.wait().await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// librdkafka consumer settings: manual commits only, bounded prefetch.
pub fn consumer_config(settings: &Settings) -> ClientConfig {
    let k = &settings.kafka;
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &k.brokers)
        .set("group.id", &k.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", &k.auto_offset_reset)
        .set("isolation.level", &k.isolation_level)
        .set("session.timeout.ms", k.session_timeout_ms.to_string())
        .set(
            "heartbeat.interval.ms",
            (k.session_timeout_ms / 3).max(100).to_string(),
        )
        .set("max.poll.interval.ms", k.max_poll_interval_ms.to_string())
        .set(
            "queued.max.messages.kbytes",
            k.queued_max_messages_kbytes.to_string(),
        )
        .set("fetch.max.bytes", k.fetch_max_bytes.to_string())
        .set("statistics.interval.ms", "2000")
        // Eager protocol: `post_rebalance` counts assigned partitions from the event.
        .set("partition.assignment.strategy", "range,roundrobin")
        .set("client.id", "silver-processor");
    config
}

/// librdkafka producer settings for the dead-letter topic.
pub fn producer_config(settings: &Settings) -> ClientConfig {
    let k = &settings.kafka;
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &k.brokers)
        // Not idempotent: tansu under load fails to hand out producer ids, and dead
        // letters are at least once by design (docs/SILVER-DELIVERY.md).
        .set("enable.idempotence", "false")
        .set("acks", "all")
        .set("compression.type", &k.dlq_compression)
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .set("client.id", "silver-processor-dlq");
    config
}

struct Backoff {
    current: Duration,
    max: Duration,
}

impl Backoff {
    fn new(settings: &RetrySettings) -> Self {
        Self {
            current: Duration::from_millis(settings.initial_backoff_ms),
            max: Duration::from_millis(settings.max_backoff_ms),
        }
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.current).await;
        self.current = (self.current * 2).min(self.max);
    }
}

/// Watches ClickHouse for `/readyz`, folds the consumers' broker flags together and
/// serves the dead-letter producer's events between deliveries.
async fn probe_loop(
    broker_flags: Vec<Arc<std::sync::atomic::AtomicBool>>,
    sink: Sink,
    dlq: DeadLetters,
    readiness: Arc<Readiness>,
    mut stop: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => return,
        }
        dlq.serve_events();
        let ch_ok = matches!(
            tokio::time::timeout(Duration::from_secs(2), sink.ping()).await,
            Ok(Ok(()))
        );
        readiness
            .clickhouse_reachable
            .store(ch_ok, Ordering::Relaxed);
        let broker_ok = broker_flags.iter().all(|f| f.load(Ordering::Relaxed));
        readiness
            .broker_reachable
            .store(broker_ok, Ordering::Relaxed);
    }
}

struct Worker {
    settings: Settings,
    normalizer: Normalizer,
    dlq: DeadLetters,
    sink: Sink,
    consumer: Arc<SilverConsumer>,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    committed: Arc<Mutex<HashMap<TopicPartition, i64>>>,
    stop: watch::Receiver<bool>,
    partitions: Vec<PartitionState>,
    in_flight_bytes: usize,
    summary: RunSummary,
}

/// What a flush attempt ended in.
enum Flushed {
    /// Inserted and committed.
    Committed,
    /// Abandoned (shutdown during retries, or the partition was lost); the range will be
    /// replayed from the committed offset with the same token.
    Abandoned,
}

impl Worker {
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    async fn consume(&mut self) {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut stop = self.stop.clone();
        loop {
            self.drop_revoked();
            if self.stopping() {
                break;
            }
            let consumer = self.consumer.clone();
            let new_partition = tokio::select! {
                biased;
                _ = stop.changed() => None,
                _ = tick.tick() => None,
                received = consumer.recv() => match received {
                    Ok(message) => {
                        let tp_known = self.partitions.iter().any(|p| {
                            p.tp.partition == message.partition() && p.tp.topic == message.topic()
                        });
                        if tp_known {
                            self.accept(&message);
                            None
                        } else {
                            Some(message.detach())
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "consumer error");
                        None
                    }
                },
            };
            if let Some(message) = new_partition {
                self.open_partition(&message).await;
                self.accept(&message);
            }
            self.flush_due().await;
        }
        self.shutdown_flush().await;
    }

    /// Drops batches of revoked partitions: their uncommitted ranges will be replayed by
    /// the next owner from the committed offset.
    fn drop_revoked(&mut self) {
        for tp in self.consumer.context().take_revoked() {
            if let Some(i) = self.partitions.iter().position(|p| p.tp == tp) {
                let state = self.partitions.swap_remove(i);
                self.in_flight_bytes -= state.batch.bytes;
                tracing::info!(partition = %tp, range = ?state.batch.range, "dropped batch of revoked partition");
            }
            self.committed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&tp);
        }
        self.metrics
            .in_flight_bytes
            .set(i64::try_from(self.in_flight_bytes).unwrap_or(i64::MAX));
    }

    /// First message of a partition since assignment: learn whether a recorded range
    /// must be replayed exactly.
    async fn open_partition(&mut self, first: &impl Message) {
        let tp = TopicPartition {
            topic: first.topic().to_owned(),
            partition: first.partition(),
        };
        let mut backoff = Backoff::new(&self.settings.retry);
        let recorded = loop {
            match self.sink.recorded_range(&tp).await {
                Ok(r) => break r,
                Err(e) => {
                    self.readiness
                        .clickhouse_reachable
                        .store(false, Ordering::Relaxed);
                    tracing::warn!(error = %e, "reading ingest state; retrying");
                    backoff.wait().await;
                }
            }
        };
        let bound = replay_bound(recorded, first.offset());
        tracing::info!(partition = %tp, resume_offset = first.offset(), ?recorded, replay_until = ?bound, "partition opened");
        self.partitions.push(PartitionState {
            exchange: exchange_for_topic(&tp.topic),
            tp,
            batch: PartitionBatch::new(bound),
        });
    }

    fn accept(&mut self, message: &impl Message) {
        let Some(state) = self
            .partitions
            .iter_mut()
            .find(|p| p.tp.partition == message.partition() && p.tp.topic == message.topic())
        else {
            return;
        };
        let payload = message.payload().unwrap_or_default();
        let offset = message.offset();
        self.metrics.messages_consumed.inc();
        self.summary.consumed += 1;
        state.batch.extend(offset, payload.len());
        self.in_flight_bytes += payload.len();
        let result = match state.exchange {
            Some(exchange) => {
                self.normalizer
                    .normalize(exchange, payload, now_micros(), &mut state.batch.rows)
            }
            None => {
                self.metrics.reject(UNKNOWN_SOURCE_TOPIC);
                state.batch.rejects.push(RejectedMessage {
                    offset,
                    payload: payload.to_vec(),
                    reason: UNKNOWN_SOURCE_TOPIC,
                    detail: format!("topic `{}` names no known exchange", state.tp.topic),
                });
                return;
            }
        };
        match result {
            Ok(Outcome::Trades(_)) => {}
            Ok(Outcome::Ignored) => {
                self.metrics.messages_ignored.inc();
            }
            Err(reject) => {
                self.metrics.reject(reject.code());
                state.batch.rejects.push(RejectedMessage {
                    offset,
                    payload: payload.to_vec(),
                    reason: reject.code(),
                    detail: reject.to_string(),
                });
            }
        }
    }

    async fn flush_due(&mut self) {
        let now = Instant::now();
        let limits = self.settings.batch.clone();
        let mut due: Vec<(usize, FlushReason)> = self
            .partitions
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.batch.flush_reason(&limits, now).map(|r| (i, r)))
            .collect();
        if due.is_empty() && self.in_flight_bytes > limits.max_in_flight_bytes {
            // Batches still bounded by a replayed range must not be cut short.
            if let Some((i, _)) = self
                .partitions
                .iter()
                .enumerate()
                .filter(|(_, p)| p.batch.replay_bound.is_none())
                .max_by_key(|(_, p)| p.batch.bytes)
            {
                due.push((i, FlushReason::Memory));
            }
        }
        for (i, reason) in due {
            self.flush(i, reason).await;
        }
        self.metrics
            .in_flight_bytes
            .set(i64::try_from(self.in_flight_bytes).unwrap_or(i64::MAX));
    }

    async fn shutdown_flush(&mut self) {
        let ready: Vec<usize> = (0..self.partitions.len())
            .filter(|&i| {
                let b = &self.partitions[i].batch;
                !b.is_empty()
                    && b.replay_bound
                        .is_none_or(|bound| b.range.is_some_and(|r| r.last >= bound))
            })
            .collect();
        for i in ready {
            self.flush(i, FlushReason::Shutdown).await;
        }
    }

    /// Flushes partition `index`. On abandonment the partition is seeked back to the
    /// batch's first offset (its state is reopened from `silver_ingest_state`, so the
    /// replay carries the same token).
    async fn flush(&mut self, index: usize, reason: FlushReason) {
        let tp = self.partitions[index].tp.clone();
        let batch = self.partitions[index].batch.take();
        self.in_flight_bytes -= batch.bytes;
        let Some(range) = batch.range else {
            return;
        };
        tracing::debug!(partition = %tp, ?range, rows = batch.rows.len(), rejects = batch.rejects.len(), ?reason, "flushing");
        match self.deliver(&tp, range, &batch).await {
            Flushed::Committed => {
                self.summary.batches_committed += 1;
                self.summary.rows_inserted += batch.rows.len() as u64;
            }
            Flushed::Abandoned => {
                tracing::warn!(partition = %tp, ?range, "batch abandoned; will replay from the committed offset");
                if let Some(i) = self.partitions.iter().position(|p| p.tp == tp) {
                    self.partitions.swap_remove(i);
                }
                if !self.stopping() {
                    let consumer = self.consumer.clone();
                    let seek_tp = tp.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        consumer.seek(
                            &seek_tp.topic,
                            seek_tp.partition,
                            Offset::Offset(range.first),
                            Duration::from_secs(5),
                        )
                    })
                    .await;
                }
            }
        }
    }

    async fn deliver(
        &mut self,
        tp: &TopicPartition,
        range: OffsetRange,
        batch: &PartitionBatch,
    ) -> Flushed {
        let mut backoff = Backoff::new(&self.settings.retry);
        let mut paused = false;
        // 1. Dead letters, acknowledged.
        loop {
            match self.dlq.deliver(tp, &batch.rejects).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "dead-letter delivery failed; retrying");
                    self.readiness
                        .broker_reachable
                        .store(false, Ordering::Relaxed);
                    if self.stopping() {
                        return self.resume_after(paused, Flushed::Abandoned);
                    }
                    paused = self.pause(paused);
                    backoff.wait().await;
                }
            }
        }
        // 2. Record the range, then 3. insert it with its token.
        if !batch.rows.is_empty() {
            loop {
                let started = Instant::now();
                let attempt = match self.sink.record_range(tp, range).await {
                    Ok(()) => self.sink.insert(tp, range, &batch.rows).await,
                    Err(e) => Err(e),
                };
                match attempt {
                    Ok(()) => {
                        self.metrics
                            .insert_latency_seconds
                            .observe(started.elapsed().as_secs_f64());
                        self.metrics.batch_rows.observe(batch.rows.len() as f64);
                        self.metrics.rows_inserted.inc_by(batch.rows.len() as u64);
                        self.metrics.batches_inserted.inc();
                        self.readiness
                            .clickhouse_reachable
                            .store(true, Ordering::Relaxed);
                        break;
                    }
                    Err(e) => {
                        self.metrics.insert_failures.inc();
                        self.readiness
                            .clickhouse_reachable
                            .store(false, Ordering::Relaxed);
                        tracing::warn!(error = %e, "insert failed; retrying the same range");
                        if self.stopping() {
                            return self.resume_after(paused, Flushed::Abandoned);
                        }
                        paused = self.pause(paused);
                        backoff.wait().await;
                    }
                }
            }
        }
        // 4. Commit the next offset.
        loop {
            let consumer = self.consumer.clone();
            let commit_tp = tp.clone();
            let next = range.next_offset();
            let result = tokio::task::spawn_blocking(move || {
                let mut list = TopicPartitionList::new();
                list.add_partition_offset(
                    &commit_tp.topic,
                    commit_tp.partition,
                    Offset::Offset(next),
                )?;
                let outcome = consumer.commit(&list, CommitMode::Sync);
                let still_owned = !consumer.assignment_lost()
                    && consumer.assignment().is_ok_and(|a| {
                        a.find_partition(&commit_tp.topic, commit_tp.partition)
                            .is_some()
                    });
                outcome
                    .map(|()| still_owned)
                    .or_else(|e| if still_owned { Err(e) } else { Ok(false) })
            })
            .await;
            match result {
                Ok(Ok(true)) => {
                    self.metrics.commits.inc();
                    self.committed
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(tp.clone(), range.next_offset());
                    return self.resume_after(paused, Flushed::Committed);
                }
                Ok(Ok(false)) => return self.resume_after(paused, Flushed::Abandoned),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, partition = %tp, "commit failed; retrying");
                    self.readiness
                        .broker_reachable
                        .store(false, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(error = %e, "commit task failed; retrying"),
            }
            if self.stopping() {
                return self.resume_after(paused, Flushed::Abandoned);
            }
            paused = self.pause(paused);
            backoff.wait().await;
        }
    }

    /// Pauses this worker's partitions (once) so librdkafka stops prefetching while a
    /// retry loop holds the worker.
    fn pause(&self, already: bool) -> bool {
        if !already && let Err(e) = self.consumer.pause(&self.open_partitions()) {
            tracing::warn!(error = %e, "pausing partitions failed");
        }
        true
    }

    fn resume_after(&self, paused: bool, outcome: Flushed) -> Flushed {
        if paused && let Err(e) = self.consumer.resume(&self.open_partitions()) {
            tracing::warn!(error = %e, "resuming partitions failed");
        }
        outcome
    }

    /// The partitions this worker has opened, as librdkafka's list. Built from what the
    /// worker tracks rather than from `consumer.assignment()`, which waits for
    /// librdkafka's main thread (see `post_rebalance`). A partition assigned but not yet
    /// opened keeps prefetching, bounded by `kafka.queued_max_messages_kbytes`.
    fn open_partitions(&self) -> TopicPartitionList {
        let mut list = TopicPartitionList::with_capacity(self.partitions.len());
        for p in &self.partitions {
            list.add_partition(&p.tp.topic, p.tp.partition);
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_its_exchange() {
        assert_eq!(
            exchange_for_topic("market.crypto.trades.kraken.raw"),
            Some(Exchange::Kraken)
        );
        assert_eq!(exchange_for_topic("market.crypto.trades.dlq"), None);
    }

    #[test]
    fn consumer_commits_manually() {
        let config = consumer_config(&Settings::default());
        assert_eq!(config.get("enable.auto.commit"), Some("false"));
        assert_eq!(config.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(config.get("isolation.level"), Some("read_uncommitted"));
        assert_eq!(
            config.get("partition.assignment.strategy"),
            Some("range,roundrobin")
        );
    }
}
