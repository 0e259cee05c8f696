//! Record history of a domain round: the published values one round read — one per DNS name, so each
//! DKIM selector and each sending IP's PTR has its own history — and the info `record.changed` finding
//! for a value that differs from the one before it.
//!
//! A change stays reported for [`CHANGE_REPORTED_FOR`] after it was first seen, not only in the round
//! that saw it: with checks every 15 minutes a one-round finding would be gone before anyone asking
//! "what changed?" could see it. The history itself is kept for `state.retention`.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::json;

use super::id::CheckId;
use crate::dns::reverse_name;
use crate::findings::{CheckReport, Finding, FindingCode, Severity};
use crate::posture::DomainReport;
use crate::store::{RecordChange, RecordObservation};

/// How long a `record.changed` finding stays on its check after the change was first seen: a day, so a
/// daily look at the status page or a dashboard still shows it; after that it is history only.
pub const CHANGE_REPORTED_FOR: Duration = Duration::from_secs(24 * 3600);

/// Values longer than this are shortened in messages (the finding's detail keeps them whole).
const MESSAGE_VALUE_CHARS: usize = 100;

/// The DNS name a domain check reads its record from (the record history's `name`).
fn record_name(check: CheckId, domain: &str) -> Option<String> {
    match check {
        CheckId::Spf | CheckId::Mx => Some(domain.to_owned()),
        CheckId::Dmarc => Some(format!("_dmarc.{domain}")),
        CheckId::MtaSts => Some(format!("_mta-sts.{domain}")),
        CheckId::TlsRpt => Some(format!("_smtp._tls.{domain}")),
        CheckId::Bimi => Some(format!("default._bimi.{domain}")),
        // One name per selector (see dkim_values); the summaries and IP checks read no record here.
        _ => None,
    }
}

/// Whether a finding says "could not check".
fn unknown(f: &Finding) -> bool {
    f.severity == Severity::Unknown
}

/// The values a round read, as record-history observations at `at` (Unix seconds).
///
/// A record that is gone is observed as "" so its removal (and return) is a change too — but only when
/// the check could see: after a failed lookup "no record" means "unknown", and recording it would report
/// a false change when DNS comes back.
pub(super) fn observations(
    report: &DomainReport,
    dkim_selectors: &[String],
    at: i64,
) -> Vec<RecordObservation> {
    let domain = report.domain.as_str();
    let mut out = Vec::new();
    let mut push = |target: &str, check: CheckId, name: String, value: String| {
        out.push(RecordObservation {
            target: target.to_owned(),
            check,
            name,
            value,
            seen_at: at,
        });
    };
    for r in &report.checks {
        if r.check == CheckId::Dkim {
            for (name, value) in dkim_values(r, domain, dkim_selectors) {
                push(domain, r.check, name, value);
            }
            continue;
        }
        if r.record.is_none() && r.findings.iter().any(unknown) {
            continue;
        }
        if let Some(name) = record_name(r.check, domain) {
            push(domain, r.check, name, r.record.clone().unwrap_or_default());
        }
    }
    for ip in &report.ips {
        if ip.ptr.is_none() && ip.findings.iter().any(unknown) {
            continue;
        }
        push(
            &ip.ip.to_string(),
            CheckId::Ptr,
            reverse_name(ip.ip),
            ip.ptr.clone().unwrap_or_default(),
        );
    }
    out
}

/// Each selector's key record(s) as `(DNS name, value)`: the DKIM check reports them as
/// `<selector>: <record>` lines. A selector whose lookup failed is left out (see [`observations`]).
fn dkim_values(report: &CheckReport, domain: &str, selectors: &[String]) -> Vec<(String, String)> {
    let record = report.record.as_deref().unwrap_or("");
    selectors
        .iter()
        .filter(|sel| {
            !report.findings.iter().any(|f| {
                f.code == FindingCode::DkimLookupFailed
                    && f.detail.get("selector").and_then(|s| s.as_str()) == Some(sel.as_str())
            })
        })
        .map(|sel| {
            let prefix = format!("{sel}: ");
            let value: Vec<&str> = record
                .lines()
                .filter_map(|l| l.strip_prefix(prefix.as_str()))
                .collect();
            (format!("{sel}._domainkey.{domain}"), value.join("\n"))
        })
        .collect()
}

