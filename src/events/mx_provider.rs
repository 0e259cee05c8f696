//! The mailbox provider of a hosted domain, from its MX: a webhook or generic event names only the
//! recipient, and `a@corp.example` is Gmail when corp.example's mail goes to `aspmx.l.google.com`
//! (docs/bounces.md, "Mailbox providers"). Consumer domains and events whose answering host is known
//! never need a lookup. Answers are cached per domain, so a busy sender asks once per domain and
//! [`TTL`]; each batch looks up at most [`LOOKUPS_PER_BATCH`] new domains and waits at most [`WAIT`]
//! for them (the rest keep `other` until a later batch), so neither a flood of distinct domains nor
//! a slow resolver holds a webhook's answer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::future::join_all;

use super::model::domain_of;
use super::provider::Provider;
use super::store::{Event, Recorded};
use crate::dns::{Answer, Resolver};

/// How long an answer is kept.
pub const TTL: Duration = Duration::from_secs(6 * 3600);
/// How long a failed lookup (timeout, SERVFAIL) is remembered before asking again.
const FAILED_TTL: Duration = Duration::from_secs(600);
/// Domains remembered at most; when full, expired ones go, then everything.
const MAX_CACHED: usize = 50_000;
/// New domains looked up per batch at most.
pub const LOOKUPS_PER_BATCH: usize = 32;

/// How long a batch waits for its lookups; those still running finish in the background and serve
/// later batches, so a slow resolver never holds a webhook's answer.
pub const WAIT: Duration = Duration::from_millis(300);

/// Provider-by-MX lookups with their cache.
pub struct MxProviders {
    resolver: Resolver,
    known: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    answers: HashMap<String, (Provider, Instant)>,
    in_flight: HashSet<String>,
}

