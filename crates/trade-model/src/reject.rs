//! Why a raw message was refused. Each reason has a stable machine code for the DLQ and
//! metrics; the message text names the field and the value.

/// Which numeric field a decimal problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberField {
    /// The trade price.
    Price,
    /// The traded quantity.
    Quantity,
}

impl NumberField {
    /// `price` or `quantity`.
    pub const fn as_str(self) -> &'static str {
        match self {
            NumberField::Price => "price",
            NumberField::Quantity => "quantity",
        }
    }
}

impl std::fmt::Display for NumberField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A raw message that cannot become silver rows. A message is accepted or rejected whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reject {
    /// Not JSON (or not UTF-8, or truncated).
    #[error("malformed json: {detail}")]
    MalformedJson {
        /// The parser's description, with position.
        detail: String,
    },
    /// A required field is absent.
    #[error("missing field `{field}`")]
    MissingField {
        /// The field's name in the exchange format.
        field: &'static str,
    },
    /// A field is present with the wrong JSON type (or shape).
    #[error("field `{field}` has the wrong type: {detail}")]
    WrongType {
        /// The field's name in the exchange format (or its path).
        field: String,
        /// What was expected and found.
        detail: String,
    },
    /// A message of a kind this decoder does not turn into trades (e.g. a Binance
    /// `24hrTicker` on a trade topic, or a Kraken v1 `book` frame).
    #[error("unsupported message: {kind}")]
    UnsupportedMessage {
        /// The event type / channel the message announced.
        kind: String,
    },
    /// The exchange symbol is not in the instrument registry.
    #[error("unknown instrument `{symbol}` on {exchange}")]
    UnknownInstrument {
        /// `binance`, `kraken` or `coinbase`.
        exchange: &'static str,
        /// The symbol as the exchange sent it.
        symbol: String,
    },
    /// A price or quantity that is not a plain decimal (`NaN`, `1e5`, `+3`, empty...).
    #[error("{field} `{value}` is not a decimal number")]
    InvalidDecimal {
        /// Price or quantity.
        field: NumberField,
        /// The text received.
        value: String,
    },
    /// More fractional digits than `Decimal(38, 10)` holds; never rounded.
    #[error("{field} `{value}` has more than 10 fractional digits")]
    TooManyFractionDigits {
        /// Price or quantity.
        field: NumberField,
        /// The text received.
        value: String,
    },
    /// Does not fit `Decimal(38, 10)` at all.
    #[error("{field} `{value}` does not fit Decimal(38, 10)")]
    NumberOutOfRange {
        /// Price or quantity.
        field: NumberField,
        /// The text received.
        value: String,
    },
    /// Price zero or negative.
    #[error("price `{value}` is not positive")]
    PriceNotPositive {
        /// The text received.
        value: String,
    },
    /// Quantity zero or negative.
    #[error("quantity `{value}` is not positive")]
    QuantityNotPositive {
        /// The text received.
        value: String,
    },
    /// Price outside the configured sanity bounds.
    #[error("price `{value}` is outside the bounds [{min}, {max}]")]
    PriceOutOfBounds {
        /// The text received.
        value: String,
        /// Configured minimum.
        min: String,
        /// Configured maximum.
        max: String,
    },
    /// Quantity above the configured sanity bound.
    #[error("quantity `{value}` is above the bound {max}")]
    QuantityOutOfBounds {
        /// The text received.
        value: String,
        /// Configured maximum.
        max: String,
    },
    /// price × quantity does not fit `Decimal(38, 20)`.
    #[error("quote volume of price `{price}` x quantity `{quantity}` does not fit Decimal(38, 20)")]
    QuoteVolumeOverflow {
        /// Price text.
        price: String,
        /// Quantity text.
        quantity: String,
    },
    /// Side text not one the format defines.
    #[error("field `{field}`: side `{value}` is not recognised")]
    InvalidSide {
        /// The field's name in the exchange format.
        field: &'static str,
        /// The text received.
        value: String,
    },
    /// A timestamp text or number that is not a valid time.
    #[error("field `{field}`: timestamp `{value}` is not valid")]
    InvalidTimestamp {
        /// The field's name in the exchange format.
        field: &'static str,
        /// The text received.
        value: String,
    },
    /// Later than now plus the allowed clock skew.
    #[error(
        "timestamp {timestamp_micros} µs is {ahead_micros} µs in the future (allowed skew {allowed_micros} µs)"
    )]
    TimestampInFuture {
        /// The trade's time.
        timestamp_micros: i64,
        /// How far past `now`.
        ahead_micros: i64,
        /// Configured allowance.
        allowed_micros: i64,
    },
    /// Earlier than the configured floor.
    #[error("timestamp {timestamp_micros} µs is before the floor {floor_micros} µs")]
    TimestampTooOld {
        /// The trade's time.
        timestamp_micros: i64,
        /// Configured floor.
        floor_micros: i64,
    },
    /// A frame announcing trades carries none.
    #[error("message carries no trades")]
    EmptyTrades,
}

impl Reject {
    /// Every machine code, for documentation and metrics pre-registration.
    pub const CODES: [&'static str; 18] = [
        "malformed_json",
        "missing_field",
        "wrong_type",
        "unsupported_message",
        "unknown_instrument",
        "invalid_decimal",
        "too_many_fraction_digits",
        "number_out_of_range",
        "price_not_positive",
        "quantity_not_positive",
        "price_out_of_bounds",
        "quantity_out_of_bounds",
        "quote_volume_overflow",
        "invalid_side",
        "invalid_timestamp",
        "timestamp_in_future",
        "timestamp_too_old",
        "empty_trades",
    ];

    /// The stable machine code (snake case), e.g. `price_not_positive`.
    pub fn code(&self) -> &'static str {
        match self {
            Reject::MalformedJson { .. } => "malformed_json",
            Reject::MissingField { .. } => "missing_field",
            Reject::WrongType { .. } => "wrong_type",
            Reject::UnsupportedMessage { .. } => "unsupported_message",
            Reject::UnknownInstrument { .. } => "unknown_instrument",
            Reject::InvalidDecimal { .. } => "invalid_decimal",
            Reject::TooManyFractionDigits { .. } => "too_many_fraction_digits",
            Reject::NumberOutOfRange { .. } => "number_out_of_range",
            Reject::PriceNotPositive { .. } => "price_not_positive",
            Reject::QuantityNotPositive { .. } => "quantity_not_positive",
            Reject::PriceOutOfBounds { .. } => "price_out_of_bounds",
            Reject::QuantityOutOfBounds { .. } => "quantity_out_of_bounds",
            Reject::QuoteVolumeOverflow { .. } => "quote_volume_overflow",
            Reject::InvalidSide { .. } => "invalid_side",
            Reject::InvalidTimestamp { .. } => "invalid_timestamp",
            Reject::TimestampInFuture { .. } => "timestamp_in_future",
            Reject::TimestampTooOld { .. } => "timestamp_too_old",
            Reject::EmptyTrades => "empty_trades",
        }
    }
}

impl From<serde_json::Error> for Reject {
    fn from(error: serde_json::Error) -> Self {
        use serde_json::error::Category;
        match error.classify() {
            Category::Data => Reject::WrongType {
                field: "?".to_owned(),
                detail: error.to_string(),
            },
            Category::Io | Category::Syntax | Category::Eof => Reject::MalformedJson {
                detail: error.to_string(),
            },
        }
    }
}
