#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::check(trade_model::Exchange::Coinbase, data);
});
