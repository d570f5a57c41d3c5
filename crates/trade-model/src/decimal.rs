//! Exact decimal text to fixed-scale `i128` mantissa, and back.
//!
//! Prices and quantities never pass through a binary float: the exchange's text is read
//! digit by digit into an integer mantissa at the silver column's scale
//! ([`PRICE_SCALE`] = 10). More fractional digits than the scale is an error unless every
//! extra digit is zero (dropping trailing zeros is not rounding).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Fractional digits of `price` and `quantity` (`Decimal(38, 10)`).
pub const PRICE_SCALE: u32 = 10;
/// Fractional digits of `quote_volume` (`Decimal(38, 20)` = price scale + quantity scale).
pub const QUOTE_VOLUME_SCALE: u32 = 20;
/// Every `Decimal(38, S)` mantissa is strictly below this in absolute value.
pub const DECIMAL38_LIMIT: i128 = 10_i128.pow(38);

/// Why a decimal text could not become a mantissa.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Not a plain decimal number: empty, sign-only, letters (`NaN`, `Infinity`), a
    /// leading `+`, a lone `.`, an exponent where none is allowed, ...
    Syntax,
    /// More non-zero fractional digits than the target scale.
    TooManyFractionDigits,
    /// The mantissa does not fit `Decimal(38, scale)`.
    OutOfRange,
}

/// Which spellings a source may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// Decimal strings as Binance, Coinbase and Kraken v1 send them: `-?digits(.digits)?`.
    PlainText,
    /// JSON number text (Kraken v2): plain text plus an optional exponent `e[+-]digits`.
    JsonNumber,
}

/// Parses `text` into a mantissa at `scale` fractional digits, exactly.
///
/// ```
/// use trade_model::decimal::{parse_scaled, Spelling, DecimalError};
/// assert_eq!(parse_scaled("61837.63000000", 10, Spelling::PlainText), Ok(618_376_300_000_000));
/// assert_eq!(parse_scaled("1.5e-3", 10, Spelling::JsonNumber), Ok(15_000_000));
/// assert_eq!(parse_scaled("0.00000000001", 10, Spelling::PlainText), Err(DecimalError::TooManyFractionDigits));
/// assert_eq!(parse_scaled("NaN", 10, Spelling::PlainText), Err(DecimalError::Syntax));
/// ```
pub fn parse_scaled(text: &str, scale: u32, spelling: Spelling) -> Result<i128, DecimalError> {
    if let Some(mantissa) = parse_short_plain(text.as_bytes(), scale) {
        return Ok(mantissa);
    }
    parse_general(text, scale, spelling)
}

/// The common case in one pass with `u64` arithmetic: `digits[.digits]`, no sign, at most
/// 18 significant digits after scaling, no more fractional digits than `scale`. Returns
/// `None` for anything else, which the general path then handles (or rejects).
fn parse_short_plain(bytes: &[u8], scale: u32) -> Option<i128> {
    if bytes.is_empty() || bytes.len() > 19 || bytes[0] == b'.' {
        return None;
    }
    let mut value: u64 = 0;
    let mut fraction_digits: Option<u32> = None;
    for &byte in bytes {
        if byte == b'.' {
            if fraction_digits.is_some() {
                return None;
            }
            fraction_digits = Some(0);
            continue;
        }
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + u64::from(digit);
        if let Some(count) = fraction_digits.as_mut() {
            *count += 1;
        }
    }
    let fraction_digits = match fraction_digits {
        Some(0) => return None, // "5." is a syntax error: leave it to the general path
        Some(count) => count,
        None => 0,
    };
    let shift = scale.checked_sub(fraction_digits)?;
    // 19 bytes hold at most 18 digits when a dot is present; without one, the value can
    // reach 10^19, so scale in i128.
    i128::from(value)
        .checked_mul(10_i128.checked_pow(shift)?)
        .filter(|mantissa| *mantissa < DECIMAL38_LIMIT)
}

