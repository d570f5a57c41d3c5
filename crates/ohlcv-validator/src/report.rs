//! The validation report: the structure behind `ohlcv-validation-report/v1` (documented in
//! `docs/VALIDATION-REPORT.md`) and its markdown rendering in the tracker's format.

use serde::{Deserialize, Serialize};

use crate::timeframe::Timeframe;

/// Value of the report's `schema` field.
pub const SCHEMA: &str = "ohlcv-validation-report/v1";

/// The tracker's separator row under the "OHLCV Validation Results" header.
pub const TRACKER_SEPARATOR: &str = "|-----------|--------------|--------------|-------|------------------------|--------------|--------|";

/// PASS or FAIL, for one timeframe or for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Every check held.
    #[serde(rename = "PASS")]
    Pass,
    /// At least one check failed.
    #[serde(rename = "FAIL")]
    Fail,
}

/// The compared range, RFC 3339 UTC; `end` is exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRange {
    /// Inclusive first window start.
    pub start: String,
    /// Exclusive last window start.
    pub end: String,
}

/// A whole validation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// When the report was made, RFC 3339 UTC.
    pub generated_at: String,
    /// PASS only if every timeframe passed.
    pub verdict: Verdict,
    /// The range covering every timeframe's compared range.
    pub range: ReportRange,
    /// sha256 (hex) over the configuration, the ranges, and each side's row count and
    /// content checksum per timeframe; see `docs/VALIDATION-REPORT.md`.
    pub fingerprint: String,
    /// The OHLC tolerance used (shown in the markdown header).
    pub ohlc_tolerance: f64,
    /// Volume tolerance used when v1 volumes are floating point.
    pub volume_tolerance: f64,
    /// Per timeframe, in configured order.
    pub timeframes: Vec<TimeframeReport>,
}

/// Results for one timeframe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeframeReport {
    /// Label, e.g. `1m`.
    pub timeframe: Timeframe,
    /// The range compared for this timeframe.
    pub range: ReportRange,
    /// v1 candles in range.
    pub v1_rows: u64,
    /// v2 candles in range.
    pub v2_rows: u64,
    /// The two sides have exactly the same keys, each once.
    pub rows_match: bool,
    /// Every open, high, low and close within the tolerance.
    pub ohlc_within_tolerance: bool,
    /// Every volume equal (decimal) or within `volume_tolerance` (floating point v1).
    pub volume_match: bool,
    /// Every trade count equal.
    pub trade_count_match: bool,
    /// PASS when all four hold and there is at least one candle.
    pub verdict: Verdict,
    /// How volumes were compared: `decimal` or `float`.
    pub volume_comparison: String,
    /// Order-independent checksum of the v1 candles in range (hex u64).
    pub v1_checksum: String,
    /// Same for v2.
    pub v2_checksum: String,
    /// Mismatching candles, total and per kind.
    pub mismatch_counts: MismatchCounts,
    /// Attribution of all mismatches, grouped by verdict and causes.
    pub attribution: Vec<AttributionCount>,
    /// The first mismatches in (exchange, symbol, window_start) order, with details.
    pub mismatches: Vec<Mismatch>,
    /// True when `mismatches` is shorter than `mismatch_counts.total`.
    pub mismatches_truncated: bool,
    /// Human-readable remarks, e.g. "no candles in range".
    pub notes: Vec<String>,
}

/// How many keys mismatch, and how. A key can count under several kinds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MismatchCounts {
    /// Distinct mismatching keys.
    pub total: u64,
    /// Keys found only in v1.
    pub only_in_v1: u64,
    /// Keys found only in v2.
    pub only_in_v2: u64,
    /// Keys present more than once on a side.
    pub duplicate_key: u64,
    /// Open beyond tolerance.
    pub open: u64,
    /// High beyond tolerance.
    pub high: u64,
    /// Low beyond tolerance.
    pub low: u64,
    /// Close beyond tolerance.
    pub close: u64,
    /// Volume different.
    pub volume: u64,
    /// Trade count different.
    pub trade_count: u64,
}

/// Mismatches sharing one attribution outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributionCount {
    /// `v1_wrong`, `v2_wrong`, `both_wrong` or `undetermined`.
    pub verdict: String,
    /// Why v1 is wrong (empty when v1 agrees with the trades).
    pub v1_cause: String,
    /// Why v2 is wrong (empty when v2 agrees with the trades).
    pub v2_cause: String,
    /// Number of candles.
    pub candles: u64,
}

