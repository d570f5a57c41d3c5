//! Runs the steps in order against the state file: marks each step in progress before it
//! acts and done (or failed) after, so a killed run resumes at the step it was in; refuses
//! steps 6 and 7 unless step 5 passed; turns a failed gate into a blocker.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::actions::{Environment, StepResult};
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
pub fn run(config: &OrchestratorConfig, plan: Plan, env: &Environment) -> anyhow::Result<()> {
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

fn run_steps(journal: &mut Journal, plan: Plan, env: &Environment) -> anyhow::Result<()> {
    let steps = plan.steps(journal.state());
    if steps.is_empty() {
        println!("migrate: nothing to do, every step is done");
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
    use super::*;

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
