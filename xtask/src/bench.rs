//! `cargo xtask bench`: benchmarks that need the running local stack.
//!
//! `bench silver` builds the release processor and its harness
//! (`crates/silver-processor/examples/silver_bench.rs`) and runs the harness against the
//! stack: end-to-end trades/s, the processor's own CPU-seconds per 100k trades
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
    let status = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "-p",
            "silver-processor",
            "--bin",
            "silver-processor",
            "--example",
            "silver_bench",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the silver processor failed: {status}");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("target"));
    let release = target.join("release");
    let status = Command::new(release.join("examples").join("silver_bench"))
        .arg(release.join("silver-processor"))
        .arg(trades.to_string())
        .status()
        .context("running the silver bench harness")?;
    if !status.success() {
        bail!("the silver bench failed: {status}");
    }
    Ok(())
}
