//! The Grafana dashboards (dashboards/*.json) as data: their panels' queries, with Grafana's
//! variables substituted as Grafana would for one selected domain.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The dashboards directory.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

/// Every dashboard: (file name, JSON), sorted by file name.
pub fn all() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), json)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// One panel query: where it is and its PromQL as written.
#[derive(Debug, Clone)]
pub struct PanelQuery {
    /// `file: panel title [refId]`.
    pub place: String,
    /// The expression with Grafana's variables.
    pub expr: String,
}

/// Every target of every panel of `dashboard`.
pub fn queries(file: &str, dashboard: &Value) -> Vec<PanelQuery> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        for t in panel["targets"].as_array().into_iter().flatten() {
            out.push(PanelQuery {
                place: format!(
                    "{file}: {} [{}]",
                    panel["title"].as_str().unwrap_or("?"),
                    t["refId"].as_str().unwrap_or("?")
                ),
                expr: t["expr"].as_str().unwrap_or_default().to_owned(),
            });
        }
    }
    out
}

/// The values Grafana gives its variables, for one selected domain: `$__rate_interval` and
/// `$__interval` as for a short time range with a 1 s scrape interval, `$__range` as a 1 h range.
pub fn substitute(expr: &str, domain: &str) -> String {
    let out = expr
        .replace("${domain}", domain)
        .replace("$domain", domain)
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h");
    assert!(!out.contains('$'), "a variable left in {out}");
    out
}

/// The metric names an expression reads: `senderscope_*` and `process_*` words that are not
/// followed by `(` (functions) — histogram suffixes stripped to the family name.
pub fn metric_names(expr: &str) -> Vec<String> {
    let bytes = expr.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            // A label name inside `{…}` or `by (…)` is not a metric; metrics here all have prefixes.
            let word = &expr[start..i];
            if word.starts_with("senderscope_") || word.starts_with("process_") {
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| word.strip_suffix(s))
                    .unwrap_or(word);
                names.push(family.to_owned());
            }
        } else {
            i += 1;
        }
    }
    names.sort();
    names.dedup();
    names
}
