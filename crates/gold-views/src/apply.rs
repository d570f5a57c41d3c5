//! Applies the gold DDL to a server, optionally backfilling from existing silver rows.
//!
//! The switch-over (see `docs/GOLD-VIEWS.md`): every timeframe's view reads from one Null
//! "tap" table, and one view from silver into the tap is created last, so a single
//! `CREATE` turns all timeframes on. When backfilling, a ledger view on the tap is created
//! just before that instant: it records the identity of every trade the live path counts.
//! The backfill then counts exactly the silver rows the live path did not:
//!
//! 1. wait until every insert that started before the switch-over has finished (their rows
//!    are in silver and were not seen by the live path);
//! 2. per time chunk, copy silver into a snapshot table, then wait until every insert that
//!    was running during the copy has finished (their ledger rows are then visible);
//! 3. insert `...State(...)` of the snapshot rows that are not in the ledger;
//! 4. record the chunk in the progress table; when all chunks are done, drop the ledger and
//!    the snapshot.
//!
//! A crash anywhere resumes with `apply --backfill`: finished chunks are skipped, and state
//! inserts carry an `insert_deduplication_token` so a chunk whose insert was acknowledged
//! but not recorded is not counted twice.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ch_support::quote;
use clickhouse::Client;
use serde::Deserialize;

use crate::check::check_all;
use crate::config::GoldConfig;
use crate::ddl::{self, Statement};
use crate::error::GoldError;
use crate::timeframe::Timeframe;

/// Something `apply` did, reported as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyEvent {
    /// An object was created.
    Created {
        /// Its name.
        name: String,
    },
    /// An object existed already and was left unchanged.
    Unchanged {
        /// Its name.
        name: String,
    },
    /// The live path was switched on at this server time (µs since the epoch).
    SwitchedOver {
        /// Server time right after the tap view was created.
        at_micros: i64,
    },
    /// Waiting for inserts that started before a cut-off to finish.
    WaitingForInserts {
        /// How many are still running.
        running: u64,
    },
    /// The backfill will cover these chunks of trade time.
    BackfillPlanned {
        /// The run being executed or resumed.
        run_id: String,
        /// Number of chunks in total.
        chunks: usize,
        /// Chunks already finished by an earlier attempt.
        already_done: usize,
    },
    /// One chunk's states were inserted into one state table (not yet recorded).
    ChunkInserted {
        /// The state table.
        table: String,
        /// Chunk start, µs since the epoch.
        start_micros: i64,
    },
    /// One chunk was backfilled into every timeframe and recorded.
    ChunkDone {
        /// 1-based position.
        index: usize,
        /// Number of chunks.
        total: usize,
        /// Chunk start, µs since the epoch.
        start_micros: i64,
        /// Silver rows counted by the backfill in this chunk.
        rows: u64,
    },
    /// The backfill finished; the ledger and snapshot are gone.
    BackfillFinished {
        /// Silver rows counted by the backfill in total (this attempt).
        rows: u64,
    },
}

impl std::fmt::Display for ApplyEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Created { name } => write!(f, "created {name}"),
            Self::Unchanged { name } => write!(f, "unchanged {name}"),
            Self::SwitchedOver { at_micros } => write!(f, "live path on at {at_micros} µs"),
            Self::WaitingForInserts { running } => {
                write!(f, "waiting for {running} earlier insert(s) to finish")
            }
            Self::BackfillPlanned {
                run_id,
                chunks,
                already_done,
            } => write!(
                f,
                "backfill run {run_id}: {chunks} chunk(s), {already_done} already done"
            ),
            Self::ChunkInserted {
                table,
                start_micros,
            } => write!(
                f,
                "backfill chunk from {start_micros} µs inserted into {table}"
            ),
            Self::ChunkDone {
                index,
                total,
                start_micros,
                rows,
            } => write!(
                f,
                "backfill chunk {index}/{total} (from {start_micros} µs): {rows} trade(s)"
            ),
            Self::BackfillFinished { rows } => write!(f, "backfill finished: {rows} trade(s)"),
        }
    }
}

