//! Runs the steps in order against the state file: marks each step in progress before it
//! acts and done (or failed) after, so a killed run resumes at the step it was in; refuses
//! steps 6 and 7 unless step 5 passed; turns a failed gate into a blocker.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::actions::{Environment, StepResult};

/// Something that performs steps: the real [`Environment`], or a scripted stand-in in the
/// runner's own tests of its state machine.
pub trait Executor {
    /// Performs `step`, recording measurements in `journal`.
    fn run_step(&self, step: Step, journal: &mut Journal) -> anyhow::Result<StepResult>;
}

impl Executor for Environment {
    fn run_step(&self, step: Step, journal: &mut Journal) -> anyhow::Result<StepResult> {
        Environment::run_step(self, step, journal)
    }
}
use super::config::OrchestratorConfig;
use super::state::{Blocker, Journal, MigrationState, StepStatus, now};
use super::steps::Step;
use super::tracker::{self, TrackerOptions};

/// Which steps a `migrate` run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Steps 1..=through; with `resume`, starting at the first step not done.
    Range {
        /// The last step to run.
        through: Step,
        /// Start at the first step not done instead of re-checking from step 1.
        resume: bool,
    },
    /// One step.
    Only(Step),
}

impl Plan {
    /// The steps to run, given the current state.
    pub fn steps(self, state: &MigrationState) -> Vec<Step> {
        match self {
            Plan::Only(step) => vec![step],
            Plan::Range { through, resume } => {
                let first = if resume {
                    match state.first_not_done() {
                        Some(step) => step,
                        None => return Vec::new(),
                    }
                } else {
                    Step::CreateSilverTable
                };
                Step::ALL
                    .into_iter()
                    .filter(|s| *s >= first && *s <= through)
                    .collect()
            }
        }
    }
}

/// An exclusive claim on a state file, so two runs never interleave. The lock file holds
/// the owner's pid; a lock left by a killed run (pid gone) is taken over.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock next to `state_path`.
    pub fn acquire(state_path: &Path) -> anyhow::Result<Self> {
        let mut path = state_path.as_os_str().to_owned();
        path.push(".lock");
        let path = PathBuf::from(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    writeln!(file, "{}", std::process::id())?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&path).unwrap_or_default();
                    let owner = owner.trim();
                    let alive = owner
                        .parse::<u32>()
                        .map(|pid| Path::new(&format!("/proc/{pid}")).exists())
                        .unwrap_or(false);
                    anyhow::ensure!(
                        !alive,
                        "another migrate run (pid {owner}) holds {}; wait for it or stop it",
                        path.display()
                    );
                    eprintln!(
                        "taking over {} left by a run that is gone (pid {owner})",
                        path.display()
                    );
                    std::fs::remove_file(&path)?;
                }
                Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
            }
        }
        anyhow::bail!("could not take {}", path.display())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The decisions every run records once (idempotent: the log keeps one entry each).
fn standing_decisions(state: &mut MigrationState) {
    state.decide(
        "Step 2 is \"Implement Rust Silver Processor\" (the plan said Kotlin)",
        "the rest of the tooling is Rust; one language, one build, one set of lints; the \
         processor reuses trade-model's decoders directly",
    );
    state.decide(
        "Step 5 is a hard gate: a FAIL in any timeframe blocks steps 6 and 7",
        "nothing legacy may be stopped until v2 candles are proven equal to v1",
    );
    state.decide(
        "Services eliminated target is the length of the decommission list, not the \
         tracker's \"9\"",
        "the tracker says 9 but lists ten services",
    );
}

