//! A nesting bound checked before the YAML parser sees the text. The parser recurses per level and
//! placing each problem re-parses the text: 100,000 levels of `[` (200 KB) took 72 s to refuse. A
//! senderscope config nests a handful of levels, so anything past [`MAX_DEPTH`] is refused at once,
//! with the line and column where the bound was crossed.

use super::keypath::Position;

/// Levels of nesting accepted (flow `[`/`{` and block indentation, counted together).
pub(super) const MAX_DEPTH: usize = 64;

/// The position where nesting first exceeds [`MAX_DEPTH`], if it does.
pub(super) fn too_deep(text: &str) -> Option<Position> {
    let mut flow = 0usize;
    let mut indents: Vec<usize> = Vec::new();
    for (row, line) in text.lines().enumerate() {
        let body = line.trim_start_matches(' ');
        let indent = line.len() - body.len();
        let blank = body.is_empty() || body.starts_with('#');
        if flow == 0 && !blank {
            while indents.last().is_some_and(|&top| top >= indent) {
                indents.pop();
            }
            indents.push(indent);
            if indents.len() > MAX_DEPTH {
                return Some(Position {
                    line: row + 1,
                    column: indent + 1,
                });
            }
        }
        let mut quote: Option<char> = None;
        let mut previous = ' ';
        for (col, c) in line.char_indices() {
            match quote {
                Some(q) => {
                    if c == q {
                        quote = None;
                    }
                }
                None => match c {
                    // A quote opens a scalar only where a scalar can start (not `it's`).
                    '"' | '\'' if matches!(previous, ' ' | '\t' | '[' | '{' | ',' | ':') => {
                        quote = Some(c)
                    }
                    '#' if matches!(previous, ' ' | '\t') => break,
                    '[' | '{' => {
                        flow += 1;
                        if flow + indents.len() > MAX_DEPTH {
                            return Some(Position {
                                line: row + 1,
                                column: line[..col].chars().count() + 1,
                            });
                        }
                    }
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            previous = c;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_configs_pass() {
        assert_eq!(too_deep(super::super::EMBEDDED), None);
        assert_eq!(
            too_deep("a: {b: [1, 2, {c: \"[[[[\"}]}\n# [[[[[[\nd: it's [x]\n"),
            None
        );
    }

    #[test]
    fn deep_flow_nesting_is_found_where_it_crosses_the_bound() {
        let text = format!("domains: {}", "[".repeat(100_000));
        let at = too_deep(&text).expect("too deep");
        // `domains:` is one block level, so the 64th `[` crosses the bound (column 10 + 63).
        assert_eq!((at.line, at.column), (1, 10 + 63));
    }

    #[test]
    fn deep_block_nesting_is_found() {
        let mut text = String::new();
        for level in 0..70 {
            text += &format!("{}k{level}:\n", " ".repeat(level));
        }
        let at = too_deep(&text).expect("too deep");
        assert_eq!((at.line, at.column), (65, 65));
    }
}
