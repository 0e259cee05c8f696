//! What the alert rules read from the ingest tables (docs/alerts.md), one statement per rule and
//! round, each on an index: `aggregate_records (domain, end_at)`, `aggregate_reports (domain,
//! end_at)`, `ingest_failures (at)`. Domains are passed as one JSON array (`json_each`), so a
//! statement is the same whatever the number of domains. Only `complete` reports count (a report
//! still loading is not yet a report, src/ingest/store.rs).
//!
//! And the one write the rules need from the ingest path: a refused input, in `ingest_failures`.

use rusqlite::{Connection, params};

use super::IngestStore;

/// The longest refusal message kept.
const ERROR_KEPT: usize = 500;

fn domains_json(domains: &[&str]) -> String {
    serde_json::to_string(domains).unwrap_or_else(|_| "[]".into())
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Reported messages of one policy domain in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DmarcVolume {
    /// Every message.
    pub messages: u64,
    /// Messages with neither DKIM nor SPF aligned-pass: DMARC failed (RFC 7489 §6.6.2).
    pub failing: u64,
    /// Distinct reports they came in.
    pub reports: u64,
}

/// Messages per domain in the reports whose interval ended after `since` (Unix seconds). Domains
/// without any are absent.
pub fn dmarc_volumes(
    conn: &Connection,
    domains: &[&str],
    since: i64,
) -> rusqlite::Result<Vec<(String, DmarcVolume)>> {
    let mut s = conn.prepare_cached(
        "SELECT r.domain, SUM(r.count),
                SUM(CASE WHEN r.dkim_aligned <> 'pass' AND r.spf_aligned <> 'pass' THEN r.count ELSE 0 END),
                COUNT(DISTINCT r.report_uid)
         FROM aggregate_records r
         WHERE r.domain IN (SELECT value FROM json_each(?1)) AND r.end_at > ?2
           AND EXISTS (SELECT 1 FROM aggregate_reports p
                       WHERE p.report_uid = r.report_uid AND p.state = 'complete')
         GROUP BY r.domain",
    )?;
    let rows = s.query_map(params![domains_json(domains), since], |r| {
        Ok((
            r.get::<_, String>(0)?,
            DmarcVolume {
                messages: count(r.get(1)?),
                failing: count(r.get(2)?),
                reports: count(r.get(3)?),
            },
        ))
    })?;
    rows.collect()
}

/// Per domain, the sources whose DMARC-failing messages in the reports ending after `since` number
/// more than `above`, most first, at most `per_domain` of them.
pub fn failing_sources(
    conn: &Connection,
    domains: &[&str],
    since: i64,
    above: u64,
    per_domain: u32,
) -> rusqlite::Result<Vec<(String, String, u64)>> {
    let mut s = conn.prepare_cached(
        "SELECT domain, source_ip, n FROM (
           SELECT r.domain, r.source_ip, SUM(r.count) AS n,
                  ROW_NUMBER() OVER (PARTITION BY r.domain ORDER BY SUM(r.count) DESC, r.source_ip) AS rank
           FROM aggregate_records r
           WHERE r.domain IN (SELECT value FROM json_each(?1)) AND r.end_at > ?2
             AND r.dkim_aligned <> 'pass' AND r.spf_aligned <> 'pass'
             AND EXISTS (SELECT 1 FROM aggregate_reports p
                         WHERE p.report_uid = r.report_uid AND p.state = 'complete')
           GROUP BY r.domain, r.source_ip
           HAVING SUM(r.count) > ?3)
         WHERE rank <= ?4
         ORDER BY domain, n DESC, source_ip",
    )?;
    let above = i64::try_from(above).unwrap_or(i64::MAX);
    let rows = s.query_map(
        params![domains_json(domains), since, above, per_domain],
        |r| Ok((r.get(0)?, r.get(1)?, count(r.get(2)?))),
    )?;
    rows.collect()
}

/// Per domain: the latest end of a complete report's interval, and the number of complete reports
/// counted up to `count_to` (enough for a volume gate, without counting a year of reports).
pub fn report_history(
    conn: &Connection,
    domains: &[&str],
    count_to: u64,
) -> rusqlite::Result<Vec<(String, Option<i64>, u64)>> {
    let mut s = conn.prepare_cached(
        "SELECT d.value,
                (SELECT end_at FROM aggregate_reports
                 WHERE domain = d.value AND state = 'complete' ORDER BY end_at DESC LIMIT 1),
                (SELECT COUNT(*) FROM (SELECT 1 FROM aggregate_reports
                 WHERE domain = d.value AND state = 'complete' LIMIT ?2))
         FROM json_each(?1) d",
    )?;
    let cap = i64::try_from(count_to).unwrap_or(i64::MAX);
    let rows = s.query_map(params![domains_json(domains), cap], |r| {
        Ok((r.get(0)?, r.get(1)?, count(r.get(2)?)))
    })?;
    rows.collect()
}

/// Refusals since `since` (Unix seconds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureCounts {
    /// Per refusal code, most first.
    pub by_reason: Vec<(String, u64)>,
    /// The latest refusal's message.
    pub last_error: Option<String>,
}

