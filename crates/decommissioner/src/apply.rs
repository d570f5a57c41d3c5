//! Apply (gate, archive, stop, remove, edit) and rollback (restore, recreate).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bollard::models::ContainerInspectResponse;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::archive::{
    Archive, ArchivedCompose, ArchivedContainer, Phase, STATE_SCHEMA, State, sha256_hex,
};
use crate::checklist::{Checklist, ChecklistRow};
use crate::compose::{CleanedReference, ComposeFile};
use crate::config::DecomConfig;
use crate::error::DecomError;
use crate::gate::{self, ExpectedRange, GateEvidence};
use crate::plan::{self, Plan, Target};

/// What to decommission and with which evidence.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// The compose files (the first one's folder anchors relative paths).
    pub compose_files: Vec<PathBuf>,
    /// Compose project name.
    pub project: String,
    /// Compose services to decommission (usually [`DecomConfig::service_names`]).
    pub services: Vec<String>,
    /// The validation report.
    pub report: PathBuf,
    /// The range the report must cover (overrides the configured one).
    pub expected_range: Option<ExpectedRange>,
    /// The time the gate measures the report's age against.
    pub now: OffsetDateTime,
}

/// How apply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyOutcome {
    /// This run decommissioned the services (or finished an interrupted run).
    Decommissioned,
    /// A previous run did it all; nothing was changed.
    AlreadyDecommissioned,
}

/// What apply did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplyReport {
    /// How it ended.
    pub outcome: ApplyOutcome,
    /// Compose project.
    pub project: String,
    /// The archive folder.
    pub archive_dir: PathBuf,
    /// Set in compose-only mode, with the reason.
    pub compose_only: Option<String>,
    /// The plan it executed (absent when already decommissioned).
    pub plan: Option<Plan>,
    /// The gate's evidence (absent when already decommissioned).
    pub gate: Option<GateEvidence>,
    /// References cut out of kept services.
    pub cleaned_references: Vec<CleanedReference>,
    /// Containers stopped and removed by this run.
    pub containers_removed: Vec<String>,
    /// The tracker's checklist.
    pub checklist: Checklist,
}

