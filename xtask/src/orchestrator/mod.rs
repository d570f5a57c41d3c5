//! The migration orchestrator: `migrate`, `status`, `demo` and `rollback`.
//!
//! - [`steps`]: the seven steps and three milestones with their gates;
//! - [`state`]: the persisted state file, rewritten atomically after every action;
//! - [`runner`]: runs steps in order, resumes, enforces the step 5 hard gate;
//! - [`actions`]: what each step does, over the workspace crates' libraries;
//! - [`resources`]: step 7, declared limits, Docker stats and the processor's `/proc`;
//! - [`tracker`]: renders the tracker in the format of the user's `PHASE-4-PROGRESS.md`;
//! - [`demo`] and [`rollback`]: the end-to-end demo and the way back.
//!
//! Design notes are in `docs/ORCHESTRATOR.md`.

pub mod actions;
pub mod config;
pub mod demo;
pub mod replay;
pub mod resources;
pub mod rollback;
pub mod runner;
pub mod state;
pub mod steps;
pub mod tracker;

use std::path::PathBuf;

use clap::Args;

use config::OrchestratorConfig;
use steps::{Milestone, Step};

/// Options every orchestrator command shares.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// TOML file with orchestrator settings (state_file, progress_file, clickhouse.*,
    /// legacy.compose_file, targets.*, measure.*); environment variables
    /// `PHASE4_MIGRATE__<KEY>` override it, e.g. `PHASE4_MIGRATE__TARGETS__TOTAL_CPU=20`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The state file to read and write (overrides `state_file`; default
    /// `target/migration/state.json`).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

impl CommonArgs {
    /// Loads the configuration with the command-line overrides applied.
    pub fn load(&self) -> anyhow::Result<OrchestratorConfig> {
        let mut config = OrchestratorConfig::load(self.config.as_deref())?;
        if let Some(state) = &self.state {
            config.state_file = state.clone();
        }
        Ok(config)
    }
}

/// Arguments of `cargo xtask migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Settings and state file.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Stop after this step (1-7). Steps after it are left as they are.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=7))]
    pub through: Option<u8>,
    /// Run only this step (1-7). Steps 6 and 7 still refuse to start unless step 5 passed.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=7), conflicts_with_all = ["through", "resume"])]
    pub step: Option<u8>,
    /// Continue from the first step that is not done (e.g. after a crash or a fixed
    /// blocker) instead of re-checking every step from 1. A step killed mid-way is rerun
    /// from its start; every step is idempotent.
    #[arg(long)]
    pub resume: bool,
}

/// Arguments of `cargo xtask status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Settings and state file.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Where to write the tracker (overrides `progress_file`; default `docs/PROGRESS.md`).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the tracker only; do not write the file.
    #[arg(long)]
    pub no_write: bool,
}

/// Arguments of `cargo xtask demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Settings and state file.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Seed of the generated trade stream (same seed, same trades).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// How many raw messages to replay per exchange.
    #[arg(long, default_value_t = 20_000)]
    pub messages_per_exchange: usize,
    /// Alter one v1 candle before validating, to show the hard gate stopping the run.
    #[arg(long)]
    pub corrupt_v1_candle: bool,
    /// Build the v1 candles with the legacy job's Spark-shuffle order on timestamp ties
    /// (its known defect: some opens and closes are another tied trade's price). By default
    /// ties keep exchange order (trade id), as a legacy run whose shuffle kept the order.
    #[arg(long)]
    pub v1_shuffled_ties: bool,
    /// Prepare only (stack, legacy stand-ins, replay, v1 candles) and stop before the final
    /// `migrate`; the kill-and-resume test drives `migrate` itself.
    #[arg(long, hide = true)]
    pub prepare_only: bool,
    /// The replay's "now" in microseconds since the epoch instead of the current time: the
    /// same seed and "now" give the same trades, so several environments can share one v1
    /// candle set.
    #[arg(long, hide = true, value_name = "MICROS")]
    pub replay_now_micros: Option<i64>,
}

/// Arguments of `cargo xtask rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Settings and state file.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The milestone to return to: `M2` restores the legacy services (undoes step 6 and
    /// clears step 7); `M1` also undoes the gold layer when `--drop-gold` is given.
    #[arg(long, value_name = "M1|M2")]
    pub to: Milestone,
    /// Also drop the gold views, materialized views and state tables (with `--to M1`).
    #[arg(long)]
    pub drop_gold: bool,
    /// Also drop `silver_trades` and its migrations record (with `--to M1`, implies
    /// `--drop-gold`). Data in it is lost.
    #[arg(long)]
    pub drop_silver: bool,
}

/// Runs `migrate`.
pub fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let config = args.common.load()?;
    let plan = if let Some(n) = args.step {
        runner::Plan::Only(step_from(n)?)
    } else {
        runner::Plan::Range {
            through: step_from(args.through.unwrap_or(7))?,
            resume: args.resume,
        }
    };
    runner::run(&config, plan, &actions::Environment::from_config(&config))
}

fn step_from(n: u8) -> anyhow::Result<Step> {
    Step::from_number(n).ok_or_else(|| anyhow::anyhow!("no step {n}: steps are 1-7"))
}

/// Runs `status`.
pub fn status(args: StatusArgs) -> anyhow::Result<()> {
    let mut config = args.common.load()?;
    if let Some(output) = args.output {
        config.progress_file = output;
    }
    let text = runner::render_tracker(&config)?;
    if !args.no_write {
        runner::write_tracker(&config, &text)?;
    }
    print!("{text}");
    Ok(())
}

/// Runs `demo`.
pub fn demo(args: DemoArgs) -> anyhow::Result<()> {
    demo::run(args)
}

/// Stops the silver processor that `migrate` step 3 started (its pid file is in the
/// configured work dir), when it consumes from `kafka_brokers`. `stack down` calls it: a
/// processor left running against a stopped stack only retries and keeps its port, and
/// after the stack's data is wiped it would reconnect to an empty broker and ClickHouse.
/// Returns the pid it stopped; idempotent.
pub fn stop_processor_on(kafka_brokers: &str) -> anyhow::Result<Option<u32>> {
    let config = OrchestratorConfig::load(None)?;
    let env = actions::Environment::from_config(&config);
    match env.running_processor_brokers() {
        Some(brokers) if brokers == kafka_brokers => env.stop_processor(),
        _ => Ok(None),
    }
}

/// Runs `rollback`.
pub fn rollback(args: RollbackArgs) -> anyhow::Result<()> {
    rollback::run(args)
}
