//! The decommissioner against this machine's real Docker engine, on a legacy deployment
//! started with `docker-compose up -d` (so the containers carry compose's labels).
//!
//! One scenario walks the whole life cycle, because bringing the 17-container deployment
//! up costs about 10 s: dry run, refusals, apply, idempotent re-apply, rollback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use common::{Deployment, HELPER, RANGE_END, RANGE_START, docker_or_skip, run};
use decommissioner::apply::{self, ApplyOutcome, ApplyRequest, RecreateVia, RollbackRequest};
use decommissioner::archive::{Archive, Manifest, sha256_hex};
use decommissioner::compose::ComposeFile;
use decommissioner::config::DecomConfig;
use decommissioner::docker::{Engine, LABEL_SERVICE};
use decommissioner::error::DecomError;
use decommissioner::gate::{ExpectedRange, GateError};
use decommissioner::plan::{self, DependencyKind, Target};
use time::{Duration, OffsetDateTime};

/// service -> (container id, running)
type Snapshot = BTreeMap<String, (String, bool)>;

async fn snapshot(engine: &Engine, project: &str) -> Snapshot {
    engine
        .project_containers(project)
        .await
        .unwrap()
        .into_iter()
        .map(|c| {
            let service =
                c.config.as_ref().unwrap().labels.as_ref().unwrap()[LABEL_SERVICE].clone();
            let running = c.state.as_ref().and_then(|s| s.running).unwrap_or(false);
            (service, (c.id.clone().unwrap(), running))
        })
        .collect()
}

fn request(config: &DecomConfig, d: &Deployment, report: PathBuf, also: &[&str]) -> ApplyRequest {
    let also: Vec<String> = also.iter().map(|s| (*s).to_owned()).collect();
    ApplyRequest {
        compose_files: vec![d.project_dir.compose.clone()],
        project: d.project.clone(),
        services: config.service_names(&also),
        report,
        expected_range: Some(ExpectedRange {
            start: RANGE_START.into(),
            end: RANGE_END.into(),
        }),
        now: OffsetDateTime::now_utc(),
    }
}

/// Lines of `new` must be `old` with some lines deleted; returns the deleted lines.
fn deleted_lines(old: &str, new: &str) -> Vec<String> {
    let mut new_lines = new.split_inclusive('\n').peekable();
    let mut deleted = Vec::new();
    for line in old.split_inclusive('\n') {
        if new_lines.peek() == Some(&line) {
            new_lines.next();
        } else {
            deleted.push(line.to_owned());
        }
    }
    assert!(
        new_lines.next().is_none(),
        "the edited file has lines that are not in the original"
    );
    deleted
}

