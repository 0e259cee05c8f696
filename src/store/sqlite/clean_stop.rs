//! The clean-stop marker: `<state>.clean`, written by [`SqliteStore::close`](super::SqliteStore)
//! once the writer has folded the WAL into the file, naming the file exactly as it was left (size,
//! modification time, inode). The next start reads and removes it; when the file is still that file
//! and has no WAL beside it, nothing can have changed it since SQLite last wrote it cleanly, and the
//! start skips the synchronous quick check (which reads the whole file: a third of a second on a
//! year of history). The check still runs, in the background, as soon as the store is open; damage
//! found there fails `/readyz` (docs/architecture.md, "State file").
//!
//! Any doubt means a full check at start: no marker (a crash, a kill, a first start), a marker that
//! cannot be removed (it could be trusted twice), a file that differs from the marker in any way, a
//! WAL left beside it.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// What the marker records of the database file.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified_ns: u128,
    inode: u64,
    changed_ns: i128,
}

impl Fingerprint {
    fn of(db: &Path) -> Option<Fingerprint> {
        let meta = std::fs::metadata(db).ok()?;
        let modified_ns = meta
            .modified()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_nanos();
        let (inode, changed_ns) = identity(&meta);
        Some(Fingerprint {
            len: meta.len(),
            modified_ns,
            inode,
            changed_ns,
        })
    }

    fn encode(&self) -> String {
        format!(
            "senderscope clean stop v1\nlen {}\nmodified_ns {}\ninode {}\nchanged_ns {}\n",
            self.len, self.modified_ns, self.inode, self.changed_ns
        )
    }

    fn decode(text: &str) -> Option<Fingerprint> {
        let mut lines = text.lines();
        if lines.next()? != "senderscope clean stop v1" {
            return None;
        }
        let mut field = |name: &str| {
            let line = lines.next()?;
            line.strip_prefix(name)?
                .strip_prefix(' ')
                .map(str::to_owned)
        };
        Some(Fingerprint {
            len: field("len")?.parse().ok()?,
            modified_ns: field("modified_ns")?.parse().ok()?,
            inode: field("inode")?.parse().ok()?,
            changed_ns: field("changed_ns")?.parse().ok()?,
        })
    }
}

/// The inode and status-change time (not settable by `touch`, unlike the modification time).
#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> (u64, i128) {
    use std::os::unix::fs::MetadataExt;
    (
        meta.ino(),
        i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
    )
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> (u64, i128) {
    (0, 0)
}

fn sibling(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Record that the database was left cleanly (called with the state lock still held, after the
/// writer's connection is closed). A failure only costs the next start its full check.
pub(super) fn mark(db: &Path) {
    if wal_in_use(db) {
        // The checkpoint did not finish (a reader still open): the next start checks everything.
        return;
    }
    let Some(print) = Fingerprint::of(db) else {
        return;
    };
    if let Err(e) = std::fs::write(sibling(db, ".clean"), print.encode()) {
        tracing::warn!(error = %e, "could not mark the state file as cleanly stopped; the next start checks it in full");
    }
}

/// Whether the last stop left the database exactly as it is now (and the marker is gone, so it is
/// believed once). Called at open, with the state lock held, before anything touches the file.
pub(super) fn left_clean(db: &Path) -> bool {
    let marker = sibling(db, ".clean");
    let Ok(text) = std::fs::read_to_string(&marker) else {
        return false;
    };
    if std::fs::remove_file(&marker).is_err() {
        return false;
    }
    let recorded = Fingerprint::decode(&text);
    recorded.is_some() && recorded == Fingerprint::of(db) && !wal_in_use(db)
}

/// A WAL file with content beside the database (SQLite removes it when the last connection closes
/// after a full checkpoint).
fn wal_in_use(db: &Path) -> bool {
    std::fs::metadata(sibling(db, "-wal")).is_ok_and(|m| m.len() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_believed_once_and_only_for_the_file_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        std::fs::write(&db, b"0123456789").unwrap();
        assert!(!left_clean(&db), "no marker: a full check");

        mark(&db);
        assert!(left_clean(&db), "an untouched file");
        assert!(!left_clean(&db), "the marker is used up");

        mark(&db);
        std::fs::write(&db, b"0123456789abc").unwrap();
        assert!(!left_clean(&db), "a file written after the stop");

        mark(&db);
        std::fs::write(sibling(&db, "-wal"), b"frames").unwrap();
        assert!(!left_clean(&db), "a WAL beside the file");
        std::fs::remove_file(sibling(&db, "-wal")).unwrap();

        mark(&db);
        let moved = dir.path().join("other.db");
        std::fs::copy(&db, &moved).unwrap();
        std::fs::rename(&moved, &db).unwrap();
        assert!(!left_clean(&db), "another file under the same name");

        std::fs::write(sibling(&db, ".clean"), "senderscope clean stop v1\nlen x\n").unwrap();
        assert!(!left_clean(&db), "a marker that does not parse");
    }
}
