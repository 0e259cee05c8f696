//! Secrets (API tokens, DQS keys) as a type that cannot be printed or logged by accident.

use std::fmt;

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
