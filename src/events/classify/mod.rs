//! Classification: a failed recipient's status and diagnostic text → a [`Reason`] and hard/soft.
//!
//! Passes, first match wins (docs/bounces.md, "Reasons"):
//! 1. the operator's rules (`events.classification`), so any built-in answer can be overridden;
//! 2. provider rules for the recipient's mailbox provider ([`table::PROVIDERS`]);
//! 3. status codes that mean one thing ([`table::STATUS`], strong rows);
//! 4. generic phrases of the diagnostic text, in a fixed order ([`table::PHRASES`]);
//! 5. status codes that receivers reuse (weak rows), then the code's class and subject
//!    (x.6 content → policy, x.7 → security; RFC 3463 §3.1);
//! 6. `other`.
//!
//! Hard or soft follows the reason ([`Reason::default_type`]) unless a row says otherwise.

pub mod table;

use super::model::{BounceType, Reason};
use super::provider::Provider;
use table::Strength;

/// What a bounce says about one failed recipient.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The RFC 3463 status, when the bounce gives one.
    pub status: Option<&'a str>,
    /// The diagnostic text (SMTP reply or explanation); may be empty.
    pub diagnostic: &'a str,
    /// The recipient's mailbox provider.
    pub provider: Provider,
}

/// Which pass decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// A rule from `events.classification`.
    Configured,
    /// A provider rule.
    Provider,
    /// The status code.
    Status,
    /// A phrase of the diagnostic text.
    Phrase,
    /// Nothing specific matched.
    Fallback,
}

/// The answer for one failed recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    /// The reason category.
    pub reason: Reason,
    /// Hard or soft.
    pub kind: BounceType,
    /// Which pass decided.
    pub basis: Basis,
}

/// An operator's rule (`events.classification`): every condition given must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// A phrase the diagnostic must contain (compared in lower case).
    pub contains: Option<String>,
    /// A status the bounce must have: exact, or a prefix ending in `*` (`5.7.6*`).
    pub status: Option<String>,
    /// The recipient's mailbox provider.
    pub provider: Option<Provider>,
    /// The reason to give.
    pub reason: Reason,
    /// The type to give, when not the reason's own.
    pub kind: Option<BounceType>,
}

/// The classifier: the built-in table plus the operator's rules. Cheap to share.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classifier {
    rules: Vec<Rule>,
}

impl Classifier {
    /// The built-in table with `rules` checked first.
    pub fn new(rules: Vec<Rule>) -> Classifier {
        let rules = rules
            .into_iter()
            .map(|mut r| {
                r.contains = r.contains.map(|c| c.to_lowercase());
                r
            })
            .collect();
        Classifier { rules }
    }

    /// Classify one failed recipient.
    pub fn classify(&self, e: &Evidence<'_>) -> Classification {
        let text = e.diagnostic.to_lowercase();
        let status = e.status.filter(|s| is_status(s));
        let decided = |reason: Reason, kind: Option<BounceType>, basis: Basis| Classification {
            reason,
            kind: kind.unwrap_or(reason.default_type()),
            basis,
        };
        for r in &self.rules {
            let phrase = r.contains.as_deref().is_none_or(|c| text.contains(c));
            let code = r
                .status
                .as_deref()
                .is_none_or(|p| status.is_some_and(|s| status_matches(p, s)));
            let provider = r.provider.is_none_or(|p| p == e.provider);
            if phrase && code && provider {
                return decided(r.reason, r.kind, Basis::Configured);
            }
        }
        for r in table::PROVIDERS.iter().filter(|r| r.provider == e.provider) {
            let phrase = r.phrase.is_none_or(|c| text.contains(c));
            let code = r
                .status
                .is_none_or(|p| status.is_some_and(|s| status_matches(p, s)));
            if phrase && code {
                return decided(r.reason, r.kind, Basis::Provider);
            }
        }
        let row = status.and_then(|s| table::STATUS.iter().find(|r| status_matches(r.code, s)));
        if let Some(r) = row.filter(|r| r.strength == Strength::Strong) {
            return decided(r.reason, r.kind, Basis::Status);
        }
        for (reason, phrases) in table::PHRASES {
            if phrases.iter().any(|p| text.contains(p)) {
                return decided(*reason, None, Basis::Phrase);
            }
        }
        if let Some(r) = row {
            return decided(r.reason, r.kind, Basis::Status);
        }
        if let Some(reason) = status.and_then(by_subject) {
            return decided(reason, None, Basis::Fallback);
        }
        decided(Reason::Other, None, Basis::Fallback)
    }
}

/// RFC 3463 §3.1: the subject alone, for a detail no row names.
fn by_subject(status: &str) -> Option<Reason> {
    let mut parts = status.split('.');
    let class = parts.next()?;
    if class == "2" {
        return None;
    }
    match parts.next()? {
        "1" => Some(Reason::UserUnknown),
        "2" => Some(Reason::MailboxFull),
        "3" | "4" | "5" => Some(Reason::SystemError),
        "6" => Some(Reason::PolicyAuth), // media/content the receiver will not take
        "7" => Some(Reason::Security),
        _ => None,
    }
}

/// `pattern` (`5.1.1`, `x.2.2` for class 4 or 5, `5.7.6*` for a prefix) matches `status`.
pub fn status_matches(pattern: &str, status: &str) -> bool {
    let (pattern, prefix) = match pattern.strip_suffix('*') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let (pattern, status_rest) = match pattern.strip_prefix("x.") {
        Some(rest) => {
            if !(status.starts_with("4.") || status.starts_with("5.")) {
                return false;
            }
            (rest, &status[2..])
        }
        None => (pattern, status),
    };
    if prefix {
        status_rest.starts_with(pattern)
    } else {
        status_rest == pattern
    }
}

/// RFC 3463 §2: `class "." subject "." detail`, class 2, 4 or 5, subject and detail 1–3 digits.
pub fn is_status(text: &str) -> bool {
    let mut parts = text.split('.');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    };
    matches!(parts.next(), Some("2" | "4" | "5"))
        && ok(parts.next())
        && ok(parts.next())
        && parts.next().is_none()
}

/// The first enhanced status code written in `text` (`550 5.1.1 <a@b>: …` → `5.1.1`), skipping
/// look-alikes inside version numbers and addresses.
pub fn find_status(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(offset) = text[start..].find(['2', '4', '5']) {
        let at = start + offset;
        start = at + 1;
        let before_ok =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'.');
        if !before_ok || bytes.get(at + 1) != Some(&b'.') {
            continue;
        }
        let end = text[at..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map_or(text.len(), |n| at + n);
        let candidate = text[at..end].trim_end_matches('.');
        let after_ok = bytes
            .get(end)
            .is_none_or(|b| !(b.is_ascii_alphabetic() || *b == b'@' || *b == b'-'));
        if after_ok && is_status(candidate) {
            return Some(candidate);
        }
    }
    None
}

#[cfg(test)]
mod tests;
