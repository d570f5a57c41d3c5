//! The migration's persisted state: per-step status and times, every measurement the
//! tracker shows, blockers, decisions and an action log.
//!
//! The file is JSON, rewritten atomically (temp file, fsync, rename) after every action, so
//! a `kill -9` leaves either the previous or the next version, never a torn one.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::steps::Step;

/// Names the file format; a state file with another schema is refused.
pub const STATE_SCHEMA: &str = "phase4-migration-state/v1";

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Never started (or reset by a rollback).
    NotStarted,
    /// Started and not finished: running now, or killed mid-step.
    InProgress,
    /// Finished and its checks held.
    Done,
    /// Ran and failed (an error or a failed gate).
    Failed,
    /// Cannot start because a gate before it failed.
    Blocked,
}

/// One step's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Which step.
    pub step: Step,
    /// Where it stands.
    pub status: StepStatus,
    /// When the current attempt started (RFC 3339 UTC).
    pub started_at: Option<String>,
    /// When it last completed.
    pub completed_at: Option<String>,
    /// How many times it was started.
    pub attempts: u32,
    /// What the step found, shown in the tracker's Notes column.
    pub notes: Vec<String>,
}

/// One timeframe of the OHLCV validation (step 5), from the validator's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationRow {
    /// `1m`, `5m`, ...
    pub timeframe: String,
    /// Legacy candles in the range.
    pub v1_rows: u64,
    /// Gold candles in the range.
    pub v2_rows: u64,
    /// Same candle keys on both sides.
    pub rows_match: bool,
    /// Open/high/low/close within the tolerance.
    pub ohlc_within_tolerance: bool,
    /// Volumes equal.
    pub volume_match: bool,
    /// Trade counts equal.
    pub trade_count_match: bool,
    /// The timeframe's verdict.
    pub pass: bool,
}

/// The validation step's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationRecord {
    /// When the report was read.
    pub recorded_at: String,
    /// The report's overall verdict.
    pub pass: bool,
    /// Where the JSON report is.
    pub report_path: String,
    /// The report's fingerprint of its inputs.
    pub fingerprint: String,
    /// Validated range, RFC 3339.
    pub range_start: String,
    /// Validated range end, RFC 3339.
    pub range_end: String,
    /// The OHLC tolerance the report used (shown in the table header); absent in state
    /// files written before it was recorded.
    #[serde(default)]
    pub ohlc_tolerance: Option<f64>,
    /// One row per timeframe.
    pub rows: Vec<ValidationRow>,
    /// Human-readable descriptions of the first mismatches.
    pub mismatches: Vec<String>,
}

/// One row of the resource table (step 7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRow {
    /// `Total CPU`, `Total RAM`, ...
    pub metric: String,
    /// The target as shown, e.g. `<= 22`.
    pub target: String,
    /// The measured value as shown.
    pub actual: String,
    /// Whether the measurement meets the target.
    pub pass: bool,
}

/// The resource checkpoint's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    /// When it was measured.
    pub recorded_at: String,
    /// The tracker rows.
    pub rows: Vec<ResourceRow>,
    /// Discrepancies and how each number was obtained.
    pub notes: Vec<String>,
    /// Every raw figure behind the rows, for audit.
    pub raw: serde_json::Value,
}

/// A tri-state check: done, not done, or not applicable here (e.g. no Docker daemon).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Not done (yet).
    No,
    /// Done.
    Yes,
    /// Cannot apply in this environment; the row's note says why.
    NotApplicable,
}

/// One row of the decommission checklist (step 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistRow {
    /// The compose service name, e.g. `spark-master`.
    pub service: String,
    /// The tracker's name, e.g. `Spark Master`.
    pub display: String,
    /// Its containers are stopped.
    pub stopped: Check,
    /// Its block is gone from the compose file.
    pub removed_from_compose: Check,
    /// Its block and config files are archived for rollback.
    pub config_preserved: Check,
    /// Anything worth saying about it.
    pub note: String,
}

impl ChecklistRow {
    /// Whether every check is done (or not applicable).
    pub fn complete(&self) -> bool {
        [
            self.stopped,
            self.removed_from_compose,
            self.config_preserved,
        ]
        .iter()
        .all(|c| *c != Check::No)
    }
}

