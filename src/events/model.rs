//! The typed events: [`Bounce`], [`Complaint`] and [`Delivery`], with the bounded vocabularies they
//! carry ([`Reason`], [`BounceType`], [`Provider`]). The JSON shape of a bounce and a complaint is the
//! one `senderscope ingest --format json` prints (docs/bounces.md).

use serde::{Deserialize, Serialize};

use super::provider::Provider;

/// Why a message bounced: the bounded set of categories every bounce is sorted into
/// (docs/bounces.md, "Reasons"). The set is closed so it can be a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The mailbox does not exist (or has moved or been suspended).
    UserUnknown,
    /// The mailbox is over quota.
    MailboxFull,
    /// The recipient domain does not exist or accepts no mail (null MX).
    DomainNotFound,
    /// The receiver refused the sending IP or domain for its reputation.
    BlockedReputation,
    /// The receiver refused the sending IP or domain because a DNS blocklist lists it.
    BlockedBlocklist,
    /// A content or spam filter refused the message.
    SpamContent,
    /// SPF, DKIM or DMARC failed, or the message broke a receiver policy (PTR, RFC compliance).
    PolicyAuth,
    /// Too many messages or connections.
    RateLimited,
    /// The queue lifetime ran out before delivery.
    Expired,
    /// The message was over a size limit.
    MessageTooLarge,
    /// A security problem: virus, STARTTLS required, security policy.
    Security,
    /// The receiving system failed (disk, network, mailer, syntax).
    SystemError,
    /// Too little information to say.
    Other,
}

impl Reason {
    /// Every reason, in documentation order.
    pub const ALL: [Reason; 13] = [
        Reason::UserUnknown,
        Reason::MailboxFull,
        Reason::DomainNotFound,
        Reason::BlockedReputation,
        Reason::BlockedBlocklist,
        Reason::SpamContent,
        Reason::PolicyAuth,
        Reason::RateLimited,
        Reason::Expired,
        Reason::MessageTooLarge,
        Reason::Security,
        Reason::SystemError,
        Reason::Other,
    ];

    /// The label and JSON value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UserUnknown => "user_unknown",
            Reason::MailboxFull => "mailbox_full",
            Reason::DomainNotFound => "domain_not_found",
            Reason::BlockedReputation => "blocked_reputation",
            Reason::BlockedBlocklist => "blocked_blocklist",
            Reason::SpamContent => "spam_content",
            Reason::PolicyAuth => "policy_auth",
            Reason::RateLimited => "rate_limited",
            Reason::Expired => "expired",
            Reason::MessageTooLarge => "message_too_large",
            Reason::Security => "security",
            Reason::SystemError => "system_error",
            Reason::Other => "other",
        }
    }

    /// The reason named `name` (its label value).
    pub fn parse(name: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Hard when the address or its domain does not exist; everything else is soft, whatever the
    /// first digit of the status (most 5.x.x failures are blocks that say nothing about the address).
    pub fn default_type(self) -> BounceType {
        match self {
            Reason::UserUnknown | Reason::DomainNotFound => BounceType::Hard,
            _ => BounceType::Soft,
        }
    }
}

/// Whether retrying the address can ever succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceType {
    /// The address or its domain does not exist: stop mailing it.
    Hard,
    /// Anything else: the address may work later, or the problem is the sender's.
    Soft,
}

impl BounceType {
    /// The label and JSON value.
    pub fn as_str(self) -> &'static str {
        match self {
            BounceType::Hard => "hard",
            BounceType::Soft => "soft",
        }
    }

    /// `hard` or `soft`.
    pub fn parse(name: &str) -> Option<BounceType> {
        match name {
            "hard" => Some(BounceType::Hard),
            "soft" => Some(BounceType::Soft),
            _ => None,
        }
    }
}

