//! The shipped Prometheus rules (alerts/senderscope.rules.yml): `promtool check rules` and
//! `promtool test rules` over alerts/tests/*.yml pass, every alert has its runbook section, and every
//! metric the rules read is one the daemon registers or one the report, event and ingest pipelines
//! are to export (docs/metrics.md).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn promtool(args: &[&str], files: &[PathBuf]) {
    let out = Command::new("promtool")
        .args(args)
        .args(files)
        .current_dir(repo())
        .output()
        .expect("promtool runs (apt-get install prometheus)");
    assert!(
        out.status.success(),
        "promtool {}:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rules_file() -> PathBuf {
    repo().join("alerts/senderscope.rules.yml")
}

#[test]
fn promtool_checks_the_rules() {
    promtool(&["check", "rules"], &[rules_file()]);
}

#[test]
fn promtool_unit_tests_pass() {
    let mut tests: Vec<PathBuf> = std::fs::read_dir(repo().join("alerts/tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    tests.sort();
    assert!(tests.len() >= 3, "{tests:?}");
    promtool(&["test", "rules"], &tests);
}

fn alertnames(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_prometheus_alert_has_a_runbook_section_and_a_matching_link() {
    let rules = std::fs::read_to_string(rules_file()).unwrap();
    let runbooks = std::fs::read_to_string(repo().join("docs/runbooks.md")).unwrap();
    for name in alertnames(&rules) {
        assert!(
            runbooks.lines().any(|l| l == format!("## {name}")),
            "docs/runbooks.md has no section for {name}"
        );
        assert!(
            rules.contains(&format!("docs/runbooks.md#{}\"", name.to_lowercase())),
            "{name}'s runbook_url does not point at its section"
        );
    }
}

#[test]
fn the_rules_read_only_known_metrics() {
    let rules = std::fs::read_to_string(rules_file()).unwrap();
    let registered: BTreeSet<String> = senderscope::metrics::Metrics::new()
        .unwrap()
        .family_names()
        .iter()
        .cloned()
        .collect();
    // Exported by the report, event and ingest pipelines (docs/metrics.md once they land).
    let coming = [
        "senderscope_dmarc_messages_total",
        "senderscope_bounce_rate",
        "senderscope_complaint_rate",
        "senderscope_ingest_total",
    ];
    let used: BTreeSet<String> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("senderscope_"))
        .map(str::to_owned)
        .collect();
    for name in used {
        assert!(
            registered.contains(&name) || coming.contains(&name.as_str()),
            "{name} is neither registered nor expected"
        );
    }
}