/// The refusals recorded after `since`.
pub fn ingest_failures(conn: &Connection, since: i64) -> rusqlite::Result<FailureCounts> {
    let mut s = conn.prepare_cached(
        "SELECT reason, COUNT(*),
                (SELECT error FROM ingest_failures WHERE at > ?1 ORDER BY at DESC, rowid DESC LIMIT 1)
         FROM ingest_failures WHERE at > ?1
         GROUP BY reason ORDER BY COUNT(*) DESC, reason",
    )?;
    let mut out = FailureCounts::default();
    let mut rows = s.query(params![since])?;
    while let Some(r) = rows.next()? {
        out.by_reason.push((r.get(0)?, count(r.get(1)?)));
        out.last_error = r.get(2)?;
    }
    Ok(out)
}

impl IngestStore {
    /// Record that an input was refused (`kind` as far as it was recognised, `reason` the refusal's
    /// code, `error` its message), at `at` (Unix seconds).
    pub fn record_failure(
        &mut self,
        at: i64,
        kind: &str,
        reason: &str,
        error: &str,
    ) -> rusqlite::Result<()> {
        // A write that failed half-way may have left its transaction open (see `begin_tx`).
        if !self.conn.is_autocommit() {
            self.rollback();
        }
        record_failure_on(&self.conn, at, kind, reason, error)
    }
}

/// Write one refusal into `ingest_failures` on any connection to the state database (the events
/// API and the webhooks record the bodies they refuse on their own).
pub(crate) fn record_failure_on(
    conn: &Connection,
    at: i64,
    kind: &str,
    reason: &str,
    error: &str,
) -> rusqlite::Result<()> {
    let kept: String = error.chars().take(ERROR_KEPT).collect();
    conn.execute(
        "INSERT INTO ingest_failures (at, kind, reason, error) VALUES (?1, ?2, ?3, ?4)",
        params![at, kind, reason, kept],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{Limits, ingest};

    fn report(id: &str, domain: &str, end: i64, rows: &[(&str, u64, &str, &str)]) -> String {
        let mut xml = format!(
            "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>r.example</org_name>\
             <email>d@r.example</email><report_id>{id}</report_id><date_range><begin>{}</begin>\
             <end>{end}</end></date_range></report_metadata><policy_published><domain>{domain}</domain>\
             <p>none</p></policy_published>",
            end - 86_400
        );
        for (ip, n, dkim, spf) in rows {
            xml += &format!(
                "<record><row><source_ip>{ip}</source_ip><count>{n}</count><policy_evaluated>\
                 <disposition>none</disposition><dkim>{dkim}</dkim><spf>{spf}</spf></policy_evaluated>\
                 </row><identifiers><header_from>{domain}</header_from></identifiers><auth_results>\
                 <spf><domain>{domain}</domain><result>{spf}</result></spf></auth_results></record>"
            );
        }
        xml + "</feedback>"
    }

    fn store(dir: &std::path::Path) -> (IngestStore, Connection) {
        let path = dir.join("state.db");
        let s = IngestStore::open(&path).unwrap();
        (s, Connection::open(&path).unwrap())
    }

    #[test]
    fn volumes_sources_and_history_come_from_complete_reports_in_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, conn) = store(dir.path());
        let now = 1_800_000_000;
        let recent = report(
            "a",
            "shop.example",
            now - 3600,
            &[
                ("192.0.2.10", 900, "pass", "pass"),
                ("203.0.113.5", 80, "fail", "fail"),
                ("203.0.113.6", 20, "fail", "pass"),
            ],
        );
        let old = report(
            "b",
            "shop.example",
            now - 5 * 86_400,
            &[("203.0.113.5", 1000, "fail", "fail")],
        );
        for xml in [&recent, &old] {
            let o = ingest(&mut xml.as_bytes(), &Limits::default(), &mut s);
            assert!(o.errors.is_empty(), "{:?}", o.errors);
        }
        let since = now - 48 * 3600;
        let v = dmarc_volumes(&conn, &["shop.example", "none.example"], since).unwrap();
        assert_eq!(
            v,
            [(
                "shop.example".to_owned(),
                DmarcVolume {
                    messages: 1000,
                    failing: 80,
                    reports: 1
                }
            )]
        );
        let src = failing_sources(&conn, &["shop.example"], since, 50, 10).unwrap();
        assert_eq!(
            src,
            [("shop.example".into(), "203.0.113.5".into(), 80)],
            "aligned SPF passes DMARC; 1,000 old messages are outside the window"
        );
        let wide = failing_sources(&conn, &["shop.example"], 0, 50, 10).unwrap();
        assert_eq!(wide[0].2, 1080);
        let h = report_history(&conn, &["shop.example", "none.example"], 1).unwrap();
        assert_eq!(
            h,
            [
                ("shop.example".into(), Some(now - 3600), 1),
                ("none.example".into(), None, 0)
            ]
        );
    }

    #[test]
    fn refusals_are_counted_by_reason_with_the_latest_message() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, conn) = store(dir.path());
        s.record_failure(100, "unknown", "not_a_report", "no report found")
            .unwrap();
        s.record_failure(200, "dmarc_aggregate", "xml_syntax", "bad XML at 1:5")
            .unwrap();
        s.record_failure(300, "unknown", "not_a_report", "still nothing")
            .unwrap();
        let f = ingest_failures(&conn, 150).unwrap();
        assert_eq!(
            f.by_reason,
            [("not_a_report".into(), 1), ("xml_syntax".into(), 1)]
        );
        assert_eq!(f.last_error.as_deref(), Some("still nothing"));
        assert_eq!(
            ingest_failures(&conn, 300).unwrap(),
            FailureCounts::default()
        );
    }
}
