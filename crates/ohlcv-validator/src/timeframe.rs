//! Candle timeframes: the six labels the gold layer materializes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One candle width, aligned to the Unix epoch in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timeframe {
    /// One minute.
    M1,
    /// Five minutes.
    M5,
    /// Fifteen minutes.
    M15,
    /// Thirty minutes.
    M30,
    /// One hour.
    H1,
    /// One day (00:00 UTC to 00:00 UTC).
    D1,
}

/// A label that is not one of `1m, 5m, 15m, 30m, 1h, 1d`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown timeframe `{0}` (expected one of 1m, 5m, 15m, 30m, 1h, 1d)")]
pub struct UnknownTimeframe(pub String);

impl Timeframe {
    /// Every timeframe, shortest first.
    pub const ALL: [Timeframe; 6] = [
        Timeframe::M1,
        Timeframe::M5,
        Timeframe::M15,
        Timeframe::M30,
        Timeframe::H1,
        Timeframe::D1,
    ];

    /// The label used in object names and reports, e.g. `15m`.
    pub fn label(self) -> &'static str {
        match self {
            Timeframe::M1 => "1m",
            Timeframe::M5 => "5m",
            Timeframe::M15 => "15m",
            Timeframe::M30 => "30m",
            Timeframe::H1 => "1h",
            Timeframe::D1 => "1d",
        }
    }

    /// Width in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Timeframe::M1 => 60,
            Timeframe::M5 => 300,
            Timeframe::M15 => 900,
            Timeframe::M30 => 1800,
            Timeframe::H1 => 3600,
            Timeframe::D1 => 86_400,
        }
    }

    /// The ClickHouse `INTERVAL` for `toStartOfInterval`, e.g. `INTERVAL 15 MINUTE`.
    pub fn sql_interval(self) -> &'static str {
        match self {
            Timeframe::M1 => "INTERVAL 1 MINUTE",
            Timeframe::M5 => "INTERVAL 5 MINUTE",
            Timeframe::M15 => "INTERVAL 15 MINUTE",
            Timeframe::M30 => "INTERVAL 30 MINUTE",
            Timeframe::H1 => "INTERVAL 1 HOUR",
            Timeframe::D1 => "INTERVAL 1 DAY",
        }
    }

    /// Start of the window containing `unix_seconds`.
    pub fn floor(self, unix_seconds: i64) -> i64 {
        unix_seconds.div_euclid(self.seconds()) * self.seconds()
    }

    /// Parses a label such as `1h`.
    pub fn parse(label: &str) -> Result<Self, UnknownTimeframe> {
        Self::ALL
            .into_iter()
            .find(|tf| tf.label() == label)
            .ok_or_else(|| UnknownTimeframe(label.to_owned()))
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl std::str::FromStr for Timeframe {
    type Err = UnknownTimeframe;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Timeframe {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.label())
    }
}

impl<'de> Deserialize<'de> for Timeframe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let label = String::deserialize(deserializer)?;
        Self::parse(&label).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        for tf in Timeframe::ALL {
            assert_eq!(Timeframe::parse(tf.label()).unwrap(), tf);
        }
        assert!(Timeframe::parse("2m").is_err());
    }

    #[test]
    fn floor_aligns_to_epoch_in_utc() {
        assert_eq!(Timeframe::D1.floor(86_400 * 3 + 5), 86_400 * 3);
        assert_eq!(Timeframe::M15.floor(901), 900);
        assert_eq!(Timeframe::M1.floor(-1), -60);
    }
}
