//! The built-in classification table, as data (docs/bounces.md, "Reasons", explains each pass).
//!
//! Sources: RFC 3463 and the IANA "SMTP Enhanced Status Codes" registry for the status rows; the
//! providers' published bounce texts (Google Workspace "SMTP error reference", Microsoft "Exchange
//! Online NDR" pages, Yahoo "SMTP error codes") for the provider rows; the reason taxonomy of the
//! Sisimai project (its status table and per-reason phrases) informed the generic rows. Users add
//! rows of their own in `events.classification` (checked before all of these).

use super::super::model::{BounceType, Reason};
use super::super::provider::Provider;

/// How far a status code alone can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strength {
    /// The code means one thing: it decides before any text pattern.
    Strong,
    /// Receivers reuse the code for several things (5.7.1 is a block, an auth failure, a relay
    /// denial…): text patterns decide first, the code only when no pattern matched.
    Weak,
}

/// One status row: `class.subject.detail`, where the class may be `x` (4 or 5).
pub struct StatusRow {
    /// The code pattern, e.g. `x.2.2` or `5.7.26`.
    pub code: &'static str,
    /// Whether it decides before the text patterns.
    pub strength: Strength,
    /// The reason it means.
    pub reason: Reason,
    /// A type other than the reason's own (a suspended account is not a missing one).
    pub kind: Option<BounceType>,
}

const fn row(code: &'static str, strength: Strength, reason: Reason) -> StatusRow {
    StatusRow {
        code,
        strength,
        reason,
        kind: None,
    }
}

use Reason::*;
use Strength::{Strong, Weak};

/// RFC 3463 codes and the provider extensions of the same registry.
pub const STATUS: &[StatusRow] = &[
    // x.1 addressing
    row("5.1.1", Strong, UserUnknown),
    row("5.1.0", Weak, UserUnknown),
    row("5.1.3", Strong, UserUnknown),
    row("5.1.2", Strong, DomainNotFound),
    row("5.1.10", Strong, DomainNotFound), // RFC 7505: null MX
    row("x.1.6", Strong, UserUnknown),     // moved, no forwarding
    row("5.7.17", Strong, UserUnknown),
    row("5.7.18", Strong, UserUnknown),
    row("x.1.7", Strong, PolicyAuth), // the sender's address is bad
    row("x.1.8", Strong, PolicyAuth),
    row("5.1.4", Weak, SpamContent),
    row("x.1.9", Weak, SystemError),
    // x.2 mailbox
    row("x.2.2", Strong, MailboxFull),
    row("x.2.3", Strong, MessageTooLarge),
    row("5.2.0", Weak, SpamContent),
    row("5.2.1", Weak, SpamContent),
    row("x.2.4", Weak, SpamContent),
    row("4.2.1", Weak, BlockedReputation),
    // x.3 mail system
    row("x.3.1", Strong, SystemError),
    row("5.3.2", Weak, DomainNotFound),
    row("4.3.2", Weak, SystemError),
    row("5.3.0", Weak, SystemError),
    row("x.3.3", Weak, SystemError),
    row("5.3.4", Strong, MessageTooLarge),
    row("x.3.5", Weak, SystemError),
    // x.4 network and routing
    row("5.4.4", Strong, DomainNotFound),
    row("4.4.1", Strong, Expired),
    row("4.4.7", Strong, Expired),
    row("5.4.7", Strong, Expired),
    row("4.4.5", Strong, SystemError),
    row("5.4.0", Weak, SystemError),
    row("4.4.2", Weak, SystemError),
    row("4.4.4", Weak, SystemError),
    row("4.4.6", Weak, SystemError),
    row("4.4.8", Weak, SystemError),
    row("x.4.3", Weak, SystemError),
    // x.5 protocol
    row("5.5.3", Weak, RateLimited),
    row("5.5.2", Weak, SystemError),
    row("5.5.6", Weak, SystemError),
    row("5.5.4", Weak, SystemError),
    row("5.5.5", Weak, SystemError),
    row("4.5.3", Weak, SystemError),
    row("4.5.5", Weak, SystemError),
    // x.7 security and policy
    row("x.7.16", Strong, MessageTooLarge),
    StatusRow {
        code: "5.7.13",
        strength: Strong,
        reason: UserUnknown,
        kind: Some(BounceType::Soft), // suspended: may come back
    },
    row("5.7.20", Strong, PolicyAuth), // RFC 7372: no passing DKIM signature
    row("5.7.21", Strong, PolicyAuth),
    row("5.7.22", Strong, PolicyAuth),
    row("5.7.23", Strong, PolicyAuth), // SPF validation failed
    row("5.7.24", Strong, PolicyAuth),
    row("5.7.26", Strong, PolicyAuth), // multiple authentication checks failed
    row("5.7.29", Strong, PolicyAuth),
    row("4.7.24", Strong, PolicyAuth),
    row("4.7.26", Strong, PolicyAuth),
    row("x.7.25", Strong, PolicyAuth), // RFC 8601: reverse DNS required
    row("5.7.27", Strong, PolicyAuth), // the sender's domain has a null MX
    row("5.7.28", Strong, SpamContent),
    row("5.7.30", Strong, Security), // STARTTLS required
    row("4.7.1", Weak, BlockedReputation),
    row("4.7.2", Weak, BlockedReputation),
    row("5.7.0", Weak, Security),
    row("5.7.1", Weak, Security),
    row("5.7.2", Weak, Security),
    row("5.7.3", Weak, Security),
    row("5.7.4", Weak, Security),
    row("5.7.5", Weak, Security),
    row("5.7.6", Weak, Security),
    row("5.7.7", Weak, Security),
    row("5.7.8", Weak, Security),
    row("5.7.9", Weak, Security),
    row("5.7.10", Weak, Security),
    row("5.7.11", Weak, Security),
    row("5.7.14", Weak, Security),
    row("5.7.15", Weak, Security),
    row("5.7.19", Weak, Security),
    row("4.7.5", Weak, Security),
    row("4.7.6", Weak, Security),
    row("4.7.7", Weak, Security),
    row("4.7.12", Weak, Security),
    row("4.7.15", Weak, Security),
];

