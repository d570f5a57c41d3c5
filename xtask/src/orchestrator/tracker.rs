//! Renders the progress tracker in the exact format of the user's `PHASE-4-PROGRESS.md`:
//! the same headings, tables and columns, filled only from the recorded state.

use std::fmt::Write;

use decommissioner::checklist::{Mark, TableRow as ChecklistTableRow, checklist_table};
use ohlcv_validator::Verdict;
use ohlcv_validator::report::{MeasuredRow, TableRow as ValidationTableRow, validation_table};

use super::config::Targets;
use super::state::{Check, MigrationState, StepStatus};
use super::steps::{Milestone, Step};

/// The timeframes of the validation table, in the tracker's order.
pub const TIMEFRAMES: [&str; 6] = ["1m", "5m", "15m", "30m", "1h", "1d"];

/// The ten legacy services (compose name, tracker name), in the tracker's order. Used for
/// the checklist until step 6 records what the decommissioner really did.
pub const LEGACY_SERVICES: [(&str, &str); 10] = [
    ("spark-master", "Spark Master"),
    ("spark-worker-1", "Spark Worker 1"),
    ("spark-worker-2", "Spark Worker 2"),
    ("bronze-binance-stream", "Spark Streaming Job 1"),
    ("bronze-kraken-stream", "Spark Streaming Job 2"),
    ("silver-binance-transformation", "Spark Streaming Job 3"),
    ("silver-kraken-transformation", "Spark Streaming Job 4"),
    ("gold-aggregation", "Spark Streaming Job 5"),
    ("prefect-server", "Prefect Server"),
    ("prefect-agent", "Prefect Agent"),
];

/// What the tracker needs beyond the state.
#[derive(Debug, Clone)]
pub struct TrackerOptions {
    /// The "Phase Owner" line.
    pub phase_owner: String,
    /// Targets shown in the resource table before step 7 has measured.
    pub targets: Targets,
    /// The number of services the decommission list names (the target when
    /// `targets.services_eliminated` is 0).
    pub listed_services: usize,
    /// The OHLC tolerance shown in the validation table's header until step 5 records the
    /// one its report used.
    pub ohlc_tolerance: f64,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        Self {
            phase_owner: "Platform Engineering".to_owned(),
            targets: Targets::default(),
            listed_services: LEGACY_SERVICES.len(),
            ohlc_tolerance: ohlcv_validator::config::Tolerance::default().ohlc_abs,
        }
    }
}

/// The tracker's overall status line.
pub fn overall_status(state: &MigrationState) -> &'static str {
    let statuses: Vec<StepStatus> = state.steps.iter().map(|r| r.status).collect();
    if statuses.iter().all(|s| *s == StepStatus::Done) {
        "✅ COMPLETE"
    } else if statuses
        .iter()
        .any(|s| matches!(s, StepStatus::Failed | StepStatus::Blocked))
        || state.open_blockers().next().is_some()
    {
        "❌ BLOCKED"
    } else if statuses.iter().any(|s| *s != StepStatus::NotStarted) {
        "🔄 IN PROGRESS"
    } else {
        "⬜ NOT STARTED"
    }
}

fn step_status(status: StepStatus) -> &'static str {
    match status {
        StepStatus::NotStarted => "⬜ Not Started",
        StepStatus::InProgress => "🔄 In Progress",
        StepStatus::Done => "✅ Complete",
        StepStatus::Failed => "❌ Failed",
        StepStatus::Blocked => "🟡 Blocked",
    }
}

fn milestone_status(state: &MigrationState, milestone: Milestone) -> &'static str {
    let statuses: Vec<StepStatus> = milestone
        .steps()
        .into_iter()
        .map(|s| state.step(s).status)
        .collect();
    if statuses.iter().all(|s| *s == StepStatus::Done) {
        "✅ Complete"
    } else if statuses.contains(&StepStatus::Failed) {
        "❌ Failed"
    } else if statuses.contains(&StepStatus::Blocked) {
        "🟡 Blocked"
    } else if statuses.iter().any(|s| *s != StepStatus::NotStarted) {
        "🔄 In Progress"
    } else {
        "⬜ Not Started"
    }
}

