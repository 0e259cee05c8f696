//! The alert engine's table, `alert_instances`: read whole at start, written per change.

use rusqlite::{Connection, params};

use super::db;
use crate::store::{StoreError, StoredAlert};

/// Every stored alert.
pub(super) fn load(c: &Connection) -> Result<Vec<StoredAlert>, StoreError> {
    let mut stmt = c
        .prepare(
            "SELECT alert_key, phase, updated_at, record FROM alert_instances ORDER BY alert_key",
        )
        .map_err(db("preparing the alerts query"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .map_err(db("reading alerts"))?;
    let mut out = Vec::new();
    for row in rows {
        let (key, phase, updated_at, record) = row.map_err(db("reading an alert"))?;
        let record = serde_json::from_str(&record)
            .map_err(|e| StoreError::Malformed(format!("alert {key}: {e}")))?;
        out.push(StoredAlert {
            key,
            phase,
            updated_at,
            record,
        });
    }
    Ok(out)
}

/// Upsert `upserts`, delete `removed`.
pub(super) fn save(
    c: &Connection,
    upserts: &[StoredAlert],
    removed: &[String],
) -> Result<(), StoreError> {
    let mut put = c
        .prepare_cached(
            "INSERT INTO alert_instances (alert_key, phase, updated_at, record) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (alert_key) DO UPDATE SET phase = excluded.phase, \
             updated_at = excluded.updated_at, record = excluded.record",
        )
        .map_err(db("preparing the alert upsert"))?;
    for a in upserts {
        put.execute(params![a.key, a.phase, a.updated_at, a.record.to_string()])
            .map_err(db("writing an alert"))?;
    }
    let mut del = c
        .prepare_cached("DELETE FROM alert_instances WHERE alert_key = ?1")
        .map_err(db("preparing the alert delete"))?;
    for key in removed {
        del.execute(params![key]).map_err(db("deleting an alert"))?;
    }
    Ok(())
}