/// The archive root for `compose_files`: relative roots hang off the first file's folder.
pub fn archive_root(config: &DecomConfig, compose_files: &[PathBuf]) -> PathBuf {
    if config.archive_root.is_absolute() {
        return config.archive_root.clone();
    }
    let base = compose_files
        .first()
        .and_then(|f| f.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    base.join(&config.archive_root)
}

fn now_text() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Builds the checklist from a state.
pub fn checklist_of(config: &DecomConfig, state: &State, preserved: bool) -> Checklist {
    let rolled_back = state.phase == Phase::RolledBack;
    let rows = state
        .services
        .iter()
        .map(|s| {
            ChecklistRow::new(
                s,
                &config.display_name(s),
                state.removed.contains(s),
                state.compose_edited,
                preserved,
                rolled_back,
            )
        })
        .collect();
    Checklist::new(rows, state.compose_only)
}

/// The checklist before anything happened.
pub fn pending_checklist(
    config: &DecomConfig,
    services: &[String],
    compose_only: bool,
) -> Checklist {
    let rows = services
        .iter()
        .map(|s| ChecklistRow::new(s, &config.display_name(s), false, false, false, false))
        .collect();
    Checklist::new(rows, compose_only)
}

/// Copies files and folders under `from` into the archive at `to` (relative).
fn archive_path(archive: &Archive, from: &Path, to: &str) -> Result<(), DecomError> {
    if from.is_dir() {
        let entries = std::fs::read_dir(from).map_err(|e| DecomError::archive(from, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| DecomError::archive(from, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            archive_path(archive, &entry.path(), &format!("{to}/{name}"))?;
        }
        Ok(())
    } else {
        let bytes = std::fs::read(from).map_err(|e| DecomError::archive(from, e))?;
        archive.write(to, &bytes)
    }
}

/// Writes the archive for a fresh apply and returns the initial state.
async fn write_archive(
    config: &DecomConfig,
    archive: &Archive,
    plan: &Plan,
    files: &[ComposeFile],
    evidence: &GateEvidence,
    target: &Target,
) -> Result<State, DecomError> {
    let removed = plan.removed_names();
    let mut compose_files = Vec::new();
    for (n, file) in files.iter().enumerate() {
        let file_name = file
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "compose.yml".into());
        let archived_as = format!("compose/{n}-{file_name}");
        archive.write(&archived_as, file.text.as_bytes())?;
        let edit = file.remove_services(&removed)?;
        for (service, block) in &edit.removed_blocks {
            archive.write(&format!("services/{service}.{n}.yml"), block.as_bytes())?;
        }
        compose_files.push(ArchivedCompose {
            original_path: file.path.clone(),
            archived_as,
            original_sha256: sha256_hex(file.text.as_bytes()),
            edited_sha256: sha256_hex(edit.text.as_bytes()),
        });

        // Bind-mounted configuration inside the project folder.
        let project_dir = file
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let project_dir = project_dir.canonicalize().unwrap_or(project_dir);
        for service in files.iter().flat_map(|f| f.services.iter()) {
            if !removed.contains(&service.name) {
                continue;
            }
            for source in &service.bind_sources {
                let path = project_dir.join(source);
                let Ok(path) = path.canonicalize() else {
                    continue;
                };
                if let Ok(relative) = path.strip_prefix(&project_dir) {
                    let to = format!("config-files/{}", relative.to_string_lossy());
                    if !archive.dir.join(&to).exists() {
                        archive_path(archive, &path, &to)?;
                    }
                }
            }
        }
    }

    let mut containers = Vec::new();
    let mut images = serde_json::Map::new();
    if let Target::Docker(engine) = target {
        for service in &plan.services {
            for container in &service.containers {
                let Some(inspect) = engine.inspect(&container.id).await? else {
                    continue;
                };
                let inspect_file = format!("containers/{}.inspect.json", container.name);
                archive.write_json(&inspect_file, &inspect)?;
                images.insert(
                    container.name.clone(),
                    serde_json::Value::String(container.image_id.clone()),
                );
                containers.push(ArchivedContainer {
                    service: service.name.clone(),
                    name: container.name.clone(),
                    id: container.id.clone(),
                    image_id: container.image_id.clone(),
                    inspect_file,
                    compose_managed: container.compose_managed,
                    stop_timeout_secs: container
                        .stop_timeout_secs
                        .unwrap_or(i64::try_from(config.default_stop_timeout_secs).unwrap_or(10)),
                });
            }
        }
    }
    archive.write_json("images.json", &images)?;
    archive.write_json("plan.json", plan)?;
    archive.write_json("gate.json", evidence)?;
    archive.seal()?;
    let now = now_text();
    Ok(State {
        schema: STATE_SCHEMA.into(),
        project: plan.project.clone(),
        phase: Phase::Archived,
        services: plan.services.iter().map(|s| s.name.clone()).collect(),
        compose_only: plan.compose_only.is_some(),
        compose_files,
        containers,
        stopped: Vec::new(),
        removed: Vec::new(),
        compose_edited: false,
        volumes_removed: Vec::new(),
        archived_at: now.clone(),
        updated_at: now,
    })
}

/// Runs the decommission: gate, plan (refusing on blocking dependents), archive, stop,
/// remove, edit. Safe to run again: a finished run reports "already decommissioned" and an
/// interrupted one is finished.
pub async fn apply(
    config: &DecomConfig,
    request: &ApplyRequest,
    target: &Target,
) -> Result<ApplyReport, DecomError> {
    let archive = Archive::new(
        &archive_root(config, &request.compose_files),
        &request.project,
    );
    let mut state = archive.state()?;
    if let Some(done) = state.as_ref().filter(|s| s.phase == Phase::Done) {
        let preserved = archive.verify().is_ok();
        return Ok(ApplyReport {
            outcome: ApplyOutcome::AlreadyDecommissioned,
            project: request.project.clone(),
            archive_dir: archive.dir.clone(),
            compose_only: done
                .compose_only
                .then(|| "recorded by the earlier run".into()),
            plan: None,
            gate: None,
            cleaned_references: Vec::new(),
            containers_removed: Vec::new(),
            checklist: checklist_of(config, done, preserved),
        });
    }
    if state.as_ref().is_some_and(|s| s.phase == Phase::RolledBack) {
        // Keep the rolled-back archive beside the new one.
        let stamp = OffsetDateTime::now_utc().unix_timestamp();
        let aside = archive
            .dir
            .with_file_name(format!("{}.rolled-back-{stamp}", request.project));
        std::fs::rename(&archive.dir, &aside).map_err(|e| DecomError::archive(&archive.dir, e))?;
        state = None;
    }

    // 1. The gate, before anything else, every time.
    let evidence = gate::check(
        &request.report,
        &config.gate,
        request.expected_range.as_ref(),
        request.now,
    )?;

    let files: Vec<ComposeFile> = match &state {
        // Resuming: edit from the archived originals, whatever the files hold now.
        Some(s) => s
            .compose_files
            .iter()
            .map(|c| {
                let bytes = archive.read(&c.archived_as)?;
                let text =
                    String::from_utf8(bytes).map_err(|e| DecomError::archive(&archive.dir, e))?;
                Ok(ComposeFile::parse(&c.original_path, text)?)
            })
            .collect::<Result<_, DecomError>>()?,
        None => request
            .compose_files
            .iter()
            .map(|p| ComposeFile::load(p))
            .collect::<Result<_, _>>()?,
    };

    // 2. Plan and dependents, then the archive, before any change.
    let (plan, mut state) = match state {
        Some(state) => {
            let bytes = archive.read("plan.json")?;
            let plan: Plan = serde_json::from_slice(&bytes)
                .map_err(|e| DecomError::archive(archive.dir.join("plan.json"), e))?;
            archive.verify()?;
            (plan, state)
        }
        None => {
            let plan = plan::plan(
                config,
                &request.compose_files,
                &request.project,
                &request.services,
                target,
            )
            .await?;
            let blocking = plan.blocking_dependents();
            if !blocking.is_empty() {
                return Err(DecomError::Dependents(blocking));
            }
            // Every edit must be possible before the archive is even written.
            let removed = plan.removed_names();
            for file in &files {
                file.remove_services(&removed)?;
            }
            let state = write_archive(config, &archive, &plan, &files, &evidence, target).await?;
            archive.save_state(&state)?;
            (plan, state)
        }
    };

    // 3. and 4. Stop gracefully, in parallel with a bound, then remove.
    let mut containers_removed = Vec::new();
    if let Target::Docker(engine) = target {
        state.phase = Phase::Stopping;
        archive.save_state(&state)?;
        let pending: Vec<ArchivedContainer> = state
            .containers
            .iter()
            .filter(|c| !state.removed.contains(&c.service))
            .cloned()
            .collect();
        let results: Vec<Result<ArchivedContainer, DecomError>> = futures::stream::iter(pending)
            .map(|c| {
                let engine = engine.clone();
                async move {
                    engine.stop(&c.id, c.stop_timeout_secs).await?;
                    engine.remove(&c.id).await?;
                    Ok(c)
                }
            })
            .buffer_unordered(config.max_parallel_stops)
            .collect()
            .await;
        let mut first_error = None;
        for result in results {
            match result {
                Ok(c) => {
                    containers_removed.push(c.name.clone());
                    if !state.stopped.contains(&c.service) {
                        state.stopped.push(c.service.clone());
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        // A service counts as removed when none of its containers is left.
        let services: Vec<String> = state.services.clone();
        for service in services {
            let all_gone = state
                .containers
                .iter()
                .filter(|c| c.service == service)
                .all(|c| containers_removed.contains(&c.name) || state.removed.contains(&service));
            if all_gone && first_error.is_none() && !state.removed.contains(&service) {
                state.removed.push(service.clone());
                if !state.stopped.contains(&service) {
                    state.stopped.push(service);
                }
            }
        }
        state.updated_at = now_text();
        archive.save_state(&state)?;
        if let Some(e) = first_error {
            return Err(e);
        }
        state.phase = Phase::ContainersRemoved;
        archive.save_state(&state)?;
    }

    // 5. Edit the compose files from the archived originals.
    let removed = plan.removed_names();
    let mut cleaned_references = Vec::new();
    for (file, archived) in files.iter().zip(&state.compose_files) {
        let edit = file.remove_services(&removed)?;
        cleaned_references.extend(edit.cleaned.clone());
        let current = std::fs::read(&archived.original_path)
            .map_err(|e| DecomError::archive(&archived.original_path, e))?;
        let current_sha = sha256_hex(&current);
        if current_sha == archived.edited_sha256 {
            continue;
        }
        if current_sha != archived.original_sha256 {
            return Err(DecomError::ComposeDrift(archived.original_path.clone()));
        }
        write_atomically(&archived.original_path, edit.text.as_bytes())?;
    }
    state.compose_edited = true;

    // Optional: volumes nobody uses any more.
    if config.remove_unused_volumes
        && let Target::Docker(engine) = target
    {
        for volume in &plan.unused_volumes {
            let name = format!("{}_{volume}", request.project);
            if !state.volumes_removed.contains(&name) {
                engine.remove_volume(&name).await?;
                state.volumes_removed.push(name);
            }
        }
    }
    state.phase = Phase::Done;
    state.updated_at = now_text();
    archive.save_state(&state)?;
    let preserved = archive.verify().is_ok();
    Ok(ApplyReport {
        outcome: ApplyOutcome::Decommissioned,
        project: request.project.clone(),
        archive_dir: archive.dir.clone(),
        compose_only: plan.compose_only.clone(),
        checklist: checklist_of(config, &state, preserved),
        plan: Some(plan),
        gate: Some(evidence),
        cleaned_references,
        containers_removed,
    })
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DecomError> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".decommissioner-partial");
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, bytes).map_err(|e| DecomError::archive(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| DecomError::archive(path, e))
}

/// How rollback brings containers back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RecreateVia {
    /// Docker API, unless the compose tool created the containers (they carry its
    /// config-hash label): then print the compose command instead.
    #[default]
    Auto,
    /// Always through the Docker API, from the preserved inspect data.
    DockerApi,
    /// Never touch Docker; print the compose command.
    ComposeCommand,
}

/// What to roll back.
#[derive(Debug, Clone)]
pub struct RollbackRequest {
    /// The compose files (used to find the archive root).
    pub compose_files: Vec<PathBuf>,
    /// Compose project name.
    pub project: String,
    /// How containers come back.
    pub recreate: RecreateVia,
}

/// A container brought back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recreated {
    /// Compose service.
    pub service: String,
    /// Container name.
    pub name: String,
    /// New container id.
    pub id: String,
}

/// What rollback did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackReport {
    /// Compose project.
    pub project: String,
    /// The archive used.
    pub archive_dir: PathBuf,
    /// Compose files written back (files already identical are not listed).
    pub restored_files: Vec<PathBuf>,
    /// Containers recreated through the Docker API and seen running.
    pub recreated: Vec<Recreated>,
    /// Containers that were still there (started again if stopped).
    pub already_present: Vec<String>,
    /// The command to run when the compose tool owns the containers.
    pub compose_command: Option<String>,
    /// Volumes apply deleted, which rollback cannot bring back.
    pub volumes_lost: Vec<String>,
    /// The checklist after rollback.
    pub checklist: Checklist,
}

/// The exact compose command that recreates `services`.
pub fn compose_up_command(
    config: &DecomConfig,
    project: &str,
    compose_files: &[PathBuf],
    services: &[String],
) -> String {
    let mut command = format!("{} -p {project}", config.compose_command);
    for file in compose_files {
        command.push_str(&format!(" -f {}", file.display()));
    }
    command.push_str(" up -d");
    for service in services {
        command.push(' ');
        command.push_str(service);
    }
    command
}

/// Restores the compose files byte for byte and brings the containers back.
pub async fn rollback(
    config: &DecomConfig,
    request: &RollbackRequest,
    target: &Target,
) -> Result<RollbackReport, DecomError> {
    let archive = Archive::new(
        &archive_root(config, &request.compose_files),
        &request.project,
    );
    let Some(mut state) = archive.state()? else {
        return Err(DecomError::NothingToRollBack(archive.dir.clone()));
    };
    archive.verify()?;

    let mut restored_files = Vec::new();
    for compose in &state.compose_files {
        let original = archive.read(&compose.archived_as)?;
        let current = std::fs::read(&compose.original_path).unwrap_or_default();
        if current != original {
            write_atomically(&compose.original_path, &original)?;
            restored_files.push(compose.original_path.clone());
        }
    }
    state.compose_edited = false;
    archive.save_state(&state)?;

    let mut recreated = Vec::new();
    let mut already_present = Vec::new();
    let mut by_compose: Vec<String> = Vec::new();
    let mut to_recreate: Vec<(ArchivedContainer, ContainerInspectResponse)> = Vec::new();
    if let Target::Docker(engine) = target {
        for container in &state.containers {
            if let Some(existing) = engine.inspect(&container.name).await? {
                let running = existing.state.and_then(|s| s.running).unwrap_or(false);
                if !running {
                    engine
                        .client()
                        .start_container(&container.name, None)
                        .await
                        .map_err(|e| crate::docker::DockerError::Call {
                            action: "start container",
                            target: container.name.clone(),
                            message: e.to_string(),
                        })?;
                }
                already_present.push(container.name.clone());
                continue;
            }
            let use_compose = match request.recreate {
                RecreateVia::ComposeCommand => true,
                RecreateVia::DockerApi => false,
                RecreateVia::Auto => container.compose_managed,
            };
            if use_compose {
                if !by_compose.contains(&container.service) {
                    by_compose.push(container.service.clone());
                }
                continue;
            }
            let bytes = archive.read(&container.inspect_file)?;
            let preserved: ContainerInspectResponse = serde_json::from_slice(&bytes)
                .map_err(|e| DecomError::archive(archive.dir.join(&container.inspect_file), e))?;
            to_recreate.push((container.clone(), preserved));
        }
        // Recreate in parallel with the same bound as stopping; each waits to see its
        // container still running, so doing them one by one would add up.
        let results: Vec<Result<Recreated, DecomError>> = futures::stream::iter(to_recreate)
            .map(|(container, preserved)| {
                let engine = engine.clone();
                async move {
                    let id = engine.recreate(&preserved).await?;
                    Ok(Recreated {
                        service: container.service,
                        name: container.name,
                        id,
                    })
                }
            })
            .buffer_unordered(config.max_parallel_stops)
            .collect()
            .await;
        let mut first_error = None;
        for result in results {
            match result {
                Ok(r) => recreated.push(r),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        recreated.sort_by(|a, b| {
            let position = |r: &Recreated| state.services.iter().position(|s| *s == r.service);
            position(a).cmp(&position(b))
        });
        if let Some(e) = first_error {
            // The state still says which containers are missing; rollback can run again.
            return Err(e);
        }
    } else {
        by_compose = state.services.clone();
    }
    let compose_command = (!by_compose.is_empty()).then(|| {
        let files: Vec<PathBuf> = state
            .compose_files
            .iter()
            .map(|c| c.original_path.clone())
            .collect();
        compose_up_command(config, &state.project, &files, &by_compose)
    });

    let done: BTreeSet<&String> = recreated.iter().map(|r| &r.service).collect();
    state
        .stopped
        .retain(|s| !done.contains(s) && by_compose.contains(s));
    state
        .removed
        .retain(|s| !done.contains(s) && by_compose.contains(s));
    state.phase = Phase::RolledBack;
    state.updated_at = now_text();
    let volumes_lost = state.volumes_removed.clone();
    archive.save_state(&state)?;
    Ok(RollbackReport {
        project: state.project.clone(),
        archive_dir: archive.dir.clone(),
        restored_files,
        recreated,
        already_present,
        compose_command,
        volumes_lost,
        checklist: checklist_of(config, &state, true),
    })
}
