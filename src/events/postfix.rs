//! Postfix log lines → deliveries, deferrals and bounces, joining the queue manager's `from=` line
//! with the delivery agents' `status=` lines on the queue id (Postfix `qmgr(8)` and `smtp(8)` log
//! formats; docs/bounces.md, "Postfix log").
//!
//! ```text
//! postfix/qmgr[1203]: 4C2A1B3F: from=<bounces+x1@mail.shop.test>, size=2345, nrcpt=2 (queue active)
//! postfix/smtp[1204]: 4C2A1B3F: to=<b@example.net>, relay=mx.example.net[192.0.2.9]:25, delay=0.9, delays=0.05/0/0.4/0.45, dsn=5.1.1, status=bounced (host … said: 550 5.1.1 … User unknown)
//! postfix/qmgr[1203]: 4C2A1B3F: removed
//! ```
//!
//! A message that stays deferred until `maximal_queue_lifetime` runs out ends with one queue
//! manager line, `from=<…>, status=expired, returned to sender`, that names no recipient: the
//! recipients still deferred then (remembered from their `status=deferred` lines) each become an
//! `expired` bounce, with the last deferral's reply as the diagnostic.
//!
//! `from=<>` (bounces Postfix itself sends) and address probes are skipped. The key of each event is
//! the line's timestamp, queue id, recipient and status, so reading a log again counts nothing twice.

use std::collections::HashMap;

use super::classify::{Classifier, Evidence, find_status};
use super::model::{Bounce, Delivery, Reason, bounded_diagnostic, domain_of, normalize_address};
use super::provider::Provider;
use super::store::{Event, Recorded};

/// Queue entries kept at most (a log of a busy server never grows the map without bound).
const MAX_QUEUE: usize = 200_000;
/// How long a queue entry lives after its `removed` line (a delivery line can still follow).
const REMOVED_GRACE_SECS: i64 = 60;
/// Postfix's default `maximal_queue_lifetime` (5 days): older entries are dropped.
const QUEUE_TTL_SECS: i64 = 5 * 86_400;
/// Deferred recipients remembered per queue entry (a message to thousands of recipients keeps the
/// first ones; the rest of its expiry is not counted rather than held without bound).
const MAX_DEFERRED: usize = 100;

#[derive(Debug, Clone)]
struct Queued {
    sender_domain: Option<String>,
    seen: i64,
    removed: Option<i64>,
    /// Recipients whose latest line was `status=deferred`, in the order they were first deferred.
    deferred: Vec<Deferred>,
}

/// A recipient still waiting in the queue: what the last attempt said.
#[derive(Debug, Clone)]
struct Deferred {
    recipient: String,
    provider: Provider,
    relay_host: Option<String>,
    status: Option<String>,
    diagnostic: Option<String>,
}

/// The join state of one log stream.
#[derive(Debug, Default)]
pub struct Joiner {
    queue: HashMap<String, Queued>,
    inserted: u64,
}

/// The fields of a log line that matter, borrowed from the line.
struct Line<'a> {
    stamp: &'a str,
    program: &'a str,
    queue_id: &'a str,
    rest: &'a str,
}

/// `<timestamp> <host> postfix[/-suffix]/<program>[pid]: <queue id>: <rest>`; both the BSD syslog
/// and the RFC 3339 (`maillog_file`) timestamps, and any `syslog_name` that starts with `postfix`.
fn split(line: &str) -> Option<Line<'_>> {
    let marker = line.find(" postfix")?;
    let stamp = line[..marker]
        .rsplit_once(' ')
        .map_or(&line[..marker], |(s, _host)| s)
        .trim();
    let after = &line[marker + 1..];
    let (tag, rest) = after.split_once(": ")?;
    let program = tag.rsplit('/').next()?.split('[').next()?;
    let (queue_id, rest) = rest.split_once(": ")?;
    let valid_id =
        (5..=20).contains(&queue_id.len()) && queue_id.bytes().all(|b| b.is_ascii_alphanumeric());
    valid_id.then_some(Line {
        stamp,
        program,
        queue_id,
        rest,
    })
}

/// The reply text after `status=<status>`, without its parentheses.
fn reply_text<'a>(rest: &'a str, status: &str) -> &'a str {
    let text = rest
        .split_once(&format!("status={status}"))
        .map_or("", |(_, t)| t);
    text.trim().trim_start_matches('(').trim_end_matches(')')
}

