//! The Google / Yahoo / Microsoft bulk-sender minimums, summarized from the other checks' results as one
//! `bulk_sender.requirements` finding per domain (notes §3):
//!
//! - Google (support.google.com/a/answer/81126), Yahoo and, since 5 May 2025, Microsoft consumer mail
//!   require of bulk senders: SPF **and** DKIM, a DMARC policy of at least `p=none`, and the From domain
//!   aligned with SPF or DKIM. Google requires valid forward and reverse DNS (PTR) of every sender.
//! - Google requires SPF **or** DKIM of every sender, bulk or not: a domain with neither is critical.
//!
//! What DNS cannot show, and so what we assume: mail is sent with the domain itself (or a subdomain) as
//! MAIL FROM and as DKIM `d=`, so an SPF record and a DKIM key published *at the domain* count as aligned.
//! Real alignment is per message; aggregate reports (ingest) show it. TLS, one-click unsubscribe and spam
//! rates are message- or traffic-level rules and are not judged here.
//!
//! A fact we could not learn because a lookup failed is "could not verify", never "missing".

use serde::Serialize;

use super::ptr::PtrOutcome;
use super::{CheckKind, Facts};
use crate::findings::{CheckReport, Finding, FindingCode, Severity};

/// The name of this summary in a domain's checks.
pub const CHECK_NAME: &str = "bulk_sender";

/// One bulk-sender requirement; the ids appear in the finding's `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// A valid SPF record at the domain.
    Spf,
    /// A usable DKIM key (RSA ≥ 1024 bits or Ed25519) at one of the configured selectors.
    Dkim,
    /// A DMARC policy of at least `p=none`.
    Dmarc,
    /// SPF or DKIM authenticates the domain itself, so DMARC can pass (the aligned identifier).
    DmarcAlignment,
    /// Every configured sending IP has a PTR whose name resolves back to it (FCrDNS).
    Ptr,
}

/// Where a requirement stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Met.
    Met,
    /// Known to be missing; the text says what is missing.
    Missing(String),
    /// Unknown because a lookup failed; the text says which.
    Unverified(String),
    /// Not checkable with this configuration (no selectors, no sending IPs); the text says why.
    NotChecked(String),
}

/// What the summary is made from: one domain's check results.
pub struct Inputs<'a> {
    /// The domain.
    pub domain: &'a str,
    /// The domain's check reports (to tell "missing" from "lookup failed").
    pub reports: &'a [CheckReport],
    /// The checks' facts, merged.
    pub facts: &'a Facts,
    /// The DKIM selectors that were checked.
    pub dkim_selectors: &'a [String],
    /// The PTR results of the domain's sending IPs.
    pub ptr: &'a [PtrOutcome],
}

/// Build the `bulk_sender` check report: no finding when every requirement is met.
pub fn check(inputs: &Inputs<'_>, checked_at: i64) -> CheckReport {
    let findings: Vec<Finding> = summarize(inputs.domain, &assess(inputs))
        .into_iter()
        .collect();
    CheckReport {
        target: inputs.domain.to_owned(),
        check: crate::results::CheckId::BulkSender,
        status: crate::findings::worst(&findings),
        record: None,
        findings,
        checked_at,
        duration: std::time::Duration::ZERO,
    }
}

/// Judge each requirement from the facts and findings.
pub fn assess(inputs: &Inputs<'_>) -> Vec<(Requirement, State)> {
    let failed = |kind: CheckKind| lookup_failed(inputs.reports, kind);

    let spf = if inputs.facts.spf_present == Some(true) {
        State::Met
    } else if failed(CheckKind::Spf) {
        State::Unverified("SPF (DNS lookup failed)".into())
    } else {
        State::Missing("SPF (no valid SPF record)".into())
    };

    // RFC 8301 §3.2: verifiers must not accept RSA keys under 1024 bits, so such a key signs nothing.
    let usable_dkim = inputs
        .facts
        .dkim_keys
        .iter()
        .any(|k| k.key_type != "rsa" || k.bits >= 1024);
    let dkim = if usable_dkim {
        State::Met
    } else if inputs.dkim_selectors.is_empty() {
        State::NotChecked(
            "DKIM (no selector configured; selectors cannot be discovered through DNS)".into(),
        )
    } else if failed(CheckKind::Dkim) {
        State::Unverified("DKIM (DNS lookup failed)".into())
    } else {
        State::Missing(format!(
            "DKIM (no usable key at selector {})",
            inputs.dkim_selectors.join(", ")
        ))
    };

    let dmarc = if inputs.facts.dmarc_policy.is_some() {
        State::Met
    } else if failed(CheckKind::Dmarc) {
        State::Unverified("DMARC (DNS lookup failed)".into())
    } else {
        State::Missing("DMARC (no valid policy; p=none is enough)".into())
    };

    let alignment = alignment(&spf, &dkim);
    let ptr = ptr_state(inputs.ptr);
    vec![
        (Requirement::Spf, spf),
        (Requirement::Dkim, dkim),
        (Requirement::Dmarc, dmarc),
        (Requirement::DmarcAlignment, alignment),
        (Requirement::Ptr, ptr),
    ]
}

