//! Every change of a task's status and of a draft's processing state, each one guarded
//! statement; no other module sets `status` or `state`.
//!
//! A task's status follows the processing of the file given at its creation (draft 1) while
//! `processing_draft` names that draft: the seed's flow. The owner may set the status at any time
//! ([`owner_move`]), which ends that following for good, so nothing that runs later (a
//! redelivered job, a dead letter read again, the sweeper) moves a task its owner has moved.
//! Later drafts have their own state and never change the task's status.
//!
//! | from → to | who | function |
//! |---|---|---|
//! | `pending` → `in_progress` | the outbox, when SQS accepts the job of the draft the status follows | [`start`] |
//! | `pending` → `in_progress`, one more attempt of the draft counted | the processor, for each delivery of a draft's job it receives (a direct upload's first one starts its task) | [`attempt`] |
//! | `pending`/`in_progress` → `completed` | the processor, when the draft the status follows is processed | [`complete`] |
//! | `pending`/`in_progress` → `cancelled` | the processor (a file no retry can read), the sweeper (a dead-lettered job, one tried as often as the queue allows, an upload that never came), when that draft fails | [`fail`], [`fail_exhausted`] |
//! | `pending` → `completed` or `cancelled` | the owner | [`set_by_owner`] |
//! | `in_progress` → `cancelled` | the owner: the job still finishes its draft's figures, but the task stays cancelled | [`set_by_owner`] |
//! | `completed` or `cancelled` → `pending` | the owner (reopen) | [`set_by_owner`] |
//! | to the state it is already in | anyone: nothing changes | [`owner_move`] |
//!
//! A draft is `processing` until it is `processed` ([`complete`]) or `failed` ([`fail`]); each
//! statement names the draft it is about and the state it leaves, so a late or repeated caller
//! changes nothing and learns so from the `false` it gets back.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::{Error, ValidationErrors, files::analysis::TextStats, tasks::model::TaskStatus};

/// What an owner's status change does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    /// The task is in that state already: nothing changes (a retried request is not an error).
    Stay,
    /// The status changes to this.
    To(TaskStatus),
}

/// Whether the owner may move a task from `from` to `to`.
///
/// # Errors
/// [`Error::Invalid`] for `in_progress`, which only processing sets; [`Error::InvalidMove`]
/// (`409`) for any other move the table does not list.
pub fn owner_move(from: TaskStatus, to: TaskStatus) -> Result<Move, Error> {
    use TaskStatus::{Cancelled, Completed, InProgress, Pending};
    match (from, to) {
        _ if from == to => Ok(Move::Stay),
        (_, InProgress) => Err(ValidationErrors::field(
            "status",
            "in_progress is set by processing, not by hand",
        )
        .into()),
        (Pending, Completed | Cancelled)
        | (InProgress, Cancelled)
        | (Completed | Cancelled, Pending) => Ok(Move::To(to)),
        _ => Err(Error::InvalidMove { from, to }),
    }
}

