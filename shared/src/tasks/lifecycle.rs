//! Every change of a task's status, each one guarded statement; no other module sets `status`.
//!
//! | from → to | who | function |
//! |---|---|---|
//! | `pending` → `in_progress` | the outbox, when SQS accepts the job; the processor, when a direct upload arrives | [`start`] |
//! | `pending`/`in_progress` → `completed` | the processor, with its figures | [`complete`] |
//! | `pending`/`in_progress` → `cancelled` | the processor (a file no retry can read), the sweeper (a dead-lettered job, an upload that never came) | [`cancel`] |
//! | `in_progress` → `cancelled`, for every task stuck past a time | the sweeper | [`cancel_stuck`] |
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

/// Cancels every task `in_progress` since before `since`, returning their ids. Only the move to
/// `in_progress` updates such a task, so `updated_at` is when it started.
pub(crate) async fn cancel_stuck(
    db: impl PgExecutor<'_>,
    since: DateTime<Utc>,
    reason: &str,
) -> Result<Vec<Uuid>, Error> {
    let ids = sqlx::query_scalar!(
        r#"
        update tasks set status = 'CANCELLED', error = $2
        where status = 'IN_PROGRESS' and updated_at < $1
        returning id
        "#,
        since,
        reason,
    )
    .fetch_all(db)
    .await?;
    Ok(ids)
}
