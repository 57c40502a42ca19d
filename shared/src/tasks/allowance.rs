//! What one user may store and create: a storage quota (`USER_QUOTA_BYTES`, 1 GiB) and a
//! creation rate (`TASKS_PER_USER_PER_HOUR`, 100).
//!
//! Uploads count at their size: a multipart file as received, a direct upload as declared (its
//! PUT cannot be larger). [`claim`] decides inside the transaction that creates the task, under
//! a lock on the user, so parallel requests cannot all pass the same check.
//!
//! The rate is a generic cell rate algorithm (GCRA): a burst of up to the hourly number, then one
//! task every hour ÷ that number (36 s at 100). Its state is one timestamp per user,
//! `task_creation_allowance.next_free_at`, and taking an allowance is one upsert that locks that
//! row and reads its latest version ([`push_take_creation`]), so it is exact under concurrency and
//! costs the same at the first task and the millionth.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Config, Error};

/// The creation rate's window.
pub const CREATION_WINDOW: TimeDelta = TimeDelta::hours(1);

/// Pushes the upsert that takes one creation allowance at `now` for the user that `taker`'s
/// `select` yields (one column; no row takes nothing): it answers `user_id` when one was taken,
/// no row when the user has none left. The no-file create's single statement
/// (`tasks::db::insert_signed_in`) and [`claim`]'s transaction both take it this way.
pub(crate) fn push_take_creation(
    sql: &mut QueryBuilder<Postgres>,
    config: &Config,
    now: DateTime<Utc>,
    taker: impl FnOnce(&mut QueryBuilder<Postgres>),
) {
    let (interval, tolerance) = rate(config);
    sql.push("insert into task_creation_allowance as a (user_id, next_free_at) select taker.id, ")
        .push_bind(now)
        .push(" + ")
        .push_bind(interval)
        .push(" * interval '1 microsecond' from (");
    taker(sql);
    sql.push(") as taker (id) where true on conflict (user_id) do update set next_free_at = greatest(a.next_free_at, ")
        .push_bind(now)
        .push(") + ")
        .push_bind(interval)
        .push(" * interval '1 microsecond' where greatest(a.next_free_at, ")
        .push_bind(now)
        .push(") - ")
        .push_bind(tolerance)
        .push(" * interval '1 microsecond' <= ")
        .push_bind(now)
        .push(" returning user_id");
}

/// The GCRA's two constants for `config`, in microseconds: the emission interval (the window
/// ÷ the hourly number) and the tolerance (the window less one interval: the burst).
pub fn rate(config: &Config) -> (i64, i64) {
    let window = CREATION_WINDOW.num_microseconds().unwrap_or(i64::MAX);
    let interval = window / config.tasks_per_user_per_hour.max(1);
    (interval, window - interval)
}

/// When the user whose `next_free_at` this is may create their next task: [`push_take_creation`]'s
/// condition, solved for the time.
fn free_at(config: &Config, next_free_at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let (_, tolerance) = rate(config);
    next_free_at.max(now) - TimeDelta::microseconds(tolerance)
}

/// The refusal when the user's allowance is spent: `Retry-After` is when the next one frees up.
pub fn too_many(config: &Config, next_free_at: DateTime<Utc>, now: DateTime<Utc>) -> Error {
    let wait = (free_at(config, next_free_at, now) - now)
        .num_seconds()
        .max(1)
        .unsigned_abs();
    Error::TooManyTasks {
        retry_after: std::time::Duration::from_secs(wait),
    }
}

/// The user's `next_free_at`, if they ever created a task.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn next_free_at(
    db: impl sqlx::PgExecutor<'_>,
    owner: Uuid,
) -> Result<Option<DateTime<Utc>>, Error> {
    let at = sqlx::query_scalar!(
        "select next_free_at from task_creation_allowance where user_id = $1",
        owner
    )
    .fetch_optional(db)
    .await?;
    Ok(at)
}

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
    let row = read(&mut conn, owner).await?;
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
    if adding_bytes > 0 {
        check_quota(&read(tx, owner).await?, config, adding_bytes)?;
    }
    take_creation(tx, config, owner, now).await
}

/// Takes one creation allowance, or refuses with the time until the next.
async fn take_creation(
    tx: &mut PgConnection,
    config: &Config,
    owner: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let mut sql = QueryBuilder::new("");
    push_take_creation(&mut sql, config, now, |sql| {
        sql.push("select ").push_bind(owner);
    });
    let taken = sql.build().fetch_optional(&mut *tx).await?;
    if taken.is_some() {
        return Ok(());
    }
    let next = next_free_at(&mut *tx, owner).await?.unwrap_or(now);
    Err(too_many(config, next, now))
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
) -> Result<(), Error> {
    crate::db::lock(&mut *tx, &format!("tasks:user:{owner}")).await?;
    check_quota(&read(tx, owner).await?, config, adding_bytes)
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
) -> Result<(), Error> {
    check_quota(&read(conn, owner).await?, config, adding_bytes)
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
    if let Some(next) = next_free_at(&mut *conn, owner).await?
        && free_at(config, next, now) > now
    {
        return Err(too_many(config, next, now));
    }
    check_quota(&read(conn, owner).await?, config, adding_bytes)
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
}

async fn read(conn: &mut PgConnection, owner: Uuid) -> Result<Row, Error> {
    let row = sqlx::query_as!(
        Row,
        r#"
        select (select coalesce(sum(d.file_size), 0)
                from task_drafts d join tasks o on o.id = d.task_id
                where o.user_id = $1)::bigint as "bytes!",
               (select coalesce(sum(n), 0) from task_counts where user_id = $1)::bigint as "tasks!"
        "#,
        owner,
    )
    .fetch_one(conn)
    .await?;
    Ok(row)
}
