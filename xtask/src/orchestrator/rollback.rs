//! `cargo xtask rollback --to M1|M2`: undoes the decommission, optionally the gold and
//! silver objects, and records what it did in the decisions log.

use super::RollbackArgs;

/// Runs the rollback.
pub fn run(args: RollbackArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("rollback is not available yet")
}
