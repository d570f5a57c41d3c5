//! Step 7, the resource checkpoint: what the compose files declare before and after, what
//! running containers really use, what the processor itself uses under load, and how many
//! services went away, each judged against its target.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use yaml_edit::{YamlFile, YamlValue};

use super::config::{PlanClaims, Targets};
use super::state::ResourceRow;
use super::tracker::{target_labels, trim_float};

/// CPU in thousandths of a core, so sums stay exact (`0.25` is `250`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct MilliCpu(pub u64);

impl MilliCpu {
    /// Cores as a float, for display and comparisons with targets.
    pub fn cores(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

/// Memory in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Bytes(pub u64);

impl Bytes {
    /// GiB as a float.
    pub fn gib(self) -> f64 {
        self.0 as f64 / (1024.0 * 1024.0 * 1024.0)
    }

    /// MiB as a float.
    pub fn mib(self) -> f64 {
        self.0 as f64 / (1024.0 * 1024.0)
    }
}

/// Expands compose variables as `docker compose` does: `${VAR}`, `${VAR:-default}` (default
/// when unset or empty) and `${VAR-default}` (default when unset), from `lookup`.
pub fn interpolate(text: &str, lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .with_context(|| format!("`{text}`: unclosed `${{`"))?;
        let expression = &after[..end];
        let value = if let Some((name, default)) = expression.split_once(":-") {
            lookup(name)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        } else if let Some((name, default)) = expression.split_once('-') {
            lookup(name).unwrap_or_else(|| default.to_owned())
        } else {
            lookup(expression).unwrap_or_default()
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn from_environment(text: &str) -> anyhow::Result<String> {
    interpolate(text, |name| std::env::var(name).ok())
}

/// Parses a compose `cpus` value (`2`, `0.5`, `"1.25"`) into thousandths of a core.
pub fn parse_cpus(text: &str) -> anyhow::Result<MilliCpu> {
    let text = text.trim().trim_matches(|c| c == '"' || c == '\'');
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    anyhow::ensure!(
        !text.is_empty()
            && whole.chars().all(|c| c.is_ascii_digit())
            && fraction.chars().all(|c| c.is_ascii_digit())
            && fraction.len() <= 3,
        "`{text}` is not a CPU count with at most three decimals"
    );
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse()? };
    let mut milli = 0u64;
    for (i, digit) in fraction.chars().enumerate() {
        milli += u64::from(digit.to_digit(10).unwrap_or(0)) * 10u64.pow(2 - i as u32);
    }
    Ok(MilliCpu(whole * 1000 + milli))
}

/// Parses a compose memory value (`512M`, `2G`, `2GB`, `1.5g`, `256m`, `1024`, `64KiB`)
/// into bytes. Units are binary, as Docker reads them.
pub fn parse_memory(text: &str) -> anyhow::Result<Bytes> {
    let text = text.trim().trim_matches(|c| c == '"' || c == '\'');
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => anyhow::bail!("`{text}`: unknown memory unit `{other}`"),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    anyhow::ensure!(
        !number.is_empty() && !whole.is_empty() || !fraction.is_empty(),
        "`{text}` has no number"
    );
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse()? };
    let mut bytes = whole
        .checked_mul(multiplier)
        .with_context(|| format!("`{text}` is too large"))?;
    if !fraction.is_empty() {
        anyhow::ensure!(fraction.len() <= 9, "`{text}`: too many decimals");
        let digits: u128 = fraction.parse()?;
        let part = u128::from(multiplier) * digits / 10u128.pow(fraction.len() as u32);
        bytes += u64::try_from(part)?;
    }
    Ok(Bytes(bytes))
}

/// One service's declared limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceLimits {
    /// The compose service name.
    pub name: String,
    /// `deploy.resources.limits.cpus`, if declared.
    pub cpus: Option<MilliCpu>,
    /// `deploy.resources.limits.memory`, if declared.
    pub memory: Option<Bytes>,
}

/// The services of one or more compose files and their declared limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Declared {
    /// Every service, by name (a later file overrides an earlier one, as compose does).
    pub services: BTreeMap<String, ServiceLimits>,
}

