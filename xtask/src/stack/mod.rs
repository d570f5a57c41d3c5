//! `cargo xtask stack up | down | status | logs`: the local default stack.

use clap::{Args, Subcommand};

/// Arguments of `cargo xtask stack`.
#[derive(Debug, Args)]
pub struct StackArgs {
    #[command(subcommand)]
    action: StackAction,
}

#[derive(Debug, Subcommand)]
enum StackAction {
    /// Install what is missing and start every part; a no-op for parts already healthy.
    Up,
    /// Stop what `up` started, by pid, and nothing else.
    Down,
    /// Print each part, its address and its health.
    Status,
    /// Print the parts' log files.
    Logs,
}

/// Runs one stack action.
pub fn run(args: StackArgs) -> anyhow::Result<()> {
    let _ = crate::paths::stack_dir();
    let _ = crate::paths::tools_dir();
    anyhow::bail!("stack {:?}: not implemented yet", args.action)
}