/// What the backfill part of `apply` ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackfillOutcome {
    /// No backfill was asked for.
    NotRequested,
    /// A run finished now (possibly resuming an earlier attempt).
    Finished {
        /// The run id.
        run_id: String,
        /// Silver rows counted by the backfill in this attempt.
        rows: u64,
    },
    /// The live path already runs and an earlier backfill finished: nothing to do.
    AlreadyFinished,
}

/// What `apply` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// Objects created now.
    pub created: Vec<String>,
    /// Objects that existed and were left unchanged.
    pub unchanged: Vec<String>,
    /// Server time of the switch-over, when it happened in this call.
    pub switched_over_at: Option<i64>,
    /// The backfill's outcome.
    pub backfill: BackfillOutcome,
}

/// Knobs of `apply` that are not part of the DDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Backfill from existing silver rows.
    pub backfill: bool,
    /// How long to wait for earlier inserts to finish before giving up.
    pub insert_wait: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            backfill: false,
            insert_wait: Duration::from_secs(120),
        }
    }
}

/// Creates every gold object that does not exist yet (never alters an existing one) and,
/// with `backfill`, counts the silver rows that predate the live path.
pub async fn apply(
    client: &Client,
    config: &GoldConfig,
    backfill: bool,
    progress: impl FnMut(&ApplyEvent),
) -> Result<ApplyReport, GoldError> {
    let options = ApplyOptions {
        backfill,
        ..ApplyOptions::default()
    };
    apply_with(client, config, &options, progress).await
}

/// [`apply`] with every option.
pub async fn apply_with(
    client: &Client,
    config: &GoldConfig,
    options: &ApplyOptions,
    mut progress: impl FnMut(&ApplyEvent),
) -> Result<ApplyReport, GoldError> {
    let statements = ddl::generate(config);
    check_all(&statements)?;
    let existing = existing_objects(client, &config.database).await?;
    let mut report = ApplyReport {
        created: vec![],
        unchanged: vec![],
        switched_over_at: None,
        backfill: BackfillOutcome::NotRequested,
    };
    let Some((tap_view, before_switch)) = statements.split_last() else {
        return Ok(report);
    };
    for statement in before_switch {
        create(client, statement, &existing, &mut report, &mut progress).await?;
    }
    let live_already = existing.contains(&tap_view.name);
    if !options.backfill {
        if !live_already {
            create(client, tap_view, &existing, &mut report, &mut progress).await?;
            let at = server_now_micros(client).await?;
            report.switched_over_at = Some(at);
            progress(&ApplyEvent::SwitchedOver { at_micros: at });
        } else {
            report.unchanged.push(tap_view.name.clone());
            progress(&ApplyEvent::Unchanged {
                name: tap_view.name.clone(),
            });
        }
        return Ok(report);
    }

    let backfill = Backfill { client, config };
    backfill.create_progress_table().await?;
    let run = if !live_already {
        let run_id = format!("run-{}", server_now_micros(client).await?);
        backfill.record(&run_id, "started", 0, 0, 0).await?;
        backfill.create_ledger().await?;
        create(client, tap_view, &existing, &mut report, &mut progress).await?;
        let at = server_now_micros(client).await?;
        backfill.record(&run_id, "switched", 0, 0, at).await?;
        report.switched_over_at = Some(at);
        progress(&ApplyEvent::SwitchedOver { at_micros: at });
        Run {
            run_id,
            switched_at: at,
        }
    } else {
        report.unchanged.push(tap_view.name.clone());
        progress(&ApplyEvent::Unchanged {
            name: tap_view.name.clone(),
        });
        match backfill.unfinished_run().await? {
            Some(run) => run,
            None if backfill.any_finished_run().await? => {
                report.backfill = BackfillOutcome::AlreadyFinished;
                return Ok(report);
            }
            None => {
                return Err(GoldError::AlreadyLive {
                    tap_view: tap_view.name.clone(),
                    progress_table: config.progress_table(),
                });
            }
        }
    };
    let rows = backfill
        .run(&run, options.insert_wait, &mut progress)
        .await?;
    report.backfill = BackfillOutcome::Finished {
        run_id: run.run_id,
        rows,
    };
    Ok(report)
}

