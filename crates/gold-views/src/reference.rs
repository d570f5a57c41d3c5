//! A pure-Rust computation of the candles, independent of ClickHouse, to test the views
//! against.
//!
//! Same definitions as the views: windows `[start, start + width)` aligned to the Unix
//! epoch in UTC; open/close are the first/last price ordered by `(timestamp, trade_id)`;
//! volume and quote volume are exact sums; VWAP is `quote_volume / volume` truncated toward
//! zero at 10 decimal places. Empty windows produce no candle.

use std::collections::BTreeMap;

use crate::timeframe::Timeframe;

/// What the reference needs from a silver trade. Decimal values are mantissas: prices and
/// quantities at scale 10, the quote volume at scale 20 (the `silver_trades` types).
pub trait TradeFields {
    /// `binance`, `kraken` or `coinbase`.
    fn exchange(&self) -> &str;
    /// Canonical `BASE/QUOTE`.
    fn symbol(&self) -> &str;
    /// Trade id (tie-breaker of open and close).
    fn trade_id(&self) -> u64;
    /// Exchange timestamp, microseconds since the epoch (UTC).
    fn timestamp_micros(&self) -> i64;
    /// Price mantissa, scale 10.
    fn price(&self) -> i128;
    /// Quantity mantissa, scale 10.
    fn quantity(&self) -> i128;
    /// Quote volume mantissa, scale 20.
    fn quote_volume(&self) -> i128;
}

impl TradeFields for trade_model::SilverTrade {
    fn exchange(&self) -> &str {
        &self.exchange
    }
    fn symbol(&self) -> &str {
        &self.symbol
    }
    fn trade_id(&self) -> u64 {
        self.trade_id
    }
    fn timestamp_micros(&self) -> i64 {
        self.timestamp
    }
    fn price(&self) -> i128 {
        self.price
    }
    fn quantity(&self) -> i128 {
        self.quantity
    }
    fn quote_volume(&self) -> i128 {
        self.quote_volume
    }
}

/// Formats a decimal mantissa the way ClickHouse's `toString` prints a Decimal: no
/// trailing fractional zeros, no point for whole numbers (`1005000000000`, 10 -> `100.5`).
pub fn format_decimal(mantissa: i128, scale: u32) -> String {
    let unit = 10_u128.pow(scale);
    let magnitude = mantissa.unsigned_abs();
    let sign = if mantissa < 0 { "-" } else { "" };
    let whole = magnitude / unit;
    let fraction = magnitude % unit;
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{fraction:0width$}", width = scale as usize);
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

/// One candle, with decimal values as mantissas (scale in each field's doc).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candle {
    /// Exchange.
    pub exchange: String,
    /// Symbol.
    pub symbol: String,
    /// Window start, seconds since the epoch.
    pub window_start: i64,
    /// Window end (exclusive), seconds since the epoch.
    pub window_end: i64,
    /// First price, scale 10.
    pub open: i128,
    /// Highest price, scale 10.
    pub high: i128,
    /// Lowest price, scale 10.
    pub low: i128,
    /// Last price, scale 10.
    pub close: i128,
    /// Sum of quantities, scale 10.
    pub volume: i128,
    /// Sum of quote volumes, scale 20.
    pub quote_volume: i128,
    /// Number of trades.
    pub trade_count: u64,
    /// `quote_volume / volume` truncated toward zero, scale 10.
    pub vwap: i128,
}

/// Why the reference could not compute a candle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// A sum left the i128 range (the views use Decimal256 sums; the reference stops here).
    #[error("{exchange} {symbol} window {window_start}: {what} exceeds the i128 range")]
    Overflow {
        /// Exchange.
        exchange: String,
        /// Symbol.
        symbol: String,
        /// Window start, seconds.
        window_start: i64,
        /// Which sum.
        what: &'static str,
    },
    /// A window's volume is zero, so VWAP is undefined (silver never holds such trades).
    #[error("{exchange} {symbol} window {window_start}: volume is zero")]
    ZeroVolume {
        /// Exchange.
        exchange: String,
        /// Symbol.
        symbol: String,
        /// Window start, seconds.
        window_start: i64,
    },
}

/// The epoch-aligned window start, in seconds, of a timestamp in microseconds.
pub fn window_start(timestamp_micros: i64, tf: &Timeframe) -> i64 {
    let width = i64::try_from(tf.seconds()).unwrap_or(i64::MAX);
    timestamp_micros.div_euclid(1_000_000).div_euclid(width) * width
}

struct Acc {
    open: (i64, u64, i128),
    close: (i64, u64, i128),
    high: i128,
    low: i128,
    volume: Option<i128>,
    quote_volume: Option<i128>,
    trade_count: u64,
}

