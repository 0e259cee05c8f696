//! docs/findings.md documents exactly the codes in `FindingCode::ALL`: a code missing from the doc, a
//! section for a code that does not exist, or a code named in passing that does not exist fails here.
//! Severities are kept in step too: every `(code, severity)` the source names literally, and every one
//! the posture checks emit against nsd serving all of tests/fixtures/zones, must be one the code's
//! `**Severity:**` line names.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use senderscope::checks::DomainContext;
use senderscope::checks::mta_sts::PolicyFetcher;
use senderscope::config::DomainName;
use senderscope::dns::Resolver;
use senderscope::findings::{FindingCode, Severity};
use senderscope::posture;

use crate::harness::https::{HttpsServer, Reply, TestCa};
use crate::harness::nsd::Nsd;

const DOC: &str = include_str!("../../docs/findings.md");

/// `(check group, code, section text)` for every `### \`code\`` section, in order.
fn sections() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut group = String::new();
    let mut current: Option<(String, String, String)> = None;
    for line in DOC.lines() {
        if let Some(g) = line.strip_prefix("## ") {
            out.extend(current.take());
            group = g.trim().to_owned();
        } else if let Some(h) = line.strip_prefix("### ") {
            out.extend(current.take());
            let code = h
                .trim()
                .strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .unwrap_or_else(|| panic!("code heading not in backticks: {line}"));
            current = Some((group.clone(), code.to_owned(), String::new()));
        } else if let Some((_, _, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out.extend(current);
    out
}

#[test]
fn every_code_is_documented_and_every_documented_code_exists() {
    let documented: Vec<String> = sections().into_iter().map(|(_, code, _)| code).collect();
    let known: BTreeSet<&str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
    let unique: BTreeSet<&str> = documented.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), documented.len(), "a code is documented twice");
    let missing: Vec<&&str> = known.difference(&unique).collect();
    let unknown: Vec<&&str> = unique.difference(&known).collect();
    assert!(
        missing.is_empty(),
        "codes not in docs/findings.md: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/findings.md documents codes that do not exist: {unknown:?}"
    );
}

#[test]
fn codes_are_grouped_by_check_with_meaning_severity_example_and_fix() {
    let severities: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    for (group, code, text) in sections() {
        let prefix = code.split('.').next().unwrap();
        assert_eq!(group, prefix, "{code} is documented under `## {group}`");
        for field in ["**Severity:**", "**Meaning:**", "**Example:**", "**Fix:**"] {
            assert!(text.contains(field), "{code} has no {field}");
        }
        let severity = text
            .split("**Severity:**")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap();
        assert!(
            severities.contains(&severity),
            "{code}: severity starts with {severity:?}, not one of {severities:?}"
        );
        let example = text.split("**Example:**").nth(1).unwrap().trim_start();
        assert!(
            example.starts_with('"'),
            "{code}: the example is a quoted message"
        );
    }
}

#[test]
fn codes_named_in_passing_exist() {
    let known: BTreeSet<&str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
    let checks: BTreeSet<&str> = known.iter().map(|c| c.split('.').next().unwrap()).collect();
    // Every `check.condition` in backticks whose first part is a check's name must be a real code.
    for (i, quoted) in DOC.split('`').enumerate() {
        if i % 2 == 0 {
            continue;
        }
        let Some((check, condition)) = quoted.split_once('.') else {
            continue;
        };
        let looks_like_code = checks.contains(check)
            && !condition.is_empty()
            && condition
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if looks_like_code {
            assert!(
                known.contains(quoted),
                "docs/findings.md names `{quoted}`, which is no code"
            );
        }
    }
}

/// The severities each code's `**Severity:**` line names ("warning (critical under 1024 bits)" names
/// warning and critical).
fn documented_severities() -> BTreeMap<String, BTreeSet<Severity>> {
    sections()
        .into_iter()
        .map(|(_, code, text)| {
            let line = text
                .split("**Severity:**")
                .nth(1)
                .and_then(|rest| rest.split("- **").next())
                .unwrap_or("");
            let named = line
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter_map(|word| Severity::ALL.into_iter().find(|s| s.as_str() == word))
                .collect();
            (code, named)
        })
        .collect()
}