async fn create(
    client: &Client,
    statement: &Statement,
    existing: &BTreeSet<String>,
    report: &mut ApplyReport,
    progress: &mut impl FnMut(&ApplyEvent),
) -> Result<(), GoldError> {
    if existing.contains(&statement.name) {
        report.unchanged.push(statement.name.clone());
        progress(&ApplyEvent::Unchanged {
            name: statement.name.clone(),
        });
        return Ok(());
    }
    execute(
        client,
        &statement.sql,
        &format!("create {}", statement.name),
    )
    .await?;
    report.created.push(statement.name.clone());
    progress(&ApplyEvent::Created {
        name: statement.name.clone(),
    });
    Ok(())
}

async fn execute(client: &Client, sql: &str, context: &str) -> Result<(), GoldError> {
    client
        .query(sql)
        .execute()
        .await
        .map_err(GoldError::clickhouse(context))
}

/// Names of the tables and views in `database`.
pub async fn existing_objects(
    client: &Client,
    database: &str,
) -> Result<BTreeSet<String>, GoldError> {
    let sql = format!(
        "SELECT groupArray(name) FROM system.tables WHERE database = {}",
        quote::string_literal(database)
    );
    // One row always: the local front answers an empty result without the column header
    // the crate expects.
    let names: Vec<String> = client
        .query(&sql)
        .fetch_one()
        .await
        .map_err(GoldError::clickhouse("list existing objects"))?;
    Ok(names.into_iter().collect())
}

async fn server_now_micros(client: &Client) -> Result<i64, GoldError> {
    client
        .query("SELECT toUnixTimestamp64Micro(now64(6))")
        .fetch_one()
        .await
        .map_err(GoldError::clickhouse("read server time"))
}

/// The record of backfill runs and chunks.
pub fn progress_table_sql(config: &GoldConfig) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n    run_id String,\n    step LowCardinality(String),\n    chunk_start Int64,\n    rows UInt64,\n    at_micros Int64,\n    recorded_at DateTime64(6, 'UTC') DEFAULT now64(6)\n)\nENGINE = MergeTree\nORDER BY (run_id, step, chunk_start)",
        quote::qualified(&config.database, &config.progress_table())
    )
}

/// A trade's identity in the ledger and the anti-join.
const IDENTITY_COLUMNS: &str = "exchange, symbol, trade_id, timestamp";

/// The ledger of trades the live path counted during a backfill.
pub fn ledger_table_sql(config: &GoldConfig) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n    exchange LowCardinality(String),\n    symbol LowCardinality(String),\n    trade_id UInt64,\n    timestamp DateTime64(6, 'UTC')\n)\nENGINE = MergeTree\nORDER BY (exchange, symbol, timestamp, trade_id)",
        quote::qualified(&config.database, &config.ledger_table())
    )
}

/// The view from the tap into the ledger (created just before the tap view).
pub fn ledger_view_sql(config: &GoldConfig) -> String {
    format!(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {} TO {} AS\nSELECT {IDENTITY_COLUMNS} FROM {}",
        quote::qualified(&config.database, &config.ledger_view()),
        quote::qualified(&config.database, &config.ledger_table()),
        quote::qualified(&config.database, &config.tap_table()),
    )
}

/// The table one chunk of silver is copied into.
pub fn snapshot_table_sql(config: &GoldConfig) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n{}\n)\nENGINE = MergeTree\nORDER BY (exchange, symbol, timestamp, trade_id)",
        quote::qualified(&config.database, &config.snapshot_table()),
        ddl::tap_columns_sql()
    )
}

