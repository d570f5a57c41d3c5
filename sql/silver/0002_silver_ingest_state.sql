-- Per source partition, the offset range the processor is about to insert (or has
-- inserted). Written before each insert; read when a partition is (re)assigned so the
-- first batch after a crash covers exactly the same range and carries the same
-- deduplication token. See docs/SILVER-DELIVERY.md.
CREATE TABLE IF NOT EXISTS {{database}}.`silver_ingest_state`
(
    `topic` String,
    `partition` Int32,
    `first_offset` Int64,
    `last_offset` Int64,
    `updated_at` DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(`updated_at`)
ORDER BY (`topic`, `partition`)
