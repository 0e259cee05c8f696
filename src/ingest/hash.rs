//! The content hash of a decoded report (SHA-256), computed while it streams past: with the report's
//! key it tells an exact re-send (a duplicate) from a report re-issued with other content.

use std::fmt;
use std::io::{self, BufRead, Read};

use aws_lc_rs::digest::{Context, SHA256};

use super::error::Refusal;

/// A SHA-256 content hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    /// The hash of a whole byte string.
    pub fn of(bytes: &[u8]) -> ContentHash {
        let mut ctx = Context::new(&SHA256);
        ctx.update(bytes);
        ContentHash::from_context(ctx)
    }

    fn from_context(ctx: Context) -> ContentHash {
        let mut out = [0; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        ContentHash(out)
    }

    /// Lower-case hex, as stored.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.hex())
    }
}

/// A reader that hashes what it reads and refuses to read more than `limit` bytes.
pub struct HashingReader<R> {
    inner: R,
    ctx: Context,
    read: u64,
    limit: u64,
}

impl<R: BufRead> HashingReader<R> {
    /// Hash `inner`, refusing beyond `limit` bytes (the report size bound).
    pub fn new(inner: R, limit: u64) -> Self {
        HashingReader {
            inner,
            ctx: Context::new(&SHA256),
            read: 0,
            limit,
        }
    }

    /// Read what is left (so the hash covers the whole input, whatever the parser stopped at),
    /// then return the hash.
    pub fn finish(mut self) -> io::Result<ContentHash> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(ContentHash::from_context(self.ctx))
    }
}

impl<R: BufRead> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(Refusal::TooLarge {
                what: "report size",
                limit: self.limit,
            }
            .into());
        }
        self.ctx.update(&buf[..n]);
        Ok(n)
    }
}
