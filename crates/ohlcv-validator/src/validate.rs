//! The validation run: resolve both sides, settle the range, compare and attribute inside
//! ClickHouse, and assemble the [`Report`]. The process holds only counts and the first N
//! mismatches; both sides stay in the engine.

use std::sync::atomic::{AtomicU64, Ordering};

use clickhouse::Client;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::ValidatorConfig;
use crate::error::ValidatorError;
use crate::range::{WindowRange, format_rfc3339, now_unix_seconds, parse_rfc3339};
use crate::report::{
    AttributionCount, CandleValues, Mismatch, MismatchCounts, Report, ReportRange, SCHEMA,
    TimeframeReport, Verdict,
};
use crate::sql::{self, V1Projection, VolumeKind};
use crate::timeframe::Timeframe;

/// Compares v1 with v2 for every configured timeframe and attributes each mismatch.
///
/// `Ok` carries PASS as well as FAIL; `Err` means the comparison could not be made.
/// Scratch tables are dropped before returning, also on error.
pub async fn validate(client: &Client, config: &ValidatorConfig) -> Result<Report, ValidatorError> {
    let mut scratch = Scratch::new(config.work_database());
    let result = run(client, config, &mut scratch).await;
    scratch.drop_all(client).await;
    result
}

/// Recomputes the fingerprint of `report`'s inputs as they are now. Equal to
/// `report.fingerprint` exactly when the configuration, the ranges and both sides' content
/// are unchanged, so a gate can tell a stale report. Cheap: two scans per timeframe, no join.
pub async fn current_fingerprint(
    client: &Client,
    config: &ValidatorConfig,
    report: &Report,
) -> Result<String, ValidatorError> {
    let mut scratch = Scratch::new(config.work_database());
    let result = async {
        let mut sides = Vec::new();
        for tf_report in &report.timeframes {
            let tf = tf_report.timeframe;
            let range = WindowRange {
                start: parse_rfc3339(&tf_report.range.start).unwrap_or(0),
                end: parse_rfc3339(&tf_report.range.end).unwrap_or(0),
            };
            let sides_sql = resolve_sides(client, config, tf, &mut scratch).await?;
            let (v1, v2) = checksums(client, &sides_sql, tf, range).await?;
            sides.push(FingerprintPart {
                timeframe: tf,
                range,
                v1,
                v2,
            });
        }
        Ok(fingerprint(config, &sides))
    }
    .await;
    scratch.drop_all(client).await;
    result
}

/// `fetch_one` that reads the response to its end: dropping it after the first row makes
/// the HTTP client close the connection, which the local front answers by replacing its
/// engine connection.
async fn fetch_single<T: clickhouse::RowOwned + clickhouse::RowRead>(
    query: clickhouse::query::Query,
) -> clickhouse::error::Result<T> {
    let mut cursor = query.fetch::<T>()?;
    let first = cursor.next().await?;
    while cursor.next().await?.is_some() {}
    first.ok_or(clickhouse::error::Error::RowNotFound)
}

/// Scratch tables created during one run, dropped at the end.
struct Scratch {
    database: String,
    nonce: String,
    tables: Vec<String>,
}

static RUNS: AtomicU64 = AtomicU64::new(0);

impl Scratch {
    fn new(database: &str) -> Self {
        let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        Self {
            database: database.to_owned(),
            nonce: format!(
                "{}_{}_{}",
                std::process::id(),
                nanos,
                RUNS.fetch_add(1, Ordering::Relaxed)
            ),
            tables: Vec::new(),
        }
    }

    /// A fresh qualified scratch table name; it is dropped at the end of the run.
    fn table(&mut self, purpose: &str) -> String {
        let name = format!("_ohlcv_validator_{}_{purpose}", self.nonce);
        let qualified = sql::object(&self.database, &name);
        self.tables.push(qualified.clone());
        qualified
    }

    async fn drop_all(&mut self, client: &Client) {
        for table in self.tables.drain(..) {
            if let Err(e) = client.query_raw(&sql::drop_table(&table)).execute().await {
                tracing::warn!(%table, error = %e, "could not drop scratch table");
            }
        }
    }
}

