//! The one error type of the crate.

/// Why generating, checking or applying the gold DDL failed.
#[derive(Debug, thiserror::Error)]
pub enum GoldError {
    /// sqlparser refused a generated statement or fragment.
    #[error("statement `{statement}`: {part}: sqlparser refused it: {message}")]
    Parse {
        /// Object the statement creates.
        statement: String,
        /// Which part was parsed.
        part: String,
        /// sqlparser's message.
        message: String,
    },
    /// A statement carries nothing sqlparser could check (a generator bug).
    #[error("statement `{statement}`: no fragment to check")]
    Unchecked {
        /// Object the statement creates.
        statement: String,
    },
    /// ClickHouse refused a statement or query.
    #[error("clickhouse: {context}: {source}")]
    ClickHouse {
        /// What was being done, e.g. `create gold_ohlcv_1m_state`.
        context: String,
        /// The client's error.
        source: clickhouse::error::Error,
    },
    /// Inserts that started before the switch-over were still running after the timeout.
    #[error(
        "backfill: {running} insert(s) that started before {since_micros} µs are still running after {waited_secs} s; retry `apply --backfill` to resume"
    )]
    InsertsStillRunning {
        /// How many.
        running: u64,
        /// The cut-off, microseconds since the epoch.
        since_micros: i64,
        /// How long apply waited.
        waited_secs: u64,
    },
    /// A backfill was asked for, but the live path already runs and no backfill run was
    /// recorded: an exact backfill is no longer possible without recreating the objects.
    #[error(
        "backfill: `{tap_view}` already exists and no unfinished backfill run is recorded in `{progress_table}`; the candles already cover silver, or drop the gold objects and apply again"
    )]
    AlreadyLive {
        /// The switch-over view.
        tap_view: String,
        /// The progress table.
        progress_table: String,
    },
    /// Writing the checked-in files failed.
    #[error("file `{path}`: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl GoldError {
    pub(crate) fn clickhouse(
        context: impl Into<String>,
    ) -> impl FnOnce(clickhouse::error::Error) -> Self {
        let context = context.into();
        move |source| GoldError::ClickHouse { context, source }
    }
}
