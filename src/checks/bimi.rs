//! bimi check (to be written).

use super::{DomainContext, Outcome};

/// Run the bimi check.
pub async fn check(_cx: &DomainContext) -> Outcome {
    Outcome::default()
}