/// The value of `name=` in a comma-separated field list (`to=<a@b>` → `a@b`).
fn field<'a>(rest: &'a str, name: &str) -> Option<&'a str> {
    let at = rest.find(&format!("{name}="))?;
    if at > 0 && !rest[..at].ends_with(' ') {
        return None;
    }
    let value = &rest[at + name.len() + 1..];
    let value = value.split([',', ' ']).next()?;
    Some(value.trim_start_matches('<').trim_end_matches('>'))
}

impl Joiner {
    /// An empty join state.
    pub fn new() -> Joiner {
        Joiner::default()
    }

    /// Entries held now (for tests and bounds).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Read one line; `now` is Unix seconds. Appends the events it completes to `out` (none, one,
    /// or one per deferred recipient when a message expires).
    pub fn line(&mut self, text: &str, now: i64, classifier: &Classifier, out: &mut Vec<Recorded>) {
        let Some(l) = split(text) else { return };
        match l.program {
            "qmgr" => {
                if field(l.rest, "status") == Some("expired") {
                    self.expired(&l, now, out);
                } else if let Some(from) = field(l.rest, "from") {
                    if from.is_empty() || from.to_ascii_lowercase().starts_with("double-bounce@") {
                        return;
                    }
                    self.inserted += 1;
                    // Sweep now and then (every 1024 senders), not on every line.
                    if self.inserted.is_multiple_of(1024) || self.queue.len() >= MAX_QUEUE {
                        self.expire(now);
                    }
                    // A message that comes back from the deferred queue is logged with `from=` again:
                    // keep what its earlier attempts left.
                    if let Some(q) = self.queue.get_mut(l.queue_id) {
                        q.seen = now;
                    } else if self.queue.len() < MAX_QUEUE {
                        self.queue.insert(
                            l.queue_id.to_owned(),
                            Queued {
                                sender_domain: domain_of(from),
                                seen: now,
                                removed: None,
                                deferred: Vec::new(),
                            },
                        );
                    }
                } else if l.rest.trim() == "removed"
                    && let Some(q) = self.queue.get_mut(l.queue_id)
                {
                    q.removed = Some(now);
                }
            }
            "smtp" | "lmtp" | "local" | "virtual" | "pipe" | "error" | "relay" => {
                out.extend(self.delivery(&l, now, classifier));
            }
            _ => {}
        }
    }

    /// `status=expired`: every recipient still deferred bounces with the reason `expired`.
    fn expired(&mut self, l: &Line<'_>, now: i64, out: &mut Vec<Recorded>) {
        let Some(q) = self.queue.get_mut(l.queue_id) else {
            return;
        };
        q.removed = Some(now);
        let sender_domain = q.sender_domain.clone();
        for d in std::mem::take(&mut q.deferred) {
            out.push(Recorded {
                key: Some(format!(
                    "postfix:{}:{}:{}:expired",
                    l.stamp, l.queue_id, d.recipient
                )),
                at: now,
                event: Event::Bounce(Bounce {
                    kind: Reason::Expired.default_type(),
                    reason: Reason::Expired,
                    recipient: d.recipient,
                    sender_domain: sender_domain.clone(),
                    status: d.status,
                    provider: d.provider,
                    remote_mta: d.relay_host,
                    diagnostic: d.diagnostic,
                }),
            });
        }
    }

