//! The outbox: jobs written in their task's transaction, then delivered to SQS.
//!
//! The create handler delivers at once; whatever it could not send, the sweeper retries with
//! backoff until SQS has it. There is one job per draft. A delivered job starts its task
//! (`pending` → `in_progress`, through [`lifecycle`]) when the task's status follows that draft.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::{AppState, Error, files::message::FileJob, tasks::lifecycle};

/// The longest wait between two delivery attempts.
const MAX_BACKOFF: TimeDelta = TimeDelta::minutes(5);

/// The wait after `attempts` failed sends: 2, 4, 8 … seconds, at most five minutes.
pub fn backoff(attempts: i32) -> TimeDelta {
    let exponent = u32::try_from(attempts.clamp(1, 20)).unwrap_or(20);
    TimeDelta::seconds(2_i64.pow(exponent)).min(MAX_BACKOFF)
}

/// Records `job` for delivery; call inside the transaction that creates its task.
///
/// # Errors
/// [`Error::Database`] when the row cannot be written (the transaction then rolls back).
pub async fn insert(
    db: impl PgExecutor<'_>,
    job: &FileJob,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let payload = serde_json::to_value(job).map_err(anyhow::Error::from)?;
    sqlx::query!(
        "insert into outbox_jobs (task_id, draft, payload, next_attempt_at) values ($1, $2, $3, $4)",
        job.task_id,
        job.draft,
        payload,
        now,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// What one delivery attempt did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// SQS accepted the job and its task is `in_progress` (unless it had moved on already).
    Sent,
    /// The send failed; the job waits for its next attempt.
    Deferred,
    /// Nothing to do: already sent, or another worker holds it right now.
    Skipped,
}

/// How long one delivery attempt holds its job.
///
/// Longer than an SQS send can take ([`crate::aws::SDK_OPERATION_TIMEOUT`]). A worker that dies mid-attempt delays the job by
/// this much, then the sweeper sends it.
pub const LEASE: TimeDelta = TimeDelta::seconds(30);

/// Tries to deliver the job of draft `draft` of `task_id` now.
///
/// The job is claimed with a short lease ([`LEASE`]) in a statement of its own, so the create
/// handler and the sweeper never both send it, and no transaction, row lock or connection is
/// held while SQS answers.
///
/// # Errors
/// [`Error::Database`] only; a failed SQS send is recorded and reported as [`Delivery::Deferred`].
pub async fn deliver(state: &AppState, task_id: Uuid, draft: i32) -> Result<Delivery, Error> {
    let now = state.clock.now();
    let claimed = sqlx::query!(
        r#"
        update outbox_jobs set claimed_until = $3
        where task_id = $1 and draft = $2 and sent_at is null
          and (claimed_until is null or claimed_until < $4)
        returning payload, attempts
        "#,
        task_id,
        draft,
        now + LEASE,
        now,
    )
    .fetch_optional(&state.db)
    .await?;
    let Some(job) = claimed else {
        return Ok(Delivery::Skipped);
    };
    match state.jobs.send(&job.payload.to_string()).await {
        Ok(message_id) => {
            let mut tx = state.db.begin().await?;
            sqlx::query!("update outbox_jobs set sent_at = $3, attempts = attempts + 1, last_error = null, claimed_until = null where task_id = $1 and draft = $2", task_id, draft, state.clock.now())
                .execute(&mut *tx)
                .await?;
            lifecycle::start(&mut *tx, task_id, draft).await?;
            tx.commit().await?;
            tracing::info!(%task_id, draft, message_id, "job queued");
            Ok(Delivery::Sent)
        }
        Err(e) => {
            let attempts = job.attempts + 1;
            let next = now + backoff(attempts);
            tracing::warn!(%task_id, draft, attempts, error.cause_chain = ?e, "job not queued; will retry");
            sqlx::query!(
                "update outbox_jobs set attempts = $3, next_attempt_at = $4, last_error = $5, claimed_until = null where task_id = $1 and draft = $2",
                task_id,
                draft,
                attempts,
                next,
                format!("{e}: {}", std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default()),
            )
            .execute(&state.db)
            .await?;
            Ok(Delivery::Deferred)
        }
    }
}

/// Delivers every due job, oldest first, at most `batch` of them; returns how many were sent.
///
/// # Errors
/// [`Error::Database`] when the outbox cannot be read.
pub async fn deliver_due(state: &AppState, batch: i64) -> Result<usize, Error> {
    let due = sqlx::query!(
        r#"
        select task_id, draft from outbox_jobs
        where sent_at is null and next_attempt_at <= $1 and (claimed_until is null or claimed_until < $1)
        order by next_attempt_at
        limit $2
        "#,
        state.clock.now(),
        batch,
    )
    .fetch_all(&state.db)
    .await?;
    let mut sent = 0;
    for job in due {
        if deliver(state, job.task_id, job.draft).await? == Delivery::Sent {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Deletes jobs SQS accepted before `before`; their tasks have moved on.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn delete_sent_before(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> Result<u64, Error> {
    let result = sqlx::query!("delete from outbox_jobs where sent_at < $1", before)
        .execute(db)
        .await?;
    Ok(result.rows_affected())
}

/// How many jobs wait unsent, and when the oldest was written (the sweeper's metric).
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn unsent(db: impl PgExecutor<'_>) -> Result<(i64, Option<DateTime<Utc>>), Error> {
    let row = sqlx::query!(
        r#"select count(*) as "count!", min(created_at) as oldest from outbox_jobs where sent_at is null"#
    )
    .fetch_one(db)
    .await?;
    Ok((row.count, row.oldest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let waits: Vec<i64> = (1..=10).map(|n| backoff(n).num_seconds()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff(i32::MAX).num_seconds(), 300);
    }
}
