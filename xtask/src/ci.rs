//! `cargo xtask test`: the README's test command.
//!
//! Phases, each timed: start the stack, `cargo fmt --check`, `cargo clippy` with warnings
//! denied, the ClickHouse front's Python tests, `cargo test --workspace`, and stopping
//! the stack, which runs even when an earlier phase failed. Every phase runs (a failing
//! fmt check does not hide a failing test); the command fails if any phase failed.

use std::process::Command;
use std::time::{Duration, Instant};

use clap::Args;

use crate::{paths, stack};

/// Arguments of `cargo xtask test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Leave the stack running at the end (for a following `cargo test -p ...`).
    #[arg(long)]
    keep_stack: bool,
    /// Lint and test only these packages instead of the whole workspace (repeatable);
    /// for a quick local run, CI always runs everything.
    #[arg(long = "package", short = 'p', value_name = "PACKAGE")]
    packages: Vec<String>,
}

impl TestArgs {
    /// `--workspace`, or one `-p NAME` per requested package.
    fn package_selection(&self) -> Vec<String> {
        if self.packages.is_empty() {
            return vec!["--workspace".to_owned()];
        }
        self.packages
            .iter()
            .flat_map(|package| ["-p".to_owned(), package.clone()])
            .collect()
    }
}

struct PhaseResult {
    name: &'static str,
    elapsed: Duration,
    outcome: anyhow::Result<()>,
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(paths::workspace_root());
    command
}

fn run_command(mut command: Command) -> anyhow::Result<()> {
    let description = format!("{command:?}");
    let status = command.status()?;
    if status.success() {
        Ok(())
    } else {
        anyhow::bail!("{description}: {status}")
    }
}

fn phase(
    results: &mut Vec<PhaseResult>,
    name: &'static str,
    step: impl FnOnce() -> anyhow::Result<()>,
) {
    eprintln!("\n=== phase: {name} ===");
    let started = Instant::now();
    let outcome = step();
    let elapsed = started.elapsed();
    match &outcome {
        Ok(()) => eprintln!("=== {name}: ok in {:.1} s", elapsed.as_secs_f64()),
        Err(error) => eprintln!(
            "=== {name}: FAILED in {:.1} s: {error:#}",
            elapsed.as_secs_f64()
        ),
    }
    results.push(PhaseResult {
        name,
        elapsed,
        outcome,
    });
}

/// Runs the whole test command.
pub fn run(args: TestArgs) -> anyhow::Result<()> {
    let total = Instant::now();
    let mut results = Vec::new();
    let mut test_env: Vec<(&str, String)> = Vec::new();
    phase(&mut results, "stack up", || {
        let config = stack::ensure_up()?;
        test_env.push(("PHASE4_KAFKA_BROKERS", config.kafka_brokers()));
        test_env.push(("PHASE4_CLICKHOUSE_URL", config.clickhouse_url()));
        Ok(())
    });
    phase(&mut results, "cargo fmt --check", || {
        let mut fmt = cargo();
        fmt.args(["fmt", "--all", "--check"]);
        run_command(fmt)
    });
    phase(&mut results, "cargo clippy", || {
        let mut clippy = cargo();
        clippy.arg("clippy").args(args.package_selection()).args([
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]);
        run_command(clippy)
    });
    phase(&mut results, "python front tests", || {
        let venv = paths::chdb_venv();
        let python = venv.join("bin").join("python");
        let mut tests = Command::new(&python);
        tests.current_dir(paths::workspace_root());
        if venv.join("bin").join("pytest").exists() {
            tests.args(["-m", "pytest", "-q", "deploy/local"]);
        } else {
            tests.args(["-m", "unittest", "discover", "-v", "-s", "deploy/local"]);
        }
        tests.envs(test_env.iter().map(|(k, v)| (*k, v.as_str())));
        run_command(tests)
    });
    phase(&mut results, "cargo test", || {
        let mut test = cargo();
        test.arg("test")
            .args(args.package_selection())
            .arg("--no-fail-fast")
            // Tests that measure (insert rates, resume times) print their numbers; show
            // them for passing tests too, so the CI log carries them.
            .args(["--", "--show-output"]);
        test.envs(test_env.iter().map(|(k, v)| (*k, v.as_str())));
        run_command(test)
    });
    if !args.keep_stack {
        phase(&mut results, "stack down", stack::down);
    }

    eprintln!("\n{:<22} {:>10}  result", "phase", "seconds");
    for result in &results {
        eprintln!(
            "{:<22} {:>10.1}  {}",
            result.name,
            result.elapsed.as_secs_f64(),
            if result.outcome.is_ok() {
                "ok"
            } else {
                "FAILED"
            }
        );
    }
    eprintln!("{:<22} {:>10.1}", "total", total.elapsed().as_secs_f64());
    let failed: Vec<&str> = results
        .iter()
        .filter(|result| result.outcome.is_err())
        .map(|result| result.name)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("failed phases: {}", failed.join(", "))
    }
}