#[tokio::test]
async fn decommission_life_cycle_against_real_docker() {
    let Some(engine) = docker_or_skip("decommission_life_cycle_against_real_docker").await else {
        return;
    };
    let d = Deployment::up("life");
    let config = DecomConfig {
        archive_root: d.project_dir.archive_root(),
        ..DecomConfig::default()
    };
    let target = Target::Docker(engine.clone());
    let ten = config.service_names(&[]);
    assert_eq!(ten.len(), 10);

    let before = snapshot(&engine, &d.project).await;
    assert_eq!(before.len(), 17, "{before:?}");
    assert!(before.values().all(|(_, running)| *running), "{before:?}");
    let unchanged = |label: &str, now: &Snapshot| {
        assert_eq!(now, &before, "{label}: containers changed");
        assert_eq!(
            d.project_dir.compose_bytes(),
            d.project_dir.original,
            "{label}: compose file changed"
        );
        assert!(
            !d.project_dir.archive_root().exists(),
            "{label}: an archive was written"
        );
    };

    // Dry run: reports containers and the dependent helper; changes nothing.
    let dry = plan::plan(
        &config,
        std::slice::from_ref(&d.project_dir.compose),
        &d.project,
        &ten,
        &target,
    )
    .await
    .unwrap();
    assert!(
        dry.services.iter().all(|s| s.containers.len() == 1),
        "{dry:?}"
    );
    let master = &dry.services[0].containers[0];
    assert_eq!(master.state, "running");
    assert_eq!(
        master.nano_cpus, 2_000_000_000,
        "compose 1.29 applies deploy limits"
    );
    assert_eq!(master.memory_bytes, 2 << 30);
    assert_eq!(master.stop_timeout_secs, Some(2));
    assert!(master.compose_managed);
    let blocking = dry.blocking_dependents();
    assert_eq!(blocking.len(), 1);
    assert_eq!(blocking[0].service, HELPER);
    assert_eq!(
        blocking[0].via,
        DependencyKind::SharedVolume("spark-checkpoints".into())
    );
    // The workers declare 3.5 CPUs by default but run with 2.0 here: reported.
    assert!(
        dry.warnings
            .iter()
            .any(|w| w.contains("spark-worker-1") && w.contains("3.5")),
        "{:?}",
        dry.warnings
    );
    assert_eq!(dry.kept_containers.len(), 7);
    unchanged("dry run", &snapshot(&engine, &d.project).await);

    // Apply refuses without a report, with a FAIL report, with a stale PASS report.
    let missing = d.project_dir.dir.path().join("no-report.json");
    let fail = d
        .project_dir
        .report("fail.json", "FAIL", Duration::minutes(1));
    let stale = d
        .project_dir
        .report("stale.json", "PASS", Duration::days(3));
    for (label, report) in [("no report", missing), ("FAIL", fail), ("stale", stale)] {
        let err = apply::apply(&config, &request(&config, &d, report, &[HELPER]), &target)
            .await
            .unwrap_err();
        assert!(matches!(err, DecomError::Gate(_)), "{label}: {err}");
        if label == "stale" {
            assert!(
                matches!(err, DecomError::Gate(GateError::Stale { .. })),
                "{err}"
            );
        }
        unchanged(label, &snapshot(&engine, &d.project).await);
    }

    // A PASS report for another range is refused too.
    let pass = d
        .project_dir
        .report("pass.json", "PASS", Duration::minutes(1));
    let mut other_range = request(&config, &d, pass.clone(), &[HELPER]);
    other_range.expected_range = Some(ExpectedRange {
        start: RANGE_START.into(),
        end: "2026-03-01T00:00:00Z".into(),
    });
    let err = apply::apply(&config, &other_range, &target)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DecomError::Gate(GateError::RangeMismatch { .. })),
        "{err}"
    );
    unchanged("other range", &snapshot(&engine, &d.project).await);

    // With PASS but the helper kept: refused, naming it, before anything changes.
    let err = apply::apply(&config, &request(&config, &d, pass.clone(), &[]), &target)
        .await
        .unwrap_err();
    assert!(err.to_string().contains(HELPER), "{err}");
    assert!(matches!(err, DecomError::Dependents(_)));
    unchanged("dependent", &snapshot(&engine, &d.project).await);

    // Apply with PASS, the helper decommissioned too.
    let original_file = ComposeFile::parse(
        &d.project_dir.compose,
        String::from_utf8(d.project_dir.original.clone()).unwrap(),
    )
    .unwrap();
    let removed: BTreeSet<String> = config
        .service_names(&[HELPER.to_owned()])
        .into_iter()
        .collect();
    let report = apply::apply(
        &config,
        &request(&config, &d, pass.clone(), &[HELPER]),
        &target,
    )
    .await
    .unwrap();
    assert_eq!(report.outcome, ApplyOutcome::Decommissioned);
    assert_eq!(report.containers_removed.len(), 11);

    // The ten (and the helper) are gone; the kept containers are untouched.
    let after = snapshot(&engine, &d.project).await;
    for service in &removed {
        assert!(
            !after.contains_key(service),
            "{service} still has a container"
        );
        let name = format!("{}_{service}_1", d.project);
        assert!(
            engine.inspect(&name).await.unwrap().is_none(),
            "{name} exists"
        );
    }
    let kept_before: Snapshot = before
        .iter()
        .filter(|(s, _)| !removed.contains(*s))
        .map(|(s, v)| (s.clone(), v.clone()))
        .collect();
    assert_eq!(after, kept_before, "kept containers changed");
    assert!(after.values().all(|(_, running)| *running));

    // The compose file lost exactly the removed blocks and the two references.
    let edited = String::from_utf8(d.project_dir.compose_bytes()).unwrap();
    let original = String::from_utf8(d.project_dir.original.clone()).unwrap();
    let deleted = deleted_lines(&original, &edited);
    let mut expected_deleted: Vec<String> = Vec::new();
    for service in original_file
        .services
        .iter()
        .filter(|s| removed.contains(&s.name))
    {
        let block = original_file.service_block(&service.name).unwrap();
        assert!(
            block.contains(&format!("\n  {}:\n", service.name))
                || block.starts_with(&format!("  {}:\n", service.name))
        );
        expected_deleted.extend(block.split_inclusive('\n').map(str::to_owned));
    }
    expected_deleted.extend(
        [
            "      prefect-server:\n",
            "        condition: service_started\n",
            "      - prefect-server:prefect\n",
        ]
        .map(str::to_owned),
    );
    let mut deleted_sorted = deleted.clone();
    deleted_sorted.sort();
    expected_deleted.sort();
    assert_eq!(deleted_sorted, expected_deleted);
    assert_eq!(report.cleaned_references.len(), 2);
    for kept_text in [
        "  # Spark cluster (decommissioned by Phase 4)\n",
        "  # spark-history-server:\n",
        "x-spark-common: &spark-common\n",
        "  spark-checkpoints:\n",
        "      clickhouse:\n        condition: service_started\n    links:\n      - clickhouse\n",
    ] {
        assert!(edited.contains(kept_text), "lost {kept_text:?}");
    }
    // The user's compose tool still accepts the edited file.
    run(Command::new("docker-compose")
        .env("SPARK_WORKER_CPUS", "2.0")
        .env("CLICKHOUSE_CPUS", "2.0")
        .args(["-p", &d.project, "-f"])
        .arg(&d.project_dir.compose)
        .args(["config", "-q"]));

    // The archive is complete and its checksums hold.
    let archive = Archive::new(&d.project_dir.archive_root(), &d.project);
    let manifest: Manifest = archive.verify().unwrap();
    assert_eq!(
        archive.read("compose/0-docker-compose.v1.yml").unwrap(),
        d.project_dir.original
    );
    for service in &removed {
        let block = archive.read(&format!("services/{service}.0.yml")).unwrap();
        assert_eq!(
            block,
            original_file.service_block(service).unwrap().as_bytes()
        );
        let inspect = format!("containers/{}_{service}_1.inspect.json", d.project);
        let json: serde_json::Value =
            serde_json::from_slice(&archive.read(&inspect).unwrap()).unwrap();
        assert_eq!(json["Config"]["Labels"][LABEL_SERVICE], service.as_str());
    }
    let images: BTreeMap<String, String> =
        serde_json::from_slice(&archive.read("images.json").unwrap()).unwrap();
    assert_eq!(images.len(), 11);
    assert!(images.values().all(|id| id.starts_with("sha256:")));
    for file in [
        "config-files/config/spark/spark-defaults.conf",
        "config-files/config/spark/log4j2.properties",
        "config-files/config/prefect/prefect.toml",
    ] {
        assert!(manifest.files.contains_key(file), "{file} not archived");
    }
    for (file, entry) in &manifest.files {
        let bytes = std::fs::read(archive.dir.join(file)).unwrap();
        assert_eq!(sha256_hex(&bytes), entry.sha256, "{file}");
    }

    // The tracker's checklist, counted.
    assert_eq!(report.checklist.services_eliminated, 11);
    let table = report.checklist.to_markdown();
    assert!(
        table.contains("| Spark Master | ✅ | ✅ | ✅ | ✅ Complete |\n"),
        "{table}"
    );
    assert!(table.contains("| Spark Streaming Job 5 | ✅ | ✅ | ✅ | ✅ Complete |\n"));
    assert!(table.contains("| Spark Checkpoint Cleaner | ✅ | ✅ | ✅ | ✅ Complete |\n"));

    // Apply again: already decommissioned, nothing changes.
    let again = apply::apply(
        &config,
        &request(&config, &d, pass.clone(), &[HELPER]),
        &target,
    )
    .await
    .unwrap();
    assert_eq!(again.outcome, ApplyOutcome::AlreadyDecommissioned);
    assert_eq!(snapshot(&engine, &d.project).await, after);
    assert_eq!(d.project_dir.compose_bytes(), edited.as_bytes());

    // Rollback, automatic mode: the compose tool created these containers, so the exact
    // command is printed instead; the file is restored byte for byte.
    let rollback_request = |recreate| RollbackRequest {
        compose_files: vec![d.project_dir.compose.clone()],
        project: d.project.clone(),
        recreate,
    };
    let auto = apply::rollback(&config, &rollback_request(RecreateVia::Auto), &target)
        .await
        .unwrap();
    assert_eq!(d.project_dir.compose_bytes(), d.project_dir.original);
    assert!(auto.recreated.is_empty());
    let command = auto.compose_command.unwrap();
    assert!(
        command.starts_with(&format!(
            "docker compose -p {} -f {} up -d spark-master spark-worker-1",
            d.project,
            d.project_dir.compose.display()
        )),
        "{command}"
    );

    // Rollback through the Docker API from the archived inspect data.
    let api = apply::rollback(&config, &rollback_request(RecreateVia::DockerApi), &target)
        .await
        .unwrap();
    assert_eq!(api.recreated.len(), 11);
    assert_eq!(d.project_dir.compose_bytes(), d.project_dir.original);
    let restored = snapshot(&engine, &d.project).await;
    assert_eq!(restored.len(), 17);
    for service in &removed {
        let (id, running) = &restored[service];
        assert!(*running, "{service} does not run after rollback");
        assert_ne!(id, &before[service].0, "{service} was recreated");
        let name = format!("{}_{service}_1", d.project);
        let now = engine.inspect(&name).await.unwrap().unwrap();
        let then: bollard::models::ContainerInspectResponse = serde_json::from_slice(
            &archive
                .read(&format!("containers/{name}.inspect.json"))
                .unwrap(),
        )
        .unwrap();
        let (now_config, then_config) = (now.config.unwrap(), then.config.unwrap());
        assert_eq!(now.image, then.image, "{service}: image");
        assert_eq!(now_config.labels, then_config.labels, "{service}: labels");
        assert_eq!(now_config.env, then_config.env, "{service}: env");
        assert_eq!(now_config.cmd, then_config.cmd, "{service}: cmd");
        let (now_host, then_host) = (now.host_config.unwrap(), then.host_config.unwrap());
        assert_eq!(now_host.binds, then_host.binds, "{service}: mounts");
        assert_eq!(now_host.nano_cpus, then_host.nano_cpus, "{service}: cpus");
        assert_eq!(now_host.memory, then_host.memory, "{service}: memory");
        assert_eq!(now_host.restart_policy, then_host.restart_policy);
        let networks = |n: Option<bollard::models::NetworkSettings>| -> BTreeSet<String> {
            n.and_then(|n| n.networks)
                .unwrap_or_default()
                .into_keys()
                .collect()
        };
        assert_eq!(
            networks(now.network_settings),
            networks(then.network_settings)
        );
    }
    for (service, value) in &kept_before {
        assert_eq!(
            &restored[service], value,
            "kept {service} changed during rollback"
        );
    }
    assert!(
        api.checklist
            .rows
            .iter()
            .all(|r| r.status == "⏪ Rolled Back")
    );

    // The user's compose tool takes the recreated containers as its own and up to date:
    // `up -d` recreates nothing.
    run(Command::new("docker-compose")
        .current_dir(d.project_dir.dir.path())
        .env("SPARK_WORKER_CPUS", "2.0")
        .env("CLICKHOUSE_CPUS", "2.0")
        .args(["-p", &d.project, "-f"])
        .arg(&d.project_dir.compose)
        .args(["up", "-d"]));
    assert_eq!(snapshot(&engine, &d.project).await, restored);
}

