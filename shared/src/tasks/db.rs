//! SQL that reads and writes tasks and their drafts; no rules, only queries. Status and draft
//! state changes are in `lifecycle`.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::{
    Error,
    tasks::{
        model::{Draft, NewTask, Task},
        objects::NewFile,
        paging::{Cursor, ListQuery, Sort},
    },
};

/// The columns of [`Task`], in its field order, for `select`s of one task.
macro_rules! task_columns {
    () => {
        "id, user_id, title, description, status, file_path, file_name, file_content_type, \
         file_size, due_date, created_at, updated_at, completed_at, result_path, error, \
         detected_content_type, sha256, line_count, word_count, character_count, \
         reading_minutes, paragraph_count, sentence_count, average_sentence_words, chapters, \
         version, word_target, trashed_at, processing_draft, shown_draft"
    };
}

/// [`task_columns`] without the chapters, which a page of tasks leaves out.
const PAGE_COLUMNS: &str = "id, user_id, title, description, status, file_path, file_name, \
     file_content_type, file_size, due_date, created_at, updated_at, completed_at, result_path, \
     error, detected_content_type, sha256, line_count, word_count, character_count, \
     reading_minutes, paragraph_count, sentence_count, average_sentence_words, \
     null::jsonb as chapters, version, word_target, trashed_at, processing_draft, shown_draft";

/// The columns of [`Draft`], in its field order.
macro_rules! draft_columns {
    () => {
        "task_id, number, file_path, file_name, file_content_type, file_size, \
         upload_expires_at, state, error, processing_attempts, result_path, \
         detected_content_type, word_count, reading_minutes, created_at, processed_at"
    };
}

/// Inserts a task; with a file, also its draft 1, which the status follows.
pub(crate) async fn insert(
    tx: &mut sqlx::PgConnection,
    id: Uuid,
    owner: Uuid,
    new: &NewTask,
    file: Option<&NewFile>,
) -> Result<(), Error> {
    sqlx::query!(
        r#"
        insert into tasks (id, user_id, title, description, due_date, word_target, file_path,
                           file_name, file_content_type, file_size, drafts_created, shown_draft,
                           processing_draft)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
        "#,
        id,
        owner,
        new.title,
        new.description,
        new.due_date,
        new.word_target,
        file.map(|f| f.object.url()),
        file.and_then(|f| f.name.clone()),
        file.map(|f| f.content_type.clone()),
        file.map(|f| i64::try_from(f.size).unwrap_or(i64::MAX)),
        i32::from(file.is_some()),
        file.map(|_| 1),
    )
    .execute(&mut *tx)
    .await?;
    if let Some(file) = file {
        insert_draft(&mut *tx, id, 1, file).await?;
    }
    Ok(())
}

