//! `senderscope check` end to end: the real binary against nsd serving tests/fixtures/zones/*.cli.test.
//!
//! DKIM and DMARC checks; they cannot pass while those modules are stubs in this branch.

use serde_json::Value;

use crate::harness::cli::{Run, senderscope};
use crate::harness::free_port;
use crate::harness::nsd::Nsd;

const ZONES: &[&str] = &[
    "ok.cli.test",
    "warn.cli.test",
    "crit.cli.test",
    // PTR 203.0.113.225 → mail.ok.cli.test (forward-confirmed).
    "225.113.0.203.in-addr.arpa",
    // PTR 203.0.113.226 → elsewhere.warn.cli.test, which resolves to another address.
    "226.113.0.203.in-addr.arpa",
];

async fn nsd() -> Nsd {
    // The `test` TLD too: the DMARC walk and the BIMI fallback look above the domains.
    let mut zones = Nsd::fixtures(ZONES);
    zones.push(Nsd::test_tld());
    Nsd::serve(&zones).await
}

fn check_json(nameserver: &str, extra: &[&str]) -> Run {
    let mut args = vec!["check", "--nameserver", nameserver, "--format", "json"];
    args.extend_from_slice(extra);
    senderscope(&args)
}

fn domain<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["domain"] == name)
        .unwrap_or_else(|| panic!("{name} not in {report}"))
}

fn check<'a>(domain: &'a Value, name: &str) -> &'a Value {
    domain["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("check {name} not in {domain}"))
}

fn codes(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_codes(value, &mut out);
    out
}

fn collect_codes(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(findings)) = map.get("findings") {
                for f in findings {
                    out.push(f["code"].as_str().unwrap().to_owned());
                }
            }
            for v in map.values() {
                collect_codes(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_codes(v, out)),
        _ => {}
    }
}

fn requirement_ids(domain: &Value, list: &str) -> Vec<String> {
    let bulk = check(domain, "bulk_sender");
    bulk["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["detail"][list].as_array().cloned().unwrap_or_default())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

const SEVERITIES: &[&str] = &["ok", "info", "warning", "unknown", "critical"];

fn rank(status: &Value) -> usize {
    let s = status.as_str().unwrap();
    SEVERITIES
        .iter()
        .position(|x| *x == s)
        .unwrap_or_else(|| panic!("unknown status {s}"))
}

#[tokio::test]
async fn json_report_has_the_design_shape() {
    let nsd = nsd().await;
    let ns = nsd.addr().to_string();
    let run = check_json(
        &ns,
        &[
            "ok.cli.test",
            "--ip",
            "203.0.113.225",
            "--dkim-selector",
            "s1",
        ],
    );
    let report = run.json();
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&report), ["domains", "ips", "status"]);
    let domains = report["domains"].as_array().unwrap();
    assert_eq!(domains.len(), 1);
    let d = &domains[0];
    assert_eq!(keys(d), ["checks", "domain", "status"]);
    assert_eq!(d["domain"], "ok.cli.test");
    let names: Vec<&str> = d["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "spf",
            "dkim",
            "dmarc",
            "mx",
            "mta_sts",
            "tls_rpt",
            "bimi",
            "bulk_sender"
        ]
    );
    let mut worst_check = 0;
    for c in d["checks"].as_array().unwrap() {
        assert_eq!(keys(c), ["check", "findings", "record", "status"]);
        assert!(c["record"].is_null() || c["record"].is_string());
        let mut worst_finding = 0;
        for f in c["findings"].as_array().unwrap() {
            assert_eq!(keys(f), ["code", "detail", "message", "severity"]);
            worst_finding = worst_finding.max(rank(&f["severity"]));
        }
        assert_eq!(rank(&c["status"]), worst_finding, "{c}");
        worst_check = worst_check.max(rank(&c["status"]));
    }
    assert_eq!(rank(&d["status"]), worst_check);

    let ips = report["ips"].as_array().unwrap();
    assert_eq!(ips.len(), 1);
    assert_eq!(keys(&ips[0]), ["fcrdns", "findings", "ip", "ptr", "status"]);
    assert_eq!(ips[0]["ip"], "203.0.113.225");
    assert_eq!(ips[0]["ptr"], "mail.ok.cli.test");
    assert_eq!(ips[0]["fcrdns"], true);
    assert_eq!(ips[0]["status"], "ok");
    // Every bulk-sender requirement (PTR included) is met: the summary has nothing to say.
    assert_eq!(check(d, "bulk_sender")["findings"], serde_json::json!([]));

    assert_eq!(
        rank(&report["status"]),
        rank(&d["status"]).max(rank(&ips[0]["status"]))
    );
    let expected_code = [0, 0, 1, 3, 2][rank(&report["status"])];
    assert_eq!(run.code, expected_code, "{}", run.stdout);
}

