//! Exact timestamp parsing into microseconds since the Unix epoch (UTC).
//!
//! Digits beyond the microsecond are dropped (floored): `DateTime64(6)` cannot hold them
//! and no exchange we ingest sends them.

/// Why a timestamp text is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidTime;

/// Milliseconds since the epoch (Binance `T`) to microseconds.
pub fn millis_to_micros(millis: i64) -> Result<i64, InvalidTime> {
    millis.checked_mul(1_000).ok_or(InvalidTime)
}

/// `seconds[.fraction]` text (Kraken v1 `"1618677810.262345"`, Kraken CSV `1672531436`).
///
/// ```
/// assert_eq!(trade_model::time::parse_unix_seconds("1618677810.262345"), Ok(1_618_677_810_262_345));
/// assert_eq!(trade_model::time::parse_unix_seconds("1672531436"), Ok(1_672_531_436_000_000));
/// ```
pub fn parse_unix_seconds(text: &str) -> Result<i64, InvalidTime> {
    let (seconds, fraction) = match text.split_once('.') {
        Some((s, f)) if !f.is_empty() => (s, f),
        Some(_) => return Err(InvalidTime),
        None => (text, ""),
    };
    if seconds.is_empty() || seconds.len() > 12 {
        return Err(InvalidTime);
    }
    let whole = digits(seconds.as_bytes())?;
    let micros = fraction_micros(fraction.as_bytes())?;
    whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(micros))
        .ok_or(InvalidTime)
}

/// RFC 3339 / ISO 8601 with a `T`, e.g. `2021-04-17T16:43:30.244075Z` or `...+00:00`.
///
/// ```
/// assert_eq!(
///     trade_model::time::parse_rfc3339_micros("2021-04-17T16:43:30.244075Z"),
///     Ok(1_618_677_810_244_075)
/// );
/// ```
pub fn parse_rfc3339_micros(text: &str) -> Result<i64, InvalidTime> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(InvalidTime);
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(InvalidTime);
    }
    let mut rest = &b[19..];
    let mut micros = 0;
    if let Some((b'.', after)) = rest.split_first() {
        let end = after
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(after.len());
        if end == 0 {
            return Err(InvalidTime);
        }
        micros = fraction_micros(&after[..end])?;
        rest = &after[end..];
    }
    let offset_seconds = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return Err(InvalidTime);
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return Err(InvalidTime),
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_seconds;
    Ok(seconds * 1_000_000 + micros)
}

/// Unsigned decimal digits to a number; at most 18 digits.
fn digits(bytes: &[u8]) -> Result<i64, InvalidTime> {
    if bytes.is_empty() || bytes.len() > 18 {
        return Err(InvalidTime);
    }
    let mut value: i64 = 0;
    for byte in bytes {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return Err(InvalidTime);
        }
        value = value * 10 + i64::from(digit);
    }
    Ok(value)
}

/// Fractional-second digits to microseconds; digits past the sixth are dropped.
fn fraction_micros(bytes: &[u8]) -> Result<i64, InvalidTime> {
    let mut micros: i64 = 0;
    for (position, byte) in bytes.iter().enumerate() {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return Err(InvalidTime);
        }
        if position < 6 {
            micros = micros * 10 + i64::from(digit);
        }
    }
    let shown = bytes.len().min(6);
    Ok(micros * 10_i64.pow(6 - shown as u32))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Microseconds since the epoch to `YYYY-MM-DDTHH:MM:SS.ffffffZ` (for generators and
/// messages).
pub fn format_rfc3339_micros(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}Z",
        second_of_day / 3_600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_the_time_crate() {
        use ::time::format_description::well_known::Rfc3339;
        for text in [
            "2021-04-17T16:43:30.244075Z",
            "2023-09-25T07:49:37.708706Z",
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59.999999Z",
            "2021-04-17T18:43:30.5+02:00",
        ] {
            let expected = ::time::OffsetDateTime::parse(text, &Rfc3339).unwrap();
            let expected = (expected.unix_timestamp_nanos() / 1_000) as i64;
            assert_eq!(parse_rfc3339_micros(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn rfc3339_rejects_nonsense() {
        for text in [
            "",
            "2021-02-30T00:00:00Z",
            "2021-04-17 16:43:30Z",
            "2021-04-17T16:43:30",
            "2021-04-17T16:43:30.Z",
            "2021-04-17T24:00:00Z",
            "2021-04-17T16:43:30.1x",
        ] {
            assert_eq!(parse_rfc3339_micros(text), Err(InvalidTime), "{text}");
        }
    }

    #[test]
    fn format_round_trips() {
        for micros in [
            0,
            1_618_677_810_244_075,
            1_700_000_000_000_000,
            86_399_999_999,
        ] {
            assert_eq!(
                parse_rfc3339_micros(&format_rfc3339_micros(micros)),
                Ok(micros)
            );
        }
    }

    #[test]
    fn unix_seconds_parse_exactly() {
        assert_eq!(
            parse_unix_seconds("1618678142.557535"),
            Ok(1_618_678_142_557_535)
        );
        assert_eq!(parse_unix_seconds("1.5"), Ok(1_500_000));
        assert_eq!(parse_unix_seconds("1.1234567"), Ok(1_123_456));
        for bad in ["", ".5", "1.", "-1", "1e9", "abc", "9999999999999999.1"] {
            assert_eq!(parse_unix_seconds(bad), Err(InvalidTime), "{bad}");
        }
    }
}
