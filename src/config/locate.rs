//! Key paths (`domains[0].sending_ips[2]`) and where their node starts in the YAML text.
//!
//! serde_norway attaches a line and column to errors raised while deserializing, but exposes no position
//! for a value that deserialized fine and is found wrong later (a bad IP, a duplicate domain). To place
//! those, [`locate`] walks the document again down to the node at a key path and raises an error there:
//! the parser then fills in that node's own line and column, the same way it does for a type error, so
//! both kinds of problem point at the same spot. One walk per problem costs a parse of the text each;
//! the config is capped at 1 MiB and callers cap how many problems they place.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A path from the document root to a node, written like serde_norway writes it:
/// `server.listen`, `domains[0].dkim_selectors[1]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<Segment>);

impl KeyPath {
    /// The document root.
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path extended by a mapping key.
    pub fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        KeyPath(segments)
    }

    /// This path extended by a sequence index.
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        KeyPath(segments)
    }

    /// The path one step up (the root stays the root).
    pub fn parent(&self) -> Self {
        let mut segments = self.0.clone();
        segments.pop();
        KeyPath(segments)
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
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
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

/// Where the node at `path` starts, or `None` when the document has no such node (a key left to its
/// default) or cannot be parsed.
pub fn locate(text: &str, path: &KeyPath) -> Option<Position> {
    let probe = Probe {
        target: &path.0,
        depth: 0,
    };
    let deserializer = serde_yaml::Deserializer::from_str(text);
    match probe.deserialize(deserializer) {
        Ok(()) => None,
        Err(error) if error.to_string().contains(FOUND) => {
            error.location().map(|location| Position {
                line: location.line(),
                column: location.column(),
            })
        }
        Err(_) => None,
    }
}

/// The message of the error a probe raises on reaching its node; never shown to anyone.
const FOUND: &str = "senderscope-locate: node found";

/// Walks down `target`, skipping every other node, and fails on arriving.
struct Probe<'a> {
    target: &'a [Segment],
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Probe<'_> {
    fn arrived<E: de::Error>(&self) -> Result<(), E> {
        if self.depth == self.target.len() {
            Err(E::custom(FOUND))
        } else {
            // A scalar where the path goes deeper: the path does not exist.
            Ok(())
        }
    }
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.arrived()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.arrived()
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        self.arrived()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.arrived()
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        self.arrived()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.arrived()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.arrived()
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<(), E> {
        self.arrived()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.arrived()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.arrived()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        // A tagged node (`!tag value`): our schema has none, so only the node itself can be the target.
        self.arrived()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let next = match self.target.get(self.depth) {
            None => return Err(de::Error::custom(FOUND)),
            Some(Segment::Index(index)) => Some(*index),
            Some(Segment::Key(_)) => None,
        };
        let mut index = 0;
        loop {
            if Some(index) == next {
                let probe = Probe {
                    target: self.target,
                    depth: self.depth + 1,
                };
                return seq.next_element_seed(probe).map(|_| ());
            }
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let wanted = match self.target.get(self.depth) {
            None => return Err(de::Error::custom(FOUND)),
            Some(Segment::Key(key)) => Some(key.as_str()),
            Some(Segment::Index(_)) => None,
        };
        while let Some(key) = map.next_key::<KeyText>()? {
            if wanted.is_some() && key.0.as_deref() == wanted {
                let probe = Probe {
                    target: self.target,
                    depth: self.depth + 1,
                };
                return map.next_value_seed(probe);
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// A mapping key as text; `None` for a key that is itself a collection.
struct KeyText(Option<String>);

impl<'de> de::Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // deserialize_str hands over a scalar's text as written (`1.10`, not 1.1), which is how the
        // typed pass saw the key too.
        deserializer
            .deserialize_str(KeyVisitor)
            .map(|text| KeyText(Some(text)))
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<String, E> {
        Ok(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
server:
  listen: 127.0.0.1:9797
domains:
  - name: a.test
    sending_ips: [192.0.2.1, \"2001:db8::/64\"]
  - name: b.test
    dkim_selectors:
      - s1
      - s2
flow: {x: 1, y: [a, b]}
";

    fn at(path: KeyPath) -> Option<(usize, usize)> {
        locate(DOC, &path).map(|p| (p.line, p.column))
    }

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
    }

    #[test]
    fn nodes_are_found_in_block_and_flow_style() {
        let root = KeyPath::root();
        assert_eq!(at(root.key("server").key("listen")), Some((2, 11)));
        assert_eq!(at(root.key("server")), Some((2, 3)));
        assert_eq!(at(root.key("domains").index(1).key("name")), Some((6, 11)));
        assert_eq!(
            at(root.key("domains").index(0).key("sending_ips").index(1)),
            Some((5, 30))
        );
        assert_eq!(
            at(root.key("domains").index(1).key("dkim_selectors").index(1)),
            Some((9, 9))
        );
        assert_eq!(at(root.key("flow").key("y").index(1)), Some((10, 21)));
    }

    #[test]
    fn absent_nodes_are_not_found() {
        let root = KeyPath::root();
        assert_eq!(at(root.key("state")), None);
        assert_eq!(at(root.key("domains").index(5)), None);
        assert_eq!(at(root.key("server").key("listen").key("deeper")), None);
    }
}