/// Add a `record.changed` finding for each change to the report of its check (domain checks) or IP.
pub(super) fn attach(report: &mut DomainReport, changes: &[RecordChange]) {
    let domain = report.domain.to_string();
    for c in changes {
        if c.target == domain {
            if let Some(r) = report.checks.iter_mut().find(|r| r.check == c.check) {
                r.findings.push(changed(c));
                r.status = crate::findings::worst(&r.findings);
            }
        } else if let Some(ip) = report.ips.iter_mut().find(|i| {
            c.check == CheckId::Ptr && c.target.parse::<IpAddr>().is_ok_and(|t| t == i.ip)
        }) {
            ip.findings.push(changed(c));
            ip.status = crate::findings::worst(&ip.findings);
        }
    }
    report.status = report
        .checks
        .iter()
        .map(|r| r.status)
        .max()
        .unwrap_or(Severity::Ok);
}

/// The `record.changed` finding of one change.
pub(super) fn changed(c: &RecordChange) -> Finding {
    Finding::new(
        FindingCode::RecordChanged,
        Severity::Info,
        format!(
            "The {} record at {} changed between {} and {}: it was {} and is now {}.",
            c.check.display_name(),
            c.name,
            format_time(c.old_last_seen),
            format_time(c.changed_at),
            quoted_or_absent(&c.old_value),
            quoted_or_absent(&c.new_value)
        ),
    )
    .with_detail(json!({
        "name": c.name,
        "old": c.old_value,
        "new": c.new_value,
        "old_first_seen": c.old_first_seen,
        "old_last_seen": c.old_last_seen,
        "changed_at": c.changed_at,
    }))
}

fn quoted_or_absent(value: &str) -> String {
    if value.is_empty() {
        return "absent".into();
    }
    let one_line = value.replace('\n', " | ");
    if one_line.chars().count() > MESSAGE_VALUE_CHARS {
        let head: String = one_line.chars().take(MESSAGE_VALUE_CHARS - 1).collect();
        format!("\"{head}…\"")
    } else {
        format!("\"{one_line}\"")
    }
}

