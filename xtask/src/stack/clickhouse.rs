//! The ClickHouse engine: chDB (ClickHouse 26.9 embedded in Python) behind our HTTP front
//! `deploy/local/chfront.py`, run by the pinned virtualenv's Python.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use super::process::{self, Pid};
use crate::paths;

/// The pinned packages of the virtualenv, installed with `pip install --no-deps`.
pub const VENV_PACKAGES: [&str; 3] = [
    "chdb-core==26.9.0",
    "lz4==4.4.5",
    "clickhouse-cityhash==1.0.2.6",
];

/// Marker looked for in `/proc/<pid>/cmdline` before signalling the front.
const MARKER: &str = "chfront.py";

/// The virtualenv's Python.
pub fn python() -> PathBuf {
    paths::chdb_venv().join("bin").join("python")
}

/// The front's log file.
pub fn log_file() -> PathBuf {
    paths::stack_logs_dir().join("clickhouse.log")
}

fn pid_file() -> PathBuf {
    paths::stack_dir().join("clickhouse.pid")
}

/// The front's pid, if we started it and it still runs.
pub fn pid() -> Option<Pid> {
    process::read_pid_file(&pid_file()).filter(|pid| process::is_running(*pid, MARKER))
}

/// Creates the virtualenv and installs the pinned packages, unless a previous install
/// recorded exactly these pins.
pub fn install() -> anyhow::Result<()> {
    let venv = paths::chdb_venv();
    let pins_file = venv.join("phase4-pins.txt");
    let pins = VENV_PACKAGES.join("\n");
    if python().exists() && std::fs::read_to_string(&pins_file).is_ok_and(|p| p == pins) {
        return Ok(());
    }
    std::fs::create_dir_all(paths::tools_dir())?;
    let lock_path = paths::tools_dir().join("chdb-venv.lock");
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    let log = paths::stack_logs_dir().join("chdb-venv-install.log");
    eprintln!(
        "installing the chDB virtualenv into {} (about 10 s); log: {}",
        venv.display(),
        log.display()
    );
    if !python().exists() {
        let mut create = Command::new("python3");
        create.args(["-m", "venv"]).arg(&venv);
        process::run_logged(create, &log)
            .context("creating the chDB virtualenv (is python3-venv installed?)")?;
    }
    let mut pip = Command::new(venv.join("bin").join("pip"));
    pip.args(["install", "--no-deps", "--disable-pip-version-check"])
        .args(VENV_PACKAGES);
    process::run_logged(pip, &log).context("installing chdb-core into the virtualenv")?;
    std::fs::write(&pins_file, pins)?;
    Ok(())
}

/// Whether `GET /ping` on `port` answers `200` with body `Ok.\n`.
pub fn is_healthy(port: u16) -> bool {
    ping(port).is_ok()
}

fn ping(port: u16) -> anyhow::Result<()> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let status_ok = text
        .lines()
        .next()
        .is_some_and(|line| line.split_whitespace().nth(1) == Some("200"));
    if status_ok && text.ends_with("\r\n\r\nOk.\n") {
        Ok(())
    } else {
        bail!("unexpected /ping response: {text:?}")
    }
}

/// Starts the front unless one is healthy on `port`.
pub fn start(port: u16) -> anyhow::Result<()> {
    if is_healthy(port) {
        return Ok(());
    }
    let script = paths::workspace_root().join("deploy/local/chfront.py");
    if !script.exists() {
        bail!(
            "the ClickHouse front {} is missing from this checkout",
            script.display()
        );
    }
    install()?;
    let data_dir = paths::stack_dir().join("clickhouse");
    std::fs::create_dir_all(&data_dir)?;
    let mut front = Command::new(python());
    front
        .arg(&script)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--data-dir",
        ])
        .arg(&data_dir)
        .current_dir(paths::workspace_root());
    let mut child = process::spawn_detached(front, &log_file(), &pid_file())?;
    process::wait_healthy(
        &mut child,
        &format!("the ClickHouse front on 127.0.0.1:{port}"),
        &log_file(),
        Duration::from_secs(60),
        || is_healthy(port),
    )
}

/// Stops the front we started (SIGTERM, SIGKILL after 15 s). Returns whether one ran.
pub fn stop() -> anyhow::Result<bool> {
    let stopped = match process::read_pid_file(&pid_file()) {
        Some(pid) => process::stop(pid, MARKER, "TERM", Duration::from_secs(15))?,
        None => false,
    };
    let _ = std::fs::remove_file(pid_file());
    Ok(stopped)
}
