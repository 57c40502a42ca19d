//! Tasks: create (with an upload to S3 and a job through the outbox), list and get.
//!
//! Operations order the work and own the rules; SQL is in `tasks::db`, the wire in `tasks::http`.

pub mod db;
pub mod http;
pub mod model;

use uuid::Uuid;

use crate::{
    AppState, Error,
    files::outbox::{self, FileJob},
};
use model::{ListQuery, NewTask, StoredObject, Task, Upload, upload_key};

/// Creates a task; with a file, stores it and queues its processing job.
///
/// The seed's order holds: store the file, create the task `pending` (with its outbox job, in
/// one transaction), queue the job, mark the task `in_progress`. Nothing is lost on a failure:
/// S3 down → no row; the database down after the upload → the object is removed; SQS down
/// after the commit → the job stays in the outbox and the sweeper delivers it.
///
/// # Errors
/// [`Error::Storage`] or [`Error::Database`] when a dependency is down (nothing is left behind).
#[tracing::instrument(skip_all, fields(user_id = %owner, task_id = tracing::field::Empty))]
pub async fn create(
    state: &AppState,
    owner: Uuid,
    new: NewTask,
    upload: Option<Upload>,
) -> Result<Task, Error> {
    let task_id = Uuid::new_v4();
    tracing::Span::current().record("task_id", tracing::field::display(task_id));

    let stored = match &upload {
        Some(upload) => {
            let key = upload_key(
                state.storage.root(),
                owner,
                task_id,
                upload.file_name.as_deref(),
            );
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
    let file = stored.as_ref().zip(upload.as_ref());
    let saved = async {
        let mut tx = state.db.begin().await?;
        db::insert(&mut *tx, task_id, owner, &new, file).await?;
        if let Some(object) = &stored {
            outbox::insert(&mut *tx, &FileJob::new(task_id, object), state.clock.now()).await?;
        }
        tx.commit().await?;
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = saved {
        // No row points at the object: nothing would ever clean it up later.
        if let Some(object) = &stored
            && let Err(cleanup) = state.storage.delete(&object.key).await
        {
            tracing::error!(key = %object.key, error.cause_chain = ?cleanup, "orphaned upload not removed");
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

/// One page of the owner's tasks, newest first, and how many match in all.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn list(
    state: &AppState,
    owner: Uuid,
    query: &ListQuery,
) -> Result<(Vec<Task>, i64), Error> {
    let (tasks, total) = tokio::try_join!(
        db::list(&state.db, owner, query),
        db::count(&state.db, owner, query.status),
    )?;
    Ok((tasks, total))
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
