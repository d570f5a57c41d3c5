//! What each step does, over the workspace crates' libraries. Every step is idempotent:
//! run twice, it finds its work done and only re-checks it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use super::config::OrchestratorConfig;
use super::resources::{self, Declared, Measurements};
use super::state::{Journal, ResourceRecord, now};
use super::steps::Step;
use super::tracker::LEGACY_SERVICES;

/// How a step ended when it did not hit an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    /// The step's work is done and its checks hold.
    Done {
        /// What it found, for the tracker's Notes.
        notes: Vec<String>,
    },
    /// The step ran but its gate failed: the migration must stop here.
    GateFailed {
        /// What it found.
        notes: Vec<String>,
        /// The blocker: what exactly is wrong.
        blocker: String,
        /// What cannot happen because of it.
        impact: String,
    },
}

/// The environment the steps act on (the local stack by default).
#[derive(Debug, Clone)]
pub struct Environment {
    /// Settings.
    pub config: OrchestratorConfig,
}

impl Environment {
    /// The environment the configuration describes.
    pub fn from_config(config: &OrchestratorConfig) -> Self {
        Self {
            config: config.clone(),
        }
    }

    /// Runs one step; measurements go into the journal as they are taken.
    pub fn run_step(&self, step: Step, journal: &mut Journal) -> anyhow::Result<StepResult> {
        match step {
            Step::ResourceCheckpoint => self.resource_checkpoint(journal),
            other => not_available(other),
        }
    }

    /// A runtime for the async crate APIs (xtask itself is synchronous).
    fn runtime(&self) -> anyhow::Result<tokio::runtime::Runtime> {
        Ok(tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?)
    }

    /// The compose file as it was before step 6 touched it (saved by step 6's first run).
    pub fn compose_before_path(&self) -> PathBuf {
        self.config
            .work_path()
            .join("compose-before-decommission.yml")
    }

    /// Where step 3 records the processor's pid.
    pub fn processor_pid_path(&self) -> PathBuf {
        self.config.work_path().join("silver-processor.pid")
    }

    #[allow(
        dead_code,
        reason = "called by step 6 once the decommissioner API lands"
    )]
    /// Saves the compose file once, before the first decommission attempt, so step 7 can
    /// compare before and after even when step 6 is rerun.
    pub fn snapshot_compose_before(&self) -> anyhow::Result<()> {
        let target = self.compose_before_path();
        if target.exists() {
            return Ok(());
        }
        let source = self.config.compose_path();
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::copy(&source, &target)
            .with_context(|| format!("saving {} to {}", source.display(), target.display()))?;
        Ok(())
    }

    fn compose_files(&self, main: &Path) -> Vec<PathBuf> {
        let mut files = vec![main.to_owned()];
        files.extend(
            self.config
                .legacy
                .extra_compose_files
                .iter()
                .map(|p| OrchestratorConfig::resolve(p)),
        );
        files
    }

    fn processor_pid(&self) -> anyhow::Result<u32> {
        let path = self.processor_pid_path();
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no processor pid file {} (step 3 starts it)",
                path.display()
            )
        })?;
        let pid: u32 = text.trim().parse().context("bad pid file")?;
        anyhow::ensure!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "the processor (pid {pid}) is not running"
        );
        Ok(pid)
    }

    /// Step 7.
    fn resource_checkpoint(&self, journal: &mut Journal) -> anyhow::Result<StepResult> {
        let before_path = self.compose_before_path();
        anyhow::ensure!(
            before_path.exists(),
            "{} is missing: step 6 saves the compose file there before editing it",
            before_path.display()
        );
        let before_files = self.compose_files(&before_path);
        let after_files = self.compose_files(&self.config.compose_path());
        let before = Declared::from_files(&as_refs(&before_files))?;
        let after = Declared::from_files(&as_refs(&after_files))?;
        let listed: Vec<String> = if journal.state().decommission.is_empty() {
            LEGACY_SERVICES
                .iter()
                .map(|(s, _)| (*s).to_owned())
                .collect()
        } else {
            journal
                .state()
                .decommission
                .iter()
                .filter(|r| LEGACY_SERVICES.iter().any(|(s, _)| *s == r.service))
                .map(|r| r.service.clone())
                .collect()
        };
        let window = Duration::from_secs(self.config.measure.sample_seconds);
        let runtime = self.runtime()?;
        let containers = runtime
            .block_on(resources::sample_containers(
                Some(&self.config.legacy.compose_project),
                window,
            ))
            .map_err(|e| format!("{e:#}"));
        let (processor, load) = match self.processor_pid() {
            Ok(pid) => self.sample_processor_under_load(pid, window),
            Err(e) => (Err(format!("{e:#}")), "no load".to_owned()),
        };
        let measurements = Measurements {
            before,
            after,
            listed,
            containers,
            processor,
            load,
        };
        let checkpoint = resources::evaluate(
            &measurements,
            &self.config.targets,
            &self.config.plan_claims,
        );
        let failed: Vec<String> = checkpoint
            .rows
            .iter()
            .filter(|r| !r.pass)
            .map(|r| format!("{} {} (target {})", r.metric, r.actual, r.target))
            .collect();
        let raw = serde_json::to_value(&measurements)?;
        let rows = checkpoint.rows.clone();
        let notes = checkpoint.notes.clone();
        journal.update(|s| {
            s.resources = Some(ResourceRecord {
                recorded_at: now(),
                rows,
                notes,
                raw,
            });
            s.log(Some(Step::ResourceCheckpoint), "resources measured");
        })?;
        let summary = checkpoint
            .rows
            .iter()
            .map(|r| format!("{}: {}", r.metric, if r.pass { "PASS" } else { "FAIL" }))
            .collect::<Vec<_>>()
            .join(", ");
        if failed.is_empty() {
            Ok(StepResult::Done {
                notes: vec![
                    summary,
                    "discrepancies with the plan: see Resource Measurements".into(),
                ],
            })
        } else {
            Ok(StepResult::GateFailed {
                notes: vec![summary],
                blocker: format!("resource targets missed: {}", failed.join("; ")),
                impact: "M3 is not reached until the budget holds".into(),
            })
        }
    }

    /// Samples the processor while a replay keeps it busy.
    fn sample_processor_under_load(
        &self,
        pid: u32,
        window: Duration,
    ) -> (Result<resources::Usage, String>, String) {
        let load = "idle (no replay running)".to_owned();
        let usage = resources::sample_process(pid, window, || {}).map_err(|e| format!("{e:#}"));
        (usage, load)
    }
}

/// The error of a step whose crate has not landed its library API yet.
fn not_available(step: Step) -> anyhow::Result<StepResult> {
    let needs = match step {
        Step::CreateSilverTable => "ch_support::migrations::apply and sql/silver",
        Step::ImplementProcessor | Step::DeployProcessor => "the silver-processor library",
        Step::CreateGoldViews => "gold_views::{GoldConfig, generate, apply}",
        Step::ValidateOhlcv => "ohlcv_validator::{ValidatorConfig, validate, Report}",
        Step::Decommission => "decommissioner::{DecomConfig, plan, apply}",
        Step::ResourceCheckpoint => "the silver-processor binary to measure",
    };
    anyhow::bail!("{step} is not available yet: it needs {needs}")
}

fn as_refs(files: &[PathBuf]) -> Vec<&Path> {
    files.iter().map(PathBuf::as_path).collect()
}
