// Shared by every target: decode one payload and check the all-or-nothing contract.
use trade_model::{Exchange, InstrumentRegistry, Normalizer, Outcome, SilverTrade, ValidationRules};

/// 2026-01-01T00:00:00Z
pub const NOW: i64 = 1_767_225_600_000_000;

pub fn check(exchange: Exchange, data: &[u8]) {
    thread_local! {
        static NORMALIZER: Normalizer =
            Normalizer::new(InstrumentRegistry::bundled(), ValidationRules::default());
    }
    NORMALIZER.with(|normalizer| {
        let sentinel = SilverTrade {
            exchange: "sentinel".to_owned(),
            symbol: "S/S".to_owned(),
            trade_id: 0,
            timestamp: 0,
            price: 0,
            quantity: 0,
            quote_volume: 0,
            side: trade_model::Side::Buy,
        };
        let mut rows = vec![sentinel.clone()];
        match normalizer.normalize(exchange, data, NOW, &mut rows) {
            Ok(Outcome::Trades(n)) => {
                assert_eq!(rows.len(), n + 1);
                assert!(n > 0);
                for row in &rows[1..] {
                    assert_eq!(row.exchange, exchange.as_str());
                    assert!(row.price > 0 && row.quantity > 0);
                    assert_eq!(Some(row.quote_volume), row.price.checked_mul(row.quantity));
                    assert!(row.timestamp <= NOW + normalizer.rules().max_future_skew_micros);
                }
            }
            Ok(Outcome::Ignored) => assert_eq!(rows, vec![sentinel]),
            Err(reject) => {
                assert_eq!(rows, vec![sentinel]);
                assert!(trade_model::Reject::CODES.contains(&reject.code()));
                let _ = reject.to_string();
            }
        }
    });
}
