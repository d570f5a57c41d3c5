//! The migration orchestrator: `migrate`, `status`, `demo` and `rollback`.

use clap::Args;

/// Arguments of `cargo xtask migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {}

/// Arguments of `cargo xtask status`.
#[derive(Debug, Args)]
pub struct StatusArgs {}

/// Arguments of `cargo xtask demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {}

/// Arguments of `cargo xtask rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {}

/// Runs `migrate`.
pub fn migrate(_args: MigrateArgs) -> anyhow::Result<()> {
    anyhow::bail!("migrate: not implemented yet")
}

/// Runs `status`.
pub fn status(_args: StatusArgs) -> anyhow::Result<()> {
    anyhow::bail!("status: not implemented yet")
}

/// Runs `demo`.
pub fn demo(_args: DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("demo: not implemented yet")
}

/// Runs `rollback`.
pub fn rollback(_args: RollbackArgs) -> anyhow::Result<()> {
    anyhow::bail!("rollback: not implemented yet")
}
