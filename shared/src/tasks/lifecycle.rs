//! Every change of a task's status, each one guarded statement; no other module sets `status`.
//!
//! | from → to | who | function |
//! |---|---|---|
//! | `pending` → `in_progress` | the outbox, when SQS accepts the job | [`start`] |
//! | `pending`/`in_progress` → `in_progress`, one more attempt counted | the processor, for each delivery of the job it receives (a direct upload's first one starts its task) | [`attempt`] |
//! | `pending`/`in_progress` → `completed` | the processor, with its figures | [`complete`] |
//! | `pending`/`in_progress` → `cancelled` | the processor (a file no retry can read), the sweeper (a dead-lettered job, an upload that never came) | [`cancel`] |
//! | `in_progress` → `cancelled`, for every task whose job was tried as often as the queue allows, the last time long ago | the sweeper | [`cancel_exhausted`] |
//!
//! Status only moves forward: each statement names the states it leaves, so a late or repeated
//! caller changes nothing and learns so from the `false` it gets back.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::{Error, files::analysis::TextStats};

/// `pending` → `in_progress`; a task that has moved on already is left alone.
pub(crate) async fn start(db: impl PgExecutor<'_>, id: Uuid) -> Result<bool, Error> {
    let result = sqlx::query!(
        "update tasks set status = 'IN_PROGRESS' where id = $1 and status = 'PENDING'",
        id,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Counts one delivery of the task's job that the processor received, at `now`, and moves a
/// `pending` task (a direct upload that has just arrived) to `in_progress`. False when the task
/// had already finished.
pub(crate) async fn attempt(
    db: impl PgExecutor<'_>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let result = sqlx::query!(
        r#"
        update tasks
        set status = 'IN_PROGRESS', processing_attempts = processing_attempts + 1,
            last_attempt_at = $2
        where id = $1 and status in ('PENDING', 'IN_PROGRESS')
        "#,
        id,
        now,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The processor's figures for a completed task.
#[derive(Clone, Debug)]
pub(crate) struct Completion<'a> {
    pub result_path: &'a str,
    pub content_type: &'a str,
    pub sha256: &'a str,
    pub text: Option<&'a TextStats>,
}

/// `pending`/`in_progress` → `completed`, with the result, in one statement. False when the task
/// had already finished: status only moves forward, whoever gets there first.
pub(crate) async fn complete(
    db: impl PgExecutor<'_>,
    id: Uuid,
    now: DateTime<Utc>,
    done: &Completion<'_>,
) -> Result<bool, Error> {
    let count = |n: Option<u64>| n.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    let result = sqlx::query!(
        r#"
        update tasks
        set status = 'COMPLETED', completed_at = $2, result_path = $3, error = null,
            detected_content_type = $4, sha256 = $5, line_count = $6, word_count = $7,
            character_count = $8, reading_minutes = $9
        where id = $1 and status in ('PENDING', 'IN_PROGRESS')
        "#,
        id,
        now,
        done.result_path,
        done.content_type,
        done.sha256,
        count(done.text.map(|t| t.lines)),
        count(done.text.map(|t| t.words)),
        count(done.text.map(|t| t.characters)),
        done.text.map(|t| t.reading_minutes),
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The longest `error` kept; the column's check allows 1,000 characters.
const MAX_ERROR_CHARS: usize = 1000;

/// `pending`/`in_progress` → `cancelled` with `reason`. False when the task had already finished.
pub(crate) async fn cancel(db: impl PgExecutor<'_>, id: Uuid, reason: &str) -> Result<bool, Error> {
    let reason: String = reason.chars().take(MAX_ERROR_CHARS).collect();
    let result = sqlx::query!(
        r#"
        update tasks set status = 'CANCELLED', error = $2
        where id = $1 and status in ('PENDING', 'IN_PROGRESS')
        "#,
        id,
        reason,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Cancels every task `in_progress` whose job the processor has received `max_attempts` times,
/// the last before `last_before`, returning their ids. A job still waiting in the queue has
/// fewer attempts, however long it has waited, and is never cancelled here.
pub(crate) async fn cancel_exhausted(
    db: impl PgExecutor<'_>,
    max_attempts: i32,
    last_before: DateTime<Utc>,
    reason: &str,
) -> Result<Vec<Uuid>, Error> {
    let ids = sqlx::query_scalar!(
        r#"
        update tasks set status = 'CANCELLED', error = $3
        where status = 'IN_PROGRESS' and processing_attempts >= $1 and last_attempt_at < $2
        returning id
        "#,
        max_attempts,
        last_before,
        reason,
    )
    .fetch_all(db)
    .await?;
    Ok(ids)
}
