//! A task's drafts: every upload kept, numbered, each with its own processing and figures.
//!
//! Creating a task with a file makes draft 1, whose processing the task's status follows. A
//! later draft is processed the same way but never changes the status; the task shows the file
//! and figures of its latest processed draft. At most one draft of a task is being processed at
//! a time (a unique index), and a draft number is never used twice, so two drafts' objects never
//! share a key.

use chrono::TimeDelta;
use uuid::Uuid;

use crate::{
    AppState, Error,
    error::ResultExt,
    files::{
        message::FileJob,
        storage::{PresignedRequest, StoredObject},
    },
    tasks::{
        DOWNLOAD_URL_TTL, Trash, allowance, db, deletions, discard_upload,
        edit::{IfMatch, lock_owned, sweep_now},
        get,
        model::{Draft, DraftState},
        objects::{DeclaredFile, NewFile, Upload, incoming_key, upload_key},
        outbox, sign_direct_upload, store_upload,
        wire::ResultDocument,
    },
};

/// What a second upload while one is processed is told.
const BUSY: &str =
    "another draft of this task is still being processed; upload this one when it is done";

/// The unique index that allows one draft being processed per task.
const ONE_PROCESSING: &str = "task_drafts_one_processing_idx";

/// Refuses early when a draft of the task is being processed (the unique index decides for sure).
async fn refuse_while_processing(state: &AppState, task_id: Uuid) -> Result<(), Error> {
    let drafts = db::drafts(&state.db, task_id).await?;
    if drafts.iter().any(|d| d.state == DraftState::Processing) {
        return Err(Error::Conflict(BUSY));
    }
    Ok(())
}

