//! The self-contained HTML report: no scripts, no external resources. A summary table per
//! timeframe, the attribution counts, and for each listed mismatch an inline SVG chart of
//! the v1 candle, the v2 candle and the candle recomputed from the trades.

use std::fmt::Write as _;

use crate::report::{CandleValues, Mismatch, Report, TimeframeReport, mark, status};

/// Chart colours; the screenshot test looks for them.
pub const V1_COLOR: &str = "#1f77b4";
/// v2 candle colour.
pub const V2_COLOR: &str = "#ff7f0e";
/// Recomputed candle colour.
pub const TRADES_COLOR: &str = "#2ca02c";

const CHART_WIDTH: f64 = 300.0;
const CHART_HEIGHT: f64 = 180.0;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders `report` with at most `charts` mismatch charts in total.
pub fn render(report: &Report, charts: usize) -> String {
    let mut html = String::new();
    let verdict = status(report.verdict);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>OHLCV validation {verdict}</title>\n<style>\
         body{{font-family:sans-serif;margin:24px;color:#222;background:#fff}}\
         table{{border-collapse:collapse;margin:8px 0 16px}}\
         th,td{{border:1px solid #999;padding:4px 8px;text-align:right}}\
         th{{background:#eee}} td.l,th.l{{text-align:left}}\
         .pass{{color:#137333}} .fail{{color:#c5221f}}\
         .mismatch{{display:inline-block;vertical-align:top;margin:8px;padding:8px;border:1px solid #ccc}}\
         .mismatch h4{{margin:0 0 4px;font-size:13px}}\
         .legend span{{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}}\
         </style></head><body>\n"
    );
    let class = if report.passed() { "pass" } else { "fail" };
    let _ = write!(
        html,
        "<h1 class=\"{class}\">OHLCV validation: {verdict}</h1>\n<p>Range {} to {} (end exclusive). \
         Generated {}. Fingerprint <code>{}</code>. OHLC tolerance {:e}, volume tolerance {:e} \
         (floating-point v1 only).</p>\n",
        escape(&report.range.start),
        escape(&report.range.end),
        escape(&report.generated_at),
        escape(&report.fingerprint),
        report.ohlc_tolerance,
        report.volume_tolerance,
    );
    summary_table(&mut html, report);
    let _ = writeln!(
        html,
        "<p class=\"legend\">Charts:<span style=\"background:{V1_COLOR}\"></span>v1 (legacy)\
         <span style=\"background:{V2_COLOR}\"></span>v2 (gold)\
         <span style=\"background:{TRADES_COLOR}\"></span>recomputed from silver_trades</p>"
    );
    let mut remaining = charts;
    for tf in &report.timeframes {
        timeframe_section(&mut html, tf, &mut remaining);
    }
    html.push_str("</body></html>\n");
    html
}

fn summary_table(html: &mut String, report: &Report) {
    let _ = writeln!(
        html,
        "<table id=\"summary\"><tr><th class=\"l\">Timeframe</th><th>v1 Row Count</th>\
         <th>v2 Row Count</th><th>Match</th><th>OHLC Tolerance ({:e})</th><th>Volume Match</th>\
         <th>Trade Count Match</th><th>Mismatches</th><th class=\"l\">Status</th></tr>",
        report.ohlc_tolerance
    );
    for tf in &report.timeframes {
        let class = if tf.verdict == crate::report::Verdict::Pass {
            "pass"
        } else {
            "fail"
        };
        let _ = writeln!(
            html,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td class=\"l {class}\">{}</td></tr>",
            tf.timeframe,
            tf.v1_rows,
            tf.v2_rows,
            mark(tf.rows_match),
            mark(tf.ohlc_within_tolerance),
            mark(tf.volume_match),
            mark(tf.trade_count_match),
            tf.mismatch_counts.total,
            status(tf.verdict),
        );
    }
    html.push_str("</table>\n");
}

fn timeframe_section(html: &mut String, tf: &TimeframeReport, remaining: &mut usize) {
    let _ = write!(
        html,
        "<h2>{} &mdash; {}</h2>\n<p>Range {} to {}. Volumes compared as {}.</p>\n",
        tf.timeframe,
        status(tf.verdict),
        escape(&tf.range.start),
        escape(&tf.range.end),
        escape(&tf.volume_comparison),
    );
    for note in &tf.notes {
        let _ = writeln!(html, "<p><em>{}</em></p>", escape(note));
    }
    if tf.mismatch_counts.total == 0 {
        return;
    }
    let c = &tf.mismatch_counts;
    let _ = writeln!(
        html,
        "<table><tr><th>mismatching candles</th><th>only in v1</th><th>only in v2</th>\
         <th>duplicate key</th><th>open</th><th>high</th><th>low</th><th>close</th>\
         <th>volume</th><th>trade count</th></tr><tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
        c.total,
        c.only_in_v1,
        c.only_in_v2,
        c.duplicate_key,
        c.open,
        c.high,
        c.low,
        c.close,
        c.volume,
        c.trade_count
    );
    html.push_str(
        "<table><tr><th class=\"l\">attribution</th><th class=\"l\">v1 cause</th>\
         <th class=\"l\">v2 cause</th><th>candles</th></tr>\n",
    );
    for a in &tf.attribution {
        let _ = writeln!(
            html,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td></tr>",
            escape(&a.verdict),
            escape(&a.v1_cause),
            escape(&a.v2_cause),
            a.candles
        );
    }
    html.push_str("</table>\n");
    if tf.mismatches_truncated {
        let _ = writeln!(
            html,
            "<p>First {} of {} mismatches:</p>",
            tf.mismatches.len(),
            c.total
        );
    }
    for m in &tf.mismatches {
        mismatch_block(html, m, *remaining > 0);
        *remaining = remaining.saturating_sub(1);
    }
}

fn mismatch_block(html: &mut String, m: &Mismatch, chart: bool) {
    let causes: Vec<String> = [("v1", &m.v1_cause), ("v2", &m.v2_cause)]
        .iter()
        .filter_map(|(side, cause)| cause.as_ref().map(|c| format!("{side}: {c}")))
        .collect();
    let _ = writeln!(
        html,
        "<div class=\"mismatch\"><h4>{} {} {}</h4><div>differs: {} &mdash; <b>{}</b> ({})</div>",
        escape(&m.exchange),
        escape(&m.symbol),
        escape(&m.window_start),
        escape(&m.kinds.join(", ")),
        escape(&m.attribution),
        escape(&causes.join("; ")),
    );
    if chart {
        html.push_str(&candle_chart(m));
    }
    html.push_str(
        "<table><tr><th class=\"l\"></th><th>open</th><th>high</th><th>low</th><th>close</th>\
         <th>volume</th><th>trades</th></tr>\n",
    );
    for (label, candle) in [("v1", &m.v1), ("v2", &m.v2), ("trades", &m.recomputed)] {
        match candle {
            Some(c) => {
                let _ = writeln!(
                    html,
                    "<tr><td class=\"l\">{label}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                     <td>{}</td><td>{}</td></tr>",
                    c.open,
                    c.high,
                    c.low,
                    c.close,
                    escape(&c.volume),
                    c.trade_count
                );
            }
            None => {
                let _ = writeln!(
                    html,
                    "<tr><td class=\"l\">{label}</td><td colspan=\"6\" class=\"l\">(none)</td></tr>"
                );
            }
        }
    }
    html.push_str("</table></div>\n");
}

/// An SVG with up to three candles side by side on one price axis.
pub fn candle_chart(m: &Mismatch) -> String {
    let candles: [(&str, &str, Option<&CandleValues>); 3] = [
        ("v1", V1_COLOR, m.v1.as_ref()),
        ("v2", V2_COLOR, m.v2.as_ref()),
        ("trades", TRADES_COLOR, m.recomputed.as_ref()),
    ];
    let present = candles.iter().filter_map(|(_, _, c)| *c);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for c in present {
        for v in [c.open, c.high, c.low, c.close] {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !lo.is_finite() || !hi.is_finite() {
        lo = 0.0;
        hi = 1.0;
    }
    // Keep a visible body when the candles are (nearly) flat.
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 1e-9).max(1e-12);
    let (lo, hi) = (lo - pad, hi + pad);
    let top = 14.0;
    let bottom = CHART_HEIGHT - 22.0;
    let y = |v: f64| bottom - (v - lo) / (hi - lo) * (bottom - top);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{CHART_WIDTH}\" \
         height=\"{CHART_HEIGHT}\" viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\">\
         <rect x=\"0\" y=\"0\" width=\"{CHART_WIDTH}\" height=\"{CHART_HEIGHT}\" fill=\"#fafafa\" stroke=\"#ccc\"/>\
         <text x=\"4\" y=\"11\" font-size=\"9\" fill=\"#555\">{}</text>\
         <text x=\"4\" y=\"{}\" font-size=\"9\" fill=\"#555\">{}</text>",
        format_price(hi),
        bottom + 10.0,
        format_price(lo),
    );
    let slot = CHART_WIDTH / 3.0;
    for (i, (label, color, candle)) in candles.iter().enumerate() {
        let cx = slot * (i as f64 + 0.5);
        let _ = write!(
            svg,
            "<text x=\"{cx}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#222\">{label}</text>",
            CHART_HEIGHT - 6.0
        );
        match candle {
            Some(c) => {
                let body_top = y(c.open.max(c.close));
                let body_height = (y(c.open.min(c.close)) - body_top).max(2.0);
                let _ = write!(
                    svg,
                    "<line x1=\"{cx}\" x2=\"{cx}\" y1=\"{:.2}\" y2=\"{:.2}\" stroke=\"{color}\" stroke-width=\"3\"/>\
                     <rect x=\"{:.2}\" y=\"{body_top:.2}\" width=\"36\" height=\"{body_height:.2}\" fill=\"{color}\"/>",
                    y(c.high),
                    y(c.low),
                    cx - 18.0,
                );
            }
            None => {
                let _ = write!(
                    svg,
                    "<rect x=\"{:.2}\" y=\"{top}\" width=\"36\" height=\"{:.2}\" fill=\"none\" \
                     stroke=\"{color}\" stroke-dasharray=\"4 3\"/><text x=\"{cx}\" y=\"{:.2}\" \
                     font-size=\"10\" text-anchor=\"middle\" fill=\"{color}\">missing</text>",
                    cx - 18.0,
                    bottom - top,
                    (top + bottom) / 2.0,
                );
            }
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn format_price(v: f64) -> String {
    format!("{v:.10}")
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candle(open: f64, close: f64) -> CandleValues {
        CandleValues {
            open,
            high: open.max(close) + 1.0,
            low: open.min(close) - 1.0,
            close,
            volume: "1.5".into(),
            trade_count: 3,
        }
    }

    #[test]
    fn chart_draws_each_side_and_marks_missing_ones() {
        let m = Mismatch {
            exchange: "binance".into(),
            symbol: "BTC/USDT".into(),
            window_start: "2024-01-01T00:00:00Z".into(),
            kinds: vec!["only_in_v2".into()],
            v1: None,
            v2: Some(candle(10.0, 11.0)),
            recomputed: Some(candle(10.0, 11.0)),
            attribution: "v1_wrong".into(),
            v1_cause: Some("missing_trades".into()),
            v2_cause: None,
        };
        let svg = candle_chart(&m);
        assert!(svg.contains(V2_COLOR) && svg.contains(TRADES_COLOR));
        assert!(svg.contains("missing"));
        assert_eq!(escape("<a&'>"), "&lt;a&amp;&#39;&gt;");
    }
}
