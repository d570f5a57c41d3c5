//! The `decommissioner` command-line tool: a thin shell over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use decommissioner::apply::{self, ApplyRequest, RecreateVia, RollbackRequest};
use decommissioner::config::DecomConfig;
use decommissioner::docker::Engine;
use decommissioner::gate::ExpectedRange;
use decommissioner::plan::{self, Plan, Target};

/// Takes the legacy Spark and Prefect services out of a Docker Compose deployment safely.
///
/// `plan` (a dry run, changes nothing) shows the containers, their limits, the kept services
/// that depend on the ones to remove, and the volumes and networks left unused. `apply`
/// refuses without a current PASS validation report (there is no override), archives
/// everything, stops and removes the containers and cuts the services out of the compose
/// file byte for byte. `rollback` restores the file and the containers from the archive.
#[derive(Parser, Debug)]
#[command(name = "decommissioner", version)]
struct Cli {
    /// TOML configuration file. Defaults are the bundled `config/legacy-services.toml`
    /// (the ten legacy services); environment variables `DECOM__KEY` override both,
    /// e.g. `DECOM__GATE__MAX_REPORT_AGE_SECS=3600`.
    #[arg(long, global = true, env = "DECOM_CONFIG")]
    config: Option<PathBuf>,

    /// Print the result as JSON (for scripts and `cargo xtask`) instead of text.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Deployment {
    /// Compose file of the deployment; repeat for override files, in compose's order.
    #[arg(long = "compose", short = 'f', required = true)]
    compose: Vec<PathBuf>,

    /// Compose project name (the `com.docker.compose.project` label of the containers).
    #[arg(long, short = 'p')]
    project: String,

    /// Decommission these services instead of the configured list (comma-separated).
    #[arg(long, value_delimiter = ',')]
    services: Option<Vec<String>>,

    /// Decommission these services too, e.g. a dependent the plan reported
    /// (comma-separated).
    #[arg(long, value_delimiter = ',')]
    also: Vec<String>,

