//! PTR and forward-confirmed reverse DNS (FCrDNS) for one sending IP, IPv4 or IPv6.
//!
//! Receivers look up the connecting IP's PTR name and then that name's A (IPv4) or AAAA (IPv6) records;
//! the IP must be among them. Google requires this of every sender ("valid forward and reverse DNS"),
//! Yahoo asks for a PTR, Microsoft recommends it (notes §2.5, §3).
//!
//! Findings and severities:
//! - `ptr.missing`: no PTR. Critical: Gmail rejects such mail (550 5.7.25).
//! - `ptr.fcrdns_mismatch`: no PTR name resolves back to the IP. Critical, for the same reason; the
//!   message says what each name resolved to.
//! - `ptr.multiple_names`: several PTR names, at least one confirming. Info: FCrDNS passes, but receivers
//!   that read only one name may pick another (RFC 1912 §2.1 advises one PTR per address).
//! - `ptr.lookup_failed`: a lookup failed and nothing confirmed the IP. Unknown, never "missing".

use std::net::IpAddr;

use futures::future::join_all;
use serde_json::json;

use crate::dns::{Answer, LookupError, Lookups, reverse_name};
use crate::findings::{Finding, FindingCode, Severity};

/// What the PTR check found for one IP.
#[derive(Debug, Clone, PartialEq)]
pub struct PtrOutcome {
    /// The IP checked.
    pub ip: IpAddr,
    /// The PTR name: the one that confirms the IP when there is one, else the first published.
    pub ptr: Option<String>,
    /// Whether some PTR name resolves back to the IP; `None` when a lookup failed before that could be
    /// told (unknown is not false).
    pub fcrdns: Option<bool>,
    /// What was found; empty means all is well.
    pub findings: Vec<Finding>,
}