/// Records a draft's file; its number comes from [`next_draft_number`] (or is 1, with its task).
pub(crate) async fn insert_draft(
    db: impl PgExecutor<'_>,
    task_id: Uuid,
    number: i32,
    file: &NewFile,
) -> Result<(), Error> {
    sqlx::query!(
        r#"
        insert into task_drafts (task_id, number, file_path, file_name, file_content_type,
                                 file_size, upload_expires_at)
        values ($1, $2, $3, $4, $5, $6, $7)
        "#,
        task_id,
        number,
        file.object.url(),
        file.name.clone(),
        file.content_type.clone(),
        i64::try_from(file.size).unwrap_or(i64::MAX),
        file.upload_expires_at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Takes the next draft number of a task (never one used before), locking its row until the
/// transaction ends; `None` when the task is gone.
pub(crate) async fn next_draft_number(
    tx: &mut sqlx::PgConnection,
    task_id: Uuid,
) -> Result<Option<i32>, Error> {
    let number = sqlx::query_scalar!(
        "update tasks set drafts_created = drafts_created + 1 where id = $1 returning drafts_created",
        task_id,
    )
    .fetch_optional(tx)
    .await?;
    Ok(number)
}

pub(crate) async fn select_by_id(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Task>, Error> {
    let task = sqlx::query_as::<_, Task>(concat!(
        "select ",
        task_columns!(),
        " from tasks where id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(task)
}

/// The task, its row locked until the transaction ends: every write that must see the task as
/// it is (an edit, a move to the trash, a purge, a processor's result) takes this first.
pub(crate) async fn lock(tx: &mut sqlx::PgConnection, id: Uuid) -> Result<Option<Task>, Error> {
    let task = sqlx::query_as::<_, Task>(concat!(
        "select ",
        task_columns!(),
        " from tasks where id = $1 for update"
    ))
    .bind(id)
    .fetch_optional(tx)
    .await?;
    Ok(task)
}

/// The filters of a list query, as SQL over `tasks`: owner, trash, status, title and due date.
fn push_filters(sql: &mut QueryBuilder<Postgres>, owner: Uuid, q: &ListQuery) {
    sql.push(" from tasks where user_id = ").push_bind(owner);
    sql.push(if q.trashed {
        " and trashed_at is not null"
    } else {
        " and trashed_at is null"
    });
    if let Some(status) = q.status {
        sql.push(" and status = ").push_bind(status);
    }
    if let Some(title) = &q.title {
        sql.push(" and title ilike ")
            .push_bind(crate::db::like_pattern(title));
    }
    if let Some(before) = q.due_before {
        sql.push(" and due_date < ").push_bind(before);
    }
}

/// One page of the owner's tasks in `q`'s order, after `q.after` (or from the start).
///
/// Each combination of filters is a statement of its own, holding only the conditions it needs,
/// so the planner picks the index that serves it (a generic plan cannot for `$x is null or …`).
/// The position is a row comparison in the order's own terms, which the index answers too, so a
/// page after a cursor costs the same at any depth.
pub(crate) async fn list(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    q: &ListQuery,
) -> Result<Vec<Task>, Error> {
    let mut sql = list_query("select ", owner, q);
    let tasks = sql.build_query_as::<Task>().fetch_all(db).await?;
    Ok(tasks)
}

/// The plan Postgres runs [`list`]'s statement for `q` with (`explain analyze`, without costs or
/// timings), one line per row: what `make bench` prints to show each filter and order uses an
/// index.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn explain_list(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    q: &ListQuery,
) -> Result<Vec<String>, Error> {
    let mut sql = list_query(
        "explain (analyze, costs off, timing off, summary off) select ",
        owner,
        q,
    );
    let lines = sql.build_query_scalar::<String>().fetch_all(db).await?;
    Ok(lines)
}

/// [`count`]'s plan, as [`explain_list`] gives [`list`]'s.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn explain_count(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    q: &ListQuery,
) -> Result<Vec<String>, Error> {
    let mut sql = QueryBuilder::<Postgres>::new(
        "explain (analyze, costs off, timing off, summary off) select count(*)",
    );
    push_filters(&mut sql, owner, q);
    let lines = sql.build_query_scalar::<String>().fetch_all(db).await?;
    Ok(lines)
}

/// [`list`]'s statement after `head` (`select `, or an `explain` of it).
fn list_query(head: &str, owner: Uuid, q: &ListQuery) -> QueryBuilder<Postgres> {
    let mut sql = QueryBuilder::<Postgres>::new(head);
    sql.push(PAGE_COLUMNS);
    push_filters(&mut sql, owner, q);
    match (q.sort, q.after) {
        (_, None) => {}
        (Sort::CreatedAt, Some(Cursor { created_at, id, .. })) => {
            sql.push(" and (created_at, id) < (")
                .push_bind(created_at)
                .push(", ")
                .push_bind(id)
                .push(")");
        }
        (Sort::DueDate, Some(Cursor { id, due_date, .. })) => {
            sql.push(" and (coalesce(due_date, 'infinity'::timestamptz), id) > (");
            match due_date {
                Some(due) => {
                    sql.push("coalesce(")
                        .push_bind(due)
                        .push("::timestamptz, 'infinity'::timestamptz)");
                }
                // A cursor from before `sort` existed: the task it names gives its due date (a
                // task deleted since gives none, and an empty page).
                None => {
                    sql.push("(select coalesce(due_date, 'infinity'::timestamptz) from tasks where id = ")
                        .push_bind(id)
                        .push(")");
                }
            }
            sql.push(", ").push_bind(id).push(")");
        }
    }
    sql.push(match q.sort {
        Sort::CreatedAt => " order by created_at desc, id desc",
        Sort::DueDate => " order by coalesce(due_date, 'infinity'::timestamptz), id",
    });
    sql.push(" limit ")
        .push_bind(q.limit)
        .push(" offset ")
        .push_bind(q.skip);
    sql
}

/// How many of the owner's tasks match `q`'s filters (an index-only count when the filter is
/// the owner and a status).
pub(crate) async fn count(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    q: &ListQuery,
) -> Result<i64, Error> {
    let mut sql = QueryBuilder::<Postgres>::new("select count(*)");
    push_filters(&mut sql, owner, q);
    let total = sql.build_query_scalar::<i64>().fetch_one(db).await?;
    Ok(total)
}

/// What an owner's edit sets; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Fields {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub due_date: Option<Option<DateTime<Utc>>>,
    pub word_target: Option<Option<i32>>,
}

/// Sets the given fields of a task, in one statement.
pub(crate) async fn update_fields(
    db: impl PgExecutor<'_>,
    id: Uuid,
    fields: &Fields,
) -> Result<(), Error> {
    sqlx::query!(
        r#"
        update tasks
        set title = coalesce($2, title),
            description = case when $3 then $4 else description end,
            due_date = case when $5 then $6 else due_date end,
            word_target = case when $7 then $8 else word_target end
        where id = $1
        "#,
        id,
        fields.title,
        fields.description.is_some(),
        fields.description.clone().flatten(),
        fields.due_date.is_some(),
        fields.due_date.flatten(),
        fields.word_target.is_some(),
        fields.word_target.flatten(),
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Moves a task to the trash at `now` (a task there already keeps its time).
pub(crate) async fn trash(
    db: impl PgExecutor<'_>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "update tasks set trashed_at = $2 where id = $1 and trashed_at is null",
        id,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Takes a task out of the trash.
pub(crate) async fn restore(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), Error> {
    sqlx::query!(
        "update tasks set trashed_at = null where id = $1 and trashed_at is not null",
        id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes a task's row; its drafts and outbox jobs go with it (`on delete cascade`).
pub(crate) async fn delete(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), Error> {
    sqlx::query!("delete from tasks where id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

/// Tasks in the trash since before `before`, oldest first, at most `limit`.
pub(crate) async fn trashed_before(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, Error> {
    let ids = sqlx::query_scalar!(
        "select id from tasks where trashed_at < $1 order by trashed_at limit $2",
        before,
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(ids)
}

/// A task's drafts, oldest first.
pub(crate) async fn drafts(db: impl PgExecutor<'_>, task_id: Uuid) -> Result<Vec<Draft>, Error> {
    let drafts = sqlx::query_as::<_, Draft>(concat!(
        "select ",
        draft_columns!(),
        " from task_drafts where task_id = $1 order by number"
    ))
    .bind(task_id)
    .fetch_all(db)
    .await?;
    Ok(drafts)
}

pub(crate) async fn select_draft(
    db: impl PgExecutor<'_>,
    task_id: Uuid,
    number: i32,
) -> Result<Option<Draft>, Error> {
    let draft = sqlx::query_as::<_, Draft>(concat!(
        "select ",
        draft_columns!(),
        " from task_drafts where task_id = $1 and number = $2"
    ))
    .bind(task_id)
    .bind(number)
    .fetch_optional(db)
    .await?;
    Ok(draft)
}

pub(crate) async fn delete_draft(
    db: impl PgExecutor<'_>,
    task_id: Uuid,
    number: i32,
) -> Result<(), Error> {
    sqlx::query!(
        "delete from task_drafts where task_id = $1 and number = $2",
        task_id,
        number
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Copies to the task the file and figures of the draft it shows: its latest processed draft,
/// else its first; none (all null) when it has no draft left.
pub(crate) async fn show_latest_draft(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), Error> {
    sqlx::query!(
        r#"
        update tasks t
        set (shown_draft, file_path, file_name, file_content_type, file_size, result_path,
             detected_content_type, sha256, line_count, word_count, character_count,
             reading_minutes, paragraph_count, sentence_count, average_sentence_words, chapters) =
            (select d.number, d.file_path, d.file_name, d.file_content_type, d.file_size,
                    d.result_path, d.detected_content_type, d.sha256, d.line_count, d.word_count,
                    d.character_count, d.reading_minutes, d.paragraph_count, d.sentence_count,
                    d.average_sentence_words, d.chapters
             from task_drafts d
             where d.task_id = t.id
             order by d.state = 'PROCESSED' desc,
                      case when d.state = 'PROCESSED' then d.number end desc,
                      d.number
             limit 1)
        where t.id = $1
        "#,
        id,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Direct uploads whose URL expired before `expired_before` and whose file never reached the
/// processor: task, draft and file path, oldest first, at most `limit`.
pub(crate) async fn expired_uploads(
    db: impl PgExecutor<'_>,
    expired_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, i32, String)>, Error> {
    let rows = sqlx::query!(
        r#"
        select task_id, number, file_path from task_drafts
        where state = 'PROCESSING' and processing_attempts = 0 and upload_expires_at < $1
        order by upload_expires_at
        limit $2
        "#,
        expired_before,
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.task_id, r.number, r.file_path))
        .collect())
}

/// Which of `paths` (`s3://` URLs) some draft's file is.
pub(crate) async fn claimed_paths(
    db: impl PgExecutor<'_>,
    paths: &[String],
) -> Result<Vec<String>, Error> {
    let claimed = sqlx::query_scalar!(
        "select file_path from task_drafts where file_path = any($1)",
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
