//! The gold DDL, generated from a [`GoldConfig`].
//!
//! Data path, per server:
//!
//! ```text
//! silver_trades --(tap view)--> trades_tap (Null engine)
//!                                  |--(ohlcv_1m_mv)--> ohlcv_1m_state --(ohlcv_1m view, -Merge)--> readers
//!                                  |--(ohlcv_5m_mv)--> ohlcv_5m_state --...
//! ```
//!
//! The tap exists so that one `CREATE MATERIALIZED VIEW` (the tap view, created last) turns
//! every timeframe on at the same instant; see `docs/GOLD-VIEWS.md` for why the backfill
//! needs that.

use ch_support::quote;

use crate::config::{ClusterConfig, GoldConfig};
use crate::timeframe::Timeframe;

/// Price and quantity type of `silver_trades`.
pub const PRICE_TYPE: &str = "Decimal(38, 10)";
/// Type of `silver_trades.quote_volume` (price x quantity, exact).
pub const QUOTE_TYPE: &str = "Decimal(38, 20)";
/// Type of summed quantities: Decimal256, because `sum` over Decimal128 does not check
/// overflow and would wrap silently.
pub const VOLUME_SUM_TYPE: &str = "Decimal(76, 10)";
/// Type of summed quote volumes, Decimal256 for the same reason.
pub const QUOTE_SUM_TYPE: &str = "Decimal(76, 20)";
/// The ordering key of open and close: ties on the timestamp break by trade id.
pub const ORDER_KEY_TYPE: &str = "Tuple(DateTime64(6, 'UTC'), UInt64)";

/// What kind of object a statement creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A table with storage (state tables, the Null tap, Distributed tables).
    Table,
    /// A materialized view `TO` a table.
    MaterializedView,
    /// A plain view.
    View,
}

/// How a [`Fragment`] is parsed by sqlparser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentKind {
    /// One complete statement.
    Statement,
    /// One expression (ORDER BY key, partition, TTL, setting value).
    Expression,
    /// One column type.
    DataType,
}

/// A piece of a statement that sqlparser's ClickHouse dialect can parse on its own. Parts it
/// cannot parse (TTL, table SETTINGS, nested parameterised AggregateFunction types, ON
/// CLUSTER) are split off here and checked by executing on the real engine in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// What the fragment is, for error messages (`ORDER BY of gold_ohlcv_1m_state`).
    pub what: String,
    /// How to parse it.
    pub kind: FragmentKind,
    /// The SQL text.
    pub sql: String,
}

/// One generated statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Name of the object it creates (unquoted, without database).
    pub name: String,
    /// Kind of object.
    pub kind: ObjectKind,
    /// The statement, without a trailing semicolon.
    pub sql: String,
    /// The parts sqlparser checks (see [`crate::check`]).
    pub fragments: Vec<Fragment>,
}

/// Columns of the tap: the `silver_trades` columns the candles need.
const TAP_COLUMNS: [(&str, &str); 7] = [
    ("exchange", "LowCardinality(String)"),
    ("symbol", "LowCardinality(String)"),
    ("trade_id", "UInt64"),
    ("timestamp", "DateTime64(6, 'UTC')"),
    ("price", PRICE_TYPE),
    ("quantity", PRICE_TYPE),
    ("quote_volume", QUOTE_TYPE),
];

/// A state-table column: name, full type, and a stand-in type sqlparser can parse plus the
/// inner types it can check separately.
struct StateColumn {
    name: &'static str,
    full_type: String,
    parseable_type: String,
    inner_types: Vec<String>,
}