/// DMARC passes through an aligned SPF or DKIM result: met when either is met (see the module doc for
/// the alignment assumption), missing only when both are known missing.
fn alignment(spf: &State, dkim: &State) -> State {
    match (spf, dkim) {
        (State::Met, _) | (_, State::Met) => State::Met,
        (State::Missing(_), State::Missing(_)) => {
            State::Missing("alignment (neither SPF nor DKIM authenticates the domain)".into())
        }
        (State::Unverified(_), _) | (_, State::Unverified(_)) => {
            State::Unverified("alignment (depends on SPF/DKIM, not verified)".into())
        }
        _ => State::NotChecked("alignment (depends on DKIM, not checked)".into()),
    }
}

fn ptr_state(ptr: &[PtrOutcome]) -> State {
    if ptr.is_empty() {
        return State::NotChecked("PTR (no sending IPs configured)".into());
    }
    let failed = |o: &PtrOutcome| {
        o.findings
            .iter()
            .any(|f| f.code == FindingCode::PtrLookupFailed)
    };
    let mut missing = Vec::new();
    let mut unverified = Vec::new();
    for o in ptr.iter().filter(|o| !(o.fcrdns && o.ptr.is_some())) {
        if failed(o) {
            unverified.push(o.ip.to_string());
        } else {
            missing.push(o.ip.to_string());
        }
    }
    if !missing.is_empty() {
        State::Missing(format!("forward-confirmed PTR for {}", missing.join(", ")))
    } else if !unverified.is_empty() {
        State::Unverified(format!(
            "PTR of {} (DNS lookup failed)",
            unverified.join(", ")
        ))
    } else {
        State::Met
    }
}

fn lookup_failed(reports: &[CheckReport], kind: CheckKind) -> bool {
    let code = match kind {
        CheckKind::Spf => FindingCode::SpfLookupFailed,
        CheckKind::Dkim => FindingCode::DkimLookupFailed,
        CheckKind::Dmarc => FindingCode::DmarcLookupFailed,
        CheckKind::Mx => FindingCode::MxLookupFailed,
        CheckKind::MtaSts => FindingCode::MtaStsLookupFailed,
        CheckKind::TlsRpt => FindingCode::TlsRptLookupFailed,
        CheckKind::Bimi => FindingCode::BimiLookupFailed,
    };
    reports
        .iter()
        .filter(|r| r.check == kind.as_str())
        .flat_map(|r| &r.findings)
        .any(|f| f.code == code)
}

