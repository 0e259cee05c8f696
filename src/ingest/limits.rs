//! Bounds on every input. The `rua` address is public, so gzip and zip bombs, endless records and
//! deep nesting are ordinary input: each bound turns into a named refusal, never a crash or an
//! unbounded allocation. The defaults admit the largest real reports (900k-row Google reports, about
//! 500 MB of XML) and the 200 MB benchmark report.

/// The bounds applied while sniffing, decoding and parsing one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// An input read whole into memory (a message, a zip archive, a JSON report), in bytes.
    pub max_buffered_bytes: u64,
    /// Decompressed bytes of one input, over every layer and zip member.
    pub max_decompressed_bytes: u64,
    /// Largest decompressed/compressed ratio, checked once 1 MiB has come out.
    pub max_ratio: u64,
    /// Zip members read per archive.
    pub max_zip_members: usize,
    /// Containers inside containers (gzip in gzip, zip in a message, a message in a message).
    pub max_layers: usize,
    /// Records in one aggregate report.
    pub max_records: u64,
    /// XML element nesting.
    pub max_depth: usize,
    /// Text of one XML element, in bytes (a `report_id` or `human_result` is short).
    pub max_text_bytes: usize,
    /// Reports taken from one input (a message with many attachments).
    pub max_reports: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_buffered_bytes: 64 << 20,
            max_decompressed_bytes: 1 << 30,
            max_ratio: 200,
            max_zip_members: 16,
            max_layers: 4,
            max_records: 5_000_000,
            max_depth: 32,
            max_text_bytes: 64 << 10,
            max_reports: 64,
        }
    }
}