    fn delivery(&mut self, l: &Line<'_>, now: i64, classifier: &Classifier) -> Option<Recorded> {
        let queued = self.queue.get_mut(l.queue_id)?;
        let recipient = normalize_address(field(l.rest, "to")?)?;
        let status = field(l.rest, "status")?;
        let sender_domain = queued.sender_domain.clone();
        let relay = field(l.rest, "relay").filter(|r| *r != "none");
        let relay_host = relay.map(|r| r.split('[').next().unwrap_or(r));
        let provider = Provider::of_recipient(&recipient, relay_host);
        let key = Some(format!(
            "postfix:{}:{}:{}:{}",
            l.stamp, l.queue_id, recipient, status
        ));
        // Only the latest attempt per recipient matters for an expiry.
        queued.deferred.retain(|d| d.recipient != recipient);
        if status == "deferred" && queued.deferred.len() < MAX_DEFERRED {
            let text = reply_text(l.rest, status);
            queued.deferred.push(Deferred {
                recipient: recipient.clone(),
                provider,
                relay_host: relay_host.map(str::to_ascii_lowercase),
                status: field(l.rest, "dsn")
                    .filter(|d| super::classify::is_status(d))
                    .map(str::to_owned),
                diagnostic: bounded_diagnostic(text),
            });
        }
        let event = match status {
            "sent" => Event::Delivery(Delivery {
                recipient,
                sender_domain,
                provider,
            }),
            "deferred" => Event::Deferral(Delivery {
                recipient,
                sender_domain,
                provider,
            }),
            "bounced" | "expired" => {
                let text = reply_text(l.rest, status);
                let diagnostic = bounded_diagnostic(text);
                let dsn = field(l.rest, "dsn").filter(|d| super::classify::is_status(d));
                let status_code = dsn.or_else(|| find_status(text)).map(str::to_owned);
                let c = classifier.classify(&Evidence {
                    status: status_code.as_deref(),
                    diagnostic: diagnostic.as_deref().unwrap_or(""),
                    provider,
                });
                Event::Bounce(Bounce {
                    recipient,
                    sender_domain,
                    status: status_code,
                    kind: c.kind,
                    reason: c.reason,
                    provider,
                    remote_mta: relay_host.map(str::to_ascii_lowercase),
                    diagnostic,
                })
            }
            _ => return None,
        };
        Some(Recorded {
            key,
            at: now,
            event,
        })
    }

