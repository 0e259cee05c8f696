//! Findings from the walked tree and the sending-IP verdicts: one sentence a human can act on each,
//! with the facts behind it in `detail`.

use std::net::IpAddr;

use serde_json::json;

use crate::checks::{Facts, Outcome};
use crate::findings::{Finding, FindingCode, Severity};

use super::eval::{LOOKUP_LIMIT, MX_LIMIT, SpfResult, VOID_LIMIT, Verdict};
use super::record::Qualifier;
use super::walk::{
    self, Branch, Ending, Issue, Node, NodeStatus, RECORD_LENGTH_LIMIT, STRING_LENGTH_LIMIT, Walk,
};

/// How many of the heaviest branches a too_many_lookups message names.
const BRANCHES_NAMED: usize = 5;

/// Build the check's outcome.
pub fn outcome(domain: &str, tree: &Walk, verdicts: &[(IpAddr, Verdict)]) -> Outcome {
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
        findings.extend(limit_findings(domain, root));
        findings.extend(ending_findings(domain, root));
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

fn limit_findings(domain: &str, root: &Node) -> Vec<Finding> {
    let mut findings = Vec::new();
    let tree = serde_json::to_value(root).unwrap_or_default();
    if root.lookups > LOOKUP_LIMIT {
        let mut branches: Vec<(&str, u32)> = root
            .terms
            .iter()
            .filter(|t| t.lookups > 0)
            .map(|t| {
                let label = match (t.branch, &t.target) {
                    (Some(_), Some(target)) => target.as_str(),
                    _ => t.term.as_str(),
                };
                (label, t.lookups)
            })
            .collect();
        branches.sort_by_key(|b| std::cmp::Reverse(b.1));
        let named: Vec<String> = branches
            .iter()
            .take(BRANCHES_NAMED)
            .map(|(label, n)| format!("{label} ({n})"))
            .collect();
        findings.push(
            Finding::new(
                FindingCode::SpfTooManyLookups,
                Severity::Critical,
                format!(
                    "SPF needs {}{} DNS lookups; receivers stop at {LOOKUP_LIMIT} and return permerror. Flatten or remove includes: {}.",
                    if truncated(root) { "at least " } else { "" },
                    root.lookups,
                    named.join(", ")
                ),
            )
            .with_detail(json!({
                "lookups": root.lookups,
                "limit": LOOKUP_LIMIT,
                "branches": branches.iter().map(|(l, n)| json!({ "branch": l, "lookups": n })).collect::<Vec<_>>(),
                "tree": tree,
            })),
        );
    }
    if root.void_lookups > VOID_LIMIT {
        let mut sources = Vec::new();
        void_sources(root, &mut sources);
        findings.push(
            Finding::new(
                FindingCode::SpfTooManyVoidLookups,
                Severity::Critical,
                format!(
                    "Evaluating the SPF record of {domain} meets {} lookups that return nothing; receivers stop at {VOID_LIMIT} and return permerror. Remove or fix: {}.",
                    root.void_lookups,
                    sources.join(", ")
                ),
            )
            .with_detail(json!({
                "void_lookups": root.void_lookups,
                "limit": VOID_LIMIT,
                "sources": sources,
                "tree": tree,
            })),
        );
    }
    findings
}

/// Whether part of the tree was not walked (too deep or too large): counts are then lower bounds.
fn truncated(node: &Node) -> bool {
    matches!(node.status, NodeStatus::NotWalked { .. })
        || node
            .terms
            .iter()
            .filter_map(|t| t.node.as_deref())
            .any(truncated)
}

/// The terms that cause void lookups, for the message: "`a:x.test` in d.test (x.test has no A or AAAA
/// records)".
fn void_sources(node: &Node, out: &mut Vec<String>) {
    for t in &node.terms {
        let own = t.void_lookups - t.node.as_ref().map_or(0, |n| n.void_lookups);
        if own > 0 {
            let why = match (&t.node, &t.note) {
                (Some(child), _) => match &child.status {
                    NodeStatus::NoSpf { why, .. } => why.clone(),
                    _ => String::new(),
                },
                (None, Some(note)) => note.clone(),
                (None, None) => String::new(),
            };
            out.push(format!("`{}` in {} ({why})", t.term, node.domain));
        }
        if let Some(child) = &t.node {
            void_sources(child, out);
        }
    }
}

fn ending_findings(domain: &str, root: &Node) -> Vec<Finding> {
    let mut findings = Vec::new();
    let all_term = |at: &str| -> String {
        let find = |node: &Node| -> Option<String> {
            node.parsed
                .as_ref()
                .and_then(|r| r.all().map(|(t, _)| t.text.clone()))
        };
        let mut node = root;
        loop {
            if node.domain == at {
                return find(node).unwrap_or_else(|| "all".into());
            }
            match node
                .terms
                .iter()
                .find(|t| t.branch == Some(Branch::Redirect))
                .and_then(|t| t.node.as_deref())
            {
                Some(next) => node = next,
                None => return "all".into(),
            }
        }
    };
    let whose = |at: &str| {
        if at == domain {
            "The record".to_owned()
        } else {
            format!("The record of {at} (the redirect target)")
        }
    };
    match walk::ending(root) {
        Ending::All(Qualifier::Pass, at) => {
            let term = all_term(&at);
            let bare = if term.starts_with('+') {
                String::new()
            } else {
                " (`all` without a qualifier means `+all`)".to_owned()
            };
            findings.push(
                Finding::new(
                    FindingCode::SpfPermissiveAll,
                    Severity::Critical,
                    format!(
                        "{} ends in `{term}`{bare}: every host on the internet passes SPF for {domain}. Replace it with `-all` (or `~all` while testing).",
                        whose(&at)
                    ),
                )
                .with_detail(json!({ "term": term, "domain": at })),
            );
        }
        Ending::All(Qualifier::Neutral, at) => findings.push(
            Finding::new(
                FindingCode::SpfNeutralAll,
                Severity::Warning,
                format!(
                    "{} ends in `{}`: hosts not listed get neutral, which receivers treat like no SPF at all. End it with `-all` (or `~all`).",
                    whose(&at),
                    all_term(&at)
                ),
            )
            .with_detail(json!({ "domain": at })),
        ),
        Ending::Default(at) => findings.push(
            Finding::new(
                FindingCode::SpfNeutralAll,
                Severity::Warning,
                format!(
                    "{} has neither `all` nor `redirect=`, so hosts not listed get neutral (RFC 7208 §4.7), which receivers treat like no SPF at all. End it with `-all` (or `~all`).",
                    whose(&at)
                ),
            )
            .with_detail(json!({ "domain": at })),
        ),
        Ending::All(..) | Ending::Unknown => {}
    }
    if let Some(chain) = walk::include_passing_everyone(root) {
        findings.push(
            Finding::new(
                FindingCode::SpfPermissiveAll,
                Severity::Critical,
                format!(
                    "`{}` in {domain} leads to a record ending in `+all` ({}), so every host on the internet passes SPF for {domain}. Remove the include or ask its owner to end with `-all`.",
                    chain[0],
                    chain.join(" → ")
                ),
            )
            .with_detail(json!({ "chain": chain })),
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