/// One candle's values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandleValues {
    /// Open price.
    pub open: f64,
    /// High price.
    pub high: f64,
    /// Low price.
    pub low: f64,
    /// Close price.
    pub close: f64,
    /// Volume, exactly as ClickHouse prints it.
    pub volume: String,
    /// Number of trades.
    pub trade_count: u64,
}

/// One mismatching candle, attributed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mismatch {
    /// v2 exchange name.
    pub exchange: String,
    /// v2 symbol name.
    pub symbol: String,
    /// Window start, RFC 3339 UTC.
    pub window_start: String,
    /// What differs: names from `only_in_v1, only_in_v2, duplicate_key, open, high, low,
    /// close, volume, trade_count`.
    pub kinds: Vec<String>,
    /// The v1 candle, absent when only v2 has the key.
    pub v1: Option<CandleValues>,
    /// The v2 candle, absent when only v1 has the key.
    pub v2: Option<CandleValues>,
    /// Recomputed from `silver_trades`; absent when there are no trades in the window.
    pub recomputed: Option<CandleValues>,
    /// `v1_wrong`, `v2_wrong`, `both_wrong` or `undetermined`.
    pub attribution: String,
    /// Why v1 is wrong, if it is.
    pub v1_cause: Option<String>,
    /// Why v2 is wrong, if it is.
    pub v2_cause: Option<String>,
}

impl Report {
    /// True only when every timeframe passed.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// Pretty-printed JSON in the documented schema.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The tracker's "OHLCV Validation Results" table, one row per timeframe; see
    /// [`validation_table`].
    pub fn markdown_table(&self) -> String {
        let rows: Vec<TableRow> = self.timeframes.iter().map(TableRow::from).collect();
        validation_table(&rows, self.ohlc_tolerance)
    }

    /// Self-contained HTML: summary per timeframe and a chart per listed mismatch.
    pub fn to_html(&self) -> String {
        crate::html::render(self, usize::MAX)
    }

    /// Like [`Report::to_html`] with at most `charts` mismatch charts.
    pub fn to_html_with_charts(&self, charts: usize) -> String {
        crate::html::render(self, charts)
    }
}

/// One measured timeframe, as the tracker's validation table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasuredRow {
    /// v1 candles in range.
    pub v1_rows: u64,
    /// v2 candles in range.
    pub v2_rows: u64,
    /// Same keys on both sides, each once ([`TimeframeReport::rows_match`]).
    pub rows_match: bool,
    /// Every open, high, low and close within the tolerance.
    pub ohlc_within_tolerance: bool,
    /// Every volume equal (or within the float tolerance).
    pub volume_match: bool,
    /// Every trade count equal.
    pub trade_count_match: bool,
    /// The timeframe's verdict.
    pub verdict: Verdict,
}

impl MeasuredRow {
    /// The table's "Match" cell: the row counts are equal, the keys are the same on both
    /// sides (each once) and every trade count is equal. The table has no trade-count
    /// column, so a trade-count mismatch shows here rather than only in the status.
    pub fn matches(&self) -> bool {
        self.v1_rows == self.v2_rows && self.rows_match && self.trade_count_match
    }
}

/// One row of the tracker's validation table: a timeframe, measured or still pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    /// Label, e.g. `1m`.
    pub timeframe: String,
    /// The measurements; `None` renders the tracker's pending row.
    pub measured: Option<MeasuredRow>,
}

impl TableRow {
    /// A timeframe not measured yet: `| 1m | -- | -- | ⬜ | ⬜ | ⬜ | ⬜ Pending |`.
    pub fn pending(timeframe: impl Into<String>) -> Self {
        Self {
            timeframe: timeframe.into(),
            measured: None,
        }
    }
}

impl From<&TimeframeReport> for TableRow {
    fn from(tf: &TimeframeReport) -> Self {
        Self {
            timeframe: tf.timeframe.label().to_owned(),
            measured: Some(MeasuredRow {
                v1_rows: tf.v1_rows,
                v2_rows: tf.v2_rows,
                rows_match: tf.rows_match,
                ohlc_within_tolerance: tf.ohlc_within_tolerance,
                volume_match: tf.volume_match,
                trade_count_match: tf.trade_count_match,
                verdict: tf.verdict,
            }),
        }
    }
}

