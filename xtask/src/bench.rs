//! `cargo xtask bench`: benchmarks that need the running local stack.

use clap::Args;

/// Arguments of `cargo xtask bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which benchmark to run.
    pub name: String,
}

/// Runs one benchmark.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("bench {}: not implemented yet", args.name)
}
