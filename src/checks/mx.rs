//! mx check (to be written).

use super::{DomainContext, Outcome};

/// Run the mx check.
pub async fn check(_cx: &DomainContext) -> Outcome {
    Outcome::default()
}
