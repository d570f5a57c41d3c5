//! The hard gate: nothing legacy is touched without a current PASS validation report.
//!
//! The report is the `ohlcv-validation-report/v1` JSON written by `ohlcv-validator`. There
//! is deliberately no way to skip this check.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::GateConfig;

/// The schema tag the gate accepts.
pub const REPORT_SCHEMA: &str = "ohlcv-validation-report/v1";

/// Clocks may disagree a little; a report from further in the future than this is refused.
const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The part of the validation report the gate reads (other fields are ignored).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ValidationReport {
    /// Must be [`REPORT_SCHEMA`].
    pub schema: String,
    /// When the validator ran (RFC 3339, UTC).
    pub generated_at: String,
    /// `PASS` or `FAIL`.
    pub verdict: String,
    /// The data range the validator compared.
    pub range: ReportRange,
    /// sha256 of the validator's inputs.
    pub fingerprint: String,
    /// One verdict per timeframe.
    #[serde(default)]
    pub timeframes: Vec<TimeframeVerdict>,
}

/// The compared data range.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ReportRange {
    /// Start (RFC 3339).
    pub start: String,
    /// End (RFC 3339).
    pub end: String,
}

/// A timeframe's verdict.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TimeframeVerdict {
    /// `1m`, `5m`, ...
    pub timeframe: String,
    /// `PASS` or `FAIL`.
    pub verdict: String,
}

/// What the gate accepted, recorded in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateEvidence {
    /// The report file.
    pub report_path: PathBuf,
    /// sha256 of the report file's bytes.
    pub report_sha256: String,
    /// Its `generated_at`.
    pub generated_at: String,
    /// Its age when checked, in seconds.
    pub age_secs: i64,
    /// Its range.
    pub range: ReportRange,
    /// Its input fingerprint.
    pub fingerprint: String,
}

/// Why the gate refuses.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// No report at the path.
    #[error("gate: validation report `{path}` cannot be read: {source}")]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not the expected JSON.
    #[error("gate: validation report `{path}` is not a {REPORT_SCHEMA} report: {message}")]
    Malformed {
        /// The path.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// Verdict is not PASS.
    #[error("gate: validation report `{path}` says `{verdict}`, not PASS{detail}")]
    NotPass {
        /// The path.
        path: PathBuf,
        /// The verdict found.
        verdict: String,
        /// Failing timeframes, if any.
        detail: String,
    },
    /// Too old.
    #[error(
        "gate: validation report `{path}` was generated at {generated_at}, {age_secs} s ago; \
         the limit is {max_age_secs} s (gate.max_report_age_secs): run the validator again"
    )]
    Stale {
        /// The path.
        path: PathBuf,
        /// Its `generated_at`.
        generated_at: String,
        /// Its age.
        age_secs: i64,
        /// The configured limit.
        max_age_secs: u64,
    },
    /// Generated in the future.
    #[error(
        "gate: validation report `{path}` claims to be generated in the future ({generated_at})"
    )]
    FromTheFuture {
        /// The path.
        path: PathBuf,
        /// Its `generated_at`.
        generated_at: String,
    },
    /// The range differs from the expected one.
    #[error(
        "gate: validation report `{path}` covers {found_start}..{found_end}, \
         but {expected_start}..{expected_end} is expected"
    )]
    RangeMismatch {
        /// The path.
        path: PathBuf,
        /// Expected start.
        expected_start: String,
        /// Expected end.
        expected_end: String,
        /// Found start.
        found_start: String,
        /// Found end.
        found_end: String,
    },
}

/// The range a report must cover, when one is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedRange {
    /// Start (RFC 3339).
    pub start: String,
    /// End (RFC 3339).
    pub end: String,
}

impl ExpectedRange {
    /// From the configuration, if both ends are set.
    pub fn from_config(gate: &GateConfig) -> Option<Self> {
        (!gate.expected_range_start.is_empty() && !gate.expected_range_end.is_empty()).then(|| {
            Self {
                start: gate.expected_range_start.clone(),
                end: gate.expected_range_end.clone(),
            }
        })
    }
}

