//! SQL generation. Every comparison, count, checksum and attribution is one statement run
//! inside ClickHouse; this module only writes the text. All identifiers and literals go
//! through `ch_support::quote`.
//!
//! Both sides are first projected to one shape, the *side projection*:
//! `k_exchange String, k_symbol String, k_ws DateTime('UTC'), o, h, l, c Float64,
//! vol (Float64 or Decimal128(S)), n UInt64`, with v1 names already mapped to v2 names.
//! The comparison is then a `UNION ALL` of the two projections grouped by key: the same
//! result as a FULL OUTER JOIN on the key, in one hash aggregation, and it also reveals
//! duplicate keys (which a join would multiply). It runs in two passes: [`create_comparison`]
//! reads every candle once, with per-key state kept to a few sums, and yields each side's
//! count and checksum plus the keys that may differ; [`create_mismatches`] then looks at
//! those keys only, with every value.

use std::collections::BTreeMap;

use ch_support::quote::{ident, qualified, string_literal};

use crate::config::{Tolerance, V1Columns};
use crate::range::WindowRange;
use crate::timeframe::Timeframe;

/// How volumes are compared, decided from the column types of both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeKind {
    /// v1 is floating point: compare within `tolerance.volume_abs`.
    Float,
    /// Both exact: compare as `Decimal128(scale)`, which neither side loses digits in.
    Decimal {
        /// Common scale.
        scale: u32,
    },
}

impl VolumeKind {
    /// Chooses from the two volume column types.
    pub fn from_types(v1_type: &str, v2_type: &str) -> Self {
        match (decimal_scale(v1_type), decimal_scale(v2_type)) {
            (Some(a), Some(b)) => VolumeKind::Decimal {
                scale: a.max(b).min(37),
            },
            _ => VolumeKind::Float,
        }
    }

    fn cast(self, expr: &str) -> String {
        match self {
            VolumeKind::Float => format!("toFloat64({expr})"),
            VolumeKind::Decimal { scale } => format!("toDecimal128({expr}, {scale})"),
        }
    }

    /// True when `a` and `b` (both already cast) count as the same volume.
    fn equal(self, a: &str, b: &str, tolerance: &Tolerance) -> String {
        match self {
            VolumeKind::Float => format!("abs({a} - {b}) <= {}", float(tolerance.volume_abs)),
            VolumeKind::Decimal { .. } => format!("{a} = {b}"),
        }
    }
}

/// Scale of an exact numeric type (`Decimal(38, 10)`, `Decimal128(10)`, `Int64`), `None`
/// for floating point or anything else.
pub fn decimal_scale(type_name: &str) -> Option<u32> {
    let t = strip_wrappers(type_name);
    if let Some(args) = t.strip_prefix("Decimal(") {
        return args
            .trim_end_matches(')')
            .split(',')
            .nth(1)
            .and_then(|s| s.trim().parse().ok());
    }
    for prefix in ["Decimal32(", "Decimal64(", "Decimal128(", "Decimal256("] {
        if let Some(args) = t.strip_prefix(prefix) {
            return args.trim_end_matches(')').trim().parse().ok();
        }
    }
    if t.starts_with("Int") || t.starts_with("UInt") {
        return Some(0);
    }
    None
}

/// `Nullable(LowCardinality(T))` and friends to `T`.
pub fn strip_wrappers(type_name: &str) -> &str {
    let mut t = type_name.trim();
    loop {
        let inner = ["Nullable(", "LowCardinality("]
            .iter()
            .find_map(|w| t.strip_prefix(w).and_then(|rest| rest.strip_suffix(')')));
        match inner {
            Some(rest) => t = rest.trim(),
            None => return t,
        }
    }
}

