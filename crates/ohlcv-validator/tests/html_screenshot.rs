//! The HTML report renders in headless Chromium (Debian's `chromium` package: install it
//! with `apt-get install -y chromium`): a screenshot shows the summary table and the
//! mismatch charts in their colours.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ohlcv_validator::Timeframe;
use ohlcv_validator::html::{TRADES_COLOR, V1_COLOR, V2_COLOR};
use ohlcv_validator::report::{
    AttributionCount, CandleValues, Mismatch, MismatchCounts, Report, ReportRange, SCHEMA,
    TimeframeReport, Verdict,
};

fn candle(open: f64, close: f64) -> CandleValues {
    CandleValues {
        open,
        high: open.max(close) + 2.0,
        low: open.min(close) - 2.0,
        close,
        volume: "12.5".into(),
        trade_count: 40,
    }
}

fn sample_report() -> Report {
    let mismatch = Mismatch {
        exchange: "binance".into(),
        symbol: "BTC/USDT".into(),
        window_start: "2024-03-01T00:14:00Z".into(),
        kinds: vec!["open".into()],
        v1: Some(candle(105.0, 110.0)),
        v2: Some(candle(101.0, 110.0)),
        recomputed: Some(candle(101.0, 110.0)),
        attribution: "v1_wrong".into(),
        v1_cause: Some("tie_ordering".into()),
        v2_cause: None,
    };
    let range = ReportRange {
        start: "2024-03-01T00:00:00Z".into(),
        end: "2024-03-01T03:00:00Z".into(),
    };
    let timeframe = |tf: Timeframe, mismatches: Vec<Mismatch>| TimeframeReport {
        timeframe: tf,
        range: range.clone(),
        v1_rows: 720,
        v2_rows: 720,
        rows_match: true,
        ohlc_within_tolerance: mismatches.is_empty(),
        volume_match: true,
        trade_count_match: true,
        verdict: if mismatches.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        volume_comparison: "float".into(),
        v1_checksum: "00".into(),
        v2_checksum: "00".into(),
        mismatch_counts: MismatchCounts {
            total: mismatches.len() as u64,
            open: mismatches.len() as u64,
            ..MismatchCounts::default()
        },
        attribution: if mismatches.is_empty() {
            vec![]
        } else {
            vec![AttributionCount {
                verdict: "v1_wrong".into(),
                v1_cause: "tie_ordering".into(),
                v2_cause: String::new(),
                candles: 1,
            }]
        },
        mismatches,
        mismatches_truncated: false,
        notes: vec![],
    };
    let timeframes = vec![
        timeframe(Timeframe::M1, vec![mismatch]),
        timeframe(Timeframe::H1, vec![]),
    ];
    Report {
        schema: SCHEMA.into(),
        generated_at: "2024-03-02T00:00:00Z".into(),
        verdict: Verdict::Fail,
        range: range.clone(),
        fingerprint: "0".repeat(64),
        ohlc_tolerance: 1e-8,
        volume_tolerance: 1e-8,
        timeframes,
    }
}

fn rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

#[test]
fn html_report_renders_table_and_charts_in_headless_chromium() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok())
        .unwrap_or_else(|| panic!("no chromium binary: run `apt-get install -y chromium`"));
    // Kept after the run for a look: target/tmp/ohlcv-validator-report/shot.png.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ohlcv-validator-report");
    std::fs::create_dir_all(&dir).unwrap();
    let dir = tempfile::TempDir::new_in(&dir).unwrap().keep();
    let html_path = dir.as_path().join("report.html");
    let png_path = dir.as_path().join("shot.png");
    std::fs::write(&html_path, sample_report().to_html()).unwrap();
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1000,1400",
            &format!("--screenshot={}", png_path.display()),
            &format!("file://{}", html_path.display()),
        ])
        .env("HOME", &dir)
        .output()
        .unwrap();
    assert!(
        png_path.exists(),
        "chromium wrote no screenshot: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let channels = frame.color_type.samples();
    let (width, height) = (frame.width as usize, frame.height as usize);
    let at = |x: usize, y: usize| {
        let i = (y * width + x) * channels;
        [pixels[i], pixels[i + 1], pixels[i + 2]]
    };
    // Count pixels of a colour, and the lowest row where it appears.
    let census = |color: [u8; 3]| {
        let (mut count, mut first_row) = (0usize, usize::MAX);
        for y in 0..height {
            for x in 0..width {
                let p = at(x, y);
                if (0..3).all(|c| p[c].abs_diff(color[c]) <= 6) {
                    count += 1;
                    first_row = first_row.min(y);
                }
            }
        }
        (count, first_row)
    };
    // The summary table: its header cells are #eee and its borders #999.
    let (header_cells, table_top) = census([0xee, 0xee, 0xee]);
    let (borders, _) = census([0x99, 0x99, 0x99]);
    assert!(
        header_cells > 2_000,
        "no table header drawn ({header_cells} px)"
    );
    assert!(borders > 500, "no table borders drawn ({borders} px)");
    // The chart: each candle is far larger than its 12x12 legend swatch, and below the table.
    for (name, color) in [("v1", V1_COLOR), ("v2", V2_COLOR), ("trades", TRADES_COLOR)] {
        let (count, top) = census(rgb(color));
        assert!(
            count > 1_000,
            "{name} candle not drawn ({count} px of {color})"
        );
        assert!(top > table_top, "{name} colour appears above the table");
    }
    // Not blank: most of the page is background, but not all of it.
    let (white, _) = census([0xff, 0xff, 0xff]);
    assert!(white < width * height, "blank screenshot");
}