impl Declared {
    /// Reads compose files (YAML, anchors and merge keys resolved).
    pub fn from_files(paths: &[&Path]) -> anyhow::Result<Self> {
        let mut declared = Declared::default();
        for path in paths {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading compose file {}", path.display()))?;
            let one = Self::from_text(&text)
                .with_context(|| format!("compose file {}", path.display()))?;
            declared.services.extend(one.services);
        }
        Ok(declared)
    }

    /// Reads one compose file's text.
    pub fn from_text(text: &str) -> anyhow::Result<Self> {
        let file = YamlFile::from_str(text).map_err(|e| anyhow::anyhow!("not YAML: {e}"))?;
        let document = file.document().context("no YAML document")?;
        let value = YamlValue::from_document(&document)
            .map_err(|e| anyhow::anyhow!("cannot resolve the YAML: {e:?}"))?;
        let services = value
            .as_mapping()
            .and_then(|top| top.get("services"))
            .and_then(YamlValue::as_mapping)
            .context("no `services` mapping")?;
        let mut declared = Declared::default();
        for (name, service) in services {
            let limits = service
                .as_mapping()
                .and_then(|s| s.get("deploy"))
                .and_then(YamlValue::as_mapping)
                .and_then(|d| d.get("resources"))
                .and_then(YamlValue::as_mapping)
                .and_then(|r| r.get("limits"))
                .and_then(YamlValue::as_mapping);
            let field = |key: &str| limits.and_then(|l| l.get(key)).and_then(YamlValue::as_str);
            let cpus = field("cpus")
                .map(|v| from_environment(v).and_then(|v| parse_cpus(&v)))
                .transpose()
                .with_context(|| format!("services.{name}.deploy.resources.limits.cpus"))?;
            let memory = field("memory")
                .map(|v| from_environment(v).and_then(|v| parse_memory(&v)))
                .transpose()
                .with_context(|| format!("services.{name}.deploy.resources.limits.memory"))?;
            declared.services.insert(
                name.clone(),
                ServiceLimits {
                    name: name.clone(),
                    cpus,
                    memory,
                },
            );
        }
        Ok(declared)
    }

    /// The sum of declared CPU limits.
    pub fn total_cpu(&self) -> MilliCpu {
        MilliCpu(
            self.services
                .values()
                .filter_map(|s| s.cpus)
                .map(|c| c.0)
                .sum(),
        )
    }

    /// The sum of declared memory limits.
    pub fn total_memory(&self) -> Bytes {
        Bytes(
            self.services
                .values()
                .filter_map(|s| s.memory)
                .map(|m| m.0)
                .sum(),
        )
    }

    /// Services that declare no CPU or no memory limit (they can use the whole host).
    pub fn unlimited(&self) -> Vec<String> {
        self.services
            .values()
            .filter(|s| s.cpus.is_none() || s.memory.is_none())
            .map(|s| s.name.clone())
            .collect()
    }

    /// Services in `self` that `after` no longer has.
    pub fn removed_in(&self, after: &Declared) -> Vec<String> {
        self.services
            .keys()
            .filter(|name| !after.services.contains_key(*name))
            .cloned()
            .collect()
    }

    /// The sum of limits over the named services.
    pub fn subtotal(&self, names: &[&str]) -> (MilliCpu, Bytes) {
        let picked = names.iter().filter_map(|n| self.services.get(*n));
        let (mut cpu, mut memory) = (0, 0);
        for service in picked {
            cpu += service.cpus.map_or(0, |c| c.0);
            memory += service.memory.map_or(0, |m| m.0);
        }
        (MilliCpu(cpu), Bytes(memory))
    }
}

/// CPU and memory use of a process or a set of containers over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Average cores used over the window.
    pub cpu_cores: f64,
    /// Highest resident memory seen.
    pub peak_memory: Bytes,
    /// How long was sampled.
    pub window_secs: f64,
    /// How many samples were taken.
    pub samples: u32,
}