/// How a v1 `window_start` column is turned into `DateTime('UTC')`.
pub fn window_start_expr(column: &str, type_name: &str) -> String {
    let t = strip_wrappers(type_name);
    if t.starts_with("Int") || t.starts_with("UInt") {
        // Legacy rows carry microseconds since the epoch.
        format!("toDateTime(intDiv(toInt64({column}), 1000000), 'UTC')")
    } else if t.starts_with("DateTime") {
        format!("toDateTime({column}, 'UTC')")
    } else {
        format!("toDateTime(parseDateTime64BestEffort(toString({column}), 6, 'UTC'), 'UTC')")
    }
}

/// A Float64 literal ClickHouse reads back exactly.
pub fn float(value: f64) -> String {
    format!("{value:e}")
}

fn mapped(column: &str, mapping: &BTreeMap<String, String>) -> String {
    let text = format!("toString({column})");
    if mapping.is_empty() {
        return text;
    }
    let from: Vec<String> = mapping.keys().map(|k| string_literal(k)).collect();
    let to: Vec<String> = mapping.values().map(|v| string_literal(v)).collect();
    format!(
        "transform({text}, [{}], [{}], {text})",
        from.join(", "),
        to.join(", ")
    )
}

/// What the v1 projection needs to know about its table.
#[derive(Debug, Clone)]
pub struct V1Projection<'a> {
    /// Qualified table.
    pub table: String,
    /// Column names.
    pub columns: &'a V1Columns,
    /// Type of the window start column.
    pub window_start_type: String,
    /// Symbol renames.
    pub symbols: &'a BTreeMap<String, String>,
    /// Exchange renames.
    pub exchanges: &'a BTreeMap<String, String>,
}

/// The v1 side projection (see the module docs).
pub fn v1_projection(p: &V1Projection<'_>, volume: VolumeKind) -> String {
    let col = |name: &str| format!("src.{}", ident(name));
    format!(
        "SELECT {ex} AS k_exchange, {sym} AS k_symbol, {ws} AS k_ws, \
         toFloat64({o}) AS o, toFloat64({h}) AS h, toFloat64({l}) AS l, toFloat64({c}) AS c, \
         {vol} AS vol, toUInt64({n}) AS n FROM {table} AS src",
        ex = mapped(&col(&p.columns.exchange), p.exchanges),
        sym = mapped(&col(&p.columns.symbol), p.symbols),
        ws = window_start_expr(&col(&p.columns.window_start), &p.window_start_type),
        o = col(&p.columns.open),
        h = col(&p.columns.high),
        l = col(&p.columns.low),
        c = col(&p.columns.close),
        vol = volume.cast(&col(&p.columns.volume)),
        n = col(&p.columns.trade_count),
        table = p.table,
    )
}

/// The v2 side projection over a gold finalizing view with the contract's columns.
pub fn v2_projection(view: &str, volume: VolumeKind) -> String {
    format!(
        "SELECT toString(src.exchange) AS k_exchange, toString(src.symbol) AS k_symbol, \
         toDateTime(src.window_start, 'UTC') AS k_ws, toFloat64(src.open) AS o, \
         toFloat64(src.high) AS h, toFloat64(src.low) AS l, toFloat64(src.close) AS c, \
         {vol} AS vol, toUInt64(src.trade_count) AS n FROM {view} AS src",
        vol = volume.cast("src.volume"),
    )
}

fn in_range(projection: &str, range: WindowRange) -> String {
    format!(
        "SELECT * FROM ({projection}) WHERE k_ws >= toDateTime({}, 'UTC') AND k_ws < toDateTime({}, 'UTC')",
        range.start, range.end
    )
}

/// Row count, first and last window start of one side (no range filter).
pub fn side_extent(projection: &str) -> String {
    format!(
        "SELECT count() AS rows, toInt64(toUnixTimestamp(min(k_ws))) AS first, \
         toInt64(toUnixTimestamp(max(k_ws))) AS last FROM ({projection})"
    )
}

