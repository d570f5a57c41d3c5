//! The `ohlcv-validator` command-line tool: a thin shell over the library.
//!
//! Exit codes: 0 = PASS, 2 = FAIL (the comparison ran and found mismatches), 1 = error
//! (bad configuration, unreachable ClickHouse, missing table, ...).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use ohlcv_validator::ValidatorConfig;

/// Compare legacy (v1) OHLCV candles with the gold (v2) views inside ClickHouse, attribute
/// every mismatch against the silver trades, and print the tracker's validation table.
///
/// Settings come from built-in defaults, then the TOML file given with --config, then
/// environment variables VALIDATOR__SECTION__KEY (e.g. VALIDATOR__CLICKHOUSE__URL,
/// VALIDATOR__TOLERANCE__OHLC_ABS, VALIDATOR__TIMEFRAMES='["1m","1h"]').
///
/// Exit status: 0 when every timeframe passes, 2 when any fails, 1 on errors.
#[derive(Debug, Parser)]
#[command(name = "ohlcv-validator", version)]
struct Cli {
    /// TOML configuration file (keys as in ValidatorConfig: clickhouse, timeframes, v1, v2,
    /// silver, mapping, tolerance, range, report, work_database).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write the JSON report (schema ohlcv-validation-report/v1) to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the self-contained HTML report to this file.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Write the markdown table to this file as well as printing it.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Print the effective configuration as TOML-equivalent JSON and exit.
    #[arg(long)]
    print_config: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("ohlcv-validator: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run() -> anyhow::Result<bool> {
    let cli = Cli::parse();
    let config: ValidatorConfig = layered_config::load(cli.config.as_deref(), "VALIDATOR")?;
    if cli.print_config {
        println!("{}", serde_json::to_string_pretty(&config)?);
        return Ok(true);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let client = ch_support::client(&config.clickhouse);
    let report = runtime.block_on(ohlcv_validator::validate(&client, &config))?;
    let table = report.markdown_table();
    print!("{table}");
    println!(
        "\nverdict: {:?}  fingerprint: {}",
        report.verdict, report.fingerprint
    );
    if let Some(path) = &cli.markdown {
        std::fs::write(path, &table).with_context(|| format!("write {}", path.display()))?;
    }
    if let Some(path) = &cli.json {
        std::fs::write(path, report.to_json())
            .with_context(|| format!("write {}", path.display()))?;
    }
    if let Some(path) = &cli.html {
        std::fs::write(path, report.to_html_with_charts(config.report.html_charts))
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(report.passed())
}
