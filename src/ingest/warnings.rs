//! What was tolerated while reading an input: counted in full, the first few kept as sentences for
//! the log and the JSON line (a 900k-row report with one bad field per row must not keep 900k strings).

use serde::Serialize;

/// Messages kept verbatim; the rest are only counted.
const KEPT: usize = 8;

/// Warnings of one input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Warnings {
    /// How many there were.
    pub count: u64,
    /// The first few, as sentences.
    pub first: Vec<String>,
}

impl Warnings {
    /// Count a warning, keeping its text if there is room.
    pub fn push(&mut self, message: String) {
        self.count += 1;
        if self.first.len() < KEPT {
            self.first.push(message);
        }
    }

    /// Add another input's warnings.
    pub fn merge(&mut self, other: Warnings) {
        self.count += other.count;
        for m in other.first {
            if self.first.len() < KEPT {
                self.first.push(m);
            }
        }
    }

    /// Whether nothing was tolerated.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}