/// Runs `plan` and renders the tracker afterwards (also when a step fails).
pub fn run(config: &OrchestratorConfig, plan: Plan, env: &impl Executor) -> anyhow::Result<()> {
    let state_path = config.state_path();
    let _lock = RunLock::acquire(&state_path)?;
    let mut journal = Journal::open(&state_path)?;
    journal.update(standing_decisions)?;
    let result = run_steps(&mut journal, plan, env);
    let text = tracker::render(journal.state(), &tracker_options(config));
    write_tracker(config, &text)?;
    match &result {
        Ok(()) => println!(
            "migrate: {}/7 steps done; tracker written to {}",
            journal.state().done_count(),
            config.progress_path().display()
        ),
        Err(e) => eprintln!(
            "migrate stopped: {e:#}\n(tracker written to {}; fix the cause, then rerun with --resume)",
            config.progress_path().display()
        ),
    }
    result
}

fn run_steps(journal: &mut Journal, plan: Plan, env: &impl Executor) -> anyhow::Result<()> {
    let steps = plan.steps(journal.state());
    if steps.is_empty() {
        println!("migrate: nothing to do, the steps asked for are done");
    }
    for step in steps {
        if step >= Step::Decommission {
            let gate = journal.state().step(Step::ValidateOhlcv).status;
            let passed = journal.state().validation.as_ref().is_some_and(|v| v.pass);
            if gate != StepStatus::Done || !passed {
                journal.update(|s| {
                    s.step_mut(step).status = StepStatus::Blocked;
                    s.log(
                        Some(step),
                        "refused to start: step 5 (the hard gate) has not passed",
                    );
                })?;
                anyhow::bail!(
                    "{step} cannot start: step 5 (Validate OHLCV Correctness) has not passed"
                );
            }
        }
        let attempt = journal.update(|s| {
            let record = s.step_mut(step);
            let resumed = record.status == StepStatus::InProgress;
            record.status = StepStatus::InProgress;
            record.started_at = Some(now());
            record.attempts += 1;
            let attempt = record.attempts;
            s.log(
                Some(step),
                if resumed {
                    format!("started (attempt {attempt}, the previous one was interrupted)")
                } else {
                    format!("started (attempt {attempt})")
                },
            );
            attempt
        })?;
        println!(
            "[{}/7] {} (attempt {attempt}) ...",
            step.number(),
            step.title()
        );
        let started = std::time::Instant::now();
        let outcome = env.run_step(step, journal);
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(StepResult::Done { notes }) => {
                journal.update(|s| {
                    let record = s.step_mut(step);
                    record.status = StepStatus::Done;
                    record.completed_at = Some(now());
                    record.notes = notes;
                    s.resolve_blockers(step);
                    s.log(Some(step), format!("done in {seconds:.1}s"));
                })?;
                println!("[{}/7] done in {seconds:.1}s", step.number());
            }
            Ok(StepResult::GateFailed {
                notes,
                blocker,
                impact,
            }) => {
                journal.update(|s| {
                    let record = s.step_mut(step);
                    record.status = StepStatus::Failed;
                    record.notes = notes;
                    let already_open = s
                        .open_blockers()
                        .any(|b| b.step == step && b.blocker == blocker);
                    if !already_open {
                        s.blockers.push(Blocker {
                            raised_at: now(),
                            step,
                            blocker: blocker.clone(),
                            impact: impact.clone(),
                            owner: "Platform Engineering".to_owned(),
                            resolved_at: None,
                        });
                    }
                    for later in Step::ALL.into_iter().filter(|l| *l > step) {
                        if step == Step::ValidateOhlcv && s.step(later).status != StepStatus::Done {
                            s.step_mut(later).status = StepStatus::Blocked;
                        }
                    }
                    s.log(Some(step), format!("gate FAILED: {blocker}"));
                })?;
                anyhow::bail!("{step}: gate FAILED: {blocker}");
            }
            Err(e) => {
                let message = format!("{e:#}");
                journal.update(|s| {
                    let record = s.step_mut(step);
                    record.status = StepStatus::Failed;
                    record.notes = vec![format!("error: {message}")];
                    s.log(Some(step), format!("failed: {message}"));
                })?;
                return Err(e.context(format!("{step} failed")));
            }
        }
    }
    Ok(())
}

