//! Secrets (API tokens, DQS keys) as a type that cannot be printed or logged by accident, and where they
//! come from: files named by `*_file` keys, or environment variables that replace them.

use std::fmt;
use std::io::{self, Read};
use std::path::Path;

/// A secret value read from a file or the environment. `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value; surrounding whitespace (a trailing newline in a key file) is removed.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into().trim().to_owned())
    }

    /// The value itself: call only where it is used (a comparison, a DNS label), never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where secrets are read from. The daemon uses [`SystemSecrets`]; tests pin the environment.
pub(crate) trait SecretSource {
    /// An environment variable's value, if set.
    fn var(&self, name: &str) -> Option<String>;
    /// A secret file's bytes.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
}

/// The process environment and the filesystem.
pub(crate) struct SystemSecrets;

/// A secret file holds one token or key; anything bigger is the wrong file.
const MAX_SECRET_BYTES: u64 = 64 << 10;

impl SecretSource for SystemSecrets {
    fn var(&self, name: &str) -> Option<String> {
        // A value that is not UTF-8 is kept (lossily) so that validation refuses it by name.
        std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)?
            .take(MAX_SECRET_BYTES + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_SECRET_BYTES {
            return Err(io::Error::other(
                "larger than 64 KiB; a secret file holds one token or key",
            ));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_its_value() {
        let s = Secret::new("hunter2\n");
        assert_eq!(s.expose(), "hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
    }
}
