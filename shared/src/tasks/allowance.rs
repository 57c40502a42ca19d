//! What one user may store and create: a storage quota (`USER_QUOTA_BYTES`, 1 GiB) and a
//! creation rate (`TASKS_PER_USER_PER_HOUR`, 100).
//!
//! Uploads count at their size: a multipart file as received, a direct upload as declared (its
//! PUT cannot be larger). [`claim`] decides inside the transaction that creates the task, under
//! a lock on the user, so parallel requests cannot all pass the same check.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Config, Error};

/// The creation rate's window.
pub const CREATION_WINDOW: TimeDelta = TimeDelta::hours(1);

/// What a user stores and may store (`GET /auth/me`'s `usage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Usage {
    /// Bytes of every draft stored for the user's tasks, trash included.
    pub bytes: i64,
    /// The most they may store.
    pub quota_bytes: u64,
    /// Their tasks, in all.
    pub tasks: i64,
}

/// The user's usage now.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn usage(db: &sqlx::PgPool, config: &Config, owner: Uuid) -> Result<Usage, Error> {
    let mut conn = db.acquire().await?;
    let row = read(&mut conn, owner, Utc::now()).await?;
    Ok(Usage {
        bytes: row.bytes,
        quota_bytes: config.user_quota_bytes,
        tasks: row.tasks,
    })
}

/// Refuses a new task of `adding_bytes` when it would pass the user's quota or creation rate.
/// Call inside the transaction that inserts the task: the lock it takes lasts until the commit.
///
/// # Errors
/// [`Error::OverQuota`] with the figures, [`Error::TooManyTasks`] with the time until another
/// task may be created.
pub async fn claim(
    tx: &mut PgConnection,
    config: &Config,
    owner: Uuid,
    adding_bytes: u64,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    crate::db::lock(&mut *tx, &format!("tasks:user:{owner}")).await?;
    check(tx, config, owner, adding_bytes, now).await
}

/// [`claim`] for a new draft of an existing task: only the quota applies.
///
/// # Errors
/// [`Error::OverQuota`] with the figures.
pub async fn claim_storage(
    tx: &mut PgConnection,
    config: &Config,
    owner: Uuid,
    adding_bytes: u64,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    crate::db::lock(&mut *tx, &format!("tasks:user:{owner}")).await?;
    check_quota(&read(tx, owner, now).await?, config, adding_bytes)
}

/// [`claim_storage`]'s check without its lock, before a draft's file is put.
///
/// # Errors
/// As [`claim_storage`].
pub async fn check_storage(
    conn: &mut PgConnection,
    config: &Config,
    owner: Uuid,
    adding_bytes: u64,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    check_quota(&read(conn, owner, now).await?, config, adding_bytes)
}

/// [`claim`]'s check without its lock: a quick refusal before a file is put, which `claim`
/// then confirms.
///
/// # Errors
/// As [`claim`].
pub async fn check(
    conn: &mut PgConnection,
    config: &Config,
    owner: Uuid,
    adding_bytes: u64,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let row = read(conn, owner, now).await?;
    if row.recent >= config.tasks_per_user_per_hour {
        let free_at = row.oldest_recent.unwrap_or(now) + CREATION_WINDOW;
        let wait = (free_at - now).num_seconds().max(1).unsigned_abs();
        return Err(Error::TooManyTasks {
            retry_after: std::time::Duration::from_secs(wait),
        });
    }
    check_quota(&row, config, adding_bytes)
}

fn check_quota(row: &Row, config: &Config, adding_bytes: u64) -> Result<(), Error> {
    let used = u64::try_from(row.bytes).unwrap_or(0);
    if adding_bytes > 0 && used.saturating_add(adding_bytes) > config.user_quota_bytes {
        return Err(Error::OverQuota {
            used_bytes: used,
            quota_bytes: config.user_quota_bytes,
            file_bytes: adding_bytes,
        });
    }
    Ok(())
}

struct Row {
    bytes: i64,
    tasks: i64,
    recent: i64,
    oldest_recent: Option<DateTime<Utc>>,
}

async fn read(conn: &mut PgConnection, owner: Uuid, now: DateTime<Utc>) -> Result<Row, Error> {
    let row = sqlx::query_as!(
        Row,
        r#"
        select (select coalesce(sum(d.file_size), 0)
                from task_drafts d join tasks o on o.id = d.task_id
                where o.user_id = $1)::bigint as "bytes!",
               count(*) as "tasks!",
               count(*) filter (where created_at > $2) as "recent!",
               min(created_at) filter (where created_at > $2) as oldest_recent
        from tasks
        where user_id = $1
        "#,
        owner,
        now - CREATION_WINDOW,
    )
    .fetch_one(conn)
    .await?;
    Ok(row)
}