/// Reads `/proc/<pid>` for CPU ticks and resident memory.
fn proc_snapshot(pid: u32) -> anyhow::Result<(u64, Bytes)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("process {pid} is not running"))?;
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unexpected /proc stat format")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After ')' come state(3) ... utime(14) stime(15): indexes 11 and 12 here.
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .context("short /proc stat")?
            .parse::<u64>()
            .context("bad /proc stat number")
    };
    let cpu_ticks = ticks(11)? + ticks(12)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Ok((cpu_ticks, Bytes(rss_kib * 1024)))
}

/// Samples a process's CPU and RSS from `/proc` every 250 ms for `window`.
/// `while_running` is polled between samples (e.g. to keep a load generator going).
pub fn sample_process(
    pid: u32,
    window: Duration,
    mut while_running: impl FnMut(),
) -> anyhow::Result<Usage> {
    // The kernel reports CPU in clock ticks of USER_HZ, 100 on Linux on every architecture
    // we run on.
    const TICKS_PER_SECOND: f64 = 100.0;
    let start = Instant::now();
    let (first_ticks, mut peak) = proc_snapshot(pid)?;
    let mut last_ticks = first_ticks;
    let mut samples = 1;
    while start.elapsed() < window {
        while_running();
        std::thread::sleep(Duration::from_millis(250));
        let (ticks, rss) = proc_snapshot(pid)?;
        last_ticks = ticks;
        peak = peak.max(rss);
        samples += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok(Usage {
        cpu_cores: (last_ticks - first_ticks) as f64 / TICKS_PER_SECOND / elapsed.max(0.001),
        peak_memory: peak,
        window_secs: elapsed,
        samples,
    })
}

/// Docker stats of every running container (optionally of one compose project), sampled
/// `samples` times over `window`; CPU is averaged per container and summed.
pub async fn sample_containers(
    project: Option<&str>,
    window: Duration,
) -> anyhow::Result<(Usage, usize)> {
    use bollard::query_parameters::{ListContainersOptionsBuilder, StatsOptionsBuilder};
    use futures::StreamExt;

    let docker = bollard::Docker::connect_with_local_defaults()?;
    docker.ping().await.context("no Docker daemon")?;
    let mut filters = std::collections::HashMap::new();
    filters.insert("status".to_owned(), vec!["running".to_owned()]);
    if let Some(project) = project {
        filters.insert(
            "label".to_owned(),
            vec![format!("com.docker.compose.project={project}")],
        );
    }
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .filters(&filters)
                .build(),
        ))
        .await?;
    let ids: Vec<String> = containers.into_iter().filter_map(|c| c.id).collect();
    let start = Instant::now();
    let mut cpu_sum = 0.0;
    let mut cpu_samples = 0u32;
    let mut peak_total = 0u64;
    let mut rounds = 0u32;
    while rounds == 0 || start.elapsed() < window {
        let mut round_memory = 0u64;
        let mut round_cpu = 0.0;
        // One-shot off: the daemon takes two readings a second apart, so the CPU delta is
        // over a real interval. All containers at once, so a round takes that second, not
        // a second per container.
        let readings = futures::future::join_all(ids.iter().map(|id| {
            let options = StatsOptionsBuilder::new()
                .stream(false)
                .one_shot(false)
                .build();
            let mut stream = docker.stats(id, Some(options));
            async move { stream.next().await }
        }))
        .await;
        for stats in readings.into_iter().flatten().flatten() {
            round_memory += stats
                .memory_stats
                .as_ref()
                .and_then(|m| m.usage)
                .unwrap_or(0);
            round_cpu += cpu_fraction(&stats).unwrap_or(0.0);
        }
        cpu_sum += round_cpu;
        cpu_samples += 1;
        peak_total = peak_total.max(round_memory);
        rounds += 1;
        if ids.is_empty() {
            break;
        }
    }
    Ok((
        Usage {
            cpu_cores: if cpu_samples == 0 {
                0.0
            } else {
                cpu_sum / f64::from(cpu_samples)
            },
            peak_memory: Bytes(peak_total),
            window_secs: start.elapsed().as_secs_f64(),
            samples: rounds,
        },
        ids.len(),
    ))
}

