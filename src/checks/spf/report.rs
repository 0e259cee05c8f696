//! Findings from the walked tree and the sending-IP verdicts: one sentence a human can act on each,
//! with the facts behind it in `detail`. Limits and the record's ending are in `policy.rs`.

use std::net::IpAddr;

use serde_json::json;

use crate::checks::{Facts, Outcome};
use crate::findings::{Finding, FindingCode, Severity};

use super::eval::{LOOKUP_LIMIT, MX_LIMIT, SpfResult, Verdict};
use super::policy;
use super::tree::{Issue, NodeStatus, Walk};
use super::walk::{RECORD_LENGTH_LIMIT, STRING_LENGTH_LIMIT};

/// Build the check's outcome.
pub(super) fn outcome(domain: &str, tree: &Walk, verdicts: &[(IpAddr, Verdict)]) -> Outcome {
    let root = &tree.root;
    let mut findings = Vec::new();
    let mut facts = Facts {
        spf_present: Some(false),
        ..Facts::default()
    };
    let mut record = root.record.clone();
    match &root.status {
        NodeStatus::LookupFailed { error } => {
            findings.push(Finding::new(
                FindingCode::SpfLookupFailed,
                Severity::Unknown,
                format!(
                    "Could not read the TXT records of {domain} ({error}), so SPF was not checked."
                ),
            ));
            facts.spf_present = None;
            return Outcome {
                record: None,
                findings,
                facts,
            };
        }
        NodeStatus::NoSpf {
            why,
            void,
            near_misses,
        } => findings.push(
            Finding::new(
                FindingCode::SpfMissing,
                Severity::Critical,
                missing_message(domain, why, *void, near_misses),
            )
            .with_detail(json!({ "reason": why, "near_misses": near_misses })),
        ),
        NodeStatus::MultipleRecords { records } => {
            record = Some(records.join("\n"));
            findings.push(
                Finding::new(
                    FindingCode::SpfMultipleRecords,
                    Severity::Critical,
                    format!(
                        "{domain} publishes {} SPF records; receivers return permerror. Merge them into one TXT record starting with `v=spf1`.",
                        records.len()
                    ),
                )
                .with_detail(json!({ "records": records })),
            );
        }
        NodeStatus::SyntaxError { errors } => findings.push(
            Finding::new(
                FindingCode::SpfSyntaxError,
                Severity::Critical,
                format!(
                    "The SPF record of {domain} is invalid, so receivers return permerror: {}.",
                    errors.join("; ")
                ),
            )
            .with_detail(json!({ "errors": errors })),
        ),
        NodeStatus::NotWalked { .. } => {}
        NodeStatus::Ok => {
            facts.spf_present = Some(true);
            facts.spf_dns_lookups = Some(root.lookups);
        }
    }
    findings.extend(issue_findings(domain, &tree.issues));
    if root.status == NodeStatus::Ok {
        findings.extend(policy::limit_findings(domain, root));
        findings.extend(policy::ending_findings(domain, root));
    }
    findings.extend(
        verdicts
            .iter()
            .filter_map(|(ip, v)| verdict_finding(domain, *ip, v)),
    );
    Outcome {
        record,
        findings,
        facts,
    }
}

fn missing_message(domain: &str, why: &str, void: bool, near_misses: &[String]) -> String {
    let fix = "Publish one TXT record starting with `v=spf1` that lists your senders and ends in `-all` (just `v=spf1 -all` if the domain sends no mail).";
    if !near_misses.is_empty() {
        format!("{domain} has no valid SPF record: {why}. Receivers return none. {fix}")
    } else if void {
        format!(
            "{why}, so no SPF record. Receivers return none and anyone can claim the domain. {fix}"
        )
    } else {
        format!("{why}, so no SPF record. Receivers return none. {fix}")
    }
}

/// Where a term is, for messages: "in a.test" or "in c.test (reached through a.test → b.test)".
fn place(path: &[String]) -> String {
    match path {
        [] => String::new(),
        [only] => format!("in {only}"),
        [.., last] => format!("in {last} (reached through {})", path.join(" → ")),
    }
}

