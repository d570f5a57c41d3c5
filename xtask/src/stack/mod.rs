//! `cargo xtask stack up | down | status | logs`: the local default stack.
//!
//! Three parts, all bound to 127.0.0.1, with state, pids, logs and data under
//! `target/stack/`:
//!
//! - **broker**: tansu 0.6.0 ([`broker`]) on PostgreSQL 15 storage ([`postgres`]);
//! - **clickhouse**: chDB behind `deploy/local/chfront.py` ([`clickhouse`]);
//! - **docker**: the machine's daemon, only probed ([`docker`]).
//!
//! Every command is idempotent. `up` installs what is missing (tansu, the chDB
//! virtualenv) into the tools directory and starts only parts that are not healthy. `down`
//! stops, by recorded pid, what `up` started and nothing else. Other xtask modules use
//! [`ensure_up`], [`down`] and the per-part start/stop functions.

pub(crate) mod broker;
mod clickhouse;
mod docker;
mod postgres;
pub(crate) mod process;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::paths;

/// Ports of the stack's parts, all on 127.0.0.1.
///
/// Loaded with `layered-config`: defaults, then the `--config` TOML file, then environment
/// variables `PHASE4_STACK__KAFKA_PORT`, `PHASE4_STACK__CLICKHOUSE_PORT`,
/// `PHASE4_STACK__POSTGRES_PORT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StackConfig {
    /// The Kafka-protocol broker's listener.
    pub kafka_port: u16,
    /// The ClickHouse HTTP front.
    pub clickhouse_port: u16,
    /// The broker's PostgreSQL storage.
    pub postgres_port: u16,
}

impl Default for StackConfig {
    fn default() -> Self {
        Self {
            kafka_port: 19092,
            clickhouse_port: 18123,
            postgres_port: 19432,
        }
    }
}

impl layered_config::Validate for StackConfig {
    fn validate(&self) -> Result<(), layered_config::ConfigError> {
        let ports = [
            ("kafka_port", self.kafka_port),
            ("clickhouse_port", self.clickhouse_port),
            ("postgres_port", self.postgres_port),
        ];
        for (index, (key, port)) in ports.iter().enumerate() {
            if *port == 0 {
                return Err(invalid(key, "must be a fixed port, not 0"));
            }
            if ports[..index].iter().any(|(_, other)| other == port) {
                return Err(invalid(
                    key,
                    &format!("port {port} is used by another part"),
                ));
            }
        }
        Ok(())
    }
}

fn invalid(key: &str, message: &str) -> layered_config::ConfigError {
    layered_config::ConfigError::Invalid {
        key: key.to_owned(),
        message: message.to_owned(),
    }
}

/// The environment prefix of [`StackConfig`].
pub const CONFIG_PREFIX: &str = "PHASE4_STACK";

impl StackConfig {
    /// Loads the configuration from its layers (`file` is optional).
    pub fn load(file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        Ok(layered_config::load(file, CONFIG_PREFIX)?)
    }

    /// `host:port` of the broker, as `bootstrap.servers` wants it.
    pub fn kafka_brokers(&self) -> String {
        format!("127.0.0.1:{}", self.kafka_port)
    }

    /// URL of the ClickHouse front.
    pub fn clickhouse_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.clickhouse_port)
    }
}

/// Arguments of `cargo xtask stack`.
#[derive(Debug, Args)]
pub struct StackArgs {
    /// TOML file with the ports (`kafka_port`, `clickhouse_port`, `postgres_port`);
    /// environment variables `PHASE4_STACK__<KEY>` override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    action: StackAction,
}

#[derive(Debug, Subcommand)]
enum StackAction {
    /// Install what is missing and start every part; a no-op for parts already healthy.
    Up,
    /// Stop what `up` started, by pid, and nothing else.
    Down,
    /// Print each part, its address and its health; exit non-zero if one is unhealthy.
    Status,
    /// Print the last lines of the parts' log files.
    Logs {
        /// How many lines of each log to print.
        #[arg(long, default_value_t = 40)]
        lines: usize,
    },
    /// Stop one part (outage tests). PostgreSQL is stopped with the broker.
    #[command(hide = true)]
    Stop {
        /// The part to stop.
        part: Part,
    },
    /// Start one part (outage tests).
    #[command(hide = true)]
    Start {
        /// The part to start.
        part: Part,
    },
    /// Stop then start one part (outage tests).
    #[command(hide = true)]
    Restart {
        /// The part to restart.
        part: Part,
    },
}

/// A part of the stack that can be stopped and started on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Part {
    /// The tansu broker (its PostgreSQL keeps running).
    Broker,
    /// The ClickHouse front.
    Clickhouse,
}

