//! `cargo xtask demo`: the whole migration on the local stack, end to end.

use super::DemoArgs;

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("demo is not available yet")
}
