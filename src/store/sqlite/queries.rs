//! The SQL behind [`SqliteStore`](super::SqliteStore)'s methods: one function per operation, each
//! run on the writer's transaction (writes) or a reader's connection (reads).

use rusqlite::{Connection, OptionalExtension, params};

use super::db;
use crate::store::*;

fn stored_check(row: &rusqlite::Row<'_>) -> rusqlite::Result<(StoredCheckRow, String, String)> {
    Ok((
        StoredCheckRow {
            target: row.get(0)?,
            check: row.get(1)?,
            status: row.get(2)?,
            record: row.get(3)?,
            since: row.get(5)?,
            checked_at: row.get(6)?,
            duration_ms: row.get(7)?,
        },
        row.get(4)?,
        row.get(8)?,
    ))
}

struct StoredCheckRow {
    target: String,
    check: String,
    status: String,
    record: Option<String>,
    since: i64,
    checked_at: i64,
    duration_ms: i64,
}

impl StoredCheckRow {
    /// The typed result; `None` for a row this binary cannot name (a check or target written by
    /// another version), which is skipped with a warning rather than failing every read.
    fn finish(
        self,
        findings_json: &str,
        facts_json: &str,
    ) -> Result<Option<StoredCheck>, StoreError> {
        let (Ok(check), Ok(target)) =
            (self.check.parse::<CheckId>(), self.target.parse::<Target>())
        else {
            tracing::warn!(
                target = self.target,
                check = self.check,
                "skipping a stored result this version cannot read"
            );
            return Ok(None);
        };
        let malformed = |what: &str, e: serde_json::Error| {
            StoreError::Malformed(format!("{what} of {} {}: {e}", self.target, self.check))
        };
        let findings: Vec<StoredFinding> =
            serde_json::from_str(findings_json).map_err(|e| malformed("findings", e))?;
        let facts =
            CheckFacts::from_stored(check, facts_json).map_err(|e| malformed("facts", e))?;
        let status = serde_json::from_value(serde_json::Value::String(self.status.clone()))
            .map_err(|e| malformed("status", e))?;
        Ok(Some(StoredCheck {
            status,
            target,
            check,
            record: self.record,
            findings,
            checked_at: self.checked_at,
            since: self.since,
            duration_ms: u64::try_from(self.duration_ms).unwrap_or(0),
            facts,
        }))
    }
}