/// `2026-11-20 14:02:05 UTC`.
pub fn format_time(unix: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DomainName;
    use crate::posture::IpReport;

    fn check(check: &str, record: Option<&str>, findings: Vec<Finding>) -> CheckReport {
        CheckReport {
            target: "a.test".into(),
            check: check.parse().unwrap(),
            status: crate::findings::worst(&findings),
            record: record.map(str::to_owned),
            findings,
            checked_at: 100,
            duration: Duration::ZERO,
        }
    }

    fn failed(code: FindingCode, selector: Option<&str>) -> Finding {
        let f = Finding::new(code, Severity::Unknown, "timeout");
        match selector {
            Some(s) => f.with_detail(json!({"selector": s})),
            None => f,
        }
    }

    fn domain(checks: Vec<CheckReport>, ips: Vec<IpReport>) -> DomainReport {
        DomainReport {
            domain: DomainName::parse("a.test").unwrap(),
            status: Severity::Ok,
            checks,
            facts: Default::default(),
            ips,
        }
    }

    fn names(obs: &[RecordObservation]) -> Vec<(&str, &str, &str)> {
        obs.iter()
            .map(|o| (o.check.as_str(), o.name.as_str(), o.value.as_str()))
            .collect()
    }

    #[test]
    fn each_selector_has_its_own_name_and_a_missing_key_reads_empty() {
        let dkim = check(
            "dkim",
            Some("s1: v=DKIM1; p=AAA\ns3: v=DKIM1; p=CCC\ns3: v=DKIM1; p=DDD"),
            vec![failed(FindingCode::DkimLookupFailed, Some("s4"))],
        );
        let sels: Vec<String> = ["s1", "s2", "s3", "s4"].map(String::from).to_vec();
        let obs = observations(&domain(vec![dkim], vec![]), &sels, 100);
        assert_eq!(
            names(&obs),
            [
                ("dkim", "s1._domainkey.a.test", "v=DKIM1; p=AAA"),
                ("dkim", "s2._domainkey.a.test", ""),
                (
                    "dkim",
                    "s3._domainkey.a.test",
                    "v=DKIM1; p=CCC\nv=DKIM1; p=DDD"
                ),
            ],
            "s4 failed to resolve, so it is not observed"
        );
    }

    #[test]
    fn a_failed_lookup_is_not_an_absent_record_but_a_missing_one_is() {
        let checks = vec![
            check(
                "spf",
                None,
                vec![failed(FindingCode::SpfLookupFailed, None)],
            ),
            check(
                "dmarc",
                None,
                vec![Finding::new(
                    FindingCode::DmarcMissing,
                    Severity::Critical,
                    "x",
                )],
            ),
            check("mx", Some("10 mx.a.test"), vec![]),
            check("bulk_sender", None, vec![]),
        ];
        let ips = vec![
            IpReport {
                ip: "192.0.2.10".parse().unwrap(),
                status: Severity::Ok,
                ptr: Some("mail.a.test".into()),
                fcrdns: true,
                findings: vec![],
            },
            IpReport {
                ip: "192.0.2.11".parse().unwrap(),
                status: Severity::Unknown,
                ptr: None,
                fcrdns: false,
                findings: vec![failed(FindingCode::PtrLookupFailed, None)],
            },
        ];
        let obs = observations(&domain(checks, ips), &[], 100);
        assert_eq!(
            names(&obs),
            [
                ("dmarc", "_dmarc.a.test", ""),
                ("mx", "a.test", "10 mx.a.test"),
                ("ptr", "10.2.0.192.in-addr.arpa", "mail.a.test"),
            ]
        );
        assert_eq!(obs[2].target, "192.0.2.10");
    }

    #[test]
    fn changes_attach_to_their_check_or_ip_with_old_new_and_when() {
        let mut report = domain(
            vec![check("dkim", Some("s1: v=DKIM1; p=B"), vec![])],
            vec![IpReport {
                ip: "192.0.2.10".parse().unwrap(),
                status: Severity::Ok,
                ptr: Some("new.a.test".into()),
                fcrdns: true,
                findings: vec![],
            }],
        );
        let change = |target: &str, check: &str, name: &str, old: &str, new: &str| RecordChange {
            target: target.into(),
            check: check.parse().unwrap(),
            name: name.into(),
            old_value: old.into(),
            old_first_seen: 1_795_000_000,
            old_last_seen: 1_795_701_720,
            new_value: new.into(),
            changed_at: 1_795_701_780,
        };
        let changes = [
            change(
                "a.test",
                "dkim",
                "s1._domainkey.a.test",
                "v=DKIM1; p=A",
                "v=DKIM1; p=B",
            ),
            change("a.test", "dkim", "s2._domainkey.a.test", "v=DKIM1; p=C", ""),
            change(
                "192.0.2.10",
                "ptr",
                "10.2.0.192.in-addr.arpa",
                "old.a.test",
                "new.a.test",
            ),
        ];
        attach(&mut report, &changes);
        let dkim = &report.checks[0];
        assert_eq!(
            dkim.findings.len(),
            2,
            "one finding per selector that changed"
        );
        assert_eq!(dkim.status, Severity::Info);
        assert_eq!(report.status, Severity::Info);
        assert_eq!(
            dkim.findings[1].message,
            "The DKIM record at s2._domainkey.a.test changed between 2026-11-26 14:02:00 UTC and \
             2026-11-26 14:03:00 UTC: it was \"v=DKIM1; p=C\" and is now absent."
        );
        assert_eq!(dkim.findings[0].detail["new"], "v=DKIM1; p=B");
        assert_eq!(dkim.findings[0].detail["changed_at"], 1_795_701_780);
        let ip = &report.ips[0];
        assert_eq!(ip.findings[0].code, FindingCode::RecordChanged);
        assert_eq!(ip.findings[0].detail["old"], "old.a.test");
        assert_eq!(ip.status, Severity::Info);
    }

    #[test]
    fn long_values_are_shortened_in_the_message_only() {
        let long = "x".repeat(300);
        assert_eq!(
            quoted_or_absent(&long).chars().count(),
            MESSAGE_VALUE_CHARS + 2
        );
        assert_eq!(quoted_or_absent("a\nb"), "\"a | b\"");
    }

    #[test]
    fn times_read_as_utc_seconds() {
        assert_eq!(format_time(1_795_701_720), "2026-11-26 14:02:00 UTC");
    }
}
