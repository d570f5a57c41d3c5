//! Per-partition batches: a contiguous offset range, its rows and its pending rejects.
//! Pure bookkeeping, no I/O, so the delivery rules are unit-tested here.

use std::fmt;
use std::time::{Duration, Instant};

use trade_model::SilverTrade;

use crate::config::BatchSettings;

/// A topic partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.topic, self.partition)
    }
}

/// A contiguous, inclusive range of offsets in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetRange {
    /// First offset in the range.
    pub first: i64,
    /// Last offset in the range (inclusive).
    pub last: i64,
}

impl OffsetRange {
    /// Whether `offset` lies in the range.
    pub fn contains(self, offset: i64) -> bool {
        self.first <= offset && offset <= self.last
    }

    /// The offset to commit once the range is done.
    pub fn next_offset(self) -> i64 {
        self.last + 1
    }
}

/// The insert deduplication token of one batch: `topic:partition:first-last`.
pub fn dedup_token(tp: &TopicPartition, range: OffsetRange) -> String {
    format!(
        "{}:{}:{}-{}",
        tp.topic, tp.partition, range.first, range.last
    )
}

/// A rejected message waiting for its dead-letter delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedMessage {
    /// The source offset.
    pub offset: i64,
    /// The original bytes.
    pub payload: Vec<u8>,
    /// Stable reason code (`Reject::code`).
    pub reason: &'static str,
    /// Human-readable detail.
    pub detail: String,
}

/// One partition's open batch.
#[derive(Debug)]
pub struct PartitionBatch {
    /// The offsets covered so far; `None` until the first message.
    pub range: Option<OffsetRange>,
    /// Rows to insert.
    pub rows: Vec<SilverTrade>,
    /// Rejects to deliver to the dead-letter topic before committing.
    pub rejects: Vec<RejectedMessage>,
    /// Raw payload bytes held (for the memory bound).
    pub bytes: usize,
    /// When the first message arrived.
    pub started: Option<Instant>,
    /// After a restart: the last offset of the range recorded in `silver_ingest_state`
    /// that may have been inserted already. The first batch ends exactly there so it gets
    /// the same token.
    pub replay_bound: Option<i64>,
}

impl PartitionBatch {
    /// An empty batch; `replay_bound` from the recorded ingest state.
    pub fn new(replay_bound: Option<i64>) -> Self {
        Self {
            range: None,
            rows: Vec::new(),
            rejects: Vec::new(),
            bytes: 0,
            started: None,
            replay_bound,
        }
    }

    /// Extends the range by one message at `offset` holding `bytes` raw bytes.
    /// Offsets only grow; gaps (compaction, transaction markers) are allowed because the
    /// range names what was consumed, not what exists.
    pub fn extend(&mut self, offset: i64, bytes: usize) {
        self.range = Some(match self.range {
            None => {
                self.started = Some(Instant::now());
                OffsetRange {
                    first: offset,
                    last: offset,
                }
            }
            Some(r) => OffsetRange {
                first: r.first,
                last: offset.max(r.last),
            },
        });
        self.bytes += bytes;
    }

    /// Whether nothing was consumed yet.
    pub fn is_empty(&self) -> bool {
        self.range.is_none()
    }

    /// Why this batch must be flushed now, if it must.
    pub fn flush_reason(&self, limits: &BatchSettings, now: Instant) -> Option<FlushReason> {
        let range = self.range?;
        if let Some(bound) = self.replay_bound
            && range.last >= bound
        {
            return Some(FlushReason::ReplayBoundary);
        }
        if self.rows.len() >= limits.max_rows {
            return Some(FlushReason::Rows);
        }
        if self.bytes >= limits.max_bytes {
            return Some(FlushReason::Bytes);
        }
        let age = self.started.map(|s| now.saturating_duration_since(s));
        if age.is_some_and(|a| a >= Duration::from_millis(limits.max_age_ms)) {
            return Some(FlushReason::Age);
        }
        None
    }