fn parse_general(text: &str, scale: u32, spelling: Spelling) -> Result<i128, DecimalError> {
    let bytes = text.as_bytes();
    let (negative, rest) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some(_) => (false, bytes),
        None => return Err(DecimalError::Syntax),
    };
    // Split off an exponent, if the spelling allows one.
    let (number, exponent) = match rest.iter().position(|b| *b == b'e' || *b == b'E') {
        Some(at) if spelling == Spelling::JsonNumber => {
            (&rest[..at], parse_exponent(&rest[at + 1..])?)
        }
        Some(_) => return Err(DecimalError::Syntax),
        None => (rest, 0),
    };
    let (integer, fraction) = match number.iter().position(|b| *b == b'.') {
        Some(at) => {
            let fraction = &number[at + 1..];
            if fraction.is_empty() {
                return Err(DecimalError::Syntax);
            }
            (&number[..at], fraction)
        }
        None => (number, &number[number.len()..]),
    };
    if integer.is_empty() {
        return Err(DecimalError::Syntax);
    }
    // The decimal point sits after `integer`; the exponent moves it. The number is
    // digits(integer ++ fraction) * 10^(exponent - fraction.len()), and we want it times
    // 10^scale as an integer.
    let shift = i64::from(scale) + exponent - fraction.len() as i64;
    let mut mantissa: i128 = 0;
    let digits = integer.iter().chain(fraction.iter());
    let total_digits = integer.len() + fraction.len();
    // Digits past `keep` are dropped by a negative shift; they must all be zero.
    let keep = if shift < 0 {
        let dropped = usize::try_from(-shift).map_err(|_| DecimalError::Syntax)?;
        total_digits.saturating_sub(dropped)
    } else {
        total_digits
    };
    for (position, byte) in digits.enumerate() {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return Err(DecimalError::Syntax);
        }
        if position < keep {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(digit)))
                .ok_or(DecimalError::OutOfRange)?;
        } else if digit != 0 {
            return Err(DecimalError::TooManyFractionDigits);
        }
    }
    if shift > 0 {
        let factor = u32::try_from(shift)
            .ok()
            .and_then(|s| 10_i128.checked_pow(s))
            .ok_or(DecimalError::OutOfRange);
        // Zero times anything is zero, even for absurd exponents.
        if mantissa != 0 {
            mantissa = mantissa
                .checked_mul(factor?)
                .ok_or(DecimalError::OutOfRange)?;
        }
    }
    if mantissa >= DECIMAL38_LIMIT {
        return Err(DecimalError::OutOfRange);
    }
    Ok(if negative { -mantissa } else { mantissa })
}

fn parse_exponent(bytes: &[u8]) -> Result<i64, DecimalError> {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        Some(_) => (false, bytes),
        None => return Err(DecimalError::Syntax),
    };
    if digits.is_empty() {
        return Err(DecimalError::Syntax);
    }
    let mut value: i64 = 0;
    for byte in digits {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return Err(DecimalError::Syntax);
        }
        // Exponents beyond a few hundred can only overflow or be all zeros; cap them so
        // the arithmetic stays simple.
        value = (value * 10 + i64::from(digit)).min(100_000);
    }
    Ok(if negative { -value } else { value })
}

/// Writes `mantissa / 10^scale` as decimal text without trailing fractional zeros.
///
/// ```
/// assert_eq!(trade_model::decimal::format_scaled(618_376_300_000_000, 10), "61837.63");
/// assert_eq!(trade_model::decimal::format_scaled(-5, 2), "-0.05");
/// ```
pub fn format_scaled(mantissa: i128, scale: u32) -> String {
    let sign = if mantissa < 0 { "-" } else { "" };
    let magnitude = mantissa.unsigned_abs();
    let divisor = 10_u128.pow(scale);
    let integer = magnitude / divisor;
    let fraction = magnitude % divisor;
    if fraction == 0 {
        return format!("{sign}{integer}");
    }
    let width = scale as usize;
    let fraction_text = format!("{fraction:0width$}");
    format!("{sign}{integer}.{}", fraction_text.trim_end_matches('0'))
}

/// A decimal at the silver price scale (10 fractional digits): used for configured
/// bounds. Reads and writes as decimal text, so configuration never goes through a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Decimal10(pub i128);

impl Decimal10 {
    /// The mantissa at scale 10.
    pub fn mantissa(self) -> i128 {
        self.0
    }
    /// `units` whole units (e.g. `Decimal10::whole(5)` is 5.0).
    pub const fn whole(units: i64) -> Self {
        Decimal10(units as i128 * 10_000_000_000)
    }
}

impl FromStr for Decimal10 {
    type Err = DecimalError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_scaled(text, PRICE_SCALE, Spelling::PlainText).map(Decimal10)
    }
}