    /// Drop entries removed more than a minute ago, and any older than the queue lifetime.
    fn expire(&mut self, now: i64) {
        self.queue.retain(|_, q| {
            q.removed.is_none_or(|r| now - r <= REMOVED_GRACE_SECS)
                && now - q.seen <= QUEUE_TTL_SECS
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
Dec  3 10:00:01 mx postfix/qmgr[1203]: 4C2A1B3F: from=<bounces+x1@mail.shop.test>, size=2345, nrcpt=3 (queue active)
Dec  3 10:00:02 mx postfix/smtp[1204]: 4C2A1B3F: to=<b@example.net>, relay=mx.example.net[192.0.2.9]:25, delay=0.9, delays=0.05/0/0.4/0.45, dsn=5.1.1, status=bounced (host mx.example.net[192.0.2.9] said: 550 5.1.1 <b@example.net>: Recipient address rejected: User unknown (in reply to RCPT TO command))
Dec  3 10:00:02 mx postfix/smtp[1204]: 4C2A1B3F: to=<ann@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.27.26]:25, delay=1, delays=0.05/0/0.4/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK)
Dec  3 10:00:03 mx postfix/smtp[1205]: 4C2A1B3F: to=<c@slow.example>, relay=none, delay=30, dsn=4.4.1, status=deferred (connect to mx.slow.example[192.0.2.44]:25: Connection timed out)
Dec  3 10:00:04 mx postfix/bounce[1206]: 4C2A1B3F: sender non-delivery notification: 6E4C3D5B
Dec  3 10:00:04 mx postfix/qmgr[1203]: 6E4C3D5B: from=<>, size=4000, nrcpt=1 (queue active)
Dec  3 10:00:05 mx postfix/smtp[1207]: 6E4C3D5B: to=<bounces+x1@mail.shop.test>, relay=local, delay=0.1, dsn=2.0.0, status=sent (delivered)
2026-12-03T10:00:06.123456+00:00 mx postfix-out/smtp[1208]: 9ABCDEF0123: to=<z@x.example>, relay=mx.x.example[192.0.2.1]:25, dsn=2.0.0, status=sent (250 ok)
Dec  3 10:00:07 mx postfix/smtpd[99]: NOQUEUE: reject: RCPT from unknown[192.0.2.66]: 554 5.7.1 <spam@x>: Relay access denied
";

    #[test]
    fn qmgr_senders_join_delivery_lines_and_own_bounces_are_skipped() {
        let mut j = Joiner::new();
        let c = Classifier::default();
        let mut events = Vec::new();
        for l in LOG.lines() {
            j.line(l, 1000, &c, &mut events);
        }
        assert_eq!(events.len(), 3, "{events:#?}");
        let Event::Bounce(b) = &events[0].event else {
            panic!("{:?}", events[0])
        };
        assert_eq!(
            (
                b.recipient.as_str(),
                b.sender_domain.as_deref(),
                b.status.as_deref(),
                b.reason
            ),
            (
                "b@example.net",
                Some("mail.shop.test"),
                Some("5.1.1"),
                Reason::UserUnknown
            )
        );
        assert_eq!(b.remote_mta.as_deref(), Some("mx.example.net"));
        let Event::Delivery(d) = &events[1].event else {
            panic!("{:?}", events[1])
        };
        assert_eq!(
            (d.recipient.as_str(), d.provider),
            ("ann@gmail.com", Provider::Gmail)
        );
        assert!(matches!(&events[2].event, Event::Deferral(d) if d.recipient == "c@slow.example"));
        assert_eq!(
            events[0].key.as_deref(),
            Some("postfix:Dec  3 10:00:02:4C2A1B3F:b@example.net:bounced")
        );
    }

    #[test]
    fn recipients_still_deferred_when_a_message_expires_bounce_as_expired() {
        const EXPIRY: &str = "\
Dec  1 09:00:00 mx postfix/qmgr[1203]: 7F1E2D3C: from=<news@mail.shop.test>, size=900, nrcpt=3 (queue active)
Dec  1 09:00:01 mx postfix/smtp[1204]: 7F1E2D3C: to=<a@slow.example>, relay=none, delay=1, dsn=4.4.1, status=deferred (connect to mx.slow.example[192.0.2.44]:25: Connection timed out)
Dec  1 09:00:01 mx postfix/smtp[1204]: 7F1E2D3C: to=<b@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.27.26]:25, delay=1, dsn=4.7.28, status=deferred (host gmail-smtp-in.l.google.com said: 421 4.7.28 rate limited)
Dec  1 09:00:02 mx postfix/smtp[1204]: 7F1E2D3C: to=<c@ok.example>, relay=mx.ok.example[192.0.2.8]:25, delay=1, dsn=2.0.0, status=sent (250 ok)
Dec  3 09:00:00 mx postfix/qmgr[1203]: 7F1E2D3C: from=<news@mail.shop.test>, size=900, nrcpt=3 (queue active)
Dec  3 09:00:01 mx postfix/smtp[1204]: 7F1E2D3C: to=<b@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.27.26]:25, delay=1, dsn=2.0.0, status=sent (250 2.0.0 OK)
Dec  6 09:00:00 mx postfix/qmgr[1203]: 7F1E2D3C: from=<news@mail.shop.test>, status=expired, returned to sender
Dec  6 09:00:00 mx postfix/qmgr[1203]: 7F1E2D3C: removed
";
        let mut j = Joiner::new();
        let c = Classifier::default();
        let mut events = Vec::new();
        for l in EXPIRY.lines() {
            j.line(l, 1000, &c, &mut events);
        }
        let bounces: Vec<&Bounce> = events
            .iter()
            .filter_map(|r| match &r.event {
                Event::Bounce(b) => Some(b),
                _ => None,
            })
            .collect();
        // b@gmail.com was delivered on the second try; only a@slow.example was still waiting.
        assert_eq!(bounces.len(), 1, "{events:#?}");
        let b = bounces[0];
        assert_eq!(
            (
                b.recipient.as_str(),
                b.sender_domain.as_deref(),
                b.reason,
                b.kind,
                b.status.as_deref()
            ),
            (
                "a@slow.example",
                Some("mail.shop.test"),
                Reason::Expired,
                crate::events::model::BounceType::Soft,
                Some("4.4.1")
            )
        );
        assert!(
            b.diagnostic
                .as_deref()
                .is_some_and(|d| d.contains("Connection timed out")),
            "{b:?}"
        );
        let expired = events
            .iter()
            .find(|r| matches!(r.event, Event::Bounce(_)))
            .and_then(|r| r.key.as_deref());
        assert_eq!(
            expired,
            Some("postfix:Dec  6 09:00:00:7F1E2D3C:a@slow.example:expired")
        );
        // Read again, the same lines give the same keys (the store counts them once).
        let mut again = Vec::new();
        let mut j2 = Joiner::new();
        for l in EXPIRY.lines() {
            j2.line(l, 1000, &c, &mut again);
        }
        let keys = |v: &[Recorded]| v.iter().map(|r| r.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&events), keys(&again));
    }
}
