//! Schema migrations: numbered SQL files under `migrations/`, applied in order at open, each in its own
//! transaction together with `PRAGMA user_version = N`, so a crash leaves the database at a whole
//! version and running them again is a no-op.

use rusqlite::Connection;

use super::StoreError;

/// One migration: `migrations/NNNN_name.sql`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number (`user_version` after it ran).
    pub version: u32,
    /// Its file name.
    pub name: &'static str,
    /// The SQL.
    pub sql: &'static str,
}

/// Every migration, in order. A test checks this list against the files in `migrations/`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_initial.sql",
        sql: include_str!("migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "0002_check_facts.sql",
        sql: include_str!("migrations/0002_check_facts.sql"),
    },
    Migration {
        version: 3,
        name: "0003_drop_unused_tables.sql",
        sql: include_str!("migrations/0003_drop_unused_tables.sql"),
    },
    Migration {
        version: 4,
        name: "0004_alert_instances.sql",
        sql: include_str!("migrations/0004_alert_instances.sql"),
    },
    Migration {
        version: 5,
        name: "0005_ingest.sql",
        sql: include_str!("migrations/0005_ingest.sql"),
    },
    Migration {
        version: 6,
        name: "0006_events.sql",
        sql: include_str!("migrations/0006_events.sql"),
    },
    Migration {
        version: 7,
        name: "0007_sources.sql",
        sql: include_str!("migrations/0007_sources.sql"),
    },
    Migration {
        version: 8,
        name: "0008_alerts_inputs.sql",
        sql: include_str!("migrations/0008_alerts_inputs.sql"),
    },
    Migration {
        version: 9,
        name: "0009_check_latest.sql",
        sql: include_str!("migrations/0009_check_latest.sql"),
    },
];

/// The schema version this binary writes.
pub(super) fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The database's schema version.
pub(super) fn current(conn: &Connection) -> Result<u32, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| StoreError::db("reading the schema version", e))
}

/// Apply the migrations the database lacks; returns how many ran.
pub(super) fn apply(conn: &mut Connection) -> Result<usize, StoreError> {
    let found = current(conn)?;
    if found > latest() {
        return Err(StoreError::TooNew {
            found,
            known: latest(),
        });
    }
    let mut ran = 0;
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        let fail = |e: rusqlite::Error| StoreError::Migration {
            version: m.version,
            name: m.name,
            source: std::sync::Arc::new(e),
        };
        // IMMEDIATE takes the write lock before the version is read again, so two processes
        // opening one new database (the daemon and a CLI beside it) cannot both apply a step.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(fail)?;
        let now: u32 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(fail)?;
        if now >= m.version {
            continue;
        }
        tx.execute_batch(m.sql).map_err(fail)?;
        // `PRAGMA user_version` takes no bound parameters; the value is our own constant.
        tx.execute_batch(&format!("PRAGMA user_version = {}", m.version))
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied a state database migration"
        );
        ran += 1;
    }
    Ok(ran)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_list_matches_the_files() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(
            files, listed,
            "every migrations/*.sql is listed in MIGRATIONS, in order"
        );
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "versions count up from 1");
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        }
    }

    #[test]
    fn applying_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(apply(&mut conn).unwrap(), MIGRATIONS.len());
        let schema = |c: &Connection| -> Vec<String> {
            let mut s = c
                .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
                .unwrap();
            s.query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        };
        let before = schema(&conn);
        assert_eq!(apply(&mut conn).unwrap(), 0);
        assert_eq!(schema(&conn), before);
        assert_eq!(current(&conn).unwrap(), latest());
    }

    #[test]
    fn a_newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {}", latest() + 1))
            .unwrap();
        assert!(matches!(apply(&mut conn), Err(StoreError::TooNew { .. })));
    }

    #[test]
    fn sql_stays_portable() {
        // Keep the schema readable by PostgreSQL (several instances may share one to scale out): no SQLite-only spellings.
        for m in MIGRATIONS {
            let sql: String = m
                .sql
                .lines()
                .map(|l| l.split("--").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n")
                .to_ascii_uppercase();
            for banned in [
                "AUTOINCREMENT",
                "WITHOUT ROWID",
                "INSERT OR ",
                "INTEGER PRIMARY KEY",
                "STRICT",
                "DATETIME",
            ] {
                assert!(!sql.contains(banned), "{} uses {banned}", m.name);
            }
        }
    }
}
