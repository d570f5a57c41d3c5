//! `cargo xtask test`: the README's test command.

use clap::Args;

/// Arguments of `cargo xtask test`.
#[derive(Debug, Args)]
pub struct TestArgs {}

/// Runs the whole test command.
pub fn run(_args: TestArgs) -> anyhow::Result<()> {
    anyhow::bail!("test: not implemented yet")
}
