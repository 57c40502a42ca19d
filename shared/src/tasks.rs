//! Tasks: create (with an upload to S3 and a job through the outbox), list, get, edit, trash,
//! restore and purge; and their drafts.
//!
//! Operations order the work and own the rules. Beside them: `model` (the records, their states,
//! validated input), `patch` (an owner's edit), `paging` (list parameters and the cursor),
//! `objects` (a draft's file and its S3 keys), `wire` (request and response shapes), `lifecycle`
//! (every status and draft state change), `progress` (toward the word target), `outbox` (jobs
//! written with their draft, then sent), `deletions` (objects deleted after their owner),
//! `allowance` (quota and creation rate), `db` (the other SQL) and `http` (the handlers).

pub mod allowance;
pub mod db;
pub mod deletions;
pub mod drafts;
pub mod edit;
pub mod http;
pub mod lifecycle;
pub mod model;
pub mod objects;
pub mod outbox;
pub mod paging;
pub mod patch;
pub mod progress;
pub mod wire;

use chrono::TimeDelta;
use uuid::Uuid;

use crate::{
    AppState, Error,
    files::{
        message::FileJob,
        storage::{PresignedRequest, StoredObject},
    },
    users::{Caller, Me},
};
use model::{NewTask, Task};
use objects::{DeclaredFile, NewFile, Upload, incoming_key, upload_key};
use paging::{Cursor, ListQuery};
use wire::ResultDocument;

/// Creates a task without a file for its caller: one statement, so one round trip and one
/// transaction, that checks the session, takes a creation allowance and inserts the task
/// (`db::insert_signed_in`).
///
/// # Errors
/// [`Error::Unauthenticated`] when the session is not live, [`Error::Forbidden`] for a
/// deactivated account, [`Error::TooManyTasks`] past the creation rate.
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id, task_id = tracing::field::Empty))]
pub async fn create_as(
    state: &AppState,
    caller: Caller,
    new: NewTask,
) -> Result<(Me, Task), Error> {
    let task_id = Uuid::new_v4();
    tracing::Span::current().record("task_id", tracing::field::display(task_id));
    let now = state.clock.now();
    let (me, task) = db::insert_signed_in(&state.db, &state.config, caller, now, task_id, &new)
        .await?
        .ok_or(Error::Unauthenticated)?;
    let me = me.require_active()?;
    match task {
        Some(task) => Ok((me, task)),
        None => {
            let next = allowance::next_free_at(&state.db, caller.user_id)
                .await?
                .unwrap_or(now);
            Err(allowance::too_many(&state.config, next, now))
        }
    }
}

