//! The per-round cache: one entry per (name, type), honouring the answer's TTL, with concurrent identical
//! lookups joined into one query (1,000 domains including `_spf.example.net` cost one query, not 1,000).
//!
//! Failures are shared by the lookups waiting at that moment but never kept: the next lookup asks again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::{Answer, LookupError, Rdata};

/// Which record type a lookup asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum RecordKind {
    Txt,
    A,
    Aaaa,
    Mx,
    Ptr,
    Cname,
}

/// What the upstream gave for one query, with how long it may be reused.
pub(crate) struct Fetched {
    pub result: Result<Answer<Rdata>, LookupError>,
    pub ttl: Duration,
}

struct Entry {
    cell: OnceCell<(Result<Answer<Rdata>, LookupError>, Instant)>,
}

#[derive(Default)]
pub(crate) struct Cache {
    entries: Mutex<HashMap<(String, RecordKind), Arc<Entry>>>,
}

impl Cache {
    /// The cached answer for (name, kind), or the result of `fetch` (joined with any identical lookup
    /// already in flight).
    pub async fn get_or_fetch<F, Fut>(
        &self,
        name: &str,
        kind: RecordKind,
        fetch: F,
    ) -> Result<Answer<Rdata>, LookupError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Fetched>,
    {
        let key = (name.to_owned(), kind);
        let entry = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let fresh = entries.get(&key).is_some_and(|e| match e.cell.get() {
                // Still being fetched: join it.
                None => true,
                Some((_, expires)) => *expires > Instant::now(),
            });
            if !fresh {
                entries.insert(
                    key.clone(),
                    Arc::new(Entry {
                        cell: OnceCell::new(),
                    }),
                );
            }
            entries.get(&key).cloned()
        };
        let Some(entry) = entry else {
            // Unreachable in practice (inserted above); fall back to an uncached lookup.
            return fetch().await.result;
        };
        let (result, _) = entry
            .cell
            .get_or_init(|| async {
                let fetched = fetch().await;
                // Errors are never reused: expire them at once.
                let ttl = if fetched.result.is_ok() {
                    fetched.ttl
                } else {
                    Duration::ZERO
                };
                (fetched.result, Instant::now() + ttl)
            })
            .await;
        result.clone()
    }
}
