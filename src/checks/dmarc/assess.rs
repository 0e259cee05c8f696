//! Turning a policy discovery into findings: what is wrong at `_dmarc.<domain>` itself, the absence of
//! any policy, and everything about the record that applies. Severities are chosen in the module docs of
//! `dmarc`.

use serde_json::json;

use super::discover::{Applicable, Discovery, WalkFailure};
use super::mailable;
use super::record::{self, Classified, DmarcRecord, PolicyTag};
use super::report_auth::{self, Verdict};
use super::{Policy, applied_policy};
use crate::checks::{DomainContext, Outcome};
use crate::findings::{Finding, FindingCode, Severity};

/// DMARC-looking TXT records at the domain itself (a common mistake: receivers never look there).
pub(super) async fn apex_records(
    cx: &DomainContext,
    domain: &str,
    findings: &mut Vec<Finding>,
) -> Vec<String> {
    match cx.dns.txt(domain).await {
        Ok(answer) => answer
            .records()
            .iter()
            .map(|t| t.joined())
            .filter(|text| !matches!(record::classify(text), Classified::Unrelated(_)))
            .collect(),
        Err(error) => {
            findings.push(
                Finding::new(
                    FindingCode::DmarcLookupFailed,
                    Severity::Unknown,
                    format!(
                        "Could not read the TXT records of {domain} ({error}) to look for a DMARC record \
                         published there by mistake."
                    ),
                )
                .with_detail(json!({"name": domain, "error": error.kind()})),
            );
            Vec::new()
        }
    }
}

/// What is wrong at `_dmarc.<domain>` itself, whichever record ends up applying.
pub(super) fn own_name_findings(domain: &str, discovery: &Discovery, findings: &mut Vec<Finding>) {
    let own = &discovery.author;
    let fallback = match &discovery.applies {
        Some(a) if a.inherited => {
            format!("receivers fall back to the policy at _dmarc.{}", a.found_at)
        }
        Some(_) => String::new(),
        None => "no DMARC policy applies to the domain".into(),
    };
    if own.records.len() > 1 {
        // RFC 9989 §4.10 step 2: "If multiple DMARC Policy Records are returned for a single target,
        // they are all discarded."
        let severity = if discovery.applies.is_some() {
            Severity::Warning
        } else {
            Severity::Critical
        };
        let texts: Vec<&str> = own.records.iter().map(|r| r.text.as_str()).collect();
        findings.push(
            Finding::new(
                FindingCode::DmarcMultipleRecords,
                severity,
                format!(
                    "_dmarc.{domain} publishes {} DMARC records; receivers discard them all, so {fallback}. \
                     Merge them into one record.",
                    own.records.len()
                ),
            )
            .with_detail(json!({"name": format!("_dmarc.{domain}"), "records": texts})),
        );
    }
    for (text, why) in &own.broken {
        let (severity, effect) = if own.single().is_some() {
            (Severity::Warning, "it is ignored".to_string())
        } else {
            (Severity::Critical, fallback.clone())
        };
        findings.push(
            Finding::new(
                FindingCode::DmarcSyntaxError,
                severity,
                format!(
                    "The record \"{text}\" at _dmarc.{domain} is not a valid DMARC record: {why}; {effect}. \
                     Start it with exactly v=DMARC1;"
                ),
            )
            .with_detail(json!({"name": format!("_dmarc.{domain}"), "tag": "v", "record": text})),
        );
    }
    if !own.unrelated.is_empty() {
        let spf = own.unrelated.iter().any(|t| t.starts_with("v=spf1"));
        let hint = if spf {
            " An SPF record here usually comes from a wildcard TXT or a CNAME at _dmarc; check both."
        } else {
            ""
        };
        findings.push(
            Finding::new(
                FindingCode::DmarcUnrelatedTxt,
                Severity::Info,
                format!(
                    "_dmarc.{domain} also publishes {} TXT record(s) that are not DMARC; receivers ignore \
                     them, but nothing but the DMARC record belongs there.{hint}",
                    own.unrelated.len()
                ),
            )
            .with_detail(json!({"name": format!("_dmarc.{domain}"), "txt": own.unrelated})),
        );
    }
}

