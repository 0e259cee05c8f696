//! Enforcement readiness: from a domain's sources over a window, what p=quarantine or p=reject
//! would do to its mail, grouped by known sender or network, and a verdict with what to fix.
//!
//! The judgement (docs/ingest.md, "Enforcement readiness"): a source is *legitimate* when aligned SPF
//! or DKIM passes for some of its mail in the window (it is set up to send for the domain, at least
//! partly); a *forwarder* by the sender mapping, or with forwarding override reasons on most of its
//! failures, is forwarding noise (RFC 7960); the rest fails always and is treated as unauthorized
//! (spoofing, or a sender never set up: listed, so a forgotten service is seen). Enforcement is
//! judged on legitimate mail only:
//! - `ready_for_reject`: at most [`REJECT_MAX_FAILING`] of legitimate mail fails;
//! - `ready_for_quarantine`: at most [`QUARANTINE_MAX_FAILING`];
//! - `not_ready`: more, with each legitimate failing source and its fixes listed;
//! - `insufficient_data`: fewer than [`MIN_MESSAGES`] messages in the window.

use std::collections::BTreeMap;

use serde::Serialize;

use super::senders::SenderType;
use super::sources::{Problem, Source};

/// Fewer messages than this in the window say too little to judge (a week of a small domain's
/// reports is usually well above it).
pub const MIN_MESSAGES: u64 = 100;
/// Share of legitimate mail that may fail for p=reject: failures there bounce.
pub const REJECT_MAX_FAILING: f64 = 0.005;
/// Share of legitimate mail that may fail for p=quarantine: failures there go to spam.
pub const QUARANTINE_MAX_FAILING: f64 = 0.02;
/// Failing source groups listed in full.
pub const GROUPS_SHOWN: usize = 20;
/// IPs listed per group.
pub const IPS_SHOWN: usize = 5;
/// Problems listed per group.
pub const PROBLEMS_SHOWN: usize = 5;

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// p=reject would not block legitimate mail.
    ReadyForReject,
    /// p=quarantine is safe; p=reject is not yet.
    ReadyForQuarantine,
    /// Legitimate mail would be quarantined or rejected.
    NotReady,
    /// Too few messages in the window.
    InsufficientData,
}

impl Verdict {
    /// The JSON and text value.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::ReadyForReject => "ready_for_reject",
            Verdict::ReadyForQuarantine => "ready_for_quarantine",
            Verdict::NotReady => "not_ready",
            Verdict::InsufficientData => "insufficient_data",
        }
    }
}

/// How a failing group is classed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceClass {
    /// Sends for the domain (aligned SPF or DKIM passes sometimes): its failures block enforcement.
    Legitimate,
    /// Forwarding or a mailing list: fails after relaying; not blocking (ARC helps receivers).
    Forwarding,
    /// Never passes: spoofing, or a service never set up for the domain.
    Unauthorized,
}

/// One IP of a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupIp {
    /// The IP.
    pub ip: String,
    /// Its PTR name.
    pub ptr: Option<String>,
    /// Messages.
    pub messages: u64,
    /// Failing messages.
    pub failed: u64,
}

/// Failing sources of one known sender or network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceGroup {
    /// The known sender's name, or `other`.
    pub sender: String,
    /// Its type, for a known sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_type: Option<SenderType>,
    /// The base domain of the PTR names (the network), when there is one.
    pub network: Option<String>,
    /// How it is classed.
    pub class: SourceClass,
    /// Messages from it.
    pub messages: u64,
    /// Of those, failing DMARC: quarantined or rejected under enforcement.
    pub failed: u64,
    /// Its failing messages as a share of the domain's mail.
    pub share: f64,
    /// Its IPs, most failing first (at most [`IPS_SHOWN`]).
    pub ips: Vec<GroupIp>,
    /// IPs not listed.
    pub ips_left_out: usize,
    /// What failed and how to fix it (at most [`PROBLEMS_SHOWN`]).
    pub problems: Vec<Problem>,
}

/// Volume by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Volume {
    /// Messages.
    pub messages: u64,
    /// Passing DMARC.
    pub passed: u64,
    /// Failing DMARC.
    pub failed: u64,
}

