-- The validated, normalized trades of every exchange (one schema for all).
-- Columns and types are the shared contract with trade-model's `SilverTrade` row.
-- `non_replicated_deduplication_window` makes ClickHouse remember the last N insert
-- blocks (by `insert_deduplication_token`) so a retried or replayed batch is dropped;
-- see docs/SILVER-DELIVERY.md.
CREATE TABLE IF NOT EXISTS {{database}}.`silver_trades`
(
    `exchange` LowCardinality(String),
    `symbol` LowCardinality(String),
    `trade_id` UInt64,
    `timestamp` DateTime64(6, 'UTC'),
    `price` Decimal(38, 10),
    `quantity` Decimal(38, 10),
    `quote_volume` Decimal(38, 20),
    `side` Enum8('BUY' = 1, 'SELL' = 2)
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(`timestamp`)
ORDER BY (`exchange`, `symbol`, `timestamp`, `trade_id`)
TTL toDateTime(`timestamp`) + INTERVAL {{ttl_days}} DAY
SETTINGS non_replicated_deduplication_window = {{dedup_window}}
