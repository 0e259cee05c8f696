//! The walked SPF tree as data: records ([`Node`]) and the terms that cost lookups ([`TermCost`]),
//! serialized into finding details; the [`Issue`]s findings are made of; and how a record ends for
//! senders nothing matched ([`ending`], [`include_passing_everyone`]).

use serde::Serialize;

use crate::dns::LookupError;

use super::record::{Qualifier, Record};

/// One record in the tree.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// The domain whose TXT records were read.
    pub domain: String,
    /// The SPF record, when exactly one was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// What was found there.
    pub status: NodeStatus,
    /// DNS-querying terms in this record and below.
    pub lookups: u32,
    /// Void lookups in this record and below.
    pub void_lookups: u32,
    /// The terms that cost lookups, with their cost.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<TermCost>,
    /// DNS-querying terms past the walk's per-record bound: counted (one lookup each, as receivers
    /// count them) but neither looked up nor listed in `terms`.
    #[serde(skip_serializing_if = "is_zero")]
    pub terms_not_followed: u32,
    /// The parsed record, for findings about its `all`.
    #[serde(skip)]
    pub parsed: Option<Record>,
}

/// What a domain publishes, as far as SPF goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeStatus {
    /// One valid SPF record.
    Ok,
    /// No SPF record.
    NoSpf {
        /// Why, for a human.
        why: String,
        /// The TXT lookup itself was void (NXDOMAIN or no TXT at all).
        void: bool,
        /// TXT records that look like a mistaken SPF record.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        near_misses: Vec<String>,
    },
    /// More than one SPF record.
    MultipleRecords {
        /// The records.
        records: Vec<String>,
    },
    /// The record breaks the grammar.
    SyntaxError {
        /// Every error, located.
        errors: Vec<String>,
    },
    /// The TXT lookup failed.
    LookupFailed {
        /// The failure.
        error: String,
    },
    /// Not fetched: the tree is deeper or larger than receivers would ever evaluate.
    NotWalked {
        /// Why.
        why: String,
    },
}

/// A DNS-querying term and what it costs.
#[derive(Debug, Clone, Serialize)]
pub struct TermCost {
    /// The term as written.
    pub term: String,
    /// Lookups: 1 for the term plus everything below it.
    pub lookups: u32,
    /// Void lookups it leads to.
    pub void_lookups: u32,
    /// The target name, when known without a sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Anything notable (not followed, loop, MX host count, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The include/redirect target's record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<Box<Node>>,
    /// `include` or `redirect`, for finding messages.
    #[serde(skip)]
    pub branch: Option<Branch>,
}

/// How a term leads to another record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Branch {
    /// `include:` with its qualifier.
    Include(Qualifier),
    /// `redirect=`.
    Redirect,
}

/// Something a finding is made of, with where in the tree it is (`path`: root first).
#[derive(Debug, Clone, PartialEq)]
pub enum Issue {
    /// An include/redirect back to an ancestor.
    Loop {
        /// Domains from the root to the record holding the term.
        path: Vec<String>,
        /// The term.
        term: String,
        /// The ancestor it points back to.
        target: String,
    },
    /// An include/redirect target without an SPF record.
    WithoutSpf {
        /// Domains from the root to the record holding the term.
        path: Vec<String>,
        /// The term.
        term: String,
        /// The target.
        target: String,
        /// Why the target has none.
        why: String,
    },
    /// A nested record that is broken (several records or grammar errors).
    BrokenTarget {
        /// Domains from the root to the broken record.
        path: Vec<String>,
        /// Several records, or a syntax error.
        status: NodeStatus,
    },
    /// A DNS lookup failed; the counts may be incomplete.
    LookupFailed {
        /// Domains from the root to the record holding the term.
        path: Vec<String>,
        /// What was looked up.
        what: String,
        /// The failure.
        error: LookupError,
    },
    /// A `ptr` mechanism.
    Ptr {
        /// Domains from the root to the record holding it.
        path: Vec<String>,
        /// The term.
        term: String,
    },
    /// An `mx` whose target has more than 10 MX records (a permerror by itself).
    TooManyMx {
        /// Domains from the root to the record holding it.
        path: Vec<String>,
        /// The term.
        term: String,
        /// How many MX records.
        hosts: usize,
    },
    /// A TXT character-string over 255 bytes in an SPF record.
    LongString {
        /// The domain.
        domain: String,
        /// The string's length.
        len: usize,
    },
    /// An SPF record over 450 bytes.
    LongRecord {
        /// The domain.
        domain: String,
        /// The record's length.
        len: usize,
    },
    /// The diagnostic walk stopped here: one of its own bounds was reached (the counts below are then
    /// lower bounds).
    Cut {
        /// Domains from the root to the record where the walk stopped.
        path: Vec<String>,
        /// Which bound, for a human.
        why: String,
    },
}