fn state_columns() -> Vec<StateColumn> {
    let plain = |name: &'static str, ty: &str| StateColumn {
        name,
        full_type: ty.to_owned(),
        parseable_type: ty.to_owned(),
        inner_types: vec![],
    };
    let aggregate = |name: &'static str, function: &str, args: &[&str]| StateColumn {
        name,
        full_type: format!("AggregateFunction({function}, {})", args.join(", ")),
        parseable_type: format!("AggregateFunction({function})"),
        inner_types: args.iter().map(|s| (*s).to_owned()).collect(),
    };
    let simple = |name: &'static str, function: &str, arg: &str| StateColumn {
        name,
        full_type: format!("SimpleAggregateFunction({function}, {arg})"),
        parseable_type: format!("SimpleAggregateFunction({function})"),
        inner_types: vec![arg.to_owned()],
    };
    vec![
        plain("exchange", "LowCardinality(String)"),
        plain("symbol", "LowCardinality(String)"),
        // sqlparser reads `DateTime(..)` as a precision and refuses the time zone, so the
        // skeleton elides it; the engine tests check the real type.
        StateColumn {
            name: "window_start",
            full_type: "DateTime('UTC')".to_owned(),
            parseable_type: "DateTime".to_owned(),
            inner_types: vec![],
        },
        aggregate("open_state", "argMin", &[PRICE_TYPE, ORDER_KEY_TYPE]),
        aggregate("close_state", "argMax", &[PRICE_TYPE, ORDER_KEY_TYPE]),
        simple("high_state", "max", PRICE_TYPE),
        simple("low_state", "min", PRICE_TYPE),
        simple("volume_state", "sum", VOLUME_SUM_TYPE),
        simple("quote_volume_state", "sum", QUOTE_SUM_TYPE),
        simple("trade_count_state", "sum", "UInt64"),
    ]
}

/// Names of the state-table columns, in order.
pub fn state_column_names() -> Vec<&'static str> {
    state_columns().iter().map(|c| c.name).collect()
}

/// The bucketing expression: the window start of `timestamp`, as `DateTime('UTC')`.
pub fn window_start_sql(tf: &Timeframe) -> String {
    format!(
        "toDateTime(toStartOfInterval(timestamp, {}, 'UTC'), 'UTC')",
        tf.interval_sql()
    )
}

/// The `SELECT` that turns trades into partial candle states, shared by the materialized
/// view and the backfill so both paths compute exactly the same thing.
pub fn state_select(tf: &Timeframe, from: &str, filter: Option<&str>) -> String {
    let filter = filter.map(|f| format!("\nWHERE {f}")).unwrap_or_default();
    format!(
        "SELECT\n    exchange,\n    symbol,\n    {window} AS window_start,\n    \
argMinState(price, (timestamp, trade_id)) AS open_state,\n    \
argMaxState(price, (timestamp, trade_id)) AS close_state,\n    \
max(price) AS high_state,\n    \
min(price) AS low_state,\n    \
sum(toDecimal256(quantity, 10)) AS volume_state,\n    \
sum(toDecimal256(quote_volume, 20)) AS quote_volume_state,\n    \
toUInt64(count()) AS trade_count_state\nFROM {from}{filter}\nGROUP BY exchange, symbol, window_start",
        window = window_start_sql(tf),
    )
}

/// Rollup mode: the `SELECT` that merges a smaller timeframe's states into this one's
/// partial states. Source columns are qualified so that no output alias shadows them.
pub fn rollup_select(tf: &Timeframe, base_state: &str) -> String {
    format!(
        "SELECT\n    src.exchange AS exchange,\n    src.symbol AS symbol,\n    \
toDateTime(toStartOfInterval(src.window_start, {interval}, 'UTC'), 'UTC') AS window_start,\n    \
argMinMergeState(src.open_state) AS open_state,\n    \
argMaxMergeState(src.close_state) AS close_state,\n    \
max(src.high_state) AS high_state,\n    \
min(src.low_state) AS low_state,\n    \
sum(src.volume_state) AS volume_state,\n    \
sum(src.quote_volume_state) AS quote_volume_state,\n    \
sum(src.trade_count_state) AS trade_count_state\nFROM {base_state} AS src\nGROUP BY exchange, symbol, window_start",
        interval = tf.interval_sql(),
    )
}

/// The `SELECT` of the finalizing view over a state table.
///
/// VWAP is `quote_volume / volume` truncated toward zero to 10 decimal places (the price
/// scale): ClickHouse divides the Decimal256 sums exactly at scale 20 and `toDecimal128(_,
/// 10)` drops the extra digits. The validator and [`crate::reference`] use the same rule.
pub fn candle_select(tf: &Timeframe, state: &str) -> String {
    format!(
        "SELECT\n    exchange,\n    symbol,\n    window_start,\n    \
window_start + INTERVAL {seconds} SECOND AS window_end,\n    \
argMinMerge(open_state) AS open,\n    \
max(high_state) AS high,\n    \
min(low_state) AS low,\n    \
argMaxMerge(close_state) AS close,\n    \
sum(volume_state) AS volume,\n    \
sum(quote_volume_state) AS quote_volume,\n    \
sum(trade_count_state) AS trade_count,\n    \
toDecimal128(quote_volume / volume, 10) AS vwap\nFROM {state}\nGROUP BY exchange, symbol, window_start",
        seconds = tf.seconds(),
    )
}