/// What forward-resolving one PTR name gave.
enum Forward {
    /// The addresses of the IP's family at that name (possibly none), with why there are none.
    Addresses(Vec<IpAddr>, &'static str),
    Failed(LookupError),
}

/// Check PTR and FCrDNS for `ip`.
pub async fn check(dns: &Lookups, ip: IpAddr) -> PtrOutcome {
    let mut outcome = PtrOutcome {
        ip,
        ptr: None,
        fcrdns: None,
        findings: Vec::new(),
    };
    let reverse = reverse_name(ip);
    let names: Vec<String> = match dns.ptr(ip).await {
        Err(e) => {
            outcome
                .findings
                .push(lookup_failed(&format!("the PTR of {ip} ({reverse})"), &e));
            return outcome;
        }
        Ok(answer) => {
            let mut names: Vec<String> = Vec::new();
            for name in answer.records() {
                if !name.is_empty() && !names.contains(name) {
                    names.push(name.clone());
                }
            }
            if names.is_empty() {
                let why = match answer {
                    Answer::NxDomain => "does not exist (NXDOMAIN)",
                    _ => "has no PTR record",
                };
                outcome.findings.push(
                    Finding::new(
                        FindingCode::PtrMissing,
                        Severity::Critical,
                        format!(
                            "{ip} has no reverse DNS: {reverse} {why}. Gmail rejects mail from IPs without \
                             a PTR (550 5.7.25). Ask whoever holds the address (your provider) to publish a \
                             PTR naming a host whose {} record is {ip}.",
                            family(ip)
                        ),
                    )
                    .with_detail(json!({"reverse_name": reverse})),
                );
                outcome.fcrdns = Some(false);
                return outcome;
            }
            names
        }
    };

    let forwards = join_all(names.iter().map(|n| forward(dns, n, ip))).await;
    let confirming = names
        .iter()
        .zip(&forwards)
        .find(|(_, f)| matches!(f, Forward::Addresses(addrs, _) if addrs.contains(&ip)))
        .map(|(n, _)| n.clone());
    if let Some(name) = confirming {
        outcome.fcrdns = Some(true);
        if names.len() > 1 {
            outcome.findings.push(
                Finding::new(
                    FindingCode::PtrMultipleNames,
                    Severity::Info,
                    format!(
                        "{ip} has {} PTR names ({}); FCrDNS passes through {name}, but receivers that read \
                         only one name may pick another. Publish a single PTR.",
                        names.len(),
                        names.join(", ")
                    ),
                )
                .with_detail(json!({"names": names, "confirmed_by": name})),
            );
        }
        outcome.ptr = Some(name);
        return outcome;
    }

    outcome.ptr = names.first().cloned();
    let failures: Vec<Finding> = names
        .iter()
        .zip(&forwards)
        .filter_map(|(n, f)| match f {
            Forward::Failed(e) => Some(lookup_failed(
                &format!("the {} records of {n} (PTR of {ip})", family(ip)),
                e,
            )),
            Forward::Addresses(..) => None,
        })
        .collect();
    if !failures.is_empty() {
        // A name we could not resolve might have confirmed the IP: say "could not check", not "mismatch".
        outcome.findings = failures;
        return outcome;
    }
    let resolved: Vec<String> = names
        .iter()
        .zip(&forwards)
        .map(|(n, f)| match f {
            Forward::Addresses(addrs, _) if !addrs.is_empty() => {
                let list: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
                format!("{n} resolves to {}", list.join(", "))
            }
            Forward::Addresses(_, why) => format!("{n} {why}"),
            Forward::Failed(_) => String::new(),
        })
        .collect();
    outcome.fcrdns = Some(false);
    outcome.findings.push(
        Finding::new(
            FindingCode::PtrFcrdnsMismatch,
            Severity::Critical,
            format!(
                "The PTR of {ip} does not resolve back to it: {}. Gmail rejects mail failing forward-confirmed \
                 reverse DNS (550 5.7.25). Add {ip} to the name's {} records or change the PTR.",
                resolved.join("; "),
                family(ip)
            ),
        )
        .with_detail(json!({
            "names": names,
            "forward": names.iter().zip(&forwards).map(|(n, f)| match f {
                Forward::Addresses(addrs, _) => json!({"name": n, "addresses": addrs}),
                Forward::Failed(e) => json!({"name": n, "error": e.kind()}),
            }).collect::<Vec<_>>(),
        })),
    );
    outcome
}

/// The forward lookup FCrDNS uses: A for an IPv4 address, AAAA for IPv6.
async fn forward(dns: &Lookups, name: &str, ip: IpAddr) -> Forward {
    let answer = match ip {
        IpAddr::V4(_) => dns.a(name).await.map(|a| a.map(IpAddr::V4)),
        IpAddr::V6(_) => dns.aaaa(name).await.map(|a| a.map(IpAddr::V6)),
    };
    match answer {
        Ok(Answer::Records(r)) => Forward::Addresses(r.items, ""),
        Ok(Answer::NxDomain) => Forward::Addresses(Vec::new(), "does not exist (NXDOMAIN)"),
        Ok(Answer::NoData) => Forward::Addresses(
            Vec::new(),
            if ip.is_ipv4() {
                "has no A record"
            } else {
                "has no AAAA record"
            },
        ),
        Err(e) => Forward::Failed(e),
    }
}

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "A" } else { "AAAA" }
}

