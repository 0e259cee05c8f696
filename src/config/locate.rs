//! Where a node at a key path starts in the YAML text.
//!
//! serde_norway attaches a line and column to errors raised while deserializing, but exposes no position
//! for a value that deserialized fine and is found wrong later (a bad IP, a duplicate domain). To place
//! those, the text is walked again with a visitor that raises an error on arriving at a wanted node:
//! the parser then fills in that node's own line and column, exactly as it does for a type error, so
//! both kinds of problem point at the same spot.
//!
//! - [`locate_many`]: one walk for many paths. At a wanted scalar the error is raised and caught again
//!   one level up, where the walk goes on (a scalar is one parser event, already consumed, so the
//!   parser's state is intact). This places every problem on a value in a single parse.
//! - [`locate`]: one walk per path, stopping at the node. Used for what `locate_many` cannot place: a
//!   mapping or a sequence (raising there would leave its events half read).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::keypath::{KeyPath, Position, Segment};

/// The message of the error a walk raises on reaching its node; never shown to anyone.
const FOUND: &str = "senderscope-locate: node found";

/// Where the node at `path` starts, or `None` when the document has no such node (a key left to its
/// default) or cannot be parsed.
pub(super) fn locate(text: &str, path: &KeyPath) -> Option<Position> {
    let mut tree = Tree::default();
    tree.insert(path.segments(), 0);
    let found = RefCell::new(vec![None]);
    let walk = Walk {
        tree: &tree,
        found: &found,
        stop: true,
    };
    match walk.deserialize(serde_yaml::Deserializer::from_str(text)) {
        Ok(()) => found.into_inner().pop().flatten(),
        Err(error) => found_at(&error.to_string()),
    }
}

/// Where each of `paths` starts, in one parse; `None` for a path to a mapping or sequence, or to a
/// node the document does not have.
pub(super) fn locate_many(text: &str, paths: &[KeyPath]) -> Vec<Option<Position>> {
    let mut tree = Tree::default();
    for (i, path) in paths.iter().enumerate() {
        tree.insert(path.segments(), i);
    }
    let found = RefCell::new(vec![None; paths.len()]);
    let walk = Walk {
        tree: &tree,
        found: &found,
        stop: false,
    };
    // An error here is one the typed pass would have met first; what was placed before it stands.
    let _ = walk.deserialize(serde_yaml::Deserializer::from_str(text));
    found.into_inner()
}

/// The position in the text of an error raised with [`FOUND`]: serde_norway writes it as
/// `path: message at line L column C`, and leaves the suffix out for line 1 column 1.
fn found_at(error: &str) -> Option<Position> {
    let (head, tail) = match error.rfind(" at line ") {
        Some(at) => (&error[..at], Some(&error[at + " at line ".len()..])),
        None => (error, None),
    };
    if !head.ends_with(FOUND) {
        return None;
    }
    let Some(tail) = tail else {
        return Some(Position { line: 1, column: 1 });
    };
    let (line, column) = tail.split_once(" column ")?;
    Some(Position {
        line: line.parse().ok()?,
        column: column.parse().ok()?,
    })
}

/// The wanted paths as a tree, each node listing the paths (by index) that end there.
#[derive(Default)]
struct Tree {
    ends: Vec<usize>,
    keys: HashMap<String, Tree>,
    indices: HashMap<usize, Tree>,
}

impl Tree {
    fn insert(&mut self, segments: &[Segment], id: usize) {
        match segments.split_first() {
            None => self.ends.push(id),
            Some((Segment::Key(key), rest)) => {
                self.keys.entry(key.clone()).or_default().insert(rest, id)
            }
            Some((Segment::Index(i), rest)) => self.indices.entry(*i).or_default().insert(rest, id),
        }
    }
}

/// Walks the wanted parts of the document, skipping the rest.
struct Walk<'a> {
    tree: &'a Tree,
    found: &'a RefCell<Vec<Option<Position>>>,
    /// Stop at a wanted mapping or sequence too (by failing the whole walk) rather than going on.
    stop: bool,
}

