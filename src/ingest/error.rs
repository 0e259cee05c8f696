//! Why an input was refused: one typed error, with a bounded `reason` code for metrics and the
//! ingest ledger, and a message that names what was wrong and where.

/// A refused input, report or store write.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Over a size bound (input, decompressed bytes, records, nesting).
    #[error("{what} exceeds the limit of {limit}")]
    TooLarge {
        /// What was counted.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// Compressed data that expands beyond the ratio bound: a decompression bomb.
    #[error("decompression ratio above {limit}:1 (a decompression bomb?)")]
    Bomb {
        /// The bound.
        limit: u64,
    },
    /// A gzip or zip container that cannot be read.
    #[error("{container}: {message}")]
    Corrupt {
        /// `gzip` or `zip`.
        container: &'static str,
        /// What the decoder said.
        message: String,
    },
    /// XML that cannot be read, or a report with a required field missing or wrong.
    #[error("{0}")]
    Malformed(String),
    /// `<!DOCTYPE>`: refused outright, so no entity is ever expanded.
    #[error("the XML has a <!DOCTYPE> declaration; reports never need one and it is refused")]
    Doctype,
    /// Content that is not a report this daemon reads.
    #[error("{0}")]
    NotAReport(String),
    /// Reading the input failed.
    #[error("reading the input: {0}")]
    Io(#[source] std::io::Error),
    /// The store refused the write.
    #[error("storing the report: {0}")]
    Store(String),
}

impl IngestError {
    /// A stable, bounded code for the `result` label and the ledger.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::TooLarge { .. } => "too_large",
            IngestError::Bomb { .. } => "bomb",
            IngestError::Corrupt { .. } => "corrupt",
            IngestError::Malformed(_) | IngestError::Doctype => "malformed",
            IngestError::NotAReport(_) => "not_a_report",
            IngestError::Io(_) => "io",
            IngestError::Store(_) => "store",
        }
    }

    /// Unwrap an I/O error raised by a bounded reader back into its refusal.
    pub fn from_io(e: std::io::Error) -> IngestError {
        Self::refusal_in(&e).unwrap_or(IngestError::Io(e))
    }

    /// The refusal a bounded reader put inside an I/O error, if that is what it is.
    pub fn refusal_in(e: &std::io::Error) -> Option<IngestError> {
        Some(
            match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<Refusal>())?
            {
                Refusal::TooLarge { what, limit } => IngestError::TooLarge {
                    what,
                    limit: *limit,
                },
                Refusal::Bomb { limit } => IngestError::Bomb { limit: *limit },
                Refusal::Corrupt { container, message } => IngestError::Corrupt {
                    container,
                    message: message.clone(),
                },
            },
        )
    }
}

/// A refusal carried through `std::io::Read` (readers can only return `io::Error`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    /// See [`IngestError::TooLarge`].
    #[error("{what} exceeds the limit of {limit}")]
    TooLarge {
        /// What was counted.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// See [`IngestError::Bomb`].
    #[error("decompression ratio above {limit}:1")]
    Bomb {
        /// The bound.
        limit: u64,
    },
    /// See [`IngestError::Corrupt`].
    #[error("{container}: {message}")]
    Corrupt {
        /// `gzip` or `zip`.
        container: &'static str,
        /// What the decoder said.
        message: String,
    },
}

impl From<Refusal> for std::io::Error {
    fn from(r: Refusal) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, r)
    }
}