/// Cores used between the two readings of one stats record.
fn cpu_fraction(stats: &bollard::models::ContainerStatsResponse) -> Option<f64> {
    let now = stats.cpu_stats.as_ref()?;
    let before = stats.precpu_stats.as_ref()?;
    let used = now.cpu_usage.as_ref()?.total_usage? as f64
        - before.cpu_usage.as_ref()?.total_usage? as f64;
    let system = now.system_cpu_usage? as f64 - before.system_cpu_usage? as f64;
    let cpus = f64::from(now.online_cpus.unwrap_or(1).max(1));
    if system <= 0.0 || used < 0.0 {
        return Some(0.0);
    }
    Some(used / system * cpus)
}

/// Everything step 7 measured, before it is judged.
#[derive(Debug, Clone, Serialize)]
pub struct Measurements {
    /// Declared limits before the decommission (the archived original compose files).
    pub before: Declared,
    /// Declared limits after it (the edited compose files).
    pub after: Declared,
    /// The services the decommission list names.
    pub listed: Vec<String>,
    /// Running containers, if a Docker daemon answered; else why not.
    pub containers: Result<(Usage, usize), String>,
    /// The processor under load, if it could be sampled; else why not.
    pub processor: Result<Usage, String>,
    /// The load the processor was under, in words.
    pub load: String,
}

/// The judged rows and the notes that explain them.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The five tracker rows.
    pub rows: Vec<ResourceRow>,
    /// How each number was obtained and where the plan disagrees.
    pub notes: Vec<String>,
}

fn gb(bytes: Bytes) -> String {
    format!("{:.2}GB", bytes.gib())
}

