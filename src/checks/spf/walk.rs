//! The lookup-counting walk of a domain's include/redirect tree, without a sender: what every receiver
//! pays to evaluate the record in the worst case (no term matches), per RFC 7208 §4.6.4.
//!
//! - Each `include`, `a`, `mx`, `ptr`, `exists` and the `redirect` that evaluation would follow costs one
//!   lookup, nested records included; `exp` costs none.
//! - Void lookups (NXDOMAIN or no answer): an `a`/`exists` target without addresses, an `mx` target
//!   without MX records and each of its hosts without addresses (these address lookups do not count
//!   toward the 10), and an include/redirect target without TXT records.
//! - Loops (an include/redirect back to an ancestor) are cut and reported; a target included twice
//!   elsewhere is walked (and counted) twice, as receivers do.
//! - Targets with macros other than `%{d}` depend on the sender: the term is counted, not followed.
//! - The diagnosis has bounds of its own, far past where receivers stop (10 lookups): records per
//!   walk, depth, DNS-querying terms followed per record and DNS queries per walk. Past a bound a term
//!   is still counted but not looked up, and an [`Issue::Cut`] says where the walk stopped.
//!
//! Terms of one record are walked concurrently; the round's DNS cache joins repeated lookups. The tree
//! types are in `tree.rs`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures::future::{BoxFuture, join_all};

use crate::dns::{Answer, Lookup, Lookups, Mx, Txt};

use super::eval::{MX_LIMIT, check_domain};
use super::parse::{SyntaxError, parse};
use super::record::{Mechanism, Modifier, Record, Term, TermKind};
use super::select::{NearMiss, Selection, select};
pub use super::tree::{Branch, Ending, Issue, Node, NodeStatus, TermCost, Walk};

/// RFC 7208 §3.4: "keep the record size under 450 octets" so the answer fits one UDP datagram.
pub const RECORD_LENGTH_LIMIT: usize = 450;
/// RFC 1035 §3.3: a character-string is at most 255 octets.
pub const STRING_LENGTH_LIMIT: usize = 255;
/// Records fetched at most per walk: ten lookups cap what receivers evaluate, so a tree this large is
/// broken anyway; the cap keeps a hostile tree (includes fanning out at every level) cheap for us.
const RECORD_BUDGET: usize = 64;
/// Deeper than this, receivers have long stopped (each level costs at least one lookup).
const MAX_DEPTH: usize = 12;
/// DNS-querying terms of one record that are looked up; the rest are counted only. Receivers stop
/// after 10 lookups in the whole tree, so a record needing more is broken however many it has.
pub const TERMS_FOLLOWED: usize = 32;
/// DNS queries one walk asks at most (an `mx` term with 10 hosts costs 21). Enough to diagnose any
/// tree receivers can evaluate many times over; a hostile record of thousands of terms cannot make
/// one check send thousands of queries.
pub const QUERY_BUDGET: usize = 1000;
/// Nested records keep this much of their text in the tree (a TXT answer can hold 64 KiB).
const NESTED_RECORD_KEPT: usize = 512;

/// Walk the SPF tree of `domain`.
pub async fn walk(dns: &Lookups, domain: &str) -> Walk {
    let walker = Walker {
        dns,
        budget: AtomicUsize::new(RECORD_BUDGET),
        queries: AtomicUsize::new(QUERY_BUDGET),
        queries_cut: AtomicBool::new(false),
        records_cut: AtomicBool::new(false),
    };
    let (root, issues) = walker.domain(domain.to_ascii_lowercase(), Vec::new()).await;
    Walk { root, issues }
}

struct Walker<'a> {
    dns: &'a Lookups,
    budget: AtomicUsize,
    queries: AtomicUsize,
    /// Whether the query budget's [`Issue::Cut`] was reported (once per walk).
    queries_cut: AtomicBool,
    /// Whether the record budget's [`Issue::Cut`] was reported (once per walk).
    records_cut: AtomicBool,
}

type Walked = (Node, Vec<Issue>);

