//! Bounce and complaint messages into the events store: what the ingest router calls for a message
//! [`super::read_message_with`] recognised (docs/bounces.md, "Messages").
//!
//! Idempotency: a message's events are keyed by its Message-ID and recipient (`mail:<id>:<rcpt>`),
//! or by a SHA-256 of the message when it has no Message-ID, so ingesting it again counts nothing.

use aws_lc_rs::digest;

use super::MessageEvents;
use super::store::{Event, Recorded};
use super::webhooks::mailgun::hex;

/// The base of a message's event keys: its Message-ID, else `sha256:<hex>` of its bytes.
pub fn message_key(raw: &[u8]) -> String {
    let head = &raw[..raw.len().min(super::parse::MAX_MESSAGE_BYTES)];
    crate::mail::parse_headers(head)
        .and_then(|m| m.message_id().map(|id| id.trim().to_owned()))
        .filter(|id| !id.is_empty() && id.len() <= 250)
        .unwrap_or_else(|| {
            format!(
                "sha256:{}",
                hex(digest::digest(&digest::SHA256, raw).as_ref())
            )
        })
}

/// The events of one read message, keyed on `key` (see [`message_key`]), at `at` (Unix seconds).
pub fn recorded(events: &MessageEvents, key: &str, at: i64) -> Vec<Recorded> {
    match events {
        MessageEvents::Bounces(list) => list
            .iter()
            .map(|b| Recorded {
                key: Some(format!("mail:{key}:{}", b.recipient)),
                at,
                event: Event::Bounce(b.clone()),
            })
            .collect(),
        MessageEvents::Complaints(list) => list
            .iter()
            .enumerate()
            .map(|(i, c)| Recorded {
                key: Some(format!(
                    "mail:{key}:{}",
                    c.recipient.clone().unwrap_or_else(|| format!("#{i}"))
                )),
                at,
                event: Event::Complaint(c.clone()),
            })
            .collect(),
        MessageEvents::NotABounce { .. } | MessageEvents::Unrecognized => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_the_message_id_or_the_content() {
        assert_eq!(
            message_key(b"Message-ID: <a@b.example>\r\nSubject: x\r\n\r\nbody"),
            "a@b.example"
        );
        let k = message_key(b"Subject: x\r\n\r\nbody");
        assert!(k.starts_with("sha256:") && k.len() == 7 + 64, "{k}");
        assert_ne!(k, message_key(b"Subject: y\r\n\r\nbody"));
    }
}