/// The checksum's unit: the hash of one side-projection row (see the report contract,
/// `v1_checksum`). [`side_checksum`] and [`create_comparison`] both use it, so a report's
/// checksums and the gate's recomputation agree.
const ROW_HASH: &str = "cityHash64(k_exchange, k_symbol, k_ws, o, h, l, c, vol, n)";

/// Row count and order-independent content checksum of one side inside the range.
pub fn side_checksum(projection: &str, range: WindowRange) -> String {
    format!(
        "SELECT count() AS rows, sumWithOverflow({ROW_HASH}) AS checksum FROM ({})",
        in_range(projection, range)
    )
}

/// Bits of the `kinds` mask, in report order.
pub const KINDS: [&str; 9] = [
    "only_in_v1",
    "only_in_v2",
    "duplicate_key",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "trade_count",
];

/// Pass 1 over both sides, the only one that reads every candle: creates `target` with one
/// row per key that may mismatch (`differs = 1`, key `(m_kh, m_ws)` with
/// `m_kh = cityHash64(k_exchange, k_symbol)`), plus one row (`differs = 0`) summing all
/// other keys. Every row carries its keys' `v1_rows`, `v2_rows`, `v1_checksum` and
/// `v2_checksum`, so [`comparison_totals`] gives each side's count and checksum without a
/// scan of its own.
///
/// Per key it keeps only sums, which the engine's JIT fuses into one pass over the rows
/// (interpreted, each aggregate state costs another random access per row;
/// `min_count_to_compile_aggregate_expression = 0` compiles on the first run, not the
/// third): the candles per side, and per value the sum of `v1` and `-v2`. For a key with
/// one candle on each side that sum is exactly `v1 - v2` (IEEE subtraction is the addition
/// of the negation; integer and decimal sums wrap, so zero still means equal), which is
/// what [`create_mismatches`] compares. Every other key is kept anyway. So the kept keys
/// are a superset of the mismatching ones, and [`create_mismatches`] decides on them.
///
/// The key is `(kh, k_ws)`: a fixed-size key makes the 2N-row aggregation several times
/// faster than grouping on two strings. Two name pairs whose hashes collide share a group
/// per window start; it is kept (more than one candle per side, pass 2 groups by the names
/// again) unless it looks like one equal candle per side: a key only in v1 and another only
/// in v2 with identical values.
pub fn create_comparison(
    target: &str,
    v1: &str,
    v2: &str,
    range: WindowRange,
    volume: VolumeKind,
    tolerance: &Tolerance,
) -> String {
    let tol = float(tolerance.ohlc_abs);
    let volume_differs = match volume {
        // As `VolumeKind::equal`: NaN counts as different.
        VolumeKind::Float => format!("NOT (abs(s_vol) <= {})", float(tolerance.volume_abs)),
        VolumeKind::Decimal { .. } => "s_vol != 0".to_owned(),
    };
    format!(
        "CREATE TABLE {target} ENGINE = Memory AS \
         SELECT differs, if(differs, kh, 0) AS m_kh, if(differs, k_ws, toDateTime(0, 'UTC')) AS m_ws, \
         sum(n1) AS v1_rows, sum(n2) AS v2_rows, \
         sumWithOverflow(v1_sum) AS v1_checksum, sumWithOverflow(v2_sum) AS v2_checksum \
         FROM ( \
           SELECT kh, k_ws, countIf(side = 1) AS n1, countIf(side = 2) AS n2, \
           sumWithOverflowIf(rh, side = 1) AS v1_sum, sumWithOverflowIf(rh, side = 2) AS v2_sum, \
           sum(d_o) AS s_o, sum(d_h) AS s_h, sum(d_l) AS s_l, sum(d_c) AS s_c, sum(d_vol) AS s_vol, \
           sumWithOverflow(d_n) AS s_n, \
           n1 != 1 OR n2 != 1 OR abs(s_o) > {tol} OR abs(s_h) > {tol} OR abs(s_l) > {tol} \
           OR abs(s_c) > {tol} OR {volume_differs} OR s_n != 0 AS differs \
           FROM ( \
             SELECT 1 AS side, cityHash64(k_exchange, k_symbol) AS kh, k_ws, {ROW_HASH} AS rh, \
             o AS d_o, h AS d_h, l AS d_l, c AS d_c, vol AS d_vol, toInt64(n) AS d_n FROM ({v1_in}) \
             UNION ALL \
             SELECT 2 AS side, cityHash64(k_exchange, k_symbol) AS kh, k_ws, {ROW_HASH} AS rh, \
             -o AS d_o, -h AS d_h, -l AS d_l, -c AS d_c, -vol AS d_vol, -toInt64(n) AS d_n FROM ({v2_in}) \
           ) GROUP BY kh, k_ws \
         ) GROUP BY differs, m_kh, m_ws \
         SETTINGS min_count_to_compile_aggregate_expression = 0",
        v1_in = in_range(v1, range),
        v2_in = in_range(v2, range),
    )
}

