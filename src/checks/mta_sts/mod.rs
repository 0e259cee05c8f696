//! MTA-STS check (RFC 8461): the `_mta-sts.<domain>` TXT record, the HTTPS policy it announces, and
//! whether the policy covers every MX host.
//!
//! - [`record`]: the TXT record grammar. [`policy`]: the policy file and MX matching. [`fetch`]: the
//!   bounded HTTPS client ([`PolicyFetcher`]).
//!
//! MTA-STS is optional hardening; its findings and severities:
//! - `mta_sts.missing`: no TXT record, or a policy in mode `none` (being withdrawn). Info.
//! - `mta_sts.syntax_error`: several records, a bad record, a bad policy file. Warning: senders ignore
//!   MTA-STS for the domain (RFC 8461 §3.1, §3.2). Well-formed unknown fields: Info.
//! - `mta_sts.policy_unreachable`: the policy cannot be fetched (DNS, connection, TLS, status, redirect,
//!   size, timeout) or is not served as text/plain. Warning: senders act as if there were no policy.
//! - `mta_sts.testing_mode`: mode `testing`. Info: failures are only reported, not enforced.
//! - `mta_sts.mx_not_covered`: an MX host no `mx` pattern matches. Critical in `enforce` mode (senders
//!   refuse to deliver to that host), Warning in `testing`.
//! - `mta_sts.lookup_failed`: a TXT, MX or policy-host lookup failed. Unknown.

pub mod fetch;
pub mod policy;
pub mod record;

use serde_json::json;

pub use fetch::{FetchError, FetchedPolicy, PolicyFetcher, Unreachable};
use policy::Mode;

use super::{DomainContext, Outcome};
use crate::dns::{Answer, LookupError};
use crate::findings::{Finding, FindingCode, Severity};

/// At most this many problems are spelled out in a message (all are in the detail).
const MESSAGE_PROBLEMS: usize = 5;

/// Run the mta_sts check.
pub async fn check(cx: &DomainContext) -> Outcome {
    let domain = cx.domain.as_str();
    let name = format!("_mta-sts.{domain}");
    let texts: Vec<String> = match cx.dns.txt(&name).await {
        Ok(answer) => answer.records().iter().map(|t| t.joined()).collect(),
        Err(e) => return finding_only(lookup_failed(&name, &e)),
    };
    if texts.is_empty() {
        return finding_only(Finding::new(
            FindingCode::MtaStsMissing,
            Severity::Info,
            format!(
                "No MTA-STS record at {name}: senders may deliver to your MX without verified TLS. Optional: \
                 publish a policy at {} and a \"v=STSv1; id=…\" record.",
                PolicyFetcher::url(domain)
            ),
        ));
    }
    let mut outcome = Outcome {
        record: Some(texts.join("\n")),
        ..Outcome::default()
    };
    // RFC 8461 §3.1: records not starting with v=STSv1 are discarded; "if the number of resulting records
    // is not one, or if the resulting record is syntactically invalid", senders assume no policy.
    let candidates: Vec<&String> = texts
        .iter()
        .filter(|t| t.starts_with(record::VERSION))
        .collect();
    let txt = match candidates.as_slice() {
        [] => {
            outcome.findings.push(syntax(
                Severity::Warning,
                format!(
                    "No TXT record at {name} starts with {}, so senders ignore them: {}.",
                    record::VERSION,
                    texts.join(" | ")
                ),
                json!({"records": texts}),
            ));
            return outcome;
        }
        [one] => record::parse(one),
        several => {
            outcome.findings.push(syntax(
                Severity::Warning,
                format!(
                    "{} MTA-STS records at {name}: senders use none of them (RFC 8461 §3.1). Keep exactly one.",
                    several.len()
                ),
                json!({"records": several}),
            ));
            return outcome;
        }
    };
    match txt {
        Err(problems) => {
            outcome.findings.push(syntax(
                Severity::Warning,
                format!(
                    "The MTA-STS record at {name} is malformed ({}); senders ignore MTA-STS for the domain.",
                    summarize(&problems)
                ),
                json!({"problems": problems}),
            ));
            return outcome;
        }
        Ok(r) if !r.unknown_fields.is_empty() => outcome.findings.push(syntax(
            Severity::Info,
            format!(
                "The MTA-STS record at {name} has fields senders ignore: {}.",
                r.unknown_fields.join(", ")
            ),
            json!({"fields": r.unknown_fields}),
        )),
        Ok(_) => {}
    }
    outcome.findings.extend(check_policy(cx).await);
    outcome
}

