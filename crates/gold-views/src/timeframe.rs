//! The candle width: `N` seconds, minutes, hours or days, parsed from `N{s,m,h,d}`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The unit of a [`Timeframe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeUnit {
    /// Seconds (`s`).
    Second,
    /// Minutes (`m`).
    Minute,
    /// Hours (`h`).
    Hour,
    /// Days (`d`), starting at 00:00 UTC.
    Day,
}

impl TimeUnit {
    fn suffix(self) -> char {
        match self {
            Self::Second => 's',
            Self::Minute => 'm',
            Self::Hour => 'h',
            Self::Day => 'd',
        }
    }

    fn seconds(self) -> u64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
        }
    }

    fn sql_keyword(self) -> &'static str {
        match self {
            Self::Second => "SECOND",
            Self::Minute => "MINUTE",
            Self::Hour => "HOUR",
            Self::Day => "DAY",
        }
    }
}

/// A candle width such as `1m` or `4h`. Windows are `[start, start + width)` in UTC,
/// aligned to the Unix epoch.
///
/// ```
/// use gold_views::timeframe::Timeframe;
/// let tf: Timeframe = "15m".parse().unwrap();
/// assert_eq!(tf.label(), "15m");
/// assert_eq!(tf.seconds(), 900);
/// assert_eq!(tf.interval_sql(), "INTERVAL 15 MINUTE");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timeframe {
    amount: u32,
    unit: TimeUnit,
}

/// Why a timeframe text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeframeError {
    /// The text is not `N` followed by one of `s`, `m`, `h`, `d`.
    #[error(
        "timeframe `{0}`: expected a positive whole number followed by s, m, h or d (e.g. `5m`)"
    )]
    Syntax(String),
    /// The width does not divide a day, so windows would not line up with UTC days.
    #[error(
        "timeframe `{0}`: {1} seconds does not divide a day (86400 s) and is not a whole number of days"
    )]
    NotDayAligned(String, u64),
}

impl Timeframe {
    /// The six timeframes the gold layer ships by default.
    pub fn defaults() -> Vec<Timeframe> {
        [
            (1, TimeUnit::Minute),
            (5, TimeUnit::Minute),
            (15, TimeUnit::Minute),
        ]
        .into_iter()
        .chain([
            (30, TimeUnit::Minute),
            (1, TimeUnit::Hour),
            (1, TimeUnit::Day),
        ])
        .map(|(amount, unit)| Timeframe { amount, unit })
        .collect()
    }

    /// The text form, also used in object names: `15m`.
    pub fn label(&self) -> String {
        format!("{}{}", self.amount, self.unit.suffix())
    }

    /// Width in seconds.
    pub fn seconds(&self) -> u64 {
        u64::from(self.amount) * self.unit.seconds()
    }

    /// The ClickHouse interval literal, e.g. `INTERVAL 15 MINUTE`.
    pub fn interval_sql(&self) -> String {
        format!("INTERVAL {} {}", self.amount, self.unit.sql_keyword())
    }

    /// True for day-or-longer widths (they get yearly partitions by default).
    pub fn is_daily_or_longer(&self) -> bool {
        self.seconds() >= 86_400
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl FromStr for Timeframe {
    type Err = TimeframeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || TimeframeError::Syntax(text.to_owned());
        let trimmed = text.trim();
        let (digits, suffix) = trimmed.split_at(trimmed.len().saturating_sub(1));
        let unit = match suffix {
            "s" => TimeUnit::Second,
            "m" => TimeUnit::Minute,
            "h" => TimeUnit::Hour,
            "d" => TimeUnit::Day,
            _ => return Err(syntax()),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        let amount: u32 = digits.parse().map_err(|_| syntax())?;
        if amount == 0 {
            return Err(syntax());
        }
        let tf = Timeframe { amount, unit };
        // Measured on ClickHouse 26.9: toStartOfInterval aligns SECOND/MINUTE/DAY intervals
        // to the Unix epoch but HOUR intervals to the start of each day (7h gives 00:00,
        // 07:00, ..., 21:00, 00:00). Epoch alignment and the engine agree for every unit
        // only when the width divides a day or is whole days; refuse the rest instead of
        // producing candles that disagree with the reference and the validator.
        let seconds = tf.seconds();
        let day_aligned = if unit == TimeUnit::Day {
            true
        } else {
            86_400 % seconds == 0
        };
        if !day_aligned {
            return Err(TimeframeError::NotDayAligned(text.to_owned(), seconds));
        }
        Ok(tf)
    }
}

impl Serialize for Timeframe {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.label())
    }
}

impl<'de> Deserialize<'de> for Timeframe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_six_shipped_timeframes() {
        let labels: Vec<String> = Timeframe::defaults().iter().map(Timeframe::label).collect();
        assert_eq!(labels, ["1m", "5m", "15m", "30m", "1h", "1d"]);
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!("10s".parse::<Timeframe>().unwrap().seconds(), 10);
        assert_eq!("4h".parse::<Timeframe>().unwrap().seconds(), 14_400);
        assert_eq!(
            "7d".parse::<Timeframe>().unwrap().interval_sql(),
            "INTERVAL 7 DAY"
        );
    }

    #[test]
    fn refuses_bad_text() {
        for bad in [
            "",
            "m",
            "0m",
            "-1m",
            "1.5h",
            "1w",
            "m1",
            "1 m",
            "99999999999s",
        ] {
            assert!(bad.parse::<Timeframe>().is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_widths_that_do_not_divide_a_day() {
        let err = "7m".parse::<Timeframe>().unwrap_err();
        assert!(
            matches!(err, TimeframeError::NotDayAligned(_, 420)),
            "{err}"
        );
        assert!("25h".parse::<Timeframe>().is_err());
    }
}
