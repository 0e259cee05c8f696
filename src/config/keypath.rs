//! Key paths from the document root to a node, written as serde_norway writes them
//! (`server.listen`, `domains[0].dkim_selectors[1]`), and positions in the text.

use std::fmt;

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A path from the document root to a node, written like serde_norway writes it:
/// `server.listen`, `domains[0].dkim_selectors[1]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KeyPath(Vec<Segment>);

impl KeyPath {
    /// The document root.
    pub(super) fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path extended by a mapping key.
    pub(super) fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        KeyPath(segments)
    }

    /// This path extended by a sequence index.
    pub(super) fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        KeyPath(segments)
    }

    /// The path one step up (the root stays the root).
    pub(super) fn parent(&self) -> Self {
        let mut segments = self.0.clone();
        segments.pop();
        KeyPath(segments)
    }

    /// The steps, from the root.
    pub(super) fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Whether this is the root.
    pub(super) fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A position in the text, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_serde_norway() {
        let path = KeyPath::root()
            .key("domains")
            .index(0)
            .key("sending_ips")
            .index(2);
        assert_eq!(path.to_string(), "domains[0].sending_ips[2]");
        assert_eq!(path.parent().to_string(), "domains[0].sending_ips");
        assert!(KeyPath::root().is_root());
        assert_eq!(path.segments().len(), 4);
    }
}
