use super::*;

fn classify(status: Option<&str>, text: &str, provider: Provider) -> (Reason, BounceType) {
    let c = Classifier::default().classify(&Evidence {
        status,
        diagnostic: text,
        provider,
    });
    (c.reason, c.kind)
}

use BounceType::{Hard, Soft};
use Provider::{Gmail, Microsoft, Other, Yahoo};

#[test]
fn a_5xx_block_is_soft_and_a_missing_mailbox_is_hard() {
    assert_eq!(
        classify(
            Some("5.1.1"),
            "550 5.1.1 <bob@shop.example>: Recipient address rejected: User unknown",
            Other
        ),
        (Reason::UserUnknown, Hard)
    );
    assert_eq!(
        classify(
            Some("5.7.1"),
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            Other
        ),
        (Reason::BlockedBlocklist, Soft)
    );
    assert_eq!(
        classify(Some("5.7.1"), "550 5.7.1 Message rejected as spam", Other),
        (Reason::SpamContent, Soft)
    );
}

#[test]
fn a_strong_status_decides_before_the_text() {
    // RFC 7372 §3.3: 5.7.23 is an SPF failure whatever the text says.
    assert_eq!(
        classify(
            Some("5.7.23"),
            "550 rejected, see http://x.example/why",
            Other
        ),
        (Reason::PolicyAuth, Soft)
    );
    assert_eq!(classify(Some("4.4.7"), "", Other), (Reason::Expired, Soft));
    assert_eq!(
        classify(Some("5.2.2"), "550 user over limit", Other),
        (Reason::MailboxFull, Soft)
    );
}

#[test]
fn a_weak_status_yields_to_the_text() {
    assert_eq!(
        classify(Some("5.7.1"), "550 5.7.1 Relaying denied", Other),
        (Reason::PolicyAuth, Soft)
    );
    assert_eq!(classify(Some("5.7.1"), "", Other), (Reason::Security, Soft));
    assert_eq!(
        classify(Some("5.6.9"), "", Other),
        (Reason::PolicyAuth, Soft)
    );
}

#[test]
fn the_senders_missing_domain_is_not_the_recipients() {
    assert_eq!(
        classify(
            Some("5.1.8"),
            "450 4.1.8 <x@nowhere.example>: Sender address rejected: Domain not found",
            Other
        ),
        (Reason::PolicyAuth, Soft)
    );
    assert_eq!(
        classify(
            None,
            "Host or domain name not found. Name service error",
            Other
        ),
        (Reason::DomainNotFound, Hard)
    );
}

#[test]
fn provider_rules_read_the_providers_own_codes() {
    assert_eq!(
        classify(
            Some("5.7.606"),
            "550 5.7.606 Access denied, banned sending IP [192.0.2.1]",
            Microsoft
        ),
        (Reason::BlockedReputation, Soft)
    );
    // Microsoft's own block list is reputation, not a DNS blocklist.
    assert_eq!(
        classify(
            Some("5.7.1"),
            "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
            Microsoft
        ),
        (Reason::BlockedReputation, Soft)
    );
    assert_eq!(
        classify(
            None,
            "553 5.7.2 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list",
            Yahoo
        ),
        (Reason::BlockedBlocklist, Soft)
    );
    assert_eq!(
        classify(
            Some("5.2.1"),
            "550-5.2.1 The email account that you tried to reach is disabled.",
            Gmail
        ),
        (Reason::UserUnknown, Soft)
    );
    assert_eq!(
        classify(
            Some("4.2.1"),
            "450-4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.",
            Gmail
        ),
        (Reason::RateLimited, Soft)
    );
}

#[test]
fn operator_rules_come_first_and_can_set_the_type() {
    let c = Classifier::new(vec![Rule {
        contains: Some("Mailbox Unavailable".into()),
        status: Some("5.7.*".into()),
        provider: None,
        reason: Reason::BlockedReputation,
        kind: Some(BounceType::Soft),
    }]);
    let got = c.classify(&Evidence {
        status: Some("5.7.1"),
        diagnostic: "550 5.7.1 mailbox unavailable",
        provider: Other,
    });
    assert_eq!(
        (got.reason, got.kind, got.basis),
        (Reason::BlockedReputation, Soft, Basis::Configured)
    );
    let untouched = c.classify(&Evidence {
        status: Some("5.1.1"),
        diagnostic: "550 5.1.1 mailbox unavailable",
        provider: Other,
    });
    assert_eq!(untouched.reason, Reason::UserUnknown);
}

#[test]
fn nothing_to_go_on_is_other() {
    assert_eq!(classify(None, "", Other), (Reason::Other, Soft));
    assert_eq!(classify(None, "no idea", Other), (Reason::Other, Soft));
}

#[test]
fn status_patterns_and_extraction() {
    assert!(status_matches("x.2.2", "4.2.2"));
    assert!(status_matches("x.2.2", "5.2.2"));
    assert!(!status_matches("x.2.2", "5.2.20"));
    assert!(status_matches("5.7.6*", "5.7.606"));
    assert!(!status_matches("5.7.6*", "5.7.1"));
    assert_eq!(find_status("550 5.1.1 <a@b.example>: nope"), Some("5.1.1"));
    assert_eq!(find_status("550-5.7.26 Unauthenticated"), Some("5.7.26"));
    assert_eq!(find_status("Postfix 3.5.2 said 550 user unknown"), None);
    assert_eq!(find_status("host 10.5.2.1 refused"), None);
    assert_eq!(find_status("#5.1.1 smtp;550"), Some("5.1.1"));
    assert!(is_status("4.7.650"));
    assert!(!is_status("3.1.1"));
    assert!(!is_status("5.1"));
}
