//! SQL that reads and writes tasks and their drafts; no rules, only queries. Status and draft
//! state changes are in `lifecycle`.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor, Postgres, QueryBuilder, Row, postgres::PgRow};
use uuid::Uuid;

use crate::{
    Config, Error,
    tasks::{
        allowance,
        model::{Draft, NewTask, Task},
        objects::NewFile,
        paging::{Cursor, ListQuery, Sort},
    },
    users::{self, Caller, Me},
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

/// The task `id` and its caller, in one round trip: `None` when the caller's session is not
/// live; the task is `None` when there is none with that id (whoever owns it).
pub(crate) async fn select_signed_in(
    db: impl PgExecutor<'_>,
    caller: Caller,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<Option<(Me, Option<Task>)>, Error> {
    let mut sql = get_statement(caller, now, id);
    let row = sql.build().fetch_optional(db).await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some((users::db::me(&row)?, task_if_any(&row)?)))
}

/// [`select_signed_in`]'s statement: public so that `make bench` runs exactly it under pgbench.
pub fn get_statement(caller: Caller, now: DateTime<Utc>, id: Uuid) -> QueryBuilder<Postgres> {
    let mut sql = users::db::live_session(caller, now);
    sql.push(concat!(
        " select me_is_active, me_time_zone, ",
        task_columns!(),
        " from me left join tasks on tasks.id = "
    ))
    .push_bind(id);
    sql
}

/// The task of a row that may hold none (the null side of a `left join`).
fn task_if_any(row: &PgRow) -> Result<Option<Task>, sqlx::Error> {
    match row.try_get::<Option<Uuid>, _>("id")? {
        Some(_) => Task::from_row(row).map(Some),
        None => Ok(None),
    }
}

/// A new task without a file, created by its caller in one statement (one round trip, one
/// transaction): it checks the session, takes a creation allowance
/// ([`allowance::push_take_creation`]) and inserts the task. `None` when the session is not live;
/// the task is `None` when the caller is deactivated or has no allowance left.
pub(crate) async fn insert_signed_in(
    db: impl PgExecutor<'_>,
    config: &Config,
    caller: Caller,
    now: DateTime<Utc>,
    id: Uuid,
    new: &NewTask,
) -> Result<Option<(Me, Option<Task>)>, Error> {
    let mut sql = create_statement(config, caller, now, id, new);
    let row = sql.build().fetch_optional(db).await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some((users::db::me(&row)?, task_if_any(&row)?)))
}

/// [`insert_signed_in`]'s statement: public so that `make bench` runs exactly it under pgbench.
pub fn create_statement(
    config: &Config,
    caller: Caller,
    now: DateTime<Utc>,
    id: Uuid,
    new: &NewTask,
) -> QueryBuilder<Postgres> {
    let mut sql = users::db::live_session(caller, now);
    sql.push(", allowed as (");
    allowance::push_take_creation(&mut sql, config, now, |sql| {
        sql.push("select me_id from me where me_is_active");
    });
    sql.push(
        "), made as (insert into tasks (id, user_id, title, description, due_date, word_target, \
         drafts_created) select ",
    )
    .push_bind(id)
    .push(", user_id, ")
    .push_bind(&new.title)
    .push(", ")
    .push_bind(&new.description)
    .push(", ")
    .push_bind(new.due_date)
    .push(", ")
    .push_bind(new.word_target)
    .push(concat!(
        ", 0 from allowed returning ",
        task_columns!(),
        ") select me_is_active, me_time_zone, made.* from me left join made on true"
    ));
    sql
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

/// One page of the caller's tasks in `q`'s order, after `q.after` (or from the start), with
/// the total that match and the caller, in one round trip: `None` when the session is not live.
///
/// Each combination of filters is a statement of its own, holding only the conditions it needs,
/// so the planner picks the index that serves it (a generic plan cannot for `$x is null or …`).
/// The position is a row comparison in the order's own terms, which the index answers too, so a
/// page after a cursor costs the same at any depth. The total is [`push_total`]'s.
pub(crate) async fn list_signed_in(
    db: impl PgExecutor<'_>,
    caller: Caller,
    now: DateTime<Utc>,
    q: &ListQuery,
) -> Result<Option<(Me, Vec<Task>, i64)>, Error> {
    let mut sql = list_statement(caller, now, q);
    let rows = sql.build().fetch_all(db).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let me = users::db::me(first)?;
    let total: i64 = first.try_get("me_total")?;
    let tasks = rows
        .iter()
        .filter_map(|row| task_if_any(row).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some((me, tasks, total)))
}

/// [`list_signed_in`]'s statement: public so that `make bench` runs exactly it under pgbench.
pub fn list_statement(caller: Caller, now: DateTime<Utc>, q: &ListQuery) -> QueryBuilder<Postgres> {
    let mut sql = users::db::live_session(caller, now);
    sql.push(" select me_is_active, me_time_zone, (");
    push_total(&mut sql, caller.user_id, q);
    sql.push(") as me_total, page.* from me left join lateral (");
    push_page(&mut sql, caller.user_id, q);
    sql.push(match q.sort {
        Sort::CreatedAt => ") page on true order by page.created_at desc, page.id desc",
        Sort::DueDate => {
            ") page on true order by coalesce(page.due_date, 'infinity'::timestamptz), page.id"
        }
    });
    sql
}

/// The plan of the page in [`list_signed_in`]'s statement for `q`, one line per row.
///
/// `explain analyze`, without costs or timings: what `make bench` prints to show each filter and
/// order uses an index.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn explain_list(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    q: &ListQuery,
) -> Result<Vec<String>, Error> {
    let mut sql = QueryBuilder::new("explain (analyze, costs off, timing off, summary off) ");
    push_page(&mut sql, owner, q);
    let lines = sql.build_query_scalar::<String>().fetch_all(db).await?;
    Ok(lines)
}

/// The plan of [`push_total`]'s count, as [`explain_list`] gives the page's.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn explain_count(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    q: &ListQuery,
) -> Result<Vec<String>, Error> {
    let mut sql =
        QueryBuilder::<Postgres>::new("explain (analyze, costs off, timing off, summary off) ");
    push_total(&mut sql, owner, q);
    let lines = sql.build_query_scalar::<String>().fetch_all(db).await?;
    Ok(lines)
}

/// The `select` of one page of the owner's tasks.
fn push_page(sql: &mut QueryBuilder<Postgres>, owner: Uuid, q: &ListQuery) {
    sql.push("select ").push(PAGE_COLUMNS);
    push_filters(sql, owner, q);
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
}

/// The `select` of how many of the owner's tasks match `q`'s filters.
///
/// Filtered by trash and status alone (every list the board shows), it is a sum over the few
/// rows of `task_counts` the triggers maintain: exact, and as cheap at 100,000 tasks as at 100.
/// A title search or a due date narrows the set, and is counted from the tasks themselves,
/// through the index that serves the filter.
fn push_total(sql: &mut QueryBuilder<Postgres>, owner: Uuid, q: &ListQuery) {
    if q.title.is_none() && q.due_before.is_none() {
        sql.push("select coalesce(sum(n), 0)::bigint from task_counts where user_id = ")
            .push_bind(owner)
            .push(" and trashed = ")
            .push_bind(q.trashed);
        if let Some(status) = q.status {
            sql.push(" and status = ").push_bind(status);
        }
    } else {
        sql.push("select count(*)");
        push_filters(sql, owner, q);
    }
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