/// A table cell: pipes escaped, line breaks flattened, empty shown as `--`.
fn cell(text: &str) -> String {
    let flat = text.replace('|', "\\|").replace(['\n', '\r'], " ");
    let flat = flat.trim();
    if flat.is_empty() {
        "--".to_owned()
    } else {
        flat.to_owned()
    }
}

/// `2026-11-26T02:40:12Z` → `2026-11-26 02:40 UTC`.
fn short_time(at: &str) -> String {
    match (at.get(..10), at.get(11..16)) {
        (Some(date), Some(hm)) => format!("{date} {hm} UTC"),
        _ => at.to_owned(),
    }
}

fn mark(c: Check) -> Mark {
    match c {
        Check::Yes => Mark::Yes,
        Check::No => Mark::No,
        Check::NotApplicable => Mark::NotApplicable,
    }
}

/// The resource target strings, as the tracker shows them.
pub fn target_labels(targets: &Targets, listed_services: usize) -> [(&'static str, String); 5] {
    let services = if targets.services_eliminated == 0 {
        listed_services.to_string()
    } else {
        targets.services_eliminated.to_string()
    };
    [
        ("Total CPU", format!("<= {}", trim_float(targets.total_cpu))),
        (
            "Total RAM",
            format!("<= {}GB", trim_float(targets.total_ram_gb)),
        ),
        ("Services eliminated", services),
        ("Silver Processor CPU", trim_float(targets.processor_cpu)),
        (
            "Silver Processor RAM",
            format!("{}MB", targets.processor_ram_mb),
        ),
    ]
}

/// `22.0` → `22`, `0.5` → `0.5`.
pub fn trim_float(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Renders the whole tracker.
pub fn render(state: &MigrationState, options: &TrackerOptions) -> String {
    let mut out = String::new();
    // `write!` into a String cannot fail; the results are ignored on purpose.
    let done = state.done_count();
    let total = Step::ALL.len();
    let last_updated = short_time(&state.updated_at);
    let _ = writeln!(
        out,
        "# Phase 4: Streaming Pipeline Migration -- Progress Tracker"
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "**Status:** {}", overall_status(state));
    let _ = writeln!(
        out,
        "**Progress:** {done}/{total} steps ({}%)",
        done * 100 / total
    );
    let _ = writeln!(out, "**Last Updated:** {last_updated}");
    let _ = writeln!(out, "**Phase Owner:** {}", options.phase_owner);
    let _ = writeln!(out);
    let _ = writeln!(out, "---");

    for milestone in Milestone::ALL {
        render_milestone(&mut out, state, milestone);
    }
    render_validation(&mut out, state, options);
    render_resources(&mut out, state, options);
    render_checklist(&mut out, state);
    render_blockers(&mut out, state);
    render_decisions(&mut out, state);

    let _ = writeln!(out);
    let _ = writeln!(out, "**Last Updated:** {last_updated}");
    let _ = writeln!(out, "**Phase Owner:** {}", options.phase_owner);
    out
}

fn render_milestone(out: &mut String, state: &MigrationState, milestone: Milestone) {
    let steps = milestone.steps();
    let first = steps.first().map(|s| s.number()).unwrap_or(0);
    let last = steps.last().map(|s| s.number()).unwrap_or(0);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "## Milestone {milestone}: {} (Steps {first}-{last})",
        milestone.title()
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| Step | Title | Status | Started | Completed | Notes |"
    );
    let _ = writeln!(
        out,
        "|------|-------|--------|---------|-----------|-------|"
    );
    for step in steps {
        let record = state.step(step);
        let started = record.started_at.as_deref().map(short_time);
        let completed = record
            .completed_at
            .as_deref()
            .filter(|_| record.status == StepStatus::Done)
            .map(short_time);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            step.number(),
            step.title(),
            step_status(record.status),
            cell(started.as_deref().unwrap_or("")),
            cell(completed.as_deref().unwrap_or("")),
            cell(&record.notes.join("; ")),
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "**Milestone Status:** {} (gate: {})",
        milestone_status(state, milestone),
        milestone.gate_criteria()
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "---");
}

fn render_validation(out: &mut String, state: &MigrationState, options: &TrackerOptions) {
    let _ = writeln!(out);
    let _ = writeln!(out, "## OHLCV Validation Results");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Captured during Step 5. This is a **hard gate** -- decommission (Step 6) cannot proceed without passing."
    );
    let _ = writeln!(out);
    let rows: Vec<ValidationTableRow> = TIMEFRAMES
        .iter()
        .map(|timeframe| {
            let row = state
                .validation
                .as_ref()
                .and_then(|v| v.rows.iter().find(|r| r.timeframe == *timeframe));
            match row {
                Some(r) => ValidationTableRow {
                    timeframe: (*timeframe).to_owned(),
                    measured: Some(MeasuredRow {
                        v1_rows: r.v1_rows,
                        v2_rows: r.v2_rows,
                        rows_match: r.rows_match,
                        ohlc_within_tolerance: r.ohlc_within_tolerance,
                        volume_match: r.volume_match,
                        trade_count_match: r.trade_count_match,
                        verdict: if r.pass { Verdict::Pass } else { Verdict::Fail },
                    }),
                },
                None => ValidationTableRow::pending(*timeframe),
            }
        })
        .collect();
    let tolerance = state
        .validation
        .as_ref()
        .and_then(|v| v.ohlc_tolerance)
        .unwrap_or(options.ohlc_tolerance);
    out.push_str(&validation_table(&rows, tolerance));
    if let Some(v) = &state.validation {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Report: `{}` (range {} to {}, inputs fingerprint `{}`, read {}).",
            v.report_path,
            v.range_start,
            v.range_end,
            short_fingerprint(&v.fingerprint),
            short_time(&v.recorded_at)
        );
        for mismatch in &v.mismatches {
            let _ = writeln!(out, "- Mismatch: {mismatch}");
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "---");
}

