//! The suppression list: recipients the sending application should stop mailing (docs/bounces.md,
//! "Suppressions"). An address goes on it after a hard bounce, after `soft_bounces` soft bounces of a
//! recipient-side reason within `soft_within` (a delivery in between starts the count again), or
//! after a complaint; it leaves when removed through the API.
//!
//! Soft bounces that are the sender's problem (blocks, authentication, rate limits, content) say
//! nothing about the address and never count towards suppression.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{BounceType, Reason};
use super::store::{Event, Recorded, Suppression};
use crate::store::StoreError;

/// When soft bounces suppress an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuppressionPolicy {
    /// Soft bounces (of a recipient-side reason) that suppress; 0 turns the rule off.
    pub soft_bounces: u32,
    /// Within this span.
    pub soft_within: Duration,
}

impl Default for SuppressionPolicy {
    /// Three soft bounces within 7 days.
    fn default() -> Self {
        SuppressionPolicy {
            soft_bounces: 3,
            soft_within: Duration::from_secs(7 * 86_400),
        }
    }
}

/// Why an address is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The address or its domain does not exist.
    HardBounce,
    /// Repeated soft bounces about the recipient.
    SoftBounces,
    /// The recipient complained.
    Complaint,
}

impl Cause {
    /// The stored and exported name.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::HardBounce => "hard_bounce",
            Cause::SoftBounces => "soft_bounces",
            Cause::Complaint => "complaint",
        }
    }
}

/// Soft reasons that say something about the recipient (full, suspended, gone, never reachable).
fn about_the_recipient(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::MailboxFull | Reason::UserUnknown | Reason::DomainNotFound | Reason::Expired
    )
}

fn db(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::db(context, e)
}

/// Update the list for one counted event (inside the batch's transaction or savepoint).
pub(crate) fn apply(
    tx: &Connection,
    r: &Recorded,
    policy: &SuppressionPolicy,
) -> Result<(), StoreError> {
    match &r.event {
        Event::Delivery(d) => {
            tx.prepare_cached("DELETE FROM suppression_soft_bounces WHERE address = ?1")
                .and_then(|mut s| s.execute(params![d.recipient]))
                .map_err(db("clearing soft bounces after a delivery"))?;
        }
        Event::Deferral(_) => {}
        Event::Complaint(c) => {
            if let Some(address) = &c.recipient {
                let domain = c.sender_domain.as_deref().unwrap_or("");
                let detail = format!("feedback report ({})", c.feedback_type);
                put(
                    tx,
                    address,
                    Cause::Complaint,
                    &c.feedback_type,
                    domain,
                    &detail,
                    r.at,
                )?;
            }
        }
        Event::Bounce(b) => {
            let domain = b.sender_domain.as_deref().unwrap_or("");
            let detail = b.diagnostic.as_deref().unwrap_or("");
            if b.kind == BounceType::Hard {
                put(
                    tx,
                    &b.recipient,
                    Cause::HardBounce,
                    b.reason.as_str(),
                    domain,
                    detail,
                    r.at,
                )?;
            } else if policy.soft_bounces > 0 && about_the_recipient(b.reason) {
                tx.prepare_cached(
                    "INSERT INTO suppression_soft_bounces (address, at) VALUES (?1, ?2)",
                )
                .and_then(|mut s| s.execute(params![b.recipient, r.at]))
                .map_err(db("recording a soft bounce"))?;
                let floor = r.at - policy.soft_within.as_secs() as i64;
                tx.prepare_cached(
                    "DELETE FROM suppression_soft_bounces WHERE address = ?1 AND at < ?2",
                )
                .and_then(|mut s| s.execute(params![b.recipient, floor]))
                .map_err(db("forgetting old soft bounces"))?;
                let recent: i64 = tx
                    .prepare_cached(
                        "SELECT COUNT(*) FROM suppression_soft_bounces WHERE address = ?1 AND at >= ?2",
                    )
                    .and_then(|mut s| s.query_row(params![b.recipient, floor], |row| row.get(0)))
                    .map_err(db("counting soft bounces"))?;
                if recent >= i64::from(policy.soft_bounces) {
                    put(
                        tx,
                        &b.recipient,
                        Cause::SoftBounces,
                        b.reason.as_str(),
                        domain,
                        detail,
                        r.at,
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// Insert or refresh an entry: `since` stays the first time, the rest describes the last event.
fn put(
    tx: &Connection,
    address: &str,
    cause: Cause,
    reason: &str,
    domain: &str,
    detail: &str,
    at: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO suppressions (address, cause, reason, sender_domain, detail, since, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) \
         ON CONFLICT (address) DO UPDATE SET cause = excluded.cause, reason = excluded.reason, \
         sender_domain = excluded.sender_domain, detail = excluded.detail, updated_at = excluded.updated_at",
    )
    .and_then(|mut s| s.execute(params![address, cause.as_str(), reason, domain, detail, at]))
    .map_err(db("suppressing an address"))?;
    Ok(())
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Suppression> {
    Ok(Suppression {
        address: r.get(0)?,
        cause: r.get(1)?,
        reason: r.get(2)?,
        sender_domain: r.get(3)?,
        detail: r.get(4)?,
        since: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

const COLUMNS: &str = "address, cause, reason, sender_domain, detail, since, updated_at";

pub(crate) fn list(conn: &Connection) -> Result<Vec<Suppression>, StoreError> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM suppressions ORDER BY since, address"
        ))
        .map_err(db("reading suppressions"))?;
    let rows = s.query_map([], row).map_err(db("reading suppressions"))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(db("reading suppressions"))
}

pub(crate) fn get(conn: &Connection, address: &str) -> Result<Option<Suppression>, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM suppressions WHERE address = ?1"),
        params![address.to_lowercase()],
        row,
    )
    .optional()
    .map_err(db("reading a suppression"))
}

pub(crate) fn remove(conn: &mut Connection, address: &str) -> Result<bool, StoreError> {
    let address = address.to_lowercase();
    let _turn = crate::store::gate::enter(std::time::Duration::from_secs(5));
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("removing a suppression"))?;
    let removed = tx
        .execute(
            "DELETE FROM suppressions WHERE address = ?1",
            params![address],
        )
        .map_err(db("removing a suppression"))?;
    tx.execute(
        "DELETE FROM suppression_soft_bounces WHERE address = ?1",
        params![address],
    )
    .map_err(db("removing a suppression"))?;
    tx.commit().map_err(db("removing a suppression"))?;
    Ok(removed > 0)
}

/// CSV of the list (RFC 4180: fields with a comma, quote or line break are quoted).
pub fn to_csv(list: &[Suppression]) -> String {
    let mut out = String::from("address,cause,reason,sender_domain,since,updated_at,detail\r\n");
    for s in list {
        let fields = [
            s.address.clone(),
            s.cause.clone(),
            s.reason.clone(),
            s.sender_domain.clone(),
            rfc3339(s.since),
            rfc3339(s.updated_at),
            s.detail.clone(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_field(f: &str) -> String {
    // A leading = + - @ would be a formula in a spreadsheet (CSV injection): quote and prefix.
    let risky = f.starts_with(['=', '+', '-', '@']);
    if risky || f.contains([',', '"', '\r', '\n']) {
        let prefix = if risky { "'" } else { "" };
        format!("\"{prefix}{}\"", f.replace('"', "\"\""))
    } else {
        f.to_owned()
    }
}

/// A Unix time as RFC 3339 UTC.
pub fn rfc3339(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
