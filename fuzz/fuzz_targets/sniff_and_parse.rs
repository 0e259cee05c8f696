//! Any byte string through the whole ingest pipeline (sniff, decode, parse) into a sink that stores
//! nothing: it must end in an outcome, never a panic, within the bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use senderscope::ingest::{DryRun, ingest};

fuzz_target!(|data: &[u8]| {
    let _ = ingest(
        &mut &data[..],
        &senderscope::ingest::fuzz_limits(),
        &mut DryRun,
    );
});