/// Something that stops the migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    /// When it was raised.
    pub raised_at: String,
    /// The step that raised it.
    pub step: Step,
    /// What is wrong, specifically.
    pub blocker: String,
    /// What cannot happen because of it.
    pub impact: String,
    /// Who has to act.
    pub owner: String,
    /// When a later run of the step passed.
    pub resolved_at: Option<String>,
}

/// A decision with its reason and time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// When it was taken.
    pub at: String,
    /// What was decided.
    pub decision: String,
    /// Why.
    pub reason: String,
}

/// One action, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When.
    pub at: String,
    /// The step it belongs to, if any.
    pub step: Option<Step>,
    /// What happened.
    pub action: String,
}

/// Everything the orchestrator knows about a migration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationState {
    /// Always [`STATE_SCHEMA`].
    pub schema: String,
    /// When the state was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// The seven steps, in order.
    pub steps: Vec<StepRecord>,
    /// Step 5's measurements.
    pub validation: Option<ValidationRecord>,
    /// Step 7's measurements.
    pub resources: Option<ResourceRecord>,
    /// Step 6's checklist.
    pub decommission: Vec<ChecklistRow>,
    /// Blockers, open and resolved.
    pub blockers: Vec<Blocker>,
    /// The decisions log.
    pub decisions: Vec<Decision>,
    /// Every action, in order.
    pub events: Vec<Event>,
}

/// The current time as RFC 3339 UTC with seconds, e.g. `2026-11-26T02:40:12Z`.
pub fn now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    now.format(&format)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

impl Default for MigrationState {
    fn default() -> Self {
        let at = now();
        Self {
            schema: STATE_SCHEMA.to_owned(),
            created_at: at.clone(),
            updated_at: at,
            steps: Step::ALL
                .into_iter()
                .map(|step| StepRecord {
                    step,
                    status: StepStatus::NotStarted,
                    started_at: None,
                    completed_at: None,
                    attempts: 0,
                    notes: Vec::new(),
                })
                .collect(),
            validation: None,
            resources: None,
            decommission: Vec::new(),
            blockers: Vec::new(),
            decisions: Vec::new(),
            events: Vec::new(),
        }
    }
}

impl MigrationState {
    /// Reads a state file; `Ok(None)` when it does not exist.
    pub fn load(path: &Path) -> anyhow::Result<Option<Self>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let state: MigrationState = serde_json::from_str(&text)
            .with_context(|| format!("state file {} is not valid", path.display()))?;
        anyhow::ensure!(
            state.schema == STATE_SCHEMA,
            "state file {} has schema `{}`, expected `{STATE_SCHEMA}`",
            path.display(),
            state.schema
        );
        anyhow::ensure!(
            state.steps.iter().map(|r| r.step).eq(Step::ALL),
            "state file {} does not list steps 1-7 in order",
            path.display()
        );
        Ok(Some(state))
    }

    /// Writes the state atomically: a temp file in the same directory, fsync, rename.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut temp = path.as_os_str().to_owned();
        temp.push(format!(".tmp.{}", std::process::id()));
        let temp = PathBuf::from(temp);
        let json = serde_json::to_vec_pretty(self)?;
        {
            let mut file = std::fs::File::create(&temp)
                .with_context(|| format!("creating {}", temp.display()))?;
            file.write_all(&json)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
        }
        std::fs::rename(&temp, path)
            .with_context(|| format!("renaming {} to {}", temp.display(), path.display()))?;
        if let Ok(dir) = std::fs::File::open(&dir) {
            // Makes the rename itself durable; a failure here loses nothing already written.
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// The record of `step`.
    pub fn step(&self, step: Step) -> &StepRecord {
        &self.steps[usize::from(step.number() - 1)]
    }

    /// The record of `step`, to change.
    pub fn step_mut(&mut self, step: Step) -> &mut StepRecord {
        &mut self.steps[usize::from(step.number() - 1)]
    }

    /// How many steps are done.
    pub fn done_count(&self) -> usize {
        self.steps
            .iter()
            .filter(|r| r.status == StepStatus::Done)
            .count()
    }

    /// The first step that is not done, if any.
    pub fn first_not_done(&self) -> Option<Step> {
        self.steps
            .iter()
            .find(|r| r.status != StepStatus::Done)
            .map(|r| r.step)
    }

    /// Appends to the action log.
    pub fn log(&mut self, step: Option<Step>, action: impl Into<String>) {
        let at = now();
        self.updated_at = at.clone();
        self.events.push(Event {
            at,
            step,
            action: action.into(),
        });
    }

    /// Appends to the decisions log, unless the same decision is already there.
    pub fn decide(&mut self, decision: impl Into<String>, reason: impl Into<String>) {
        let decision = decision.into();
        if self.decisions.iter().any(|d| d.decision == decision) {
            return;
        }
        let at = now();
        self.updated_at = at.clone();
        self.decisions.push(Decision {
            at,
            decision,
            reason: reason.into(),
        });
    }

    #[allow(
        dead_code,
        reason = "used by rollback once the decommissioner API lands"
    )]
    /// Appends to the decisions log even if an equal entry exists (repeatable actions
    /// such as a rollback).
    pub fn decide_again(&mut self, decision: impl Into<String>, reason: impl Into<String>) {
        let at = now();
        self.updated_at = at.clone();
        self.decisions.push(Decision {
            at,
            decision: decision.into(),
            reason: reason.into(),
        });
    }

    /// Open blockers.
    pub fn open_blockers(&self) -> impl Iterator<Item = &Blocker> {
        self.blockers.iter().filter(|b| b.resolved_at.is_none())
    }

    /// Marks every open blocker raised by `step` as resolved.
    pub fn resolve_blockers(&mut self, step: Step) {
        let at = now();
        for blocker in &mut self.blockers {
            if blocker.step == step && blocker.resolved_at.is_none() {
                blocker.resolved_at = Some(at.clone());
            }
        }
    }
}

