#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use trade_model::{InstrumentRegistry, Normalizer, ValidationRules};

const NOW: i64 = 1_767_225_600_000_000;

thread_local! {
    static NORMALIZER: Normalizer =
        Normalizer::new(InstrumentRegistry::bundled(), ValidationRules::default());
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    NORMALIZER.with(|normalizer| {
        if let Ok(row) = normalizer.normalize_kraken_csv_row("BCH/EUR", 7, line, NOW) {
            assert!(row.price > 0 && row.quantity > 0);
            assert_eq!(row.symbol, "BCH/EUR");
            assert_eq!(Some(row.quote_volume), row.price.checked_mul(row.quantity));
        }
    });
});