/// One provider row: for mail to `provider`, a status (exact, or a prefix ending in `*`) and/or a
/// lower-case phrase of its diagnostic text.
pub struct ProviderRow {
    /// Whose bounces it reads.
    pub provider: Provider,
    /// The status it needs, if any.
    pub status: Option<&'static str>,
    /// The phrase it needs (lower case), if any.
    pub phrase: Option<&'static str>,
    /// The reason.
    pub reason: Reason,
    /// A type other than the reason's own.
    pub kind: Option<BounceType>,
}

const fn pr(
    provider: Provider,
    status: Option<&'static str>,
    phrase: Option<&'static str>,
    reason: Reason,
) -> ProviderRow {
    ProviderRow {
        provider,
        status,
        phrase,
        reason,
        kind: None,
    }
}

use Provider::{Gmail, Microsoft, Yahoo};

/// Provider texts that the generic phrases would get wrong, or that need the provider's own codes.
pub const PROVIDERS: &[ProviderRow] = &[
    // Google: support.google.com/a/answer/3726730 (SMTP error reference).
    pr(Gmail, None, Some("receiving mail at a rate"), RateLimited),
    pr(
        Gmail,
        None,
        Some("unusual rate of unsolicited mail"),
        RateLimited,
    ),
    pr(Gmail, None, Some("likely unsolicited mail"), SpamContent),
    pr(Gmail, None, Some("very low reputation"), BlockedReputation),
    pr(Gmail, None, Some("unauthenticated email"), PolicyAuth),
    pr(Gmail, None, Some("ptr record"), PolicyAuth),
    pr(Gmail, None, Some("over quota"), MailboxFull),
    pr(Gmail, None, Some("out of storage"), MailboxFull),
    ProviderRow {
        provider: Gmail,
        status: None,
        phrase: Some("account that you tried to reach is disabled"),
        reason: UserUnknown,
        kind: Some(BounceType::Soft),
    },
    pr(Gmail, Some("5.7.32"), None, PolicyAuth),
    // Microsoft: learn.microsoft.com "Email non-delivery reports and SMTP errors in Exchange Online".
    pr(
        Microsoft,
        Some("5.7.6*"),
        Some("banned sending ip"),
        BlockedReputation,
    ),
    pr(Microsoft, None, Some("(s3150)"), BlockedReputation),
    pr(Microsoft, None, Some("(s3140)"), BlockedReputation),
    pr(Microsoft, None, Some("(s3114)"), BlockedReputation),
    pr(Microsoft, Some("4.7.650"), None, BlockedReputation),
    pr(Microsoft, Some("5.7.509"), None, PolicyAuth),
    pr(Microsoft, Some("5.7.515"), None, PolicyAuth),
    pr(Microsoft, Some("5.7.708"), None, BlockedReputation),
    pr(Microsoft, Some("5.7.750"), None, BlockedReputation),
    pr(Microsoft, Some("5.4.1"), Some("access denied"), UserUnknown),
    pr(Microsoft, Some("5.4.312"), None, DomainNotFound),
    pr(Microsoft, Some("5.4.316"), None, SystemError),
    pr(Microsoft, Some("5.4.317"), None, SystemError),
    pr(Microsoft, None, Some("recipnotfound"), UserUnknown),
    // Yahoo: senders.yahooinc.com/smtp-error-codes.
    pr(Yahoo, None, Some("[bl21]"), BlockedBlocklist),
    pr(Yahoo, None, Some("[bl22]"), BlockedBlocklist),
    pr(Yahoo, None, Some("[bl23]"), BlockedBlocklist),
    pr(Yahoo, None, Some("[ts01]"), BlockedReputation),
    pr(Yahoo, None, Some("[ts02]"), BlockedReputation),
    pr(Yahoo, None, Some("[ts03]"), BlockedReputation),
    pr(Yahoo, None, Some("[ps01]"), BlockedReputation),
    pr(
        Yahoo,
        None,
        Some("not accepted for policy reasons"),
        PolicyAuth,
    ),
    pr(Yahoo, None, Some("user doesn't have a"), UserUnknown),
];