/// One row from a [`create_comparison`] table: each side's row count and checksum, and the
/// number of keys pass 2 has to look at.
pub fn comparison_totals(table: &str) -> String {
    format!(
        "SELECT sum(v1_rows) AS v1_rows, sum(v2_rows) AS v2_rows, \
         sumWithOverflow(v1_checksum) AS v1_checksum, sumWithOverflow(v2_checksum) AS v2_checksum, \
         countIf(differs) AS candidates FROM {table}"
    )
}

/// Pass 2, only when pass 1 kept keys: creates `target` with one row per mismatching key,
/// its names, both sides' values and a `kinds` bit mask (see [`KINDS`]).
///
/// Both sides are read again, but only the candles of the keys in `comparison` (a
/// [`create_comparison`] table) survive the filter, whose cheap window-start test runs
/// first. They are grouped by their names, which decides hash collisions too. A v1 name
/// may be NULL (a nullable legacy column), and so its key hash: `transform_null_in` keeps
/// such a key, as the grouping in pass 1 did.
pub fn create_mismatches(
    target: &str,
    comparison: &str,
    v1: &str,
    v2: &str,
    range: WindowRange,
    volume: VolumeKind,
    tolerance: &Tolerance,
) -> String {
    let tol = float(tolerance.ohlc_abs);
    let both = "v1_rows > 0 AND v2_rows > 0";
    let field = |name: &str| format!("({both} AND abs(v1_{name} - v2_{name}) > {tol})");
    let volume_differs = format!(
        "({both} AND NOT ({}))",
        volume.equal("v1_volume", "v2_volume", tolerance)
    );
    let terms = [
        "(v2_rows = 0)".to_owned(),
        "(v1_rows = 0)".to_owned(),
        "(v1_rows > 1 OR v2_rows > 1)".to_owned(),
        field("open"),
        field("high"),
        field("low"),
        field("close"),
        volume_differs,
        format!("({both} AND v1_trades != v2_trades)"),
    ];
    let kinds: Vec<String> = terms
        .iter()
        .enumerate()
        .map(|(bit, term)| format!("bitShiftLeft(toUInt32({term}), {bit})"))
        .collect();
    let keep = format!(
        "k_ws IN (SELECT m_ws FROM {comparison} WHERE differs) \
         AND (cityHash64(k_exchange, k_symbol), k_ws) IN (SELECT m_kh, m_ws FROM {comparison} WHERE differs)"
    );
    format!(
        "CREATE TABLE {target} ENGINE = Memory AS \
         SELECT k_exchange, k_symbol, k_ws, \
         countIf(side = 1) AS v1_rows, countIf(side = 2) AS v2_rows, \
         anyIf(o, side = 1) AS v1_open, anyIf(o, side = 2) AS v2_open, \
         anyIf(h, side = 1) AS v1_high, anyIf(h, side = 2) AS v2_high, \
         anyIf(l, side = 1) AS v1_low, anyIf(l, side = 2) AS v2_low, \
         anyIf(c, side = 1) AS v1_close, anyIf(c, side = 2) AS v2_close, \
         anyIf(vol, side = 1) AS v1_volume, anyIf(vol, side = 2) AS v2_volume, \
         anyIf(n, side = 1) AS v1_trades, anyIf(n, side = 2) AS v2_trades, \
         toUInt32({kinds}) AS kinds \
         FROM (SELECT 1 AS side, k_exchange, k_symbol, k_ws, o, h, l, c, vol, n FROM ({v1_in}) WHERE {keep} \
               UNION ALL SELECT 2 AS side, k_exchange, k_symbol, k_ws, o, h, l, c, vol, n \
               FROM ({v2_in}) WHERE {keep}) \
         GROUP BY k_exchange, k_symbol, k_ws HAVING kinds != 0 \
         SETTINGS transform_null_in = 1",
        kinds = kinds.join(" + "),
        v1_in = in_range(v1, range),
        v2_in = in_range(v2, range),
    )
}

