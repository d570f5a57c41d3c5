//! The ClickHouse side: the deduplicated `silver_trades` insert and the per-partition
//! ingest state (see `docs/SILVER-DELIVERY.md`).

use ch_support::quote;
use serde::Deserialize;
use trade_model::SilverTrade;

use crate::batch::{OffsetRange, TopicPartition, dedup_token};

/// Target table (shared contract).
pub const SILVER_TABLE: &str = "silver_trades";
/// The ingest-state table (`sql/silver/0002_silver_ingest_state.sql`).
pub const INGEST_STATE_TABLE: &str = "silver_ingest_state";
/// The block size we ask ClickHouse for. A batch never holds more rows, so one insert is
/// one block (per day partition of the table) and one deduplication token.
pub const BLOCK_ROWS: usize = 1_000_000;

/// A ClickHouse call failed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The insert of one batch failed.
    #[error("insert of `{token}` into silver_trades: {source}")]
    Insert {
        /// The batch's deduplication token.
        token: String,
        /// The client error.
        source: clickhouse::error::Error,
    },
    /// Reading or writing `silver_ingest_state` failed.
    #[error("silver_ingest_state for `{partition}`: {source}")]
    State {
        /// The partition.
        partition: String,
        /// The client error.
        source: clickhouse::error::Error,
    },
    /// The liveness probe failed.
    #[error("clickhouse ping: {0}")]
    Ping(clickhouse::error::Error),
}

/// `silver_trades` and `silver_ingest_state` in one database.
#[derive(Clone)]
pub struct Sink {
    client: clickhouse::Client,
    insert_client: clickhouse::Client,
    silver_table: String,
    state_table: String,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct StateRow {
    first_offset: i64,
    last_offset: i64,
}

impl Sink {
    /// A sink over `client` for `database`.
    pub fn new(client: clickhouse::Client, database: &str) -> Self {
        Self {
            // Row validation off on the hot path: it sends RowBinaryWithNamesAndTypes and
            // checks every row against the schema, which costs CPU per trade; the columns
            // are the shared contract (`sql/silver`), checked with validation on by the
            // end-to-end tests' reads.
            insert_client: client.clone().with_validation(false),
            client,
            silver_table: quote::qualified(database, SILVER_TABLE),
            state_table: quote::qualified(database, INGEST_STATE_TABLE),
        }
    }

    /// Inserts `rows` as one block with the batch's token. Sending the same range again
    /// (a retry, or a replay after a crash) is dropped by ClickHouse's deduplication, in
    /// `silver_trades` and in the materialized views that read it.
    pub async fn insert(
        &self,
        tp: &TopicPartition,
        range: OffsetRange,
        rows: &[SilverTrade],
    ) -> Result<(), SinkError> {
        let token = dedup_token(tp, range);
        let fail = |source| SinkError::Insert {
            token: token.clone(),
            source,
        };
        let block_rows = BLOCK_ROWS.to_string();
        let mut insert = self
            .insert_client
            .insert_unescaped::<SilverTrade>(&self.silver_table)
            .await
            .map_err(fail)?
            .with_setting("insert_deduplicate", "1")
            .with_setting("insert_deduplication_token", token.as_str())
            .with_setting("deduplicate_blocks_in_dependent_materialized_views", "1")
            .with_setting("async_insert", "0")
            .with_setting("max_insert_block_size", block_rows.as_str())
            .with_setting("min_insert_block_size_rows", block_rows.as_str())
            .with_setting("min_insert_block_size_bytes", "0")
            .with_setting("input_format_parallel_parsing", "0");
        for row in rows {
            insert.write(row).await.map_err(fail)?;
        }
        insert.end().await.map_err(fail)
    }

    /// The range last recorded for `tp`, if any.
    pub async fn recorded_range(
        &self,
        tp: &TopicPartition,
    ) -> Result<Option<OffsetRange>, SinkError> {
        let sql = format!(
            "SELECT first_offset, last_offset FROM {} FINAL WHERE topic = {} AND partition = {}",
            self.state_table,
            quote::string_literal(&tp.topic),
            tp.partition
        );
        let row = self
            .client
            .query(&sql)
            .fetch_optional::<StateRow>()
            .await
            .map_err(|source| SinkError::State {
                partition: tp.to_string(),
                source,
            })?;
        Ok(row.map(|r| OffsetRange {
            first: r.first_offset,
            last: r.last_offset,
        }))
    }

    /// Records that `range` of `tp` is about to be inserted. Written before the insert,
    /// so a crash anywhere after it replays exactly this range.
    pub async fn record_range(
        &self,
        tp: &TopicPartition,
        range: OffsetRange,
    ) -> Result<(), SinkError> {
        let sql = format!(
            "INSERT INTO {} (topic, partition, first_offset, last_offset, updated_at) \
             VALUES ({}, {}, {}, {}, now64(6, 'UTC'))",
            self.state_table,
            quote::string_literal(&tp.topic),
            tp.partition,
            range.first,
            range.last
        );
        self.client
            .query(&sql)
            .with_setting("async_insert", "0")
            .execute()
            .await
            .map_err(|source| SinkError::State {
                partition: tp.to_string(),
                source,
            })
    }

    /// Whether ClickHouse answers.
    pub async fn ping(&self) -> Result<(), SinkError> {
        self.client
            .query("SELECT 1")
            .execute()
            .await
            .map_err(SinkError::Ping)
    }
}
