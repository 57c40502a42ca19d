//! The sweeper: scheduled housekeeping that keeps anything from waiting forever.
//!
//! Its duty so far: deliver outbox jobs that the create handler could not send.

use serde::Serialize;

use crate::{AppState, Error, files::outbox};

/// Jobs delivered per run; more wait for the next run a minute later.
const BATCH: i64 = 100;

/// What one run did.
#[derive(Debug, Default, Serialize)]
pub struct SweepReport {
    pub jobs_delivered: usize,
}

/// Runs every duty once.
///
/// # Errors
/// [`Error::Database`] when the database is down; the next run tries again.
pub async fn run(state: &AppState) -> Result<SweepReport, Error> {
    let jobs_delivered = outbox::deliver_due(state, BATCH).await?;
    if jobs_delivered > 0 {
        tracing::info!(jobs_delivered, "outbox jobs delivered");
    }
    Ok(SweepReport { jobs_delivered })
}
