//! dmarc check (being written).

use super::{DomainContext, Outcome};

/// Run the dmarc check.
pub async fn check(_cx: &DomainContext) -> Outcome {
    Outcome::default()
}