#[tokio::test]
async fn ip_without_forward_confirmation_is_flagged_once_for_all_domains() {
    let nsd = nsd().await;
    let ns = nsd.addr().to_string();
    let run = check_json(
        &ns,
        &["ok.cli.test", "warn.cli.test", "--ip", "203.0.113.226"],
    );
    let report = run.json();
    let ips = report["ips"].as_array().unwrap();
    assert_eq!(ips.len(), 1, "{report}");
    assert_eq!(ips[0]["ptr"], "elsewhere.warn.cli.test");
    assert_eq!(ips[0]["fcrdns"], false);
    assert_eq!(codes(&ips[0]), ["ptr.fcrdns_mismatch"]);
    for name in ["ok.cli.test", "warn.cli.test"] {
        assert!(
            requirement_ids(domain(&report, name), "missing").contains(&"ptr".to_owned()),
            "{report}"
        );
    }
    assert!(
        run.code >= 1,
        "a missing bulk-sender requirement is at least a warning"
    );
}

#[tokio::test]
async fn unreachable_nameserver_is_unknown_and_never_missing() {
    // Nothing listens there: every lookup times out.
    let dead = format!("127.0.0.1:{}", free_port());
    let run = check_json(&dead, &["ok.cli.test", "--ip", "203.0.113.225"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["status"], "unknown");
    let ip = &report["ips"][0];
    assert_eq!(ip["status"], "unknown");
    assert_eq!(codes(ip), ["ptr.lookup_failed"]);
    assert!(
        codes(&report).iter().all(|c| !c.ends_with(".missing")),
        "{report}"
    );
    let d = domain(&report, "ok.cli.test");
    assert!(requirement_ids(d, "unverified").contains(&"ptr".to_owned()));
    assert!(!requirement_ids(d, "missing").contains(&"ptr".to_owned()));
}

#[tokio::test]
async fn unreachable_nameserver_makes_every_check_unknown() {
    let dead = format!("127.0.0.1:{}", free_port());
    let run = check_json(&dead, &["ok.cli.test", "--dkim-selector", "s1"]);
    assert_eq!(run.code, 3);
    let report = run.json();
    let d = domain(&report, "ok.cli.test");
    for name in ["spf", "dkim", "dmarc", "mx", "tls_rpt"] {
        let c = check(d, name);
        assert_eq!(c["status"], "unknown", "{c}");
        assert!(codes(c).contains(&format!("{name}.lookup_failed")), "{c}");
    }
    assert!(requirement_ids(d, "missing").is_empty(), "{d}");
    assert_eq!(
        requirement_ids(d, "unverified"),
        ["spf", "dkim", "dmarc", "dmarc_alignment"]
    );
}

#[test]
fn bad_arguments_exit_unknown() {
    for args in [
        &["check"][..],
        &["check", "not a domain"],
        &["check", "ok.cli.test", "--ip", "203.0.113"],
        &["check", "ok.cli.test", "--format", "yaml"],
        &["check", "ok.cli.test", "--bogus"],
        &["check", "ok.cli.test", "--nameserver", "127.0.0.1:99999"],
        &["check", "ok.cli.test", "--dkim-selector", "a b"],
    ] {
        let run = senderscope(args);
        assert_eq!(run.code, 3, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(run.stderr.contains("error"), "{args:?}: {}", run.stderr);
    }
    assert_eq!(senderscope(&["check", "--help"]).code, 0);
}

#[tokio::test]
async fn text_report_shows_status_checks_and_ips() {
    let nsd = nsd().await;
    let ns = nsd.addr().to_string();
    let run = senderscope(&[
        "check",
        "ok.cli.test",
        "--nameserver",
        &ns,
        "--ip",
        "203.0.113.225",
        "--ip",
        "203.0.113.226",
    ]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].ends_with(" ok.cli.test"), "{}", run.stdout);
    assert!(
        lines.iter().any(|l| l.contains(" bulk_sender")),
        "{}",
        run.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("IP 203.0.113.225  PTR mail.ok.cli.test (forward-confirmed)")),
        "{}",
        run.stdout
    );
    assert!(
        lines.iter().any(|l| l.contains("ptr.fcrdns_mismatch: ")),
        "{}",
        run.stdout
    );
    let last = lines.last().unwrap();
    assert!(last.ends_with(": 1 domain, 2 IPs"), "{last}");
    let status = last.split(':').next().unwrap();
    let expected = match status {
        "OK" | "INFO" => 0,
        "WARNING" => 1,
        "CRITICAL" => 2,
        "UNKNOWN" => 3,
        other => panic!("status {other}"),
    };
    assert_eq!(run.code, expected);
}

