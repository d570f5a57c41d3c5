//! PostgreSQL 15, the storage of the broker (tansu's `postgres://` engine).
//!
//! Debian's PostgreSQL binaries run a private cluster in `target/stack/postgres/data`,
//! listening on 127.0.0.1 only, with its unix socket inside the same directory. PostgreSQL
//! refuses to run as root, so as root the server runs as the `postgres` system user (which
//! the Debian package creates) and owns its directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use super::process::{self, Pid};
use crate::paths;

/// Debian's PostgreSQL 15 server binaries.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The system user the server runs as when we are root.
const PG_SYSTEM_USER: &str = "postgres";
/// The database holding tansu's tables.
pub const DATABASE: &str = "tansu";

/// `target/stack/postgres`, or where that symlink points (see [`relocate_if_unreachable`]).
fn base_dir() -> PathBuf {
    let link = paths::stack_dir().join("postgres");
    std::fs::read_link(&link).unwrap_or(link)
}

fn data_dir() -> PathBuf {
    base_dir().join("data")
}

fn socket_dir() -> PathBuf {
    base_dir().join("run")
}

/// The server's log file, inside its own directory since the server writes it itself.
pub fn log_file() -> PathBuf {
    base_dir().join("postgres.log")
}

fn bin(name: &str) -> PathBuf {
    Path::new(PG_BIN).join(name)
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().next().map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// A command for a server-side tool (`initdb`, `pg_ctl`), run as the `postgres` user when
/// we are root.
fn server_command(tool: &str) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", PG_SYSTEM_USER, "--"]).arg(bin(tool));
        command
    } else {
        Command::new(bin(tool))
    }
}

/// The postmaster's pid, from the server's own `postmaster.pid`.
pub fn pid() -> Option<Pid> {
    process::read_pid_file(&data_dir().join("postmaster.pid"))
}

/// Whether the server accepts connections on `port`.
pub fn is_healthy(port: u16) -> bool {
    Command::new(bin("pg_isready"))
        .args([
            "-q",
            "-t",
            "2",
            "-U",
            "postgres",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false)
}

fn psql(port: u16, database: &str) -> Command {
    let mut command = Command::new(bin("psql"));
    // `create ... if not exists` NOTICEs on every load are noise.
    command.env("PGOPTIONS", "-c client_min_messages=warning");
    command.args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-U",
        "postgres",
        "-d",
        database,
    ]);
    command
}

/// Initialises the cluster if needed, starts the server, creates the `tansu` database and
/// loads `deploy/local/tansu/schema.sql` (idempotent DDL). A no-op for a healthy server.
pub fn start(port: u16) -> anyhow::Result<()> {
    if !bin("postgres").exists() {
        bail!(
            "PostgreSQL 15 is not installed ({PG_BIN}/postgres is missing): \
             run `bash .ci/bootstrap` or `apt-get install postgresql`"
        );
    }
    if !is_healthy(port) {
        prepare_directories()?;
        let log = log_file();
        if !data_dir().join("PG_VERSION").exists() {
            let mut initdb = server_command("initdb");
            initdb.arg("-D").arg(data_dir()).args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]);
            process::run_logged(initdb, &log).context("initdb of the broker's PostgreSQL")?;
        }
        // pg_ctl detaches the server into its own session; `-w` waits until it accepts
        // connections. synchronous_commit=off: a development broker may lose the last
        // few commits on a machine crash, in exchange for much faster produce.
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c synchronous_commit=off",
            socket_dir().display()
        );
        let mut pg_ctl = server_command("pg_ctl");
        pg_ctl
            .arg("start")
            .args(["-w", "-t", "60", "-D"])
            .arg(data_dir())
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(options);
        process::run_logged(pg_ctl, &log).context("starting the broker's PostgreSQL")?;
    }
    let log = log_file();
    create_database(port)?;
    let schema = paths::workspace_root().join("deploy/local/tansu/schema.sql");
    let mut load = psql(port, DATABASE);
    load.arg("-f").arg(&schema);
    process::run_logged(load, &log)
        .with_context(|| format!("loading {} into PostgreSQL", schema.display()))
}

fn prepare_directories() -> anyhow::Result<()> {
    if running_as_root() {
        relocate_if_unreachable()?;
    }
    for dir in [base_dir(), socket_dir()] {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Created now so that the chown below hands it to the server too.
    process::open_log(&log_file())?;
    if running_as_root() {
        // The server owns its directory and writes its log there.
        let mut chown = Command::new("chown");
        chown
            .args(["-R", &format!("{PG_SYSTEM_USER}:{PG_SYSTEM_USER}")])
            .arg(base_dir());
        let status = chown.status().context("running chown")?;
        if !status.success() {
            bail!(
                "chown of {} to `{PG_SYSTEM_USER}` failed",
                base_dir().display()
            );
        }
    }
    Ok(())
}

fn reachable_by_server_user(dir: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", PG_SYSTEM_USER, "--", "test", "-x"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false)
}

/// A checkout under a private directory (e.g. `/root`, mode 700) cannot be entered by
/// the `postgres` user. Then the cluster lives in `/var/tmp/phase4-postgres-<hash>` and
/// `target/stack/postgres` is a symlink to it, so the stack's state is still found from
/// `target/stack/`.
fn relocate_if_unreachable() -> anyhow::Result<()> {
    let stack_dir = paths::stack_dir();
    let link = stack_dir.join("postgres");
    std::fs::create_dir_all(&stack_dir)
        .with_context(|| format!("creating {}", stack_dir.display()))?;
    if link.is_symlink() || reachable_by_server_user(&stack_dir) {
        return Ok(());
    }
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    stack_dir.hash(&mut hasher);
    let target = PathBuf::from(format!("/var/tmp/phase4-postgres-{:016x}", hasher.finish()));
    eprintln!(
        "stack up: `{PG_SYSTEM_USER}` cannot enter {}; its cluster goes to {} (symlinked)",
        stack_dir.display(),
        target.display()
    );
    std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    if link.is_dir() {
        // Only an empty directory can be here: a cluster the server could not reach was
        // never initialised.
        std::fs::remove_dir_all(&link).with_context(|| format!("removing {}", link.display()))?;
    }
    std::os::unix::fs::symlink(&target, &link)
        .with_context(|| format!("linking {} to {}", link.display(), target.display()))
}

fn create_database(port: u16) -> anyhow::Result<()> {
    let exists = psql(port, "postgres")
        .args([
            "-tAc",
            &format!("select 1 from pg_database where datname = '{DATABASE}'"),
        ])
        .output()
        .context("asking PostgreSQL for its databases")?;
    if String::from_utf8_lossy(&exists.stdout).trim() == "1" {
        return Ok(());
    }
    let mut createdb = Command::new(bin("createdb"));
    createdb
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .arg(DATABASE);
    process::run_logged(createdb, &log_file()).context("creating the `tansu` database")
}

/// Fast shutdown (SIGINT: roll back open transactions, then stop), SIGKILL after 20 s.
pub fn stop() -> anyhow::Result<bool> {
    match pid() {
        Some(pid) => process::stop(pid, "postgres", "INT", Duration::from_secs(20)),
        None => Ok(false),
    }
}
