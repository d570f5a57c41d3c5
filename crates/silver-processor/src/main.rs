//! The `silver-processor` binary: a thin shell over the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use silver_processor::config::{ENV_PREFIX, LogSettings, Settings};

/// Raw exchange trades from Kafka into ClickHouse `silver_trades`, exactly once.
///
/// Settings come from built-in defaults, then the TOML file given with `--config`, then
/// environment variables `SILVER__SECTION__KEY` (e.g. `SILVER__KAFKA__BROKERS`,
/// `SILVER__CLICKHOUSE__URL`, `SILVER__BATCH__MAX_ROWS`). Sections and keys:
///
///   kafka.brokers, kafka.group_id, kafka.topics (list), kafka.topic_regex,
///   kafka.consumer_per_topic,
///   kafka.dlq_topic, kafka.session_timeout_ms, kafka.max_poll_interval_ms,
///   kafka.queued_max_messages_kbytes, kafka.fetch_max_bytes, kafka.isolation_level,
///   kafka.auto_offset_reset, kafka.dlq_compression (lz4|zstd|none);
///   clickhouse.url, clickhouse.database, clickhouse.user, clickhouse.password,
///   clickhouse.compression;
///   batch.max_rows, batch.max_bytes, batch.max_age_ms, batch.max_in_flight_bytes;
///   retry.initial_backoff_ms, retry.max_backoff_ms;
///   schema.apply_on_start, schema.ttl_days, schema.dedup_window;
///   http.listen; log.format (text|json), log.filter.
///
/// `print-config` shows every key with its effective value.
#[derive(Debug, Parser)]
#[command(
    name = "silver-processor",
    version,
    about,
    long_about,
    verbatim_doc_comment
)]
struct Cli {
    /// TOML settings file (optional; environment variables override it).
    #[arg(long, short = 'c', env = "SILVER_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Consume, normalize and insert until SIGTERM/SIGINT, then flush, commit and exit 0
    /// (the default). Exits 3 when that takes longer than 30 s (e.g. the broker is down);
    /// the uncommitted range is then replayed, exactly once, on the next start.
    Run,
    /// Apply the silver migrations (`sql/silver`, embedded) and exit.
    Migrate,
    /// Print the effective settings as TOML (passwords included: mind where it goes).
    PrintConfig,
    /// GET the readiness endpoint and exit 0 when it answers 2xx (for container health
    /// checks; scratch images have no curl).
    Healthcheck {
        /// URL to probe.
        #[arg(long, default_value = "http://127.0.0.1:8080/readyz")]
        url: String,
        /// Give up after this many milliseconds.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
    },
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("silver-processor: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if let Some(Command::Healthcheck { url, timeout_ms }) = &cli.command {
        return runtime
            .block_on(silver_processor::http::probe(
                url,
                Duration::from_millis(*timeout_ms),
            ))
            .map_err(Into::into);
    }
    let settings: Settings = layered_config::load(cli.config.as_deref(), ENV_PREFIX)?;
    match cli.command.unwrap_or(Command::Run) {
        Command::PrintConfig => {
            print!("{}", toml::to_string_pretty(&settings)?);
            Ok(())
        }
        Command::Migrate => {
            init_logging(&settings.log)?;
            let client = ch_support::client(&settings.clickhouse);
            let outcomes = runtime.block_on(silver_processor::schema::apply(
                &client,
                &settings.clickhouse.database,
                &settings.schema,
            ))?;
            for outcome in outcomes {
                println!("{outcome:?}");
            }
            Ok(())
        }
        Command::Run => {
            init_logging(&settings.log)?;
            let summary = runtime.block_on(silver_processor::processor::run(
                settings,
                shutdown_signal(),
            ))?;
            tracing::info!(?summary, "exiting");
            Ok(())
        }
        Command::Healthcheck { .. } => Ok(()),
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested: flushing and committing");
    // librdkafka's consumer and producer teardown can block indefinitely while the broker
    // is unreachable, which would leave a stopped processor holding its port. Leaving
    // early is safe: an uncommitted range is replayed with the same deduplication token.
    std::thread::spawn(|| {
        std::thread::sleep(SHUTDOWN_GRACE);
        eprintln!(
            "silver-processor: shutdown did not finish within {} s (broker or ClickHouse \
             unreachable?); exiting, uncommitted offsets will be replayed",
            SHUTDOWN_GRACE.as_secs()
        );
        std::process::exit(3);
    });
}

/// glibc gives each thread that meets contention its own malloc arena, up to 8 per core;
/// with librdkafka's threads (about 4 per client, 4 clients) that took peak RSS under
/// load to ~71 MiB against the < 64 MB target. Two arenas: ~57 MiB at the same CPU cost
/// (`cargo xtask bench silver`; mimalloc measured ~97 MiB). Called before any thread
/// exists; `MALLOC_ARENA_MAX` in the environment still wins, as glibc reads it first.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    const ARENAS: libc::c_int = 2;
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator tunable and takes no pointers; no other
        // thread exists yet to race with it.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

/// How long flushing, committing and tearing down may take after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

fn init_logging(log: &LogSettings) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.filter)
        .with_context(|| format!("config key `log.filter`: `{}`", log.filter))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}