/// One finding for the domain, or none when every requirement is met.
///
/// Severity: critical when SPF and DKIM are both known missing (Google requires one of them of every
/// sender, and DMARC cannot pass); warning when anything else is missing (the rest binds bulk senders,
/// and we cannot tell whether the domain is one); unknown when nothing is known missing but a lookup
/// failed; info when the only gaps are what the configuration did not let us check.
pub fn summarize(domain: &str, states: &[(Requirement, State)]) -> Option<Finding> {
    let ids = |want: fn(&State) -> bool| -> Vec<Requirement> {
        states
            .iter()
            .filter(|(_, s)| want(s))
            .map(|(r, _)| *r)
            .collect()
    };
    let texts = |want: fn(&State) -> Option<&String>| -> Vec<&str> {
        states
            .iter()
            .filter_map(|(_, s)| want(s).map(String::as_str))
            .collect()
    };
    let missing = ids(|s| matches!(s, State::Missing(_)));
    let unverified = ids(|s| matches!(s, State::Unverified(_)));
    let not_checked = ids(|s| matches!(s, State::NotChecked(_)));
    let met = ids(|s| matches!(s, State::Met));
    if missing.is_empty() && unverified.is_empty() && not_checked.is_empty() {
        return None;
    }
    let missing_text = texts(|s| match s {
        State::Missing(t) => Some(t),
        _ => None,
    });
    let unverified_text = texts(|s| match s {
        State::Unverified(t) => Some(t),
        _ => None,
    });
    let not_checked_text = texts(|s| match s {
        State::NotChecked(t) => Some(t),
        _ => None,
    });

    let no_auth = missing.contains(&Requirement::Spf) && missing.contains(&Requirement::Dkim);
    let severity = if no_auth {
        Severity::Critical
    } else if !missing.is_empty() {
        Severity::Warning
    } else if !unverified.is_empty() {
        Severity::Unknown
    } else {
        Severity::Info
    };

    let mut message = if !missing.is_empty() {
        format!(
            "{domain} does not meet the Gmail/Yahoo/Microsoft bulk-sender requirements; missing: {}.",
            missing_text.join("; ")
        )
    } else if !unverified.is_empty() {
        format!(
            "Could not verify every Gmail/Yahoo/Microsoft bulk-sender requirement for {domain}."
        )
    } else {
        format!(
            "{domain} meets the Gmail/Yahoo/Microsoft bulk-sender requirements that could be checked."
        )
    };
    if no_auth {
        message.push_str(
            " With neither SPF nor DKIM, Gmail rejects or spam-folders its mail even below bulk volume.",
        );
    }
    if !unverified_text.is_empty() {
        message.push_str(&format!(
            " Could not verify: {}.",
            unverified_text.join("; ")
        ));
    }
    if !not_checked_text.is_empty() {
        message.push_str(&format!(" Not checked: {}.", not_checked_text.join("; ")));
    }
    Some(
        Finding::new(FindingCode::BulkSenderRequirements, severity, message).with_detail(
            serde_json::json!({
                "missing": missing,
                "unverified": unverified,
                "not_checked": not_checked,
                "met": met,
            }),
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use super::*;
    use crate::checks::DkimKeyFact;
    use crate::findings::worst;

    fn report(check: &'static str, codes: &[FindingCode]) -> CheckReport {
        let findings: Vec<Finding> = codes
            .iter()
            .map(|&c| Finding::new(c, Severity::Unknown, "x"))
            .collect();
        CheckReport {
            target: "example.test".into(),
            check: check.parse().unwrap(),
            status: worst(&findings),
            record: None,
            findings,
            checked_at: 0,
            duration: Duration::ZERO,
        }
    }

    fn key(selector: &str, key_type: &'static str, bits: u32) -> DkimKeyFact {
        DkimKeyFact {
            selector: selector.into(),
            key_type,
            bits,
        }
    }

    fn ptr(ip: &str, name: Option<&str>, fcrdns: bool, codes: &[FindingCode]) -> PtrOutcome {
        PtrOutcome {
            ip: ip.parse::<IpAddr>().unwrap(),
            ptr: name.map(str::to_owned),
            fcrdns,
            findings: codes
                .iter()
                .map(|&c| Finding::new(c, Severity::Warning, "x"))
                .collect(),
        }
    }

    fn good_facts() -> Facts {
        Facts {
            spf_present: Some(true),
            dkim_keys: vec![key("s1", "rsa", 2048)],
            dmarc_policy: Some("none"),
            ..Facts::default()
        }
    }

    fn run(
        reports: &[CheckReport],
        facts: &Facts,
        selectors: &[&str],
        ptrs: &[PtrOutcome],
    ) -> CheckReport {
        let selectors: Vec<String> = selectors.iter().map(|s| s.to_string()).collect();
        check(
            &Inputs {
                domain: "example.test",
                reports,
                facts,
                dkim_selectors: &selectors,
                ptr: ptrs,
            },
            0,
        )
    }

    fn ids(finding: &Finding, key: &str) -> Vec<String> {
        finding.detail[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn every_requirement_met_gives_no_finding() {
        let r = run(
            &[],
            &good_facts(),
            &["s1"],
            &[ptr("192.0.2.10", Some("mail.example.test"), true, &[])],
        );
        assert_eq!(r.check, "bulk_sender");
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!(r.status, Severity::Ok);
    }

    #[test]
    fn p_none_is_enough_for_dmarc() {
        let mut facts = good_facts();
        facts.dmarc_policy = Some("none");
        let r = run(
            &[],
            &facts,
            &["s1"],
            &[ptr("192.0.2.10", Some("m.test"), true, &[])],
        );
        assert!(r.findings.is_empty());
    }

    #[test]
    fn neither_spf_nor_dkim_is_critical() {
        let facts = Facts {
            spf_present: Some(false),
            dmarc_policy: Some("reject"),
            ..Facts::default()
        };
        let r = run(&[], &facts, &["s1", "s2"], &[]);
        let f = &r.findings[0];
        assert_eq!(f.code, FindingCode::BulkSenderRequirements);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(ids(f, "missing"), ["spf", "dkim", "dmarc_alignment"]);
        assert_eq!(ids(f, "not_checked"), ["ptr"]);
        assert!(f.message.contains("selector s1, s2"), "{}", f.message);
    }

    #[test]
    fn missing_dmarc_alone_is_a_warning() {
        let mut facts = good_facts();
        facts.dmarc_policy = None;
        let r = run(
            &[report("dmarc", &[FindingCode::DmarcMissing])],
            &facts,
            &["s1"],
            &[],
        );
        let f = &r.findings[0];
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(ids(f, "missing"), ["dmarc"]);
        assert_eq!(ids(f, "met"), ["spf", "dkim", "dmarc_alignment"]);
        assert!(f.message.contains("missing: DMARC"), "{}", f.message);
    }

    #[test]
    fn failed_lookups_are_unverified_never_missing() {
        let reports = [
            report("spf", &[FindingCode::SpfLookupFailed]),
            report("dkim", &[FindingCode::DkimLookupFailed]),
            report("dmarc", &[FindingCode::DmarcLookupFailed]),
        ];
        let r = run(
            &reports,
            &Facts::default(),
            &["s1"],
            &[ptr(
                "192.0.2.10",
                None,
                false,
                &[FindingCode::PtrLookupFailed],
            )],
        );
        let f = &r.findings[0];
        assert_eq!(f.severity, Severity::Unknown);
        assert!(ids(f, "missing").is_empty());
        assert_eq!(
            ids(f, "unverified"),
            ["spf", "dkim", "dmarc", "dmarc_alignment", "ptr"]
        );
        assert!(f.message.starts_with("Could not verify"), "{}", f.message);
        assert!(!f.message.contains("missing"), "{}", f.message);
    }

    #[test]
    fn another_checks_lookup_failure_does_not_excuse_a_missing_record() {
        let reports = [
            report("mx", &[FindingCode::MxLookupFailed]),
            report("spf", &[FindingCode::SpfMissing]),
        ];
        let mut facts = good_facts();
        facts.spf_present = Some(false);
        let r = run(&reports, &facts, &["s1"], &[]);
        assert_eq!(ids(&r.findings[0], "missing"), ["spf"]);
    }

    #[test]
    fn a_present_record_is_met_even_if_a_later_lookup_failed() {
        // e.g. an include target timed out: the SPF record itself is published.
        let reports = [report("spf", &[FindingCode::SpfLookupFailed])];
        let r = run(
            &reports,
            &good_facts(),
            &["s1"],
            &[ptr("192.0.2.10", Some("m.test"), true, &[])],
        );
        assert!(r.findings.is_empty(), "{:?}", r.findings);
    }

    #[test]
    fn missing_and_unverified_together_is_a_warning_naming_both() {
        let mut facts = good_facts();
        facts.dmarc_policy = None;
        let r = run(
            &[],
            &facts,
            &["s1"],
            &[ptr(
                "192.0.2.10",
                None,
                false,
                &[FindingCode::PtrLookupFailed],
            )],
        );
        let f = &r.findings[0];
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(ids(f, "missing"), ["dmarc"]);
        assert_eq!(ids(f, "unverified"), ["ptr"]);
        assert!(
            f.message.contains("Could not verify: PTR of 192.0.2.10"),
            "{}",
            f.message
        );
    }

    #[test]
    fn unconfigured_selectors_and_ips_are_info_not_missing() {
        let mut facts = good_facts();
        facts.dkim_keys.clear();
        let r = run(&[], &facts, &[], &[]);
        let f = &r.findings[0];
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(ids(f, "not_checked"), ["dkim", "ptr"]);
        // SPF at the domain is the aligned identifier.
        assert!(ids(f, "met").contains(&"dmarc_alignment".to_owned()));
    }

    #[test]
    fn rsa_keys_under_1024_bits_do_not_count_ed25519_does() {
        let mut facts = good_facts();
        facts.dkim_keys = vec![key("old", "rsa", 512)];
        let r = run(&[], &facts, &["old"], &[]);
        assert_eq!(ids(&r.findings[0], "missing"), ["dkim"]);

        facts.dkim_keys = vec![key("ed", "ed25519", 256)];
        let r = run(&[], &facts, &["ed"], &[]);
        assert!(!ids(&r.findings[0], "missing").contains(&"dkim".to_owned()));
    }

    #[test]
    fn ptr_is_missing_for_each_ip_without_fcrdns() {
        let r = run(
            &[],
            &good_facts(),
            &["s1"],
            &[
                ptr("192.0.2.10", Some("mail.example.test"), true, &[]),
                ptr(
                    "192.0.2.11",
                    Some("elsewhere.test"),
                    false,
                    &[FindingCode::PtrFcrdnsMismatch],
                ),
                ptr("2001:db8::25", None, false, &[FindingCode::PtrMissing]),
            ],
        );
        let f = &r.findings[0];
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(ids(f, "missing"), ["ptr"]);
        assert!(
            f.message
                .contains("forward-confirmed PTR for 192.0.2.11, 2001:db8::25"),
            "{}",
            f.message
        );
        assert!(!f.message.contains("192.0.2.10"), "{}", f.message);
    }
}
