//! An owner's writes to a task: edit (fields and status), move to the trash, restore, purge.
//!
//! Each runs in one transaction that first locks the task's row, so it sees the task as it is:
//! two tabs, a retry and the processor never interleave with it. `If-Match` ([`IfMatch`]) makes
//! a write conditional on the version the client read.

use uuid::Uuid;

use crate::{
    AppState, Error,
    tasks::{
        Trash, db, deletions,
        lifecycle::{self, Move},
        model::Task,
        objects, owned,
        patch::TaskPatch,
    },
};

/// An `If-Match` header: the write applies only to a task at one of these versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any version of a task that exists.
    Any,
    /// The versions of the strong `ETag`s listed (`"7"`); an entity tag of another form (a weak
    /// one, or not ours) matches nothing, as RFC 9110's strong comparison requires.
    Versions(Vec<i64>),
}

impl IfMatch {
    /// Reads the header's value(s).
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut versions = Vec::new();
        for tag in values.into_iter().flat_map(|v| v.split(',')).map(str::trim) {
            if tag == "*" {
                return Self::Any;
            }
            if let Some(version) = tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .and_then(|t| t.parse().ok())
            {
                versions.push(version);
            }
        }
        Self::Versions(versions)
    }

    /// Whether a write may apply to `task`.
    ///
    /// # Errors
    /// [`Error::PreconditionFailed`] with the task's version when none matches.
    pub fn check(&self, task: &Task) -> Result<(), Error> {
        match self {
            Self::Any => Ok(()),
            Self::Versions(versions) if versions.contains(&task.version) => Ok(()),
            Self::Versions(_) => Err(Error::PreconditionFailed {
                current: task.version,
            }),
        }
    }
}

/// The owner's task, its row locked until the transaction ends, if `If-Match` (when sent)
/// matches it: how every write here begins.
pub(crate) async fn lock_owned(
    tx: &mut sqlx::PgConnection,
    owner: Uuid,
    id: Uuid,
    trash: Trash,
    precondition: Option<&IfMatch>,
) -> Result<Task, Error> {
    let task = owned(db::lock(tx, id).await?, owner, trash)?;
    if let Some(p) = precondition {
        p.check(&task)?;
    }
    Ok(task)
}

/// Applies an owner's patch: all of its members or none.
///
/// A status change follows the lifecycle's owner table; a member equal to the task's value, or a
/// status the task is in already, changes nothing (and leaves the version).
///
/// # Errors
/// [`Error::NotFound`]/[`Error::Forbidden`] as for reading the task;
/// [`Error::PreconditionFailed`] when `If-Match` does not match; [`Error::Invalid`] for a
/// status set by hand to `in_progress`; [`Error::InvalidMove`] for a move the table does not
/// allow.
pub async fn update(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
    patch: &TaskPatch,
    precondition: Option<&IfMatch>,
) -> Result<Task, Error> {
    let mut tx = state.db.begin().await?;
    let task = lock_owned(&mut tx, owner, id, Trash::Excluded, precondition).await?;
    let to = patch
        .status
        .map(|to| lifecycle::owner_move(task.status, to))
        .transpose()?;
    let changes = patch.changes(&task);
    if changes != db::Fields::default() {
        db::update_fields(&mut *tx, id, &changes).await?;
    }
    if let Some(Move::To(to)) = to {
        lifecycle::set_by_owner(&mut *tx, id, task.status, to, state.clock.now()).await?;
        tracing::info!(task_id = %id, from = %task.status, %to, "status set by its owner");
    }
    tx.commit().await?;
    db::select_by_id(&state.db, id)
        .await?
        .ok_or(Error::NotFound("task"))
}

