//! Issue #8: "killing `migrate` (kill -9) in the middle of any of steps 2-6, then rerunning
//! it with `--resume`, completes correctly".
//!
//! For each step N in 2..=6 this starts the real `xtask migrate` on the real local stack
//! (`cargo xtask stack up`) and Docker, waits until the state file shows step N in progress
//! *and* the step has visibly started its work, SIGKILLs the run's whole process group,
//! then runs `xtask migrate --resume` and checks the end state: exit 0, 7/7 steps, step N
//! rerun as attempt 2, all six timeframes PASS, silver holds exactly the replayed trades
//! (the same multiset as an uninterrupted run), the decommission checklist complete and
//! only the kept legacy containers left.
//!
//! What "in the middle" means per step, and what is killed:
//!
//! | N | killed when | also killed |
//! | --- | --- | --- |
//! | 2 | the step's `cargo build` of the processor runs | that build (same process group) |
//! | 3 | the processor has inserted some silver rows | **the processor too** (see below) |
//! | 4 | some gold objects exist | - |
//! | 5 | the validator's scratch tables exist | - |
//! | 6 | some legacy containers are removed, not all | - |
//!
//! Step 3 deploys the processor as a service that outlives the run on purpose (its own
//! process group, a pid file). Killing only `migrate` there would leave the processor
//! catching up on its own and the resume would find the work done: that proves little.
//! So a kill in step 3 takes the processor down with the run, mid catch-up, as a crash of
//! the machine would; the resume must start a new processor that continues from the
//! committed offsets without losing or doubling a trade. In steps 4-6 the processor is
//! left alone (it is deployed by then) and the resume must reuse it, not start a second.
//!
//! Inputs are the demo's, through the binary's own `demo --prepare-only`: the legacy
//! stand-ins from `deploy/legacy`, a seeded replay of every exchange format and v1 candles
//! from the legacy job. To keep the run short the five kill points share what is safe to
//! share: the stand-in image and the v1 candles, built once in a reference database from a
//! reference run of steps 1-3 over the same seeded replay (`--replay-now-micros` makes
//! every environment's replay the same trades). Each kill point has its own topics,
//! consumer group, ClickHouse database, processor port, work dir, state file and compose
//! project, and removes them at the end (the work dir is kept on failure, for the logs).
//!
//! A kill that comes too late (the step ended before a sign of its work was seen) checks
//! nothing; that kill point is tried again in a fresh environment, three times at most.
//! `PHASE4_RESUME_TEST_STEPS=3,6` runs only some kill points.
//!
//! Needs the running local stack; without a Docker daemon it skips loudly, and fails when
//! `CI` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::Value;

/// Raw messages per exchange in the replay: small enough to keep five runs short, large
/// enough to cross timeframe boundaries and give step 3 a catch-up to interrupt.
const MESSAGES_PER_EXCHANGE: &str = "3000";
const SEED: &str = "8";
/// Services the decommissioner removes (the ten listed plus `spark-checkpoint-cleaner`)
/// and the ones it keeps, in `deploy/legacy/docker-compose.v1.yml`.
const DECOMMISSIONED: usize = 11;
const LEGACY_CONTAINERS: usize = 17;
/// Upper bound for one `xtask` command; a hung run fails the test instead of CI.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

