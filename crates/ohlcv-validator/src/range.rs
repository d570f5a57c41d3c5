//! The compared data range: window starts in `[start, end)`, in Unix seconds (UTC).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Half-open range of window starts, in Unix seconds UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowRange {
    /// Inclusive.
    pub start: i64,
    /// Exclusive.
    pub end: i64,
}

impl WindowRange {
    /// True when no window can fall inside.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// `start` as RFC 3339 UTC.
    pub fn start_rfc3339(&self) -> String {
        format_rfc3339(self.start)
    }

    /// `end` as RFC 3339 UTC.
    pub fn end_rfc3339(&self) -> String {
        format_rfc3339(self.end)
    }

    /// The smallest range covering both.
    pub fn cover(self, other: WindowRange) -> WindowRange {
        WindowRange {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// Parses an RFC 3339 time to Unix seconds (sub-second parts are dropped).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// Formats Unix seconds as RFC 3339 UTC, e.g. `2024-01-01T00:00:00Z`.
pub fn format_rfc3339(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix_seconds.to_string())
}

/// The current time as Unix seconds.
pub fn now_unix_seconds() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = parse_rfc3339("2024-01-02T03:04:05Z").unwrap();
        assert_eq!(format_rfc3339(t), "2024-01-02T03:04:05Z");
        assert!(parse_rfc3339("yesterday").is_none());
    }
}
