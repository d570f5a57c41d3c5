//! Every dependency kind the plan knows, on a fixture, without Docker; and the CLI's exit
//! status for a blocked plan.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use decommissioner::compose::{ComposeError, ComposeFile};
use decommissioner::config::DecomConfig;
use decommissioner::plan::{DependencyKind, Target, plan};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dependents.yml")
}

#[tokio::test]
async fn plan_names_every_dependent_with_its_kind() {
    let config = DecomConfig::default();
    let target = Target::ComposeOnly {
        reason: "fixture".into(),
    };
    let services = vec!["legacy".to_owned(), "legacy-db".to_owned()];
    let plan = plan(&config, &[fixture()], "fx", &services, &target)
        .await
        .unwrap();
    let found: BTreeSet<(String, String, bool)> = plan
        .dependents
        .iter()
        .map(|d| (d.service.clone(), d.via.to_string(), d.blocking))
        .collect();
    let expected: BTreeSet<(String, String, bool)> = [
        ("sidecar", DependencyKind::NetworkMode.to_string(), true),
        ("backup", DependencyKind::VolumesFrom.to_string(), true),
        (
            "reader",
            DependencyKind::SharedVolume("shared-data".into()).to_string(),
            true,
        ),
        ("web", "depends_on".into(), false),
        ("web", "links".into(), false),
        ("api", "depends_on".into(), false),
        ("worker", "depends_on".into(), false),
    ]
    .into_iter()
    .map(|(s, v, b)| (s.to_owned(), v, b))
    .collect();
    assert_eq!(found, expected);
    assert!(
        plan.unused_volumes.is_empty(),
        "reader still uses shared-data"
    );
}

#[test]
fn references_are_cut_in_flow_and_map_forms_but_not_through_merge_keys() {
    let file = ComposeFile::load(&fixture()).unwrap();
    // Without `worker` (whose depends_on is inherited) the edit goes through.
    let text = file.text.replace(
        "  worker:\n    <<: *waits-for-legacy\n    image: standin\n\n",
        "",
    );
    let file_without_worker = ComposeFile::parse(&fixture(), text.clone()).unwrap();
    let removed: BTreeSet<String> = ["legacy".to_owned(), "legacy-db".to_owned()].into();
    let edit = file_without_worker.remove_services(&removed).unwrap();
    assert!(
        edit.text.contains("    depends_on: [cache]\n"),
        "{}",
        edit.text
    );
    assert!(!edit.text.contains("links:"), "{}", edit.text);
    assert!(
        edit.text
            .contains("    depends_on:\n      cache:\n        condition: service_started\n\n"),
        "{}",
        edit.text
    );
    assert!(!edit.text.contains("  legacy-db:"), "{}", edit.text);
    assert!(!edit.text.contains("- legacy-db"), "{}", edit.text);
    // With it, the editor refuses rather than guess.
    let err = file.remove_services(&removed).unwrap_err();
    assert!(
        matches!(err, ComposeError::UneditableReference { ref service, .. } if service == "worker"),
        "{err}"
    );
}

#[test]
fn cli_plan_exits_2_and_names_the_checkpoint_cleaner() {
    let compose =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/legacy/docker-compose.v1.yml");
    let output = Command::new(env!("CARGO_BIN_EXE_decommissioner"))
        .args(["plan", "--compose-only", "-p", "market-v1", "-f"])
        .arg(&compose)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("ERROR: kept service `spark-checkpoint-cleaner`"),
        "{stdout}"
    );
    assert!(stdout.contains("COMPOSE-ONLY MODE"), "{stdout}");
    assert!(
        stdout.contains("| Spark Master | ⬜ | ⬜ | ⬜ | ⬜ Pending |"),
        "{stdout}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_decommissioner"))
        .args([
            "plan",
            "--compose-only",
            "--json",
            "--also",
            "spark-checkpoint-cleaner",
        ])
        .args(["-p", "market-v1", "-f"])
        .arg(&compose)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["plan"]["services"].as_array().unwrap().len(), 11);
}
