//! Configuration against the real filesystem: hot reload through the notify watcher and the reload
//! task. (Parsing and the exact error messages are unit tests in `src/config/tests.rs`, beside the
//! fixtures in `tests/fixtures/config/`.)

mod reload;