/// Generates every statement for `config`, in the order they must run. The tap view comes
/// last: creating it is the switch-over instant.
pub fn generate(config: &GoldConfig) -> Vec<Statement> {
    match &config.cluster {
        None => generate_single(config),
        Some(cluster) => generate_cluster(config, cluster),
    }
}

fn generate_single(config: &GoldConfig) -> Vec<Statement> {
    let db = &config.database;
    let tap = quote::qualified(db, &config.tap_table());
    let mut out = vec![tap_table(config, None, "Null")];
    let base = config.rollup_base();
    // In rollup mode the base timeframe comes first so the views built on its state table
    // can be created.
    let mut timeframes = config.timeframes.clone();
    if let Some(base) = base {
        timeframes.sort_by_key(|tf| (*tf != base, tf.seconds()));
    }
    for tf in &timeframes {
        let state = quote::qualified(db, &config.state_table(tf));
        out.push(state_table(
            config,
            tf,
            &config.state_table(tf),
            None,
            "AggregatingMergeTree",
        ));
        let select = match base {
            Some(base) if base != *tf => {
                rollup_select(tf, &quote::qualified(db, &config.state_table(&base)))
            }
            _ => state_select(tf, &tap, None),
        };
        out.push(materialized_view(
            &config.materialized_view(tf),
            &quote::qualified(db, &config.materialized_view(tf)),
            None,
            &state,
            &select,
        ));
        out.push(view(
            &config.candle_view(tf),
            &quote::qualified(db, &config.candle_view(tf)),
            None,
            &candle_select(tf, &state),
        ));
    }
    out.push(materialized_view(
        &config.tap_view(),
        &quote::qualified(db, &config.tap_view()),
        None,
        &tap,
        &tap_select(&quote::qualified(db, &config.source_table)),
    ));
    out
}

/// Cluster mode: each server keeps shard-local Replicated state tables fed by its own
/// shard-local silver table; a Distributed table per timeframe gathers the states and the
/// finalizing view merges them.
fn generate_cluster(config: &GoldConfig, cluster: &ClusterConfig) -> Vec<Statement> {
    let db = &config.database;
    let on = Some(cluster.name.as_str());
    let local = |name: String| format!("{name}{}", cluster.local_suffix);
    let tap_name = local(config.tap_table());
    let tap = quote::qualified(db, &tap_name);
    let mut tap_stmt = tap_table(config, on, "Null");
    tap_stmt.name = tap_name.clone();
    tap_stmt.sql = tap_stmt.sql.replace(
        &quote::qualified(db, &config.tap_table()),
        &quote::qualified(db, &tap_name),
    );
    let mut out = vec![tap_stmt];
    for tf in &config.timeframes {
        let state_local_name = local(config.state_table(tf));
        let state_local = quote::qualified(db, &state_local_name);
        let state_dist = quote::qualified(db, &config.state_table(tf));
        let engine = format!(
            "ReplicatedAggregatingMergeTree({}, '{{replica}}')",
            quote::string_literal(&format!(
                "{}/{{shard}}/{}.{}",
                cluster.zookeeper_prefix, db, state_local_name
            ))
        );
        out.push(state_table(config, tf, &state_local_name, on, &engine));
        out.push(distributed_table(
            config,
            cluster,
            &config.state_table(tf),
            &state_local_name,
        ));
        out.push(materialized_view(
            &local(config.materialized_view(tf)),
            &quote::qualified(db, &local(config.materialized_view(tf))),
            on,
            &state_local,
            &state_select(tf, &tap, None),
        ));
        out.push(view(
            &config.candle_view(tf),
            &quote::qualified(db, &config.candle_view(tf)),
            on,
            &candle_select(tf, &state_dist),
        ));
    }
    let tap_view_name = local(config.tap_view());
    out.push(materialized_view(
        &tap_view_name,
        &quote::qualified(db, &tap_view_name),
        on,
        &tap,
        &tap_select(&quote::qualified(db, &local(config.source_table.clone()))),
    ));
    out
}

