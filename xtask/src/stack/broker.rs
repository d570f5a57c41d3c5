//! The Kafka-protocol broker: tansu 0.6.0 on PostgreSQL storage.
//!
//! PostgreSQL is the storage engine because it is the one tansu engine that resumes a
//! consumer group exactly at its committed offset when that offset falls inside a
//! producer batch, and stays fast with headers (docs/LOCAL-STACK.md has the comparison).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use super::process::{self, Pid};
use super::{StackConfig, postgres};
use crate::paths;

/// The pinned broker version.
pub const TANSU_VERSION: &str = "0.6.0";
/// Cargo features of the install: `postgres` is the storage we run, `dynostore` gives the
/// `memory://` engine that throughput benchmarks may use.
const TANSU_FEATURES: &str = "postgres,dynostore";

/// The project's topics and their partition counts.
pub const TOPICS: [(&str, i32); 4] = [
    ("market.crypto.trades.binance.raw", 3),
    ("market.crypto.trades.kraken.raw", 3),
    ("market.crypto.trades.coinbase.raw", 3),
    ("market.crypto.trades.dlq", 1),
];

/// Marker looked for in `/proc/<pid>/cmdline` before signalling the broker.
const MARKER: &str = "tansu";

/// The broker binary.
pub fn binary() -> PathBuf {
    paths::tansu_root().join("bin").join("tansu")
}

/// The broker's log file.
pub fn log_file() -> PathBuf {
    paths::stack_logs_dir().join("broker.log")
}

/// Where `cargo install tansu` writes its output.
pub fn install_log_file() -> PathBuf {
    paths::stack_logs_dir().join("tansu-install.log")
}

fn pid_file() -> PathBuf {
    paths::stack_dir().join("broker.pid")
}

/// The broker's pid, if we started it and it still runs.
pub fn pid() -> Option<Pid> {
    process::read_pid_file(&pid_file()).filter(|pid| process::is_running(*pid, MARKER))
}

/// Installs the pinned tansu with `cargo install --locked` unless the binary exists.
/// Serialised by a lock file in the tools directory, so two concurrent `stack up`s build
/// it once.
pub fn install() -> anyhow::Result<()> {
    if binary().exists() {
        return Ok(());
    }
    let root = paths::tansu_root();
    std::fs::create_dir_all(paths::tools_dir())?;
    let lock_path = paths::tools_dir().join("tansu-install.lock");
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    if binary().exists() {
        return Ok(());
    }
    let log = install_log_file();
    eprintln!(
        "installing tansu {TANSU_VERSION} into {} (about 10 minutes on 2 cores); log: {}",
        root.display(),
        log.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut install = Command::new(cargo);
    install
        .args(["install", "tansu", "--version", TANSU_VERSION, "--locked"])
        .args(["--features", TANSU_FEATURES, "--root"])
        .arg(&root)
        // A build of its own: the workspace's target directory is not for tools.
        .env_remove("CARGO_TARGET_DIR");
    process::run_logged(install, &log).context("installing tansu")
}

fn client_config(port: u16) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("socket.timeout.ms", "3000")
        .set("log_level", "0");
    config
}

/// Number of brokers and topics in the broker's metadata, fetched by an rdkafka client.
pub fn metadata(port: u16) -> anyhow::Result<(usize, usize)> {
    // librdkafka waits out its whole timeout when nothing listens; a plain connect fails
    // at once.
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpStream::connect_timeout(&address, Duration::from_millis(500))
        .with_context(|| format!("nothing listens on {address}"))?;
    let consumer: BaseConsumer = client_config(port).create()?;
    let metadata = consumer.fetch_metadata(None, Duration::from_secs(3))?;
    Ok((metadata.brokers().len(), metadata.topics().len()))
}

/// Starts PostgreSQL and the broker unless the broker is already healthy, then creates the
/// project's topics (idempotent).
pub fn start(config: &StackConfig) -> anyhow::Result<()> {
    postgres::start(config.postgres_port)?;
    if metadata(config.kafka_port).is_err() {
        install()?;
        let listener = format!("tcp://127.0.0.1:{}", config.kafka_port);
        let storage = format!(
            "postgres://postgres@127.0.0.1:{}/{}",
            config.postgres_port,
            postgres::DATABASE
        );
        let mut broker = Command::new(binary());
        broker
            .arg("broker")
            .args(["--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
            .args(["--storage-engine", &storage])
            // Schema problems are logged at DEBUG only: PHASE4_TANSU_LOG=warn,tansu_storage::pg=debug
            .env(
                "RUST_LOG",
                std::env::var("PHASE4_TANSU_LOG").unwrap_or_else(|_| "warn".to_owned()),
            );
        let mut child = process::spawn_detached(broker, &log_file(), &pid_file())?;
        process::wait_healthy(
            &mut child,
            &format!("tansu broker on {listener}"),
            &log_file(),
            Duration::from_secs(60),
            || metadata(config.kafka_port).is_ok(),
        )?;
    }
    create_topics(config.kafka_port)
}

/// Creates the project's topics; existing ones are left as they are.
pub fn create_topics(port: u16) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = client_config(port).create()?;
    ensure_topics(&admin, &TOPICS).context("creating the project's topics")
}

/// Creates each `(name, partitions)` topic that does not exist yet; the broker does not
/// auto-create topics.
pub fn ensure_topics(
    admin: &AdminClient<DefaultClientContext>,
    topics: &[(&str, i32)],
) -> anyhow::Result<()> {
    let wanted: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let results = futures::executor::block_on(admin.create_topics(&wanted, &options))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => bail!("creating topic `{topic}`: {code}"),
        }
    }
    Ok(())
}

/// Stops the broker we started (SIGTERM, SIGKILL after 10 s). Returns whether one ran.
pub fn stop() -> anyhow::Result<bool> {
    let stopped = match process::read_pid_file(&pid_file()) {
        Some(pid) => process::stop(pid, MARKER, "TERM", Duration::from_secs(10))?,
        None => false,
    };
    let _ = std::fs::remove_file(pid_file());
    Ok(stopped)
}