/// Judges the measurements against the targets and compares them with the plan's claims.
pub fn evaluate(m: &Measurements, targets: &Targets, claims: &PlanClaims) -> Checkpoint {
    let labels = target_labels(targets, m.listed.len());
    let label = |i: usize| labels[i].1.clone();
    let mut notes = Vec::new();

    let cpu_after = m.after.total_cpu();
    let mem_after = m.after.total_memory();
    let cpu_before = m.before.total_cpu();
    let mem_before = m.before.total_memory();
    let usage_text = match &m.containers {
        Ok((usage, count)) => format!(
            "; {count} running containers used {:.2} CPU / {} over {:.0}s (docker stats)",
            usage.cpu_cores,
            gb(usage.peak_memory),
            usage.window_secs
        ),
        Err(why) => {
            notes.push(format!("container usage not measured: {why}"));
            String::new()
        }
    };
    let mut rows = vec![
        ResourceRow {
            metric: "Total CPU".into(),
            target: label(0),
            actual: format!(
                "{} declared limits after (was {} before){usage_text}",
                trim_float(cpu_after.cores()),
                trim_float(cpu_before.cores())
            ),
            pass: cpu_after.cores() <= targets.total_cpu,
        },
        ResourceRow {
            metric: "Total RAM".into(),
            target: label(1),
            actual: format!(
                "{} declared limits after (was {} before)",
                gb(mem_after),
                gb(mem_before)
            ),
            pass: mem_after.gib() <= targets.total_ram_gb,
        },
    ];
    let unlimited = m.after.unlimited();
    if !unlimited.is_empty() {
        notes.push(format!(
            "services without a CPU or memory limit after the migration (not in the totals, \
             they can use the whole host): {}",
            unlimited.join(", ")
        ));
    }

    let removed = m.before.removed_in(&m.after);
    let listed_removed = m.listed.iter().filter(|s| removed.contains(s)).count();
    let extra_removed: Vec<&String> = removed.iter().filter(|s| !m.listed.contains(s)).collect();
    let expected = if targets.services_eliminated == 0 {
        m.listed.len()
    } else {
        targets.services_eliminated as usize
    };
    rows.push(ResourceRow {
        metric: "Services eliminated".into(),
        target: label(2),
        actual: format!(
            "{} ({listed_removed} of {} listed)",
            removed.len(),
            m.listed.len()
        ),
        pass: listed_removed == m.listed.len() && removed.len() >= expected,
    });
    if claims.services_eliminated as usize != m.listed.len() {
        notes.push(format!(
            "the tracker claims {} services eliminated but its own list names {}; the target \
             used is {expected}",
            claims.services_eliminated,
            m.listed.len()
        ));
    }
    if !extra_removed.is_empty() {
        notes.push(format!(
            "also removed, not in the list (dependents of removed services): {}",
            extra_removed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    match &m.processor {
        Ok(usage) => {
            rows.push(ResourceRow {
                metric: "Silver Processor CPU".into(),
                target: label(3),
                actual: format!(
                    "{:.3} cores avg over {:.0}s at {}",
                    usage.cpu_cores, usage.window_secs, m.load
                ),
                pass: usage.cpu_cores <= targets.processor_cpu,
            });
            rows.push(ResourceRow {
                metric: "Silver Processor RAM".into(),
                target: label(4),
                actual: format!("{:.1}MB peak RSS", usage.peak_memory.mib()),
                pass: usage.peak_memory.mib() <= targets.processor_ram_mb as f64,
            });
        }
        Err(why) => {
            for (i, metric) in [(3, "Silver Processor CPU"), (4, "Silver Processor RAM")] {
                rows.push(ResourceRow {
                    metric: metric.into(),
                    target: label(i),
                    actual: format!("not measured: {why}"),
                    pass: false,
                });
            }
        }
    }

    if let Some(declared) = m.after.services.get("silver-processor") {
        let cpu = declared.cpus.map(|c| trim_float(c.cores()));
        let memory = declared.memory.map(|b| format!("{:.0}MB", b.mib()));
        notes.push(format!(
            "the compose file declares the silver-processor's limits as {} CPU / {}; the \
             targets ({} CPU / {}MB) are judged on its measured use, not on the limit",
            cpu.as_deref().unwrap_or("no"),
            memory.as_deref().unwrap_or("no memory limit"),
            trim_float(targets.processor_cpu),
            targets.processor_ram_mb
        ));
    }

    // The plan's figures next to what the compose file declares.
    let claim = |name: &str, (cpu, gib): (f64, f64), (c, b): (MilliCpu, Bytes)| {
        if (c.cores() - cpu).abs() > 1e-9 || (b.gib() - gib).abs() > 1e-9 {
            Some(format!(
                "the plan puts {name} at {} CPU / {}GB; the compose limits say {} CPU / {}",
                trim_float(cpu),
                trim_float(gib),
                trim_float(c.cores()),
                gb(b)
            ))
        } else {
            None
        }
    };
    let jobs = [
        "bronze-binance-stream",
        "bronze-kraken-stream",
        "silver-binance-transformation",
        "silver-kraken-transformation",
        "gold-aggregation",
    ];
    notes.extend(
        [
            claim(
                "spark-master",
                claims.spark_master,
                m.before.subtotal(&["spark-master"]),
            ),
            claim(
                "each Spark worker",
                claims.spark_worker,
                m.before.subtotal(&["spark-worker-1"]),
            ),
            claim(
                "the five streaming jobs",
                claims.streaming_jobs,
                m.before.subtotal(&jobs),
            ),
        ]
        .into_iter()
        .flatten(),
    );
    notes.push(format!(
        "the plan says the platform goes from about {} CPU / {}GB; the compose files here \
         declare {} CPU / {} before and {} CPU / {} after",
        trim_float(claims.cpu_before),
        trim_float(claims.ram_before_gb),
        trim_float(cpu_before.cores()),
        gb(mem_before),
        trim_float(cpu_after.cores()),
        gb(mem_after)
    ));
    Checkpoint { rows, notes }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPOSE: &str = r#"
x-spark: &spark
  image: legacy-standin
  deploy:
    resources:
      limits:
        cpus: '3.5'
        memory: 4G
services:
  spark-master:
    image: legacy-standin
    deploy:
      resources:
        limits:
          cpus: "2.0"
          memory: 2GB
  spark-worker-1:
    <<: *spark
  prefect-agent:
    deploy:
      resources:
        limits:
          cpus: 0.25
          memory: 256M
  clickhouse:
    image: clickhouse
"#;

    #[test]
    fn units_parse_as_docker_reads_them() {
        assert_eq!(parse_memory("512M").unwrap(), Bytes(512 << 20));
        assert_eq!(parse_memory("2G").unwrap(), Bytes(2 << 30));
        assert_eq!(parse_memory("2GB").unwrap(), Bytes(2 << 30));
        assert_eq!(parse_memory("1.5g").unwrap(), Bytes(3 << 29));
        assert_eq!(parse_memory("1024").unwrap(), Bytes(1024));
        assert_eq!(parse_memory("64KiB").unwrap(), Bytes(64 << 10));
        assert!(parse_memory("2X").is_err());
        assert!(parse_memory("").is_err());
        assert_eq!(parse_cpus("0.25").unwrap(), MilliCpu(250));
        assert_eq!(parse_cpus("'3.5'").unwrap(), MilliCpu(3500));
        assert_eq!(parse_cpus("2").unwrap(), MilliCpu(2000));
        assert!(parse_cpus("two").is_err());
        assert!(parse_cpus("0.0001").is_err());
        let env = |name: &str| (name == "SET").then(|| "2.0".to_owned());
        assert_eq!(interpolate("${UNSET:-3.5}", env).unwrap(), "3.5");
        assert_eq!(interpolate("${SET:-3.5}", env).unwrap(), "2.0");
        assert_eq!(interpolate("x${SET}y", env).unwrap(), "x2.0y");
        assert!(interpolate("${OPEN", env).is_err());
    }

    #[test]
    fn declared_totals_follow_anchors_and_skip_unlimited_services() {
        let declared = Declared::from_text(COMPOSE).unwrap();
        assert_eq!(declared.services.len(), 4);
        assert_eq!(declared.total_cpu(), MilliCpu(5750));
        assert_eq!(declared.total_memory(), Bytes((6 << 30) + (256 << 20)));
        assert_eq!(declared.unlimited(), vec!["clickhouse".to_owned()]);
    }

    #[test]
    fn the_checkpoint_passes_or_fails_each_metric_and_notes_discrepancies() {
        let before = Declared::from_text(COMPOSE).unwrap();
        let after = Declared::from_text("services:\n  clickhouse:\n    image: x\n").unwrap();
        let m = Measurements {
            before,
            after,
            listed: vec![
                "spark-master".into(),
                "spark-worker-1".into(),
                "prefect-agent".into(),
            ],
            containers: Err("no Docker daemon".into()),
            processor: Ok(Usage {
                cpu_cores: 0.2,
                peak_memory: Bytes(600 << 20),
                window_secs: 10.0,
                samples: 40,
            }),
            load: "2000 trades/s".into(),
        };
        let checkpoint = evaluate(&m, &Targets::default(), &PlanClaims::default());
        let pass: Vec<bool> = checkpoint.rows.iter().map(|r| r.pass).collect();
        assert_eq!(pass, vec![true, true, true, true, false]);
        assert_eq!(checkpoint.rows[2].target, "3");
        let notes = checkpoint.notes.join("\n");
        assert!(notes.contains("claims 9 services eliminated but its own list names 3"));
        assert!(notes.contains("not measured: no Docker daemon"));
        assert!(notes.contains("the plan puts spark-master at 1 CPU / 1GB"));
    }

    #[test]
    fn sampling_this_process_reads_proc() {
        let usage = sample_process(std::process::id(), Duration::from_millis(300), || {}).unwrap();
        assert!(usage.peak_memory.0 > 0);
        assert!(usage.samples >= 2);
    }
}
