//! Findings about the record as a policy: the lookup and void-lookup limits over the whole tree (with the
//! heaviest branches named), and how the record ends for senders nothing matched (`+all`, `?all`, no
//! `all`, or an include that passes everyone), and terms after `all` that nobody reads.

use serde_json::json;

use crate::findings::{Finding, FindingCode, Severity};

use super::eval::{LOOKUP_LIMIT, VOID_LIMIT};
use super::record::Qualifier;
use super::tree::{
    Branch, Ending, Node, NodeStatus, bounded_json, ending, include_passing_everyone,
};

/// How many of the heaviest branches a too_many_lookups message names.
const BRANCHES_NAMED: usize = 5;
/// How many branches the detail lists (a root record can have thousands of terms).
const BRANCHES_IN_DETAIL: usize = 32;
/// The walked tree in a finding's detail is cut to this many bytes (the stored result of a hostile
/// tree stays small; the counts and the cut are still reported).
pub(super) const TREE_DETAIL_BYTES: usize = 32 * 1024;

/// Where the diagnostic walk stopped (`Issue::Cut`): the domains from the root and which bound.
pub(super) struct Cut<'a> {
    pub path: &'a [String],
    pub why: &'a str,
}

pub(super) fn limit_findings(domain: &str, root: &Node, cuts: &[Cut<'_>]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let (tree, tree_cut) = bounded_json(root, TREE_DETAIL_BYTES);
    let cut_list: Vec<serde_json::Value> = cuts
        .iter()
        .map(|c| json!({ "path": c.path, "why": c.why }))
        .collect();
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
        let cut_sentence = match cuts.first() {
            None => String::new(),
            Some(first) => format!(
                " The diagnosis stopped walking the tree {} ({}){}.",
                where_cut(first.path),
                first.why,
                if cuts.len() > 1 {
                    format!(" and at {} other place(s); see the detail", cuts.len() - 1)
                } else {
                    String::new()
                }
            ),
        };
        findings.push(
            Finding::new(
                FindingCode::SpfTooManyLookups,
                Severity::Critical,
                format!(
                    "SPF needs {}{} DNS lookups; receivers stop at {LOOKUP_LIMIT} and return permerror. Flatten or remove the heaviest branches: {}.{cut_sentence}",
                    if truncated(root) || !cuts.is_empty() { "at least " } else { "" },
                    root.lookups,
                    named.join(", ")
                ),
            )
            .with_detail(json!({
                "lookups": root.lookups,
                "limit": LOOKUP_LIMIT,
                "branches": branches.iter().take(BRANCHES_IN_DETAIL).map(|(l, n)| json!({ "branch": l, "lookups": n })).collect::<Vec<_>>(),
                "cut": cut_list,
                "tree": tree,
                "tree_cut": tree_cut,
            })),
        );
    }
    if root.void_lookups > VOID_LIMIT {
        let mut sources = Vec::new();
        void_sources(root, &mut sources);
        let total = sources.len();
        sources.truncate(BRANCHES_IN_DETAIL);
        let mut listed = sources
            .iter()
            .take(BRANCHES_NAMED * 2)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if total > BRANCHES_NAMED * 2 {
            listed.push_str(&format!(" and {} more", total - BRANCHES_NAMED * 2));
        }
        findings.push(
            Finding::new(
                FindingCode::SpfTooManyVoidLookups,
                Severity::Critical,
                format!(
                    "Evaluating the SPF record of {domain} meets {} lookups that return nothing; receivers stop at {VOID_LIMIT} and return permerror. Remove or fix: {}.",
                    root.void_lookups,
                    listed
                ),
            )
            .with_detail(json!({
                "void_lookups": root.void_lookups,
                "limit": VOID_LIMIT,
                "sources": sources,
                "cut": cut_list,
                "tree": tree,
                "tree_cut": tree_cut,
            })),
        );
    }
    findings
}

/// "at a.test" or "at c.test (reached through a.test → b.test → c.test)".
fn where_cut(path: &[String]) -> String {
    match path {
        [] => String::new(),
        [only] => format!("at {only}"),
        [.., last] => format!("at {last} (reached through {})", path.join(" → ")),
    }
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

pub(super) fn ending_findings(domain: &str, root: &Node) -> Vec<Finding> {
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
    match ending(root) {
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
    if let Some(chain) = include_passing_everyone(root) {
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

/// The domain's own record has terms after `all` (see [`super::record::Record::ignored_after_all`]): usually an
/// include or address added at the end of the record, which then authorizes nothing.
pub(super) fn after_all_findings(domain: &str, root: &Node) -> Vec<Finding> {
    let Some(record) = root.parsed.as_ref() else {
        return Vec::new();
    };
    let ignored = record.ignored_after_all();
    let Some((all, _)) = record.all() else {
        return Vec::new();
    };
    if ignored.is_empty() {
        return Vec::new();
    }
    let terms: Vec<&str> = ignored.iter().map(|t| t.text.as_str()).collect();
    let shown = terms
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        Finding::new(
            FindingCode::SpfTermsAfterAll,
            Severity::Warning,
            format!(
                "The record of {domain} has {shown} after `{all}`: receivers stop at `all` and never read what follows \
                 (RFC 7208 §5.1), so those senders are not authorized. Move the terms before `{all}`, or delete them."
            ),
        )
        .with_detail(json!({ "terms": terms, "all": all.text })),
    ]
}
