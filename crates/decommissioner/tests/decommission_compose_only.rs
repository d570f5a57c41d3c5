//! Compose-only mode (no Docker engine, e.g. the demo machine): the gate, the archive and
//! the byte-exact edit still apply; containers are not touched and every report says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{HELPER, ProjectDir};
use decommissioner::apply::{self, ApplyOutcome, ApplyRequest, RecreateVia, RollbackRequest};
use decommissioner::archive::Archive;
use decommissioner::config::DecomConfig;
use decommissioner::error::DecomError;
use decommissioner::plan::Target;
use time::{Duration, OffsetDateTime};

fn compose_only() -> Target {
    Target::ComposeOnly {
        reason: "test without Docker".into(),
    }
}

#[tokio::test]
async fn compose_only_apply_edits_archives_and_rolls_back_byte_for_byte() {
    let project = ProjectDir::new();
    let config = DecomConfig {
        archive_root: project.archive_root(),
        ..DecomConfig::default()
    };
    let request = |report| ApplyRequest {
        compose_files: vec![project.compose.clone()],
        project: "market-v1".into(),
        services: config.service_names(&[HELPER.to_owned()]),
        report,
        expected_range: None,
        now: OffsetDateTime::now_utc(),
    };

    let stale = project.report("stale.json", "PASS", Duration::days(2));
    let err = apply::apply(&config, &request(stale), &compose_only())
        .await
        .unwrap_err();
    assert!(matches!(err, DecomError::Gate(_)), "{err}");
    assert_eq!(project.compose_bytes(), project.original);
    assert!(!project.archive_root().exists());

    let pass = project.report("pass.json", "PASS", Duration::minutes(5));
    let report = apply::apply(&config, &request(pass.clone()), &compose_only())
        .await
        .unwrap();
    assert_eq!(report.outcome, ApplyOutcome::Decommissioned);
    assert!(report.compose_only.is_some());
    assert!(report.containers_removed.is_empty());
    assert_eq!(report.checklist.services_eliminated, 11);
    assert!(report.checklist.notes[0].contains("compose-only"));
    let edited = project.compose_bytes();
    assert_ne!(edited, project.original);
    let text = String::from_utf8(edited.clone()).unwrap();
    assert!(!text.contains("\n  spark-master:\n"));
    assert!(!text.contains("prefect-server:prefect"));
    Archive::new(&project.archive_root(), "market-v1")
        .verify()
        .unwrap();

    let again = apply::apply(&config, &request(pass), &compose_only())
        .await
        .unwrap();
    assert_eq!(again.outcome, ApplyOutcome::AlreadyDecommissioned);
    assert_eq!(project.compose_bytes(), edited);

    let rollback = apply::rollback(
        &config,
        &RollbackRequest {
            compose_files: vec![project.compose.clone()],
            project: "market-v1".into(),
            recreate: RecreateVia::Auto,
        },
        &compose_only(),
    )
    .await
    .unwrap();
    assert_eq!(project.compose_bytes(), project.original);
    let command = rollback.compose_command.unwrap();
    assert!(command.contains("up -d spark-master"), "{command}");
    assert!(command.ends_with(HELPER), "{command}");

    // After a rollback, apply starts over with a fresh archive and keeps the old one aside.
    let pass = project.report("pass-again.json", "PASS", Duration::minutes(1));
    let redo = apply::apply(&config, &request(pass), &compose_only())
        .await
        .unwrap();
    assert_eq!(redo.outcome, ApplyOutcome::Decommissioned);
    assert_eq!(project.compose_bytes(), edited);
    let aside: Vec<String> = std::fs::read_dir(project.archive_root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("market-v1.rolled-back-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
}

#[tokio::test]
async fn tampered_archive_is_refused_by_rollback() {
    let project = ProjectDir::new();
    let config = DecomConfig {
        archive_root: project.archive_root(),
        ..DecomConfig::default()
    };
    let pass = project.report("pass.json", "PASS", Duration::minutes(5));
    let request = ApplyRequest {
        compose_files: vec![project.compose.clone()],
        project: "p".into(),
        services: config.service_names(&[HELPER.to_owned()]),
        report: pass,
        expected_range: None,
        now: OffsetDateTime::now_utc(),
    };
    apply::apply(&config, &request, &compose_only())
        .await
        .unwrap();
    let archive = Archive::new(&project.archive_root(), "p");
    std::fs::write(
        archive.dir.join("compose/0-docker-compose.v1.yml"),
        b"services: {}\n",
    )
    .unwrap();
    let err = apply::rollback(
        &config,
        &RollbackRequest {
            compose_files: vec![project.compose.clone()],
            project: "p".into(),
            recreate: RecreateVia::Auto,
        },
        &compose_only(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DecomError::Corrupt { .. }), "{err}");
}

#[tokio::test]
async fn interrupted_apply_is_finished_by_apply_or_undone_by_rollback() {
    use decommissioner::archive::Phase;

    let project = ProjectDir::new();
    let config = DecomConfig {
        archive_root: project.archive_root(),
        ..DecomConfig::default()
    };
    let pass = project.report("pass.json", "PASS", Duration::minutes(5));
    let request = ApplyRequest {
        compose_files: vec![project.compose.clone()],
        project: "p".into(),
        services: config.service_names(&[HELPER.to_owned()]),
        report: pass,
        expected_range: None,
        now: OffsetDateTime::now_utc(),
    };
    apply::apply(&config, &request, &compose_only())
        .await
        .unwrap();
    let edited = project.compose_bytes();
    let archive = Archive::new(&project.archive_root(), "p");

    // As if the run had died right after sealing the archive.
    let rewind = |file: &[u8]| {
        let mut state = archive.state().unwrap().unwrap();
        state.phase = Phase::Archived;
        state.compose_edited = false;
        archive.save_state(&state).unwrap();
        std::fs::write(&project.compose, file).unwrap();
    };
    rewind(&project.original);
    let finished = apply::apply(&config, &request, &compose_only())
        .await
        .unwrap();
    assert_eq!(finished.outcome, ApplyOutcome::Decommissioned);
    assert_eq!(project.compose_bytes(), edited);

    // Someone edited the file in between: apply refuses to guess, rollback restores.
    let mut hand_edited = project.original.clone();
    hand_edited.extend_from_slice(b"# a hand edit\n");
    rewind(&hand_edited);
    let err = apply::apply(&config, &request, &compose_only())
        .await
        .unwrap_err();
    assert!(matches!(err, DecomError::ComposeDrift(_)), "{err}");
    apply::rollback(
        &config,
        &RollbackRequest {
            compose_files: vec![project.compose.clone()],
            project: "p".into(),
            recreate: RecreateVia::Auto,
        },
        &compose_only(),
    )
    .await
    .unwrap();
    assert_eq!(project.compose_bytes(), project.original);
}
