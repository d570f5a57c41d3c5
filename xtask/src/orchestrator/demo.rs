//! `cargo xtask demo`: the whole migration on the local stack, end to end.
//!
//! 1. the local stack (`cargo xtask stack up`);
//! 2. a simulated legacy deployment: a copy of `deploy/legacy` under `target/demo/legacy`
//!    (the repository's compose file is never edited), its services as stand-in containers
//!    when a Docker daemon answers;
//! 3. a seeded replay of every exchange format, invalid messages included;
//! 4. v1 candles from the legacy-semantics job over the same trades;
//! 5. `migrate` end to end, then the filled tracker.
//!
//! Running it again is idempotent: the copy, the replay and finished steps are reused.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use super::DemoArgs;
use super::actions::Environment;
use super::config::OrchestratorConfig;
use super::replay::{self, ReplaySummary};
use super::runner::{self, Plan};
use super::steps::Step;

/// The stand-in image every legacy service runs.
const STANDIN_IMAGE: &str = "phase4/legacy-standin:local";

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut config = args.common.load()?;

    println!("==> 1/5 local stack");
    let stack = crate::stack::ensure_up()?;
    config.kafka_brokers = stack.kafka_brokers();
    config.clickhouse.url = stack.clickhouse_url();

    println!("==> 2/5 simulated legacy deployment");
    let compose = prepare_legacy_copy(&config)?;
    match start_legacy_containers(&config, &compose) {
        Ok(count) => println!(
            "  {count} legacy containers running (project {})",
            config.legacy.compose_project
        ),
        Err(e) => println!(
            "  no legacy containers: {e:#}\n  step 6 will work on the compose file alone and say so in the tracker"
        ),
    }

    println!("==> 3/5 replaying trades into the broker");
    let env = Environment::from_config(&config);
    let summary = replay_once(&config, &env, &args)?;
    println!("  {}", summary.describe());

    println!("==> 4/5 v1 candles (legacy semantics) over the same trades");
    if config.v1_candles_database() == config.clickhouse.database {
        legacy_candles(&config, &env, &args)?;
    } else {
        println!(
            "  given in database `{}` (legacy.v1_candles_database); not rebuilt",
            config.v1_candles_database()
        );
    }
    if args.prepare_only {
        println!(
            "demo prepared in {:.0}s (--prepare-only: migrate not run)",
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }

    println!("==> 5/5 migrate");
    let result = runner::run(
        &config,
        Plan::Range {
            through: Step::ResourceCheckpoint,
            resume: true,
        },
        &env,
    );
    println!();
    print!("{}", runner::render_tracker(&config)?);
    println!(
        "demo finished in {:.0}s (tracker: {})",
        started.elapsed().as_secs_f64(),
        config.progress_path().display()
    );
    result
}

/// Copies `deploy/legacy` to where the configuration points (once: later runs keep the
/// possibly decommissioned copy, which is what makes a second run idempotent).
fn prepare_legacy_copy(config: &OrchestratorConfig) -> anyhow::Result<PathBuf> {
    let compose = config.compose_path();
    if compose.exists() {
        println!("  reusing {}", compose.display());
        return Ok(compose);
    }
    let source = crate::paths::workspace_root().join("deploy").join("legacy");
    let target = compose
        .parent()
        .map(Path::to_path_buf)
        .context("the compose path has no folder")?;
    copy_dir(&source, &target)?;
    anyhow::ensure!(
        compose.exists(),
        "{} is not in {}",
        compose.display(),
        source.display()
    );
    println!("  copied {} to {}", source.display(), target.display());
    Ok(compose)
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let destination = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &destination)?;
        } else {
            std::fs::copy(entry.path(), &destination)?;
        }
    }
    Ok(())
}

/// Builds the stand-in image if needed and starts the compose project. Returns how many
/// of its containers run.
fn start_legacy_containers(config: &OrchestratorConfig, compose: &Path) -> anyhow::Result<usize> {
    let docker_ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    anyhow::ensure!(docker_ok, "no Docker daemon reachable");
    let image_present = Command::new("docker")
        .args(["image", "inspect", STANDIN_IMAGE])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !image_present {
        let context = config.work_path().join("standin-context");
        std::fs::create_dir_all(&context)?;
        std::fs::copy("/bin/busybox", context.join("busybox")).context(
            "busybox-static must be installed (/bin/busybox) to build the stand-in image",
        )?;
        std::fs::copy(
            crate::paths::workspace_root().join("deploy/legacy/standin/Dockerfile"),
            context.join("Dockerfile"),
        )?;
        run_command(
            Command::new("docker")
                .env("DOCKER_BUILDKIT", "0")
                .args(["build", "-q", "-t", STANDIN_IMAGE])
                .arg(&context),
        )?;
    }
    // The host has fewer cores than two of the declared limits; compose would refuse them.
    run_command(
        Command::new("docker-compose")
            .env("SPARK_WORKER_CPUS", "2.0")
            .env("CLICKHOUSE_CPUS", "2.0")
            .arg("-p")
            .arg(&config.legacy.compose_project)
            .arg("-f")
            .arg(compose)
            .args(["up", "-d"]),
    )?;
    let listed = Command::new("docker")
        .args(["ps", "-q", "--filter"])
        .arg(format!(
            "label=com.docker.compose.project={}",
            config.legacy.compose_project
        ))
        .output()?;
    Ok(String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .count())
}