/// One failed recipient of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounce {
    /// The failed recipient, lower-cased.
    pub recipient: String,
    /// The domain that sent the bounced message (its From domain, else the envelope sender's), when
    /// the bounce says.
    pub sender_domain: Option<String>,
    /// The RFC 3463 enhanced status code, as the bounce gave it (never invented).
    pub status: Option<String>,
    /// Hard or soft, from the reason.
    #[serde(rename = "type")]
    pub kind: BounceType,
    /// The reason category.
    pub reason: Reason,
    /// The recipient's mailbox provider.
    pub provider: Provider,
    /// The host that refused the message, when known.
    pub remote_mta: Option<String>,
    /// The receiver's own words (SMTP reply or the bounce's explanation), bounded in length.
    pub diagnostic: Option<String>,
}

/// A recipient reported the message as spam (or another feedback type, RFC 5965 §3.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    /// Who complained, when the report says (often redacted, RFC 6590).
    pub recipient: Option<String>,
    /// The domain that sent the reported message.
    pub sender_domain: Option<String>,
    /// `abuse`, `fraud`, `virus`, `other`, `not-spam`, `auth-failure` or the provider's own word.
    pub feedback_type: String,
    /// The complainer's mailbox provider.
    pub provider: Provider,
}

/// A message accepted by the recipient's server (from a webhook, a log or the generic API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The recipient, lower-cased.
    pub recipient: String,
    /// The domain that sent the message.
    pub sender_domain: Option<String>,
    /// The recipient's mailbox provider.
    pub provider: Provider,
}

/// The most of a diagnostic text kept (a stored detail has a size limit).
pub const MAX_DIAGNOSTIC_CHARS: usize = 500;

/// `text` with whitespace runs collapsed, cut at [`MAX_DIAGNOSTIC_CHARS`] characters.
pub fn bounded_diagnostic(text: &str) -> Option<String> {
    let mut out = String::new();
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() >= MAX_DIAGNOSTIC_CHARS {
            out = out.chars().take(MAX_DIAGNOSTIC_CHARS).collect();
            break;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The lower-cased domain of an address (`<a@B.example>` → `b.example`), or `None` when it has none.
pub fn domain_of(address: &str) -> Option<String> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (_, domain) = address.rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    // A domain without a dot is a redaction (`redacted@redacted`) or a local name, not a sender.
    let valid = domain.contains('.')
        && !domain.starts_with('.')
        && domain.len() <= 253
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b >= 0x80);
    valid.then_some(domain)
}

/// An address cleaned for storage: angle brackets, an `rfc822;` type and spaces gone, lower-cased.
pub fn normalize_address(text: &str) -> Option<String> {
    let text = text.trim();
    let text = match text.split_once(';') {
        Some((kind, rest)) if kind.trim().eq_ignore_ascii_case("rfc822") => rest,
        Some((kind, rest)) if kind.trim().eq_ignore_ascii_case("utf-8") => rest,
        _ => text,
    };
    let text = text
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('.')
        .trim_end_matches('>')
        .trim();
    let (local, _) = text.rsplit_once('@')?;
    if local.is_empty() || local.len() > 254 || domain_of(text).is_none() || text.contains(' ') {
        return None;
    }
    Some(text.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_missing_addresses_and_domains_are_hard() {
        for r in Reason::ALL {
            let hard = matches!(r, Reason::UserUnknown | Reason::DomainNotFound);
            assert_eq!(r.default_type() == BounceType::Hard, hard, "{r:?}");
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn addresses_are_cleaned_and_bad_ones_refused() {
        assert_eq!(
            normalize_address("rfc822; <Bob@Gmail.COM>").as_deref(),
            Some("bob@gmail.com")
        );
        assert_eq!(normalize_address("no at sign"), None);
        assert_eq!(normalize_address("@example.com"), None);
        assert_eq!(
            domain_of("x@Shop.Example.").as_deref(),
            Some("shop.example")
        );
        assert_eq!(domain_of("x@bad domain"), None);
    }

    #[test]
    fn diagnostics_are_collapsed_and_bounded() {
        assert_eq!(
            bounded_diagnostic("550  5.1.1\n  user\tunknown").as_deref(),
            Some("550 5.1.1 user unknown")
        );
        let long = "word ".repeat(400);
        assert_eq!(
            bounded_diagnostic(&long).map(|d| d.chars().count()),
            Some(MAX_DIAGNOSTIC_CHARS)
        );
        assert_eq!(bounded_diagnostic("  "), None);
    }
}