/// The walked tree and what it revealed.
#[derive(Debug, Clone)]
pub struct Walk {
    /// The root record.
    pub root: Node,
    /// Issues found anywhere in the tree, in tree order.
    pub issues: Vec<Issue>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// How a record ends for unmatched senders, following `redirect=` as evaluation would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// An `all` with this qualifier, in this domain's record.
    All(Qualifier, String),
    /// Neither `all` nor `redirect=`: RFC 7208 §4.7 default neutral, in this domain's record.
    Default(String),
    /// Unknown (a redirect not followed or broken).
    Unknown,
}

/// The ending of `node`'s record, through its redirect chain.
pub fn ending(node: &Node) -> Ending {
    let Some(record) = &node.parsed else {
        return Ending::Unknown;
    };
    if let Some((_, q)) = record.all() {
        return Ending::All(q, node.domain.clone());
    }
    if record.redirect().is_none() {
        return Ending::Default(node.domain.clone());
    }
    node.terms
        .iter()
        .find(|t| t.branch == Some(Branch::Redirect))
        .and_then(|t| t.node.as_deref())
        .map_or(Ending::Unknown, ending)
}

/// The chain of `+include`s through which every sender passes (a record ending in `+all` reached by
/// includes that all pass), root excluded; `None` when there is none.
pub fn include_passing_everyone(node: &Node) -> Option<Vec<String>> {
    for cost in &node.terms {
        let (Some(Branch::Include(Qualifier::Pass)), Some(child)) = (cost.branch, &cost.node)
        else {
            continue;
        };
        if matches!(ending(child), Ending::All(Qualifier::Pass, _)) {
            return Some(vec![cost.term.clone()]);
        }
        if let Some(mut chain) = include_passing_everyone(child) {
            chain.insert(0, cost.term.clone());
            return Some(chain);
        }
    }
    None
}

/// The tree as JSON for a finding's `detail`, at most `limit` bytes when serialized: records deeper
/// than needed are left out until it fits. The second value says what was left out, if anything.
pub fn bounded_json(root: &Node, limit: usize) -> (serde_json::Value, Option<String>) {
    let full = serde_json::to_value(root).unwrap_or_default();
    if json_len(&full) <= limit {
        return (full, None);
    }
    for depth in (0..depth(root)).rev() {
        let value = serde_json::to_value(pruned(root, depth)).unwrap_or_default();
        if json_len(&value) <= limit {
            let why = format!(
                "records more than {depth} include/redirect level(s) below {} are left out to keep the detail under {limit} bytes",
                root.domain
            );
            return (value, Some(why));
        }
    }
    let summary = serde_json::json!({
        "domain": root.domain,
        "status": root.status,
        "lookups": root.lookups,
        "void_lookups": root.void_lookups,
    });
    let why = format!("only the totals of {} fit in {limit} bytes", root.domain);
    (summary, Some(why))
}

fn json_len(value: &serde_json::Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

/// Levels of records: 1 for a record without include/redirect targets.
fn depth(node: &Node) -> usize {
    1 + node
        .terms
        .iter()
        .filter_map(|t| t.node.as_deref())
        .map(depth)
        .max()
        .unwrap_or(0)
}

/// A copy of `node` keeping `levels` levels of records below it; cut terms keep their counts.
fn pruned(node: &Node, levels: usize) -> Node {
    let mut copy = Node {
        domain: node.domain.clone(),
        record: node.record.clone(),
        status: node.status.clone(),
        lookups: node.lookups,
        void_lookups: node.void_lookups,
        terms: Vec::with_capacity(node.terms.len()),
        terms_not_followed: node.terms_not_followed,
        parsed: None,
    };
    for term in &node.terms {
        let mut t = term.clone_shallow();
        if let Some(child) = term.node.as_deref() {
            if levels == 0 {
                t.note = Some(format!(
                    "record of {} left out of this detail",
                    child.domain
                ));
            } else {
                t.node = Some(Box::new(pruned(child, levels - 1)));
            }
        }
        copy.terms.push(t);
    }
    copy
}

impl TermCost {
    /// A copy without the record below it.
    fn clone_shallow(&self) -> TermCost {
        TermCost {
            term: self.term.clone(),
            lookups: self.lookups,
            void_lookups: self.void_lookups,
            target: self.target.clone(),
            note: self.note.clone(),
            node: None,
            branch: self.branch,
        }
    }
}
