//! SQL for tasks; no rules, only queries.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::{
    Error,
    tasks::model::{ListQuery, NewTask, StoredObject, Task, TaskStatus, Upload},
};

pub(crate) async fn insert(
    db: impl PgExecutor<'_>,
    id: Uuid,
    owner: Uuid,
    new: &NewTask,
    file: Option<(&StoredObject, &Upload)>,
) -> Result<(), Error> {
    sqlx::query!(
        r#"
        insert into tasks (id, user_id, title, description, due_date,
                           file_path, file_name, file_content_type, file_size)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        "#,
        id,
        owner,
        new.title,
        new.description,
        new.due_date,
        file.map(|(object, _)| object.url()),
        file.and_then(|(_, upload)| upload.file_name.clone()),
        file.map(|(_, upload)| upload.content_type.clone()),
        file.map(|(_, upload)| i64::try_from(upload.bytes.len()).unwrap_or(i64::MAX)),
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
               file_name, file_content_type, file_size, due_date, created_at, updated_at
        from tasks
        where id = $1
        "#,
        id,
    )
    .fetch_optional(db)
    .await?;
    Ok(task)
}

/// The owner's tasks, newest first (id breaks ties), optionally of one status.
pub(crate) async fn list(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    q: &ListQuery,
) -> Result<Vec<Task>, Error> {
    let tasks = sqlx::query_as!(
        Task,
        r#"
        select id, user_id, title, description, status as "status: TaskStatus", file_path,
               file_name, file_content_type, file_size, due_date, created_at, updated_at
        from tasks
        where user_id = $1 and ($2::task_status is null or status = $2)
        order by created_at desc, id desc
        limit $3 offset $4
        "#,
        owner,
        q.status as Option<TaskStatus>,
        q.limit,
        q.skip,
    )
    .fetch_all(db)
    .await?;
    Ok(tasks)
}

pub(crate) async fn count(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    status: Option<TaskStatus>,
) -> Result<i64, Error> {
    let total = sqlx::query_scalar!(
        r#"
        select count(*) as "count!" from tasks
        where user_id = $1 and ($2::task_status is null or status = $2)
        "#,
        owner,
        status as Option<TaskStatus>,
    )
    .fetch_one(db)
    .await?;
    Ok(total)
}

/// `pending` → `in_progress`; a task that has moved on already is left alone.
pub(crate) async fn mark_in_progress(db: impl PgExecutor<'_>, id: Uuid) -> Result<bool, Error> {
    let result = sqlx::query!(
        "update tasks set status = 'IN_PROGRESS' where id = $1 and status = 'PENDING'",
        id,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}