/// One row: the number of mismatching keys and the count per kind.
pub fn mismatch_counts(table: &str) -> String {
    let per_kind: Vec<String> = (0..KINDS.len())
        .map(|bit| format!("countIf(bitTest(kinds, {bit})) AS k{bit}"))
        .collect();
    format!(
        "SELECT count() AS total, {} FROM {table}",
        per_kind.join(", ")
    )
}

/// Where the trades are, for attribution.
#[derive(Debug, Clone)]
pub struct Attribution<'a> {
    /// Qualified mismatch table (from [`create_mismatches`]).
    pub mismatches: &'a str,
    /// Qualified `silver_trades`.
    pub silver: &'a str,
    /// Candle width.
    pub timeframe: Timeframe,
    /// Compared range (bounds the trade scan).
    pub range: WindowRange,
    /// Volume comparison.
    pub volume: VolumeKind,
    /// Tolerances.
    pub tolerance: &'a Tolerance,
}

/// Creates `target`: the mismatch rows joined with a recomputation from the trades,
/// a `verdict` (`v1_wrong`, `v2_wrong`, `both_wrong`, `undetermined`) and a cause per
/// wrong side (`tie_ordering`, `missing_trades`, `extra_trades`, `duplicate_candle`,
/// `precision`, `value`).
pub fn create_attribution(target: &str, a: &Attribution<'_>) -> String {
    let tol = float(a.tolerance.ohlc_abs);
    let precision = float(a.tolerance.precision_abs);
    let interval = a.timeframe.sql_interval();
    let ok = |p: &str| {
        format!(
            "if({p}_rows = 0, r_trades = 0, {p}_rows = 1 AND r_trades > 0 AND {p}_trades = r_trades \
             AND abs({p}_open - r_open) <= {tol} AND abs({p}_high - r_high) <= {tol} \
             AND abs({p}_low - r_low) <= {tol} AND abs({p}_close - r_close) <= {tol} AND {vol})",
            vol = a
                .volume
                .equal(&format!("{p}_volume"), "r_volume", a.tolerance)
        )
    };
    let cause = |p: &str| {
        format!(
            "multiIf({p}_rows = 0, 'missing_trades', r_trades = 0, 'extra_trades', \
             {p}_rows > 1, 'duplicate_candle', \
             {p}_trades < r_trades, 'missing_trades', {p}_trades > r_trades, 'extra_trades', \
             (abs({p}_open - r_open) > {tol} AND arrayExists(x -> abs(x - {p}_open) <= {tol}, r_open_ties)) \
             OR (abs({p}_close - r_close) > {tol} AND arrayExists(x -> abs(x - {p}_close) <= {tol}, r_close_ties)), \
             'tie_ordering', \
             greatest(abs({p}_open - r_open), abs({p}_high - r_high), abs({p}_low - r_low), \
             abs({p}_close - r_close), abs(toFloat64({p}_volume) - toFloat64(r_volume))) <= {precision}, \
             'precision', 'value')"
        )
    };
    format!(
        "CREATE TABLE {target} ENGINE = Memory AS \
         SELECT m.*, r_trades, r_open, r_high, r_low, r_close, r_volume, r_open_ties, r_close_ties, \
         {v1_ok} AS v1_ok, {v2_ok} AS v2_ok, \
         multiIf(v2_ok AND NOT v1_ok, 'v1_wrong', v1_ok AND NOT v2_ok, 'v2_wrong', \
         NOT v1_ok AND NOT v2_ok, 'both_wrong', 'undetermined') AS verdict, \
         if(v1_ok, '', {v1_cause}) AS v1_cause, if(v2_ok, '', {v2_cause}) AS v2_cause \
         FROM {mm} AS m LEFT JOIN ( \
           SELECT k_exchange, k_symbol, k_ws, toUInt64(sum(cnt)) AS r_trades, \
           toFloat64(argMin(first_price, ts)) AS r_open, toFloat64(argMax(last_price, ts)) AS r_close, \
           toFloat64(max(hi)) AS r_high, toFloat64(min(lo)) AS r_low, {r_volume} AS r_volume, \
           argMin(prices, ts) AS r_open_ties, argMax(prices, ts) AS r_close_ties \
           FROM ( \
             SELECT toString(exchange) AS k_exchange, toString(symbol) AS k_symbol, \
             toDateTime(toStartOfInterval(timestamp, {interval}, 'UTC'), 'UTC') AS k_ws, \
             timestamp AS ts, argMin(price, trade_id) AS first_price, argMax(price, trade_id) AS last_price, \
             groupUniqArray(64)(toFloat64(price)) AS prices, max(price) AS hi, min(price) AS lo, \
             sum(quantity) AS qty, count() AS cnt \
             FROM {silver} \
             WHERE timestamp >= toDateTime64({start}, 6, 'UTC') AND timestamp < toDateTime64({end}, 6, 'UTC') \
             AND (k_exchange, k_symbol, k_ws) IN (SELECT k_exchange, k_symbol, k_ws FROM {mm}) \
             GROUP BY k_exchange, k_symbol, k_ws, ts \
           ) GROUP BY k_exchange, k_symbol, k_ws \
         ) AS r USING (k_exchange, k_symbol, k_ws)",
        v1_ok = ok("v1"),
        v2_ok = ok("v2"),
        v1_cause = cause("v1"),
        v2_cause = cause("v2"),
        mm = a.mismatches,
        silver = a.silver,
        r_volume = a.volume.cast("sum(qty)"),
        start = a.range.start,
        end = a.range.end + a.timeframe.seconds(),
    )
}

