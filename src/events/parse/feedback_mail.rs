//! Feedback that arrives by mail but not as ARF or a DSN:
//!
//! - **Microsoft JMRP** in its own format (the program also offers ARF, which [`super::arf`]
//!   reads): a message from `staff@hotmail.com` that carries the reported message as a
//!   `message/rfc822` attachment, no feedback-report part, the complainer's address redacted.
//! - **Amazon SES notifications by mail** (an SNS topic with an `email` or `email-json`
//!   subscription): the notification's JSON in the body, bare or inside the SNS envelope's
//!   `Message`, followed by SNS's unsubscribe footer. Read as the SES webhook reads it.

use mail_parser::{Message, PartType};
use serde_json::Value;

use super::super::MessageEvents;
use super::super::classify::Classifier;
use super::super::model::{Complaint, domain_of};
use super::super::provider::Provider;
use super::super::store::Event;
use super::super::webhooks::{Context, ses};
use super::original::Original;

/// Whether `m` looks like feedback this module reads (so a message router sends it here rather than
/// sniffing its attachment or JSON body as a report).
pub fn recognizes(m: &Message<'_>) -> bool {
    let from = sender(m);
    (from.as_deref() == Some(JMRP_SENDER)
        && m.parts
            .iter()
            .any(|p| matches!(p.body, PartType::Message(_))))
        || from.as_deref() == Some(SNS_SENDER)
        || m.body_text(0)
            .is_some_and(|b| b.contains("notificationType"))
}

/// JMRP's sender.
const JMRP_SENDER: &str = "staff@hotmail.com";
/// Amazon SNS's email sender.
const SNS_SENDER: &str = "no-reply@sns.amazonaws.com";

fn sender(m: &Message<'_>) -> Option<String> {
    m.from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_ascii_lowercase)
}

/// The JMRP complaint `m` is, if it is one.
pub fn jmrp(m: &Message<'_>) -> Option<MessageEvents> {
    if sender(m).as_deref() != Some(JMRP_SENDER) {
        return None;
    }
    if !m
        .parts
        .iter()
        .any(|p| matches!(p.body, PartType::Message(_)))
    {
        return None;
    }
    let original = Original::find(m);
    Some(MessageEvents::Complaints(vec![Complaint {
        // JMRP redacts the complainer; every one of them is an Outlook.com user.
        recipient: None,
        sender_domain: original
            .from
            .as_deref()
            .or(original.return_path.as_deref())
            .and_then(domain_of),
        feedback_type: "abuse".to_owned(),
        provider: Provider::Microsoft,
    }]))
}

/// The SES notification in `m`'s body, if it holds one.
pub fn ses_notification(m: &Message<'_>, classifier: &Classifier) -> Option<MessageEvents> {
    let body = m.body_text(0)?;
    let start = body.find('{')?;
    // The first JSON value; SNS's footer follows it.
    let mut values = serde_json::Deserializer::from_str(&body[start..]).into_iter::<Value>();
    let value = values.next()?.ok()?;
    let notification = match value.get("Type").and_then(Value::as_str) {
        Some("Notification") => value.get("Message").and_then(Value::as_str)?.to_owned(),
        _ => value.to_string(),
    };
    let parsed: Value = serde_json::from_str(&notification).ok()?;
    let kind = parsed
        .get("notificationType")
        .or_else(|| parsed.get("eventType"))
        .and_then(Value::as_str)?;
    if !matches!(kind, "Bounce" | "Complaint") {
        return None;
    }
    let cx = Context {
        classifier,
        default_domain: None,
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
    };
    let message_id = m.message_id().unwrap_or("");
    let batch = ses::map(&notification, message_id, &cx).ok()?;
    let mut bounces = Vec::new();
    let mut complaints = Vec::new();
    for r in batch {
        match r.event {
            Event::Bounce(b) => bounces.push(b),
            Event::Complaint(c) => complaints.push(c),
            Event::Delivery(_) | Event::Deferral(_) => {}
        }
    }
    Some(match (bounces.is_empty(), complaints.is_empty()) {
        (false, _) => MessageEvents::Bounces(bounces),
        (true, false) => MessageEvents::Complaints(complaints),
        // A bounce SES never sent (suppressed): nothing to count.
        (true, true) => MessageEvents::NotABounce {
            why: "an Amazon SES notification about mail SES did not send",
        },
    })
}

#[cfg(test)]
mod tests {
    use mail_parser::MessageParser;

    use super::*;
    use crate::events::model::Reason;

    #[test]
    fn a_jmrp_report_is_a_complaint_about_the_attached_messages_sender() {
        let raw = b"From: staff@hotmail.com\r\nTo: fbl@shop.example\r\nSubject: complaint about message from 192.0.2.10\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report for an email message received from IP 192.0.2.10.\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\nFrom: News <news@mail.shop.example>\r\nTo: <redacted>\r\nSubject: Sale\r\n\r\nBuy now.\r\n--b--\r\n";
        let m = MessageParser::new().parse(&raw[..]).unwrap();
        let Some(MessageEvents::Complaints(c)) = jmrp(&m) else {
            panic!("not a complaint")
        };
        assert_eq!(
            c,
            [Complaint {
                recipient: None,
                sender_domain: Some("mail.shop.example".into()),
                feedback_type: "abuse".into(),
                provider: Provider::Microsoft,
            }]
        );
        let other = b"From: someone@hotmail.com\r\nSubject: fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@b.example\r\n\r\nx\r\n--b--\r\n";
        let m = MessageParser::new().parse(&other[..]).unwrap();
        assert!(jmrp(&m).is_none(), "only JMRP's own sender");
    }

    #[test]
    fn an_ses_bounce_notification_by_mail_reads_as_the_webhook_reads_it() {
        let notification = r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"gone@example.net","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"timestamp":"2026-12-01T10:00:00.000Z","feedbackId":"f-1"},"mail":{"source":"news@mail.shop.example","messageId":"m-1","destination":["gone@example.net"]}}"#;
        // email-json: the SNS envelope, then the footer of an `email` subscription.
        let envelope = serde_json::json!({"Type": "Notification", "MessageId": "sns-1", "Message": notification});
        let raw = format!(
            "From: AWS Notifications <no-reply@sns.amazonaws.com>\r\nSubject: AWS Notification Message\r\nMessage-ID: <n1@sns>\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{envelope}\r\n\r\n--\r\nIf you wish to stop receiving notifications from this topic, please click or visit the link below to unsubscribe:\r\nhttps://sns.example/unsubscribe\r\n"
        );
        let m = MessageParser::new().parse(raw.as_bytes()).unwrap();
        let Some(MessageEvents::Bounces(b)) = ses_notification(&m, &Classifier::default()) else {
            panic!("not read as bounces")
        };
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].recipient, "gone@example.net");
        assert_eq!(b[0].sender_domain.as_deref(), Some("mail.shop.example"));
        assert_eq!(b[0].reason, Reason::UserUnknown);
        // The bare notification (an `email` subscription) reads the same.
        let bare = format!(
            "From: no-reply@sns.amazonaws.com\r\nSubject: AWS Notification Message\r\n\r\n{notification}\r\n--\r\nfooter\r\n"
        );
        let m = MessageParser::new().parse(bare.as_bytes()).unwrap();
        assert!(matches!(
            ses_notification(&m, &Classifier::default()),
            Some(MessageEvents::Bounces(_))
        ));
    }
}