/// Trade-time filter of one chunk `[start, end)`, µs since the epoch.
pub fn chunk_filter(start_micros: i64, end_micros: i64) -> String {
    format!(
        "timestamp >= fromUnixTimestamp64Micro(toInt64({start_micros}), 'UTC') AND timestamp < fromUnixTimestamp64Micro(toInt64({end_micros}), 'UTC')"
    )
}

/// The snapshot rows of a chunk that the live path did not count.
pub fn missed_by_live_path(config: &GoldConfig, start_micros: i64, end_micros: i64) -> String {
    format!(
        "({IDENTITY_COLUMNS}) NOT IN (SELECT {IDENTITY_COLUMNS} FROM {} WHERE {})",
        quote::qualified(&config.database, &config.ledger_table()),
        chunk_filter(start_micros, end_micros)
    )
}

/// The backfill insert of one chunk into one timeframe's state table: the materialized
/// view's own `SELECT` over the snapshot, restricted to rows the live path missed.
pub fn backfill_insert_sql(
    config: &GoldConfig,
    tf: &Timeframe,
    start_micros: i64,
    end_micros: i64,
) -> String {
    let select = ddl::state_select(
        tf,
        &quote::qualified(&config.database, &config.snapshot_table()),
        Some(&missed_by_live_path(config, start_micros, end_micros)),
    );
    format!(
        "INSERT INTO {} ({})\n{select}",
        quote::qualified(&config.database, &config.state_table(tf)),
        ddl::state_column_names().join(", ")
    )
}

/// The run being executed: its id and the switch-over instant.
struct Run {
    run_id: String,
    switched_at: i64,
}

struct Backfill<'a> {
    client: &'a Client,
    config: &'a GoldConfig,
}

struct UnfinishedRun {
    run_id: String,
    switched_at: i64,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct TimeRange {
    rows: u64,
    min_micros: i64,
    max_micros: i64,
}

impl Backfill<'_> {
    fn qualified(&self, name: &str) -> String {
        quote::qualified(&self.config.database, name)
    }

    async fn create_progress_table(&self) -> Result<(), GoldError> {
        let sql = progress_table_sql(self.config);
        execute(self.client, &sql, "create backfill progress table").await
    }

    async fn record(
        &self,
        run_id: &str,
        step: &str,
        chunk_start: i64,
        rows: u64,
        at_micros: i64,
    ) -> Result<(), GoldError> {
        let sql = format!(
            "INSERT INTO {} (run_id, step, chunk_start, rows, at_micros) VALUES ({}, {}, {chunk_start}, {rows}, {at_micros})",
            self.qualified(&self.config.progress_table()),
            quote::string_literal(run_id),
            quote::string_literal(step),
        );
        execute(self.client, &sql, &format!("record backfill step {step}")).await
    }

    async fn unfinished_run(&self) -> Result<Option<Run>, GoldError> {
        let sql = format!(
            "SELECT groupArray((run_id, switched_at)) AS runs FROM (SELECT run_id, maxIf(at_micros, step = 'switched') AS switched_at FROM {} GROUP BY run_id HAVING countIf(step = 'finished') = 0 ORDER BY run_id LIMIT 1)",
            self.qualified(&self.config.progress_table())
        );
        let runs: Vec<(String, i64)> = self
            .client
            .query(&sql)
            .fetch_one()
            .await
            .map_err(GoldError::clickhouse("read backfill progress"))?;
        let Some((run_id, switched_at)) = runs.into_iter().next() else {
            return Ok(None);
        };
        let run = UnfinishedRun {
            run_id,
            switched_at,
        };
        // A crash between creating the tap view and recording it leaves no switch-over
        // time; "now" is later than the real instant, which only makes the wait longer.
        let switched_at = if run.switched_at > 0 {
            run.switched_at
        } else {
            server_now_micros(self.client).await?
        };
        Ok(Some(Run {
            run_id: run.run_id,
            switched_at,
        }))
    }