#[test]
fn migrate_resumes_after_kill_9_in_each_of_steps_2_to_6() {
    let started = Instant::now();
    if !docker_reachable("migrate_resumes_after_kill_9_in_each_of_steps_2_to_6") {
        return;
    }
    require_stack();
    let run = unique_name("resume");
    let replay_now = now_micros().to_string();
    let prepare = |env: &Env| {
        env.xtask_ok(&[
            "demo",
            "--prepare-only",
            "--messages-per-exchange",
            MESSAGES_PER_EXCHANGE,
            "--seed",
            SEED,
            "--replay-now-micros",
            &replay_now,
        ]);
    };

    let reference = Env::new(&run, "ref", None);
    let t = Instant::now();
    prepare(&reference);
    reference.stop_processor();
    let expected = reference.replay_summary();
    let trades = expected["trades"].as_u64().unwrap();
    let reference_silver = silver_fingerprint(&reference.database, &expected);
    assert_eq!(reference_silver.0, trades, "the reference run's M1 gate");
    println!(
        "reference (replay, steps 1-3, v1 candles): {trades} trades, {:.0}s",
        t.elapsed().as_secs_f64()
    );

    let mut failures = Vec::new();
    let mut timings = Vec::new();
    for step in kill_points() {
        let t = Instant::now();
        for attempt in 1..=3 {
            let env = Env::new(
                &run,
                &format!("s{step}_{attempt}"),
                Some(&reference.database),
            );
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                prepare(&env);
                let containers = project_containers(&env.project);
                assert_eq!(containers.len(), LEGACY_CONTAINERS, "{containers:?}");
                assert_eq!(
                    env.replay_summary(),
                    expected,
                    "same seed and replay time must give the reference's trades"
                );
                kill_mid_step_then_resume(&env, step, &expected, reference_silver)
            }));
            let seconds = t.elapsed().as_secs_f64();
            match outcome {
                Ok(Killed::MidStep) => {
                    println!("kill -9 in step {step}, --resume: 7/7 and correct ({seconds:.0}s)");
                }
                // Nothing was checked: try again rather than accept a kill that did not
                // land in the step's work.
                Ok(Killed::TooLate) if attempt < 3 => {
                    println!("  step {step} ended before it could be killed mid-way; again");
                    continue;
                }
                Ok(Killed::TooLate) => {
                    println!("kill -9 in step {step}: never landed mid-step in 3 attempts");
                    failures.push(step);
                }
                Err(_) => {
                    println!("kill -9 in step {step}: FAILED ({seconds:.0}s)");
                    env.keep.set(true);
                    failures.push(step);
                }
            }
            break;
        }
        timings.push((step, t.elapsed().as_secs_f64()));
    }
    drop(reference);
    println!(
        "migrate_resume: total {:.0}s ({})",
        started.elapsed().as_secs_f64(),
        timings
            .iter()
            .map(|(step, s)| format!("step {step}: {s:.0}s"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(
        failures.is_empty(),
        "kill -9 then --resume failed for steps {failures:?}"
    );
}

/// Steps 2-6, or the ones listed in `PHASE4_RESUME_TEST_STEPS` (e.g. `3,6`) to rerun one
/// kill point while working on it.
fn kill_points() -> Vec<u8> {
    match std::env::var("PHASE4_RESUME_TEST_STEPS") {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("PHASE4_RESUME_TEST_STEPS: steps 2-6")
            })
            .inspect(|n| assert!((2..=6).contains(n), "kill points are steps 2-6"))
            .collect(),
        Err(_) => (2..=6).collect(),
    }
}

/// Where the kill landed.
enum Killed {
    /// In the step's work; the resume was run and checked.
    MidStep,
    /// The step ended before a sign of its work was seen; nothing was checked.
    TooLate,
}

