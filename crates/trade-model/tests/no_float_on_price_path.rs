//! No binary float anywhere in this crate's source: prices and quantities are parsed from
//! text into integers, and nothing else here needs a float either, so the check is simply
//! "no `f32`/`f64` token outside comments".
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

fn scan(dir: &Path, offenders: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scan(&path, offenders);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for (number, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                let tokens = code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
                if tokens
                    .into_iter()
                    .any(|t| t == "f64" || t == "f32" || t.ends_with("_f64") || t.ends_with("_f32"))
                {
                    offenders.push(format!(
                        "{}:{}: {}",
                        path.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
}

#[test]
fn no_float_in_trade_model_sources() {
    let mut offenders = Vec::new();
    scan(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut offenders,
    );
    assert!(
        offenders.is_empty(),
        "float on the price path:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_scan_catches_a_float() {
    let dir = std::env::temp_dir().join(format!("trade-model-float-scan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bad.rs"),
        "let p: f64 = text.parse::<f64>()?; // f64 in a comment is fine\n",
    )
    .unwrap();
    let mut offenders = Vec::new();
    scan(&dir, &mut offenders);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(offenders.len(), 1);
}