impl<'a> Walk<'a> {
    fn child(&self, tree: &'a Tree) -> Walk<'a> {
        Walk {
            tree,
            found: self.found,
            stop: self.stop,
        }
    }

    fn scalar<E: de::Error>(&self) -> Result<(), E> {
        if self.tree.ends.is_empty() {
            Ok(())
        } else {
            Err(E::custom(FOUND))
        }
    }

    fn collection<E: de::Error>(&self) -> Result<(), E> {
        if self.stop && !self.tree.ends.is_empty() {
            Err(E::custom(FOUND))
        } else {
            Ok(())
        }
    }

    /// Walk into `tree`'s node through `step`; a [`FOUND`] error coming back is where its paths are.
    fn descend<E: de::Error>(
        &self,
        tree: &Tree,
        step: impl FnOnce() -> Result<(), E>,
    ) -> Result<(), E> {
        match step() {
            Err(error) if !self.stop => match found_at(&error.to_string()) {
                Some(position) => {
                    let mut found = self.found.borrow_mut();
                    for id in &tree.ends {
                        found[*id] = Some(position);
                    }
                    Ok(())
                }
                None => Err(error),
            },
            other => other,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        self.scalar()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        self.scalar()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar()
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<(), E> {
        self.scalar()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        // A tagged node (`!tag value`): our schema has none, so nothing is wanted inside it. Its events
        // are not consumed, so the walk must end here whatever it was looking for.
        Err(de::Error::custom("tagged node"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.collection()?;
        let mut index = 0;
        loop {
            let step = match self.tree.indices.get(&index) {
                Some(tree) => {
                    let mut more = true;
                    self.descend(tree, || {
                        more = seq.next_element_seed(self.child(tree))?.is_some();
                        Ok(())
                    })?;
                    more
                }
                None => seq.next_element::<IgnoredAny>()?.is_some(),
            };
            if !step {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.collection()?;
        while let Some(key) = map.next_key::<KeyText>()? {
            match self.tree.keys.get(&key.0) {
                Some(tree) => self.descend(tree, || map.next_value_seed(self.child(tree)))?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A mapping key as text.
struct KeyText(String);

impl<'de> de::Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // deserialize_str hands over a scalar's text as written (`1.10`, not 1.1), which is how the
        // typed pass saw the key too.
        deserializer.deserialize_str(KeyVisitor).map(KeyText)
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

    fn root() -> KeyPath {
        KeyPath::root()
    }

    #[test]
    fn nodes_are_found_in_block_and_flow_style() {
        assert_eq!(at(root().key("server").key("listen")), Some((2, 11)));
        assert_eq!(at(root().key("server")), Some((2, 3)));
        assert_eq!(
            at(root().key("domains").index(1).key("name")),
            Some((6, 11))
        );
        let ip = root().key("domains").index(0).key("sending_ips").index(1);
        assert_eq!(at(ip), Some((5, 30)));
        let selector = root()
            .key("domains")
            .index(1)
            .key("dkim_selectors")
            .index(1);
        assert_eq!(at(selector), Some((9, 9)));
        assert_eq!(at(root().key("flow").key("y").index(1)), Some((10, 21)));
        assert_eq!(at(root()), Some((1, 1)));
    }

    #[test]
    fn absent_nodes_are_not_found() {
        assert_eq!(at(root().key("state")), None);
        assert_eq!(at(root().key("domains").index(5)), None);
        assert_eq!(at(root().key("server").key("listen").key("deeper")), None);
    }

    #[test]
    fn one_walk_places_every_scalar_and_agrees_with_single_walks() {
        let paths = vec![
            root().key("flow").key("y").index(1),
            root().key("server").key("listen"),
            root()
                .key("domains")
                .index(1)
                .key("dkim_selectors")
                .index(0),
            root()
                .key("domains")
                .index(1)
                .key("dkim_selectors")
                .index(1),
            root().key("domains").index(0).key("sending_ips").index(1),
            root().key("domains").index(0).key("name"),
            root().key("domains").index(0).key("name"),
            root().key("state"),
            root().key("server"),
        ];
        let many = locate_many(DOC, &paths);
        for (path, position) in paths.iter().zip(&many).take(7) {
            assert!(position.is_some(), "{path} not placed");
            assert_eq!(*position, locate(DOC, path), "{path}");
        }
        // Absent, and a mapping: left for `locate`.
        assert_eq!(many[7], None);
        assert_eq!(many[8], None);
    }

    #[test]
    fn found_marker_is_read_back_from_the_error_text() {
        assert_eq!(
            found_at(&format!("a.b: {FOUND} at line 3 column 7")),
            Some(Position { line: 3, column: 7 })
        );
        assert_eq!(found_at(FOUND), Some(Position { line: 1, column: 1 }));
        assert_eq!(found_at("invalid type: map at line 3 column 7"), None);
    }
}
