//! An independent reimplementation of the legacy (v1) Spark OHLCV job over silver trades,
//! to produce v1 candles for tests and for the demo.
//!
//! It keeps the legacy job's semantics, flaws included:
//!
//! - prices, volume and VWAP are `Float64`;
//! - window bounds are microseconds since the epoch (`Int64`), windows found by integer
//!   division of the trade's microsecond timestamp (not `toStartOfInterval`);
//! - `first(price)` / `last(price)` are taken after an ordering by timestamp only: trades
//!   sharing a timestamp come in a seeded pseudo-random order (as Spark's shuffle would
//!   deliver them), so on ties the open or close may be another trade's price;
//! - symbols are written the legacy way, `BTC/USDT` as `BTCUSDT` ([`SymbolStyle::Concatenated`]).
//!
//! Output: one table per timeframe, `legacy_ohlcv_{tf}` by default, with the legacy columns
//! `symbol, exchange, window_start, window_end, open_price, high_price, low_price,
//! close_price, volume, trade_count, vwap`. The job runs as SQL inside ClickHouse.

use ch_support::quote::{ident, qualified};
use clickhouse::Client;
use serde::{Deserialize, Serialize};

use crate::error::ValidatorError;
use crate::timeframe::Timeframe;

/// How the legacy job writes symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SymbolStyle {
    /// `BTC/USDT` becomes `BTCUSDT`, as the legacy tables have it.
    Concatenated,
    /// Keep the canonical `BTC/USDT`.
    Canonical,
}

/// Where the job reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LegacyJobOptions {
    /// Database of `silver_trades` and of the output tables.
    pub database: String,
    /// Source table.
    pub silver_table: String,
    /// Output table per timeframe; `{tf}` is replaced by the label.
    pub target_table: String,
    /// Seed of the tie order: the same seed gives the same (wrong) opens and closes.
    pub seed: u64,
    /// How symbols are written.
    pub symbol_style: SymbolStyle,
}

impl Default for LegacyJobOptions {
    fn default() -> Self {
        Self {
            database: "default".to_owned(),
            silver_table: "silver_trades".to_owned(),
            target_table: "legacy_ohlcv_{tf}".to_owned(),
            seed: 1,
            symbol_style: SymbolStyle::Concatenated,
        }
    }
}

/// `CREATE TABLE` for one legacy output table (dropped and recreated by [`run`]).
pub fn create_table_sql(table: &str) -> String {
    format!(
        "CREATE TABLE {table} (symbol String, exchange String, window_start Int64, \
         window_end Int64, open_price Float64, high_price Float64, low_price Float64, \
         close_price Float64, volume Float64, trade_count Int64, vwap Float64) \
         ENGINE = MergeTree ORDER BY (exchange, symbol, window_start)"
    )
}

/// The job's aggregation for one timeframe, as `INSERT ... SELECT`.
pub fn insert_sql(options: &LegacyJobOptions, table: &str, tf: Timeframe) -> String {
    let width = tf.seconds() * 1_000_000;
    let symbol = match options.symbol_style {
        SymbolStyle::Concatenated => "replaceAll(toString(symbol), '/', '')",
        SymbolStyle::Canonical => "toString(symbol)",
    };
    let seed = options.seed;
    format!(
        "INSERT INTO {table} \
         SELECT symbol_v1 AS symbol, exchange_v1 AS exchange, ws AS window_start, \
         ws + {width} AS window_end, \
         argMin(p, (ts, shuffle)) AS open_price, max(p) AS high_price, min(p) AS low_price, \
         argMax(p, (ts, shuffle)) AS close_price, sum(q) AS volume, \
         toInt64(count()) AS trade_count, sum(p * q) / sum(q) AS vwap \
         FROM ( \
           SELECT {symbol} AS symbol_v1, toString(exchange) AS exchange_v1, \
           toUnixTimestamp64Micro(timestamp) AS ts, intDiv(ts, {width}) * {width} AS ws, \
           toFloat64(price) AS p, toFloat64(quantity) AS q, \
           cityHash64({seed}, trade_id) AS shuffle \
           FROM {source} \
         ) GROUP BY symbol_v1, exchange_v1, ws",
        source = qualified(&options.database, &options.silver_table),
    )
}

/// Builds every requested timeframe's legacy table from the trades. Returns the rows
/// written per timeframe.
pub async fn run(
    client: &Client,
    options: &LegacyJobOptions,
    timeframes: &[Timeframe],
) -> Result<Vec<(Timeframe, u64)>, ValidatorError> {
    let mut written = Vec::new();
    for &tf in timeframes {
        let name = options.target_table.replace("{tf}", tf.label());
        let table = qualified(&options.database, &name);
        let step =
            |what: &str| ValidatorError::clickhouse(format!("legacy job {tf}: {what} {table}"));
        client
            .query_raw(&format!("DROP TABLE IF EXISTS {table}"))
            .execute()
            .await
            .map_err(step("drop"))?;
        client
            .query_raw(&create_table_sql(&table))
            .execute()
            .await
            .map_err(step("create"))?;
        client
            .query_raw(&insert_sql(options, &table, tf))
            .execute()
            .await
            .map_err(step("fill"))?;
        let rows: u64 = client
            .query_raw(&format!("SELECT count() FROM {table}"))
            .fetch_one()
            .await
            .map_err(step("count"))?;
        written.push((tf, rows));
    }
    Ok(written)
}

/// The column list of a legacy table, quoted, in legacy order (for exports).
pub fn legacy_columns() -> String {
    [
        "symbol",
        "exchange",
        "window_start",
        "window_end",
        "open_price",
        "high_price",
        "low_price",
        "close_price",
        "volume",
        "trade_count",
        "vwap",
    ]
    .iter()
    .map(|c| ident(c))
    .collect::<Vec<_>>()
    .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_microsecond_integer_divisions() {
        let sql = insert_sql(&LegacyJobOptions::default(), "`d`.`t`", Timeframe::M5);
        assert!(sql.contains("intDiv(ts, 300000000) * 300000000"), "{sql}");
        assert!(sql.contains("replaceAll(toString(symbol), '/', '')"));
    }
}