/// A state file and its content: every change goes through [`Journal::update`], which
/// saves before returning.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    state: MigrationState,
}

impl Journal {
    /// Opens the state at `path`, or starts a fresh one (not yet written).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let state = MigrationState::load(path)?.unwrap_or_default();
        Ok(Self {
            path: path.to_owned(),
            state,
        })
    }

    /// The current state.
    pub fn state(&self) -> &MigrationState {
        &self.state
    }

    /// Applies `change` and saves the result atomically.
    pub fn update<R>(
        &mut self,
        change: impl FnOnce(&mut MigrationState) -> R,
    ) -> anyhow::Result<R> {
        let result = change(&mut self.state);
        self.state.updated_at = now();
        self.state.save(&self.path)?;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_an_atomic_save() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("state.json");
        assert!(MigrationState::load(&path).unwrap().is_none());
        let mut journal = Journal::open(&path).unwrap();
        journal
            .update(|s| {
                s.step_mut(Step::CreateSilverTable).status = StepStatus::Done;
                s.decide("use Rust", "team skills");
                s.decide("use Rust", "team skills");
                s.log(Some(Step::CreateSilverTable), "applied");
            })
            .unwrap();
        let loaded = MigrationState::load(&path).unwrap().unwrap();
        assert_eq!(&loaded, journal.state());
        assert_eq!(loaded.decisions.len(), 1);
        assert_eq!(loaded.first_not_done(), Some(Step::ImplementProcessor));
        assert_eq!(loaded.done_count(), 1);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
            .collect();
        assert!(leftovers.is_empty(), "temp file left behind");
    }

    #[test]
    fn a_state_file_of_another_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let state = MigrationState {
            schema: "something-else/v9".into(),
            ..MigrationState::default()
        };
        state.save(&path).unwrap();
        let err = MigrationState::load(&path).unwrap_err().to_string();
        assert!(err.contains("something-else/v9"), "{err}");
    }

    #[test]
    fn a_validation_record_without_a_tolerance_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let state = MigrationState {
            validation: Some(ValidationRecord {
                recorded_at: now(),
                pass: true,
                report_path: "r.json".into(),
                fingerprint: "f".into(),
                range_start: "a".into(),
                range_end: "b".into(),
                ohlc_tolerance: Some(1e-8),
                rows: vec![],
                mismatches: vec![],
            }),
            ..MigrationState::default()
        };
        let mut json = serde_json::to_value(&state).unwrap();
        json["validation"]
            .as_object_mut()
            .unwrap()
            .remove("ohlc_tolerance")
            .unwrap();
        std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();
        let loaded = MigrationState::load(&path).unwrap().unwrap();
        assert_eq!(loaded.validation.unwrap().ohlc_tolerance, None);
    }
}
