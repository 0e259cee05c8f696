//! Reading mail with mail-parser, with its failures contained: every message the daemon reads comes
//! from outside (report mailboxes, bounces, uploads), and a panic inside the parser (its own
//! consistency assertions, which fuzzing reaches on malformed MIME nesting) must cost that one input,
//! not the task that read it. A contained panic reads as "not a readable message", like any other
//! input the parser gives up on.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::{Message, MessageParser};

/// The whole message (headers, MIME tree, decoded bodies), or `None` when it cannot be read.
pub fn parse(raw: &[u8]) -> Option<Message<'_>> {
    contained(|| MessageParser::new().parse(raw))
}

/// The headers only.
pub fn parse_headers(raw: &[u8]) -> Option<Message<'_>> {
    contained(|| MessageParser::new().parse_headers(raw))
}

fn contained<'x>(read: impl FnOnce() -> Option<Message<'x>>) -> Option<Message<'x>> {
    // The parser holds no state of ours, so nothing is left half-changed by an unwind.
    match catch_unwind(AssertUnwindSafe(read)) {
        Ok(message) => message,
        Err(_) => {
            tracing::warn!("the mail parser gave up on a malformed message (a panic, contained)");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_reads_and_garbage_does_not_panic() {
        let m = parse(b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n").expect("a message");
        assert_eq!(m.subject(), Some("hi"));
        // The input fuzzing found: a multipart whose parts end in a state the parser asserts never
        // happens (a panic in builds with debug assertions, as tests are).
        let crash = include_bytes!(
            "../fuzz/artifacts/sniff_and_parse/crash-a722856d9f6ef65dcb5145120a6ad18d0d23e88f"
        );
        let _ = parse(crash);
        let _ = parse_headers(crash);
    }
}