fn lookup_failed(what: &str, e: &LookupError) -> Finding {
    super::lookup_failed(
        FindingCode::PtrLookupFailed,
        what,
        e,
        "Reverse DNS could not be checked",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_support::{codes, lookups};
    use crate::dns::testing::{FakeDns, FakeRecord, ptr_name};

    async fn run(dns: &FakeDns, ip: &str) -> PtrOutcome {
        check(&lookups(dns), ip.parse().unwrap()).await
    }

    fn add_ptr(dns: &FakeDns, ip: &str, name: &str) {
        dns.add(
            &ptr_name(ip.parse().unwrap()),
            FakeRecord::Ptr(name.to_owned()),
        );
    }

    #[tokio::test]
    async fn ipv4_and_ipv6_confirmed_by_their_own_record_type() {
        let dns = FakeDns::start().await.unwrap();
        add_ptr(&dns, "192.0.2.1", "mail.d.test");
        add_ptr(&dns, "2001:db8::1", "mail.d.test");
        dns.load("mail.d.test A 192.0.2.1\nmail.d.test AAAA 2001:db8::1")
            .unwrap();
        for ip in ["192.0.2.1", "2001:db8::1"] {
            let o = run(&dns, ip).await;
            assert!(
                o.fcrdns == Some(true) && o.findings.is_empty(),
                "{ip}: {o:?}"
            );
            assert_eq!(o.ptr.as_deref(), Some("mail.d.test"));
        }
    }

    #[tokio::test]
    async fn an_ipv6_address_is_not_confirmed_by_an_a_record() {
        let dns = FakeDns::start().await.unwrap();
        add_ptr(&dns, "2001:db8::1", "mail.d.test");
        dns.load("mail.d.test A 192.0.2.1").unwrap();
        let o = run(&dns, "2001:db8::1").await;
        assert_eq!(o.fcrdns, Some(false));
        assert_eq!(
            codes(&o),
            vec![(FindingCode::PtrFcrdnsMismatch, Severity::Critical)]
        );
        assert!(
            o.findings[0]
                .message
                .contains("mail.d.test has no AAAA record")
        );
    }

    #[tokio::test]
    async fn missing_ptr_is_critical() {
        let dns = FakeDns::start().await.unwrap();
        let o = run(&dns, "192.0.2.9").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::PtrMissing, Severity::Critical)]
        );
        assert_eq!(o.ptr, None);
        assert!(o.findings[0].message.contains("9.2.0.192.in-addr.arpa"));
    }

    #[tokio::test]
    async fn mismatch_says_what_the_name_resolved_to() {
        let dns = FakeDns::start().await.unwrap();
        add_ptr(&dns, "192.0.2.1", "mail.d.test");
        dns.load("mail.d.test A 192.0.2.77\nmail.d.test A 192.0.2.78")
            .unwrap();
        let o = run(&dns, "192.0.2.1").await;
        assert_eq!(o.fcrdns, Some(false));
        assert_eq!(o.ptr.as_deref(), Some("mail.d.test"));
        assert!(
            o.findings[0]
                .message
                .contains("mail.d.test resolves to 192.0.2.77, 192.0.2.78"),
            "{}",
            o.findings[0].message
        );
    }

    #[tokio::test]
    async fn several_names_pass_if_any_confirms_and_say_so() {
        let dns = FakeDns::start().await.unwrap();
        add_ptr(&dns, "192.0.2.1", "old.d.test");
        add_ptr(&dns, "192.0.2.1", "mail.d.test");
        dns.load("mail.d.test A 192.0.2.1").unwrap();
        let o = run(&dns, "192.0.2.1").await;
        assert_eq!(o.fcrdns, Some(true));
        assert_eq!(o.ptr.as_deref(), Some("mail.d.test"));
        assert_eq!(
            codes(&o),
            vec![(FindingCode::PtrMultipleNames, Severity::Info)]
        );
        assert!(o.findings[0].message.contains("passes through mail.d.test"));
    }

    #[tokio::test]
    async fn failures_are_unknown_not_missing_or_mismatch() {
        let dns = FakeDns::start().await.unwrap();
        dns.timeout(&ptr_name("192.0.2.1".parse().unwrap()));
        let o = run(&dns, "192.0.2.1").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::PtrLookupFailed, Severity::Unknown)]
        );
        assert_eq!(
            o.findings[0].message,
            "Could not look up the PTR of 192.0.2.1 (1.2.0.192.in-addr.arpa): no answer from the \
             resolver (timed out). Reverse DNS could not be checked; check the resolver."
        );
        assert_eq!(o.findings[0].detail, json!({"error": "timeout"}));
        add_ptr(&dns, "192.0.2.2", "mail.d.test");
        dns.servfail("mail.d.test");
        let o = run(&dns, "192.0.2.2").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::PtrLookupFailed, Severity::Unknown)]
        );
        assert_eq!(o.fcrdns, None, "unknown is not false");
    }
}