/// No record applies: missing, or a record at the apex instead of `_dmarc`.
pub(super) fn no_policy(domain: &str, discovery: &Discovery, apex: &[String], out: &mut Outcome) {
    out.facts.dmarc_enforced = Some(false);
    let own = &discovery.author;
    let own_texts: Vec<&str> = own
        .records
        .iter()
        .map(|r| r.text.as_str())
        .chain(own.broken.iter().map(|(t, _)| t.as_str()))
        .collect();
    out.record = if own_texts.is_empty() {
        (!apex.is_empty()).then(|| apex.join("\n"))
    } else {
        Some(own_texts.join("\n"))
    };
    if !apex.is_empty() {
        out.findings.push(
            Finding::new(
                FindingCode::DmarcRecordAtApex,
                Severity::Critical,
                format!(
                    "{domain} publishes its DMARC record at the domain itself, where receivers never look, \
                     and none applies from _dmarc: the domain has no DMARC policy. Move the record to \
                     _dmarc.{domain}."
                ),
            )
            .with_detail(json!({"name": domain, "records": apex, "queried": discovery.trace()})),
        );
    } else if own_texts.is_empty() {
        let top = discovery
            .walk
            .last()
            .map(|w| format!(" or at any parent up to _dmarc.{}", w.domain))
            .unwrap_or_default();
        out.findings.push(
            Finding::new(
                FindingCode::DmarcMissing,
                Severity::Critical,
                format!(
                    "No DMARC record applies to {domain}: none at _dmarc.{domain}{top}. Anyone can send as \
                     {domain}, and bulk mail is rejected by Gmail, Yahoo and Microsoft. Publish \
                     \"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}\" at _dmarc.{domain}, then move \
                     to quarantine or reject once reports show your mail aligns."
                ),
            )
            .with_detail(json!({"queried": discovery.trace()})),
        );
    }
}

/// A DMARC record at the apex beside one that applies: it has no effect.
pub(super) fn apex_beside(domain: &str, applies: &Applicable, apex: &[String]) -> Finding {
    let (severity, message) = if applies.inherited {
        (
            Severity::Warning,
            format!(
                "{domain} publishes a DMARC record at the domain itself, where receivers never look; they \
                 apply the policy at _dmarc.{} instead. Move the record to _dmarc.{domain}.",
                applies.found_at
            ),
        )
    } else {
        (
            Severity::Info,
            format!(
                "{domain} publishes a DMARC record at the domain itself as well as at _dmarc.{domain}; the \
                 one at the domain has no effect. Remove it to avoid confusion."
            ),
        )
    };
    Finding::new(FindingCode::DmarcRecordAtApex, severity, message)
        .with_detail(json!({"name": domain, "records": apex}))
}