impl Walker<'_> {
    /// Read and walk the record at `domain`; `ancestors` are the domains above it, root first.
    fn domain(&self, domain: String, ancestors: Vec<String>) -> BoxFuture<'_, Walked> {
        Box::pin(async move {
            let mut path = ancestors;
            path.push(domain.clone());
            let mut node = Node {
                domain: domain.clone(),
                record: None,
                status: NodeStatus::Ok,
                lookups: 0,
                void_lookups: 0,
                terms: Vec::new(),
                terms_not_followed: 0,
                parsed: None,
            };
            let mut issues = Vec::new();
            if path.len() > MAX_DEPTH {
                let why = format!("deeper than {MAX_DEPTH} levels");
                issues.push(Issue::Cut {
                    path: path.clone(),
                    why: why.clone(),
                });
                node.status = NodeStatus::NotWalked { why };
                return (node, issues);
            }
            if !take_one(&self.budget) {
                let why = format!("the tree has more than {RECORD_BUDGET} records");
                self.cut_once(&self.records_cut, &path, &why, &mut issues);
                node.status = NodeStatus::NotWalked { why };
                return (node, issues);
            }
            if let Err(why) = check_domain(&domain) {
                node.status = NodeStatus::NoSpf {
                    why: format!("`{domain}` {why}"),
                    void: false,
                    near_misses: Vec::new(),
                };
                return (node, issues);
            }
            let Some(answer) = self.txt(&domain, &path, &mut issues).await else {
                node.status = NodeStatus::NotWalked {
                    why: format!("the walk's budget of {QUERY_BUDGET} DNS queries was spent"),
                };
                return (node, issues);
            };
            let txts = match answer {
                Err(e) => {
                    node.status = NodeStatus::LookupFailed {
                        error: e.to_string(),
                    };
                    issues.push(Issue::LookupFailed {
                        path,
                        what: format!("TXT {domain}"),
                        error: e,
                    });
                    return (node, issues);
                }
                Ok(Answer::Records(r)) => r.items,
                Ok(void) => {
                    let why = if void == Answer::NxDomain {
                        format!("{domain} does not exist (NXDOMAIN)")
                    } else {
                        format!("{domain} has no TXT records")
                    };
                    node.status = NodeStatus::NoSpf {
                        why,
                        void: true,
                        near_misses: Vec::new(),
                    };
                    return (node, issues);
                }
            };
            let txt = match select(&txts) {
                Selection::One(txt) => txt,
                Selection::Multiple(all) => {
                    node.status = NodeStatus::MultipleRecords {
                        records: all.iter().map(|t| t.joined()).collect(),
                    };
                    return (node, issues);
                }
                Selection::None(misses) => {
                    node.status = no_spf_among(&domain, txts.len(), &misses);
                    return (node, issues);
                }
            };
            // RFC 7208 §3.3 allows long records split into strings; a single string over 255 bytes
            // cannot be encoded on the wire, so seeing one means a broken server in between.
            for len in overlong_strings(&txt) {
                issues.push(Issue::LongString {
                    domain: domain.clone(),
                    len,
                });
            }
            let bytes = txt.joined_bytes();
            if bytes.len() > RECORD_LENGTH_LIMIT {
                issues.push(Issue::LongRecord {
                    domain: domain.clone(),
                    len: bytes.len(),
                });
            }
            node.record = Some(if path.len() == 1 {
                txt.joined()
            } else {
                kept_text(&txt.joined(), NESTED_RECORD_KEPT)
            });
            let record = match parse(&bytes).into_result() {
                Ok(record) => record,
                Err(errors) => {
                    node.status = NodeStatus::SyntaxError {
                        errors: errors.iter().map(SyntaxError::to_string).collect(),
                    };
                    return (node, issues);
                }
            };
            let (followed, unfollowed) = split_followed(&record);
            if unfollowed > 0 {
                node.terms_not_followed = unfollowed;
                node.lookups += unfollowed;
                issues.push(Issue::Cut {
                    path: path.clone(),
                    why: format!(
                        "{} has {} DNS-querying terms; only the first {TERMS_FOLLOWED} were looked up, the other {unfollowed} are counted",
                        domain,
                        followed.len() as u32 + unfollowed
                    ),
                });
            }
            let costs = join_all(
                followed
                    .into_iter()
                    .map(|term| self.term(&record, term, &domain, &path)),
            )
            .await;
            for (cost, term_issues) in costs.into_iter().flatten() {
                node.lookups += cost.lookups;
                node.void_lookups += cost.void_lookups;
                node.terms.push(cost);
                issues.extend(term_issues);
            }
            node.parsed = Some(record);
            (node, issues)
        })
    }

    /// The cost of one term (`None` for terms that cost nothing).
    async fn term(
        &self,
        record: &Record,
        term: &Term,
        domain: &str,
        path: &[String],
    ) -> Option<(TermCost, Vec<Issue>)> {
        let mut cost = TermCost {
            term: term.text.clone(),
            lookups: 1,
            void_lookups: 0,
            target: None,
            note: None,
            node: None,
            branch: None,
        };
        let mut issues = Vec::new();
        let (spec, branch) = match &term.kind {
            TermKind::Directive {
                mechanism: Mechanism::Include(spec),
                qualifier,
            } => (Some(spec), Some(Branch::Include(*qualifier))),
            TermKind::Modifier(Modifier::Redirect(spec)) => {
                if record.effective_redirect().is_none() {
                    // RFC 7208 §6.1: ignored when the record has `all`; receivers never look it up.
                    cost.lookups = 0;
                    cost.note = Some("ignored: the record has an `all` mechanism".into());
                    return Some((cost, issues));
                }
                (Some(spec), Some(Branch::Redirect))
            }
            TermKind::Directive { mechanism, .. } if mechanism.costs_lookup() => match mechanism {
                Mechanism::A { domain: spec, .. }
                | Mechanism::Mx { domain: spec, .. }
                | Mechanism::Ptr(spec) => (spec.as_ref(), None),
                Mechanism::Exists(spec) => (Some(spec), None),
                _ => (None, None),
            },
            _ => return None,
        };
        cost.branch = branch;
        let target = match spec {
            None => Some(domain.to_owned()),
            Some(spec) => spec.expand_static(domain),
        };
        let Some(target) = target else {
            cost.note = Some("not followed: the target uses macros that need a sender".into());
            return Some((cost, issues));
        };
        cost.target = Some(target.clone());
        let mechanism = match &term.kind {
            TermKind::Directive { mechanism, .. } => Some(mechanism),
            TermKind::Modifier(_) => None,
        };
        match (branch, mechanism) {
            (Some(_), _) => {
                if path.contains(&target) {
                    cost.note = Some(format!("loop: {target} is already being evaluated"));
                    issues.push(Issue::Loop {
                        path: path.to_vec(),
                        term: term.text.clone(),
                        target,
                    });
                    return Some((cost, issues));
                }
                let (child, child_issues) = self.domain(target.clone(), path.to_vec()).await;
                issues.extend(child_issues);
                cost.lookups += child.lookups;
                cost.void_lookups += child.void_lookups;
                match &child.status {
                    NodeStatus::NoSpf { why, void, .. } => {
                        cost.void_lookups += u32::from(*void);
                        issues.push(Issue::WithoutSpf {
                            path: path.to_vec(),
                            term: term.text.clone(),
                            target,
                            why: why.clone(),
                        });
                    }
                    NodeStatus::MultipleRecords { .. } | NodeStatus::SyntaxError { .. } => {
                        let mut broken = path.to_vec();
                        broken.push(target);
                        issues.push(Issue::BrokenTarget {
                            path: broken,
                            status: child.status.clone(),
                        });
                    }
                    _ => {}
                }
                cost.node = Some(Box::new(child));
            }
            (None, Some(Mechanism::Ptr(_))) => {
                cost.note = Some("depends on the client's reverse DNS".into());
                issues.push(Issue::Ptr {
                    path: path.to_vec(),
                    term: term.text.clone(),
                });
            }
            (None, Some(Mechanism::A { .. })) => {
                let void = self.has_no_address(&target, path, &mut issues).await;
                if void {
                    cost.void_lookups += 1;
                    cost.note = Some(format!("{target} has no A or AAAA records"));
                }
            }
            (None, Some(Mechanism::Exists(_))) => match self.a(&target, path, &mut issues).await {
                None => cost.note = Some(not_looked_up()),
                Some(Ok(a)) if a.is_void() => {
                    cost.void_lookups += 1;
                    cost.note = Some(format!("{target} has no A record"));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => issues.push(Issue::LookupFailed {
                    path: path.to_vec(),
                    what: format!("A {target}"),
                    error: e,
                }),
            },
            (None, Some(Mechanism::Mx { .. })) => {
                self.mx(&target, term.text.as_str(), path, &mut cost, &mut issues)
                    .await;
            }
            _ => {}
        }
        Some((cost, issues))
    }

    async fn mx(
        &self,
        target: &str,
        term: &str,
        path: &[String],
        cost: &mut TermCost,
        issues: &mut Vec<Issue>,
    ) {
        let Some(answer) = self.mx_lookup(target, path, issues).await else {
            cost.note = Some(not_looked_up());
            return;
        };
        let hosts = match answer {
            Err(e) => {
                issues.push(Issue::LookupFailed {
                    path: path.to_vec(),
                    what: format!("MX {target}"),
                    error: e,
                });
                return;
            }
            Ok(a) if a.is_void() => {
                cost.void_lookups += 1;
                cost.note = Some(format!("{target} has no MX records"));
                return;
            }
            Ok(a) => a.records().to_vec(),
        };
        if hosts.len() > MX_LIMIT {
            issues.push(Issue::TooManyMx {
                path: path.to_vec(),
                term: term.to_owned(),
                hosts: hosts.len(),
            });
        }
        // RFC 7208 §4.6.4: receivers look up at most 10 MX hosts (more is a permerror by itself).
        let names: Vec<&str> = hosts
            .iter()
            .map(|h| h.exchange.as_str())
            .filter(|h| !h.is_empty())
            .take(MX_LIMIT)
            .collect();
        let mut host_issues = Vec::new();
        let voids = join_all(names.iter().map(|h| async {
            let mut own = Vec::new();
            let void = self.has_no_address(h, path, &mut own).await;
            (void, own)
        }))
        .await;
        let mut empty = Vec::new();
        for ((void, own), name) in voids.into_iter().zip(&names) {
            host_issues.extend(own);
            if void {
                empty.push(*name);
            }
        }
        issues.extend(host_issues);
        cost.void_lookups += empty.len() as u32;
        let mut note = if hosts.len() > names.len() && hosts.len() > MX_LIMIT {
            format!(
                "{} MX host(s), the first {} looked up",
                hosts.len(),
                names.len()
            )
        } else {
            format!("{} MX host(s)", names.len())
        };
        if !empty.is_empty() {
            note.push_str(&format!("; without addresses: {}", empty.join(", ")));
        }
        cost.note = Some(note);
    }

    /// Whether `name` has neither A nor AAAA records (a void lookup for a client of either family).
    /// Unknown (`false`) once the query budget is spent.
    async fn has_no_address(&self, name: &str, path: &[String], issues: &mut Vec<Issue>) -> bool {
        if !self.spend(2, path, issues) {
            return false;
        }
        let (a, aaaa) = futures::join!(self.dns.a(name), self.dns.aaaa(name));
        let mut void = true;
        for (kind, result) in [
            ("A", a.map(|x| x.is_void())),
            ("AAAA", aaaa.map(|x| x.is_void())),
        ] {
            match result {
                Ok(is_void) => void &= is_void,
                Err(e) => {
                    void = false;
                    issues.push(Issue::LookupFailed {
                        path: path.to_vec(),
                        what: format!("{kind} {name}"),
                        error: e,
                    });
                }
            }
        }
        void
    }

    /// Take `n` queries from the walk's budget; when it is spent, report the cut (once) and refuse.
    fn spend(&self, n: usize, path: &[String], issues: &mut Vec<Issue>) -> bool {
        let granted = self
            .queries
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(n))
            .is_ok();
        if !granted {
            let why = format!(
                "the walk's budget of {QUERY_BUDGET} DNS queries was spent; later terms are counted but not looked up"
            );
            self.cut_once(&self.queries_cut, path, &why, issues);
        }
        granted
    }

    /// Report a cut for a bound that applies to the whole walk, the first time it is reached.
    fn cut_once(&self, flag: &AtomicBool, path: &[String], why: &str, issues: &mut Vec<Issue>) {
        if !flag.swap(true, Ordering::Relaxed) {
            issues.push(Issue::Cut {
                path: path.to_vec(),
                why: why.to_owned(),
            });
        }
    }

    /// TXT at `name` within the budget (`None`: not asked).
    async fn txt(
        &self,
        name: &str,
        path: &[String],
        issues: &mut Vec<Issue>,
    ) -> Option<Lookup<Txt>> {
        if !self.spend(1, path, issues) {
            return None;
        }
        Some(self.dns.txt(name).await)
    }

    /// A at `name` within the budget (`None`: not asked).
    async fn a(
        &self,
        name: &str,
        path: &[String],
        issues: &mut Vec<Issue>,
    ) -> Option<Lookup<std::net::Ipv4Addr>> {
        if !self.spend(1, path, issues) {
            return None;
        }
        Some(self.dns.a(name).await)
    }

    /// MX at `name` within the budget (`None`: not asked).
    async fn mx_lookup(
        &self,
        name: &str,
        path: &[String],
        issues: &mut Vec<Issue>,
    ) -> Option<Lookup<Mx>> {
        if !self.spend(1, path, issues) {
            return None;
        }
        Some(self.dns.mx(name).await)
    }
}