/// The owner's move of a task from `from` to `to` (checked by [`owner_move`]), at `now`.
/// Completing sets `completed_at`; reopening clears it and the last failure's `error`. The task
/// stops following its processing. False when the task was no longer in `from`.
pub(crate) async fn set_by_owner(
    db: impl PgExecutor<'_>,
    id: Uuid,
    from: TaskStatus,
    to: TaskStatus,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let result = sqlx::query!(
        r#"
        update tasks
        set status = $3, processing_draft = null,
            completed_at = case when $3 = 'COMPLETED'::task_status then $4
                                when $3 = 'PENDING'::task_status then null
                                else completed_at end,
            error = case when $3 = 'PENDING'::task_status then null else error end
        where id = $1 and status = $2
        "#,
        id,
        from as TaskStatus,
        to as TaskStatus,
        now,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// `pending` → `in_progress` when the status follows `draft`; a task that has moved on is left
/// alone.
pub(crate) async fn start(db: impl PgExecutor<'_>, id: Uuid, draft: i32) -> Result<bool, Error> {
    let result = sqlx::query!(
        "update tasks set status = 'IN_PROGRESS' where id = $1 and status = 'PENDING' and processing_draft = $2",
        id,
        draft,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Counts one delivery of a draft's job that the processor received, at `now`, and moves its
/// task from `pending` to `in_progress` when the status follows this draft (a direct upload that
/// has just arrived). False when the draft is no longer being processed.
pub(crate) async fn attempt(
    db: impl PgExecutor<'_>,
    id: Uuid,
    draft: i32,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let counted = sqlx::query_scalar!(
        r#"
        with counted as (
            update task_drafts
            set processing_attempts = processing_attempts + 1, last_attempt_at = $3
            where task_id = $1 and number = $2 and state = 'PROCESSING'
            returning task_id
        ), started as (
            update tasks set status = 'IN_PROGRESS'
            where id in (select task_id from counted) and status = 'PENDING' and processing_draft = $2
        )
        select count(*) as "count!" from counted
        "#,
        id,
        draft,
        now,
    )
    .fetch_one(db)
    .await?;
    Ok(counted == 1)
}

/// The processor's figures for a processed draft.
#[derive(Clone, Debug)]
pub(crate) struct Completion<'a> {
    pub result_path: &'a str,
    pub content_type: &'a str,
    pub sha256: &'a str,
    pub text: Option<&'a TextStats>,
}

/// The draft `processing` → `processed` with its figures; its task `completed` when the status
/// follows this draft. False when the draft had finished already: whoever gets there first wins.
/// The caller then shows the latest processed draft on the task (`db::show_latest_draft`).
pub(crate) async fn complete(
    tx: &mut sqlx::PgConnection,
    id: Uuid,
    draft: i32,
    now: DateTime<Utc>,
    done: &Completion<'_>,
) -> Result<bool, Error> {
    let count = |n: Option<u64>| n.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    let chapters = done
        .text
        .map(|t| serde_json::to_value(&t.chapters))
        .transpose()
        .map_err(anyhow::Error::from)?;
    let result = sqlx::query!(
        r#"
        update task_drafts
        set state = 'PROCESSED', processed_at = $3, result_path = $4, error = null,
            detected_content_type = $5, sha256 = $6, line_count = $7, word_count = $8,
            character_count = $9, reading_minutes = $10, paragraph_count = $11,
            sentence_count = $12, average_sentence_words = $13, chapters = $14
        where task_id = $1 and number = $2 and state = 'PROCESSING'
        "#,
        id,
        draft,
        now,
        done.result_path,
        done.content_type,
        done.sha256,
        count(done.text.map(|t| t.lines)),
        count(done.text.map(|t| t.words)),
        count(done.text.map(|t| t.characters)),
        done.text.map(|t| t.reading_minutes),
        count(done.text.map(|t| t.paragraphs)),
        count(done.text.map(|t| t.sentences)),
        done.text.and_then(|t| t.average_sentence_words),
        chapters,
    )
    .execute(&mut *tx)
    .await?;
    if result.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query!(
        r#"
        update tasks set status = 'COMPLETED', completed_at = $3, error = null, processing_draft = null
        where id = $1 and processing_draft = $2 and status in ('PENDING', 'IN_PROGRESS')
        "#,
        id,
        draft,
        now,
    )
    .execute(&mut *tx)
    .await?;
    Ok(true)
}

/// The longest `error` kept; the columns' checks allow 1,000 characters.
const MAX_ERROR_CHARS: usize = 1000;

/// The draft `processing` → `failed` with `reason`; its task `cancelled` with the same reason
/// when the status follows this draft. False when the draft had finished already.
pub(crate) async fn fail(
    db: impl PgExecutor<'_>,
    id: Uuid,
    draft: i32,
    reason: &str,
) -> Result<bool, Error> {
    let reason: String = reason.chars().take(MAX_ERROR_CHARS).collect();
    let failed = sqlx::query_scalar!(
        r#"
        with failed as (
            update task_drafts set state = 'FAILED', error = $3
            where task_id = $1 and number = $2 and state = 'PROCESSING'
            returning task_id
        ), cancelled as (
            update tasks set status = 'CANCELLED', error = $3, processing_draft = null
            where id in (select task_id from failed) and processing_draft = $2
              and status in ('PENDING', 'IN_PROGRESS')
        )
        select count(*) as "count!" from failed
        "#,
        id,
        draft,
        reason,
    )
    .fetch_one(db)
    .await?;
    Ok(failed == 1)
}

/// Fails every draft being processed whose job the processor has received `max_attempts` times,
/// the last before `last_before` (cancelling the tasks whose status follows it), returning task
/// and draft. A job still waiting in the queue has fewer attempts, however long it has waited,
/// and is never failed here.
pub(crate) async fn fail_exhausted(
    db: impl PgExecutor<'_>,
    max_attempts: i32,
    last_before: DateTime<Utc>,
    reason: &str,
) -> Result<Vec<(Uuid, i32)>, Error> {
    let rows = sqlx::query!(
        r#"
        with failed as (
            update task_drafts set state = 'FAILED', error = $3
            where state = 'PROCESSING' and processing_attempts >= $1 and last_attempt_at < $2
            returning task_id, number
        ), cancelled as (
            update tasks t set status = 'CANCELLED', error = $3, processing_draft = null
            from failed f
            where t.id = f.task_id and t.processing_draft = f.number
              and t.status in ('PENDING', 'IN_PROGRESS')
        )
        select task_id, number from failed
        "#,
        max_attempts,
        last_before,
        reason,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.task_id, r.number)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::{Cancelled, Completed, InProgress, Pending};

    #[test]
    fn the_owner_moves_exactly_the_table_allows() {
        let all = [Pending, InProgress, Completed, Cancelled];
        for from in all {
            for to in all {
                let expected = match (from, to) {
                    _ if from == to => "stay",
                    (_, InProgress) => "422",
                    (Pending, Completed | Cancelled)
                    | (InProgress, Cancelled)
                    | (Completed | Cancelled, Pending) => "move",
                    _ => "409",
                };
                let got = match owner_move(from, to) {
                    Ok(Move::Stay) => "stay",
                    Ok(Move::To(t)) if t == to => "move",
                    Ok(Move::To(_)) => "wrong target",
                    Err(Error::Invalid(_)) => "422",
                    Err(Error::InvalidMove { .. }) => "409",
                    Err(_) => "other",
                };
                assert_eq!(got, expected, "{from} → {to}");
            }
        }
    }

    #[test]
    fn a_refused_move_names_both_states() {
        let refused = owner_move(Completed, Cancelled).expect_err("not in the table");
        let detail = refused.to_string();
        assert!(
            detail.contains("completed") && detail.contains("cancelled"),
            "{detail}"
        );
    }
}