/// Runs one stack action.
pub fn run(args: StackArgs) -> anyhow::Result<()> {
    let config = StackConfig::load(args.config.as_deref())?;
    match args.action {
        StackAction::Up => {
            up(&config)?;
            print_status(&config);
            Ok(())
        }
        StackAction::Down => down_with(&config),
        StackAction::Status => {
            if print_status(&config) {
                Ok(())
            } else {
                anyhow::bail!("a part of the stack is unhealthy")
            }
        }
        StackAction::Logs { lines } => {
            print_logs(lines);
            Ok(())
        }
        StackAction::Stop { part } => stop_part(&config, part),
        StackAction::Start { part } => start_part(&config, part),
        StackAction::Restart { part } => {
            stop_part(&config, part)?;
            start_part(&config, part)
        }
    }
}

/// Holds the stack's lock file so concurrent `up`/`down` calls do not interleave.
fn lock_stack() -> anyhow::Result<std::fs::File> {
    let dir = paths::stack_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("stack.lock");
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    file.lock()
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(file)
}

fn up(config: &StackConfig) -> anyhow::Result<()> {
    let _lock = lock_stack()?;
    let started = Instant::now();
    // The broker side (tansu may need a 10-minute build) and the ClickHouse side (venv
    // install, chDB load) are independent: start them side by side.
    let (broker_result, clickhouse_result) = std::thread::scope(|scope| {
        let broker_side = scope.spawn(|| timed(|| broker::start(config)));
        let clickhouse_side = scope.spawn(|| timed(|| clickhouse::start(config.clickhouse_port)));
        (join(broker_side), join(clickhouse_side))
    });
    let mut failures = Vec::new();
    for (part, result) in [("broker", broker_result), ("clickhouse", clickhouse_result)] {
        match result {
            Ok(elapsed) => eprintln!("stack up: {part} ready in {:.1} s", elapsed.as_secs_f64()),
            Err(error) => failures.push(format!("{part}: {error:#}")),
        }
    }
    eprintln!(
        "stack up: {:.1} s in total",
        started.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("stack up failed:\n{}", failures.join("\n"))
    }
}

fn timed(step: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let started = Instant::now();
    step().map(|()| started.elapsed())
}

fn join<T>(handle: std::thread::ScopedJoinHandle<'_, anyhow::Result<T>>) -> anyhow::Result<T> {
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("the start-up thread panicked"))?
}

fn down_with(config: &StackConfig) -> anyhow::Result<()> {
    let _lock = lock_stack()?;
    // The silver processor `migrate` started is not a part `up` started, but it only runs
    // against this stack: stop it first, while the broker and ClickHouse still take its
    // last insert and commit. A failure here must not keep the parts running.
    let processor = crate::orchestrator::stop_processor_on(&config.kafka_brokers());
    match &processor {
        Ok(Some(pid)) => eprintln!("stack down: silver-processor (pid {pid}) stopped"),
        Ok(None) => eprintln!("stack down: silver-processor was not running"),
        Err(error) => eprintln!("stack down: silver-processor NOT stopped: {error:#}"),
    }
    // The broker before its storage, so it does not log a storm of connection errors.
    for (part, stop) in [
        ("broker", broker::stop as fn() -> anyhow::Result<bool>),
        ("clickhouse", clickhouse::stop),
        ("postgres", postgres::stop),
    ] {
        let stopped = stop()?;
        eprintln!(
            "stack down: {part} {}",
            if stopped {
                "stopped"
            } else {
                "was not running"
            }
        );
    }
    processor.map(|_| ())
}

fn stop_part(config: &StackConfig, part: Part) -> anyhow::Result<()> {
    let _lock = lock_stack()?;
    let _ = config;
    match part {
        Part::Broker => broker::stop()?,
        Part::Clickhouse => clickhouse::stop()?,
    };
    Ok(())
}

fn start_part(config: &StackConfig, part: Part) -> anyhow::Result<()> {
    let _lock = lock_stack()?;
    match part {
        Part::Broker => broker::start(config),
        Part::Clickhouse => clickhouse::start(config.clickhouse_port),
    }
}

