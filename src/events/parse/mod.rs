//! A raw message → what it reports: bounces, complaints, or why it is neither.
//!
//! In order: an ARF feedback report (RFC 5965) is a complaint; so is a Microsoft JMRP report in its
//! own format, and an Amazon SES notification by mail is read as its webhook is ([`feedback_mail`]); a `message/delivery-status` part
//! (RFC 3464, wherever it sits: OpenSMTPD sends one outside `multipart/report`) gives one item per
//! failed recipient; else the plain-text layouts of the MTA families ([`plain`]); else an auto-reply
//! (RFC 3834) or challenge mail is named as not a bounce; anything else is unrecognized.

pub mod arf;
pub mod dsn;
pub mod feedback_mail;
pub mod fields;
pub mod original;
pub mod plain;

use mail_parser::{Message, MimeHeaders, PartType};

use super::MessageEvents;
use super::classify::{Classifier, Evidence, find_status};
use super::model::{Bounce, bounded_diagnostic, normalize_address};
use super::provider::Provider;

/// The most of a message read. The report parts come first (RFC 6522 §3); what lies past this is
/// the returned original, which only lends its headers.
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// What a parser found about one failed recipient, before classification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failed {
    /// The recipient as written.
    pub recipient: String,
    /// The status as written (validated later).
    pub status: Option<String>,
    /// The diagnostic text.
    pub diagnostic: Option<String>,
    /// The remote host.
    pub remote_mta: Option<String>,
}

/// Read `raw` (only its first [`MAX_MESSAGE_BYTES`]) and classify what it reports.
pub fn read(raw: &[u8], classifier: &Classifier) -> MessageEvents {
    let raw = &raw[..raw.len().min(MAX_MESSAGE_BYTES)];
    let Some(message) = crate::mail::parse(raw) else {
        return MessageEvents::Unrecognized;
    };
    match arf::read(&message) {
        Some(arf::Feedback::Complaints(c)) => return MessageEvents::Complaints(c),
        Some(arf::Feedback::AuthFailure) => {
            return MessageEvents::NotABounce {
                why: "a DMARC failure report (Feedback-Type: auth-failure), not a complaint",
            };
        }
        None => {}
    }
    if let Some(events) = feedback_mail::jmrp(&message)
        .or_else(|| feedback_mail::ses_notification(&message, classifier))
    {
        return events;
    }
    let origin = original::Original::find(&message);
    if let Some(report) = dsn::read(&message) {
        match report {
            dsn::Report::Failed { failed, sender } => {
                let sender = origin.sender_domain(sender.as_deref(), &message);
                return MessageEvents::Bounces(classify_all(failed, sender, classifier));
            }
            dsn::Report::NoFailure(why) => return MessageEvents::NotABounce { why },
        }
    }
    if let Some(why) = not_a_bounce_before_text(&message) {
        return MessageEvents::NotABounce { why };
    }
    if !looks_like_a_bounce(&message)
        && let Some(why) = not_a_bounce(&message)
    {
        return MessageEvents::NotABounce { why };
    }
    if let Some(failed) = plain::read(&message) {
        let sender = origin.sender_domain(None, &message);
        return MessageEvents::Bounces(classify_all(failed, sender, classifier));
    }
    if let Some(why) = not_a_bounce(&message) {
        return MessageEvents::NotABounce { why };
    }
    MessageEvents::Unrecognized
}

/// Classify each failed recipient, dropping the ones without a usable address.
fn classify_all(failed: Vec<Failed>, sender: Option<String>, c: &Classifier) -> Vec<Bounce> {
    let mut out: Vec<Bounce> = Vec::with_capacity(failed.len());
    for f in failed {
        let Some(recipient) = normalize_address(&f.recipient) else {
            continue;
        };
        let diagnostic = f.diagnostic.as_deref().and_then(bounded_diagnostic);
        let text = diagnostic.as_deref().unwrap_or("");
        let status = best_status(f.status.as_deref(), text);
        let remote_mta = f
            .remote_mta
            .as_deref()
            .and_then(|h| fields::typed_value(h).split_whitespace().next())
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
            .filter(|h| !h.is_empty() && h.len() <= 255);
        let provider = Provider::of_recipient(&recipient, remote_mta.as_deref());
        let class = c.classify(&Evidence {
            status: status.as_deref(),
            diagnostic: text,
            provider,
        });
        out.push(Bounce {
            recipient,
            sender_domain: sender.clone(),
            status,
            kind: class.kind,
            reason: class.reason,
            provider,
            remote_mta,
            diagnostic,
        });
    }
    out
}

