//! Any byte string through the whole ingest pipeline (sniff, decode, parse) into a sink that stores
//! nothing: it must end in an outcome, never a panic, within the bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use senderscope::ingest::{DryRun, ingest};

fuzz_target!(
    init: {
        // libFuzzer's hook aborts on every panic, even one that is caught. The daemon contains the mail
        // parser's panics (src/mail.rs: its debug assertions fire on malformed MIME nesting), so those
        // pass here too; any other panic still aborts, caught or not.
        let abort_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_mail_parser = info
                .location()
                .is_some_and(|at| at.file().contains("/mail-parser-"));
            if !in_mail_parser {
                abort_hook(info);
            }
        }));
    },
    |data: &[u8]| {
        let _ = ingest(
            &mut &data[..],
            &senderscope::ingest::fuzz_limits(),
            &mut DryRun,
        );
    }
);