/// Fetch and parse the policy, then check it against the domain's MX hosts.
async fn check_policy(cx: &DomainContext) -> Vec<Finding> {
    let domain = cx.domain.as_str();
    let url = PolicyFetcher::url(domain);
    let fetched = match cx.https.fetch(&cx.dns, domain).await {
        Ok(f) => f,
        Err(FetchError::Lookup(e)) => {
            return vec![lookup_failed(&format!("mta-sts.{domain}"), &e)];
        }
        Err(FetchError::Unreachable { kind, reason }) => {
            return vec![
                Finding::new(
                    FindingCode::MtaStsPolicyUnreachable,
                    Severity::Warning,
                    format!(
                        "The MTA-STS policy {url} cannot be fetched: {reason}. Senders act as if the domain \
                         had no MTA-STS policy."
                    ),
                )
                .with_detail(json!({"url": url, "kind": kind.as_str(), "reason": reason})),
            ];
        }
    };
    let mut findings = Vec::new();
    // RFC 8461 §3.3: senders SHOULD check the media type is text/plain; those that do ignore the policy.
    let media_type = fetched
        .content_type
        .as_deref()
        .and_then(|ct| ct.split(';').next())
        .map(|mt| mt.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some("text/plain") {
        let served = fetched.content_type.as_deref().unwrap_or("no Content-Type");
        findings.push(
            Finding::new(
                FindingCode::MtaStsPolicyUnreachable,
                Severity::Warning,
                format!(
                    "The MTA-STS policy {url} is served as {served}, not text/plain; senders that check \
                     the media type (RFC 8461 §3.3) ignore it. Serve it as text/plain."
                ),
            )
            .with_detail(json!({"url": url, "kind": "media_type", "content_type": fetched.content_type})),
        );
    }
    let policy = match policy::parse(&fetched.body) {
        Ok(p) => p,
        Err(problems) => {
            findings.push(syntax(
                Severity::Warning,
                format!(
                    "The MTA-STS policy {url} is malformed ({}); senders ignore it.",
                    summarize(&problems)
                ),
                json!({"url": url, "problems": problems}),
            ));
            return findings;
        }
    };
    if !policy.unknown_keys.is_empty() {
        findings.push(syntax(
            Severity::Info,
            format!(
                "The MTA-STS policy {url} has fields senders ignore: {}.",
                policy.unknown_keys.join(", ")
            ),
            json!({"url": url, "fields": policy.unknown_keys}),
        ));
    }
    let severity = match policy.mode {
        Mode::None => {
            findings.push(Finding::new(
                FindingCode::MtaStsMissing,
                Severity::Info,
                format!(
                    "The MTA-STS policy {url} has mode none: MTA-STS is switched off (RFC 8461 §8.3)."
                ),
            ));
            return findings;
        }
        Mode::Testing => {
            findings.push(
                Finding::new(
                    FindingCode::MtaStsTestingMode,
                    Severity::Info,
                    format!(
                        "The MTA-STS policy {url} is in testing mode: TLS failures are reported (TLS-RPT) but \
                         mail is still delivered without verified TLS. Switch to mode: enforce once reports are clean."
                    ),
                )
                .with_detail(json!({"url": url, "max_age": policy.max_age})),
            );
            Severity::Warning
        }
        Mode::Enforce => Severity::Critical,
    };
    findings.extend(coverage(cx, &policy, severity).await);
    findings
}

/// RFC 8461 §4.1: a sender only delivers to MX hosts matching one of the policy's patterns.
async fn coverage(
    cx: &DomainContext,
    policy: &policy::Policy,
    severity: Severity,
) -> Option<Finding> {
    let domain = cx.domain.as_str();
    let hosts: Vec<String> = match cx.dns.mx(domain).await {
        Ok(Answer::Records(r)) => r
            .items
            .into_iter()
            .map(|mx| mx.exchange)
            .filter(|h| !h.is_empty())
            .collect(),
        // No MX (or a null MX) is the MX check's finding; there is nothing to cover.
        Ok(_) => return None,
        Err(e) => return Some(lookup_failed(&format!("the MX of {domain}"), &e)),
    };
    let uncovered: Vec<&String> = hosts
        .iter()
        .filter(|h| !policy.mx.iter().any(|p| policy::matches(p, h)))
        .collect();
    if uncovered.is_empty() {
        return None;
    }
    let consequence = if severity == Severity::Critical {
        "senders applying the enforce policy refuse to deliver to them"
    } else {
        "senders will report failures for them, and refuse them once the policy is enforced"
    };
    Some(
        Finding::new(
            FindingCode::MtaStsMxNotCovered,
            severity,
            format!(
                "MX host(s) {} match no mx line of the MTA-STS policy ({}); {consequence}. Add them to the \
                 policy (and change the record's id).",
                join(&uncovered),
                policy.mx.join(", ")
            ),
        )
        .with_detail(json!({"uncovered": uncovered, "patterns": policy.mx, "mode": policy.mode.as_str()})),
    )
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn summarize(problems: &[String]) -> String {
    let mut text = problems
        .iter()
        .take(MESSAGE_PROBLEMS)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > MESSAGE_PROBLEMS {
        text.push_str(&format!("; and {} more", problems.len() - MESSAGE_PROBLEMS));
    }
    text
}

fn syntax(severity: Severity, message: String, detail: serde_json::Value) -> Finding {
    Finding::new(FindingCode::MtaStsSyntaxError, severity, message).with_detail(detail)
}

fn lookup_failed(what: &str, e: &LookupError) -> Finding {
    super::lookup_failed(
        FindingCode::MtaStsLookupFailed,
        what,
        e,
        "MTA-STS could not be checked",
    )
}

fn finding_only(finding: Finding) -> Outcome {
    Outcome {
        findings: vec![finding],
        ..Outcome::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_support::{self, codes};

    /// Runs the check with a fetcher whose policy host never resolves to a server: these tests stop
    /// before the fetch or meet a DNS failure. Fetching is tested against a real HTTPS server in
    /// tests/posture/mta_sts.rs.
    async fn run(zone: &str) -> Outcome {
        test_support::run(check, zone, "d.test").await
    }

    #[tokio::test]
    async fn no_record_is_info() {
        assert_eq!(
            codes(&run("d.test TXT x").await),
            vec![(FindingCode::MtaStsMissing, Severity::Info)]
        );
    }

    #[tokio::test]
    async fn record_problems_stop_before_the_fetch() {
        let o = run("_mta-sts.d.test TXT \"v=STSv1; id=a-b\"").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::MtaStsSyntaxError, Severity::Warning)]
        );
        let o = run("_mta-sts.d.test TXT \"v=STSv1; id=1\"\n_mta-sts.d.test TXT \"v=STSv1; id=2\"")
            .await;
        assert!(o.findings[0].message.contains("2 MTA-STS records"));
        let o = run("_mta-sts.d.test TXT \"v=STSV1; id=1\"").await;
        assert!(o.findings[0].message.contains("starts with v=STSv1"));
    }

    #[tokio::test]
    async fn a_policy_host_without_address_is_unreachable_and_a_failing_one_unknown() {
        let o = run("_mta-sts.d.test TXT \"v=STSv1; id=1\"").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::MtaStsPolicyUnreachable, Severity::Warning)]
        );
        assert!(
            o.findings[0]
                .message
                .contains("mta-sts.d.test does not exist (NXDOMAIN)")
        );
        let o = run("_mta-sts.d.test TXT \"v=STSv1; id=1\"\nmta-sts.d.test SERVFAIL").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::MtaStsLookupFailed, Severity::Unknown)]
        );
    }

    #[tokio::test]
    async fn txt_failure_is_unknown() {
        let o = run("_mta-sts.d.test TIMEOUT").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::MtaStsLookupFailed, Severity::Unknown)]
        );
        assert_eq!(
            o.findings[0].message,
            "Could not look up _mta-sts.d.test: no answer from the resolver (timed out). \
             MTA-STS could not be checked; check the resolver."
        );
        assert_eq!(o.findings[0].detail, json!({"error": "timeout"}));
    }
}