/// `GET /api/v1/domains/{domain}/enforcement` and `senderscope report enforcement`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Enforcement {
    /// The policy domain.
    pub domain: String,
    /// The window, in days.
    pub window_days: u64,
    /// Reports that ended at or after this time count (Unix seconds).
    pub since: i64,
    /// The verdict.
    pub verdict: Verdict,
    /// One sentence per reason for the verdict.
    pub reasons: Vec<String>,
    /// What to fix first (one line per legitimate failing group and problem).
    pub to_fix: Vec<String>,
    /// Every message of the domain in the window.
    pub total: Volume,
    /// DMARC pass share of all mail (null without mail).
    pub pass_rate: Option<f64>,
    /// Mail of legitimate sources.
    pub legitimate: Volume,
    /// Pass share of legitimate mail (what the verdict judges).
    pub legitimate_pass_rate: Option<f64>,
    /// Failing mail of forwarders.
    pub forwarding_failed: u64,
    /// Failing mail of sources that never pass.
    pub unauthorized_failed: u64,
    /// Failing groups, blocking first, then by volume (at most [`GROUPS_SHOWN`]).
    pub failing_sources: Vec<SourceGroup>,
    /// Failing groups not listed.
    pub failing_sources_left_out: usize,
}

/// The compact form in `/api/v1/status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnforcementSummary {
    /// The verdict.
    pub verdict: Verdict,
    /// The window, in days.
    pub window_days: u64,
    /// Messages in the window.
    pub messages: u64,
    /// DMARC pass share of all mail.
    pub pass_rate: Option<f64>,
    /// Pass share of legitimate mail.
    pub legitimate_pass_rate: Option<f64>,
    /// Legitimate failing groups (what blocks enforcement).
    pub blocking_sources: usize,
}

impl Enforcement {
    /// The compact form.
    pub fn summary(&self) -> EnforcementSummary {
        EnforcementSummary {
            verdict: self.verdict,
            window_days: self.window_days,
            messages: self.total.messages,
            pass_rate: self.pass_rate,
            legitimate_pass_rate: self.legitimate_pass_rate,
            blocking_sources: self
                .failing_sources
                .iter()
                .filter(|g| g.class == SourceClass::Legitimate)
                .count(),
        }
    }
}

fn rate(passed: u64, messages: u64) -> Option<f64> {
    (messages > 0).then(|| passed as f64 / messages as f64)
}

fn class(s: &Source) -> SourceClass {
    if s.forwarding() {
        SourceClass::Forwarding
    } else if s.legitimate() {
        SourceClass::Legitimate
    } else {
        SourceClass::Unauthorized
    }
}