/// The note of a term the query budget left unasked.
fn not_looked_up() -> String {
    format!("not looked up: the walk's budget of {QUERY_BUDGET} DNS queries was spent")
}

/// Take one from a budget; `false` when it is spent.
fn take_one(budget: &AtomicUsize) -> bool {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
        .is_ok()
}

/// The terms of `record` to look up (the first [`TERMS_FOLLOWED`] DNS-querying ones, and the
/// `redirect=` wherever it is, since the record's ending depends on it) and how many querying terms
/// are left over.
fn split_followed(record: &Record) -> (Vec<&Term>, u32) {
    let mut followed = Vec::new();
    let mut left_over = 0u32;
    for term in &record.terms {
        let (querying, redirect) = match &term.kind {
            TermKind::Directive { mechanism, .. } => (mechanism.costs_lookup(), false),
            TermKind::Modifier(Modifier::Redirect(_)) => (true, true),
            TermKind::Modifier(_) => (false, false),
        };
        if !querying {
            continue;
        }
        if redirect || followed.len() < TERMS_FOLLOWED {
            followed.push(term);
        } else {
            left_over += 1;
        }
    }
    (followed, left_over)
}

/// At most `limit` bytes of `text` (cut at a character boundary), saying how long it was.
fn kept_text(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

/// Lengths of the character-strings over 255 bytes (RFC 1035 §3.3). The wire format's one-byte length
/// makes them impossible from a conforming server; we still look at the raw strings we were given.
pub fn overlong_strings(txt: &Txt) -> Vec<usize> {
    txt.strings
        .iter()
        .map(Vec::len)
        .filter(|&len| len > STRING_LENGTH_LIMIT)
        .collect()
}

fn no_spf_among(domain: &str, count: usize, misses: &[NearMiss]) -> NodeStatus {
    let mut why = format!(
        "{domain} has {count} TXT record{} but none starts with `v=spf1`",
        if count == 1 { "" } else { "s" }
    );
    for miss in misses {
        why.push_str(&format!("; `{}`: {}", miss.text, miss.why));
    }
    NodeStatus::NoSpf {
        why,
        void: false,
        near_misses: misses.iter().map(|m| m.text.clone()).collect(),
    }
}
