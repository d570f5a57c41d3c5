//! # integration-tests
//!
//! Helpers shared by the workspace-level tests in `tests/`: where the running local stack
//! is (`cargo xtask stack up`) and how to reach its parts. The tests never start a stand-in:
//! a part that is not running is a test failure, or, for Docker outside CI, a loud skip.
//!
//! ```no_run
//! let brokers = integration_tests::require_broker();
//! let topic = integration_tests::unique_name("resume");
//! # let _ = (brokers, topic);
//! ```
//!
//! - [`kafka_brokers`], [`clickhouse_url`]: addresses, from `PHASE4_KAFKA_BROKERS` and
//!   `PHASE4_CLICKHOUSE_URL`, defaulting to the stack's ports;
//! - [`require_broker`], [`require_clickhouse`]: the same, after checking the part answers;
//! - [`docker_or_skip`]: a Docker client, or a loud skip (a failure when `CI` is set);
//! - [`unique_name`]: fresh topic, group and table names;
//! - [`stack_stop`], [`stack_start`]: stop or start one part, for outage tests.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

/// The broker address when `PHASE4_KAFKA_BROKERS` is not set.
pub const DEFAULT_KAFKA_BROKERS: &str = "127.0.0.1:19092";

/// What to run when a part of the stack is missing.
const START_HINT: &str = "run `cargo xtask stack up` first";

/// `bootstrap.servers` of the local broker: `PHASE4_KAFKA_BROKERS`, else
/// [`DEFAULT_KAFKA_BROKERS`].
pub fn kafka_brokers() -> String {
    std::env::var("PHASE4_KAFKA_BROKERS").unwrap_or_else(|_| DEFAULT_KAFKA_BROKERS.to_owned())
}

/// URL of the ClickHouse front: `PHASE4_CLICKHOUSE_URL`, else ch-support's default.
pub fn clickhouse_url() -> String {
    std::env::var("PHASE4_CLICKHOUSE_URL")
        .unwrap_or_else(|_| ch_support::DEFAULT_CLICKHOUSE_URL.to_owned())
}

/// The broker address, after checking that an rdkafka client can fetch its metadata.
///
/// # Panics
/// When the broker does not answer, with a message saying how to start it.
pub fn require_broker() -> String {
    let brokers = kafka_brokers();
    let answer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("log_level", "0")
        .create::<BaseConsumer>()
        .and_then(|consumer| consumer.fetch_metadata(None, Duration::from_secs(5)));
    if let Err(error) = answer {
        panic!("the Kafka broker at {brokers} does not answer ({error}): {START_HINT}");
    }
    brokers
}

/// The ClickHouse URL, after checking that `GET /ping` answers `Ok.`.
///
/// # Panics
/// When the front does not answer, with a message saying how to start it.
pub fn require_clickhouse() -> String {
    let url = clickhouse_url();
    if let Err(error) = ping(&url) {
        panic!("ClickHouse at {url} does not answer /ping ({error}): {START_HINT}");
    }
    url
}

fn ping(url: &str) -> std::io::Result<()> {
    let authority = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    let address = authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("`{authority}` resolves to nothing")))?;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET /ping HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    if response.starts_with("HTTP/1.") && response.ends_with("Ok.\n") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "unexpected answer {response:?}"
        )))
    }
}

/// A Docker client connected to this machine's daemon, or `None` after printing a loud
/// skip message when no daemon answers.
///
/// # Panics
/// When no daemon answers and the `CI` environment variable is set: CI machines have one.
pub async fn docker_or_skip(test: &str) -> Option<bollard::Docker> {
    let connected = match bollard::Docker::connect_with_local_defaults() {
        Ok(docker) => match docker.negotiate_version().await {
            Ok(docker) => docker.ping().await.map(|_| docker),
            Err(error) => Err(error),
        },
        Err(error) => Err(error),
    };
    match connected {
        Ok(docker) => Some(docker),
        Err(error) if std::env::var_os("CI").is_some() => {
            panic!("{test}: no Docker daemon reachable ({error}) and CI is set")
        }
        Err(error) => {
            eprintln!(
                "\n*** SKIPPED {test}: no Docker daemon reachable ({error}); \
                 set CI=1 to make this a failure ***\n"
            );
            None
        }
    }
}

/// A name no other test run uses: `p4t_<prefix>_<pid>_<millis>_<counter>`, made of
/// `[a-z0-9_]` so it is valid as a topic, group and ClickHouse table name.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    let prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "p4t_{prefix}_{}_{millis}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A part of the stack that outage tests stop and start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackPart {
    /// The tansu broker (its PostgreSQL storage keeps running).
    Broker,
    /// The ClickHouse front (its data directory stays).
    Clickhouse,
}

impl StackPart {
    fn name(self) -> &'static str {
        match self {
            Self::Broker => "broker",
            Self::Clickhouse => "clickhouse",
        }
    }
}

/// Stops one part with `cargo xtask stack stop <part>`.
///
/// # Panics
/// When the command fails.
pub fn stack_stop(part: StackPart) {
    run_xtask_stack("stop", part);
}

/// Starts one part with `cargo xtask stack start <part>`, waiting until it is healthy.
///
/// # Panics
/// When the command fails.
pub fn stack_start(part: StackPart) {
    run_xtask_stack("start", part);
}

/// The xtask binary built next to this test's binary (`target/<profile>/xtask`), if any:
/// running it directly avoids a nested `cargo` waiting for the build directory lock that
/// the outer `cargo test` may hold.
fn built_xtask() -> Option<PathBuf> {
    let test_binary = std::env::current_exe().ok()?;
    let profile_dir = test_binary.parent()?.parent()?;
    let xtask = profile_dir.join("xtask");
    xtask.is_file().then_some(xtask)
}

fn run_xtask_stack(action: &str, part: StackPart) {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut command = match built_xtask() {
        Some(xtask) => Command::new(xtask),
        None => {
            let mut cargo =
                Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
            cargo.arg("xtask");
            cargo
        }
    };
    let status = command
        .current_dir(&workspace)
        .args(["stack", action, part.name()])
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`cargo xtask stack {action} {}` failed: {status}",
            part.name()
        ),
        Err(error) => panic!(
            "`cargo xtask stack {action} {}` could not run: {error}",
            part.name()
        ),
    }
}