/// The DSN's `Status`, unless it is a bare `x.0.0` and the diagnostic names a finer code (MTAs
/// write 5.0.0 when the remote reply said 5.1.1); else the code written in the diagnostic.
fn best_status(given: Option<&str>, diagnostic: &str) -> Option<String> {
    let given = given
        .map(|s| s.split_whitespace().next().unwrap_or(""))
        .filter(|s| super::classify::is_status(s));
    let written = find_status(diagnostic);
    match (given, written) {
        (Some(g), Some(w)) if g.ends_with(".0.0") && w.as_bytes()[0] == g.as_bytes()[0] => {
            Some(w.to_owned())
        }
        (Some(g), _) => Some(g.to_owned()),
        (None, w) => w.map(str::to_owned),
    }
}

/// Headers and subjects that mark a message as not a bounce even when it quotes one: a delay
/// warning (Exim: "Warning: message … delayed").
fn not_a_bounce_before_text(m: &Message<'_>) -> Option<&'static str> {
    let subject = m.subject().unwrap_or("").to_ascii_lowercase();
    if subject.starts_with("warning: message") && subject.contains("delayed") {
        return Some("a delay warning: the message is still queued");
    }
    if subject.contains("delivery status notification (delay)") {
        return Some("a delay warning: the message is still queued");
    }
    None
}

/// Subjects of non-delivery reports across MTAs and languages (lower case).
const BOUNCE_SUBJECTS: &[&str] = &[
    "undeliver",
    "delivery status notification",
    "mail delivery failed",
    "delivery failure",
    "returned mail",
    "failure notice",
    "non remis",
    "unzustellbar",
    "mail delivery system",
    "delivery has failed",
    "could not be delivered",
];

/// The marks of a bounce in the headers: `X-Failed-Recipients`, a MAILER-DAEMON or postmaster
/// sender, a non-delivery subject. Bounces carry `Auto-Submitted: auto-replied` too (RFC 3834
/// §5), so the auto-reply test applies only to mail without these.
fn looks_like_a_bounce(m: &Message<'_>) -> bool {
    let from = m
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .to_ascii_lowercase();
    let subject = m.subject().unwrap_or("").to_ascii_lowercase();
    m.header_raw("X-Failed-Recipients").is_some()
        || from.starts_with("mailer-daemon@")
        || from.starts_with("postmaster@")
        || BOUNCE_SUBJECTS.iter().any(|s| subject.contains(s))
}

/// Auto-replies (RFC 3834 §5: `Auto-Submitted: auto-replied`, and the older vacation markers) and
/// challenge-response mail, once no bounce was found in the message.
fn not_a_bounce(m: &Message<'_>) -> Option<&'static str> {
    let header = |name: &str| m.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    let subject = m.subject().unwrap_or("").to_ascii_lowercase();
    if header("X-Boxtrapper").is_some()
        || header("X-Challenge").is_some()
        || [
            "please confirm your message",
            "verify you are a human",
            "challenge-response",
        ]
        .iter()
        .any(|p| subject.contains(p))
    {
        return Some("challenge-response mail asking the sender to confirm");
    }
    let auto_submitted = header("Auto-Submitted").is_some_and(|v| v.starts_with("auto-replied"));
    let vacation = header("X-Autoreply").is_some()
        || header("X-Autorespond").is_some()
        || header("Precedence").is_some_and(|v| v == "auto_reply")
        || [
            "out of office",
            "automatic reply",
            "auto:",
            "autoreply",
            "abwesenheit",
            "vacation",
        ]
        .iter()
        .any(|p| subject.contains(p));
    (auto_submitted || vacation).then_some("an auto-reply (RFC 3834), not a bounce")
}

/// The text of a part, decoded (transfer encoding and charset), for text and non-text parts alike.
pub(crate) fn part_text<'a>(body: &'a PartType<'_>) -> Option<std::borrow::Cow<'a, str>> {
    match body {
        PartType::Text(t) | PartType::Html(t) => Some(std::borrow::Cow::Borrowed(t.as_ref())),
        PartType::Binary(b) | PartType::InlineBinary(b) => Some(String::from_utf8_lossy(b)),
        _ => None,
    }
}

/// Each part's lower-case `type/subtype`.
pub(crate) fn content_types<'a>(
    m: &'a Message<'_>,
) -> impl Iterator<Item = (String, &'a mail_parser::MessagePart<'a>)> + 'a {
    m.parts.iter().map(|p| {
        let t = p.content_type().map_or_else(String::new, |ct| {
            format!(
                "{}/{}",
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").to_ascii_lowercase()
            )
        });
        (t, p)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generic_dsn_status_yields_to_the_code_in_the_reply() {
        assert_eq!(
            best_status(Some("5.0.0"), "550 5.1.1 user unknown").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(
            best_status(Some("5.7.1"), "550 5.1.1 user unknown").as_deref(),
            Some("5.7.1")
        );
        assert_eq!(best_status(None, "550 user unknown"), None);
        assert_eq!(
            best_status(Some("bogus"), "452 4.2.2 full").as_deref(),
            Some("4.2.2")
        );
    }
}
