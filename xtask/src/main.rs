//! `cargo xtask`: the project's automation, in plain Rust (the rust-analyzer convention).
//!
//! Each subcommand lives in its own module; this file only parses arguments and
//! dispatches.

mod bench;
mod ci;
mod orchestrator;
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
    /// The test command: start the stack, run fmt, clippy and every test, stop the stack.
    Test(ci::TestArgs),
    /// Benchmarks that need the running stack (e.g. `bench silver`).
    Bench(bench::BenchArgs),
    /// Run the migration steps 1-7 against the configured environment.
    Migrate(orchestrator::MigrateArgs),
    /// Render the progress tracker from recorded measurements.
    Status(orchestrator::StatusArgs),
    /// The whole migration end to end on the local default stack.
    Demo(orchestrator::DemoArgs),
    /// Undo the decommission (and optionally the gold or silver objects).
    Rollback(orchestrator::RollbackArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Stack(args) => stack::run(args),
        Command::Test(args) => ci::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Migrate(args) => orchestrator::migrate(args),
        Command::Status(args) => orchestrator::status(args),
        Command::Demo(args) => orchestrator::demo(args),
        Command::Rollback(args) => orchestrator::rollback(args),
    }
}
