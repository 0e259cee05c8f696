//! Containers, decoded while streaming and within bounds: gzip (every member, whatever follows the
//! last one ignored, as Mimecast appends `\r\n`), zip (every member, up to a count), and the shared
//! budget of decompressed bytes that makes a bomb a refusal instead of an outage.

use std::cell::Cell;
use std::io::{self, BufRead, Cursor, Read};
use std::rc::Rc;

use flate2::bufread::GzDecoder;

use super::error::{IngestError, Refusal};
use super::limits::Limits;

/// The gzip magic (RFC 1952 §2.3.1).
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Decompressed bytes counted across every layer of one input.
#[derive(Debug, Clone)]
pub struct Budget {
    used: Rc<Cell<u64>>,
    limit: u64,
}

impl Budget {
    /// A budget of `limits.max_decompressed_bytes`.
    pub fn new(limits: &Limits) -> Self {
        Budget {
            used: Rc::new(Cell::new(0)),
            limit: limits.max_decompressed_bytes,
        }
    }

    fn spend(&self, n: usize) -> io::Result<()> {
        let used = self.used.get().saturating_add(n as u64);
        self.used.set(used);
        if used > self.limit {
            return Err(Refusal::TooLarge {
                what: "decompressed size",
                limit: self.limit,
            }
            .into());
        }
        Ok(())
    }
}

/// Counts the bytes a `BufRead` hands out (the compressed side of a decoder).
pub struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amount: usize) {
        self.count.set(self.count.get() + amount as u64);
        self.inner.consume(amount);
    }
}

/// Every member of a gzip stream in turn (RFC 1952 §2.2 allows several); bytes after the last member
/// that do not start another one are ignored.
pub struct GzMembers<R: BufRead> {
    decoder: Option<GzDecoder<R>>,
}

impl<R: BufRead> GzMembers<R> {
    /// Decode `inner`, which starts with a gzip member.
    pub fn new(inner: R) -> Self {
        GzMembers {
            decoder: Some(GzDecoder::new(inner)),
        }
    }
}

impl<R: BufRead> Read for GzMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(decoder) = self.decoder.as_mut() else {
                return Ok(0);
            };
            match decoder.read(buf) {
                Ok(0) => {
                    let Some(decoder) = self.decoder.take() else {
                        return Ok(0);
                    };
                    let mut inner = decoder.into_inner();
                    if inner.fill_buf()?.starts_with(&GZIP_MAGIC) {
                        self.decoder = Some(GzDecoder::new(inner));
                    }
                }
                Ok(n) => return Ok(n),
                Err(e) => {
                    return Err(Refusal::Corrupt {
                        container: "gzip",
                        message: e.to_string(),
                    }
                    .into());
                }
            }
        }
    }
}

/// Decompressed output charged to the [`Budget`], and held to the ratio bound against the compressed
/// bytes read so far.
pub struct Bounded<R> {
    inner: R,
    budget: Budget,
    produced: u64,
    compressed: Rc<Cell<u64>>,
    max_ratio: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.budget.spend(n)?;
        self.produced += n as u64;
        // Small outputs are exempt: a tiny report compresses far better than a large one.
        if self.produced > 1 << 20
            && self.produced > self.compressed.get().max(1).saturating_mul(self.max_ratio)
        {
            return Err(Refusal::Bomb {
                limit: self.max_ratio,
            }
            .into());
        }
        Ok(n)
    }
}

/// A gzip stream decoded within the budget and ratio bounds.
pub fn gunzip<'a, R: BufRead + 'a>(inner: R, budget: &Budget, limits: &Limits) -> impl Read + 'a {
    let compressed = Rc::new(Cell::new(0));
    let counted = Counting {
        inner,
        count: compressed.clone(),
    };
    Bounded {
        inner: GzMembers::new(counted),
        budget: budget.clone(),
        produced: 0,
        compressed,
        max_ratio: limits.max_ratio,
    }
}

/// A zip archive held in memory, its members read one at a time.
pub struct ZipMembers {
    archive: zip::ZipArchive<Cursor<Vec<u8>>>,
}

