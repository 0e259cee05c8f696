//! mta_sts check (to be written).

use super::{DomainContext, Outcome};

/// How MTA-STS policies are fetched (to be written).
#[derive(Clone, Default)]
pub struct PolicyFetcher {}

/// Run the mta_sts check.
pub async fn check(_cx: &DomainContext) -> Outcome {
    Outcome::default()
}