fn percent(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

/// Group a domain's sources and judge.
pub fn assess(domain: &str, window_days: u64, since: i64, sources: &[Source]) -> Enforcement {
    let mut total = Volume::default();
    let mut legitimate = Volume::default();
    let (mut forwarding_failed, mut unauthorized_failed) = (0, 0);
    // Group key: class, then the known sender, else the network, else the IP.
    let mut groups: BTreeMap<(u8, String), SourceGroup> = BTreeMap::new();
    for s in sources {
        total.messages += s.messages;
        total.passed += s.passed;
        total.failed += s.failed;
        let c = class(s);
        match c {
            SourceClass::Legitimate => {
                legitimate.messages += s.messages;
                legitimate.passed += s.passed;
                legitimate.failed += s.failed;
            }
            SourceClass::Forwarding => forwarding_failed += s.failed,
            SourceClass::Unauthorized => unauthorized_failed += s.failed,
        }
        if s.failed == 0 {
            continue;
        }
        let name = if s.identity.sender != super::senders::OTHER {
            s.identity.sender.clone()
        } else {
            s.identity
                .base_domain
                .clone()
                .unwrap_or_else(|| s.ip.clone())
        };
        let g = groups
            .entry((c as u8, name))
            .or_insert_with(|| SourceGroup {
                sender: s.identity.sender.clone(),
                sender_type: s.identity.sender_type,
                network: s.identity.base_domain.clone(),
                class: c,
                messages: 0,
                failed: 0,
                share: 0.0,
                ips: Vec::new(),
                ips_left_out: 0,
                problems: Vec::new(),
            });
        g.messages += s.messages;
        g.failed += s.failed;
        g.ips.push(GroupIp {
            ip: s.ip.clone(),
            ptr: s.identity.ptr.clone(),
            messages: s.messages,
            failed: s.failed,
        });
        for p in &s.problems {
            match g
                .problems
                .iter_mut()
                .find(|q| q.kind == p.kind && q.domain == p.domain && q.selector == p.selector)
            {
                Some(q) => q.messages += p.messages,
                None => g.problems.push(p.clone()),
            }
        }
    }
    let mut failing: Vec<SourceGroup> = groups
        .into_values()
        .map(|mut g| {
            g.share = if total.messages > 0 {
                g.failed as f64 / total.messages as f64
            } else {
                0.0
            };
            g.ips
                .sort_by(|a, b| b.failed.cmp(&a.failed).then(a.ip.cmp(&b.ip)));
            g.ips_left_out = g.ips.len().saturating_sub(IPS_SHOWN);
            g.ips.truncate(IPS_SHOWN);
            g.problems.sort_by_key(|p| std::cmp::Reverse(p.messages));
            g.problems.truncate(PROBLEMS_SHOWN);
            g
        })
        .collect();
    failing.sort_by(|a, b| {
        (a.class != SourceClass::Legitimate)
            .cmp(&(b.class != SourceClass::Legitimate))
            .then(b.failed.cmp(&a.failed))
    });

    let legit_rate = rate(legitimate.passed, legitimate.messages);
    let legit_failing = if legitimate.messages > 0 {
        legitimate.failed as f64 / legitimate.messages as f64
    } else {
        0.0
    };
    let mut reasons = Vec::new();
    let verdict = if total.messages < MIN_MESSAGES {
        reasons.push(format!(
            "Only {} messages were reported for {domain} in the last {window_days} days; at least {MIN_MESSAGES} are needed to judge.",
            total.messages
        ));
        Verdict::InsufficientData
    } else if legitimate.messages == 0 {
        reasons.push(format!(
            "No source passed aligned SPF or DKIM for {domain} in the last {window_days} days: no mail would pass under enforcement. Set up SPF and DKIM for your senders first."
        ));
        Verdict::NotReady
    } else if legit_failing <= REJECT_MAX_FAILING {
        reasons.push(format!(
            "{} of legitimate mail passes DMARC (p=reject needs at least {}).",
            legit_rate.map_or_else(|| "-".into(), percent),
            percent(1.0 - REJECT_MAX_FAILING)
        ));
        Verdict::ReadyForReject
    } else if legit_failing <= QUARANTINE_MAX_FAILING {
        reasons.push(format!(
            "{} of legitimate mail passes DMARC: enough for p=quarantine (at least {}), not yet for p=reject (at least {}).",
            legit_rate.map_or_else(|| "-".into(), percent),
            percent(1.0 - QUARANTINE_MAX_FAILING),
            percent(1.0 - REJECT_MAX_FAILING)
        ));
        Verdict::ReadyForQuarantine
    } else {
        reasons.push(format!(
            "Only {} of legitimate mail passes DMARC; p=quarantine needs at least {}: {} legitimate messages would be quarantined or rejected.",
            legit_rate.map_or_else(|| "-".into(), percent),
            percent(1.0 - QUARANTINE_MAX_FAILING),
            legitimate.failed
        ));
        Verdict::NotReady
    };
    if unauthorized_failed > 0 {
        reasons.push(format!(
            "{unauthorized_failed} messages came from sources that never pass (spoofing, or a service not set up for {domain}); enforcement would stop them."
        ));
    }
    if forwarding_failed > 0 {
        reasons.push(format!(
            "{forwarding_failed} failing messages were forwarded or sent through mailing lists; they are not counted against readiness."
        ));
    }
    let to_fix = failing
        .iter()
        .filter(|g| g.class == SourceClass::Legitimate)
        .flat_map(|g| {
            let who = match &g.network {
                Some(n) if g.sender != super::senders::OTHER => format!("{} ({n})", g.sender),
                Some(n) => n.clone(),
                None => g.ips.first().map_or_else(String::new, |i| i.ip.clone()),
            };
            g.problems
                .iter()
                .map(move |p| format!("{who}: {} ({} messages)", p.fix, p.messages))
        })
        .collect();
    let left_out = failing.len().saturating_sub(GROUPS_SHOWN);
    failing.truncate(GROUPS_SHOWN);
    Enforcement {
        domain: domain.to_owned(),
        window_days,
        since,
        verdict,
        reasons,
        to_fix,
        pass_rate: rate(total.passed, total.messages),
        total,
        legitimate,
        legitimate_pass_rate: legit_rate,
        forwarding_failed,
        unauthorized_failed,
        failing_sources: failing,
        failing_sources_left_out: left_out,
    }
}