pub(super) fn save_results(
    conn: &Connection,
    results: Vec<CheckResult>,
) -> Result<Vec<StoredCheck>, StoreError> {
    let mut latest = conn
        .prepare_cached(
            "SELECT c.status, c.record, c.findings, c.facts, c.first_checked_at, c.last_checked_at FROM check_latest l \
             JOIN check_results c ON c.target = l.target AND c.check_name = l.check_name \
             AND c.first_checked_at = l.first_checked_at WHERE l.target = ?1 AND l.check_name = ?2",
        )
        .map_err(db("preparing a check lookup"))?;
    // The pointer to the latest span moves only forward in time (a result written late, with an older
    // `checked_at`, leaves it where it is).
    let mut point = conn
        .prepare_cached(
            "INSERT INTO check_latest (target, check_name, first_checked_at, last_checked_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (target, check_name) DO UPDATE SET \
             first_checked_at = excluded.first_checked_at, last_checked_at = excluded.last_checked_at \
             WHERE excluded.last_checked_at >= check_latest.last_checked_at",
        )
        .map_err(db("preparing the latest-span pointer"))?;
    let mut stored = Vec::with_capacity(results.len());
    for CheckResult { report: r, facts } in results {
        let target: Target = r
            .target
            .parse()
            .map_err(|e| StoreError::Malformed(format!("storing a result: {e}")))?;
        let findings = serde_json::to_string(&r.findings)
            .map_err(|e| StoreError::Malformed(format!("serializing findings: {e}")))?;
        let facts_json = serde_json::to_string(&facts)
            .map_err(|e| StoreError::Malformed(format!("serializing facts: {e}")))?;
        let duration_ms = i64::try_from(r.duration.as_millis()).unwrap_or(i64::MAX);
        let check = r.check.as_str();
        let previous: Option<(String, Option<String>, String, String, i64, i64)> = latest
            .query_row(params![r.target, check], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })
            .optional()
            .map_err(db("reading the latest check result"))?;
        let (since, last) = match previous {
            Some((status, record, old_findings, old_facts, first, last))
                if status == r.status.as_str()
                    && record == r.record
                    && old_findings == findings
                    && old_facts == facts_json =>
            {
                conn.execute(
                    "UPDATE check_results SET last_checked_at = MAX(last_checked_at, ?1), duration_ms = ?2 \
                     WHERE target = ?3 AND check_name = ?4 AND first_checked_at = ?5",
                    params![r.checked_at, duration_ms, r.target, check, first],
                )
                .map_err(db("extending a check result"))?;
                (first, last.max(r.checked_at))
            }
            _ => {
                conn.execute(
                    "INSERT INTO check_results (target, check_name, status, record, findings, facts, \
                     first_checked_at, last_checked_at, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8) \
                     ON CONFLICT (target, check_name, first_checked_at) DO UPDATE SET status = excluded.status, \
                     record = excluded.record, findings = excluded.findings, facts = excluded.facts, \
                     last_checked_at = excluded.last_checked_at, duration_ms = excluded.duration_ms",
                    params![r.target, check, r.status.as_str(), r.record, findings, facts_json, r.checked_at, duration_ms],
                )
                .map_err(db("storing a check result"))?;
                (r.checked_at, r.checked_at)
            }
        };
        point
            .execute(params![r.target, check, since, last])
            .map_err(db("pointing at the latest span"))?;
        stored.push(StoredCheck {
            target,
            check: r.check,
            status: r.status,
            findings: r.findings.iter().map(StoredFinding::from).collect(),
            record: r.record,
            checked_at: r.checked_at,
            since,
            duration_ms: u64::try_from(duration_ms).unwrap_or(0),
            facts,
        });
    }
    Ok(stored)
}

pub(super) fn latest_checks(
    conn: &Connection,
    target: Option<&str>,
) -> Result<Vec<StoredCheck>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            // One row per (target, check) through the latest-span pointers, whatever the history
            // behind them (the start-up restore and every status request read this).
            "SELECT c.target, c.check_name, c.status, c.record, c.findings, c.first_checked_at, \
             c.last_checked_at, c.duration_ms, c.facts FROM check_latest l \
             JOIN check_results c ON c.target = l.target AND c.check_name = l.check_name \
             AND c.first_checked_at = l.first_checked_at \
             WHERE (?1 IS NULL OR l.target = ?1) ORDER BY l.target, l.check_name",
        )
        .map_err(db("preparing the latest-checks query"))?;
    let rows = stmt
        .query_map(params![target], stored_check)
        .map_err(db("reading the latest checks"))?;
    let mut out: Vec<StoredCheck> = Vec::new();
    for row in rows {
        let (row, findings, facts) = row.map_err(db("reading a check result"))?;
        out.extend(row.finish(&findings, &facts)?);
    }
    Ok(out)
}

pub(super) fn check_history(
    conn: &Connection,
    target: &str,
    check: CheckId,
    limit: usize,
) -> Result<Vec<StoredCheck>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT target, check_name, status, record, findings, first_checked_at, last_checked_at, \
             duration_ms, facts FROM check_results WHERE target = ?1 AND check_name = ?2 \
             ORDER BY last_checked_at DESC, first_checked_at DESC LIMIT ?3",
        )
        .map_err(db("preparing the check history query"))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![target, check.as_str(), limit], stored_check)
        .map_err(db("reading check history"))?;
    let mut out = Vec::new();
    for row in rows {
        let (row, findings, facts) = row.map_err(db("reading a check result"))?;
        out.extend(row.finish(&findings, &facts)?);
    }
    Ok(out)
}

