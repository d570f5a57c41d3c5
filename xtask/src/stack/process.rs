//! Detached child processes tracked by pid files under `target/stack/`.
//!
//! A part is started in its own process group with stdio going to its log file, so it
//! outlives the `cargo xtask` process that started it. Stopping goes by the recorded pid
//! only, and only after checking that the pid still runs the program we started (pids are
//! reused), so `down` never touches a process it did not start.

use std::fs::{self, File, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A process id read from a pid file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pid(pub u32);

impl std::fmt::Display for Pid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Opens `path` for appending, creating its directory, for a child's stdout and stderr.
pub fn open_log(path: &Path) -> anyhow::Result<File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening log {}", path.display()))
}

/// Starts `command` detached: new process group, no stdin, stdout and stderr appended to
/// `log`. Records the pid in `pid_file`.
pub fn spawn_detached(mut command: Command, log: &Path, pid_file: &Path) -> anyhow::Result<Child> {
    let out = open_log(log)?;
    let err = out.try_clone()?;
    command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let child = command
        .spawn()
        .with_context(|| format!("starting {:?}", command.get_program()))?;
    fs::write(pid_file, format!("{}\n", child.id()))
        .with_context(|| format!("writing {}", pid_file.display()))?;
    Ok(child)
}

/// Waits until `healthy` holds, failing early if `child` exits and after `timeout`.
/// Dropping the returned-to caller's `Child` does not stop the process: it must outlive us.
pub fn wait_healthy(
    child: &mut Child,
    what: &str,
    log: &Path,
    timeout: Duration,
    mut healthy: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "{what} (pid {}) exited during start-up ({status}); last lines of {}:\n{}",
                child.id(),
                log.display(),
                tail(log, 20)
            );
        }
        if healthy() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "{what} (pid {}) not healthy after {} s; last lines of {}:\n{}",
                child.id(),
                timeout.as_secs(),
                log.display(),
                tail(log, 20)
            );
        }
        sleep(Duration::from_millis(100));
    }
}

/// The pid recorded in `pid_file`, if the file exists and parses.
pub fn read_pid_file(pid_file: &Path) -> Option<Pid> {
    let text = fs::read_to_string(pid_file).ok()?;
    text.lines().next()?.trim().parse().ok().map(Pid)
}

/// Whether `pid` is alive (not a zombie) and its command line contains `marker`.
pub fn is_running(pid: Pid, marker: &str) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = fs::read_to_string(proc_dir.join("stat")) else {
        return false;
    };
    // The state is the first field after the parenthesised command name.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    if matches!(state, Some("Z" | "X")) {
        return false;
    }
    let Ok(cmdline) = fs::read(proc_dir.join("cmdline")) else {
        return false;
    };
    String::from_utf8_lossy(&cmdline).contains(marker)
}

fn send_signal(pid: Pid, signal: &str) {
    // `kill(1)` rather than libc: the workspace forbids unsafe code.
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Stops `pid` if it still runs a command containing `marker`: `signal` first (TERM for
/// most, INT for PostgreSQL's fast shutdown), then KILL after `grace`. Returns whether a
/// process was stopped.
pub fn stop(pid: Pid, marker: &str, signal: &str, grace: Duration) -> anyhow::Result<bool> {
    if !is_running(pid, marker) {
        return Ok(false);
    }
    send_signal(pid, signal);
    if wait_until(grace, || !is_running(pid, marker)) {
        return Ok(true);
    }
    send_signal(pid, "KILL");
    if wait_until(Duration::from_secs(5), || !is_running(pid, marker)) {
        return Ok(true);
    }
    bail!("pid {pid} ({marker}) survived SIGKILL")
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(50));
    }
}

/// The last `lines` lines of a file, or a note that it does not exist.
pub fn tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(_) => format!("({} does not exist)", path.display()),
    }
}

/// Runs `command` to completion, appending its output to `log`; fails naming the command
/// and pointing at the log if it exits non-zero.
pub fn run_logged(mut command: Command, log: &Path) -> anyhow::Result<()> {
    let out = open_log(log)?;
    let err = out.try_clone()?;
    let description = format!("{command:?}");
    let status = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .with_context(|| format!("running {description}"))?;
    if !status.success() {
        bail!(
            "{description} failed ({status}); last lines of {}:\n{}",
            log.display(),
            tail(log, 20)
        );
    }
    Ok(())
}