/// Checks the report at `path` against `gate` and, when given, `expected` (which wins over
/// the configured range), at time `now`.
pub fn check(
    path: &Path,
    gate: &GateConfig,
    expected: Option<&ExpectedRange>,
    now: OffsetDateTime,
) -> Result<GateEvidence, GateError> {
    let bytes = std::fs::read(path).map_err(|source| GateError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    let malformed = |message: String| GateError::Malformed {
        path: path.to_owned(),
        message,
    };
    let report: ValidationReport =
        serde_json::from_slice(&bytes).map_err(|e| malformed(e.to_string()))?;
    if report.schema != REPORT_SCHEMA {
        return Err(malformed(format!("schema is `{}`", report.schema)));
    }
    if report.fingerprint.trim().is_empty() {
        return Err(malformed("fingerprint is empty".into()));
    }
    let failing: Vec<&str> = report
        .timeframes
        .iter()
        .filter(|t| t.verdict != "PASS")
        .map(|t| t.timeframe.as_str())
        .collect();
    if report.verdict != "PASS" || !failing.is_empty() {
        return Err(GateError::NotPass {
            path: path.to_owned(),
            verdict: report.verdict.clone(),
            detail: if failing.is_empty() {
                String::new()
            } else {
                format!(" (failing timeframes: {})", failing.join(", "))
            },
        });
    }
    let generated = OffsetDateTime::parse(&report.generated_at, &Rfc3339)
        .map_err(|e| malformed(format!("generated_at `{}`: {e}", report.generated_at)))?;
    let age_secs = (now - generated).whole_seconds();
    if age_secs < -MAX_CLOCK_SKEW_SECS {
        return Err(GateError::FromTheFuture {
            path: path.to_owned(),
            generated_at: report.generated_at,
        });
    }
    if age_secs > i64::try_from(gate.max_report_age_secs).unwrap_or(i64::MAX) {
        return Err(GateError::Stale {
            path: path.to_owned(),
            generated_at: report.generated_at,
            age_secs,
            max_age_secs: gate.max_report_age_secs,
        });
    }
    let configured = ExpectedRange::from_config(gate);
    if let Some(expected) = expected.or(configured.as_ref()) {
        let same = |a: &str, b: &str| match (
            OffsetDateTime::parse(a, &Rfc3339),
            OffsetDateTime::parse(b, &Rfc3339),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        if !same(&expected.start, &report.range.start) || !same(&expected.end, &report.range.end) {
            return Err(GateError::RangeMismatch {
                path: path.to_owned(),
                expected_start: expected.start.clone(),
                expected_end: expected.end.clone(),
                found_start: report.range.start,
                found_end: report.range.end,
            });
        }
    }
    Ok(GateEvidence {
        report_path: path.to_owned(),
        report_sha256: hex::encode(Sha256::digest(&bytes)),
        generated_at: report.generated_at,
        age_secs,
        range: report.range,
        fingerprint: report.fingerprint,
    })
}

/// A minimal report in the shared schema (for tests, demos and the xtask).
pub fn sample_report(
    verdict: &str,
    generated_at: OffsetDateTime,
    start: &str,
    end: &str,
) -> String {
    let generated = generated_at
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into());
    let timeframes: Vec<serde_json::Value> = ["1m", "5m", "15m", "30m", "1h", "1d"]
        .iter()
        .map(|tf| {
            serde_json::json!({
                "timeframe": tf, "v1_rows": 10, "v2_rows": 10, "rows_match": true,
                "ohlc_within_tolerance": true, "volume_match": true,
                "trade_count_match": true, "verdict": verdict,
            })
        })
        .collect();
    serde_json::json!({
        "schema": REPORT_SCHEMA,
        "generated_at": generated,
        "verdict": verdict,
        "range": {"start": start, "end": end},
        "fingerprint": "0".repeat(64),
        "timeframes": timeframes,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    const START: &str = "2026-02-01T00:00:00Z";
    const END: &str = "2026-02-02T00:00:00Z";

    fn gate() -> GateConfig {
        GateConfig {
            max_report_age_secs: 3600,
            expected_range_start: String::new(),
            expected_range_end: String::new(),
        }
    }

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn current_pass_report_opens_the_gate() {
        let now = OffsetDateTime::now_utc();
        let file = write(&sample_report(
            "PASS",
            now - Duration::minutes(5),
            START,
            END,
        ));
        let evidence = check(file.path(), &gate(), None, now).unwrap();
        assert_eq!(evidence.range.start, START);
        assert_eq!(evidence.report_sha256.len(), 64);
    }

    #[test]
    fn fail_report_is_refused() {
        let now = OffsetDateTime::now_utc();
        let file = write(&sample_report("FAIL", now, START, END));
        let err = check(file.path(), &gate(), None, now).unwrap_err();
        assert!(matches!(err, GateError::NotPass { .. }), "{err}");
    }

    #[test]
    fn stale_report_is_refused() {
        let now = OffsetDateTime::now_utc();
        let file = write(&sample_report("PASS", now - Duration::hours(2), START, END));
        let err = check(file.path(), &gate(), None, now).unwrap_err();
        assert!(matches!(err, GateError::Stale { .. }), "{err}");
    }

    #[test]
    fn report_for_another_range_is_refused() {
        let now = OffsetDateTime::now_utc();
        let file = write(&sample_report("PASS", now, START, END));
        let expected = ExpectedRange {
            start: START.into(),
            end: "2026-02-03T00:00:00Z".into(),
        };
        let err = check(file.path(), &gate(), Some(&expected), now).unwrap_err();
        assert!(matches!(err, GateError::RangeMismatch { .. }), "{err}");
        let same_instant = ExpectedRange {
            start: "2026-02-01T00:00:00+00:00".into(),
            end: END.into(),
        };
        check(file.path(), &gate(), Some(&same_instant), now).unwrap();
    }

    #[test]
    fn missing_or_foreign_report_is_refused() {
        let now = OffsetDateTime::now_utc();
        let missing = check(Path::new("/nonexistent/report.json"), &gate(), None, now);
        assert!(matches!(missing, Err(GateError::Unreadable { .. })));
        let file = write(r#"{"schema":"other","verdict":"PASS"}"#);
        let err = check(file.path(), &gate(), None, now).unwrap_err();
        assert!(matches!(err, GateError::Malformed { .. }), "{err}");
    }
}
