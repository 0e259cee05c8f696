//! The `ingest` section: input bounds, the watched directory and the IMAP mailbox (`imap.rs`)
//! (docs/ingest.md).

use std::path::PathBuf;
use std::time::Duration;

use super::Validator;
use crate::analysis::senders::SenderMap;
use crate::config::keypath::KeyPath;
use crate::config::model::{IngestDirectory, IngestSettings};
use crate::config::raw::RawIngest;
use crate::config::size::{format_size, parse_size};
use crate::ingest::Limits;

impl Validator<'_> {
    pub(super) fn ingest(&mut self, raw: RawIngest, path: &KeyPath) -> IngestSettings {
        let defaults = Limits::default();
        // The report bound must admit real reports (hundreds of MB of XML for the largest senders).
        let max_report_bytes = self.size(
            &path.key("max_report_bytes"),
            &raw.max_report_bytes,
            1 << 20,
            16 << 30,
        );
        // A message or zip is held in memory whole: this bounds that memory.
        let max_message_bytes = self.size(
            &path.key("max_message_bytes"),
            &raw.max_message_bytes,
            64 << 10,
            1 << 30,
        );
        let max_records = self.count(&path.key("max_records"), raw.max_records, 1, 100_000_000);
        let directory = raw.directory.map(|d| {
            let dir = path.key("directory");
            if d.path.trim().is_empty() {
                self.problem(dir.key("path"), "the path cannot be empty");
            }
            IngestDirectory {
                path: PathBuf::from(d.path),
                settle: self.duration(
                    &dir.key("settle"),
                    &d.settle,
                    Duration::from_millis(100),
                    Duration::from_secs(3600),
                ),
            }
        });
        let imap = raw.imap.and_then(|i| self.imap(i, &path.key("imap")));
        let senders = self.senders(raw.senders_file.as_deref(), &path.key("senders_file"));
        IngestSettings {
            senders,
            limits: Limits {
                max_buffered_bytes: max_message_bytes,
                max_decompressed_bytes: max_report_bytes,
                max_records: max_records as u64,
                ..defaults
            },
            directory,
            imap,
        }
    }

    /// The shipped sender mapping, extended by the file at `file` (refused whole, with the file's
    /// line, when it does not parse).
    fn senders(&mut self, file: Option<&str>, path: &KeyPath) -> SenderMap {
        let shipped = SenderMap::embedded();
        let Some(file) = file else {
            return shipped;
        };
        let read = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {file}: {e}"))
            .and_then(|text| SenderMap::parse(&text).map_err(|e| format!("{file}: {e}")));
        match read {
            Ok(extra) => shipped.extended(extra),
            Err(e) => {
                self.problem(path.clone(), e);
                shipped
            }
        }
    }

    fn size(&mut self, path: &KeyPath, text: &str, min: u64, max: u64) -> u64 {
        let parsed = parse_size(text).and_then(|bytes| {
            if (min..=max).contains(&bytes) {
                Ok(bytes)
            } else {
                Err(format!(
                    "{text} is out of range; use {} to {}",
                    format_size(min),
                    format_size(max)
                ))
            }
        });
        self.check(path, parsed, min)
    }
}
