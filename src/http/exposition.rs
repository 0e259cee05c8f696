//! `/metrics` rendering, shared between concurrent scrapes.
//!
//! Encoding 10,000 series takes milliseconds of CPU; under 50 concurrent scrapers on two cores,
//! encoding per request would queue them behind each other. So the rendered text is kept for
//! [`MAX_AGE`], one request at a time renders, and while it does the others get the previous text.
//! The values are the same a scrape would have read a second earlier; Prometheus scrapes every 15 s
//! or more, so nothing is lost.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;

use crate::metrics::Metrics;

/// How long a rendering is served before the next request renders again.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// The shared rendering of one registry.
pub struct Exposition {
    metrics: Arc<Metrics>,
    max_age: Duration,
    cached: Mutex<Option<(Instant, Bytes)>>,
    rendering: tokio::sync::Mutex<()>,
}

impl Exposition {
    /// Serve `metrics`, re-rendering at most once per `max_age` (zero: every request renders).
    pub fn new(metrics: Arc<Metrics>, max_age: Duration) -> Self {
        Exposition {
            metrics,
            max_age,
            cached: Mutex::new(None),
            rendering: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self, fresh_only: bool) -> Option<Bytes> {
        let cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        cached
            .as_ref()
            .filter(|(at, _)| !fresh_only || at.elapsed() < self.max_age)
            .map(|(_, body)| body.clone())
    }

    /// The text exposition format.
    pub async fn text(&self) -> Result<Bytes, prometheus::Error> {
        if let Some(body) = self.cached(true) {
            return Ok(body);
        }
        let guard = match self.rendering.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                // Someone is rendering: serve the previous text rather than queue behind them.
                if let Some(body) = self.cached(false) {
                    return Ok(body);
                }
                self.rendering.lock().await
            }
        };
        if let Some(body) = self.cached(true) {
            return Ok(body);
        }
        let metrics = self.metrics.clone();
        let body = tokio::task::spawn_blocking(move || metrics.render())
            .await
            .map_err(|e| prometheus::Error::Msg(format!("rendering metrics: {e}")))??;
        let body = Bytes::from(body);
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), body.clone()));
        drop(guard);
        Ok(body)
    }
}