/// Removes a container by name when dropped, also when the test failed.
struct ContainerGuard(String);

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

#[tokio::test]
async fn container_without_compose_labels_is_found_by_name_and_recreated_through_the_api() {
    let Some(engine) = docker_or_skip("container_without_compose_labels_is_found_by_name").await
    else {
        return;
    };
    common::ensure_standin_image();
    let name = format!("decom-byname-{}", std::process::id());
    let _guard = ContainerGuard(name.clone());
    run(Command::new("docker")
        .args([
            "run",
            "-d",
            "--init",
            "--stop-timeout",
            "1",
            "--name",
            &name,
        ])
        .args([
            "--restart",
            "unless-stopped",
            "--env",
            "PREFECT_API_URL=http://x:4200/api",
        ])
        .arg(common::IMAGE));

    let project = common::ProjectDir::new();
    let compose = project.dir.path().join("by-name.yml");
    let text = format!(
        "# A hand-run agent that compose only describes.\nservices:\n  broker:\n    image: {img}\n\n  # The agent.\n  prefect-agent:\n    image: {img}\n    container_name: {name}\n",
        img = common::IMAGE
    );
    std::fs::write(&compose, &text).unwrap();
    let config = DecomConfig {
        archive_root: project.archive_root(),
        ..DecomConfig::default()
    };
    let target = Target::Docker(engine.clone());
    let services = vec!["prefect-agent".to_owned()];
    let dry = plan::plan(
        &config,
        std::slice::from_ref(&compose),
        "byname",
        &services,
        &target,
    )
    .await
    .unwrap();
    let found = &dry.services[0].containers;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, name);
    assert_eq!(found[0].found_by, decommissioner::docker::FoundBy::Name);
    assert!(!found[0].compose_managed);
    assert_eq!(found[0].stop_timeout_secs, Some(1));
    let old_id = found[0].id.clone();

    let pass = project.report("pass.json", "PASS", Duration::minutes(1));
    let request = ApplyRequest {
        compose_files: vec![compose.clone()],
        project: "byname".into(),
        services,
        report: pass,
        expected_range: None,
        now: OffsetDateTime::now_utc(),
    };
    let report = apply::apply(&config, &request, &target).await.unwrap();
    assert_eq!(report.containers_removed, vec![name.clone()]);
    assert!(engine.inspect(&name).await.unwrap().is_none());
    assert_eq!(
        std::fs::read_to_string(&compose).unwrap(),
        format!(
            "# A hand-run agent that compose only describes.\nservices:\n  broker:\n    image: {}\n\n",
            common::IMAGE
        )
    );

    // Not created by the compose tool: `auto` recreates it through the Docker API.
    let rollback = apply::rollback(
        &config,
        &RollbackRequest {
            compose_files: vec![compose.clone()],
            project: "byname".into(),
            recreate: RecreateVia::Auto,
        },
        &target,
    )
    .await
    .unwrap();
    assert!(rollback.compose_command.is_none());
    assert_eq!(rollback.recreated.len(), 1);
    assert_eq!(std::fs::read_to_string(&compose).unwrap(), text);
    let now = engine.inspect(&name).await.unwrap().unwrap();
    assert_ne!(now.id.as_deref(), Some(old_id.as_str()));
    assert_eq!(now.state.and_then(|s| s.running), Some(true));
    let config_now = now.config.unwrap();
    assert!(
        config_now
            .env
            .unwrap()
            .contains(&"PREFECT_API_URL=http://x:4200/api".to_owned())
    );
    assert_eq!(config_now.stop_timeout, Some(1));

    // An apply that died after stopping the container but before removing it: rollback
    // finds the stopped container and starts it again instead of recreating it.
    run(Command::new("docker").args(["stop", &name]));
    let archive = Archive::new(&project.archive_root(), "byname");
    let mut state = archive.state().unwrap().unwrap();
    state.phase = decommissioner::archive::Phase::Stopping;
    state.stopped = vec!["prefect-agent".into()];
    state.removed.clear();
    archive.save_state(&state).unwrap();
    let resumed = apply::rollback(
        &config,
        &RollbackRequest {
            compose_files: vec![compose.clone()],
            project: "byname".into(),
            recreate: RecreateVia::Auto,
        },
        &target,
    )
    .await
    .unwrap();
    assert_eq!(resumed.already_present, vec![name.clone()]);
    assert!(resumed.recreated.is_empty());
    let again = engine.inspect(&name).await.unwrap().unwrap();
    assert_eq!(again.id, now.id);
    assert_eq!(again.state.and_then(|s| s.running), Some(true));
}
