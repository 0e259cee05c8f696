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
    /// Something this pipeline does not read, with the reason (kind `unknown`).
    Unknown(String),
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

/// Classify a message by content: an ARF part decides by its `Feedback-Type` (RFC 5965 §3.1), a
/// delivery status (RFC 3464) is a bounce, Exim's sentence is a failure report, and anything else is
/// searched for report attachments.
///
/// Bounces (`message/delivery-status`) and complaints (ARF `abuse`, `fraud`, …) are recognised here
/// and answered `Unknown` with the reason until their parsers plug in as `Route` variants.
pub fn route<'m>(message: &'m Message<'m>) -> Route<'m> {
    let parts = &message.parts;
    if let Some(arf) = parts
        .iter()
        .find(|p| content_type(p) == "message/feedback-report")
    {
        let body = arf.contents();
        return match failure::feedback_type(body).as_deref() {
            Some("auth-failure") => Route::DmarcFailure(FailureSource::Arf(body)),
            Some(other) => Route::Unknown(format!(
                "an ARF report of feedback type {other:?} (a complaint), which this pipeline does not read"
            )),
            None => Route::Unknown("an ARF report part without a Feedback-Type field".into()),
        };
    }
    let report_type = parts[0]
        .content_type()
        .and_then(|c| c.attribute("report-type"))
        .map(str::to_ascii_lowercase);
    if report_type.as_deref() == Some("delivery-status")
        || parts
            .iter()
            .any(|p| content_type(p) == "message/delivery-status")
    {
        return Route::Unknown(
            "a delivery status notification (a bounce), which this pipeline does not read".into(),
        );
    }
    if let Some(text) = parts.iter().find_map(|p| match &p.body {
        PartType::Text(t) if t.contains(EXIM_MARKER) => Some(t.as_ref()),
        _ => None,
    }) {
        return Route::DmarcFailure(FailureSource::PlainText(text));
    }
    Route::Reports(parts.iter().filter_map(candidate).collect())
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