/// Generic phrases, tried in this order (the first reason with a matching phrase wins). Order is the
/// point: "Sender address rejected: Domain not found" is the sender's problem (policy) before it is a
/// missing domain; "blocked using zen.spamhaus.org" is a blocklist before it is a block.
pub const PHRASES: &[(Reason, &[&str])] = &[
    (
        BlockedBlocklist,
        &[
            "spamhaus",
            "spamcop",
            "barracuda",
            "sorbs",
            "uceprotect",
            "mailspike",
            "invaluement",
            "psbl.",
            "dnsbl",
            "blocklist",
            "blacklist",
            "block list",
            "black list",
            "listed at",
            "listed on",
            "listed in",
            " rbl",
            // Postfix's reject_rbl_client: "Client host [192.0.2.1] blocked using <zone>".
            "blocked using",
        ],
    ),
    (
        PolicyAuth,
        &[
            "spf",
            "dkim",
            "dmarc",
            "sender address rejected",
            "sender verify failed",
            "sender verification",
            "domain of sender address",
            "reverse dns",
            "reverse lookup",
            "rdns",
            "ptr record",
            "relay access denied",
            "relaying denied",
            "not permitted to relay",
            "relay not permitted",
            "unable to relay",
            "not compliant with rfc",
            "rfc 5322",
            "rfc5322",
            "rfc 2822",
            "authentication required",
            "unauthenticated",
            "not authenticated",
        ],
    ),
    (
        Security,
        &[
            "virus",
            "malware",
            "infected",
            "starttls",
            "tls required",
            "requires tls",
            "encryption required",
            "security policy",
        ],
    ),
    (
        MailboxFull,
        &[
            "mailbox full",
            "mailbox is full",
            "mailbox has exceeded",
            "mailbox size limit",
            "over quota",
            "quota exceeded",
            "exceeded storage",
            "exceeded its quota",
            "exceeds quota",
            "out of storage",
            "inbox is full",
            "full mailbox",
            "mailfolder is full",
        ],
    ),
    (
        MessageTooLarge,
        &[
            "message size exceeds",
            "message too big",
            "message is too big",
            "message too large",
            "message is too large",
            "too large",
            "size limit",
            "exceeds the maximum",
            "maximum message size",
            "message length exceeds",
        ],
    ),
    (
        RateLimited,
        &[
            "rate limit",
            "rate-limit",
            "ratelimit",
            "too many messages",
            "too many connections",
            "too many recipients",
            "too many concurrent",
            "sending rate",
            "unusual rate",
            "throttl",
            "too fast",
            "connection limit",
        ],
    ),
    (
        DomainNotFound,
        &[
            "host not found",
            "domain not found",
            "host or domain name not found",
            "domain does not exist",
            "domain doesn't exist",
            "no such domain",
            "unrouteable address",
            "unroutable address",
            "name or service not known",
            "nxdomain",
            "no mx",
            "null mx",
            "does not accept mail",
            "unknown host",
            "domain name not found",
        ],
    ),
    (
        UserUnknown,
        &[
            "user unknown",
            "unknown user",
            "no such user",
            "no such mailbox",
            "no such recipient",
            "does not exist",
            "doesn't exist",
            "no mailbox",
            "mailbox not found",
            "mailbox unavailable",
            "mailbox is inactive",
            "not a valid mailbox",
            "invalid recipient",
            "invalid mailbox",
            "recipient unknown",
            "recipient not found",
            "unknown recipient",
            "user not found",
            "address not found",
            "unknown or illegal alias",
            "bad destination mailbox",
            "account disabled",
            "account has been disabled",
            "account is disabled",
            "no longer active",
            "unknown local part",
            "user doesn't have",
            "not our customer",
        ],
    ),
    (
        BlockedReputation,
        &[
            "reputation",
            "banned",
            "access denied",
            "client host rejected",
            "connection rejected",
            "has been blocked",
            "temporarily deferred",
        ],
    ),
    (
        SpamContent,
        &[
            "spam",
            "unsolicited",
            "phish",
            "junk mail",
            "bulk mail",
            "content rejected",
            "message content",
            "content filter",
            "message filtered",
            "suspicious",
        ],
    ),
    (
        Expired,
        &[
            "expired",
            "retry timeout",
            "queue lifetime",
            "too long in queue",
            "retry time",
            "could not be delivered for",
            "delivery time",
            "gave up",
        ],
    ),
    (
        SystemError,
        &[
            "system error",
            "internal error",
            "temporary failure",
            "connection refused",
            "connection timed out",
            "timed out",
            "lost connection",
            "network",
            "insufficient system storage",
            "mailer",
            "local configuration",
            "loops back to myself",
            "mail loop",
            "too many hops",
            "routing loop",
            "syntax error",
        ],
    ),
    (PolicyAuth, &["policy"]),
    (
        BlockedReputation,
        &[
            "blocked",
            "block",
            "denied",
            "refused",
            "rejected",
            "not allowed",
            "prohibited",
        ],
    ),
];
