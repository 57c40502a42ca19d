//! The deletion outbox: S3 objects to delete, by key prefix, written in the transaction that
//! deletes what owned them (a purged task, a deleted draft), then swept.
//!
//! A row is swept at once, after its commit, and once more one job visibility timeout later:
//! an upload or a processor run that overlapped the deletion has finished by then (a processor
//! writes a result only under its task's row lock, and finds the task gone after the purge), so
//! nothing it wrote is left behind. A sweep that fails (S3 down) is retried with the outbox's
//! backoff; nothing is lost and nothing leaks.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgExecutor;

use crate::{AppState, Error, tasks::outbox::backoff};

/// Records `prefixes` for deletion; call inside the transaction that deletes their owner.
/// Returns the rows' ids, for [`sweep`] to take up right after the commit.
///
/// # Errors
/// [`Error::Database`] when the rows cannot be written (the transaction then rolls back).
pub(crate) async fn insert(
    db: impl PgExecutor<'_>,
    prefixes: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, Error> {
    let ids = sqlx::query_scalar!(
        r#"
        insert into deletion_outbox (prefix, next_attempt_at)
        select prefix, $2 from unnest($1::text[]) as prefix
        returning id
        "#,
        prefixes,
        now,
    )
    .fetch_all(db)
    .await?;
    Ok(ids)
}

struct Row {
    id: i64,
    prefix: String,
    sweeps: i32,
    attempts: i32,
}

/// Sweeps the rows `ids` now (best effort after a commit: what fails waits for the sweeper).
///
/// # Errors
/// [`Error::Database`] when the outbox cannot be read or updated.
pub async fn sweep(state: &AppState, ids: &[i64]) -> Result<usize, Error> {
    let rows = sqlx::query_as!(
        Row,
        "select id, prefix, sweeps, attempts from deletion_outbox where id = any($1) order by id",
        ids,
    )
    .fetch_all(&state.db)
    .await?;
    sweep_rows(state, rows).await
}

/// Sweeps every row that is due, at most `batch`; returns how many objects were deleted.
///
/// # Errors
/// [`Error::Database`] when the outbox cannot be read or updated.
pub async fn sweep_due(state: &AppState, batch: i64) -> Result<usize, Error> {
    let rows = sqlx::query_as!(
        Row,
        r#"
        select id, prefix, sweeps, attempts from deletion_outbox
        where next_attempt_at <= $1 order by next_attempt_at limit $2
        "#,
        state.clock.now(),
        batch,
    )
    .fetch_all(&state.db)
    .await?;
    sweep_rows(state, rows).await
}

async fn sweep_rows(state: &AppState, rows: Vec<Row>) -> Result<usize, Error> {
    let mut deleted = 0;
    for row in rows {
        match delete_under(state, &row.prefix).await {
            Ok(n) => {
                deleted += n;
                settle(state, &row).await?;
            }
            Err(e) => {
                let attempts = row.attempts + 1;
                tracing::warn!(prefix = %row.prefix, attempts, error.cause_chain = ?e, "objects not deleted; will retry");
                sqlx::query!(
                    "update deletion_outbox set attempts = $2, next_attempt_at = $3, last_error = $4 where id = $1",
                    row.id,
                    attempts,
                    state.clock.now() + backoff(attempts),
                    e.to_string(),
                )
                .execute(&state.db)
                .await?;
            }
        }
    }
    Ok(deleted)
}

/// After a sweep that deleted everything it found: the first schedules the second one
/// visibility timeout later; the second removes the row.
async fn settle(state: &AppState, row: &Row) -> Result<(), Error> {
    if row.sweeps == 0 {
        let again = state.clock.now()
            + TimeDelta::from_std(state.config.job_visibility_timeout).unwrap_or(TimeDelta::MAX);
        sqlx::query!(
            "update deletion_outbox set sweeps = 1, attempts = 0, last_error = null, next_attempt_at = $2 where id = $1 and sweeps = 0",
            row.id,
            again,
        )
        .execute(&state.db)
        .await?;
    } else {
        sqlx::query!("delete from deletion_outbox where id = $1", row.id)
            .execute(&state.db)
            .await?;
    }
    Ok(())
}

/// Deletes every object under `prefix`; returns how many there were.
async fn delete_under(state: &AppState, prefix: &str) -> Result<usize, Error> {
    let (mut deleted, mut after) = (0, None::<String>);
    loop {
        let (keys, next) = state.storage.list_page(prefix, after.as_deref()).await?;
        for key in &keys {
            state.storage.delete(key).await?;
            tracing::info!(%key, "object deleted");
        }
        deleted += keys.len();
        match next {
            Some(last) => after = Some(last),
            None => return Ok(deleted),
        }
    }
}

/// How many rows wait, and when the oldest was written (the sweeper's report).
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn pending(db: impl PgExecutor<'_>) -> Result<i64, Error> {
    let count = sqlx::query_scalar!(r#"select count(*) as "count!" from deletion_outbox"#)
        .fetch_one(db)
        .await?;
    Ok(count)
}