    /// Work on the compose file(s) alone, without a Docker engine (e.g. a demo machine):
    /// nothing is stopped, and every report says so.
    #[arg(long)]
    compose_only: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Dry run: report containers, limits, dependents and unused volumes; change nothing.
    /// Exits with status 2 when a kept service depends on one to remove.
    Plan(Deployment),
    /// Gate, archive, stop, remove, edit the compose file. Running it again after success
    /// changes nothing; after a failure it finishes the job.
    Apply {
        #[command(flatten)]
        target: Deployment,
        /// The `ohlcv-validation-report/v1` JSON written by `ohlcv-validator`. It must say
        /// PASS and be younger than `gate.max_report_age_secs`.
        #[arg(long)]
        report: PathBuf,
        /// The data range the report must cover, `START..END` in RFC 3339 (overrides
        /// `gate.expected_range_start/end`).
        #[arg(long)]
        expect_range: Option<String>,
    },
    /// Restore the compose file(s) byte for byte and bring the services back.
    Rollback {
        #[command(flatten)]
        target: Deployment,
        /// How containers come back: `auto` uses the Docker API unless the compose tool
        /// created them (then it prints the exact `docker compose ... up -d` command),
        /// `docker-api` always recreates them from the archived inspect data,
        /// `compose-command` only prints the command.
        #[arg(long, value_enum, default_value = "auto")]
        recreate: Recreate,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Recreate {
    Auto,
    DockerApi,
    ComposeCommand,
}

impl From<Recreate> for RecreateVia {
    fn from(r: Recreate) -> Self {
        match r {
            Recreate::Auto => Self::Auto,
            Recreate::DockerApi => Self::DockerApi,
            Recreate::ComposeCommand => Self::ComposeCommand,
        }
    }
}

async fn connect(target: &Deployment) -> anyhow::Result<Target> {
    if target.compose_only {
        return Ok(Target::ComposeOnly {
            reason: "--compose-only was given".into(),
        });
    }
    Ok(Target::Docker(Engine::connect().await?))
}

fn services(config: &DecomConfig, target: &Deployment) -> Vec<String> {
    match &target.services {
        Some(list) => {
            let mut names = list.clone();
            names.extend(target.also.iter().filter(|a| !list.contains(a)).cloned());
            names
        }
        None => config.service_names(&target.also),
    }
}

fn print_plan(plan: &Plan) {
    println!(
        "Plan for project `{}` ({} compose file(s))",
        plan.project,
        plan.compose_files.len()
    );
    if let Some(reason) = &plan.compose_only {
        println!("  COMPOSE-ONLY MODE: {reason}; containers are neither inspected nor stopped");
    }
    for service in &plan.services {
        println!(
            "  - {} ({}): declared cpus={} memory={}",
            service.name,
            service.display,
            service.declared_cpus.as_deref().unwrap_or("-"),
            service.declared_memory.as_deref().unwrap_or("-"),
        );
        for c in &service.containers {
            println!(
                "      container {} [{}] state={} cpus={} memory={} stop_timeout={}s found_by={:?}",
                c.name,
                &c.id.get(..12).unwrap_or(&c.id),
                c.state,
                if c.nano_cpus == 0 {
                    "unlimited".into()
                } else {
                    format!("{}", c.nano_cpus as f64 / 1e9)
                },
                if c.memory_bytes == 0 {
                    "unlimited".into()
                } else {
                    format!("{}", c.memory_bytes)
                },
                c.stop_timeout_secs
                    .map_or("default".into(), |t| t.to_string()),
                c.found_by,
            );
        }
    }
    println!(
        "  declared: {:.2} CPUs, {:.2} GiB; actual limits: {:.2} CPUs, {:.2} GiB",
        plan.resources.declared_cpus,
        plan.resources.declared_memory_bytes as f64 / f64::from(1u32 << 30),
        plan.resources.actual_cpus,
        plan.resources.actual_memory_bytes as f64 / f64::from(1u32 << 30),
    );
    for d in &plan.dependents {
        let level = if d.blocking {
            "ERROR"
        } else {
            "note (cut on apply)"
        };
        println!(
            "  {level}: kept service `{}` {} `{}`",
            d.service, d.via, d.on
        );
    }
    let kept: Vec<&str> = plan
        .kept_containers
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    println!("  kept containers ({}): {}", kept.len(), kept.join(", "));
    println!("  volumes left unused: {}", plan.unused_volumes.join(", "));
    println!(
        "  networks left unused: {}",
        plan.unused_networks.join(", ")
    );
    for w in &plan.warnings {
        println!("  warning: {w}");
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config: DecomConfig = layered_config::load(cli.config.as_deref(), "DECOM")?;
    match cli.command {
        Command::Plan(target) => {
            let docker = connect(&target).await?;
            let names = services(&config, &target);
            let plan =
                plan::plan(&config, &target.compose, &target.project, &names, &docker).await?;
            let checklist = apply::pending_checklist(&config, &names, plan.compose_only.is_some());
            if cli.json {
                let out = serde_json::json!({"plan": plan, "checklist": checklist});
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_plan(&plan);
                println!("\n{}", checklist.to_markdown());
            }
            Ok(if plan.blocking_dependents().is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::Apply {
            target,
            report,
            expect_range,
        } => {
            let expected_range = expect_range
                .map(|r| {
                    r.split_once("..")
                        .map(|(start, end)| ExpectedRange {
                            start: start.to_owned(),
                            end: end.to_owned(),
                        })
                        .context("--expect-range must be START..END")
                })
                .transpose()?;
            let docker = connect(&target).await?;
            let request = ApplyRequest {
                services: services(&config, &target),
                compose_files: target.compose,
                project: target.project,
                report,
                expected_range,
                now: time::OffsetDateTime::now_utc(),
            };
            let result = apply::apply(&config, &request, &docker).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                match result.outcome {
                    apply::ApplyOutcome::AlreadyDecommissioned => {
                        println!("already decommissioned: nothing changed")
                    }
                    apply::ApplyOutcome::Decommissioned => {
                        if let Some(reason) = &result.compose_only {
                            println!("COMPOSE-ONLY MODE: {reason}; no container was stopped");
                        }
                        println!(
                            "removed containers: {}",
                            result.containers_removed.join(", ")
                        );
                        for c in &result.cleaned_references {
                            println!("cut `{}` from `{}`.{}", c.target, c.service, c.key);
                        }
                    }
                }
                println!("archive: {}", result.archive_dir.display());
                println!("\n{}", result.checklist.to_markdown());
                println!(
                    "services eliminated: {}",
                    result.checklist.services_eliminated
                );
                for note in &result.checklist.notes {
                    println!("note: {note}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rollback { target, recreate } => {
            let docker = connect(&target).await?;
            let request = RollbackRequest {
                compose_files: target.compose,
                project: target.project,
                recreate: recreate.into(),
            };
            let result = apply::rollback(&config, &request, &docker).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                for f in &result.restored_files {
                    println!("restored {}", f.display());
                }
                for r in &result.recreated {
                    println!("recreated {} ({}) and it runs", r.name, r.service);
                }
                if let Some(command) = &result.compose_command {
                    println!(
                        "the compose tool owns these containers; bring them back with:\n  {command}"
                    );
                }
                for v in &result.volumes_lost {
                    println!("warning: volume {v} was deleted by apply and cannot be restored");
                }
                println!("\n{}", result.checklist.to_markdown());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("decommissioner: {e:#}");
            ExitCode::FAILURE
        }
    }
}