/// Adds a draft from a received file and queues its processing.
///
/// The order is the create's: take the number, store the file (recorded in `pending_uploads`
/// first), then in one transaction the draft, its job and the quota; then send the job.
///
/// # Errors
/// [`Error::Conflict`] while another draft is processed; [`Error::OverQuota`]; those of reading
/// the task; [`Error::Storage`]/[`Error::Database`] when a dependency is down (nothing is left).
#[tracing::instrument(skip_all, fields(user_id = %owner, %task_id, draft = tracing::field::Empty))]
pub async fn add(
    state: &AppState,
    owner: Uuid,
    task_id: Uuid,
    upload: Upload,
) -> Result<Draft, Error> {
    get(state, owner, task_id).await?;
    refuse_while_processing(state, task_id).await?;
    let size = upload.bytes.len() as u64;
    allowance::check_storage(&mut *state.db.acquire().await?, &state.config, owner, size).await?;
    let number = take_number(state, task_id).await?;
    tracing::Span::current().record("draft", number);
    let key = upload_key(
        state.storage.root(),
        owner,
        task_id,
        number,
        upload.file_name.as_deref(),
    );
    let file = store_upload(state, key, &upload).await?;
    let saved = async {
        let mut tx = state.db.begin().await?;
        lock_owned(&mut tx, owner, task_id, Trash::Included, None).await?;
        allowance::claim_storage(&mut tx, &state.config, owner, size).await?;
        db::insert_draft(&mut *tx, task_id, number, &file)
            .await
            .on_constraint(ONE_PROCESSING, Error::Conflict(BUSY))?;
        outbox::insert(
            &mut *tx,
            &FileJob::new(task_id, number, &file.object),
            state.clock.now(),
        )
        .await?;
        db::delete_pending_upload(&mut *tx, &file.object.key).await?;
        tx.commit().await?;
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = saved {
        discard_upload(state, &file.object.key).await;
        return Err(e);
    }
    if let Err(e) = outbox::deliver(state, task_id, number).await {
        tracing::warn!(error.cause_chain = ?e, "job left in the outbox for the sweeper");
    }
    db::select_draft(&state.db, task_id, number)
        .await?
        .ok_or(Error::NotFound("draft"))
}

/// Adds a draft whose file the client uploads straight to S3, and signs that upload; its
/// arrival starts the processing, as for a task's first file.
///
/// # Errors
/// As [`add`], and [`Error::Storage`] when the URL cannot be signed.
#[tracing::instrument(skip_all, fields(user_id = %owner, %task_id, draft = tracing::field::Empty))]
pub async fn add_direct(
    state: &AppState,
    owner: Uuid,
    task_id: Uuid,
    declared: DeclaredFile,
) -> Result<(Draft, PresignedRequest, chrono::DateTime<chrono::Utc>), Error> {
    get(state, owner, task_id).await?;
    refuse_while_processing(state, task_id).await?;
    let number = take_number(state, task_id).await?;
    tracing::Span::current().record("draft", number);
    let key = incoming_key(state.storage.root(), owner, task_id, number, &declared.name);
    let (file, presigned): (NewFile, _) = sign_direct_upload(state, key, declared).await?;
    let mut tx = state.db.begin().await?;
    lock_owned(&mut tx, owner, task_id, Trash::Included, None).await?;
    allowance::claim_storage(&mut tx, &state.config, owner, file.size).await?;
    db::insert_draft(&mut *tx, task_id, number, &file)
        .await
        .on_constraint(ONE_PROCESSING, Error::Conflict(BUSY))?;
    tx.commit().await?;
    let draft = db::select_draft(&state.db, task_id, number)
        .await?
        .ok_or(Error::NotFound("draft"))?;
    Ok((draft, presigned, file.upload_expires_at.unwrap_or_default()))
}

/// The next draft number of a task, in a statement of its own: a number is never used twice,
/// even when the upload it was taken for fails.
async fn take_number(state: &AppState, task_id: Uuid) -> Result<i32, Error> {
    let mut conn = state.db.acquire().await?;
    db::next_draft_number(&mut conn, task_id)
        .await?
        .ok_or(Error::NotFound("task"))
}

/// A task's drafts, oldest first.
///
/// # Errors
/// As reading the task.
pub async fn list(state: &AppState, owner: Uuid, task_id: Uuid) -> Result<Vec<Draft>, Error> {
    get(state, owner, task_id).await?;
    db::drafts(&state.db, task_id).await
}

/// One draft of one of the owner's tasks.
async fn draft(state: &AppState, owner: Uuid, task_id: Uuid, number: i32) -> Result<Draft, Error> {
    get(state, owner, task_id).await?;
    db::select_draft(&state.db, task_id, number)
        .await?
        .ok_or(Error::NotFound("draft"))
}

/// A presigned URL that downloads a draft's file as an attachment.
///
/// # Errors
/// [`Error::NotFound`] for an unknown task or draft, [`Error::Forbidden`] for another user's,
/// [`Error::Conflict`] while a direct upload has not arrived.
pub async fn download(
    state: &AppState,
    owner: Uuid,
    task_id: Uuid,
    number: i32,
) -> Result<(PresignedRequest, chrono::DateTime<chrono::Utc>), Error> {
    let draft = draft(state, owner, task_id, number).await?;
    let object = StoredObject::parse(&draft.file_path).ok_or(Error::NotFound("file"))?;
    if !state.storage.exists(&object.key).await? {
        let awaited = draft.state == DraftState::Processing && draft.processing_attempts == 0;
        return Err(if awaited && draft.upload_expires_at.is_some() {
            Error::Conflict("the file has not been uploaded yet")
        } else {
            Error::NotFound("file")
        });
    }
    let name = draft.file_name.as_deref().unwrap_or("upload");
    let presigned = state
        .storage
        .presign_download(&object.key, name, DOWNLOAD_URL_TTL)
        .await?;
    let expires_at =
        state.clock.now() + TimeDelta::from_std(DOWNLOAD_URL_TTL).unwrap_or(TimeDelta::MAX);
    Ok((presigned, expires_at))
}

/// A processed draft's full result.
///
/// # Errors
/// As [`download`], and [`Error::Conflict`] when the draft is not processed.
pub async fn result(
    state: &AppState,
    owner: Uuid,
    task_id: Uuid,
    number: i32,
) -> Result<ResultDocument, Error> {
    let draft = draft(state, owner, task_id, number).await?;
    let object = match (draft.state, draft.result_path.as_deref()) {
        (DraftState::Processed, Some(path)) => StoredObject::parse(path),
        _ => None,
    }
    .ok_or(Error::Conflict(
        "the draft has no result: it is not processed",
    ))?;
    let bytes = state.storage.get(&object.key).await?;
    let document = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::Error::from(e).context(format!("reading {}", object.url())))?;
    Ok(document)
}

/// Deletes one draft that is not being processed, and its objects (through the deletion
/// outbox); the task then shows its latest processed draft left, if any.
///
/// # Errors
/// As [`download`]; [`Error::Conflict`] while the draft is processed;
/// [`Error::PreconditionFailed`] when `If-Match` does not match the task.
pub async fn delete(
    state: &AppState,
    owner: Uuid,
    task_id: Uuid,
    number: i32,
    precondition: Option<&IfMatch>,
) -> Result<(), Error> {
    let mut tx = state.db.begin().await?;
    lock_owned(&mut tx, owner, task_id, Trash::Excluded, precondition).await?;
    let draft = db::select_draft(&mut *tx, task_id, number)
        .await?
        .ok_or(Error::NotFound("draft"))?;
    if draft.state == DraftState::Processing {
        return Err(Error::Conflict(
            "the draft is still being processed; delete it when it is done",
        ));
    }
    let keys: Vec<String> = [Some(draft.file_path.as_str()), draft.result_path.as_deref()]
        .into_iter()
        .flatten()
        .filter_map(StoredObject::parse)
        .map(|o| o.key)
        .collect();
    let rows = deletions::insert(&mut *tx, &keys, state.clock.now()).await?;
    db::delete_draft(&mut *tx, task_id, number).await?;
    db::show_latest_draft(&mut *tx, task_id).await?;
    tx.commit().await?;
    tracing::info!(%task_id, draft = number, "draft deleted");
    sweep_now(state, &rows).await;
    Ok(())
}