fn run_command(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    anyhow::ensure!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

/// Replays the stream once; a later run reads the recorded summary instead of sending the
/// same trades again (they would be new offsets, so new rows).
fn replay_once(
    config: &OrchestratorConfig,
    env: &Environment,
    args: &DemoArgs,
) -> anyhow::Result<ReplaySummary> {
    let path = env.replay_summary_path();
    if let Ok(text) = std::fs::read_to_string(&path) {
        let summary: ReplaySummary = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a replay summary", path.display()))?;
        println!("  already replayed (recorded in {})", path.display());
        return Ok(summary);
    }
    let now_micros = args
        .replay_now_micros
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp() * 1_000_000);
    // Trades over the day before now: the stream crosses midnight UTC, and future-dated
    // invalid messages stay in the future while the processor runs.
    let generator = replay::generator_config(args.seed, now_micros, 86_400_000_000);
    let total = (args.messages_per_exchange as u64) * 3;
    replay::ensure_topics(&config.kafka_brokers, &config.topics)?;
    let summary = replay::replay_all(&config.kafka_brokers, &config.topics, generator, total)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&summary)?)?;
    Ok(summary)
}

/// The v1 candle set, from the legacy-semantics job over the replayed trades (recomputed
/// on every run, so an altered candle from an earlier run never lingers).
fn legacy_candles(
    config: &OrchestratorConfig,
    env: &Environment,
    args: &DemoArgs,
) -> anyhow::Result<()> {
    let corrupt_one = args.corrupt_v1_candle;
    use ohlcv_validator::legacy_job::{self, LegacyJobOptions};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client = ch_support::client(&config.clickhouse);
    // The legacy job reads silver_trades: make sure the table exists and the processor has
    // caught up before the job runs (steps 1-3 are idempotent, so migrate reuses this).
    runner::run(
        config,
        Plan::Range {
            through: Step::DeployProcessor,
            resume: true,
        },
        env,
    )?;
    let options = LegacyJobOptions {
        database: config.clickhouse.database.clone(),
        target_table: config.legacy.v1_candles_table.clone(),
        ..LegacyJobOptions::default()
    };
    if args.v1_shuffled_ties {
        let written = runtime.block_on(legacy_job::run(
            &client,
            &options,
            &ohlcv_validator::Timeframe::ALL,
        ))?;
        for (tf, rows) in &written {
            println!(
                "  v1 {}: {rows} candles (Spark shuffle order on ties)",
                tf.label()
            );
        }
    } else {
        // The legacy job's own SQL with one change: ties ordered by trade id instead of the
        // seeded stand-in for Spark's shuffle. Float64 prices, microsecond windows and
        // concatenated symbols stay.
        let shuffle = format!("cityHash64({}, trade_id)", options.seed);
        for tf in ohlcv_validator::Timeframe::ALL {
            let name = options.target_table.replace("{tf}", tf.label());
            let table = ch_support::quote::qualified(&options.database, &name);
            let insert = legacy_job::insert_sql(&options, &table, tf);
            anyhow::ensure!(
                insert.contains(&shuffle),
                "the legacy job's SQL no longer orders ties by `{shuffle}`; update the demo"
            );
            let insert = insert.replace(&shuffle, "trade_id");
            for sql in [
                format!("DROP TABLE IF EXISTS {table}"),
                legacy_job::create_table_sql(&table),
                insert,
            ] {
                runtime
                    .block_on(client.query(&sql).execute())
                    .with_context(|| format!("legacy job {tf}: {table}"))?;
            }
            let rows: u64 = runtime.block_on(
                client
                    .query(&format!("SELECT count() FROM {table}"))
                    .fetch_one(),
            )?;
            println!("  v1 {}: {rows} candles", tf.label());
        }
    }
    if corrupt_one {
        let table = ch_support::quote::qualified(
            &config.clickhouse.database,
            &config.legacy.v1_candles_table.replace("{tf}", "1m"),
        );
        let (symbol, exchange, window_start): (String, String, i64) = runtime.block_on(
            client
                .query(&format!(
                    "SELECT symbol, exchange, window_start FROM {table} ORDER BY exchange, symbol, window_start LIMIT 1"
                ))
                .fetch_one(),
        )?;
        runtime.block_on(
            client
                .query(&format!(
                    "ALTER TABLE {table} UPDATE open_price = open_price * 1.01 WHERE exchange = {} AND symbol = {} AND window_start = {window_start} SETTINGS mutations_sync = 2",
                    ch_support::quote::string_literal(&exchange),
                    ch_support::quote::string_literal(&symbol),
                ))
                .execute(),
        )?;
        println!(
            "  altered one v1 candle: 1m {exchange} {symbol} window_start {window_start} open +1%"
        );
    }
    Ok(())
}