fn on_cluster(cluster: Option<&str>) -> String {
    cluster
        .map(|name| format!(" ON CLUSTER {}", quote::ident(name)))
        .unwrap_or_default()
}

fn tap_select(source: &str) -> String {
    let columns: Vec<&str> = TAP_COLUMNS.iter().map(|(name, _)| *name).collect();
    format!("SELECT {}\nFROM {source}", columns.join(", "))
}

/// The tap's column list (`    name Type` lines), also used by the backfill snapshot.
pub fn tap_columns_sql() -> String {
    TAP_COLUMNS
        .iter()
        .map(|(col, ty)| format!("    {} {ty}", quote::ident(col)))
        .collect::<Vec<_>>()
        .join(",\n")
}

fn tap_table(config: &GoldConfig, cluster: Option<&str>, engine: &str) -> Statement {
    let name = config.tap_table();
    let qualified = quote::qualified(&config.database, &name);
    let body = format!("(\n{}\n)\nENGINE = {engine}", tap_columns_sql());
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {qualified}{} {body}",
        on_cluster(cluster)
    );
    Statement {
        fragments: vec![Fragment {
            what: format!("CREATE TABLE {name}"),
            kind: FragmentKind::Statement,
            sql: format!("CREATE TABLE IF NOT EXISTS {qualified} {body}"),
        }],
        name,
        kind: ObjectKind::Table,
        sql,
    }
}

fn state_table(
    config: &GoldConfig,
    tf: &Timeframe,
    name: &str,
    cluster: Option<&str>,
    engine: &str,
) -> Statement {
    let qualified = quote::qualified(&config.database, name);
    let columns = state_columns();
    let order_by = "(exchange, symbol, window_start)";
    let partition_by = config.partition_by(tf);
    let ttl = config.ttl(tf);
    let column_list = |typed: fn(&StateColumn) -> &str| -> String {
        columns
            .iter()
            .map(|c| format!("    {} {}", quote::ident(c.name), typed(c)))
            .collect::<Vec<_>>()
            .join(",\n")
    };
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS {qualified}{} (\n{}\n)\nENGINE = {engine}\nORDER BY {order_by}\nPARTITION BY {partition_by}",
        on_cluster(cluster),
        column_list(|c| &c.full_type),
    );
    if let Some(ttl) = &ttl {
        sql.push_str(&format!("\nTTL {ttl}"));
    }
    if config.deduplication_window > 0 && cluster.is_none() {
        sql.push_str(&format!(
            "\nSETTINGS non_replicated_deduplication_window = {}",
            config.deduplication_window
        ));
    }
    let mut fragments = vec![Fragment {
        what: format!("CREATE TABLE {name} (aggregate argument types elided)"),
        kind: FragmentKind::Statement,
        sql: format!(
            "CREATE TABLE IF NOT EXISTS {qualified} (\n{}\n)\nENGINE = AggregatingMergeTree\nORDER BY {order_by}",
            column_list(|c| &c.parseable_type)
        ),
    }];
    for column in &columns {
        for inner in &column.inner_types {
            fragments.push(Fragment {
                what: format!("aggregate argument type of {name}.{}", column.name),
                kind: FragmentKind::DataType,
                sql: inner.clone(),
            });
        }
    }
    fragments.push(Fragment {
        what: format!("PARTITION BY of {name}"),
        kind: FragmentKind::Expression,
        sql: partition_by,
    });
    if let Some(ttl) = ttl {
        fragments.push(Fragment {
            what: format!("TTL of {name}"),
            kind: FragmentKind::Expression,
            sql: ttl,
        });
    }
    Statement {
        name: name.to_owned(),
        kind: ObjectKind::Table,
        sql,
        fragments,
    }
}