/// The tracker options that follow from the configuration.
pub fn tracker_options(config: &OrchestratorConfig) -> TrackerOptions {
    TrackerOptions {
        phase_owner: config.phase_owner.clone(),
        targets: config.targets.clone(),
        ohlc_tolerance: config.validation.ohlc_abs,
        ..TrackerOptions::default()
    }
}

/// Renders the tracker from the state file (a fresh state if there is none yet).
pub fn render_tracker(config: &OrchestratorConfig) -> anyhow::Result<String> {
    let state = MigrationState::load(&config.state_path())?.unwrap_or_default();
    Ok(tracker::render(&state, &tracker_options(config)))
}

/// Writes the tracker file atomically.
pub fn write_tracker(config: &OrchestratorConfig, text: &str) -> anyhow::Result<()> {
    let path = config.progress_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    std::fs::write(&temp, text).with_context(|| format!("writing {}", temp.display()))?;
    std::fs::rename(&temp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::state::{ValidationRecord, ValidationRow};
    use super::*;
    use std::cell::RefCell;

    /// Plays given results per step and records which steps were started. Only the
    /// runner's own bookkeeping is under test here; the steps' real work is tested against
    /// the real stack by the demo.
    struct Script {
        gate_passes: bool,
        crash_at: Option<Step>,
        started: RefCell<Vec<Step>>,
    }

    impl Executor for Script {
        fn run_step(&self, step: Step, journal: &mut Journal) -> anyhow::Result<StepResult> {
            self.started.borrow_mut().push(step);
            if self.crash_at == Some(step) {
                anyhow::bail!("simulated crash");
            }
            if step == Step::ValidateOhlcv {
                let pass = self.gate_passes;
                journal.update(|s| {
                    s.validation = Some(ValidationRecord {
                        recorded_at: now(),
                        pass,
                        report_path: "r.json".into(),
                        fingerprint: "f".into(),
                        range_start: "a".into(),
                        range_end: "b".into(),
                        ohlc_tolerance: Some(1e-8),
                        rows: vec![ValidationRow {
                            timeframe: "1m".into(),
                            v1_rows: 10,
                            v2_rows: 10,
                            rows_match: true,
                            ohlc_within_tolerance: pass,
                            volume_match: true,
                            trade_count_match: true,
                            pass,
                        }],
                        mismatches: vec![],
                    });
                })?;
                if !pass {
                    return Ok(StepResult::GateFailed {
                        notes: vec!["FAIL".into()],
                        blocker: "1m binance BTC/USDT open differs".into(),
                        impact: "steps 6-7 blocked".into(),
                    });
                }
            }
            Ok(StepResult::Done {
                notes: vec![format!("did {}", step.number())],
            })
        }
    }

    fn config_in(dir: &Path) -> OrchestratorConfig {
        OrchestratorConfig {
            state_file: dir.join("state.json"),
            progress_file: dir.join("PROGRESS.md"),
            work_dir: dir.to_owned(),
            ..OrchestratorConfig::default()
        }
    }

    fn all() -> Plan {
        Plan::Range {
            through: Step::ResourceCheckpoint,
            resume: false,
        }
    }

    #[test]
    fn a_failed_gate_blocks_six_and_seven_and_becomes_a_blocker() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let script = Script {
            gate_passes: false,
            crash_at: None,
            started: RefCell::new(Vec::new()),
        };
        let err = run(&config, all(), &script).unwrap_err().to_string();
        assert!(err.contains("gate FAILED"), "{err}");
        assert_eq!(script.started.borrow().last(), Some(&Step::ValidateOhlcv));
        let state = MigrationState::load(&config.state_path()).unwrap().unwrap();
        assert_eq!(state.step(Step::ValidateOhlcv).status, StepStatus::Failed);
        assert_eq!(state.step(Step::Decommission).status, StepStatus::Blocked);
        assert_eq!(
            state.step(Step::ResourceCheckpoint).status,
            StepStatus::Blocked
        );
        assert_eq!(state.open_blockers().count(), 1);
        assert!(state.decommission.is_empty());
        // Forcing step 6 alone is refused too.
        let err = run(&config, Plan::Only(Step::Decommission), &script).unwrap_err();
        assert!(err.to_string().contains("has not passed"), "{err}");
        assert_eq!(script.started.borrow().last(), Some(&Step::ValidateOhlcv));
        let tracker = std::fs::read_to_string(config.progress_path()).unwrap();
        assert!(tracker.contains("Step 5: 1m binance BTC/USDT open differs"));

        // Fixed: resume from step 5, the blocker is resolved, 6 and 7 run.
        let fixed = Script {
            gate_passes: true,
            crash_at: None,
            started: RefCell::new(Vec::new()),
        };
        let resume = Plan::Range {
            through: Step::ResourceCheckpoint,
            resume: true,
        };
        run(&config, resume, &fixed).unwrap();
        assert_eq!(
            *fixed.started.borrow(),
            vec![
                Step::ValidateOhlcv,
                Step::Decommission,
                Step::ResourceCheckpoint
            ]
        );
        let state = MigrationState::load(&config.state_path()).unwrap().unwrap();
        assert_eq!(state.done_count(), 7);
        assert_eq!(state.open_blockers().count(), 0);
    }

    #[test]
    fn a_step_interrupted_mid_way_is_rerun_by_resume() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let crashing = Script {
            gate_passes: true,
            crash_at: Some(Step::CreateGoldViews),
            started: RefCell::new(Vec::new()),
        };
        assert!(run(&config, all(), &crashing).is_err());
        // What a kill -9 leaves: the step marked in progress, nothing after it.
        let mut state = MigrationState::load(&config.state_path()).unwrap().unwrap();
        state.step_mut(Step::CreateGoldViews).status = StepStatus::InProgress;
        state.save(&config.state_path()).unwrap();
        let resumed = Script {
            gate_passes: true,
            crash_at: None,
            started: RefCell::new(Vec::new()),
        };
        let resume = Plan::Range {
            through: Step::ResourceCheckpoint,
            resume: true,
        };
        run(&config, resume, &resumed).unwrap();
        assert_eq!(
            resumed.started.borrow().first(),
            Some(&Step::CreateGoldViews)
        );
        let state = MigrationState::load(&config.state_path()).unwrap().unwrap();
        assert_eq!(state.done_count(), 7);
        assert_eq!(state.step(Step::CreateGoldViews).attempts, 2);
        assert!(
            state
                .events
                .iter()
                .any(|e| e.action.contains("the previous one was interrupted"))
        );
    }

    #[test]
    fn resume_starts_at_the_first_step_not_done() {
        let mut state = MigrationState::default();
        state.step_mut(Step::CreateSilverTable).status = StepStatus::Done;
        state.step_mut(Step::ImplementProcessor).status = StepStatus::Done;
        state.step_mut(Step::DeployProcessor).status = StepStatus::InProgress;
        let plan = Plan::Range {
            through: Step::CreateGoldViews,
            resume: true,
        };
        assert_eq!(
            plan.steps(&state),
            vec![Step::DeployProcessor, Step::CreateGoldViews]
        );
        let all = Plan::Range {
            through: Step::ResourceCheckpoint,
            resume: false,
        };
        assert_eq!(all.steps(&state).len(), 7);
        assert_eq!(
            Plan::Only(Step::ValidateOhlcv).steps(&state),
            vec![Step::ValidateOhlcv]
        );
    }

    #[test]
    fn a_lock_of_a_dead_run_is_taken_over_and_a_live_one_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        std::fs::write(dir.path().join("state.json.lock"), "999999999\n").unwrap();
        let lock = RunLock::acquire(&state).unwrap();
        let err = RunLock::acquire(&state).unwrap_err().to_string();
        assert!(err.contains("another migrate run"), "{err}");
        drop(lock);
        assert!(!dir.path().join("state.json.lock").exists());
    }
}