/// Creates a task; with a file, stores it as draft 1 and queues its processing job.
///
/// The seed's order holds: store the file, create the task `pending` (with its draft and outbox
/// job, in one transaction), queue the job, mark the task `in_progress`. Nothing is lost or left
/// behind on a failure: the object's key is recorded before its PUT and the record is removed in
/// the task's transaction, so an object whose task was never committed (the database down after
/// the PUT, the function killed) is removed now or by the sweeper; SQS down after the commit →
/// the job stays in the outbox and the sweeper delivers it.
///
/// # Errors
/// [`Error::OverQuota`] or [`Error::TooManyTasks`] past the user's allowance; [`Error::Storage`]
/// or [`Error::Database`] when a dependency is down (nothing is left behind).
#[tracing::instrument(skip_all, fields(user_id = %owner, task_id = tracing::field::Empty))]
pub async fn create(
    state: &AppState,
    owner: Uuid,
    new: NewTask,
    upload: Option<Upload>,
) -> Result<Task, Error> {
    let task_id = Uuid::new_v4();
    tracing::Span::current().record("task_id", tracing::field::display(task_id));
    let size = upload.as_ref().map_or(0, |u| u.bytes.len() as u64);
    let file = match &upload {
        Some(upload) => {
            // Refused before the PUT when it is already clear; `claim` below decides for sure.
            allowance::check(
                &mut *state.db.acquire().await?,
                &state.config,
                owner,
                size,
                state.clock.now(),
            )
            .await?;
            let key = upload_key(
                state.storage.root(),
                owner,
                task_id,
                1,
                upload.file_name.as_deref(),
            );
            Some(store_upload(state, key, upload).await?)
        }
        None => None,
    };
    let saved = async {
        let mut tx = state.db.begin().await?;
        allowance::claim(&mut tx, &state.config, owner, size, state.clock.now()).await?;
        db::insert(&mut tx, task_id, owner, &new, file.as_ref()).await?;
        if let Some(file) = &file {
            outbox::insert(
                &mut *tx,
                &FileJob::new(task_id, 1, &file.object),
                state.clock.now(),
            )
            .await?;
            db::delete_pending_upload(&mut *tx, &file.object.key).await?;
        }
        tx.commit().await?;
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = saved {
        if let Some(file) = &file {
            discard_upload(state, &file.object.key).await;
        }
        return Err(e);
    }
    if file.is_some() {
        // Best effort now; whatever this cannot send, the sweeper delivers later.
        if let Err(e) = outbox::deliver(state, task_id, 1).await {
            tracing::warn!(error.cause_chain = ?e, "job left in the outbox for the sweeper");
        }
    }
    db::select_by_id(&state.db, task_id)
        .await?
        .ok_or(Error::NotFound("task"))
}

/// Puts a received file at `key`, recorded first in `pending_uploads` so that the sweeper removes
/// it if no transaction ever claims it.
pub(crate) async fn store_upload(
    state: &AppState,
    key: String,
    upload: &Upload,
) -> Result<NewFile, Error> {
    db::insert_pending_upload(&state.db, &key, state.clock.now()).await?;
    state
        .storage
        .put(&key, upload.bytes.clone(), &upload.content_type)
        .await?; // Bytes: no copy
    tracing::info!(bytes = upload.bytes.len(), %key, "upload stored");
    Ok(NewFile {
        object: StoredObject {
            bucket: state.storage.root().bucket.clone(),
            key,
        },
        name: upload.file_name.clone(),
        content_type: upload.content_type.clone(),
        size: upload.bytes.len() as u64,
        upload_expires_at: None,
    })
}

/// Removes an upload whose transaction failed: no task or draft owns it. If that fails too, the
/// sweeper removes it by its `pending_uploads` record.
pub(crate) async fn discard_upload(state: &AppState, key: &str) {
    match state.storage.delete(key).await {
        Ok(()) => {
            if let Err(e) = db::delete_pending_upload(&state.db, key).await {
                tracing::warn!(error.cause_chain = ?e, "upload removed; its record is left for the sweeper");
            }
        }
        Err(cleanup) => {
            tracing::warn!(%key, error.cause_chain = ?cleanup, "upload nobody owns left for the sweeper");
        }
    }
}

/// A file to upload straight to S3, as signed: the draft's row, the request, and its expiry.
pub(crate) async fn sign_direct_upload(
    state: &AppState,
    key: String,
    declared: DeclaredFile,
) -> Result<(NewFile, PresignedRequest), Error> {
    let ttl = state.config.upload_url_ttl;
    let presigned = state
        .storage
        .presign_upload(&key, declared.size, &declared.content_type, ttl)
        .await?;
    let expires_at = state.clock.now() + TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX);
    let file = NewFile {
        object: StoredObject {
            bucket: state.storage.root().bucket.clone(),
            key,
        },
        name: Some(declared.name),
        content_type: declared.content_type,
        size: declared.size,
        upload_expires_at: Some(expires_at),
    };
    Ok((file, presigned))
}

/// Creates a `pending` task whose file (draft 1) the client uploads straight to S3, and signs
/// that upload.
///
/// Nothing is queued: S3's notification for `incoming/` starts the processing when the object
/// arrives, and the sweeper cancels the task if it never does.
///
/// # Errors
/// [`Error::Storage`] when the URL cannot be signed, [`Error::Database`] when the task cannot be
/// stored (nothing is left behind either way: the URL is signed before the row is written).
#[tracing::instrument(skip_all, fields(user_id = %owner, task_id = tracing::field::Empty))]
pub async fn create_direct(
    state: &AppState,
    owner: Uuid,
    new: NewTask,
    declared: DeclaredFile,
) -> Result<(Task, PresignedRequest, chrono::DateTime<chrono::Utc>), Error> {
    let task_id = Uuid::new_v4();
    tracing::Span::current().record("task_id", tracing::field::display(task_id));
    let key = incoming_key(state.storage.root(), owner, task_id, 1, &declared.name);
    let (file, presigned) = sign_direct_upload(state, key, declared).await?;
    let mut tx = state.db.begin().await?;
    allowance::claim(&mut tx, &state.config, owner, file.size, state.clock.now()).await?;
    db::insert(&mut tx, task_id, owner, &new, Some(&file)).await?;
    tx.commit().await?;
    tracing::info!(bytes = file.size, key = %file.object.key, "direct upload signed");
    let task = db::select_by_id(&state.db, task_id)
        .await?
        .ok_or(Error::NotFound("task"))?;
    Ok((task, presigned, file.upload_expires_at.unwrap_or_default()))
}

