//! Decode + validate + normalize throughput per format, on one core.
//!
//! Run: `cargo bench -p trade-model --bench normalize`. Besides Criterion's own report
//! (throughput in trades/s), a summary line per format is printed:
//! `normalize <format>: N trades/s on one core`.
//!
//! `NORMALIZE_BENCH_ONLY=<text>` keeps only the formats whose name contains the text
//! (e.g. `binance trade` for a profile of one format under `perf record`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use trade_model::generator::{Expected, Format, Generator, GeneratorConfig};
use trade_model::{Exchange, InstrumentRegistry, Normalizer, ValidationRules};

struct Corpus {
    name: &'static str,
    exchange: Exchange,
    messages: Vec<Vec<u8>>,
    trades: u64,
    now_micros: i64,
}

fn corpus(name: &'static str, exchange: Exchange, wanted: impl Fn(Format, bool) -> bool) -> Corpus {
    let config = GeneratorConfig::valid_only(11, &[exchange]);
    let now_micros = config.now_micros;
    let mut messages = Vec::new();
    let mut trades = 0;
    for message in Generator::new(config) {
        if !wanted(message.format, message.combined_stream) {
            continue;
        }
        if let Expected::Trades(rows) = &message.expected {
            trades += rows.len() as u64;
        }
        messages.push(message.payload);
        if messages.len() == 10_000 {
            break;
        }
    }
    Corpus {
        name,
        exchange,
        messages,
        trades,
        now_micros,
    }
}

fn corpora() -> Vec<Corpus> {
    let only = std::env::var("NORMALIZE_BENCH_ONLY").unwrap_or_default();
    let all = vec![
        corpus("binance trade", Exchange::Binance, |f, c| {
            f == Format::BinanceTrade && !c
        }),
        corpus("binance aggTrade", Exchange::Binance, |f, c| {
            f == Format::BinanceAggTrade && !c
        }),
        corpus(
            "binance trade combined stream",
            Exchange::Binance,
            |f, c| f == Format::BinanceTrade && c,
        ),
        corpus("binance futures trade", Exchange::Binance, |f, c| {
            f == Format::BinanceFuturesTrade && !c
        }),
        corpus("kraken v1 frame", Exchange::Kraken, |f, _| {
            f == Format::KrakenV1
        }),
        corpus("kraken v2", Exchange::Kraken, |f, _| f == Format::KrakenV2),
        corpus("coinbase match", Exchange::Coinbase, |f, _| {
            f == Format::CoinbaseMatch
        }),
    ];
    all.into_iter()
        .filter(|corpus| corpus.name.contains(only.as_str()))
        .collect()
}

fn run_once(normalizer: &Normalizer, corpus: &Corpus, rows: &mut Vec<trade_model::SilverTrade>) {
    for message in &corpus.messages {
        rows.clear();
        let outcome = normalizer.normalize(corpus.exchange, message, corpus.now_micros, rows);
        black_box(outcome.is_ok());
        black_box(&rows);
    }
}

fn criterion_benches(c: &mut Criterion) {
    let normalizer = Normalizer::new(InstrumentRegistry::bundled(), ValidationRules::default());
    let mut group = c.benchmark_group("normalize");
    for corpus in corpora() {
        group.throughput(Throughput::Elements(corpus.trades));
        let mut rows = Vec::with_capacity(16);
        group.bench_function(corpus.name, |b| {
            b.iter(|| run_once(&normalizer, &corpus, &mut rows))
        });
    }
    group.finish();
}

/// CPU time this thread has spent on a core, from `/proc/thread-self/schedstat` (ns). On a
/// shared, overloaded machine wall-clock rates understate what one core does; this does
/// not. `None` where the file does not exist.
fn thread_cpu_nanos() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Repeats `round` (worth `trades_per_round` trades) for about 2 s of this thread's CPU
/// (wall clock where the CPU clock is unavailable); returns trades, CPU and wall seconds.
fn for_two_cpu_seconds(trades_per_round: u64, mut round: impl FnMut()) -> (u64, f64, f64) {
    let started = Instant::now();
    let cpu_started = thread_cpu_nanos();
    let cpu_spent = || {
        thread_cpu_nanos()
            .zip(cpu_started)
            .map(|(now, then)| now - then)
    };
    let mut trades = 0_u64;
    while cpu_spent().unwrap_or_else(|| started.elapsed().as_nanos() as u64) < 2_000_000_000 {
        round();
        trades += trades_per_round;
    }
    let wall_seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_spent().map_or(wall_seconds, |ns| ns as f64 / 1e9);
    (trades, cpu_seconds, wall_seconds)
}

/// Measurement over ~2 s of CPU per format, printed as trades/s per core (CPU time) and
/// per wall-clock second.
fn print_summary() {
    let normalizer = Normalizer::new(InstrumentRegistry::bundled(), ValidationRules::default());
    let mut rows = Vec::with_capacity(16);
    for corpus in corpora() {
        run_once(&normalizer, &corpus, &mut rows); // warm up
        let (trades, cpu_seconds, wall_seconds) =
            for_two_cpu_seconds(corpus.trades, || run_once(&normalizer, &corpus, &mut rows));
        println!(
            "normalize {}: {:.0} trades/s per core-second of CPU, {:.0} trades/s wall clock ({} messages of {} bytes avg)",
            corpus.name,
            trades as f64 / cpu_seconds,
            trades as f64 / wall_seconds,
            corpus.messages.len(),
            corpus.messages.iter().map(Vec::len).sum::<usize>() / corpus.messages.len().max(1)
        );
    }
}

/// The floor the issue quotes ("serde_json into borrowed structs plus two decimal
/// parses"), measured on the same machine at the same moment, so the normalize figures
/// can be read against it when the machine is loaded.
fn print_serde_floor() {
    #[derive(serde::Deserialize)]
    struct Borrowed<'a> {
        #[serde(borrow)]
        s: &'a str,
        t: u64,
        #[serde(borrow)]
        p: &'a str,
        #[serde(borrow)]
        q: &'a str,
        #[serde(rename = "T")]
        trade_time: i64,
        m: bool,
    }
    use trade_model::decimal::{Spelling, parse_scaled};
    let corpus = corpus("binance trade", Exchange::Binance, |f, c| {
        f == Format::BinanceTrade && !c
    });
    let once = || {
        for message in &corpus.messages {
            let parsed: Borrowed<'_> = serde_json::from_slice(message).unwrap();
            black_box((parsed.s, parsed.t, parsed.trade_time, parsed.m));
            black_box(parse_scaled(parsed.p, 10, Spelling::PlainText).unwrap());
            black_box(parse_scaled(parsed.q, 10, Spelling::PlainText).unwrap());
        }
    };
    once();
    let (trades, cpu_seconds, _) = for_two_cpu_seconds(corpus.trades, once);
    println!(
        "floor (serde_json borrowed struct + 2 decimal parses, binance trade): {:.0} trades/s per core-second of CPU",
        trades as f64 / cpu_seconds
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(20);
    targets = criterion_benches
}

fn main() {
    print_serde_floor();
    print_summary();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
