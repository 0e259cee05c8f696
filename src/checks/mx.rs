//! MX check: the domain's mail exchangers, as a receiver replying or bouncing to it would use them.
//!
//! Findings and severities (a configured domain is a *sending* domain: bounces, replies and receivers'
//! sender-domain checks all need it to accept mail):
//! - `mx.missing`: no MX. Warning when the domain has an A/AAAA record (RFC 5321 §5.1 implicit MX: mail
//!   goes to that host, usually a web server); Critical when it has neither, or does not exist, because
//!   receivers that verify the sender domain (Postfix `reject_unknown_sender_domain`) reject its mail.
//! - `mx.null_mx`: `0 .` (RFC 7505). Critical: the domain says it accepts no mail, and RFC 7505 §4.2 lets
//!   receivers reject mail from it (550 5.7.27). A null MX next to other MX records breaks RFC 7505 §3.
//! - `mx.target_unresolvable`: an MX host without A/AAAA. Warning while another host works, Critical when
//!   none does.
//! - `mx.cname_target`: an MX host that is an alias. Warning: RFC 2181 §10.3 forbids it and RFC 5321
//!   §5.1 expects the canonical name; most MTAs cope, some do not.
//! - `mx.lookup_failed`: a lookup failed. Unknown: we cannot tell, which is not "missing".

use std::net::IpAddr;

use futures::future::join_all;
use serde_json::json;

use super::{DomainContext, Outcome};
use crate::dns::{Answer, LookupError, Lookups, Mx};
use crate::findings::{Finding, FindingCode, Severity};

/// Run the mx check.
pub async fn check(cx: &DomainContext) -> Outcome {
    let domain = cx.domain.as_str();
    let answer = match cx.dns.mx(domain).await {
        Ok(answer) => answer,
        Err(e) => {
            return Outcome {
                findings: vec![lookup_failed(&format!("MX of {domain}"), &e)],
                ..Outcome::default()
            };
        }
    };
    let records = match answer {
        Answer::Records(r) => r.items,
        Answer::NxDomain => {
            return Outcome {
                findings: vec![
                    Finding::new(
                        FindingCode::MxMissing,
                        Severity::Critical,
                        format!(
                            "{domain} does not exist in DNS (NXDOMAIN): no mail can reach it and receivers \
                             that verify the sender domain reject its mail. Publish the domain with MX records."
                        ),
                    )
                    .with_detail(json!({"answer": "nxdomain"})),
                ],
                ..Outcome::default()
            };
        }
        Answer::NoData => {
            return Outcome {
                findings: implicit_mx(&cx.dns, domain).await,
                ..Outcome::default()
            };
        }
    };
    Outcome {
        record: Some(record_text(&records)),
        findings: explicit_mx(&cx.dns, domain, &records).await,
        ..Outcome::default()
    }
}

