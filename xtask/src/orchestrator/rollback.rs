//! `cargo xtask rollback --to M1|M2`: undoes the decommission (the decommissioner restores
//! the compose file byte for byte and brings the containers back), optionally drops the
//! gold and silver objects, resets the affected steps and records what it did in the
//! decisions log.

use anyhow::Context;
use ch_support::quote;

use super::RollbackArgs;
use super::actions::Environment;
use super::runner::{self, RunLock};
use super::state::{Journal, StepStatus};
use super::steps::{Milestone, Step};

/// Runs the rollback.
pub fn run(args: RollbackArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.to != Milestone::M3,
        "rollback goes back to M1 or M2; M3 is where migrate goes"
    );
    anyhow::ensure!(
        args.to == Milestone::M1 || !(args.drop_gold || args.drop_silver),
        "--drop-gold and --drop-silver go with --to M1 (M2 keeps the gold layer)"
    );
    let config = args.common.load()?;
    let env = Environment::from_config(&config);
    let _lock = RunLock::acquire(&config.state_path())?;
    let mut journal = Journal::open(&config.state_path())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut done = Vec::new();

    done.push(undo_decommission(&env, &runtime)?);
    let mut reset = vec![Step::Decommission, Step::ResourceCheckpoint];

    let drop_gold = args.drop_gold || args.drop_silver;
    if args.to == Milestone::M1 {
        reset.extend([Step::CreateGoldViews, Step::ValidateOhlcv]);
        if drop_gold {
            done.push(drop_gold_objects(&env, &runtime)?);
        }
        if args.drop_silver {
            done.push(stop_processor(&env)?);
            done.push(drop_silver_objects(&env, &runtime)?);
            reset.extend([
                Step::CreateSilverTable,
                Step::ImplementProcessor,
                Step::DeployProcessor,
            ]);
        }
    }

    let summary = done.join("; ");
    let to = args.to;
    journal.update(|s| {
        for step in &reset {
            let record = s.step_mut(*step);
            record.status = StepStatus::NotStarted;
            record.started_at = None;
            record.completed_at = None;
            record.notes = vec![format!("rolled back to {to}")];
        }
        s.decommission.clear();
        s.resources = None;
        if reset.contains(&Step::ValidateOhlcv) {
            s.validation = None;
        }
        s.decide_again(
            format!("Rolled back to {to}: {summary}"),
            "`cargo xtask rollback` was run; the legacy services are the live path again",
        );
        s.log(None, format!("rollback to {to}: {summary}"));
    })?;
    let text = super::tracker::render(journal.state(), &runner::tracker_options(&config));
    runner::write_tracker(&config, &text)?;
    println!("rollback to {to}: {summary}");
    Ok(())
}

fn undo_decommission(
    env: &Environment,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<String> {
    use decommissioner::apply::{RecreateVia, RollbackRequest, rollback};
    use decommissioner::config::DecomConfig;
    use decommissioner::docker::Engine;
    use decommissioner::error::DecomError;
    use decommissioner::plan::Target;

    let config = DecomConfig::bundled()?;
    let target = match runtime.block_on(Engine::connect()) {
        Ok(engine) => Target::Docker(engine),
        Err(e) => Target::ComposeOnly {
            reason: format!("no Docker daemon reachable ({e})"),
        },
    };
    let request = RollbackRequest {
        compose_files: vec![env.config.compose_path()],
        project: env.config.legacy.compose_project.clone(),
        recreate: RecreateVia::Auto,
    };
    match runtime.block_on(rollback(&config, &request, &target)) {
        Ok(report) => {
            let mut text = format!(
                "decommission undone: {} compose file(s) restored, {} containers recreated, {} still present",
                report.restored_files.len(),
                report.recreated.len(),
                report.already_present.len()
            );
            if let Some(command) = &report.compose_command {
                text.push_str(&format!("; run `{command}` to bring the containers back"));
            }
            if !report.volumes_lost.is_empty() {
                text.push_str(&format!(
                    "; volumes lost: {}",
                    report.volumes_lost.join(", ")
                ));
            }
            Ok(text)
        }
        Err(DecomError::NothingToRollBack(dir)) => Ok(format!(
            "nothing to undo in the compose deployment (no archive at {})",
            dir.display()
        )),
        Err(e) => Err(e).context("undoing the decommission"),
    }
}

fn drop_gold_objects(
    env: &Environment,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<String> {
    let gold = env.gold_config();
    let client = ch_support::client(&env.config.clickhouse);
    let statements = gold_views::generate(&gold);
    // Readers and writers first: views and materialized views before the tables they use.
    let mut dropped = 0;
    for statement in statements.iter().rev() {
        let keyword = match statement.kind {
            gold_views::ddl::ObjectKind::Table => "TABLE",
            gold_views::ddl::ObjectKind::MaterializedView | gold_views::ddl::ObjectKind::View => {
                "VIEW"
            }
        };
        let name = quote::qualified(&gold.database, &statement.name);
        runtime
            .block_on(
                client
                    .query(&format!("DROP {keyword} IF EXISTS {name}"))
                    .execute(),
            )
            .with_context(|| format!("dropping {name}"))?;
        dropped += 1;
    }
    Ok(format!("{dropped} gold objects dropped"))
}

fn stop_processor(env: &Environment) -> anyhow::Result<String> {
    Ok(match env.stop_processor()? {
        Some(pid) => format!("processor (pid {pid}) stopped"),
        None => "no processor running".to_owned(),
    })
}

fn drop_silver_objects(
    env: &Environment,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<String> {
    let database = &env.config.clickhouse.database;
    let client = ch_support::client(&env.config.clickhouse);
    for table in ["silver_trades", "silver_ingest_state"] {
        let name = quote::qualified(database, table);
        runtime
            .block_on(
                client
                    .query(&format!("DROP TABLE IF EXISTS {name}"))
                    .execute(),
            )
            .with_context(|| format!("dropping {name}"))?;
    }
    let migrations = quote::qualified(database, ch_support::migrations::MIGRATIONS_TABLE);
    let label = format!("{}/", silver_processor::schema::LABEL);
    runtime
        .block_on(
            client
                .query(&format!(
                    "ALTER TABLE {migrations} DELETE WHERE startsWith(name, {}) SETTINGS mutations_sync = 2",
                    quote::string_literal(&label)
                ))
                .execute(),
        )
        .context("forgetting the silver migrations")?;
    Ok("silver_trades and silver_ingest_state dropped, their migrations forgotten".to_owned())
}