/// How long a download URL stays valid: long enough to start the download, short enough that a
/// leaked link soon stops working.
pub const DOWNLOAD_URL_TTL: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// A presigned URL that downloads the file of the task's latest processed draft (else its first)
/// as an attachment.
///
/// # Errors
/// [`Error::NotFound`] for an unknown task or one without a file, [`Error::Forbidden`] for
/// another user's, [`Error::Conflict`] while a direct upload has not arrived.
pub async fn download(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
) -> Result<(PresignedRequest, chrono::DateTime<chrono::Utc>), Error> {
    let task = get(state, owner, id).await?;
    let number = task.shown_draft.ok_or(Error::NotFound("file"))?;
    drafts::download(state, owner, id, number).await
}

/// The processing result of the task's latest processed draft.
///
/// # Errors
/// [`Error::NotFound`]/[`Error::Forbidden`] as for the task, [`Error::Conflict`] when no draft
/// has been processed.
pub async fn result(state: &AppState, owner: Uuid, id: Uuid) -> Result<ResultDocument, Error> {
    let task = get(state, owner, id).await?;
    match (task.shown_draft, task.result_path) {
        (Some(number), Some(_)) => drafts::result(state, owner, id, number).await,
        _ => Err(Error::Conflict(
            "the task has no result: no draft of it has been processed",
        )),
    }
}

/// One page of the owner's tasks and how many match in all.
#[derive(Debug)]
pub struct Page {
    pub tasks: Vec<Task>,
    pub total: i64,
    /// Where the next page starts; `None` when this page was not full.
    pub next: Option<Cursor>,
}

/// One page of the caller's tasks (or of their trash), in the query's order, how many match in
/// all, and the caller: one round trip.
///
/// # Errors
/// [`Error::Unauthenticated`] when the session is not live, [`Error::Forbidden`] for a
/// deactivated account, [`Error::Database`] when the database is down.
pub async fn list(
    state: &AppState,
    caller: Caller,
    query: &ListQuery,
) -> Result<(Me, Page), Error> {
    let (me, tasks, total) = db::list_signed_in(&state.db, caller, state.clock.now(), query)
        .await?
        .ok_or(Error::Unauthenticated)?;
    let me = me.require_active()?;
    let full = i64::try_from(tasks.len()).is_ok_and(|n| n == query.limit);
    let next = tasks.last().filter(|_| full).map(Cursor::after);
    Ok((me, Page { tasks, total, next }))
}

/// One of the caller's tasks, if it is not in the trash, with the caller: one round trip.
///
/// # Errors
/// [`Error::Unauthenticated`] when the session is not live, [`Error::Forbidden`] for a
/// deactivated account or another user's task, [`Error::NotFound`] for an unknown or trashed
/// task.
pub async fn get_as(state: &AppState, caller: Caller, id: Uuid) -> Result<(Me, Task), Error> {
    let (me, task) = db::select_signed_in(&state.db, caller, state.clock.now(), id)
        .await?
        .ok_or(Error::Unauthenticated)?;
    let me = me.require_active()?;
    Ok((me, owned(task, caller.user_id, Trash::Excluded)?))
}

/// One task, if it belongs to `owner` and is not in the trash.
///
/// # Errors
/// [`Error::NotFound`] for an unknown or trashed task, [`Error::Forbidden`] for another user's.
pub async fn get(state: &AppState, owner: Uuid, id: Uuid) -> Result<Task, Error> {
    owned(
        db::select_by_id(&state.db, id).await?,
        owner,
        Trash::Excluded,
    )
}

/// Whether a task in the trash counts as there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trash {
    Excluded,
    Included,
}

/// `task`, if it exists and belongs to `owner` (and, unless `trash` includes it, is not in the
/// trash).
pub(crate) fn owned(task: Option<Task>, owner: Uuid, trash: Trash) -> Result<Task, Error> {
    let task = task.ok_or(Error::NotFound("task"))?;
    if task.user_id != owner {
        return Err(Error::Forbidden("this task belongs to another user"));
    }
    if trash == Trash::Excluded && task.trashed_at.is_some() {
        return Err(Error::NotFound("task"));
    }
    Ok(task)
}