impl ZipMembers {
    /// Open an archive; refused when it has more members than the bound.
    pub fn open(bytes: Vec<u8>, limits: &Limits) -> Result<Self, IngestError> {
        let archive =
            zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| IngestError::Corrupt {
                container: "zip",
                message: e.to_string(),
            })?;
        if archive.len() > limits.max_zip_members {
            return Err(IngestError::TooLarge {
                what: "zip member count",
                limit: limits.max_zip_members as u64,
            });
        }
        Ok(ZipMembers { archive })
    }

    /// How many members the archive has.
    pub fn len(&self) -> usize {
        self.archive.len()
    }

    /// Whether the archive is empty.
    pub fn is_empty(&self) -> bool {
        self.archive.len() == 0
    }

    /// Read member `index` whole (bounded by the budget, whatever its header claims: the sizes in a
    /// zip header are the sender's word). `None` for a directory entry.
    pub fn read(
        &mut self,
        index: usize,
        budget: &Budget,
        limits: &Limits,
    ) -> Result<Option<(String, Vec<u8>)>, IngestError> {
        let corrupt = |e: zip::result::ZipError| IngestError::Corrupt {
            container: "zip",
            message: e.to_string(),
        };
        let member = self.archive.by_index(index).map_err(corrupt)?;
        if member.is_dir() {
            return Ok(None);
        }
        let name = member.name().to_owned();
        let compressed = Rc::new(Cell::new(member.compressed_size().max(1)));
        let mut bounded = Bounded {
            inner: member.take(limits.max_buffered_bytes + 1),
            budget: budget.clone(),
            produced: 0,
            compressed,
            max_ratio: limits.max_ratio,
        };
        let mut bytes = Vec::new();
        bounded.read_to_end(&mut bytes).map_err(|e| {
            match e.get_ref().and_then(|i| i.downcast_ref::<Refusal>()) {
                Some(_) => IngestError::from_io(e),
                None => IngestError::Corrupt {
                    container: "zip",
                    message: format!("member {name:?}: {e}"),
                },
            }
        })?;
        if bytes.len() as u64 > limits.max_buffered_bytes {
            return Err(IngestError::TooLarge {
                what: "zip member size",
                limit: limits.max_buffered_bytes,
            });
        }
        Ok(Some((name, bytes)))
    }
}

/// The rest of `reader`, refused beyond `limits.max_buffered_bytes`.
pub fn read_bounded(reader: &mut dyn BufRead, limits: &Limits) -> Result<Vec<u8>, IngestError> {
    let mut bytes = Vec::new();
    reader
        .take(limits.max_buffered_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(IngestError::from_io)?;
    if bytes.len() as u64 > limits.max_buffered_bytes {
        return Err(IngestError::TooLarge {
            what: "input size",
            limit: limits.max_buffered_bytes,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn gunzip_all(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>, IngestError> {
        let budget = Budget::new(limits);
        let mut out = Vec::new();
        gunzip(bytes, &budget, limits)
            .read_to_end(&mut out)
            .map_err(IngestError::from_io)?;
        Ok(out)
    }

    #[test]
    fn concatenated_members_and_trailing_junk() {
        let mut bytes = gz(b"hello ");
        bytes.extend(gz(b"world"));
        bytes.extend_from_slice(b"\r\n");
        assert_eq!(
            gunzip_all(&bytes, &Limits::default()).unwrap(),
            b"hello world"
        );
    }

    #[test]
    fn truncated_gzip_is_corrupt() {
        let bytes = gz(&vec![b'x'; 100_000]);
        let err = gunzip_all(&bytes[..bytes.len() / 2], &Limits::default()).unwrap_err();
        assert_eq!(err.reason(), "corrupt", "{err}");
    }

    #[test]
    fn a_gzip_bomb_is_refused() {
        let bytes = gz(&vec![0; 20 << 20]);
        let err = gunzip_all(&bytes, &Limits::default()).unwrap_err();
        assert_eq!(err.reason(), "bomb", "{err}");
    }

    #[test]
    fn the_decompressed_budget_is_enforced() {
        let limits = Limits {
            max_decompressed_bytes: 1000,
            ..Limits::default()
        };
        let err = gunzip_all(&gz(&[b'a'; 5000]), &limits).unwrap_err();
        assert_eq!(err.reason(), "too_large", "{err}");
    }
}