/// Counts of attributed mismatches by verdict and causes.
pub fn attribution_counts(table: &str) -> String {
    format!(
        "SELECT verdict, v1_cause, v2_cause, count() AS candles FROM {table} \
         GROUP BY verdict, v1_cause, v2_cause ORDER BY candles DESC, verdict, v1_cause, v2_cause"
    )
}

/// The first `limit` attributed mismatches, in key order.
pub fn attribution_details(table: &str, limit: u64) -> String {
    format!(
        "SELECT k_exchange AS exchange, k_symbol AS symbol, \
         toInt64(toUnixTimestamp(k_ws)) AS window_start, kinds, v1_rows, v2_rows, \
         v1_open, v1_high, v1_low, v1_close, toString(v1_volume) AS v1_volume, v1_trades, \
         v2_open, v2_high, v2_low, v2_close, toString(v2_volume) AS v2_volume, v2_trades, \
         r_trades, r_open, r_high, r_low, r_close, toString(r_volume) AS r_volume, \
         verdict, v1_cause, v2_cause \
         FROM {table} ORDER BY k_exchange, k_symbol, k_ws LIMIT {limit}"
    )
}

/// Column names and types of one table or view.
pub fn columns_of(database: &str, table: &str) -> String {
    format!(
        "SELECT name, type FROM system.columns WHERE database = {} AND table = {} ORDER BY position",
        string_literal(database),
        string_literal(table)
    )
}

