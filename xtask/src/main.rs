//! `cargo xtask`: the project's automation, in plain Rust (the rust-analyzer convention).
//!
//! Each subcommand lives in its own module; this file only parses arguments and
//! dispatches.

mod paths;
mod stack;

use clap::{Parser, Subcommand};

/// Automation for the Phase 4 streaming migration.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage the local default stack: broker (tansu), ClickHouse engine (chDB front), Docker.
    Stack(stack::StackArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Stack(args) => stack::run(args),
    }
}