/// Both side projections of one timeframe, and how volumes compare.
struct Sides {
    v1: String,
    v2: String,
    volume: VolumeKind,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct ColumnRow {
    name: String,
    r#type: String,
}

async fn columns(
    client: &Client,
    database: &str,
    table: &str,
) -> Result<Vec<ColumnRow>, ValidatorError> {
    let object = sql::object(database, table);
    let rows: Vec<ColumnRow> = client
        .query_raw(&sql::columns_of(database, table))
        .fetch_all()
        .await
        .map_err(ValidatorError::clickhouse(format!(
            "list columns of {object}"
        )))?;
    if rows.is_empty() {
        return Err(ValidatorError::MissingObject { object });
    }
    Ok(rows)
}

fn column_type(
    cols: &[ColumnRow],
    object: &str,
    column: &str,
    key: &str,
) -> Result<String, ValidatorError> {
    cols.iter()
        .find(|c| c.name == column)
        .map(|c| c.r#type.clone())
        .ok_or_else(|| ValidatorError::MissingColumn {
            object: object.to_owned(),
            column: column.to_owned(),
            key: key.to_owned(),
        })
}

async fn resolve_sides(
    client: &Client,
    config: &ValidatorConfig,
    tf: Timeframe,
    scratch: &mut Scratch,
) -> Result<Sides, ValidatorError> {
    let (v1_db, v1_table) = match config.v1.files.get(tf.label()) {
        Some(path) => {
            let table =
                crate::files::load(client, config, path, scratch.table(&format!("v1_{tf}")))
                    .await?;
            (scratch.database.clone(), table)
        }
        None => (config.v1_database().to_owned(), config.v1_table(tf)),
    };
    let v1_object = sql::object(&v1_db, &v1_table);
    let v2_db = config.v2_database();
    let v2_view = config.v2_view(tf);
    let v2_object = sql::object(v2_db, &v2_view);
    // Both probes at once; v1's error, if any, is still the one reported.
    let (v1_cols, v2_cols) = tokio::join!(
        columns(client, &v1_db, &v1_table),
        columns(client, v2_db, &v2_view)
    );
    let (v1_cols, v2_cols) = (v1_cols?, v2_cols?);
    let c = &config.v1.columns;
    for (key, column) in [
        ("v1.columns.symbol", &c.symbol),
        ("v1.columns.exchange", &c.exchange),
        ("v1.columns.open", &c.open),
        ("v1.columns.high", &c.high),
        ("v1.columns.low", &c.low),
        ("v1.columns.close", &c.close),
        ("v1.columns.trade_count", &c.trade_count),
    ] {
        column_type(&v1_cols, &v1_object, column, key)?;
    }
    let ws_type = column_type(
        &v1_cols,
        &v1_object,
        &c.window_start,
        "v1.columns.window_start",
    )?;
    let v1_volume_type = column_type(&v1_cols, &v1_object, &c.volume, "v1.columns.volume")?;

    for column in [
        "exchange",
        "symbol",
        "window_start",
        "open",
        "high",
        "low",
        "close",
        "trade_count",
    ] {
        column_type(&v2_cols, &v2_object, column, "v2.prefix")?;
    }
    let v2_volume_type = column_type(&v2_cols, &v2_object, "volume", "v2.prefix")?;
    let volume = VolumeKind::from_types(&v1_volume_type, &v2_volume_type);

    let v1 = sql::v1_projection(
        &V1Projection {
            table: v1_object,
            columns: c,
            window_start_type: ws_type,
            symbols: &config.mapping.symbols,
            exchanges: &config.mapping.exchanges,
        },
        volume,
    );
    let v2 = sql::v2_projection(&v2_object, volume);
    Ok(Sides { v1, v2, volume })
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct Extent {
    rows: u64,
    first: i64,
    last: i64,
}

async fn extent(client: &Client, projection: &str, what: &str) -> Result<Extent, ValidatorError> {
    fetch_single(client.query_raw(&sql::side_extent(projection)))
        .await
        .map_err(ValidatorError::clickhouse(format!("extent of {what}")))
}

/// The range for one timeframe: explicit bounds where configured, otherwise the overlap of
/// both sides; never past the start of the window that is still open now.
async fn settle_range(
    client: &Client,
    config: &ValidatorConfig,
    sides: &Sides,
    tf: Timeframe,
) -> Result<WindowRange, ValidatorError> {
    let explicit_start = parse_rfc3339(&config.range.start);
    let explicit_end = parse_rfc3339(&config.range.end);
    let (mut start, mut end) = (
        explicit_start.unwrap_or(i64::MIN),
        explicit_end.unwrap_or(i64::MAX),
    );
    if explicit_start.is_none() || explicit_end.is_none() {
        let _step = Step::new(tf, "range probe");
        let (v1_what, v2_what) = (format!("v1 {tf}"), format!("v2 {tf}"));
        let (v1, v2) = tokio::try_join!(
            extent(client, &sides.v1, &v1_what),
            extent(client, &sides.v2, &v2_what)
        )?;
        if v1.rows == 0 || v2.rows == 0 {
            // No overlap: an empty range that still shows what each side has.
            return Ok(WindowRange { start: 0, end: 0 });
        }
        if explicit_start.is_none() {
            start = v1.first.max(v2.first);
        }
        if explicit_end.is_none() {
            end = v1.last.min(v2.last) + tf.seconds();
        }
    }
    let open_window = tf.floor(now_unix_seconds());
    Ok(WindowRange {
        start,
        end: end.min(open_window),
    })
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
struct SideSum {
    rows: u64,
    checksum: u64,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct ChecksumRow {
    rows: u64,
    checksum: u64,
}

async fn checksums(
    client: &Client,
    sides: &Sides,
    tf: Timeframe,
    range: WindowRange,
) -> Result<(SideSum, SideSum), ValidatorError> {
    let side =
        |name: &'static str, projection: &str| {
            let sql = sql::side_checksum(projection, range);
            async move {
                let row: ChecksumRow = fetch_single(client.query_raw(&sql)).await.map_err(
                    ValidatorError::clickhouse(format!("checksum of {name} {tf}")),
                )?;
                Ok::<_, ValidatorError>(SideSum {
                    rows: row.rows,
                    checksum: row.checksum,
                })
            }
        };
    tokio::try_join!(side("v1", &sides.v1), side("v2", &sides.v2))
}

#[derive(Debug, serde::Serialize)]
struct FingerprintPart {
    timeframe: Timeframe,
    range: WindowRange,
    v1: SideSum,
    v2: SideSum,
}

fn fingerprint(config: &ValidatorConfig, parts: &[FingerprintPart]) -> String {
    let material = serde_json::json!({
        "schema": SCHEMA,
        "config": config.fingerprint_material(),
        "timeframes": parts,
    });
    let mut hasher = Sha256::new();
    hasher.update(material.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct CountsRow {
    total: u64,
    k0: u64,
    k1: u64,
    k2: u64,
    k3: u64,
    k4: u64,
    k5: u64,
    k6: u64,
    k7: u64,
    k8: u64,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct AttributionRow {
    verdict: String,
    v1_cause: String,
    v2_cause: String,
    candles: u64,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct DetailRow {
    exchange: String,
    symbol: String,
    window_start: i64,
    kinds: u32,
    v1_rows: u64,
    v2_rows: u64,
    v1_open: f64,
    v1_high: f64,
    v1_low: f64,
    v1_close: f64,
    v1_volume: String,
    v1_trades: u64,
    v2_open: f64,
    v2_high: f64,
    v2_low: f64,
    v2_close: f64,
    v2_volume: String,
    v2_trades: u64,
    r_trades: u64,
    r_open: f64,
    r_high: f64,
    r_low: f64,
    r_close: f64,
    r_volume: String,
    verdict: String,
    v1_cause: String,
    v2_cause: String,
}

impl DetailRow {
    fn into_mismatch(self) -> Mismatch {
        let kinds = sql::KINDS
            .iter()
            .enumerate()
            .filter(|(bit, _)| self.kinds & (1 << bit) != 0)
            .map(|(_, name)| (*name).to_owned())
            .collect();
        let non_empty = |s: String| if s.is_empty() { None } else { Some(s) };
        Mismatch {
            exchange: self.exchange,
            symbol: self.symbol,
            window_start: format_rfc3339(self.window_start),
            kinds,
            v1: (self.v1_rows > 0).then_some(CandleValues {
                open: self.v1_open,
                high: self.v1_high,
                low: self.v1_low,
                close: self.v1_close,
                volume: self.v1_volume,
                trade_count: self.v1_trades,
            }),
            v2: (self.v2_rows > 0).then_some(CandleValues {
                open: self.v2_open,
                high: self.v2_high,
                low: self.v2_low,
                close: self.v2_close,
                volume: self.v2_volume,
                trade_count: self.v2_trades,
            }),
            recomputed: (self.r_trades > 0).then_some(CandleValues {
                open: self.r_open,
                high: self.r_high,
                low: self.r_low,
                close: self.r_close,
                volume: self.r_volume,
                trade_count: self.r_trades,
            }),
            attribution: self.verdict,
            v1_cause: non_empty(self.v1_cause),
            v2_cause: non_empty(self.v2_cause),
        }
    }
}

async fn run(
    client: &Client,
    config: &ValidatorConfig,
    scratch: &mut Scratch,
) -> Result<Report, ValidatorError> {
    let mut timeframes = Vec::new();
    let mut parts = Vec::new();
    let mut covered: Option<WindowRange> = None;
    let run_started = std::time::Instant::now();
    for &tf in &config.timeframes {
        let sides = {
            let _step = Step::new(tf, "resolve sides");
            resolve_sides(client, config, tf, scratch).await?
        };
        let range = settle_range(client, config, &sides, tf).await?;
        let (report, v1_sum, v2_sum) =
            compare_timeframe(client, config, scratch, &sides, tf, range).await?;
        parts.push(FingerprintPart {
            timeframe: tf,
            range,
            v1: v1_sum,
            v2: v2_sum,
        });
        if !range.is_empty() {
            covered = Some(covered.map_or(range, |c| c.cover(range)));
        }
        tracing::info!(timeframe = %tf, verdict = ?report.verdict, mismatches = report.mismatch_counts.total, elapsed_ms = run_started.elapsed().as_millis() as u64, "compared");
        timeframes.push(report);
    }
    let verdict = if timeframes.iter().all(|t| t.verdict == Verdict::Pass) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    let covered = covered.unwrap_or(WindowRange { start: 0, end: 0 });
    Ok(Report {
        schema: SCHEMA.to_owned(),
        generated_at: format_rfc3339(now_unix_seconds()),
        verdict,
        range: ReportRange {
            start: covered.start_rfc3339(),
            end: covered.end_rfc3339(),
        },
        fingerprint: fingerprint(config, &parts),
        ohlc_tolerance: config.tolerance.ohlc_abs,
        volume_tolerance: config.tolerance.volume_abs,
        timeframes,
    })
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct TotalsRow {
    v1_rows: u64,
    v2_rows: u64,
    v1_checksum: u64,
    v2_checksum: u64,
    candidates: u64,
}

/// Logs a step's wall time at debug level when dropped, so `RUST_LOG=ohlcv_validator=debug`
/// shows where a run spends its time (also for a step that failed).
struct Step {
    timeframe: Timeframe,
    name: &'static str,
    started: std::time::Instant,
}

impl Step {
    fn new(timeframe: Timeframe, name: &'static str) -> Self {
        Self {
            timeframe,
            name,
            started: std::time::Instant::now(),
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        tracing::debug!(timeframe = %self.timeframe, step = self.name, elapsed_ms = self.started.elapsed().as_millis() as u64, "step");
    }
}

/// Runs one statement of a timeframe's comparison as a timed step; `what` names it in
/// the error.
async fn execute_step(
    client: &Client,
    timeframe: Timeframe,
    step: &'static str,
    sql: &str,
    what: String,
) -> Result<(), ValidatorError> {
    let _step = Step::new(timeframe, step);
    client
        .query_raw(sql)
        .execute()
        .await
        .map_err(ValidatorError::clickhouse(what))
}

/// Compares one timeframe and returns its report with each side's count and checksum.
async fn compare_timeframe(
    client: &Client,
    config: &ValidatorConfig,
    scratch: &mut Scratch,
    sides: &Sides,
    tf: Timeframe,
    range: WindowRange,
) -> Result<(TimeframeReport, SideSum, SideSum), ValidatorError> {
    let comparison_table = scratch.table(&format!("comparison_{tf}"));
    execute_step(
        client,
        tf,
        "compare and checksum (pass 1)",
        &sql::create_comparison(
            &comparison_table,
            &sides.v1,
            &sides.v2,
            range,
            sides.volume,
            &config.tolerance,
        ),
        format!("compare {tf} candles"),
    )
    .await?;
    let totals: TotalsRow =
        fetch_single(client.query_raw(&sql::comparison_totals(&comparison_table)))
            .await
            .map_err(ValidatorError::clickhouse(format!(
                "sum up {tf} comparison"
            )))?;
    let v1_sum = SideSum {
        rows: totals.v1_rows,
        checksum: totals.v1_checksum,
    };
    let v2_sum = SideSum {
        rows: totals.v2_rows,
        checksum: totals.v2_checksum,
    };

    let mut counts = MismatchCounts::default();
    let mut attribution = Vec::new();
    let mut mismatches = Vec::new();
    if totals.candidates > 0 {
        let mismatch_table = scratch.table(&format!("mismatch_{tf}"));
        execute_step(
            client,
            tf,
            "mismatching keys (pass 2)",
            &sql::create_mismatches(
                &mismatch_table,
                &comparison_table,
                &sides.v1,
                &sides.v2,
                range,
                sides.volume,
                &config.tolerance,
            ),
            format!("find {tf} mismatches"),
        )
        .await?;
        let c: CountsRow = fetch_single(client.query_raw(&sql::mismatch_counts(&mismatch_table)))
            .await
            .map_err(ValidatorError::clickhouse(format!("count {tf} mismatches")))?;
        counts = MismatchCounts {
            total: c.total,
            only_in_v1: c.k0,
            only_in_v2: c.k1,
            duplicate_key: c.k2,
            open: c.k3,
            high: c.k4,
            low: c.k5,
            close: c.k6,
            volume: c.k7,
            trade_count: c.k8,
        };
        if counts.total > 0 {
            let attribution_table = scratch.table(&format!("attribution_{tf}"));
            let silver = sql::object(config.silver_database(), &config.silver.table);
            execute_step(
                client,
                tf,
                "attribution",
                &sql::create_attribution(
                    &attribution_table,
                    &sql::Attribution {
                        mismatches: &mismatch_table,
                        silver: &silver,
                        timeframe: tf,
                        range,
                        volume: sides.volume,
                        tolerance: &config.tolerance,
                    },
                ),
                format!("attribute {tf} mismatches"),
            )
            .await?;
            let rows: Vec<AttributionRow> = client
                .query_raw(&sql::attribution_counts(&attribution_table))
                .fetch_all()
                .await
                .map_err(ValidatorError::clickhouse(format!(
                    "summarize {tf} attribution"
                )))?;
            attribution = rows
                .into_iter()
                .map(|r| AttributionCount {
                    verdict: r.verdict,
                    v1_cause: r.v1_cause,
                    v2_cause: r.v2_cause,
                    candles: r.candles,
                })
                .collect();
            let mut cursor = client
                .query_raw(&sql::attribution_details(
                    &attribution_table,
                    config.report.max_mismatches,
                ))
                .fetch::<DetailRow>()
                .map_err(ValidatorError::clickhouse(format!("list {tf} mismatches")))?;
            while let Some(row) = cursor
                .next()
                .await
                .map_err(ValidatorError::clickhouse(format!("list {tf} mismatches")))?
            {
                mismatches.push(row.into_mismatch());
            }
        }
    }

    let rows_match = counts.only_in_v1 == 0 && counts.only_in_v2 == 0 && counts.duplicate_key == 0;
    let ohlc_within_tolerance =
        counts.open == 0 && counts.high == 0 && counts.low == 0 && counts.close == 0;
    let volume_match = counts.volume == 0;
    let trade_count_match = counts.trade_count == 0;
    let mut notes = Vec::new();
    if range.is_empty() {
        notes.push("no overlapping closed windows: at least one side has no candles".to_owned());
    } else if v1_sum.rows == 0 && v2_sum.rows == 0 {
        notes.push("no candles in range on either side".to_owned());
    }
    let pass = rows_match
        && ohlc_within_tolerance
        && volume_match
        && trade_count_match
        && notes.is_empty();
    let report = TimeframeReport {
        timeframe: tf,
        range: ReportRange {
            start: range.start_rfc3339(),
            end: range.end_rfc3339(),
        },
        v1_rows: v1_sum.rows,
        v2_rows: v2_sum.rows,
        rows_match,
        ohlc_within_tolerance,
        volume_match,
        trade_count_match,
        verdict: if pass { Verdict::Pass } else { Verdict::Fail },
        volume_comparison: match sides.volume {
            VolumeKind::Float => "float".to_owned(),
            VolumeKind::Decimal { .. } => "decimal".to_owned(),
        },
        v1_checksum: format!("{:016x}", v1_sum.checksum),
        v2_checksum: format!("{:016x}", v2_sum.checksum),
        mismatches_truncated: (mismatches.len() as u64) < counts.total,
        mismatch_counts: counts,
        attribution,
        mismatches,
        notes,
    };
    Ok((report, v1_sum, v2_sum))
}