/// Prints one line per part; returns whether every part is healthy.
fn print_status(config: &StackConfig) -> bool {
    let pid_text =
        |pid: Option<process::Pid>| pid.map_or_else(|| "-".to_owned(), |pid| pid.to_string());
    let mut rows: Vec<(&str, String, String, Result<String, String>)> = Vec::new();
    rows.push((
        "postgres",
        format!("127.0.0.1:{}", config.postgres_port),
        pid_text(postgres::pid()),
        if postgres::is_healthy(config.postgres_port) {
            Ok("accepting connections".to_owned())
        } else {
            Err("not accepting connections".to_owned())
        },
    ));
    rows.push((
        "broker",
        config.kafka_brokers(),
        pid_text(broker::pid()),
        broker::metadata(config.kafka_port)
            .map(|(brokers, topics)| format!("metadata: {brokers} broker(s), {topics} topic(s)"))
            .map_err(|error| format!("no metadata: {error}")),
    ));
    rows.push((
        "clickhouse",
        config.clickhouse_url(),
        pid_text(clickhouse::pid()),
        if clickhouse::is_healthy(config.clickhouse_port) {
            Ok("/ping answers Ok.".to_owned())
        } else {
            Err("/ping does not answer".to_owned())
        },
    ));
    rows.push((
        "docker",
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned()),
        "-".to_owned(),
        docker::probe()
            .map(|version| format!("ping ok, engine {version}"))
            .map_err(|error| format!("unreachable: {error}")),
    ));
    println!("{:<11} {:<28} {:>8}  health", "part", "address", "pid");
    let mut all_healthy = true;
    for (part, address, pid, health) in rows {
        let health = match health {
            Ok(detail) => format!("healthy ({detail})"),
            Err(detail) => {
                all_healthy = false;
                format!("UNHEALTHY ({detail})")
            }
        };
        println!("{part:<11} {address:<28} {pid:>8}  {health}");
    }
    all_healthy
}

fn print_logs(lines: usize) {
    for log in [
        postgres::log_file(),
        broker::log_file(),
        clickhouse::log_file(),
        broker::install_log_file(),
    ] {
        println!("==> {} <==", log.display());
        println!("{}", process::tail(&log, lines));
    }
}

/// Starts every part that is not healthy (installing tools first if needed).
pub fn ensure_up() -> anyhow::Result<StackConfig> {
    let config = StackConfig::load(None)?;
    up(&config)?;
    Ok(config)
}

/// Stops every part `up` started.
pub fn down() -> anyhow::Result<()> {
    down_with(&StackConfig::load(None)?)
}

/// Stops the ClickHouse front (its data directory stays).
#[allow(dead_code, reason = "API for the orchestrator's outage steps")]
pub fn stop_clickhouse() -> anyhow::Result<()> {
    stop_part(&StackConfig::load(None)?, Part::Clickhouse)
}

/// Starts the ClickHouse front and waits until it answers `/ping`.
#[allow(dead_code, reason = "API for the orchestrator's outage steps")]
pub fn start_clickhouse() -> anyhow::Result<()> {
    start_part(&StackConfig::load(None)?, Part::Clickhouse)
}

/// Stops and starts the ClickHouse front.
#[allow(dead_code, reason = "API for the orchestrator's outage steps")]
pub fn restart_clickhouse() -> anyhow::Result<()> {
    stop_clickhouse()?;
    start_clickhouse()
}

/// Stops and starts the broker (its PostgreSQL storage, and so its data, stays up).
#[allow(dead_code, reason = "API for the orchestrator's outage steps")]
pub fn restart_broker() -> anyhow::Result<()> {
    let config = StackConfig::load(None)?;
    stop_part(&config, Part::Broker)?;
    start_part(&config, Part::Broker)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<StackConfig, layered_config::ConfigError> {
        layered_config::load_from(
            None,
            CONFIG_PREFIX,
            env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }

    #[test]
    fn defaults_are_the_documented_ports() {
        let config = load(&[]).unwrap();
        assert_eq!(config.kafka_brokers(), "127.0.0.1:19092");
        assert_eq!(config.clickhouse_url(), "http://127.0.0.1:18123");
        assert_eq!(config.postgres_port, 19432);
    }

    #[test]
    fn environment_overrides_a_port() {
        let config = load(&[("PHASE4_STACK__KAFKA_PORT", "19094")]).unwrap();
        assert_eq!(config.kafka_port, 19094);
    }

    #[test]
    fn two_parts_on_one_port_are_refused_naming_the_key() {
        let error = load(&[("PHASE4_STACK__POSTGRES_PORT", "19092")]).unwrap_err();
        assert!(error.to_string().contains("postgres_port"), "{error}");
    }

    #[test]
    fn a_dead_pid_is_not_running() {
        assert!(!process::is_running(process::Pid(u32::MAX - 1), "tansu"));
    }

    #[test]
    fn our_own_pid_runs_only_under_its_own_name() {
        let me = process::Pid(std::process::id());
        assert!(process::is_running(me, "xtask"));
        assert!(!process::is_running(me, "tansu broker"));
    }
}