/// The tracker's "OHLCV Validation Results" table (header, separator and one line per row,
/// each ending in a newline). The single owner of that format: [`Report::markdown_table`]
/// and the orchestrator's tracker both render through it.
pub fn validation_table(rows: &[TableRow], ohlc_tolerance: f64) -> String {
    let mut out = format!(
        "| Timeframe | v1 Row Count | v2 Row Count | Match | OHLC Tolerance ({ohlc_tolerance:e}) | Volume Match | Status |\n"
    );
    // The separator is copied from the tracker byte for byte (its widths are not all
    // derived from the header), so a pasted table diffs cleanly against the seed.
    out.push_str(TRACKER_SEPARATOR);
    out.push('\n');
    for row in rows {
        let timeframe = &row.timeframe;
        match &row.measured {
            Some(m) => out.push_str(&format!(
                "| {timeframe} | {} | {} | {} | {} | {} | {} |\n",
                m.v1_rows,
                m.v2_rows,
                mark(m.matches()),
                mark(m.ohlc_within_tolerance),
                mark(m.volume_match),
                status(m.verdict),
            )),
            None => out.push_str(&format!(
                "| {timeframe} | -- | -- | ⬜ | ⬜ | ⬜ | ⬜ Pending |\n"
            )),
        }
    }
    out
}

/// ✅ or ❌, the tracker's vocabulary.
pub fn mark(ok: bool) -> &'static str {
    if ok { "✅" } else { "❌" }
}

/// `✅ PASS` or `❌ FAIL`.
pub fn status(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✅ PASS",
        Verdict::Fail => "❌ FAIL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeframe(tf: Timeframe, pass: bool) -> TimeframeReport {
        TimeframeReport {
            timeframe: tf,
            range: ReportRange {
                start: "2024-01-01T00:00:00Z".into(),
                end: "2024-01-02T00:00:00Z".into(),
            },
            v1_rows: 1440,
            v2_rows: if pass { 1440 } else { 1439 },
            rows_match: pass,
            ohlc_within_tolerance: true,
            volume_match: true,
            trade_count_match: true,
            verdict: if pass { Verdict::Pass } else { Verdict::Fail },
            volume_comparison: "float".into(),
            v1_checksum: "0".into(),
            v2_checksum: "0".into(),
            mismatch_counts: MismatchCounts::default(),
            attribution: vec![],
            mismatches: vec![],
            mismatches_truncated: false,
            notes: vec![],
        }
    }

    #[test]
    fn markdown_matches_the_tracker_layout() {
        let report = Report {
            schema: SCHEMA.into(),
            generated_at: "2024-01-02T00:00:00Z".into(),
            verdict: Verdict::Fail,
            range: ReportRange {
                start: "a".into(),
                end: "b".into(),
            },
            fingerprint: "f".into(),
            ohlc_tolerance: 1e-8,
            volume_tolerance: 1e-8,
            timeframes: vec![
                timeframe(Timeframe::M1, true),
                timeframe(Timeframe::M5, false),
            ],
        };
        let expected = "\
| Timeframe | v1 Row Count | v2 Row Count | Match | OHLC Tolerance (1e-8) | Volume Match | Status |
|-----------|--------------|--------------|-------|------------------------|--------------|--------|
| 1m | 1440 | 1440 | ✅ | ✅ | ✅ | ✅ PASS |
| 5m | 1440 | 1439 | ❌ | ✅ | ✅ | ❌ FAIL |
";
        assert_eq!(report.markdown_table(), expected);
        assert!(!report.passed());
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["schema"], SCHEMA);
        assert_eq!(json["timeframes"][1]["verdict"], "FAIL");
        assert_eq!(json["timeframes"][0]["timeframe"], "1m");
    }

    #[test]
    fn match_needs_equal_trade_counts_and_pending_rows_render_like_the_seed() {
        let mut trades_differ = timeframe(Timeframe::M15, true);
        trades_differ.trade_count_match = false;
        trades_differ.verdict = Verdict::Fail;
        let rows = vec![TableRow::from(&trades_differ), TableRow::pending("1h")];
        let expected = "\
| Timeframe | v1 Row Count | v2 Row Count | Match | OHLC Tolerance (5e-7) | Volume Match | Status |
|-----------|--------------|--------------|-------|------------------------|--------------|--------|
| 15m | 1440 | 1440 | ❌ | ✅ | ✅ | ❌ FAIL |
| 1h | -- | -- | ⬜ | ⬜ | ⬜ | ⬜ Pending |
";
        assert_eq!(validation_table(&rows, 5e-7), expected);
    }
}
