//! SQL that reads and writes tasks; no rules, only queries. Status changes are in `lifecycle`.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::{
    Error,
    tasks::{
        model::{NewTask, Task, TaskStatus},
        objects::NewFile,
        paging::{Cursor, ListQuery},
    },
};

pub(crate) async fn insert(
    db: impl PgExecutor<'_>,
    id: Uuid,
    owner: Uuid,
    new: &NewTask,
    file: Option<&NewFile>,
) -> Result<(), Error> {
    sqlx::query!(
        r#"
        insert into tasks (id, user_id, title, description, due_date, file_path, file_name,
                           file_content_type, file_size, upload_expires_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        "#,
        id,
        owner,
        new.title,
        new.description,
        new.due_date,
        file.map(|f| f.object.url()),
        file.and_then(|f| f.name.clone()),
        file.map(|f| f.content_type.clone()),
        file.map(|f| i64::try_from(f.size).unwrap_or(i64::MAX)),
        file.and_then(|f| f.upload_expires_at),
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn select_by_id(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Task>, Error> {
    let task = sqlx::query_as!(
        Task,
        r#"
        select id, user_id, title, description, status as "status: TaskStatus", file_path,
               file_name, file_content_type, file_size, due_date, created_at, updated_at,
               completed_at, result_path, error, detected_content_type, sha256, line_count,
               word_count, character_count, reading_minutes
        from tasks
        where id = $1
        "#,
        id,
    )
    .fetch_optional(db)
    .await?;
    Ok(task)
}

/// The owner's tasks after `q.after` (or from the start), newest first (id breaks ties),
/// optionally of one status.
///
/// Two statements rather than one with `$status is null or …`: a prepared statement's generic
/// plan cannot pick an index for an `or`, so each filter gets the index that serves it. The
/// position is a row comparison the index answers too, so a page after a cursor costs the same
/// at any depth.
pub(crate) async fn list(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    q: &ListQuery,
) -> Result<Vec<Task>, Error> {
    let after = q.after.unwrap_or_else(Cursor::start);
    let tasks = if let Some(status) = q.status {
        sqlx::query_as!(
            Task,
            r#"
            select id, user_id, title, description, status as "status: TaskStatus", file_path,
                   file_name, file_content_type, file_size, due_date, created_at, updated_at,
                   completed_at, result_path, error, detected_content_type, sha256, line_count,
                   word_count, character_count, reading_minutes
            from tasks
            where user_id = $1 and status = $2 and (created_at, id) < ($3, $4)
            order by created_at desc, id desc
            limit $5 offset $6
            "#,
            owner,
            status as TaskStatus,
            after.created_at,
            after.id,
            q.limit,
            q.skip,
        )
        .fetch_all(db)
        .await?
    } else {
        sqlx::query_as!(
            Task,
            r#"
            select id, user_id, title, description, status as "status: TaskStatus", file_path,
                   file_name, file_content_type, file_size, due_date, created_at, updated_at,
                   completed_at, result_path, error, detected_content_type, sha256, line_count,
                   word_count, character_count, reading_minutes
            from tasks
            where user_id = $1 and (created_at, id) < ($2, $3)
            order by created_at desc, id desc
            limit $4 offset $5
            "#,
            owner,
            after.created_at,
            after.id,
            q.limit,
            q.skip,
        )
        .fetch_all(db)
        .await?
    };
    Ok(tasks)
}

/// How many of the owner's tasks there are, optionally of one status (an index-only count).
pub(crate) async fn count(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    status: Option<TaskStatus>,
) -> Result<i64, Error> {
    let total = if let Some(status) = status {
        sqlx::query_scalar!(
            r#"select count(*) as "count!" from tasks where user_id = $1 and status = $2"#,
            owner,
            status as TaskStatus,
        )
        .fetch_one(db)
        .await?
    } else {
        sqlx::query_scalar!(
            r#"select count(*) as "count!" from tasks where user_id = $1"#,
            owner,
        )
        .fetch_one(db)
        .await?
    };
    Ok(total)
}

/// Direct uploads still `pending` after `expired_before`: their URL has expired, and the grace
/// period after it too. Oldest first, at most `limit`.
pub(crate) async fn expired_uploads(
    db: impl PgExecutor<'_>,
    expired_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, String)>, Error> {
    let rows = sqlx::query!(
        r#"
        select id, file_path as "file_path!" from tasks
        where status = 'PENDING' and upload_expires_at < $1 and file_path is not null
        order by upload_expires_at
        limit $2
        "#,
        expired_before,
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.file_path)).collect())
}

/// Which of `paths` (`s3://` URLs) some task's file is.
pub(crate) async fn claimed_paths(
    db: impl PgExecutor<'_>,
    paths: &[String],
) -> Result<Vec<String>, Error> {
    let claimed = sqlx::query_scalar!(
        r#"select file_path as "file_path!" from tasks where file_path = any($1)"#,
        paths,
    )
    .fetch_all(db)
    .await?;
    Ok(claimed)
}

/// Records `key` before its object is put: until the transaction that creates its task removes
/// the record, the object is no task's, and the sweeper deletes it once the record is stale.
pub(crate) async fn insert_pending_upload(
    db: impl PgExecutor<'_>,
    key: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "insert into pending_uploads (object_key, reserved_at) values ($1, $2) on conflict do nothing",
        key,
        now,
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn delete_pending_upload(db: impl PgExecutor<'_>, key: &str) -> Result<(), Error> {
    sqlx::query!("delete from pending_uploads where object_key = $1", key)
        .execute(db)
        .await?;
    Ok(())
}

/// Keys recorded before `before` whose task was never committed, and when, oldest first.
pub(crate) async fn stale_pending_uploads(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(String, DateTime<Utc>)>, Error> {
    let rows = sqlx::query!(
        "select object_key, reserved_at from pending_uploads where reserved_at < $1 order by reserved_at limit $2",
        before,
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.object_key, r.reserved_at))
        .collect())
}
