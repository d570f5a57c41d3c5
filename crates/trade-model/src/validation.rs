//! Validation rules applied to every decoded trade, and the shared checks.

use serde::{Deserialize, Serialize};

use crate::decimal::{self, DECIMAL38_LIMIT, Decimal10, DecimalError, PRICE_SCALE, Spelling};
use crate::reject::{NumberField, Reject};

/// 2010-01-01T00:00:00Z in microseconds: no crypto exchange traded earlier.
pub const DEFAULT_TIMESTAMP_FLOOR_MICROS: i64 = 1_262_304_000_000_000;

/// Sanity bounds; configurable (e.g. through `layered-config` in the processor).
///
/// Decimal bounds are written as decimal text (`"1000000000"`), never as floats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationRules {
    /// Smallest accepted price (inclusive). Positivity is checked separately.
    pub min_price: Decimal10,
    /// Largest accepted price (inclusive).
    pub max_price: Decimal10,
    /// Largest accepted quantity (inclusive).
    pub max_quantity: Decimal10,
    /// How far past `now` a trade time may be (exchange clocks drift), in microseconds.
    pub max_future_skew_micros: i64,
    /// Trades before this time (microseconds since the epoch) are refused.
    pub timestamp_floor_micros: i64,
}

impl Default for ValidationRules {
    fn default() -> Self {
        ValidationRules {
            min_price: Decimal10(1),
            max_price: Decimal10::whole(10_000_000_000),
            max_quantity: Decimal10::whole(1_000_000_000_000),
            max_future_skew_micros: 10_000_000,
            timestamp_floor_micros: DEFAULT_TIMESTAMP_FLOOR_MICROS,
        }
    }
}

impl ValidationRules {
    /// Checks the rules against each other; returns the offending key and why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.min_price.mantissa() <= 0 {
            return Err(("min_price", "must be positive".to_owned()));
        }
        if self.max_price < self.min_price {
            return Err((
                "max_price",
                format!("must be at least min_price {}", self.min_price),
            ));
        }
        if self.max_quantity.mantissa() <= 0 {
            return Err(("max_quantity", "must be positive".to_owned()));
        }
        if self.max_future_skew_micros < 0 {
            return Err(("max_future_skew_micros", "must not be negative".to_owned()));
        }
        Ok(())
    }

    /// Price, quantity and quote volume of one trade, checked.
    pub(crate) fn amounts(
        &self,
        price_text: &str,
        quantity_text: &str,
        spelling: Spelling,
    ) -> Result<Amounts, Reject> {
        let price = parse_number(price_text, NumberField::Price, spelling)?;
        let quantity = parse_number(quantity_text, NumberField::Quantity, spelling)?;
        if price <= 0 {
            return Err(Reject::PriceNotPositive {
                value: price_text.to_owned(),
            });
        }
        if quantity <= 0 {
            return Err(Reject::QuantityNotPositive {
                value: quantity_text.to_owned(),
            });
        }
        if price < self.min_price.mantissa() || price > self.max_price.mantissa() {
            return Err(Reject::PriceOutOfBounds {
                value: price_text.to_owned(),
                min: self.min_price.to_string(),
                max: self.max_price.to_string(),
            });
        }
        if quantity > self.max_quantity.mantissa() {
            return Err(Reject::QuantityOutOfBounds {
                value: quantity_text.to_owned(),
                max: self.max_quantity.to_string(),
            });
        }
        let quote_volume = price
            .checked_mul(quantity)
            .filter(|v| *v < DECIMAL38_LIMIT)
            .ok_or_else(|| Reject::QuoteVolumeOverflow {
                price: price_text.to_owned(),
                quantity: quantity_text.to_owned(),
            })?;
        Ok(Amounts {
            price,
            quantity,
            quote_volume,
        })
    }

    /// The trade time against the floor and the clock-skew allowance.
    pub(crate) fn timestamp(&self, timestamp_micros: i64, now_micros: i64) -> Result<i64, Reject> {
        if timestamp_micros < self.timestamp_floor_micros {
            return Err(Reject::TimestampTooOld {
                timestamp_micros,
                floor_micros: self.timestamp_floor_micros,
            });
        }
        let ahead_micros = timestamp_micros.saturating_sub(now_micros);
        if ahead_micros > self.max_future_skew_micros {
            return Err(Reject::TimestampInFuture {
                timestamp_micros,
                ahead_micros,
                allowed_micros: self.max_future_skew_micros,
            });
        }
        Ok(timestamp_micros)
    }
}

/// Checked mantissas of one trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Amounts {
    pub price: i128,
    pub quantity: i128,
    pub quote_volume: i128,
}

fn parse_number(text: &str, field: NumberField, spelling: Spelling) -> Result<i128, Reject> {
    decimal::parse_scaled(text, PRICE_SCALE, spelling).map_err(|error| {
        let value = text.to_owned();
        match error {
            DecimalError::Syntax => Reject::InvalidDecimal { field, value },
            DecimalError::TooManyFractionDigits => Reject::TooManyFractionDigits { field, value },
            DecimalError::OutOfRange => Reject::NumberOutOfRange { field, value },
        }
    })
}