/// Findings about the record that applies, and the facts.
pub(super) async fn policy_findings(
    cx: &DomainContext,
    discovery: &Discovery,
    applies: &Applicable,
    out: &mut Outcome,
) {
    let domain = cx.domain.as_str();
    let record = &applies.record;
    let at = format!("_dmarc.{}", applies.found_at);
    let base = json!({"name": at, "record": record.text});
    let findings = &mut out.findings;
    if applies.inherited {
        let which = if record.sp.valid().is_some() {
            "sp= (subdomain)"
        } else {
            "p="
        };
        let psd = if applies.from_psd {
            " (a public suffix domain's policy, psd=y)"
        } else {
            ""
        };
        findings.push(
            Finding::new(
                FindingCode::DmarcInherited,
                Severity::Info,
                format!(
                    "{domain} has no DMARC record of its own; the DNS tree walk found the one at {at}{psd}, \
                     whose {which} policy applies. Publish _dmarc.{domain} to set the domain's own policy \
                     and report addresses."
                ),
            )
            .with_detail(json!({
                "found_at": applies.found_at,
                "org_domain": applies.org_domain,
                "from_psd": applies.from_psd,
                "queried": discovery.trace(),
            })),
        );
    }
    for problem in &record.problems {
        let severity = if problem.severe {
            Severity::Critical
        } else {
            Severity::Warning
        };
        findings.push(
            Finding::new(
                FindingCode::DmarcSyntaxError,
                severity,
                format!(
                    "The DMARC record at {at} has a problem: {}.",
                    problem.message
                ),
            )
            .with_detail(with(&base, json!({"tag": problem.tag}))),
        );
    }
    let policy = applied_policy(record, applies.inherited);
    match policy {
        None => {
            let tag = if record.p.valid().is_none() {
                "p"
            } else {
                "sp/np"
            };
            findings.push(
                Finding::new(
                    FindingCode::DmarcSyntaxError,
                    Severity::Critical,
                    format!(
                        "The DMARC record at {at} has no valid {tag}= and no valid rua=, so receivers apply no \
                         DMARC to {domain} at all (RFC 9989 §4.10.1). Add p=none (or stricter) and a \
                         rua=mailto: address."
                    ),
                )
                .with_detail(with(&base, json!({"tag": tag}))),
            );
        }
        Some(Policy::None) => {
            findings.push(policy_none(domain, &at, record, applies.inherited, &base))
        }
        Some(_) => {}
    }
    subdomain_findings(&at, record, &base, findings);
    if record.testing {
        // RFC 9989 §4.7 t=y: receivers apply one level less than the policy; "it has no effect on any
        // policy that is none".
        let enforcing = [record.p, record.sp, record.np]
            .iter()
            .any(|t| t.valid().is_some_and(Policy::enforces));
        let severity = if enforcing {
            Severity::Warning
        } else {
            Severity::Info
        };
        findings.push(
            Finding::new(
                FindingCode::DmarcTestingMode,
                severity,
                format!(
                    "The DMARC record at {at} is in testing mode (t=y): receivers apply one level less than \
                     the policy (reject becomes quarantine, quarantine becomes none). Remove t=y once \
                     reports show your mail passes."
                ),
            )
            .with_detail(base.clone()),
        );
    }
    if !record.obsolete.is_empty() {
        findings.push(obsolete(&at, record, &base));
    }
    if let Some(position) = record.p_position.filter(|p| *p != 2) {
        findings.push(policy_not_second(&at, position, &base));
    }
    if record.rua.is_empty() {
        findings.push(
            Finding::new(
                FindingCode::DmarcNoRua,
                Severity::Warning,
                format!(
                    "The DMARC record at {at} asks for no aggregate reports (no usable rua=), so you are blind \
                     to abuse of your domain and to your own mail failing DMARC. Add \
                     rua=mailto:dmarc-reports@{}.",
                    applies.found_at
                ),
            )
            .with_detail(base.clone()),
        );
    }
    for destination in report_auth::check_destinations(&cx.dns, &applies.found_at, record).await {
        let uris: Vec<&str> = destination.uris.iter().map(|(_, u)| u.as_str()).collect();
        match destination.verdict {
            Verdict::SameOrganization | Verdict::Authorized { .. } => {}
            Verdict::NotAuthorized { name, why } => findings.push(
                Finding::new(
                    FindingCode::DmarcRuaNotAuthorized,
                    Severity::Warning,
                    format!(
                        "Reports for {} go to {}, outside the domain's organization, but {why}: receivers \
                         send nothing there. Ask {} to publish \"v=DMARC1\" at {name} (or \
                         *._report._dmarc.{}).",
                        applies.found_at,
                        uris.join(", "),
                        destination.host,
                        destination.host
                    ),
                )
                .with_detail(json!({"host": destination.host, "uris": uris, "name": name})),
            ),
            Verdict::Failed { name, error } => findings.push(
                Finding::new(
                    FindingCode::DmarcLookupFailed,
                    Severity::Unknown,
                    format!(
                        "Could not look up {name} ({error}), so whether {} accepts reports for {} is unknown.",
                        destination.host, applies.found_at
                    ),
                )
                .with_detail(json!({"name": name, "error": error.kind(), "uris": uris})),
            ),
        }
    }
    for lost in mailable::undeliverable(&cx.dns, record).await {
        findings.push(
            Finding::new(
                FindingCode::DmarcReportAddressUndeliverable,
                Severity::Warning,
                format!(
                    "Reports for {} go to {}, but {} {}: receivers' reports sent there are lost. Use an \
                     address at a domain that receives mail.",
                    applies.found_at,
                    lost.uris.join(", "),
                    lost.host,
                    lost.why.why()
                ),
            )
            .with_detail(json!({"host": lost.host, "uris": lost.uris})),
        );
    }
    out.facts.dmarc_policy = policy.map(Policy::as_str);
    let leftover_pct = record.obsolete.iter().any(|o| o.tag == "pct" && o.weakens);
    out.facts.dmarc_enforced =
        Some(policy.is_some_and(Policy::enforces) && !record.testing && !leftover_pct);
}

/// RFC 9989 §4.7 requires only `v` first; RFC 7489's grammar (§6.4) put `p` right after it, and
/// checkdmarc still reports it. Receivers following either RFC read the record; a strict RFC 7489 parser
/// may discard it, so this is a hint.
fn policy_not_second(at: &str, position: usize, base: &serde_json::Value) -> Finding {
    Finding::new(
        FindingCode::DmarcPolicyNotSecond,
        Severity::Info,
        format!(
            "The DMARC record at {at} has p= as tag {position}, not right after v=DMARC1. RFC 9989 allows any \
             order after v=, and receivers following it read the record; a receiver parsing by RFC 7489's \
             grammar may discard it. Move p= right after v=DMARC1."
        ),
    )
    .with_detail(with(base, json!({"position": position})))
}