/// One kill point: `migrate` from scratch, SIGKILL mid step `step`, `migrate --resume`.
fn kill_mid_step_then_resume(
    env: &Env,
    step: u8,
    expected: &Value,
    reference_silver: (u64, u64),
) -> Killed {
    let trades = expected["trades"].as_u64().unwrap();
    let mut run = env.spawn_xtask(&["migrate"]);
    let pgid = run.0.id();
    let seen = wait_mid_step(env, &mut run.0, step, trades);
    drop(run);
    let Some(seen) = seen else {
        return Killed::TooLate;
    };
    let killed_processor = (step == 3).then(|| {
        let pid = env
            .processor_pid()
            .expect("step 3 wrote the processor's pid file");
        kill_pid(pid);
        pid
    });
    assert_group_gone(pgid);
    println!("  step {step}: killed while {seen}");

    let state = env.state();
    for n in 1..=7u8 {
        let want = match n.cmp(&step) {
            std::cmp::Ordering::Less => "done",
            std::cmp::Ordering::Equal => "in_progress",
            std::cmp::Ordering::Greater => "not_started",
        };
        assert_eq!(
            step_field(&state, n, "status"),
            want,
            "step {n} after the kill"
        );
    }
    let processor_before = env.processor_pid().filter(|pid| is_alive(*pid));

    let output = env.xtask_ok(&["migrate", "--resume"]);
    assert!(output.contains("migrate: 7/7 steps done"), "{output}");
    let timings: Vec<&str> = output
        .lines()
        .filter_map(|line| line.strip_prefix('['))
        .filter(|line| line.contains("] done in "))
        .collect();
    println!("  resumed: {}", timings.join(", "));
    assert!(
        output.contains("taking over") && output.contains("left by a run that is gone"),
        "the killed run's lock must be taken over:\n{output}"
    );

    let state = env.state();
    for n in 1..=7u8 {
        assert_eq!(step_field(&state, n, "status"), "done", "step {n}");
        let attempts = if n == step { 2 } else { 1 };
        assert_eq!(
            step_field(&state, n, "attempts"),
            attempts,
            "attempts of step {n}"
        );
    }
    let interrupted = state["events"].as_array().unwrap().iter().any(|event| {
        event["step"] == step
            && event["action"]
                .as_str()
                .is_some_and(|a| a.contains("attempt 2, the previous one was interrupted"))
    });
    assert!(interrupted, "step {step} must be recorded as resumed");

    let validation = &state["validation"];
    assert_eq!(validation["pass"], true, "{validation:#}");
    let rows = validation["rows"].as_array().unwrap();
    let passed: Vec<&str> = rows
        .iter()
        .filter(|row| row["pass"] == true && row["v1_rows"] == row["v2_rows"])
        .map(|row| row["timeframe"].as_str().unwrap())
        .collect();
    assert_eq!(
        passed,
        ["1m", "5m", "15m", "30m", "1h", "1d"],
        "{validation:#}"
    );

    // No trade lost or doubled: the replay's span holds exactly its trades, the same
    // multiset as the uninterrupted reference run's (step 7's load lands after the span).
    let silver = silver_fingerprint(&env.database, expected);
    assert_eq!(silver.0, trades, "silver rows in the replay's span");
    assert_eq!(
        silver, reference_silver,
        "silver rows differ from the reference run's"
    );

    let checklist = state["decommission"].as_array().unwrap();
    assert_eq!(checklist.len(), DECOMMISSIONED, "{checklist:#?}");
    for row in checklist {
        for check in ["stopped", "removed_from_compose", "config_preserved"] {
            assert_eq!(row[check], "yes", "{check} of {}", row["service"]);
        }
    }
    let left = project_containers(&env.project);
    assert_eq!(
        left.len(),
        LEGACY_CONTAINERS - DECOMMISSIONED,
        "containers left in project {}: {left:?}",
        env.project
    );
    for row in checklist {
        let service = row["service"].as_str().unwrap();
        assert!(
            !left
                .iter()
                .any(|name| name.contains(&format!("_{service}_"))),
            "{service} still has a container: {left:?}"
        );
    }

    let processor = env.processor_pid().filter(|pid| is_alive(*pid));
    assert!(
        processor.is_some(),
        "the resumed run leaves the processor deployed"
    );
    match killed_processor {
        Some(killed) => assert_ne!(processor, Some(killed), "a new processor after the crash"),
        None if step > 3 => assert_eq!(processor, processor_before, "the processor is reused"),
        None => {}
    }
    Killed::MidStep
}