/// Every emitted `(code, severity)` must be one the doc names for that code.
fn assert_documented(emitted: &BTreeMap<(FindingCode, Severity), String>, origin: &str) {
    let documented = documented_severities();
    let undocumented: Vec<String> = emitted
        .iter()
        .filter(|((code, severity), _)| {
            !documented
                .get(code.as_str())
                .is_some_and(|named| named.contains(severity))
        })
        .map(|((code, severity), example)| format!("{code} {severity} ({origin}: {example})"))
        .collect();
    assert!(
        undocumented.is_empty(),
        "severities emitted but not named on the code's Severity: line in docs/findings.md:\n{}",
        undocumented.join("\n")
    );
}

/// `FindingCode::X` directly followed by `, Severity::Y` in the source (a `Finding::new` with a literal
/// severity, or a table or test asserting one), as `(code, severity) → file`.
fn literal_pairs_in(dir: &Path, out: &mut BTreeMap<(FindingCode, Severity), String>) {
    let codes: BTreeMap<String, FindingCode> = FindingCode::ALL
        .iter()
        .map(|c| (format!("{c:?}"), *c))
        .collect();
    let severities: BTreeMap<String, Severity> = Severity::ALL
        .iter()
        .map(|s| (format!("{s:?}"), *s))
        .collect();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            literal_pairs_in(&path, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source: String = std::fs::read_to_string(&path)
            .unwrap()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for (at, _) in source.match_indices("FindingCode::") {
            let rest = &source[at + "FindingCode::".len()..];
            let variant = ident(rest);
            let Some(after) = rest[variant.len()..].strip_prefix(",Severity::") else {
                continue;
            };
            if let (Some(code), Some(severity)) =
                (codes.get(&variant), severities.get(&ident(after)))
            {
                out.entry((*code, *severity))
                    .or_insert_with(|| path.display().to_string());
            }
        }
    }
}

#[test]
fn literal_severities_in_the_source_are_documented() {
    let mut pairs = BTreeMap::new();
    literal_pairs_in(Path::new("src"), &mut pairs);
    // The scan must find something, or a change of style would make this test vacuous.
    assert!(pairs.len() > 50, "only {} literal pairs found", pairs.len());
    assert_documented(&pairs, "literal in");
}

/// Selectors of tests/posture/dkim.rs, asked of every domain (most are missing, which is a finding too).
const SELECTORS: [&str; 10] = [
    "rsa2048",
    "ed25519",
    "s1",
    "absent",
    "notdkim",
    "badtype",
    "duplicate",
    "old",
    "k512",
    "k1024",
];

/// Sending IPs of the SPF, PTR and CLI suites (their reverse zones are in tests/fixtures/zones).
const IPS: [&str; 13] = [
    "192.0.2.10",
    "192.0.2.11",
    "192.0.2.12",
    "192.0.2.13",
    "192.0.2.14",
    "198.51.100.1",
    "198.51.100.20",
    "203.0.113.225",
    "203.0.113.226",
    "2001:db8::10",
    "2001:db8::11",
    "2001:db8::12",
    "2001:db8::25",
];

/// Names the suites check beside the zones' apexes (`unserved.test` is in no zone: REFUSED).
const EXTRA_DOMAINS: [&str; 4] = [
    "mail.inherited.dmarc.test",
    "near-miss.missing.spf.test",
    "nx.missing.spf.test",
    "unserved.test",
];

/// Codes no posture fixture can produce: no DNS server sends a string over 255 bytes, record history
/// and the selectors seen in reports live in the daemon (tests/analysis), blocklists have their own
/// suite (rbldnsd).
const NOT_FROM_POSTURE_ZONES: [&str; 3] = [
    "spf.string_too_long",
    "record.changed",
    "dkim.selector_unmonitored",
];