    async fn any_finished_run(&self) -> Result<bool, GoldError> {
        let sql = format!(
            "SELECT count() FROM {} WHERE step = 'finished'",
            self.qualified(&self.config.progress_table())
        );
        let finished: u64 = self
            .client
            .query(&sql)
            .fetch_one()
            .await
            .map_err(GoldError::clickhouse("read backfill progress"))?;
        Ok(finished > 0)
    }

    async fn create_ledger(&self) -> Result<(), GoldError> {
        execute(
            self.client,
            &ledger_table_sql(self.config),
            "create backfill ledger",
        )
        .await?;
        execute(
            self.client,
            &ledger_view_sql(self.config),
            "create backfill ledger view",
        )
        .await
    }

    async fn create_snapshot(&self) -> Result<(), GoldError> {
        execute(
            self.client,
            &snapshot_table_sql(self.config),
            "create backfill snapshot",
        )
        .await
    }

    /// Waits until no insert that started before `cutoff_micros` is running.
    async fn wait_for_inserts_before(
        &self,
        cutoff_micros: i64,
        limit: Duration,
        progress: &mut impl FnMut(&ApplyEvent),
    ) -> Result<(), GoldError> {
        // system.processes has no start time column on this engine, only `elapsed`; a
        // query's start is now - elapsed. The 100 ms margin makes the cut conservative:
        // waiting for a few later inserts too is harmless.
        let sql = format!(
            "SELECT count() FROM system.processes WHERE query_kind = 'Insert' AND toUnixTimestamp64Micro(now64(6)) - toInt64(elapsed * 1000000) < {}",
            cutoff_micros.saturating_add(100_000)
        );
        let started = Instant::now();
        let mut reported = false;
        loop {
            let running: u64 = self
                .client
                .query(&sql)
                .fetch_one()
                .await
                .map_err(GoldError::clickhouse("list running inserts"))?;
            if running == 0 {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(GoldError::InsertsStillRunning {
                    running,
                    since_micros: cutoff_micros,
                    waited_secs: limit.as_secs(),
                });
            }
            if !reported {
                progress(&ApplyEvent::WaitingForInserts { running });
                reported = true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn run(
        &self,
        run: &Run,
        insert_wait: Duration,
        progress: &mut impl FnMut(&ApplyEvent),
    ) -> Result<u64, GoldError> {
        let source = self.qualified(&self.config.source_table);
        let snapshot = self.qualified(&self.config.snapshot_table());
        let ledger = self.qualified(&self.config.ledger_table());
        let progress_table = self.qualified(&self.config.progress_table());
        self.create_snapshot().await?;
        self.wait_for_inserts_before(run.switched_at, insert_wait, progress)
            .await?;

        // Every row the live path missed is in silver now, so the chunks cover its range.
        let range: TimeRange = self
            .client
            .query(&format!(
                "SELECT count() AS rows, toUnixTimestamp64Micro(min(timestamp)) AS min_micros, toUnixTimestamp64Micro(max(timestamp)) AS max_micros FROM {source}"
            ))
            .fetch_one()
            .await
            .map_err(GoldError::clickhouse("read silver time range"))?;
        let chunk_micros =
            i64::try_from(self.config.backfill_chunk_seconds.saturating_mul(1_000_000))
                .unwrap_or(i64::MAX);
        let chunks: Vec<i64> = if range.rows == 0 {
            vec![]
        } else {
            let first = range.min_micros.div_euclid(chunk_micros) * chunk_micros;
            let mut starts = vec![];
            let mut start = first;
            while start <= range.max_micros {
                starts.push(start);
                start = start.saturating_add(chunk_micros);
            }
            starts
        };
        let done: Vec<i64> = self
            .client
            .query(&format!(
                "SELECT groupArray(chunk_start) FROM {progress_table} WHERE run_id = {} AND step = 'chunk'",
                quote::string_literal(&run.run_id)
            ))
            .fetch_one()
            .await
            .map_err(GoldError::clickhouse("read finished chunks"))?;
        let done: BTreeSet<i64> = done.into_iter().collect();
        progress(&ApplyEvent::BackfillPlanned {
            run_id: run.run_id.clone(),
            chunks: chunks.len(),
            already_done: chunks.iter().filter(|c| done.contains(c)).count(),
        });

        let mut total_rows = 0;
        for (index, &start) in chunks.iter().enumerate() {
            if done.contains(&start) {
                continue;
            }
            let end = start.saturating_add(chunk_micros);
            let in_chunk = chunk_filter(start, end);
            execute(
                self.client,
                &format!("TRUNCATE TABLE {snapshot}"),
                "clear snapshot",
            )
            .await?;
            execute(
                self.client,
                &format!(
                    "INSERT INTO {snapshot} SELECT exchange, symbol, trade_id, timestamp, price, quantity, quote_volume FROM {source} WHERE {in_chunk}"
                ),
                "copy silver chunk into snapshot",
            )
            .await?;
            let copied_at = server_now_micros(self.client).await?;
            // Inserts running during the copy may have their silver rows in the snapshot
            // but their ledger rows not yet written; wait until they are.
            self.wait_for_inserts_before(copied_at, insert_wait, progress)
                .await?;
            let missed_by_live_path = missed_by_live_path(self.config, start, end);
            let rows: u64 = self
                .client
                .query(&format!(
                    "SELECT count() FROM {snapshot} WHERE {missed_by_live_path}"
                ))
                .fetch_one()
                .await
                .map_err(GoldError::clickhouse("count backfill rows"))?;
            // In rollup mode only the base timeframe is written; the rollup views carry
            // the states up (and inherit the deduplication token).
            let targets: Vec<Timeframe> = match self.config.rollup_base() {
                Some(base) => vec![base],
                None => self.config.timeframes.clone(),
            };
            for tf in &targets {
                let token = format!("gold-backfill:{}:{}:{start}", run.run_id, tf.label());
                self.client
                    .query(&backfill_insert_sql(self.config, tf, start, end))
                    .with_setting("insert_deduplication_token", token)
                    .with_setting("deduplicate_blocks_in_dependent_materialized_views", "1")
                    .execute()
                    .await
                    .map_err(GoldError::clickhouse(format!(
                        "backfill {} chunk {start}",
                        self.config.state_table(tf)
                    )))?;
                progress(&ApplyEvent::ChunkInserted {
                    table: self.config.state_table(tf),
                    start_micros: start,
                });
            }
            self.record(&run.run_id, "chunk", start, rows, 0).await?;
            total_rows += rows;
            progress(&ApplyEvent::ChunkDone {
                index: index + 1,
                total: chunks.len(),
                start_micros: start,
                rows,
            });
        }

        execute(
            self.client,
            &format!(
                "DROP VIEW IF EXISTS {}",
                self.qualified(&self.config.ledger_view())
            ),
            "drop backfill ledger view",
        )
        .await?;
        execute(
            self.client,
            &format!("DROP TABLE IF EXISTS {ledger}"),
            "drop backfill ledger",
        )
        .await?;
        execute(
            self.client,
            &format!("DROP TABLE IF EXISTS {snapshot}"),
            "drop backfill snapshot",
        )
        .await?;
        self.record(&run.run_id, "finished", 0, total_rows, 0)
            .await?;
        progress(&ApplyEvent::BackfillFinished { rows: total_rows });
        Ok(total_rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::ClickHouseDialect;
    use sqlparser::parser::Parser;

    #[test]
    fn backfill_statements_pass_sqlparser() {
        let config = GoldConfig::default();
        let tf = "15m".parse().unwrap();
        for sql in [
            progress_table_sql(&config),
            ledger_table_sql(&config),
            ledger_view_sql(&config),
            snapshot_table_sql(&config),
            backfill_insert_sql(&config, &tf, 0, 3_600_000_000),
        ] {
            let parsed = Parser::parse_sql(&ClickHouseDialect {}, &sql)
                .unwrap_or_else(|e| panic!("{e}: {sql}"));
            assert_eq!(parsed.len(), 1, "{sql}");
        }
    }
}