fn distributed_table(
    config: &GoldConfig,
    cluster: &ClusterConfig,
    name: &str,
    local_name: &str,
) -> Statement {
    let qualified = quote::qualified(&config.database, name);
    let local = quote::qualified(&config.database, local_name);
    let engine = format!(
        "Distributed({}, {}, {}, {})",
        quote::string_literal(&cluster.name),
        quote::string_literal(&config.database),
        quote::string_literal(local_name),
        cluster.sharding_key
    );
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {qualified}{} AS {local}\nENGINE = {engine}",
        on_cluster(Some(&cluster.name))
    );
    Statement {
        name: name.to_owned(),
        kind: ObjectKind::Table,
        fragments: vec![Fragment {
            what: format!("sharding key of {name}"),
            kind: FragmentKind::Expression,
            sql: cluster.sharding_key.clone(),
        }],
        sql,
    }
}

fn materialized_view(
    name: &str,
    qualified: &str,
    cluster: Option<&str>,
    target: &str,
    select: &str,
) -> Statement {
    Statement {
        name: name.to_owned(),
        kind: ObjectKind::MaterializedView,
        sql: format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {qualified}{} TO {target} AS\n{select}",
            on_cluster(cluster)
        ),
        fragments: vec![Fragment {
            what: format!("CREATE MATERIALIZED VIEW {name}"),
            kind: FragmentKind::Statement,
            sql: format!(
                "CREATE MATERIALIZED VIEW IF NOT EXISTS {qualified} TO {target} AS\n{select}"
            ),
        }],
    }
}

fn view(name: &str, qualified: &str, cluster: Option<&str>, select: &str) -> Statement {
    Statement {
        name: name.to_owned(),
        kind: ObjectKind::View,
        sql: format!(
            "CREATE VIEW IF NOT EXISTS {qualified}{} AS\n{select}",
            on_cluster(cluster)
        ),
        fragments: vec![Fragment {
            what: format!("CREATE VIEW {name}"),
            kind: FragmentKind::Statement,
            sql: format!("CREATE VIEW IF NOT EXISTS {qualified} AS\n{select}"),
        }],
    }
}

/// `DROP ... IF EXISTS` for every object [`generate`] and a backfill create, in an order
/// that stops the flow first (the tap view, the ledger view) and drops readers before the
/// tables they read. For rollbacks and tests.
pub fn drop_all(config: &GoldConfig) -> Vec<String> {
    let db = &config.database;
    let mut statements = generate(config);
    statements.reverse();
    let mut out = vec![];
    let drop = |kind: ObjectKind, name: &str| {
        let keyword = match kind {
            ObjectKind::Table => "TABLE",
            ObjectKind::MaterializedView | ObjectKind::View => "VIEW",
        };
        format!("DROP {keyword} IF EXISTS {}", quote::qualified(db, name))
    };
    let on = config
        .cluster
        .as_ref()
        .map(|c| on_cluster(Some(&c.name)))
        .unwrap_or_default();
    // The tap view is last in `generate`, so first here.
    for statement in &statements {
        out.push(format!("{}{on}", drop(statement.kind, &statement.name)));
        if statement.name == config.tap_view() {
            out.push(drop(ObjectKind::MaterializedView, &config.ledger_view()));
        }
    }
    for helper in [
        config.ledger_table(),
        config.snapshot_table(),
        config.progress_table(),
    ] {
        out.push(drop(ObjectKind::Table, &helper));
    }
    out
}

/// The checked-in file name of the statement at `index`: `03_gold_ohlcv_1m_view.sql`.
pub fn file_name(index: usize, statement: &Statement) -> String {
    format!("{:02}_{}.sql", index + 1, statement.name)
}