impl MxProviders {
    /// Look up through `resolver`.
    pub fn new(resolver: Resolver) -> Self {
        MxProviders {
            resolver,
            known: Mutex::new(Known::default()),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Set the provider of each event still `other` from its recipient domain's MX, waiting at most
    /// [`WAIT`] for domains not seen before.
    pub async fn refine(self: &Arc<Self>, batch: &mut [Recorded]) {
        let now = Instant::now();
        let mut wanted: Vec<String> = Vec::new();
        {
            let mut known = self.known();
            for r in batch.iter() {
                let Some(domain) = unresolved(&r.event) else {
                    continue;
                };
                let fresh = known
                    .answers
                    .get(&domain)
                    .is_some_and(|(_, until)| *until > now);
                if !fresh
                    && wanted.len() < LOOKUPS_PER_BATCH
                    && known.in_flight.insert(domain.clone())
                {
                    wanted.push(domain);
                }
            }
        }
        if !wanted.is_empty() {
            let me = Arc::clone(self);
            let lookups = tokio::spawn(async move { me.look_up(wanted).await });
            // Past the wait the task goes on alone and fills the cache.
            let _ = tokio::time::timeout(WAIT, lookups).await;
        }
        let known = self.known();
        for r in batch.iter_mut() {
            let Some(domain) = unresolved(&r.event) else {
                continue;
            };
            if let Some((p, _)) = known.answers.get(&domain) {
                set_provider(&mut r.event, *p);
            }
        }
    }

    async fn look_up(&self, domains: Vec<String>) {
        let round = self.resolver.round();
        let answers = join_all(domains.into_iter().map(|d| {
            let round = round.clone();
            async move {
                let answer = round.mx(&d).await;
                (d, answer)
            }
        }))
        .await;
        let now = Instant::now();
        let mut known = self.known();
        if known.answers.len() + answers.len() > MAX_CACHED {
            known.answers.retain(|_, (_, until)| *until > now);
            if known.answers.len() + answers.len() > MAX_CACHED {
                known.answers.clear();
            }
        }
        for (domain, answer) in answers {
            let (provider, ttl) = match answer {
                Ok(Answer::Records(r)) => (
                    r.items
                        .iter()
                        .map(|mx| Provider::of_host(&mx.exchange))
                        .find(|p| *p != Provider::Other)
                        .unwrap_or(Provider::Other),
                    TTL,
                ),
                // No MX, no domain: not a provider's, and that will not change soon.
                Ok(_) => (Provider::Other, TTL),
                Err(_) => (Provider::Other, FAILED_TTL),
            };
            known.in_flight.remove(&domain);
            known.answers.insert(domain, (provider, now + ttl));
        }
    }
}

/// The recipient domain of an event whose provider is not known yet.
fn unresolved(event: &Event) -> Option<String> {
    let (recipient, provider) = match event {
        Event::Delivery(d) | Event::Deferral(d) => (Some(d.recipient.as_str()), d.provider),
        Event::Bounce(b) => (Some(b.recipient.as_str()), b.provider),
        Event::Complaint(c) => (c.recipient.as_deref(), c.provider),
    };
    if provider != Provider::Other {
        return None;
    }
    domain_of(recipient?).filter(|d| Provider::of_domain(d) == Provider::Other)
}

fn set_provider(event: &mut Event, provider: Provider) {
    match event {
        Event::Delivery(d) | Event::Deferral(d) => d.provider = provider,
        Event::Bounce(b) => b.provider = provider,
        Event::Complaint(c) => c.provider = provider,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::testing::{FakeDns, FakeRecord};
    use crate::events::model::Delivery;

    fn delivery(recipient: &str) -> Recorded {
        Recorded {
            key: None,
            at: 0,
            event: Event::Delivery(Delivery {
                recipient: recipient.to_owned(),
                sender_domain: Some("shop.example".to_owned()),
                provider: Provider::Other,
            }),
        }
    }

    fn provider(r: &Recorded) -> Provider {
        match &r.event {
            Event::Delivery(d) => d.provider,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn hosted_domains_take_their_mx_hosts_provider_once_per_domain() {
        let dns = FakeDns::start().await.unwrap();
        dns.add("corp.test", FakeRecord::Mx(10, "aspmx.l.google.com".into()));
        dns.add(
            "m365.test",
            FakeRecord::Mx(0, "m365-test.mail.protection.outlook.com".into()),
        );
        dns.add("own.test", FakeRecord::Mx(10, "mx.own.test".into()));
        let resolver = Resolver::new(&dns.settings()).unwrap();
        let mx = Arc::new(MxProviders::new(resolver.clone()));
        let mut batch = vec![
            delivery("a@corp.test"),
            delivery("b@corp.test"),
            delivery("c@m365.test"),
            delivery("d@own.test"),
            delivery("e@nowhere.test"),
        ];
        mx.refine(&mut batch).await;
        let got: Vec<Provider> = batch.iter().map(provider).collect();
        assert_eq!(
            got,
            [
                Provider::Gmail,
                Provider::Gmail,
                Provider::Microsoft,
                Provider::Other,
                Provider::Other
            ]
        );
        let asked = resolver.queries_sent();
        assert_eq!(asked, 4, "one lookup per distinct domain");
        let mut again = vec![delivery("z@corp.test"), delivery("y@nowhere.test")];
        mx.refine(&mut again).await;
        assert_eq!(provider(&again[0]), Provider::Gmail);
        assert_eq!(resolver.queries_sent(), asked, "answered from the cache");
    }

    #[tokio::test]
    async fn consumer_domains_and_known_providers_are_never_looked_up() {
        let dns = FakeDns::start().await.unwrap();
        let resolver = Resolver::new(&dns.settings()).unwrap();
        let mx = Arc::new(MxProviders::new(resolver.clone()));
        let mut batch = vec![delivery("a@gmail.com"), delivery("b@corp.test")];
        if let Event::Delivery(d) = &mut batch[1].event {
            d.provider = Provider::Yahoo;
        }
        mx.refine(&mut batch).await;
        assert_eq!(resolver.queries_sent(), 0);
        assert_eq!(provider(&batch[1]), Provider::Yahoo);
    }

    #[tokio::test]
    async fn a_silent_resolver_holds_a_batch_no_longer_than_the_wait() {
        let dns = FakeDns::start().await.unwrap();
        dns.timeout("slow.test");
        let mx = Arc::new(MxProviders::new(Resolver::new(&dns.settings()).unwrap()));
        let mut batch = vec![delivery("a@slow.test")];
        let started = Instant::now();
        mx.refine(&mut batch).await;
        assert!(started.elapsed() < WAIT * 3, "{:?}", started.elapsed());
        assert_eq!(provider(&batch[0]), Provider::Other);
        // Still in flight: a second batch does not ask again.
        assert!(mx.known().in_flight.contains("slow.test"));
    }
}
