//! The `gold-views` command-line tool: a thin shell over the library.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use ch_support::ClickHouseConfig;
use clap::{Parser, Subcommand};
use gold_views::{ApplyOptions, GoldConfig, check, ddl, output};
use serde::{Deserialize, Serialize};

/// Generates, checks and applies the gold OHLCV tables and views.
///
/// Configuration comes from defaults, then the TOML file given with --config, then
/// environment variables GOLD_VIEWS__SECTION__KEY (e.g. GOLD_VIEWS__CLICKHOUSE__URL,
/// GOLD_VIEWS__GOLD__PREFIX, GOLD_VIEWS__GOLD__TIMEFRAMES='["1m","1h"]').
#[derive(Debug, Parser)]
#[command(name = "gold-views", version)]
struct Cli {
    /// TOML file with `[clickhouse]` (url, database, user, password, compression) and
    /// `[gold]` (database, prefix, source_table, timeframes, storage, deduplication_window,
    /// backfill_chunk_seconds, cluster, rollup) sections.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Rollup mode (same as `gold.rollup = true`): build every timeframe except the
    /// smallest from the smallest one's states with -MergeState instead of from the trades.
    #[arg(long, global = true)]
    rollup: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the generated DDL as numbered .sql files into a directory (single-server DDL
    /// in the directory, cluster DDL in its `cluster/` subdirectory), removing stale files.
    Generate {
        /// Output directory, normally `sql/gold`.
        #[arg(long)]
        out: PathBuf,
    },
    /// Fail unless the files in a directory are exactly what `generate` would write now.
    Verify {
        /// Directory to compare, normally `sql/gold`.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Parse the generated DDL with sqlparser's ClickHouse dialect.
    Check {
        /// Check the cluster-mode DDL instead.
        #[arg(long)]
        cluster: bool,
    },
    /// Print the generated DDL to standard output.
    Print {
        /// Print the cluster-mode DDL instead (not runnable on the local engine).
        #[arg(long)]
        cluster: bool,
    },
    /// Create every missing gold object (existing ones are never altered).
    Apply {
        /// Also count the silver rows that predate the live path, in time chunks, with
        /// progress output; resumes an interrupted backfill.
        #[arg(long)]
        backfill: bool,
        /// Seconds to wait for inserts that started before a backfill cut-off to finish.
        #[arg(long, default_value_t = 120)]
        insert_wait_secs: u64,
    },
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    clickhouse: ClickHouseConfig,
    gold: GoldConfig,
}

impl layered_config::Validate for Settings {
    fn validate(&self) -> Result<(), layered_config::ConfigError> {
        layered_config::Validate::validate(&self.gold).map_err(|e| match e {
            layered_config::ConfigError::Invalid { key, message } => {
                layered_config::ConfigError::Invalid {
                    key: format!("gold.{key}"),
                    message,
                }
            }
            other => other,
        })
    }
}

fn with_cluster(mut gold: GoldConfig, cluster: bool) -> GoldConfig {
    if cluster && gold.cluster.is_none() {
        gold.cluster = Some(gold_views::ClusterConfig::default());
    }
    gold
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings: Settings = layered_config::load(cli.config.as_deref(), "GOLD_VIEWS")?;
    if cli.rollup {
        settings.gold.rollup = true;
        layered_config::Validate::validate(&settings)?;
    }
    match cli.command {
        Command::Generate { out } => {
            for path in output::write(&out, &settings.gold)? {
                println!("wrote {}", path.display());
            }
        }
        Command::Verify { dir } => {
            let different = output::differences(&dir, &settings.gold)?;
            if !different.is_empty() {
                let names: Vec<String> =
                    different.iter().map(|p| p.display().to_string()).collect();
                bail!(
                    "{} differs from the generator for: {}; regenerate with `{}`",
                    dir.display(),
                    names.join(", "),
                    output::REGENERATE
                );
            }
            println!("{} is current", dir.display());
        }
        Command::Check { cluster } => {
            let statements = ddl::generate(&with_cluster(settings.gold, cluster));
            check::check_all(&statements)?;
            println!("{} statement(s) passed sqlparser", statements.len());
        }
        Command::Print { cluster } => {
            for statement in ddl::generate(&with_cluster(settings.gold, cluster)) {
                println!("{};\n", statement.sql);
            }
        }
        Command::Apply {
            backfill,
            insert_wait_secs,
        } => {
            let client = ch_support::client(&settings.clickhouse);
            let options = ApplyOptions {
                backfill,
                insert_wait: Duration::from_secs(insert_wait_secs),
            };
            let report = gold_views::apply_with(&client, &settings.gold, &options, |event| {
                eprintln!("{event}");
            })
            .await
            .with_context(|| format!("applying gold DDL at {}", settings.clickhouse.url))?;
            println!(
                "created {}, unchanged {}, backfill: {:?}",
                report.created.len(),
                report.unchanged.len(),
                report.backfill
            );
        }
    }
    Ok(())
}