/// `DROP TABLE IF EXISTS` for a scratch table.
pub fn drop_table(table: &str) -> String {
    format!("DROP TABLE IF EXISTS {table}")
}

/// A scratch table receiving exported v1 files, with the legacy column types.
pub fn create_file_table(table: &str, columns: &V1Columns) -> String {
    let typed = [
        (&columns.symbol, "String"),
        (&columns.exchange, "String"),
        (&columns.window_start, "Int64"),
        (&columns.window_end, "Int64"),
        (&columns.open, "Float64"),
        (&columns.high, "Float64"),
        (&columns.low, "Float64"),
        (&columns.close, "Float64"),
        (&columns.volume, "Float64"),
        (&columns.trade_count, "UInt64"),
        (&columns.vwap, "Float64"),
    ];
    let list: Vec<String> = typed
        .iter()
        .map(|(name, ty)| format!("{} {ty}", ident(name)))
        .collect();
    format!(
        "CREATE TABLE {table} ({}) ENGINE = MergeTree ORDER BY tuple()",
        list.join(", ")
    )
}

/// Qualified name helper re-exported for the other modules.
pub fn object(database: &str, name: &str) -> String {
    qualified(database, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_scales_are_read_from_type_names() {
        assert_eq!(decimal_scale("Decimal(38, 10)"), Some(10));
        assert_eq!(decimal_scale("Nullable(Decimal128(20))"), Some(20));
        assert_eq!(decimal_scale("Int64"), Some(0));
        assert_eq!(decimal_scale("Float64"), None);
    }

    #[test]
    fn float_volume_with_decimal_v2_compares_with_tolerance() {
        assert_eq!(
            VolumeKind::from_types("Float64", "Decimal(38, 10)"),
            VolumeKind::Float
        );
        assert_eq!(
            VolumeKind::from_types("Decimal(38, 18)", "Decimal(38, 10)"),
            VolumeKind::Decimal { scale: 18 }
        );
    }

    #[test]
    fn microsecond_window_starts_are_divided_down() {
        let e = window_start_expr("src.`ws`", "Int64");
        assert!(e.contains("intDiv"), "{e}");
        assert!(window_start_expr("x", "DateTime('UTC')").starts_with("toDateTime(x"));
    }

    #[test]
    fn pass_one_keeps_any_decimal_volume_difference_and_float_ones_beyond_tolerance() {
        let range = WindowRange { start: 0, end: 60 };
        let tolerance = Tolerance {
            volume_abs: 0.5,
            ..Tolerance::default()
        };
        let float = create_comparison("t", "v1", "v2", range, VolumeKind::Float, &tolerance);
        assert!(float.contains("NOT (abs(s_vol) <= 5e-1)"), "{float}");
        let exact = VolumeKind::Decimal { scale: 10 };
        let decimal = create_comparison("t", "v1", "v2", range, exact, &tolerance);
        assert!(decimal.contains("OR s_vol != 0 OR"), "{decimal}");
        // Pass 2 compares the same way, on every value.
        let named = create_mismatches("m", "t", "v1", "v2", range, exact, &tolerance);
        assert!(named.contains("v1_volume = v2_volume"), "{named}");
    }

    #[test]
    fn mapping_is_quoted_and_falls_back_to_the_name() {
        let mut map = BTreeMap::new();
        map.insert("BTC'USDT".to_owned(), "BTC/USDT".to_owned());
        let e = mapped("src.`symbol`", &map);
        assert_eq!(
            e,
            "transform(toString(src.`symbol`), ['BTC\\'USDT'], ['BTC/USDT'], toString(src.`symbol`))"
        );
    }
}