/// Moves a task to the trash: it leaves the list and `GET`, and is purged
/// `TRASH_RETENTION_DAYS` later unless restored. A task already there stays as it is.
///
/// # Errors
/// As [`update`], without the status errors.
pub async fn trash(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
    precondition: Option<&IfMatch>,
) -> Result<(), Error> {
    let mut tx = state.db.begin().await?;
    lock_owned(&mut tx, owner, id, Trash::Included, precondition).await?;
    db::trash(&mut *tx, id, state.clock.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// Takes a task out of the trash, whole: its drafts, figures and status are as they were. A task
/// not in the trash is returned as it is.
///
/// # Errors
/// [`Error::NotFound`]/[`Error::Forbidden`] for an unknown task or another user's.
pub async fn restore(state: &AppState, owner: Uuid, id: Uuid) -> Result<Task, Error> {
    let mut tx = state.db.begin().await?;
    lock_owned(&mut tx, owner, id, Trash::Included, None).await?;
    db::restore(&mut *tx, id).await?;
    tx.commit().await?;
    db::select_by_id(&state.db, id)
        .await?
        .ok_or(Error::NotFound("task"))
}

/// Deletes a task for good, in the trash or not: its row, drafts and jobs at once, and every
/// object it has through the deletion outbox (swept right after the commit, and again later).
///
/// # Errors
/// As [`trash`].
pub async fn purge(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
    precondition: Option<&IfMatch>,
) -> Result<(), Error> {
    let mut tx = state.db.begin().await?;
    let task = lock_owned(&mut tx, owner, id, Trash::Included, precondition).await?;
    let rows = purge_locked(state, &mut tx, &task).await?;
    tx.commit().await?;
    sweep_now(state, &rows).await;
    Ok(())
}

/// Purges `task`, whose row the transaction holds locked; returns the deletion outbox rows to
/// sweep after the commit.
pub(crate) async fn purge_locked(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    task: &Task,
) -> Result<Vec<i64>, Error> {
    let prefixes = objects::task_prefixes(state.storage.root(), task.user_id, task.id);
    let rows = deletions::insert(&mut *tx, &prefixes, state.clock.now()).await?;
    db::delete(&mut *tx, task.id).await?;
    tracing::info!(task_id = %task.id, "task purged");
    Ok(rows)
}

/// How long a request spends sweeping after its commit: with S3 hung, three prefixes at the
/// SDK's 3 s each would outlast the function's timeout, and the rows wait for the sweeper anyway.
pub const SWEEP_NOW_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// Sweeps deletion outbox rows right after their commit, for at most [`SWEEP_NOW_BUDGET`]; what
/// fails or is not reached waits for the sweeper. Returns how many objects were deleted.
pub(crate) async fn sweep_now(state: &AppState, rows: &[i64]) -> usize {
    match tokio::time::timeout(SWEEP_NOW_BUDGET, deletions::sweep(state, rows)).await {
        Ok(Ok(deleted)) => deleted,
        Ok(Err(e)) => {
            tracing::warn!(error.cause_chain = ?e, "objects left in the deletion outbox for the sweeper");
            0
        }
        Err(_) => {
            tracing::warn!("objects left in the deletion outbox for the sweeper: S3 is slow");
            0
        }
    }
}

/// Purges the tasks in the trash since before `before`, at most `limit`; returns how many, and
/// how many of their objects were deleted at once.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn purge_trashed_before(
    state: &AppState,
    before: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> Result<(usize, usize), Error> {
    let (mut purged, mut deleted) = (0, 0);
    for id in db::trashed_before(&state.db, before, limit).await? {
        let mut tx = state.db.begin().await?;
        // Restored or purged meanwhile: left alone.
        let Some(task) = db::lock(&mut tx, id).await? else {
            continue;
        };
        if task.trashed_at.is_none_or(|at| at >= before) {
            continue;
        }
        let rows = purge_locked(state, &mut tx, &task).await?;
        tx.commit().await?;
        deleted += sweep_now(state, &rows).await;
        purged += 1;
    }
    Ok((purged, deleted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_reads_strong_tags_and_the_wildcard() {
        assert_eq!(IfMatch::parse(["\"7\""]), IfMatch::Versions(vec![7]));
        assert_eq!(
            IfMatch::parse(["\"3\", \"4\"", "\"5\""]),
            IfMatch::Versions(vec![3, 4, 5])
        );
        assert_eq!(IfMatch::parse(["*"]), IfMatch::Any);
        // Weak and foreign tags match nothing.
        assert_eq!(
            IfMatch::parse(["W/\"7\"", "\"x\"", "7"]),
            IfMatch::Versions(vec![])
        );
    }
}
