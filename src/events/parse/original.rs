//! The returned original (a `message/rfc822` part, a `text/rfc822-headers` part, or the copy a
//! plain-text bounce quotes below its "copy of the message" line) and the sending domain it names.

use mail_parser::{Message, PartType};

use super::super::model::domain_of;
use super::{content_types, part_text};

/// The returned original's addresses, when the bounce returns it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Original {
    /// Its `From:` address.
    pub from: Option<String>,
    /// Its first `To:` address.
    pub to: Option<String>,
    /// Its `Return-Path:` (the envelope sender).
    pub return_path: Option<String>,
    /// Its `Message-ID`, without angle brackets.
    pub message_id: Option<String>,
}

/// Lines after which a plain-text bounce quotes the original.
const COPY_MARKERS: &[&str] = &[
    "------ this is a copy of the message, including all the headers. ------",
    "--- below this line is a copy of the message.",
    "below is a copy of the original message:",
    "----- original message -----",
    "------ original message ------",
    "   ----- original message follows -----",
    "----- message header follows -----",
];

impl Original {
    /// Find the original in `m`.
    pub fn find(m: &Message<'_>) -> Original {
        for (t, p) in content_types(m) {
            match (&p.body, t.as_str()) {
                (PartType::Message(inner), _) => return Original::of(inner),
                (
                    _,
                    "text/rfc822-headers" | "message/rfc822-headers" | "message/global-headers",
                ) => {
                    if let Some(text) = part_text(&p.body)
                        && let Some(h) = crate::mail::parse_headers(text.as_bytes())
                    {
                        return Original::of(&h);
                    }
                }
                _ => {}
            }
        }
        let Some(body) = m.body_text(0) else {
            return Original::default();
        };
        let lower = body.to_ascii_lowercase();
        let Some(at) = COPY_MARKERS
            .iter()
            .find_map(|k| lower.find(k).map(|i| i + k.len()))
        else {
            return Original::default();
        };
        let quoted = body[at..].trim_start_matches(['\r', '\n', ' ']);
        crate::mail::parse_headers(quoted.as_bytes())
            .map_or_else(Original::default, |h| Original::of(&h))
    }

    fn of(m: &Message<'_>) -> Original {
        Original {
            from: m
                .from()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(str::to_owned),
            to: m
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(str::to_owned),
            return_path: m.return_address().map(str::to_owned),
            message_id: m.message_id().map(str::to_owned),
        }
    }

    /// The sending domain: the original's From domain (what the recipient saw and the provider
    /// judges), else the envelope sender the reporter names, else the original's Return-Path, else
    /// the address the bounce itself was sent to (bounces go to the envelope sender, RFC 5321 §4.5.5).
    pub fn sender_domain(&self, envelope: Option<&str>, bounce: &Message<'_>) -> Option<String> {
        let bounce_to = bounce
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .filter(|a| !a.to_ascii_lowercase().starts_with("mailer-daemon@"));
        [
            self.from.as_deref(),
            envelope,
            self.return_path.as_deref(),
            bounce_to,
        ]
        .into_iter()
        .flatten()
        .find_map(domain_of)
    }
}