    /// Takes the content out, leaving an empty batch with no replay bound.
    pub fn take(&mut self) -> PartitionBatch {
        std::mem::replace(self, PartitionBatch::new(None))
    }
}

/// Why a batch was flushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushReason {
    /// It reached `batch.max_rows`.
    Rows,
    /// It reached `batch.max_bytes`.
    Bytes,
    /// Its first message reached `batch.max_age_ms`.
    Age,
    /// It reached the end of the range recorded before a crash.
    ReplayBoundary,
    /// All batches together passed `batch.max_in_flight_bytes`.
    Memory,
    /// Shutdown.
    Shutdown,
}

/// The replay bound for a partition resuming at `resume_offset`, given the range last
/// recorded in `silver_ingest_state`:
///
/// - the recorded range contains the resume offset (crashed between recording and
///   committing): the first batch must end at the recorded last offset;
/// - it precedes the resume offset (committed normally): no bound.
pub fn replay_bound(recorded: Option<OffsetRange>, resume_offset: i64) -> Option<i64> {
    recorded
        .filter(|r| r.contains(resume_offset))
        .map(|r| r.last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> BatchSettings {
        BatchSettings {
            max_rows: 2,
            max_bytes: 1_000,
            max_age_ms: 60_000,
            max_in_flight_bytes: 10_000,
        }
    }

    fn tp() -> TopicPartition {
        TopicPartition {
            topic: "market.crypto.trades.binance.raw".into(),
            partition: 3,
        }
    }

    #[test]
    fn token_names_topic_partition_and_range() {
        let token = dedup_token(
            &tp(),
            OffsetRange {
                first: 10,
                last: 19,
            },
        );
        assert_eq!(token, "market.crypto.trades.binance.raw:3:10-19");
    }

    #[test]
    fn batch_covers_contiguous_range() {
        let mut b = PartitionBatch::new(None);
        b.extend(5, 10);
        b.extend(6, 10);
        b.extend(8, 10);
        assert_eq!(b.range, Some(OffsetRange { first: 5, last: 8 }));
        assert_eq!(b.bytes, 30);
        assert_eq!(b.range.map(|r| r.next_offset()), Some(9));
    }

    #[test]
    fn flushes_at_byte_limit() {
        let mut b = PartitionBatch::new(None);
        b.extend(0, 1_000);
        assert_eq!(
            b.flush_reason(&limits(), Instant::now()),
            Some(FlushReason::Bytes)
        );
    }

    #[test]
    fn empty_batch_never_flushes() {
        let b = PartitionBatch::new(Some(3));
        assert_eq!(b.flush_reason(&limits(), Instant::now()), None);
    }

    #[test]
    fn replay_stops_exactly_at_recorded_boundary() {
        let mut b = PartitionBatch::new(Some(7));
        for offset in 5..7 {
            b.extend(offset, 1);
            assert_eq!(b.flush_reason(&limits(), Instant::now()), None);
        }
        b.extend(7, 1);
        assert_eq!(
            b.flush_reason(&limits(), Instant::now()),
            Some(FlushReason::ReplayBoundary)
        );
    }

    #[test]
    fn replay_after_crash_between_record_and_commit_is_bounded() {
        // Recorded 100..=199, committed 100: the batch was maybe inserted.
        let recorded = Some(OffsetRange {
            first: 100,
            last: 199,
        });
        assert_eq!(replay_bound(recorded, 100), Some(199));
    }

    #[test]
    fn replay_after_clean_commit_is_unbounded() {
        let recorded = Some(OffsetRange {
            first: 100,
            last: 199,
        });
        assert_eq!(replay_bound(recorded, 200), None);
        assert_eq!(replay_bound(None, 0), None);
    }

    #[test]
    fn take_resets_the_replay_bound() {
        let mut b = PartitionBatch::new(Some(1));
        b.extend(1, 1);
        let taken = b.take();
        assert_eq!(taken.replay_bound, Some(1));
        assert!(b.is_empty());
        assert_eq!(b.replay_bound, None);
    }
}