fn issue_findings(domain: &str, issues: &[Issue]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut failures = Vec::new();
    let mut ptrs = Vec::new();
    for issue in issues {
        match issue {
            Issue::Loop { path, term, target } => {
                let mut chain = path.clone();
                chain.push(target.clone());
                findings.push(
                    Finding::new(
                        FindingCode::SpfIncludeLoop,
                        Severity::Critical,
                        format!(
                            "`{term}` in {} points back to {target}, which is already being evaluated ({}); receivers go round until the {LOOKUP_LIMIT}-lookup limit and return permerror. Remove the term.",
                            path.last().map_or(domain, String::as_str),
                            chain.join(" → ")
                        ),
                    )
                    .with_detail(json!({ "term": term, "chain": chain })),
                );
            }
            Issue::WithoutSpf {
                path,
                term,
                target,
                why,
            } => findings.push(
                Finding::new(
                    FindingCode::SpfIncludeWithoutSpf,
                    Severity::Critical,
                    format!(
                        "`{term}` {} points to a domain without SPF ({why}); receivers return permerror when they reach it. Fix the target or remove the term.",
                        place(path)
                    ),
                )
                .with_detail(json!({ "term": term, "target": target, "path": path, "reason": why })),
            ),
            Issue::BrokenTarget { path, status } => {
                let target = path.last().cloned().unwrap_or_default();
                let via = place(&path[..path.len().saturating_sub(1)]);
                match status {
                    NodeStatus::MultipleRecords { records } => findings.push(
                        Finding::new(
                            FindingCode::SpfMultipleRecords,
                            Severity::Critical,
                            format!(
                                "{target}, included {via}, publishes {} SPF records; receivers return permerror when they reach it.",
                                records.len()
                            ),
                        )
                        .with_detail(json!({ "domain": target, "path": path, "records": records })),
                    ),
                    NodeStatus::SyntaxError { errors } => findings.push(
                        Finding::new(
                            FindingCode::SpfSyntaxError,
                            Severity::Critical,
                            format!(
                                "The SPF record of {target}, included {via}, is invalid, so receivers return permerror when they reach it: {}.",
                                errors.join("; ")
                            ),
                        )
                        .with_detail(json!({ "domain": target, "path": path, "errors": errors })),
                    ),
                    _ => {}
                }
            }
            Issue::LookupFailed { path, what, error } => {
                failures.push(json!({ "lookup": what, "error": error.kind(), "path": path }));
            }
            Issue::Ptr { path, term } => ptrs.push(format!("`{term}` {}", place(path))),
            Issue::TooManyMx { path, term, hosts } => findings.push(
                Finding::new(
                    FindingCode::SpfTooManyLookups,
                    Severity::Critical,
                    format!(
                        "`{term}` {} names a domain with {hosts} MX records; RFC 7208 §4.6.4 allows {MX_LIMIT}, so receivers return permerror. Use ip4:/ip6: for the mail servers instead.",
                        place(path)
                    ),
                )
                .with_detail(json!({ "term": term, "path": path, "mx_hosts": hosts, "limit": MX_LIMIT })),
            ),
            Issue::LongString { domain: at, len } => findings.push(
                Finding::new(
                    FindingCode::SpfStringTooLong,
                    Severity::Warning,
                    format!(
                        "The SPF record of {at} holds a {len}-byte string; DNS strings hold at most {STRING_LENGTH_LIMIT} bytes, so some server in between is broken and other resolvers may see something else. Split the record into strings of at most {STRING_LENGTH_LIMIT} bytes."
                    ),
                )
                .with_detail(json!({ "domain": at, "length": len, "limit": STRING_LENGTH_LIMIT })),
            ),
            Issue::LongRecord { domain: at, len } => findings.push(
                Finding::new(
                    FindingCode::SpfRecordTooLong,
                    Severity::Warning,
                    format!(
                        "The SPF record of {at} is {len} bytes; RFC 7208 §3.4 advises under {RECORD_LENGTH_LIMIT} so the answer fits one UDP packet. Shorten it (move senders into an include)."
                    ),
                )
                .with_detail(json!({ "domain": at, "length": len, "limit": RECORD_LENGTH_LIMIT })),
            ),
        }
    }
    if !ptrs.is_empty() {
        findings.push(
            Finding::new(
                FindingCode::SpfPtrMechanism,
                Severity::Warning,
                format!(
                    "The SPF tree of {domain} uses ptr ({}), which RFC 7208 §5.5 says not to use: it is slow, costs lookups and some receivers ignore it. List the senders with ip4:/ip6: or include instead.",
                    ptrs.join(", ")
                ),
            )
            .with_detail(json!({ "terms": ptrs })),
        );
    }
    if !failures.is_empty() {
        let listed: Vec<String> = failures
            .iter()
            .map(|f| {
                format!(
                    "{} ({})",
                    f["lookup"].as_str().unwrap_or(""),
                    f["error"].as_str().unwrap_or("")
                )
            })
            .collect();
        findings.push(
            Finding::new(
                FindingCode::SpfLookupFailed,
                Severity::Unknown,
                format!(
                    "Some DNS lookups of the SPF tree of {domain} failed: {}; counts and findings may be incomplete.",
                    listed.join(", ")
                ),
            )
            .with_detail(json!({ "failures": failures })),
        );
    }
    findings
}

/// One finding for a sending IP that does not pass; `None` when it passes.
fn verdict_finding(domain: &str, ip: IpAddr, v: &Verdict) -> Option<Finding> {
    let detail = json!({
        "ip": ip.to_string(),
        "result": v.result,
        "reason": v.reason,
        "explanation": v.explanation,
        "dns_lookups": v.dns_lookups,
        "void_lookups": v.void_lookups,
    });
    let mechanism = match ip {
        IpAddr::V4(_) => "ip4",
        IpAddr::V6(_) => "ip6",
    };
    let (severity, advice) = match v.result {
        SpfResult::Pass => return None,
        SpfResult::TempError => {
            return Some(
                Finding::new(
                    FindingCode::SpfLookupFailed,
                    Severity::Unknown,
                    format!(
                        "Could not evaluate SPF for sending IP {ip}: temperror ({}).",
                        v.reason
                    ),
                )
                .with_detail(detail),
            );
        }
        SpfResult::PermError => (
            Severity::Critical,
            "Fix the record first: receivers cannot evaluate it.".to_owned(),
        ),
        SpfResult::None => (
            Severity::Warning,
            "Publish an SPF record that lists it.".to_owned(),
        ),
        SpfResult::Fail | SpfResult::SoftFail => (
            Severity::Critical,
            format!(
                "Add `{mechanism}:{ip}` (or the include of the service sending from it) before the `all`."
            ),
        ),
        SpfResult::Neutral => (
            Severity::Warning,
            format!("Add `{mechanism}:{ip}` (or the include of the service sending from it)."),
        ),
    };
    Some(
        Finding::new(
            FindingCode::SpfSendingIpNotAuthorized,
            severity,
            format!(
                "Sending IP {ip} gets SPF {} for {domain}: {}. {advice}",
                v.result, v.reason
            ),
        )
        .with_detail(detail),
    )
}