impl fmt::Display for Decimal10 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_scaled(self.0, PRICE_SCALE))
    }
}

impl Serialize for Decimal10 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Decimal10 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|error| {
            serde::de::Error::custom(format!(
                "`{text}` is not a decimal with at most 10 fractional digits ({error:?})"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Result<i128, DecimalError> {
        parse_scaled(text, PRICE_SCALE, Spelling::PlainText)
    }

    #[test]
    fn parses_exchange_spellings_exactly() {
        assert_eq!(plain("0.00141342"), Ok(14_134_200));
        assert_eq!(plain("23.00000000"), Ok(230_000_000_000));
        assert_eq!(plain("70"), Ok(700_000_000_000));
        assert_eq!(plain("0.0000000001"), Ok(1));
        assert_eq!(plain("-1.5"), Ok(-15_000_000_000));
        assert_eq!(plain("007.5"), Ok(75_000_000_000));
    }

    #[test]
    fn trailing_zeros_beyond_scale_are_not_rounding() {
        assert_eq!(plain("0.02000000000000"), Ok(200_000_000));
        assert_eq!(plain("0.00000000010"), Ok(1));
        assert_eq!(
            plain("0.00000000011"),
            Err(DecimalError::TooManyFractionDigits)
        );
    }

    #[test]
    fn rejects_what_is_not_a_plain_decimal() {
        for text in [
            "",
            "-",
            "+1",
            ".5",
            "5.",
            "1.2.3",
            "NaN",
            "nan",
            "Infinity",
            "-Infinity",
            "1e5",
            "1,5",
            " 1",
            "1 ",
            "0x10",
            "１",
        ] {
            assert_eq!(plain(text), Err(DecimalError::Syntax), "{text:?}");
        }
    }

    #[test]
    fn bounds_are_decimal_38() {
        let max = "9999999999999999999999999999.9999999999";
        assert_eq!(plain(max), Ok(DECIMAL38_LIMIT - 1));
        assert_eq!(
            plain("10000000000000000000000000000"),
            Err(DecimalError::OutOfRange)
        );
        assert_eq!(plain(&"9".repeat(60)), Err(DecimalError::OutOfRange));
    }

    #[test]
    fn json_numbers_may_carry_exponents() {
        let json = |t| parse_scaled(t, PRICE_SCALE, Spelling::JsonNumber);
        assert_eq!(json("26535.1"), Ok(265_351_000_000_000));
        assert_eq!(json("1E2"), Ok(1_000_000_000_000));
        assert_eq!(json("1e-10"), Ok(1));
        assert_eq!(json("1e-11"), Err(DecimalError::TooManyFractionDigits));
        assert_eq!(json("0e999999999"), Ok(0));
        assert_eq!(json("1e999999999"), Err(DecimalError::OutOfRange));
        assert_eq!(
            json("1e-999999999"),
            Err(DecimalError::TooManyFractionDigits)
        );
        assert_eq!(json("1e"), Err(DecimalError::Syntax));
    }

    #[test]
    fn fast_and_general_paths_agree() {
        for text in [
            "0",
            "1",
            "0.5",
            "61837.63000000",
            "1234567890123456789",
            "9999999999999999.99",
            "0.0000000001",
            "12345678.123456789",
        ] {
            assert_eq!(
                parse_short_plain(text.as_bytes(), 10).map(Ok),
                Some(parse_general(text, 10, Spelling::PlainText)),
                "{text}"
            );
        }
        assert_eq!(parse_short_plain(b"9999999999999999999", 30), None);
        assert_eq!(
            parse_scaled("9999999999999999999", 30, Spelling::PlainText),
            Err(DecimalError::OutOfRange)
        );
        for text in ["", ".5", "5.", "-1", "1e5", "1..2", "0.00000000001", "+1"] {
            assert_eq!(parse_short_plain(text.as_bytes(), 10), None, "{text}");
        }
    }

    #[test]
    fn formats_back() {
        assert_eq!(format_scaled(14_134_200, 10), "0.00141342");
        assert_eq!(format_scaled(0, 10), "0");
        assert_eq!(Decimal10::whole(3).to_string(), "3");
        assert_eq!("12.5".parse::<Decimal10>(), Ok(Decimal10(125_000_000_000)));
    }
}