/// Polls until step `step` is in progress and has visibly started its work; returns what
/// was seen, or `None` when the step ended first.
fn wait_mid_step(env: &Env, run: &mut Child, step: u8, trades: u64) -> Option<String> {
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    loop {
        if let Some(status) = run.try_wait().unwrap() {
            panic!(
                "migrate exited ({status}) before step {step} could be killed:\n{}",
                env.log_tail()
            );
        }
        assert!(
            Instant::now() < deadline,
            "step {step} never started:\n{}",
            env.log_tail()
        );
        let status = env
            .try_state()
            .map(|state| step_field(&state, step, "status"));
        match status.as_ref().and_then(Value::as_str) {
            Some("in_progress") => {}
            Some("done") => return None,
            Some(status @ ("failed" | "blocked")) => {
                panic!("step {step} is {status}:\n{}", env.log_tail())
            }
            _ => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        }
        let seen = sign_of_work(env, step, run.id(), trades);
        if seen.is_some() {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What shows that step `step` is doing its work now, if anything does yet.
fn sign_of_work(env: &Env, step: u8, pgid: u32, trades: u64) -> Option<String> {
    let tables = |like: &str| {
        clickhouse_count(&format!(
            "SELECT count() FROM system.tables WHERE database = '{}' AND name LIKE '{like}'",
            env.database
        ))
        .filter(|count| *count > 0)
    };
    match step {
        2 => group_has_command(pgid, &["cargo", "build", "silver-processor"])
            .then(|| "its cargo build of the processor ran".to_owned()),
        3 => {
            tables("silver\\_trades")?;
            let silver = format!("SELECT count() FROM `{}`.silver_trades", env.database);
            clickhouse_count(&silver)
                .filter(|rows| (1..trades).contains(rows))
                .map(|rows| format!("the processor had inserted {rows} of {trades} trades"))
        }
        4 => tables("gold\\_%").map(|n| format!("{n} gold objects existed")),
        5 => tables("\\_ohlcv\\_validator\\_%")
            .map(|n| format!("{n} validator scratch tables existed")),
        6 => {
            let left = project_containers(&env.project).len();
            (LEGACY_CONTAINERS - DECOMMISSIONED < left && left < LEGACY_CONTAINERS)
                .then(|| format!("{left} of {LEGACY_CONTAINERS} legacy containers were left"))
        }
        _ => unreachable!("kill points are steps 2-6"),
    }
}

/// One isolated environment: its own ClickHouse database, topics, consumer group,
/// processor port, work dir (state, tracker, reports, logs) and legacy compose project.
struct Env {
    dir: PathBuf,
    database: String,
    topics_prefix: String,
    project: String,
    vars: BTreeMap<&'static str, String>,
    /// Keep the work dir (logs, state, reports) after a failure.
    keep: std::cell::Cell<bool>,
}

impl Env {
    fn new(run: &str, name: &str, v1_database: Option<&str>) -> Self {
        let id = format!("{run}_{name}");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("migrate_resume")
            .join(&id);
        std::fs::create_dir_all(&dir).unwrap();
        let project = id.replace('_', "-");
        let compose_file = dir.join("legacy").join("docker-compose.v1.yml");
        let mut vars = BTreeMap::new();
        let mut set = |key: &'static str, value: String| {
            vars.insert(key, value);
        };
        set(
            "PHASE4_MIGRATE__STATE_FILE",
            dir.join("state.json").display().to_string(),
        );
        set(
            "PHASE4_MIGRATE__PROGRESS_FILE",
            dir.join("PROGRESS.md").display().to_string(),
        );
        set("PHASE4_MIGRATE__WORK_DIR", dir.display().to_string());
        set("PHASE4_MIGRATE__CLICKHOUSE__DATABASE", id.clone());
        set(
            "PHASE4_MIGRATE__TOPICS__RAW",
            format!("{id}.{{exchange}}.raw"),
        );
        set("PHASE4_MIGRATE__TOPICS__DLQ", format!("{id}.dlq"));
        set(
            "PHASE4_MIGRATE__LEGACY__COMPOSE_FILE",
            compose_file.display().to_string(),
        );
        set("PHASE4_MIGRATE__LEGACY__COMPOSE_PROJECT", project.clone());
        if let Some(database) = v1_database {
            set(
                "PHASE4_MIGRATE__LEGACY__V1_CANDLES_DATABASE",
                database.to_owned(),
            );
        }
        // The dev profile is what `cargo test` already built; release would add a full
        // optimised build of the processor to CI.
        set("PHASE4_MIGRATE__PROCESSOR__PROFILE", "dev".to_owned());
        set("PHASE4_MIGRATE__PROCESSOR__GROUP_ID", id.clone());
        set(
            "PHASE4_MIGRATE__PROCESSOR__HTTP_LISTEN",
            format!("127.0.0.1:{}", free_port()),
        );
        set("PHASE4_MIGRATE__MEASURE__SAMPLE_SECONDS", "3".to_owned());
        Self {
            dir,
            database: id.clone(),
            topics_prefix: id,
            project,
            vars,
            keep: std::cell::Cell::new(false),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
        command.current_dir(workspace_root()).args(args);
        // Settings from the caller's environment must not leak into this run.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("PHASE4_MIGRATE__") || key.starts_with("SILVER__") {
                command.env_remove(key.as_ref());
            }
        }
        command.envs(&self.vars);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        command
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("xtask.log")
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Starts `xtask ARGS` in its own process group, so the kill takes its children too.
    fn spawn_xtask(&self, args: &[&str]) -> Group {
        let mut command = self.command(args);
        command.process_group(0);
        self.append_log(&format!("\n$ xtask {}\n", args.join(" ")));
        Group(command.spawn().unwrap())
    }

    fn append_log(&self, text: &str) {
        use std::io::Write;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        log.write_all(text.as_bytes()).unwrap();
    }

    /// Runs `xtask ARGS` to completion; fails unless it exits 0. Returns what it printed.
    fn xtask_ok(&self, args: &[&str]) -> String {
        let before = std::fs::metadata(self.log_path()).map_or(0, |m| m.len() as usize);
        let mut run = self.spawn_xtask(args);
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(status) = run.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "`xtask {}` timed out:\n{}",
                args.join(" "),
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let text = std::fs::read(self.log_path()).unwrap();
        let output = String::from_utf8_lossy(&text[before.min(text.len())..]).into_owned();
        assert!(
            status.success(),
            "`xtask {}` failed ({status}):\n{}",
            args.join(" "),
            self.log_tail()
        );
        output
    }

    fn try_state(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.dir.join("state.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn state(&self) -> Value {
        self.try_state().expect("a readable state file")
    }

    fn replay_summary(&self) -> Value {
        let text = std::fs::read_to_string(self.dir.join("replay.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn processor_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("silver-processor.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Stops the environment's processor (SIGTERM, then SIGKILL) and waits for it.
    fn stop_processor(&self) {
        let Some(pid) = self.processor_pid() else {
            return;
        };
        if !is_alive(pid) {
            return;
        }
        signal(&pid.to_string(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(40);
        while is_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if is_alive(pid) {
            kill_pid(pid);
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.stop_processor();
        remove_project(&self.project);
        let _ = clickhouse(&format!("DROP DATABASE IF EXISTS `{}`", self.database));
        delete_topics(&self.topics_prefix);
        if self.keep.get() || std::thread::panicking() {
            println!("kept {} for its logs", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Count and a multiset hash of the silver rows in the replay's span.
fn silver_fingerprint(database: &str, replay: &Value) -> (u64, u64) {
    let span = &replay["trade_span_micros"];
    let (first, last) = (span[0].as_i64().unwrap(), span[1].as_i64().unwrap());
    let text = clickhouse(&format!(
        "SELECT count(), sum(cityHash64(exchange, symbol, trade_id, timestamp, price, quantity, side)) \
         FROM `{database}`.silver_trades \
         WHERE timestamp >= fromUnixTimestamp64Micro({first}) AND timestamp <= fromUnixTimestamp64Micro({last}) \
         FORMAT TabSeparated"
    ))
    .unwrap();
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().unwrap());
    (fields.next().unwrap(), fields.next().unwrap())
}

fn step_field(state: &Value, step: u8, field: &str) -> Value {
    state["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|record| record["step"] == step)
        .map(|record| record[field].clone())
        .unwrap_or(Value::Null)
}

// --- the stack, ClickHouse, the broker, Docker ------------------------------------------

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn kafka_brokers() -> String {
    std::env::var("PHASE4_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".to_owned())
}

fn clickhouse_authority() -> String {
    let url = std::env::var("PHASE4_CLICKHOUSE_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:18123".to_owned());
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

/// Runs one statement through the ClickHouse HTTP interface; the body on success.
fn clickhouse(sql: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let authority = clickhouse_authority();
    let mut stream = std::net::TcpStream::connect(&authority).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{sql}",
        sql.len()
    )
    .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    if head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200") {
        Ok(body)
    } else {
        Err(format!("{sql}: {head}\n{body}"))
    }
}

/// The payload of a `Transfer-Encoding: chunked` body (the front always sends one).
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].strip_prefix("\r\n").unwrap_or(&rest[size..]);
    }
    out
}

fn clickhouse_count(sql: &str) -> Option<u64> {
    clickhouse(sql).ok()?.trim().parse().ok()
}

/// Fails (never skips) when the stack is not running: `cargo xtask test` starts it.
fn require_stack() {
    clickhouse("SELECT 1").unwrap_or_else(|error| {
        panic!("ClickHouse does not answer ({error}): run `cargo xtask stack up` first")
    });
    let brokers = kafka_brokers();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("log_level", "0")
        .create()
        .unwrap();
    if let Err(error) = consumer.fetch_metadata(None, Duration::from_secs(5)) {
        panic!(
            "the broker at {brokers} does not answer ({error}): run `cargo xtask stack up` first"
        );
    }
}

/// Deletes this environment's topics (`<prefix>.*`). Safe only with the guard trigger of
/// `deploy/local/tansu/schema.sql` (tansu 0.6.0 otherwise deletes every topic of the
/// cluster): `stack up` loads it on every call, and every environment's `demo` runs it
/// before anything here is deleted.
fn delete_topics(prefix: &str) {
    let Ok(admin) = ClientConfig::new()
        .set("bootstrap.servers", kafka_brokers())
        .set("log_level", "0")
        .create::<AdminClient<DefaultClientContext>>()
    else {
        return;
    };
    let names = ["binance", "kraken", "coinbase"]
        .map(|exchange| format!("{prefix}.{exchange}.raw"))
        .into_iter()
        .chain([format!("{prefix}.dlq")])
        .collect::<Vec<_>>();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let _ = futures::executor::block_on(admin.delete_topics(&names, &options));
}

/// Whether a Docker daemon answers; otherwise a loud skip, or a failure under `CI`.
fn docker_reachable(test: &str) -> bool {
    let answer = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output();
    let error = match answer {
        Ok(output) if output.status.success() => return true,
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        Err(error) => error.to_string(),
    };
    if std::env::var_os("CI").is_some() {
        panic!("{test}: no Docker daemon reachable ({error}) and CI is set");
    }
    eprintln!(
        "\n*** SKIPPED {test}: no Docker daemon reachable ({error}); set CI=1 to make this a failure ***\n"
    );
    false
}

/// Names of the containers (running or not) of compose project `project`.
fn project_containers(project: &str) -> Vec<String> {
    let output = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}", "--filter"])
        .arg(format!("label=com.docker.compose.project={project}"))
        .output()
        .unwrap();
    assert!(output.status.success(), "docker ps: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Removes every container, network and volume of compose project `project`.
fn remove_project(project: &str) {
    let label = format!("label=com.docker.compose.project={project}");
    for (list, remove) in [
        (&["ps", "-aq"][..], &["rm", "-f"][..]),
        (&["network", "ls", "-q"][..], &["network", "rm"][..]),
        (&["volume", "ls", "-q"][..], &["volume", "rm", "-f"][..]),
    ] {
        let Ok(output) = Command::new("docker")
            .args(list)
            .args(["--filter", &label])
            .output()
        else {
            return;
        };
        let ids: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(remove)
                .args(&ids)
                .stdout(Stdio::null())
                .status();
        }
    }
}

// --- processes -----------------------------------------------------------------------

/// A running `xtask` in its own process group; dropping it SIGKILLs the whole group and
/// reaps the `xtask` process, so a failing test leaves nothing running either.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            kill_group(self.0.id());
        }
        let _ = self.0.wait();
    }
}

fn signal(target: &str, signal: &str) {
    // `kill(1)`: the workspace forbids unsafe code, so no libc.
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", target])
        .stderr(Stdio::null())
        .status();
}

/// SIGKILL to every process of group `pgid`.
fn kill_group(pgid: u32) {
    signal(&format!("-{pgid}"), "KILL");
}

fn kill_pid(pid: u32) {
    signal(&pid.to_string(), "KILL");
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_alive(pid) {
        assert!(Instant::now() < deadline, "pid {pid} survived SIGKILL");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `/proc/<pid>/stat` fields after the command name: state, ppid, pgrp, ...
fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn is_alive(pid: u32) -> bool {
    stat_fields(&pid.to_string()).is_some_and(|fields| !matches!(fields[0].as_str(), "Z" | "X"))
}

/// Live processes of group `pgid`, with their command lines.
fn group_members(pgid: u32) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid = entry.ok()?.file_name().to_string_lossy().into_owned();
            let fields = stat_fields(&pid)?;
            let alive = !matches!(fields[0].as_str(), "Z" | "X");
            (alive && fields[2] == pgid.to_string()).then(|| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                (pid, String::from_utf8_lossy(&cmdline).replace('\0', " "))
            })
        })
        .collect()
}

fn group_has_command(pgid: u32, words: &[&str]) -> bool {
    group_members(pgid)
        .iter()
        .any(|(_, cmdline)| words.iter().all(|word| cmdline.contains(word)))
}

/// Nothing of the killed run may live on and finish its work behind the resume's back.
fn assert_group_gone(pgid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = group_members(pgid);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes of the killed run survive: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// --- names and ports -----------------------------------------------------------------

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// `p4t_<prefix>_<pid>_<millis>`: valid as a database, topic, group and (with `-` for
/// `_`) compose project name.
fn unique_name(prefix: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    format!("p4t_{prefix}_{}_{millis}", std::process::id())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