/// The record as published, one MX per line (`0 .` for the null MX).
fn record_text(records: &[Mx]) -> String {
    records
        .iter()
        .map(|mx| {
            let host = if mx.exchange.is_empty() {
                "."
            } else {
                &mx.exchange
            };
            format!("{} {host}", mx.preference)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// No MX record: RFC 5321 §5.1 falls back to the domain's own address records ("implicit MX").
async fn implicit_mx(dns: &Lookups, domain: &str) -> Vec<Finding> {
    let (v4, v6) = tokio::join!(dns.a(domain), dns.aaaa(domain));
    let has_address = [
        v4.as_ref().map(Answer::is_void),
        v6.as_ref().map(Answer::is_void),
    ]
    .iter()
    .any(|void| matches!(void, Ok(false)));
    if has_address {
        return vec![
            Finding::new(
                FindingCode::MxMissing,
                Severity::Warning,
                format!(
                    "{domain} publishes no MX record, so mail to it goes to its A/AAAA host \
                     (RFC 5321 §5.1 implicit MX), usually a web server. Publish MX records for the hosts \
                     that receive its mail (or a null MX \"0 .\" if it receives none)."
                ),
            )
            .with_detail(json!({"implicit_mx": true})),
        ];
    }
    if let Some(e) = [v4.err(), v6.err()].into_iter().flatten().next() {
        return vec![
            Finding::new(
                FindingCode::MxMissing,
                Severity::Warning,
                format!("{domain} publishes no MX record."),
            )
            .with_detail(json!({"implicit_mx": null})),
            lookup_failed(&format!("the A/AAAA records of {domain} (implicit MX)"), &e),
        ];
    }
    vec![
        Finding::new(
            FindingCode::MxMissing,
            Severity::Critical,
            format!(
                "{domain} publishes no MX and no A/AAAA record: bounces and replies cannot reach it, and \
                 receivers that verify the sender domain reject its mail. Publish MX records."
            ),
        )
        .with_detail(json!({"implicit_mx": false})),
    ]
}

/// What resolving one MX host showed.
enum HostState {
    /// It has addresses; `alias` is the canonical name when the host is a CNAME.
    Resolves { alias: Option<String> },
    /// No A and no AAAA: why, in words.
    Unresolvable(String),
    /// A lookup failed.
    Failed(LookupError),
}

async fn resolve_host(dns: &Lookups, host: &str) -> HostState {
    let (v4, v6) = tokio::join!(dns.a(host), dns.aaaa(host));
    let v4 = v4.map(|a| a.map(IpAddr::V4));
    let v6 = v6.map(|a| a.map(IpAddr::V6));
    // Any address answers the question; the CNAME chain followed to it shows up as `aliases`.
    for answer in [&v4, &v6] {
        if let Ok(Answer::Records(r)) = answer {
            return HostState::Resolves {
                alias: r.aliases.last().cloned(),
            };
        }
    }
    match (v4, v6) {
        (Err(e), _) | (_, Err(e)) => HostState::Failed(e),
        (Ok(Answer::NxDomain), _) => {
            HostState::Unresolvable("does not exist (NXDOMAIN)".to_owned())
        }
        _ => HostState::Unresolvable("has no A or AAAA record".to_owned()),
    }
}

async fn explicit_mx(dns: &Lookups, domain: &str, records: &[Mx]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let nulls = records.iter().filter(|mx| mx.exchange.is_empty()).count();
    let mut hosts: Vec<&str> = Vec::new();
    for mx in records.iter().filter(|mx| !mx.exchange.is_empty()) {
        if !hosts.contains(&mx.exchange.as_str()) {
            hosts.push(&mx.exchange);
        }
    }
    if nulls > 0 {
        let message = if hosts.is_empty() {
            // RFC 7505 §4.2: mail whose MAIL FROM domain has a null MX may be rejected (550 5.7.27).
            format!(
                "{domain} publishes a null MX (\"0 .\", RFC 7505): it accepts no mail, and receivers may \
                 reject mail sent from it (550 5.7.27). Replace it with real MX records if the domain sends mail."
            )
        } else {
            // RFC 7505 §3: "A domain that advertises a null MX MUST NOT advertise any other MX RR."
            format!(
                "{domain} publishes a null MX (\"0 .\") next to {} other MX record(s), which RFC 7505 §3 \
                 forbids; senders may treat the domain as accepting no mail. Remove the null MX.",
                hosts.len()
            )
        };
        findings.push(
            Finding::new(FindingCode::MxNullMx, Severity::Critical, message)
                .with_detail(json!({"other_mx": hosts})),
        );
        if hosts.is_empty() {
            return findings;
        }
    }

    let states = join_all(hosts.iter().map(|h| resolve_host(dns, h))).await;
    let mut unresolvable = Vec::new();
    let mut resolvable = 0;
    for (host, state) in hosts.iter().zip(states) {
        match state {
            HostState::Resolves { alias } => {
                resolvable += 1;
                if let Some(target) = alias {
                    // RFC 2181 §10.3: the name in an MX record must not be an alias (CNAME).
                    findings.push(
                        Finding::new(
                            FindingCode::MxCnameTarget,
                            Severity::Warning,
                            format!(
                                "MX host {host} is a CNAME (to {target}); RFC 2181 §10.3 and RFC 5321 §5.1 \
                                 require the canonical name. Point the MX record at {target}."
                            ),
                        )
                        .with_detail(json!({"host": host, "canonical": target})),
                    );
                }
            }
            HostState::Unresolvable(why) => unresolvable.push((*host, why)),
            HostState::Failed(e) => findings.push(lookup_failed(
                &format!("the addresses of MX host {host}"),
                &e,
            )),
        }
    }
    if !unresolvable.is_empty() {
        let list = unresolvable
            .iter()
            .map(|(host, why)| {
                let hint = if host.parse::<IpAddr>().is_ok() {
                    " — an MX must name a host, not an IP address"
                } else {
                    ""
                };
                format!("{host} {why}{hint}")
            })
            .collect::<Vec<_>>()
            .join("; ");
        let (severity, consequence) = if resolvable == 0
            && findings
                .iter()
                .all(|f| f.code != FindingCode::MxLookupFailed)
        {
            (
                Severity::Critical,
                "no MX host of the domain can receive mail",
            )
        } else {
            (
                Severity::Warning,
                "senders skip them and use the other hosts",
            )
        };
        findings.push(
            Finding::new(
                FindingCode::MxTargetUnresolvable,
                severity,
                format!("MX host(s) without an address: {list}; {consequence}. Fix or remove those MX records."),
            )
            .with_detail(json!({
                "hosts": unresolvable.iter().map(|(h, why)| json!({"host": h, "reason": why})).collect::<Vec<_>>(),
            })),
        );
    }
    findings
}

fn lookup_failed(what: &str, e: &LookupError) -> Finding {
    super::lookup_failed(
        FindingCode::MxLookupFailed,
        what,
        e,
        "The MX check is incomplete",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_support::{self, codes};

    async fn run(zone: &str, domain: &str) -> Outcome {
        test_support::run(check, zone, domain).await
    }

    #[tokio::test]
    async fn resolvable_mx_hosts_give_no_findings_and_the_record_in_preference_order() {
        let o = run(
            "d.test MX 20 mx2.d.test\nd.test MX 10 mx1.d.test\n\
             mx1.d.test A 192.0.2.1\nmx2.d.test AAAA 2001:db8::2",
            "d.test",
        )
        .await;
        assert!(o.findings.is_empty(), "{:?}", o.findings);
        assert_eq!(o.record.as_deref(), Some("10 mx1.d.test\n20 mx2.d.test"));
    }

    #[tokio::test]
    async fn no_mx_with_an_address_is_a_warning_about_implicit_mx() {
        let o = run("d.test A 192.0.2.1", "d.test").await;
        assert_eq!(codes(&o), vec![(FindingCode::MxMissing, Severity::Warning)]);
        assert!(o.findings[0].message.contains("implicit MX"));
    }

    #[tokio::test]
    async fn no_mx_and_no_address_is_critical() {
        let o = run("d.test TXT hello", "d.test").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::MxMissing, Severity::Critical)]
        );
        let o = run("other.test TXT hello", "d.test").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::MxMissing, Severity::Critical)]
        );
        assert!(o.findings[0].message.contains("NXDOMAIN"));
    }

    #[tokio::test]
    async fn rfc_7505_null_mx_alone_and_mixed() {
        let o = run("d.test MX 0 .", "d.test").await;
        assert_eq!(codes(&o), vec![(FindingCode::MxNullMx, Severity::Critical)]);
        assert_eq!(o.record.as_deref(), Some("0 ."));
        let o = run(
            "d.test MX 0 .\nd.test MX 10 mx.d.test\nmx.d.test A 192.0.2.1",
            "d.test",
        )
        .await;
        assert_eq!(codes(&o), vec![(FindingCode::MxNullMx, Severity::Critical)]);
        assert!(o.findings[0].message.contains("RFC 7505 §3"));
    }

    #[tokio::test]
    async fn unresolvable_hosts_are_warning_with_a_fallback_and_critical_without() {
        let o = run(
            "d.test MX 10 gone.d.test\nd.test MX 20 mx.d.test\nmx.d.test A 192.0.2.1",
            "d.test",
        )
        .await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::MxTargetUnresolvable, Severity::Warning)]
        );
        assert!(
            o.findings[0]
                .message
                .contains("gone.d.test does not exist (NXDOMAIN)")
        );
        let o = run("d.test MX 10 192.0.2.1\nd.test TXT x", "d.test").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::MxTargetUnresolvable, Severity::Critical)]
        );
        assert!(o.findings[0].message.contains("not an IP address"));
    }

    #[tokio::test]
    async fn rfc_2181_cname_targets_are_named_with_their_canonical_host() {
        let o = run(
            "d.test MX 10 alias.d.test\nalias.d.test CNAME real.d.test\nreal.d.test A 192.0.2.1",
            "d.test",
        )
        .await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::MxCnameTarget, Severity::Warning)]
        );
        assert!(o.findings[0].message.contains("real.d.test"));
    }

    #[tokio::test]
    async fn failures_are_unknown_never_missing() {
        let o = run("d.test TIMEOUT", "d.test").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::MxLookupFailed, Severity::Unknown)]
        );
        assert_eq!(
            o.findings[0].message,
            "Could not look up MX of d.test: no answer from the resolver (timed out). \
             The MX check is incomplete; check the resolver."
        );
        assert_eq!(o.findings[0].detail, json!({"error": "timeout"}));
        let o = run("d.test MX 10 mx.d.test\nmx.d.test SERVFAIL", "d.test").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::MxLookupFailed, Severity::Unknown)]
        );
    }
}
