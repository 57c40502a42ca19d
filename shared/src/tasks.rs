//! Tasks: create (with an upload to S3 and a job through the outbox), list and get.
//!
//! Operations order the work and own the rules. Beside them: `model` (the record, its status,
//! validated input), `paging` (list parameters and the cursor), `objects` (a task's file and its S3
//! keys), `wire` (request and response shapes), `lifecycle` (every status change), `outbox` (jobs
//! written with their task, then sent), `db` (the other SQL) and `http` (the handlers).

pub mod allowance;
pub mod db;
pub mod http;
pub mod lifecycle;
pub mod model;
pub mod objects;
pub mod outbox;
pub mod paging;
pub mod wire;

use chrono::TimeDelta;
use uuid::Uuid;

use crate::{
    AppState, Error,
    files::{
        message::FileJob,
        storage::{PresignedRequest, StoredObject},
    },
};
use model::{NewTask, Task, TaskStatus};
use objects::{DeclaredFile, NewFile, Upload, incoming_key, upload_key};
use paging::{Cursor, ListQuery};
use wire::ResultDocument;

/// Creates a task; with a file, stores it and queues its processing job.
///
/// The seed's order holds: store the file, create the task `pending` (with its outbox job, in
/// one transaction), queue the job, mark the task `in_progress`. Nothing is lost or left behind
/// on a failure: the object's key is recorded before its PUT and the record is removed in the
/// task's transaction, so an object whose task was never committed (the database down after the
/// PUT, the function killed) is removed now or by the sweeper; SQS down after the commit → the
/// job stays in the outbox and the sweeper delivers it.
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

    let stored = match &upload {
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
                upload.file_name.as_deref(),
            );
            db::insert_pending_upload(&state.db, &key, state.clock.now()).await?;
            state
                .storage
                .put(&key, upload.bytes.clone(), &upload.content_type)
                .await?; // Bytes: no copy
            tracing::info!(bytes = upload.bytes.len(), %key, "upload stored");
            Some(StoredObject {
                bucket: state.storage.root().bucket.clone(),
                key,
            })
        }
        None => None,
    };
    let file = stored
        .as_ref()
        .zip(upload.as_ref())
        .map(|(object, upload)| NewFile {
            object: object.clone(),
            name: upload.file_name.clone(),
            content_type: upload.content_type.clone(),
            size,
            upload_expires_at: None,
        });
    let saved = async {
        let mut tx = state.db.begin().await?;
        allowance::claim(&mut tx, &state.config, owner, size, state.clock.now()).await?;
        db::insert(&mut *tx, task_id, owner, &new, file.as_ref()).await?;
        if let Some(object) = &stored {
            outbox::insert(&mut *tx, &FileJob::new(task_id, object), state.clock.now()).await?;
            db::delete_pending_upload(&mut *tx, &object.key).await?;
        }
        tx.commit().await?;
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = saved {
        // No task owns the object: remove it now; if that fails too, the sweeper will.
        if let Some(object) = &stored {
            match state.storage.delete(&object.key).await {
                Ok(()) => {
                    if let Err(e) = db::delete_pending_upload(&state.db, &object.key).await {
                        tracing::warn!(error.cause_chain = ?e, "upload removed; its record is left for the sweeper");
                    }
                }
                Err(cleanup) => {
                    tracing::warn!(key = %object.key, error.cause_chain = ?cleanup, "upload of an uncreated task left for the sweeper");
                }
            }
        }
        return Err(e);
    }
    if stored.is_some() {
        // Best effort now; whatever this cannot send, the sweeper delivers later.
        if let Err(e) = outbox::deliver(state, task_id).await {
            tracing::warn!(error.cause_chain = ?e, "job left in the outbox for the sweeper");
        }
    }
    db::select_by_id(&state.db, task_id)
        .await?
        .ok_or(Error::NotFound("task"))
}

/// Creates a `pending` task whose file the client uploads straight to S3, and signs that upload.
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
    let key = incoming_key(state.storage.root(), owner, task_id, &declared.name);
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
    let mut tx = state.db.begin().await?;
    allowance::claim(&mut tx, &state.config, owner, file.size, state.clock.now()).await?;
    db::insert(&mut *tx, task_id, owner, &new, Some(&file)).await?;
    tx.commit().await?;
    tracing::info!(bytes = declared.size, key = %file.object.key, "direct upload signed");
    let task = db::select_by_id(&state.db, task_id)
        .await?
        .ok_or(Error::NotFound("task"))?;
    Ok((task, presigned, expires_at))
}

/// How long a download URL stays valid: long enough to start the download, short enough that a
/// leaked link soon stops working.
pub const DOWNLOAD_URL_TTL: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// A presigned URL that downloads the task's original file as an attachment.
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
    let object = task
        .file_path
        .as_deref()
        .and_then(StoredObject::parse)
        .ok_or(Error::NotFound("file"))?;
    if !state.storage.exists(&object.key).await? {
        return Err(if task.status == TaskStatus::Pending {
            Error::Conflict("the file has not been uploaded yet")
        } else {
            Error::NotFound("file")
        });
    }
    let name = task.file_name.as_deref().unwrap_or("upload");
    let presigned = state
        .storage
        .presign_download(&object.key, name, DOWNLOAD_URL_TTL)
        .await?;
    let expires_at =
        state.clock.now() + TimeDelta::from_std(DOWNLOAD_URL_TTL).unwrap_or(TimeDelta::MAX);
    Ok((presigned, expires_at))
}

/// The processing result of a completed task.
///
/// # Errors
/// [`Error::NotFound`]/[`Error::Forbidden`] as for the task, [`Error::Conflict`] when it is not
/// completed.
pub async fn result(state: &AppState, owner: Uuid, id: Uuid) -> Result<ResultDocument, Error> {
    let task = get(state, owner, id).await?;
    let object = match (task.status, task.result_path.as_deref()) {
        (TaskStatus::Completed, Some(path)) => StoredObject::parse(path),
        _ => None,
    }
    .ok_or(Error::Conflict(
        "the task has no result: it is not completed",
    ))?;
    let bytes = state.storage.get(&object.key).await?;
    let document = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::Error::new(e).context(format!("reading {}", object.url())))?;
    Ok(document)
}

/// One page of the owner's tasks and how many match in all.
#[derive(Debug)]
pub struct Page {
    pub tasks: Vec<Task>,
    pub total: i64,
    /// Where the next page starts; `None` when this page was not full.
    pub next: Option<Cursor>,
}

/// One page of the owner's tasks, newest first, and how many match in all.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn list(state: &AppState, owner: Uuid, query: &ListQuery) -> Result<Page, Error> {
    let (tasks, total) = tokio::try_join!(
        db::list(&state.db, owner, query),
        db::count(&state.db, owner, query.status),
    )?;
    let full = i64::try_from(tasks.len()).is_ok_and(|n| n == query.limit);
    let next = tasks.last().filter(|_| full).map(Cursor::after);
    Ok(Page { tasks, total, next })
}

/// One task, if it belongs to `owner`.
///
/// # Errors
/// [`Error::NotFound`] for an unknown id, [`Error::Forbidden`] for another user's task.
pub async fn get(state: &AppState, owner: Uuid, id: Uuid) -> Result<Task, Error> {
    let task = db::select_by_id(&state.db, id)
        .await?
        .ok_or(Error::NotFound("task"))?;
    if task.user_id != owner {
        return Err(Error::Forbidden("this task belongs to another user"));
    }
    Ok(task)
}