/// Renders statements as the checked-in files: `(file name, contents)`.
pub fn render_files(statements: &[Statement]) -> Vec<(String, String)> {
    statements
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                file_name(i, s),
                format!(
                    "-- Generated by `gold-views generate`; do not edit by hand.\n{};\n",
                    s.sql
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_generates_four_objects_per_timeframe_around_the_tap() {
        let statements = generate(&GoldConfig::default());
        assert_eq!(statements.len(), 2 + 3 * 6);
        assert_eq!(statements[0].name, "gold_trades_tap");
        assert_eq!(
            statements.last().map(|s| s.name.as_str()),
            Some("gold_trades_tap_mv")
        );
        let names: Vec<&str> = statements.iter().map(|s| s.name.as_str()).collect();
        for label in ["1m", "5m", "15m", "30m", "1h", "1d"] {
            for suffix in ["_state", "_mv", ""] {
                let name = format!("gold_ohlcv_{label}{suffix}");
                assert!(names.contains(&name.as_str()), "{name} missing");
            }
        }
    }

    #[test]
    fn every_bucketing_call_names_utc() {
        for statement in generate(&GoldConfig::default()) {
            for (i, _) in statement.sql.match_indices("toStartOfInterval(") {
                let call = &statement.sql[i..];
                let end = call.find("'UTC')").unwrap_or(usize::MAX);
                let next_paren = call.find(')').unwrap_or(0);
                assert!(end <= next_paren, "{}: {call}", statement.name);
            }
        }
    }

    #[test]
    fn open_and_close_order_by_timestamp_then_trade_id() {
        let sql = state_select(&"1m".parse().unwrap(), "t", None);
        assert!(sql.contains("argMinState(price, (timestamp, trade_id))"));
        assert!(sql.contains("argMaxState(price, (timestamp, trade_id))"));
    }

    #[test]
    fn prefix_and_database_are_quoted_into_every_name() {
        let config = GoldConfig {
            database: "market`s".into(),
            prefix: "g2_".into(),
            ..GoldConfig::default()
        };
        for statement in generate(&config) {
            assert!(statement.name.starts_with("g2_"), "{}", statement.name);
            assert!(statement.sql.contains("`market\\`s`."), "{}", statement.sql);
        }
    }

    #[test]
    fn daily_state_tables_partition_by_year_and_others_by_month() {
        let config = GoldConfig::default();
        assert_eq!(
            config.partition_by(&"1d".parse().unwrap()),
            "toYear(window_start)"
        );
        assert_eq!(
            config.partition_by(&"1h".parse().unwrap()),
            "toYYYYMM(window_start)"
        );
    }

    #[test]
    fn rollup_mode_builds_larger_timeframes_from_the_smallest_states() {
        let config = GoldConfig {
            rollup: true,
            ..GoldConfig::default()
        };
        let statements = generate(&config);
        let five = statements
            .iter()
            .find(|s| s.name == "gold_ohlcv_5m_mv")
            .map(|s| s.sql.as_str())
            .unwrap_or_default();
        assert!(five.contains("argMinMergeState(src.open_state)"), "{five}");
        assert!(
            five.contains("FROM `default`.`gold_ohlcv_1m_state` AS src"),
            "{five}"
        );
        let one = statements
            .iter()
            .find(|s| s.name == "gold_ohlcv_1m_mv")
            .map(|s| s.sql.as_str())
            .unwrap_or_default();
        assert!(one.contains("FROM `default`.`gold_trades_tap`"), "{one}");
        crate::check::check_all(&statements).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn drop_all_stops_the_flow_first_and_removes_backfill_helpers() {
        let drops = drop_all(&GoldConfig::default());
        assert_eq!(
            drops[0],
            "DROP VIEW IF EXISTS `default`.`gold_trades_tap_mv`"
        );
        assert_eq!(
            drops[1],
            "DROP VIEW IF EXISTS `default`.`gold_backfill_ledger_mv`"
        );
        assert!(
            drops.contains(&"DROP TABLE IF EXISTS `default`.`gold_backfill_progress`".to_owned())
        );
        assert_eq!(drops.len(), 20 + 4);
    }

    #[test]
    fn cluster_mode_uses_replicated_engines_distributed_tables_and_on_cluster() {
        let config = GoldConfig {
            cluster: Some(ClusterConfig::default()),
            ..GoldConfig::default()
        };
        let statements = generate(&config);
        assert!(
            statements
                .iter()
                .all(|s| s.sql.contains(" ON CLUSTER `phase4`"))
        );
        let state = statements
            .iter()
            .find(|s| s.name == "gold_ohlcv_1m_state_local")
            .map(|s| s.sql.as_str())
            .unwrap_or_default();
        assert!(state.contains("ReplicatedAggregatingMergeTree("), "{state}");
        let dist = statements
            .iter()
            .find(|s| s.name == "gold_ohlcv_1m_state")
            .map(|s| s.sql.as_str())
            .unwrap_or_default();
        assert!(dist.contains("ENGINE = Distributed('phase4'"), "{dist}");
        let tap_view = statements
            .last()
            .map(|s| s.sql.as_str())
            .unwrap_or_default();
        assert!(
            tap_view.contains("FROM `default`.`silver_trades_local`"),
            "{tap_view}"
        );
    }
}