/// A change of `o`'s record from `old` (value, first seen, last seen) to `new_value` at `changed_at`.
fn change(
    o: &RecordObservation,
    (old_value, old_first_seen, old_last_seen): (String, i64, i64),
    new_value: String,
    changed_at: i64,
) -> RecordChange {
    RecordChange {
        target: o.target.clone(),
        check: o.check,
        name: o.name.clone(),
        old_value,
        old_first_seen,
        old_last_seen,
        new_value,
        changed_at,
    }
}

pub(super) fn observe_records(
    conn: &Connection,
    seen: &[RecordObservation],
    changed_since: i64,
) -> Result<Vec<RecordChange>, StoreError> {
    let mut latest = conn
        .prepare_cached(
            "SELECT value, first_seen, last_seen FROM record_history WHERE target = ?1 AND check_name = ?2 \
             AND name = ?3 ORDER BY last_seen DESC, first_seen DESC LIMIT 1",
        )
        .map_err(db("preparing a record lookup"))?;
    let mut before = conn
        .prepare_cached(
            "SELECT value, first_seen, last_seen FROM record_history WHERE target = ?1 AND check_name = ?2 \
             AND name = ?3 AND first_seen < ?4 ORDER BY first_seen DESC LIMIT 1",
        )
        .map_err(db("preparing a previous-record lookup"))?;
    let mut changes = Vec::new();
    for o in seen {
        let previous: Option<(String, i64, i64)> = latest
            .query_row(params![o.target, o.check.as_str(), o.name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(db("reading the previous record value"))?;
        match previous {
            Some((value, first, _)) if value == o.value => {
                conn.execute(
                    "UPDATE record_history SET last_seen = MAX(last_seen, ?1) WHERE target = ?2 \
                     AND check_name = ?3 AND name = ?4 AND first_seen = ?5",
                    params![o.seen_at, o.target, o.check.as_str(), o.name, first],
                )
                .map_err(db("extending a record value"))?;
                // The value is unchanged now; it may still have taken over recently.
                if first < changed_since {
                    continue;
                }
                let older: Option<(String, i64, i64)> = before
                    .query_row(params![o.target, o.check.as_str(), o.name, first], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()
                    .map_err(db("reading the value before the current one"))?;
                if let Some(old) = older {
                    changes.push(change(o, old, value, first));
                }
            }
            previous => {
                conn.execute(
                    "INSERT INTO record_history (target, check_name, name, value, first_seen, last_seen) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (target, check_name, name, first_seen) \
                     DO UPDATE SET value = excluded.value, last_seen = excluded.last_seen",
                    params![o.target, o.check.as_str(), o.name, o.value, o.seen_at],
                )
                .map_err(db("storing a record value"))?;
                if let Some(old) = previous {
                    changes.push(change(o, old, o.value.clone(), o.seen_at));
                }
            }
        }
    }
    Ok(changes)
}

pub(super) fn period(row: &rusqlite::Row<'_>) -> rusqlite::Result<(ListingPeriod, String)> {
    Ok((
        ListingPeriod {
            target: row.get(0)?,
            zone: row.get(1)?,
            codes: Vec::new(),
            reason: row.get(3)?,
            listed_since: row.get(4)?,
            last_seen: row.get(5)?,
            delisted_at: row.get(6)?,
        },
        row.get(2)?,
    ))
}

pub(super) fn with_codes(
    (mut p, codes): (ListingPeriod, String),
) -> Result<ListingPeriod, StoreError> {
    p.codes = serde_json::from_str(&codes).map_err(|e| {
        StoreError::Malformed(format!("listing codes of {} on {}: {e}", p.target, p.zone))
    })?;
    Ok(p)
}

pub(super) const PERIOD_COLUMNS: &str =
    "target, zone, codes, reason, listed_since, last_seen, delisted_at";

pub(super) fn observe_listings(
    conn: &Connection,
    seen: &[ListingObservation],
) -> Result<Vec<ListingUpdate>, StoreError> {
    let mut open = conn
        .prepare_cached(&format!(
            "SELECT {PERIOD_COLUMNS} FROM blocklist_listings WHERE target = ?1 AND zone = ?2 \
             AND delisted_at IS NULL ORDER BY listed_since DESC LIMIT 1"
        ))
        .map_err(db("preparing a listing lookup"))?;
    let mut out = Vec::with_capacity(seen.len());
    for o in seen {
        let current = open
            .query_row(params![o.target, o.zone], period)
            .optional()
            .map_err(db("reading an open listing"))?
            .map(with_codes)
            .transpose()?;
        let update = match (current, &o.listed) {
            (None, None) => ListingUpdate {
                transition: ListingTransition::Unchanged,
                period: None,
            },
            (None, Some(l)) => {
                let codes = serde_json::to_string(&l.codes)
                    .map_err(|e| StoreError::Malformed(e.to_string()))?;
                conn.execute(
                    "INSERT INTO blocklist_listings (target, zone, codes, reason, listed_since, last_seen) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (target, zone, listed_since) DO UPDATE SET \
                     codes = excluded.codes, reason = excluded.reason, last_seen = excluded.last_seen, delisted_at = NULL",
                    params![o.target, o.zone, codes, l.reason, o.at],
                )
                .map_err(db("opening a listing period"))?;
                ListingUpdate {
                    transition: ListingTransition::Started,
                    period: Some(ListingPeriod {
                        target: o.target.clone(),
                        zone: o.zone.clone(),
                        codes: l.codes.clone(),
                        reason: l.reason.clone(),
                        listed_since: o.at,
                        last_seen: o.at,
                        delisted_at: None,
                    }),
                }
            }
            (Some(mut p), Some(l)) => {
                let codes = serde_json::to_string(&l.codes)
                    .map_err(|e| StoreError::Malformed(e.to_string()))?;
                conn.execute(
                    "UPDATE blocklist_listings SET codes = ?1, reason = ?2, last_seen = MAX(last_seen, ?3) \
                     WHERE target = ?4 AND zone = ?5 AND listed_since = ?6",
                    params![codes, l.reason, o.at, o.target, o.zone, p.listed_since],
                )
                .map_err(db("extending a listing period"))?;
                p.codes = l.codes.clone();
                p.reason = l.reason.clone();
                p.last_seen = p.last_seen.max(o.at);
                ListingUpdate {
                    transition: ListingTransition::Unchanged,
                    period: Some(p),
                }
            }
            (Some(mut p), None) => {
                conn.execute(
                    "UPDATE blocklist_listings SET delisted_at = ?1 WHERE target = ?2 AND zone = ?3 AND listed_since = ?4",
                    params![o.at, o.target, o.zone, p.listed_since],
                )
                .map_err(db("closing a listing period"))?;
                p.delisted_at = Some(o.at);
                ListingUpdate {
                    transition: ListingTransition::Ended,
                    period: Some(p),
                }
            }
        };
        out.push(update);
    }
    Ok(out)
}

pub(super) fn prune(conn: &Connection, before: i64) -> Result<PruneReport, StoreError> {
    let statements: [(&'static str, &str); 3] = [
        (
            "check_results",
            "DELETE FROM check_results WHERE last_checked_at < ?1",
        ),
        (
            "record_history",
            "DELETE FROM record_history WHERE last_seen < ?1",
        ),
        (
            "blocklist_listings",
            "DELETE FROM blocklist_listings WHERE COALESCE(delisted_at, last_seen) < ?1",
        ),
    ];
    let mut report = PruneReport::new();
    for (table, sql) in statements {
        let n = conn
            .execute(sql, params![before])
            .map_err(db("pruning old history"))?;
        report.insert(table, n as u64);
    }
    // A pointer whose span was pruned points at nothing.
    conn.execute(
        "DELETE FROM check_latest WHERE last_checked_at < ?1",
        params![before],
    )
    .map_err(db("pruning old history"))?;
    Ok(report)
}