/// The applied policy is none: say why (explicit, inherited sp, missing or invalid p).
fn policy_none(
    domain: &str,
    at: &str,
    record: &DmarcRecord,
    inherited: bool,
    base: &serde_json::Value,
) -> Finding {
    let why = match (record.p, inherited && record.sp.valid().is_some()) {
        (_, true) => format!("the record at {at} sets sp=none for subdomains such as {domain}"),
        (PolicyTag::Valid(_), false)
            if record.sp == PolicyTag::Invalid || record.np == PolicyTag::Invalid =>
        {
            format!(
                "the record at {at} has an invalid sp= or np=, so receivers fall back to p=none"
            )
        }
        (PolicyTag::Valid(_), false) => format!("the record at {at} says p=none"),
        (PolicyTag::Absent, false) => format!(
            "the record at {at} has no p= tag, which RFC 9989 reads as p=none (RFC 7489 receivers reject \
             such a record outright)"
        ),
        (PolicyTag::Invalid, false) => {
            format!("the record at {at} has an invalid p=, so receivers fall back to p=none")
        }
    };
    Finding::new(
        FindingCode::DmarcPolicyNone,
        Severity::Warning,
        format!(
            "Mail failing DMARC from {domain} is delivered as usual: {why}. Once reports show your own mail \
             passes, move to p=quarantine, then p=reject."
        ),
    )
    .with_detail(with(base, json!({"policy": "none"})))
}

/// Explicit `sp=none`, and `np=none` below an enforcing subdomain policy.
fn subdomain_findings(
    at: &str,
    record: &DmarcRecord,
    base: &serde_json::Value,
    findings: &mut Vec<Finding>,
) {
    if record.sp == PolicyTag::Valid(Policy::None) {
        findings.push(
            Finding::new(
                FindingCode::DmarcSubdomainPolicyNone,
                Severity::Warning,
                format!(
                    "The DMARC record at {at} sets sp=none: mail failing DMARC from any subdomain is delivered \
                     as usual, so subdomains can be spoofed. Remove sp= (subdomains then follow p=) or set \
                     sp=quarantine or sp=reject."
                ),
            )
            .with_detail(with(base, json!({"tag": "sp"}))),
        );
    }
    // RFC 9989 §4.7 np: the policy for non-existent subdomains; absent, sp (or p) applies.
    let subdomains = record.sp.valid().or(record.p.valid());
    if record.np == PolicyTag::Valid(Policy::None) && subdomains.is_some_and(Policy::enforces) {
        findings.push(
            Finding::new(
                FindingCode::DmarcSubdomainPolicyNone,
                Severity::Warning,
                format!(
                    "The DMARC record at {at} sets np=none: mail from subdomains that do not exist is \
                     delivered as usual, so anyone can invent one to spoof. Remove np= or set np=reject."
                ),
            )
            .with_detail(with(base, json!({"tag": "np"}))),
        );
    }
}

/// RFC 9989 Appendix C: pct, rf and ri were removed, and `!size` on report URIs is obsolete syntax.
fn obsolete(at: &str, record: &DmarcRecord, base: &serde_json::Value) -> Finding {
    let tags: Vec<String> = record
        .obsolete
        .iter()
        .map(|o| {
            if o.value.starts_with('!') {
                format!("{} size limit {}", o.tag, o.value)
            } else {
                format!("{}={}", o.tag, o.value)
            }
        })
        .collect();
    let weakens = record.obsolete.iter().any(|o| o.weakens);
    let (severity, extra) = if weakens {
        (
            Severity::Warning,
            " Receivers still on RFC 7489 apply the policy to only pct percent of the failing mail (none of \
             it at pct=0; an invalid pct is discarded): use t=y for testing, or drop pct= for full enforcement.",
        )
    } else {
        (Severity::Info, "")
    };
    Finding::new(
        FindingCode::DmarcObsoleteTag,
        severity,
        format!(
            "The DMARC record at {at} uses {}, removed by RFC 9989; current receivers ignore them.{extra} \
             Remove them.",
            tags.join(", ")
        ),
    )
    .with_detail(with(
        base,
        json!({"obsolete": record.obsolete.iter().map(|o| &o.tag).collect::<Vec<_>>()}),
    ))
}

pub(super) fn walk_failed(domain: &str, failure: &WalkFailure) -> Finding {
    Finding::new(
        FindingCode::DmarcLookupFailed,
        Severity::Unknown,
        format!(
            "Could not look up {} ({}), so the DMARC policy of {domain} is unknown; this does not mean it is \
             missing.",
            failure.name, failure.error
        ),
    )
    .with_detail(json!({"name": failure.name, "error": failure.error.kind()}))
}

/// `base` with the fields of `extra` added.
fn with(base: &serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    let mut merged = base.clone();
    if let (Some(m), serde_json::Value::Object(e)) = (merged.as_object_mut(), extra) {
        m.extend(e);
    }
    merged
}
