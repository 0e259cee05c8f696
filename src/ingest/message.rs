//! Internet messages (RFC 5322, MIME): one mailbox receives aggregate reports, TLS reports, failure
//! reports, bounces and complaints, so every message is classified by its content in [`route`], the
//! one place a new kind plugs in.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use super::formats::failure::{self, EXIM_MARKER};
use super::sniff::{Sniffed, sniff};

/// What a message holds, and where.
#[derive(Debug)]
pub enum Route<'m> {
    /// Parts that hold aggregate or TLS reports (attachments, inline bodies, forwarded messages):
    /// each is sniffed and parsed; empty when the message has none.
    Reports(Vec<Candidate<'m>>),
    /// A DMARC failure report (RFC 9991).
    DmarcFailure(FailureSource<'m>),
    /// A bounce or a complaint, or mail that may be one (a plain-text bounce has no marker a router
    /// can see): read by `crate::events::read_message_with`, which also names look-alikes
    /// (auto-replies, delay notices) as not bounces.
    Events,
}

/// A part worth sniffing.
#[derive(Debug)]
pub enum Candidate<'m> {
    /// Decoded bytes of a leaf part.
    Bytes(&'m [u8]),
    /// A nested `message/rfc822` (a report forwarded as an attachment).
    Message(&'m Message<'m>),
}

/// Where a failure report's fields are.
#[derive(Debug)]
pub enum FailureSource<'m> {
    /// The body of the `message/feedback-report` part.
    Arf(&'m [u8]),
    /// The text of Exim's plain-text report.
    PlainText(&'m str),
}

/// Classify a message by content: an ARF part decides by its `Feedback-Type` (RFC 5965 §3.1:
/// `auth-failure` is a DMARC failure report, RFC 6591; every other type a complaint), a delivery
/// status (RFC 3464) is a bounce, Exim's sentence is a failure report, parts that sniff as reports
/// are reports, and a message with none of these may still be a plain-text bounce.
pub fn route<'m>(message: &'m Message<'m>) -> Route<'m> {
    let parts = &message.parts;
    if let Some(arf) = parts
        .iter()
        .find(|p| content_type(p) == "message/feedback-report")
    {
        let body = arf.contents();
        return match failure::feedback_type(body).as_deref() {
            Some("auth-failure") => Route::DmarcFailure(FailureSource::Arf(body)),
            _ => Route::Events,
        };
    }
    // Microsoft JMRP complaints and Amazon SES notifications by mail: their attachment or JSON body
    // would otherwise be sniffed as a report.
    if crate::events::parse::feedback_mail::recognizes(message) {
        return Route::Events;
    }
    let report_type = parts
        .first()
        .and_then(|p| p.content_type())
        .and_then(|c| c.attribute("report-type"))
        .map(str::to_ascii_lowercase);
    if report_type.as_deref() == Some("delivery-status")
        || parts
            .iter()
            .any(|p| content_type(p) == "message/delivery-status")
    {
        return Route::Events;
    }
    if let Some(text) = parts.iter().find_map(|p| match &p.body {
        PartType::Text(t) if t.contains(EXIM_MARKER) => Some(t.as_ref()),
        _ => None,
    }) {
        return Route::DmarcFailure(FailureSource::PlainText(text));
    }
    let candidates: Vec<Candidate<'m>> = parts.iter().filter_map(candidate).collect();
    if candidates.is_empty() {
        return Route::Events;
    }
    Route::Reports(candidates)
}

/// A part that may hold a report, judged by its content.
fn candidate<'m>(part: &'m MessagePart<'m>) -> Option<Candidate<'m>> {
    let bytes: &[u8] = match &part.body {
        PartType::Message(m) => return Some(Candidate::Message(m)),
        PartType::Multipart(_) | PartType::Html(_) => return None,
        PartType::Text(t) => t.as_bytes(),
        PartType::Binary(b) | PartType::InlineBinary(b) => b,
    };
    let start = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(bytes)
        .trim_ascii_start();
    match sniff(start) {
        Sniffed::Gzip | Sniffed::Zip | Sniffed::Xml | Sniffed::Json => {
            Some(Candidate::Bytes(bytes))
        }
        Sniffed::Message | Sniffed::Unknown => None,
    }
}

/// `type/subtype`, lower-cased (`text/plain` when absent, RFC 2045 §5.2).
fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(c) => match c.subtype() {
            Some(sub) => format!("{}/{}", c.ctype(), sub).to_ascii_lowercase(),
            None => c.ctype().to_ascii_lowercase(),
        },
        None => "text/plain".into(),
    }
}

/// The address in the message's `From`, lower-cased.
pub fn from_address(message: &Message<'_>) -> Option<String> {
    message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_ascii_lowercase)
}
