//! `cargo xtask bench`: benchmarks that need the running local stack.
//!
//! `bench silver` builds the release, statically linked processor (the binary the image
//! ships) and its harness (`crates/silver-processor/examples/silver_bench.rs`), and runs
//! the harness against the stack: end-to-end trades/s, the processor's own CPU-seconds per 100k trades
//! (`/proc/<pid>/stat`) and peak RSS (`VmHWM`), and the broker and engine front measured
//! alone, to name the part that limits throughput.

use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;

/// Arguments of `cargo xtask bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which benchmark to run: `silver`.
    pub name: String,
    /// How many valid trades to push through (silver).
    #[arg(long, default_value_t = 300_000)]
    pub trades: usize,
}

/// Runs one benchmark.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.name.as_str() {
        "silver" => silver(args.trades),
        other => bail!("bench `{other}`: unknown (known: silver)"),
    }
}

fn silver(trades: usize) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // The processor under test is the release, statically linked binary the image ships.
    let status = Command::new(&cargo)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .args([
            "build",
            "--release",
            "--target",
            "x86_64-unknown-linux-gnu",
            "-p",
            "silver-processor",
            "--bin",
            "silver-processor",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the silver processor failed: {status}");
    }
    // The harness only drives the stack; its own speed is not what is measured.
    let status = Command::new(&cargo)
        .args([
            "build",
            "-p",
            "silver-processor",
            "--example",
            "silver_bench",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the silver bench harness failed: {status}");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("target"));
    let processor = target
        .join("x86_64-unknown-linux-gnu")
        .join("release")
        .join("silver-processor");
    let status = Command::new(target.join("debug").join("examples").join("silver_bench"))
        .arg(processor)
        .arg(trades.to_string())
        .status()
        .context("running the silver bench harness")?;
    if !status.success() {
        bail!("the silver bench failed: {status}");
    }
    Ok(())
}