fn short_fingerprint(fingerprint: &str) -> &str {
    fingerprint.get(..16).unwrap_or(fingerprint)
}

fn render_resources(out: &mut String, state: &MigrationState, options: &TrackerOptions) {
    let _ = writeln!(out);
    let _ = writeln!(out, "## Resource Measurements");
    let _ = writeln!(out);
    let _ = writeln!(out, "Captured during Step 7.");
    let _ = writeln!(out);
    let _ = writeln!(out, "| Metric | Target | Actual | Status |");
    let _ = writeln!(out, "|--------|--------|--------|--------|");
    match &state.resources {
        Some(record) => {
            for row in &record.rows {
                let status = if row.pass { "✅ PASS" } else { "❌ FAIL" };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {status} |",
                    cell(&row.metric),
                    cell(&row.target),
                    cell(&row.actual)
                );
            }
            if !record.notes.is_empty() {
                let _ = writeln!(out);
                for note in &record.notes {
                    let _ = writeln!(out, "- Note: {note}");
                }
            }
        }
        None => {
            for (metric, target) in target_labels(&options.targets, options.listed_services) {
                let _ = writeln!(out, "| {metric} | {target} | -- | ⬜ Pending |");
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "---");
}

fn render_checklist(out: &mut String, state: &MigrationState) {
    let _ = writeln!(out);
    let _ = writeln!(out, "## Services Decommission Checklist");
    let _ = writeln!(out);
    let _ = writeln!(out, "Tracked during Step 6.");
    let _ = writeln!(out);
    let mut notes = Vec::new();
    let rows: Vec<ChecklistTableRow> = if state.decommission.is_empty() {
        LEGACY_SERVICES
            .iter()
            .map(|(_, display)| {
                ChecklistTableRow::new(*display, Mark::No, Mark::No, Mark::No, false)
            })
            .collect()
    } else {
        state
            .decommission
            .iter()
            .map(|row| {
                if !row.note.is_empty() {
                    notes.push(format!("`{}`: {}", row.service, row.note));
                }
                ChecklistTableRow::new(
                    format!("{} (`{}`)", row.display, row.service),
                    mark(row.stopped),
                    mark(row.removed_from_compose),
                    mark(row.config_preserved),
                    false,
                )
            })
            .collect()
    };
    out.push_str(&checklist_table(&rows));
    if !notes.is_empty() {
        let _ = writeln!(out);
        for note in notes {
            let _ = writeln!(out, "- Note: {note}");
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "---");
}

fn render_blockers(out: &mut String, state: &MigrationState) {
    let _ = writeln!(out);
    let _ = writeln!(out, "## Blockers");
    let _ = writeln!(out);
    let _ = writeln!(out, "| Blocker | Impact | Owner | Status |");
    let _ = writeln!(out, "|---------|--------|-------|--------|");
    if state.blockers.is_empty() {
        let _ = writeln!(out, "| None | -- | -- | -- |");
    }
    for blocker in &state.blockers {
        let status = match &blocker.resolved_at {
            None => format!("❌ Open since {}", short_time(&blocker.raised_at)),
            Some(at) => format!("✅ Resolved {}", short_time(at)),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {status} |",
            cell(&format!(
                "Step {}: {}",
                blocker.step.number(),
                blocker.blocker
            )),
            cell(&blocker.impact),
            cell(&blocker.owner),
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "---");
}

fn render_decisions(out: &mut String, state: &MigrationState) {
    let _ = writeln!(out);
    let _ = writeln!(out, "## Decisions Log");
    let _ = writeln!(out);
    let _ = writeln!(out, "| Date | Decision | Reason |");
    let _ = writeln!(out, "|------|----------|--------|");
    if state.decisions.is_empty() {
        let _ = writeln!(out, "| -- | -- | -- |");
    }
    for decision in &state.decisions {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            short_time(&decision.at),
            cell(&decision.decision),
            cell(&decision.reason)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "---");
}

#[cfg(test)]
mod tests {
    use super::super::state::{
        Blocker, ChecklistRow, ResourceRecord, ResourceRow, ValidationRecord, ValidationRow,
    };
    use super::*;

    /// The user's tracker, read from the shared seed (never copied into the repository).
    fn seed() -> String {
        let path = crate::paths::workspace_root()
            .join("..")
            .join("shared")
            .join("seed")
            .join("PHASE-4-PROGRESS.md");
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the seed tracker {} must be readable for this test: {e}",
                path.display()
            )
        })
    }

    /// The structure of a tracker: headings, bold header keys, and each table's header
    /// row with the first-column labels that the format fixes (timeframes, metrics).
    #[derive(Debug, PartialEq)]
    struct Shape {
        headings: Vec<String>,
        bold_keys: Vec<String>,
        tables: Vec<Vec<String>>,
        separators: Vec<String>,
        rules: usize,
    }

    fn shape(text: &str) -> Shape {
        let lines: Vec<&str> = text.lines().collect();
        let mut tables = Vec::new();
        let mut separators = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with("|--") {
                let header = lines[i - 1];
                tables.push(
                    header
                        .trim_matches('|')
                        .split('|')
                        .map(|c| c.trim().to_owned())
                        .collect(),
                );
                separators.push((*line).to_owned());
            }
        }
        Shape {
            headings: lines
                .iter()
                .filter(|l| l.starts_with('#'))
                .map(|l| (*l).to_owned())
                .collect(),
            bold_keys: lines
                .iter()
                .filter_map(|l| l.strip_prefix("**"))
                .filter_map(|l| l.split_once(":**").map(|(k, _)| k.to_owned()))
                .collect(),
            tables,
            separators,
            rules: lines.iter().filter(|l| **l == "---").count(),
        }
    }

    /// First-column labels of the table whose header starts with `first_header`.
    fn labels(text: &str, first_header: &str) -> Vec<String> {
        let mut rows = Vec::new();
        let mut inside = false;
        for line in text.lines() {
            if line.starts_with(&format!("| {first_header} |")) {
                inside = true;
                continue;
            }
            if inside {
                if line.starts_with("|--") {
                    continue;
                }
                if !line.starts_with('|') {
                    break;
                }
                let first = line.trim_matches('|').split('|').next().unwrap_or("");
                rows.push(first.trim().to_owned());
            }
        }
        rows
    }

    fn finished_state() -> MigrationState {
        let mut state = MigrationState::default();
        for record in &mut state.steps {
            record.status = StepStatus::Done;
            record.started_at = Some("2026-11-26T02:40:12Z".into());
            record.completed_at = Some("2026-11-26T02:41:13Z".into());
            record.notes = vec!["did | things".into()];
        }
        state.validation = Some(ValidationRecord {
            recorded_at: "2026-11-26T02:41:00Z".into(),
            pass: true,
            report_path: "target/migration/validation.json".into(),
            fingerprint: "ab".repeat(32),
            range_start: "2021-04-17T00:00:00Z".into(),
            range_end: "2021-04-18T00:00:00Z".into(),
            ohlc_tolerance: Some(1e-8),
            rows: TIMEFRAMES
                .iter()
                .map(|tf| ValidationRow {
                    timeframe: (*tf).into(),
                    v1_rows: 1440,
                    v2_rows: 1440,
                    rows_match: true,
                    ohlc_within_tolerance: true,
                    volume_match: true,
                    trade_count_match: true,
                    pass: true,
                })
                .collect(),
            mismatches: vec![],
        });
        state.resources = Some(ResourceRecord {
            recorded_at: "2026-11-26T02:42:00Z".into(),
            rows: target_labels(&Targets::default(), 10)
                .into_iter()
                .map(|(metric, target)| ResourceRow {
                    metric: metric.into(),
                    target,
                    actual: "1".into(),
                    pass: true,
                })
                .collect(),
            notes: vec!["the tracker says 9 services but lists 10".into()],
            raw: serde_json::Value::Null,
        });
        state.decommission = LEGACY_SERVICES
            .iter()
            .map(|(s, d)| ChecklistRow {
                service: (*s).into(),
                display: (*d).into(),
                stopped: Check::NotApplicable,
                removed_from_compose: Check::Yes,
                config_preserved: Check::Yes,
                note: "no Docker daemon".into(),
            })
            .collect();
        state.decide("Rust instead of Kotlin", "one language");
        state
    }

    fn failed_gate_state() -> MigrationState {
        let mut state = finished_state();
        state.resources = None;
        state.decommission.clear();
        state.step_mut(Step::ValidateOhlcv).status = StepStatus::Failed;
        state.step_mut(Step::Decommission).status = StepStatus::Blocked;
        state.step_mut(Step::ResourceCheckpoint).status = StepStatus::Blocked;
        if let Some(v) = &mut state.validation {
            v.pass = false;
            v.rows[0].pass = false;
            v.rows[0].ohlc_within_tolerance = false;
            v.mismatches = vec!["1m binance BTC/USDT 2021-04-17 00:01 open".into()];
        }
        state.blockers.push(Blocker {
            raised_at: "2026-11-26T02:41:00Z".into(),
            step: Step::ValidateOhlcv,
            blocker: "1m open differs".into(),
            impact: "steps 6-7 cannot start".into(),
            owner: "Platform Engineering".into(),
            resolved_at: None,
        });
        state
    }

    #[test]
    fn every_rendering_has_the_seeds_headings_tables_and_columns() {
        let seed = seed();
        let expected = shape(&seed);
        for (name, state) in [
            ("fresh", MigrationState::default()),
            ("finished", finished_state()),
            ("failed gate", failed_gate_state()),
        ] {
            let rendered = render(&state, &TrackerOptions::default());
            let got = shape(&rendered);
            // The one intended difference: step 2 is the Rust processor. Headings, bold
            // keys, tables, their columns and the rules between sections are the seed's.
            assert_eq!(got.headings, expected.headings, "{name}: headings");
            assert_eq!(got.bold_keys, expected.bold_keys, "{name}: header keys");
            assert_eq!(got.tables, expected.tables, "{name}: table columns");
            assert_eq!(got.separators, expected.separators, "{name}: separators");
            assert_eq!(got.rules, expected.rules, "{name}: section rules");
            for first in ["Timeframe", "Metric", "Step"] {
                assert_eq!(
                    labels(&rendered, first),
                    labels(&seed, first),
                    "{name}: {first}"
                );
            }
        }
    }

    #[test]
    fn a_fresh_state_renders_like_the_seed_except_dates_and_step_two() {
        let seed = seed();
        let rendered = render(&MigrationState::default(), &TrackerOptions::default());
        let normalize = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| !l.starts_with("**Last Updated:**"))
                .filter(|l| !l.starts_with("**Milestone Status:**"))
                .filter(|l| !l.starts_with("| Services eliminated"))
                .map(|l| l.replace("Kotlin", "Rust"))
                .collect()
        };
        assert_eq!(normalize(&rendered), normalize(&seed));
    }

    #[test]
    fn measurements_appear_and_the_status_follows_the_steps() {
        let finished = render(&finished_state(), &TrackerOptions::default());
        assert!(finished.contains("**Status:** ✅ COMPLETE"));
        assert!(finished.contains("**Progress:** 7/7 steps (100%)"));
        assert!(finished.contains("| 1m | 1440 | 1440 | ✅ | ✅ | ✅ | ✅ PASS |"));
        assert!(
            finished.contains("did \\| things"),
            "pipes in notes are escaped"
        );
        assert!(finished.contains("| Rust instead of Kotlin | one language |"));
        assert!(finished.contains("the tracker says 9 services but lists 10"));

        let failed = render(&failed_gate_state(), &TrackerOptions::default());
        assert!(failed.contains("**Status:** ❌ BLOCKED"));
        assert!(failed.contains("**Progress:** 4/7 steps (57%)"));
        assert!(failed.contains("| 1m | 1440 | 1440 | ✅ | ❌ | ✅ | ❌ FAIL |"));
        assert!(failed.contains("| Step 5: 1m open differs |"));
        assert!(failed.contains("| 6 | Decommission Spark Streaming + Prefect | 🟡 Blocked |"));
        assert!(failed.contains("| Spark Master | ⬜ | ⬜ | ⬜ | ⬜ Pending |"));
    }

    #[test]
    fn the_tables_are_the_validators_and_the_decommissioners() {
        let mut state = finished_state();
        if let Some(v) = &mut state.validation {
            v.ohlc_tolerance = Some(5e-7);
            v.rows[1].trade_count_match = false;
            v.rows[1].pass = false;
        }
        let rendered = render(&state, &TrackerOptions::default());
        let rows: Vec<ValidationTableRow> = vec![ValidationTableRow::pending("1m")];
        let header = validation_table(&rows, 5e-7);
        assert!(rendered.contains(header.lines().next().unwrap_or("?")));
        assert!(rendered.contains("| 5m | 1440 | 1440 | ❌ | ✅ | ✅ | ❌ FAIL |"));
        assert!(
            rendered.contains("| Spark Master (`spark-master`) | 🟡 | ✅ | ✅ | ✅ Complete |")
        );
        assert!(rendered.contains("- Note: `spark-master`: no Docker daemon"));
    }
}