/// Every fixture zone served by one nsd, every posture check of every fixture domain (with all selectors
/// and sending IPs, and with none), once with the `test` TLD (parents NXDOMAIN) and once without (parents REFUSED,
/// which is how the suites provoke lookup failures). MTA-STS policies come from the loopback HTTPS
/// server, as in tests/posture/mta_sts.rs.
#[tokio::test]
async fn severities_emitted_against_nsd_are_documented() {
    let dir = Path::new("tests/fixtures/zones");
    let mut zones: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            Some((
                p.file_name()?.to_str()?.strip_suffix(".zone")?.to_owned(),
                p,
            ))
        })
        .filter(|(name, _)| name != "test")
        .collect();
    zones.sort();
    let mut domains: Vec<String> = zones
        .iter()
        .map(|(name, _)| name.clone())
        .filter(|name| !name.ends_with(".arpa"))
        .chain(EXTRA_DOMAINS.iter().map(|d| d.to_string()))
        .collect();
    domains.sort();

    let ca = TestCa::new("senderscope test CA");
    let policies = [
        (
            "clean",
            "enforce",
            "mx1.clean.mta-sts.test\r\nmx: *.backup.clean.mta-sts.test",
        ),
        ("syntax", "enforce", "*.syntax.mta-sts.test"),
        ("testing", "testing", "mx.testing.mta-sts.test"),
        ("uncovered", "enforce", "mx1.uncovered.mta-sts.test"),
    ];
    let hosts: Vec<String> = policies
        .iter()
        .map(|(d, _, _)| format!("mta-sts.{d}.mta-sts.test"))
        .chain(["mta-sts.bad-policy.mta-sts.test".to_owned()])
        .collect();
    let leaf = ca.issue(&hosts.iter().map(String::as_str).collect::<Vec<_>>());
    let mut replies: Vec<(&str, Reply)> = policies
        .iter()
        .zip(&hosts)
        .map(|((_, mode, mx), host)| {
            let body = format!("version: STSv1\r\nmode: {mode}\r\nmx: {mx}\r\nmax_age: 604800\r\n");
            (host.as_str(), Reply::policy(&body))
        })
        .collect();
    replies.push((
        hosts[4].as_str(),
        Reply::policy("version: STSv1\nmode: enforced\nmx: mx.bad-policy.mta-sts.test\n"),
    ));
    let server = HttpsServer::start(&leaf, &[], &replies).await;
    let https = PolicyFetcher::default()
        .with_port(server.port())
        .with_root_certificate_pem(ca.root_pem())
        .unwrap()
        .with_timeout(Duration::from_secs(5));

    let mut emitted: BTreeMap<(FindingCode, Severity), String> = BTreeMap::new();
    let mut messages: BTreeSet<String> = BTreeSet::new();
    for with_tld in [false, true] {
        let mut served = zones.clone();
        if with_tld {
            served.push(Nsd::test_tld());
        }
        let nsd = Nsd::serve(&served).await;
        let round = Resolver::new(&nsd.settings()).unwrap().round();
        // Each domain twice: with every selector and sending IP, and with none (what the configuration
        // leaves unchecked is a finding too).
        let contexts = domains.iter().flat_map(|d| {
            [true, false].map(|configured| DomainContext {
                domain: DomainName::parse(d).unwrap(),
                dkim_selectors: SELECTORS
                    .iter()
                    .filter(|_| configured)
                    .map(|s| s.to_string())
                    .collect(),
                sending_ips: IPS
                    .iter()
                    .filter(|_| configured)
                    .map(|ip| ip.parse::<IpAddr>().unwrap())
                    .collect(),
                dns: round.clone(),
                https: https.clone(),
            })
        });
        for report in posture::check_domains(contexts, 16).await {
            let findings = report
                .checks
                .iter()
                .flat_map(|c| &c.findings)
                .chain(report.ips.iter().flat_map(|ip| &ip.findings));
            for f in findings {
                messages.insert(format!(
                    "{}\t{}\t{}\t{}",
                    f.code, f.severity, report.domain, f.message
                ));
                emitted
                    .entry((f.code, f.severity))
                    .or_insert_with(|| format!("{}: {}", report.domain, f.message));
            }
        }
    }
    // `FINDINGS_EXAMPLES=FILE cargo test findings_doc` writes every message emitted (code, severity,
    // domain, message; tab-separated), where the doc's examples come from.
    if let Some(path) = std::env::var_os("FINDINGS_EXAMPLES") {
        let lines: String = messages.iter().map(|m| format!("{m}\n")).collect();
        std::fs::write(path, lines).unwrap();
    }
    assert_documented(&emitted, "emitted for");

    // Coverage, so the test cannot pass by emitting little: every posture code shows up.
    let seen: BTreeSet<&str> = emitted.keys().map(|(c, _)| c.as_str()).collect();
    let unseen: Vec<&str> = FindingCode::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !c.starts_with("blocklist.") && !NOT_FROM_POSTURE_ZONES.contains(c))
        .filter(|c| !seen.contains(c))
        .collect();
    assert!(
        unseen.is_empty(),
        "posture codes no fixture produced: {unseen:?}"
    );
}
