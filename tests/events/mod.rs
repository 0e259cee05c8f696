//! Bounces and complaints: the fixture corpus (`tests/fixtures/bounces/<case>.eml` beside
//! `<case>.expected.json`), the event store, webhooks and the Postfix log follower.

mod daemon;
mod explained;
mod fixtures;
mod postfix;
mod webhooks;