#[tokio::test]
async fn clean_domain_exits_ok() {
    // Assumes mta_sts.missing and bimi.missing are info (a clean domain per issue 7 has no warnings).
    let nsd = nsd().await;
    let run = check_json(
        &nsd.addr().to_string(),
        &[
            "ok.cli.test",
            "--ip",
            "203.0.113.225",
            "--dkim-selector",
            "s1",
        ],
    );
    let report = run.json();
    assert_eq!(run.code, 0, "{report:#}");
    let d = domain(&report, "ok.cli.test");
    assert!(
        check(d, "bulk_sender")["findings"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{d}"
    );
    for name in ["spf", "dkim", "dmarc", "mx", "tls_rpt"] {
        assert_eq!(check(d, name)["status"], "ok", "{d}");
    }
    assert!(
        check(d, "spf")["record"]
            .as_str()
            .unwrap()
            .starts_with("v=spf1 ")
    );
}

#[tokio::test]
async fn warnings_exit_1() {
    let nsd = nsd().await;
    let run = check_json(
        &nsd.addr().to_string(),
        &[
            "warn.cli.test",
            "--ip",
            "203.0.113.225",
            "--dkim-selector",
            "s1",
        ],
    );
    let report = run.json();
    assert_eq!(run.code, 1, "{report:#}");
    assert_eq!(report["status"], "warning");
    let d = domain(&report, "warn.cli.test");
    assert!(
        codes(check(d, "spf")).contains(&"spf.neutral_all".to_owned()),
        "{d}"
    );
    assert!(
        codes(check(d, "dmarc")).contains(&"dmarc.policy_none".to_owned()),
        "{d}"
    );
}

#[tokio::test]
async fn missing_spf_is_critical_and_decides_the_exit_code() {
    let nsd = nsd().await;
    let run = check_json(
        &nsd.addr().to_string(),
        &["ok.cli.test", "crit.cli.test", "--dkim-selector", "s1"],
    );
    let report = run.json();
    assert_eq!(run.code, 2, "{report:#}");
    assert_eq!(report["status"], "critical");
    let d = domain(&report, "crit.cli.test");
    assert_eq!(check(d, "spf")["status"], "critical");
    assert!(codes(check(d, "spf")).contains(&"spf.missing".to_owned()));
    assert!(codes(check(d, "dmarc")).contains(&"dmarc.missing".to_owned()));
    assert_eq!(requirement_ids(d, "missing"), ["spf", "dmarc"]);
}
