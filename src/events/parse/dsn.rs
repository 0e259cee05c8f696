//! RFC 3464 delivery status notifications: the `message/delivery-status` part (or its RFC 6533
//! `message/global-delivery-status` form). The first group holds the per-message fields, each
//! following group one recipient (§2.2, §2.3).

use mail_parser::Message;

use super::fields::{self, Group};
use super::{Failed, content_types, part_text};

/// What the report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// At least one recipient failed (`Action: failed`), in report order.
    Failed {
        /// The failed recipients.
        failed: Vec<Failed>,
        /// The envelope sender, when the reporter names it (`X-Postfix-Sender`).
        sender: Option<String>,
    },
    /// Every recipient was delayed, delivered, relayed or expanded: not a bounce.
    NoFailure(&'static str),
}

/// The report in `m`, or `None` when `m` has no delivery-status part with a recipient in it.
pub fn read(m: &Message<'_>) -> Option<Report> {
    let text = content_types(m).find_map(|(t, p)| {
        matches!(
            t.as_str(),
            "message/delivery-status" | "message/global-delivery-status"
        )
        .then(|| part_text(&p.body))
        .flatten()
    })?;
    let groups = fields::groups(&text);
    let per_message = groups.first().filter(|g| !is_recipient(g));
    let sender = per_message
        .and_then(|g| g.get("X-Postfix-Sender"))
        .map(|v| fields::typed_value(v).to_owned());
    let recipients: Vec<&Group> = groups.iter().filter(|g| is_recipient(g)).collect();
    if recipients.is_empty() {
        return None;
    }
    let mut failed = Vec::new();
    let mut delayed = false;
    for g in &recipients {
        match action(g) {
            Action::Failed => failed.push(recipient(g)),
            Action::Delayed => delayed = true,
            Action::Other => {}
        }
    }
    if !failed.is_empty() {
        return Some(Report::Failed { failed, sender });
    }
    Some(Report::NoFailure(if delayed {
        "a delay notice (Action: delayed): the message is still queued"
    } else {
        "a delivery notice (Action: delivered, relayed or expanded)"
    }))
}

fn is_recipient(g: &Group) -> bool {
    g.get("Final-Recipient").is_some() || g.get("Original-Recipient").is_some()
}

enum Action {
    Failed,
    Delayed,
    Other,
}

/// RFC 3464 §2.3.3. A missing or unknown action counts as failed when the status is 4.x.x or
/// 5.x.x (some reporters leave it out), and as nothing otherwise.
fn action(g: &Group) -> Action {
    let status = g.get("Status").unwrap_or("");
    match g.get("Action").map(|a| a.to_ascii_lowercase()) {
        Some(a) if a.starts_with("failed") => Action::Failed,
        Some(a) if a.starts_with("delayed") => Action::Delayed,
        Some(a)
            if ["delivered", "relayed", "expanded"]
                .iter()
                .any(|k| a.starts_with(k)) =>
        {
            Action::Other
        }
        _ if status.starts_with('5') || status.starts_with('4') => Action::Failed,
        _ => Action::Other,
    }
}

fn recipient(g: &Group) -> Failed {
    // RFC 3464 §2.3.1: Original-Recipient is the address as the sender gave it (ORCPT); it survives
    // forwarding and aliases, so it names the address the sender should stop mailing.
    let address = g
        .get("Original-Recipient")
        .map(fields::typed_value)
        .filter(|a| a.contains('@'))
        .or_else(|| g.get("Final-Recipient").map(fields::typed_value))
        .unwrap_or("");
    let diagnostic = g
        .get("Diagnostic-Code")
        .map(|d| fields::typed_value(d).to_owned());
    // Only Remote-MTA: the Reporting-MTA is usually the sender's own relay, not the receiver.
    let remote_mta = g.get("Remote-MTA").map(str::to_owned);
    Failed {
        recipient: address.to_owned(),
        status: g.get("Status").map(str::to_owned),
        diagnostic,
        remote_mta,
    }
}