/// Computes the candles of `trades` for one timeframe, sorted by (exchange, symbol,
/// window_start).
pub fn candles<T: TradeFields>(
    trades: &[T],
    tf: &Timeframe,
) -> Result<Vec<Candle>, ReferenceError> {
    let mut windows: BTreeMap<(&str, &str, i64), Acc> = BTreeMap::new();
    for trade in trades {
        let key = (
            trade.exchange(),
            trade.symbol(),
            window_start(trade.timestamp_micros(), tf),
        );
        let order = (trade.timestamp_micros(), trade.trade_id(), trade.price());
        let acc = windows.entry(key).or_insert(Acc {
            open: order,
            close: order,
            high: trade.price(),
            low: trade.price(),
            volume: Some(0),
            quote_volume: Some(0),
            trade_count: 0,
        });
        if (order.0, order.1) < (acc.open.0, acc.open.1) {
            acc.open = order;
        }
        if (order.0, order.1) > (acc.close.0, acc.close.1) {
            acc.close = order;
        }
        acc.high = acc.high.max(trade.price());
        acc.low = acc.low.min(trade.price());
        acc.volume = acc.volume.and_then(|v| v.checked_add(trade.quantity()));
        acc.quote_volume = acc
            .quote_volume
            .and_then(|v| v.checked_add(trade.quote_volume()));
        acc.trade_count += 1;
    }
    let width = i64::try_from(tf.seconds()).unwrap_or(i64::MAX);
    windows
        .into_iter()
        .map(|((exchange, symbol, window_start), acc)| {
            let overflow = |what| ReferenceError::Overflow {
                exchange: exchange.to_owned(),
                symbol: symbol.to_owned(),
                window_start,
                what,
            };
            let volume = acc.volume.ok_or_else(|| overflow("volume"))?;
            let quote_volume = acc.quote_volume.ok_or_else(|| overflow("quote volume"))?;
            if volume == 0 {
                return Err(ReferenceError::ZeroVolume {
                    exchange: exchange.to_owned(),
                    symbol: symbol.to_owned(),
                    window_start,
                });
            }
            // quote_volume has scale 20 and volume scale 10, so the integer quotient of the
            // mantissas is VWAP at scale 10; Rust's `/` truncates toward zero like ClickHouse.
            let vwap = quote_volume / volume;
            Ok(Candle {
                exchange: exchange.to_owned(),
                symbol: symbol.to_owned(),
                window_start,
                window_end: window_start + width,
                open: acc.open.2,
                high: acc.high,
                low: acc.low,
                close: acc.close.2,
                volume,
                quote_volume,
                trade_count: acc.trade_count,
                vwap,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct T(&'static str, u64, i64, i128, i128);
    impl TradeFields for T {
        fn exchange(&self) -> &str {
            "binance"
        }
        fn symbol(&self) -> &str {
            self.0
        }
        fn trade_id(&self) -> u64 {
            self.1
        }
        fn timestamp_micros(&self) -> i64 {
            self.2
        }
        fn price(&self) -> i128 {
            self.3
        }
        fn quantity(&self) -> i128 {
            self.4
        }
        fn quote_volume(&self) -> i128 {
            self.3 * self.4
        }
    }

    const ONE: i128 = 10_000_000_000;

    #[test]
    fn tie_on_timestamp_breaks_by_trade_id() {
        let tf = "1m".parse().unwrap();
        let trades = [
            T("BTC/USDT", 7, 60_000_000, 3 * ONE, ONE),
            T("BTC/USDT", 5, 60_000_000, 2 * ONE, ONE),
            T("BTC/USDT", 9, 60_000_000, 4 * ONE, ONE),
        ];
        let c = candles(&trades, &tf).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].open, c[0].close), (2 * ONE, 4 * ONE));
        assert_eq!(c[0].trade_count, 3);
    }

    #[test]
    fn trade_on_the_boundary_opens_the_next_window() {
        let tf = "5m".parse().unwrap();
        let trades = [
            T("ETH/USDT", 1, 299_999_999, ONE, ONE),
            T("ETH/USDT", 2, 300_000_000, 2 * ONE, ONE),
        ];
        let c = candles(&trades, &tf).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].window_start, c[0].window_end), (0, 300));
        assert_eq!((c[1].window_start, c[1].open), (300, 2 * ONE));
    }

    #[test]
    fn vwap_truncates_toward_zero_at_price_scale() {
        let tf = "1d".parse().unwrap();
        // 1 @ 1 and 2 @ 2: quote 5, volume 3, vwap 1.6666666666 (truncated).
        let trades = [T("X/Y", 1, 0, ONE, ONE), T("X/Y", 2, 1, 2 * ONE, 2 * ONE)];
        let c = candles(&trades, &tf).unwrap();
        assert_eq!(c[0].vwap, 16_666_666_666);
        assert_eq!(c[0].window_end, 86_400);
    }

    #[test]
    fn decimals_print_like_clickhouse() {
        assert_eq!(format_decimal(1_005_000_000_000, 10), "100.5");
        assert_eq!(format_decimal(3 * ONE, 10), "3");
        assert_eq!(format_decimal(1, 10), "0.0000000001");
        assert_eq!(format_decimal(-15, 1), "-1.5");
    }

    #[test]
    fn empty_windows_produce_no_candle() {
        let tf = "1m".parse().unwrap();
        let trades = [T("X/Y", 1, 0, ONE, ONE), T("X/Y", 2, 600_000_000, ONE, ONE)];
        assert_eq!(candles(&trades, &tf).unwrap().len(), 2);
    }
}
