//! HTTP adapters for tasks and their drafts: extract, call one operation, shape the response.

use std::collections::HashMap;

use axum::{
    Json,
    extract::{
        FromRequest, FromRequestParts, Multipart, Path, Request, State, multipart::MultipartError,
    },
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::{
    AppState, Error, ValidationErrors,
    http::{
        error::ErrorBody,
        extract::{ApiJson, ApiQuery, CurrentUser, SignedIn},
    },
    tasks::{
        self, drafts,
        edit::{self, IfMatch},
        model::{NewTask, Task, WordTarget},
        objects::Upload,
        paging::ListParams,
        patch::TaskPatch,
        progress::Today,
        wire::{
            CreateDirectUploadJson, CreateDraftUploadJson, CreateTaskJson, CreateTaskMultipart,
            DirectUploadView, DownloadView, DraftList, DraftUploadView, DraftView, ResultDocument,
            TaskPage, TaskPatchJson, TaskView, UploadInstructions,
        },
    },
    users::{self, Me},
};

/// Today for the signed-in writer, in their time zone.
fn today(state: &AppState, current: &CurrentUser) -> Today {
    Today::of(&current.user.time_zone, state.clock.now())
}

/// Today for a caller known through a one-round-trip statement.
fn today_for(state: &AppState, me: &Me) -> Today {
    Today::of(&me.time_zone, state.clock.now())
}

/// A task response: the view, with the task's `ETag`.
fn with_etag(task: Task, today: &Today, status: StatusCode) -> Response {
    let etag = HeaderValue::from_str(&task.etag()).ok();
    let mut response = (status, Json(TaskView::new(task, today))).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// Creates a task, optionally with a file that is stored and queued for processing.
#[utoipa::path(
    post,
    path = "/api/v1/tasks",
    operation_id = "create_task",
    tag = "tasks",
    request_body(content(
        (CreateTaskMultipart = "multipart/form-data"),
        (CreateTaskJson = "application/json"),
    )),
    responses(
        (status = 202, description = "Created; with a file, its processing is under way", body = TaskView, headers(("ETag" = String, description = "The task's version, for `If-Match`"))),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Deactivated account, or a cross-site request", body = ErrorBody),
        (status = 413, description = "The file is larger than `MAX_UPLOAD_BYTES`, or would take the user's uploads past `USER_QUOTA_BYTES` (the detail gives the figures)", body = ErrorBody),
        (status = 415, description = "Neither multipart/form-data nor JSON", body = ErrorBody),
        (status = 422, description = "A field is invalid, or the file is empty", body = ErrorBody),
        (status = 429, description = "Past the creation rate: a burst of `TASKS_PER_USER_PER_HOUR` tasks, then one every hour ÷ that number; see `Retry-After`", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Submission(new, upload): Submission,
) -> Result<Response, Error> {
    let (task, today) = match upload {
        None => {
            let (me, task) = tasks::create_as(&state, caller, new).await?;
            (task, today_for(&state, &me))
        }
        Some(upload) => {
            let user = users::user_of(&state, caller).await?;
            let task = tasks::create(&state, user.id, new, Some(upload)).await?;
            (task, Today::of(&user.time_zone, state.clock.now()))
        }
    };
    Ok(with_etag(task, &today, StatusCode::ACCEPTED))
}

/// The caller's tasks (or their trash), in the order asked for, with the total that match.
#[utoipa::path(
    get,
    path = "/api/v1/tasks",
    operation_id = "list_tasks",
    tag = "tasks",
    params(ListParams),
    responses(
        (status = 200, description = "A page of the caller's tasks", body = TaskPage),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Deactivated account", body = ErrorBody),
        (status = 422, description = "A parameter is out of range or unknown", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<TaskPage>, Error> {
    let (me, page) = tasks::list(&state, caller, &params.parse()?).await?;
    let today = today_for(&state, &me);
    Ok(Json(TaskPage {
        tasks: page
            .tasks
            .into_iter()
            .map(|t| TaskView::new(t, &today))
            .collect(),
        total: page.total,
        next: page.next.map(|cursor| cursor.encode()),
    }))
}

/// One of the caller's tasks, with its chapters.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{task_id}",
    operation_id = "get_task",
    tag = "tasks",
    params(("task_id" = Uuid, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The task", body = TaskView, headers(("ETag" = String, description = "The task's version, for `If-Match`"))),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The task belongs to another user", body = ErrorBody),
        (status = 404, description = "No such task, or it is in the trash", body = ErrorBody),
        (status = 422, description = "`task_id` is not a UUID", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(task_id): Path<String>,
) -> Result<Response, Error> {
    let task_id = parse_task_id(&task_id)?;
    let (me, task) = tasks::get_as(&state, caller, task_id).await?;
    Ok(with_etag(task, &today_for(&state, &me), StatusCode::OK))
}

/// `If-Match`, when the request sends one.
#[derive(Debug)]
pub struct Precondition(pub Option<IfMatch>);

impl<S: Send + Sync> FromRequestParts<S> for Precondition {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        Ok(Self(if_match(&parts.headers)))
    }
}

fn if_match(headers: &HeaderMap) -> Option<IfMatch> {
    let values: Vec<&str> = headers
        .get_all(header::IF_MATCH)
        .iter()
        .map(|v| v.to_str().unwrap_or_default())
        .collect();
    (!values.is_empty()).then(|| IfMatch::parse(values))
}

/// Edits a task: a JSON merge patch of its fields and status, all applied or none.
///
/// `null` clears a field that may be empty. The status moves as the owner may: `completed` or
/// `cancelled` from `pending`, `cancelled` from `in_progress` (its processing still finishes
/// the draft's figures), `pending` from `completed` or `cancelled` (reopen); the state it is in
/// already changes nothing. With `If-Match`, the edit applies only to that version.
#[utoipa::path(
    patch,
    path = "/api/v1/tasks/{task_id}",
    operation_id = "update_task",
    tag = "tasks",
    params(
        ("task_id" = Uuid, Path, description = "The task's id"),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[!#-~]*"( *, *(W/)?"[!#-~]*")*)$"#, description = "The `ETag` the edit is based on; another version gets `412`"),
    ),
    request_body(content(
        (TaskPatchJson = "application/merge-patch+json"),
        (TaskPatchJson = "application/json"),
    )),
    responses(
        (status = 200, description = "The task as edited", body = TaskView, headers(("ETag" = String, description = "The task's version, for `If-Match`"))),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The task belongs to another user, or a cross-site request", body = ErrorBody),
        (status = 404, description = "No such task, or it is in the trash", body = ErrorBody),
        (status = 409, description = "A status move the lifecycle does not allow; the detail names both states", body = ErrorBody),
        (status = 412, description = "`If-Match` names a version the task has moved past; `ETag` gives the current one", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A member is invalid, unknown, or `status` is `in_progress` or `null`", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(task_id): Path<String>,
    Precondition(precondition): Precondition,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, Error> {
    let task_id = parse_task_id(&task_id)?;
    let patch = TaskPatch::parse(&body)?;
    let task = edit::update(
        &state,
        current.user.id,
        task_id,
        &patch,
        precondition.as_ref(),
    )
    .await?;
    Ok(with_etag(task, &today(&state, &current), StatusCode::OK))
}

/// `DELETE /api/v1/tasks/{task_id}`'s query string.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// `true`: delete the task and all its files now, instead of moving it to the trash.
    #[param(value_type = Option<bool>, default = false)]
    pub permanent: Option<String>,
}

/// Moves a task to the trash (restorable for `TRASH_RETENTION_DAYS`, 30 by default), or with
/// `permanent=true` deletes it, its drafts and its files at once (in the trash or not).
#[utoipa::path(
    delete,
    path = "/api/v1/tasks/{task_id}",
    operation_id = "delete_task",
    tag = "tasks",
    params(
        ("task_id" = Uuid, Path, description = "The task's id"),
        DeleteParams,
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[!#-~]*"( *, *(W/)?"[!#-~]*")*)$"#, description = "The `ETag` the deletion is based on; another version gets `412`"),
    ),
    responses(
        (status = 204, description = "In the trash, or deleted for good"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The task belongs to another user, or a cross-site request", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 412, description = "`If-Match` names a version the task has moved past", body = ErrorBody),
        (status = 422, description = "`task_id` is not a UUID, or `permanent` is not a boolean", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(task_id): Path<String>,
    Precondition(precondition): Precondition,
    ApiQuery(params): ApiQuery<DeleteParams>,
) -> Result<StatusCode, Error> {
    let task_id = parse_task_id(&task_id)?;
    let permanent = match params
        .permanent
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(_) => {
            return Err(ValidationErrors::at(
                &["query", "permanent"],
                "must be true or false",
                "bool_parsing",
            )
            .into());
        }
    };
    if permanent {
        edit::purge(&state, current.user.id, task_id, precondition.as_ref()).await?;
    } else {
        edit::trash(&state, current.user.id, task_id, precondition.as_ref()).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a task out of the trash, as it was.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{task_id}/restore",
    operation_id = "restore_task",
    tag = "tasks",
    params(("task_id" = Uuid, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The task, out of the trash (a task not in it is returned as it is)", body = TaskView, headers(("ETag" = String, description = "The task's version, for `If-Match`"))),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The task belongs to another user, or a cross-site request", body = ErrorBody),
        (status = 404, description = "No such task (a purged one included)", body = ErrorBody),
        (status = 422, description = "`task_id` is not a UUID", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn restore(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(task_id): Path<String>,
) -> Result<Response, Error> {
    let task_id = parse_task_id(&task_id)?;
    let task = edit::restore(&state, current.user.id, task_id).await?;
    Ok(with_etag(task, &today(&state, &current), StatusCode::OK))
}

/// Creates a task whose file the client then uploads straight to S3, for files too large to
/// pass through the API (up to `MAX_DIRECT_UPLOAD_BYTES`, 100 MiB by default).
///
/// Send the file with `upload.method` to `upload.url`, with exactly `upload.headers` and the
/// declared number of bytes, before `upload.expires_at`. Its arrival starts the processing.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/uploads",
    operation_id = "create_upload",
    tag = "tasks",
    request_body(content = CreateDirectUploadJson, content_type = "application/json"),
    responses(
        (status = 201, description = "The task, pending until the file arrives, and how to upload it", body = DirectUploadView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Deactivated account, or a cross-site request", body = ErrorBody),
        (status = 413, description = "The declared size is larger than `MAX_DIRECT_UPLOAD_BYTES`, or would take the user's uploads past `USER_QUOTA_BYTES` (the detail gives the figures)", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
        (status = 429, description = "Past the creation rate: a burst of `TASKS_PER_USER_PER_HOUR` tasks, then one every hour ÷ that number; see `Retry-After`", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn create_upload(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(body): ApiJson<CreateDirectUploadJson>,
) -> Result<(StatusCode, Json<DirectUploadView>), Error> {
    let (new, declared) = body.parse(state.config.max_direct_upload_bytes)?;
    let (task, presigned, expires_at) =
        tasks::create_direct(&state, current.user.id, new, declared).await?;
    Ok((
        StatusCode::CREATED,
        Json(DirectUploadView {
            task: TaskView::new(task, &today(&state, &current)),
            upload: instructions(&presigned, expires_at),
        }),
    ))
}

fn instructions(
    presigned: &crate::files::storage::PresignedRequest,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> UploadInstructions {
    UploadInstructions {
        method: presigned.method().to_owned(),
        url: presigned.uri().to_owned(),
        headers: presigned
            .headers()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect(),
        expires_at,
    }
}

/// A short-lived URL that downloads the file of the task's latest processed draft (as an
/// attachment, never rendered).
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{task_id}/file",
    operation_id = "download_task_file",
    tag = "tasks",
    params(("task_id" = Uuid, Path, description = "The task's id")),
    responses(
        (status = 200, description = "A presigned download URL, valid for 5 minutes", body = DownloadView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The task belongs to another user", body = ErrorBody),
        (status = 404, description = "No such task, or the task has no file", body = ErrorBody),
        (status = 409, description = "The direct upload has not arrived yet", body = ErrorBody),
        (status = 422, description = "`task_id` is not a UUID", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn download(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(task_id): Path<String>,
) -> Result<Json<DownloadView>, Error> {
    let task_id = parse_task_id(&task_id)?;
    let (presigned, expires_at) = tasks::download(&state, current.user.id, task_id).await?;
    Ok(Json(DownloadView {
        url: presigned.uri().to_owned(),
        expires_at,
    }))
}

/// The full processing result of the task's latest processed draft.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{task_id}/result",
    operation_id = "get_task_result",
    tag = "tasks",
    params(("task_id" = Uuid, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The result the file processor stored", body = ResultDocument),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The task belongs to another user", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "No draft of the task has been processed", body = ErrorBody),
        (status = 422, description = "`task_id` is not a UUID", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn result(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(task_id): Path<String>,
) -> Result<Json<ResultDocument>, Error> {
    let task_id = parse_task_id(&task_id)?;
    Ok(Json(tasks::result(&state, current.user.id, task_id).await?))
}

/// The drafts of one of the caller's tasks, oldest first, each with its figures.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{task_id}/drafts",
    operation_id = "list_drafts",
    tag = "drafts",
    params(("task_id" = Uuid, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The task's drafts", body = DraftList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The task belongs to another user", body = ErrorBody),
        (status = 404, description = "No such task, or it is in the trash", body = ErrorBody),
        (status = 422, description = "`task_id` is not a UUID", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn list_drafts(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(task_id): Path<String>,
) -> Result<Json<DraftList>, Error> {
    let task_id = parse_task_id(&task_id)?;
    let drafts = drafts::list(&state, current.user.id, task_id).await?;
    Ok(Json(DraftList {
        drafts: DraftView::list(drafts),
    }))
}

/// Uploads a new draft of the manuscript (at most `MAX_UPLOAD_BYTES`) and queues its processing.
/// The task keeps its status; its figures become this draft's once it is processed.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{task_id}/drafts",
    operation_id = "create_draft",
    tag = "drafts",
    params(("task_id" = Uuid, Path, description = "The task's id")),
    request_body(content = CreateDraftMultipart, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "The draft; its processing is under way", body = DraftView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The task belongs to another user, or a cross-site request", body = ErrorBody),
        (status = 404, description = "No such task, or it is in the trash", body = ErrorBody),
        (status = 409, description = "Another draft of the task is still being processed", body = ErrorBody),
        (status = 413, description = "The file is larger than `MAX_UPLOAD_BYTES`, or would take the user's uploads past `USER_QUOTA_BYTES`", body = ErrorBody),
        (status = 415, description = "Not multipart/form-data", body = ErrorBody),
        (status = 422, description = "No file, an empty one, or another field", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn create_draft(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(task_id): Path<String>,
    DraftSubmission(upload): DraftSubmission,
) -> Result<(StatusCode, Json<DraftView>), Error> {
    let task_id = parse_task_id(&task_id)?;
    let draft = drafts::add(&state, current.user.id, task_id, upload).await?;
    Ok((StatusCode::ACCEPTED, Json(draft.into())))
}

/// Starts a new draft whose file the client uploads straight to S3 (up to
/// `MAX_DIRECT_UPLOAD_BYTES`), as `POST /api/v1/tasks/uploads` does for a new task.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{task_id}/drafts/uploads",
    operation_id = "create_draft_upload",
    tag = "drafts",
    params(("task_id" = Uuid, Path, description = "The task's id")),
    request_body(content = CreateDraftUploadJson, content_type = "application/json"),
    responses(
        (status = 201, description = "The draft, processing once its file arrives, and how to upload it", body = DraftUploadView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The task belongs to another user, or a cross-site request", body = ErrorBody),
        (status = 404, description = "No such task, or it is in the trash", body = ErrorBody),
        (status = 409, description = "Another draft of the task is still being processed", body = ErrorBody),
        (status = 413, description = "The declared size is larger than `MAX_DIRECT_UPLOAD_BYTES`, or would take the user's uploads past `USER_QUOTA_BYTES`", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn create_draft_upload(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(task_id): Path<String>,
    ApiJson(body): ApiJson<CreateDraftUploadJson>,
) -> Result<(StatusCode, Json<DraftUploadView>), Error> {
    let task_id = parse_task_id(&task_id)?;
    let declared = body.parse(state.config.max_direct_upload_bytes)?;
    let (draft, presigned, expires_at) =
        drafts::add_direct(&state, current.user.id, task_id, declared).await?;
    Ok((
        StatusCode::CREATED,
        Json(DraftUploadView {
            draft: draft.into(),
            upload: instructions(&presigned, expires_at),
        }),
    ))
}

/// A short-lived URL that downloads one draft's file (as an attachment).
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{task_id}/drafts/{number}/file",
    operation_id = "download_draft_file",
    tag = "drafts",
    params(
        ("task_id" = Uuid, Path, description = "The task's id"),
        ("number" = i32, Path, minimum = 1, description = "The draft's number"),
    ),
    responses(
        (status = 200, description = "A presigned download URL, valid for 5 minutes", body = DownloadView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The task belongs to another user", body = ErrorBody),
        (status = 404, description = "No such task or draft", body = ErrorBody),
        (status = 409, description = "The direct upload has not arrived yet", body = ErrorBody),
        (status = 422, description = "`task_id` is not a UUID, or `number` not a draft number", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn download_draft(
    State(state): State<AppState>,
    current: CurrentUser,
    Path((task_id, number)): Path<(String, String)>,
) -> Result<Json<DownloadView>, Error> {
    let (task_id, number) = (parse_task_id(&task_id)?, parse_number(&number)?);
    let (presigned, expires_at) =
        drafts::download(&state, current.user.id, task_id, number).await?;
    Ok(Json(DownloadView {
        url: presigned.uri().to_owned(),
        expires_at,
    }))
}

/// One processed draft's full result.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{task_id}/drafts/{number}/result",
    operation_id = "get_draft_result",
    tag = "drafts",
    params(
        ("task_id" = Uuid, Path, description = "The task's id"),
        ("number" = i32, Path, minimum = 1, description = "The draft's number"),
    ),
    responses(
        (status = 200, description = "The result the file processor stored", body = ResultDocument),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The task belongs to another user", body = ErrorBody),
        (status = 404, description = "No such task or draft", body = ErrorBody),
        (status = 409, description = "The draft is not processed", body = ErrorBody),
        (status = 422, description = "`task_id` is not a UUID, or `number` not a draft number", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn draft_result(
    State(state): State<AppState>,
    current: CurrentUser,
    Path((task_id, number)): Path<(String, String)>,
) -> Result<Json<ResultDocument>, Error> {
    let (task_id, number) = (parse_task_id(&task_id)?, parse_number(&number)?);
    Ok(Json(
        drafts::result(&state, current.user.id, task_id, number).await?,
    ))
}

/// Deletes one draft that is not being processed, and its files; the task then shows its latest
/// processed draft left.
#[utoipa::path(
    delete,
    path = "/api/v1/tasks/{task_id}/drafts/{number}",
    operation_id = "delete_draft",
    tag = "drafts",
    params(
        ("task_id" = Uuid, Path, description = "The task's id"),
        ("number" = i32, Path, minimum = 1, description = "The draft's number"),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[!#-~]*"( *, *(W/)?"[!#-~]*")*)$"#, description = "The task's `ETag` the deletion is based on; another version gets `412`"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The task belongs to another user, or a cross-site request", body = ErrorBody),
        (status = 404, description = "No such task or draft", body = ErrorBody),
        (status = 409, description = "The draft is being processed", body = ErrorBody),
        (status = 412, description = "`If-Match` names a version the task has moved past", body = ErrorBody),
        (status = 422, description = "`task_id` is not a UUID, or `number` not a draft number", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn delete_draft(
    State(state): State<AppState>,
    current: CurrentUser,
    Path((task_id, number)): Path<(String, String)>,
    Precondition(precondition): Precondition,
) -> Result<StatusCode, Error> {
    let (task_id, number) = (parse_task_id(&task_id)?, parse_number(&number)?);
    drafts::delete(
        &state,
        current.user.id,
        task_id,
        number,
        precondition.as_ref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_task_id(raw: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw).map_err(|_| {
        ValidationErrors::at(&["path", "task_id"], "must be a UUID", "uuid_parsing").into()
    })
}

fn parse_number(raw: &str) -> Result<i32, Error> {
    raw.parse::<i32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
        ValidationErrors::at(
            &["path", "number"],
            "must be a draft number: a whole number from 1",
            "int_parsing",
        )
        .into()
    })
}

/// `POST /api/v1/tasks/{task_id}/drafts`: the file, and nothing else.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the form; `DraftSubmission` reads it
pub struct CreateDraftMultipart {
    /// The manuscript (at most `MAX_UPLOAD_BYTES`, 4 MiB by default).
    #[schema(value_type = String, format = Binary, min_length = 1)]
    file: Vec<u8>,
}

/// A new task from `multipart/form-data` (with an optional file) or from JSON.
pub struct Submission(pub NewTask, pub Option<Upload>);

/// Room for the form's text fields and multipart framing, on top of the file's own limit.
pub const FORM_ALLOWANCE_BYTES: usize = 64 * 1024;

/// The fields of the create form besides the file.
const TASK_FIELDS: [&str; 4] = ["title", "description", "due_date", "word_target"];

impl FromRequest<AppState> for Submission {
    type Rejection = Error;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Error> {
        if is_multipart(request.headers()) {
            let multipart = multipart(request, state).await?;
            let (fields, upload) =
                read_multipart(multipart, state.config.max_upload_bytes, &TASK_FIELDS).await?;
            let word_target = fields.get("word_target").cloned().map(WordTarget::Text);
            let new = NewTask::parse_with_target(
                fields.get("title").map(String::as_str),
                fields.get("description").map(String::as_str),
                fields.get("due_date").map(String::as_str),
                word_target.as_ref(),
            )?;
            return Ok(Self(new, upload));
        }
        let ApiJson(json) = ApiJson::<CreateTaskJson>::from_request(request, state)
            .await
            .map_err(|e| match e {
                Error::UnsupportedMediaType(_) => Error::UnsupportedMediaType(
                    "expected Content-Type: multipart/form-data or application/json",
                ),
                other => other,
            })?;
        Ok(Self(json.parse()?, None))
    }
}

/// A new draft's file, from `multipart/form-data`.
pub struct DraftSubmission(pub Upload);

impl FromRequest<AppState> for DraftSubmission {
    type Rejection = Error;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Error> {
        if !is_multipart(request.headers()) {
            return Err(Error::UnsupportedMediaType(
                "expected Content-Type: multipart/form-data",
            ));
        }
        let multipart = multipart(request, state).await?;
        let (_, upload) = read_multipart(multipart, state.config.max_upload_bytes, &[]).await?;
        let upload = upload
            .ok_or_else(|| ValidationErrors::at(&["body", "file"], "field required", "missing"))?;
        Ok(Self(upload))
    }
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
}

async fn multipart(request: Request, state: &AppState) -> Result<Multipart, Error> {
    Multipart::from_request(request, state).await.map_err(|_| {
        ValidationErrors::at(
            &["body"],
            "is not a valid multipart/form-data body",
            "value_error",
        )
        .into()
    })
}

/// The largest text field accepted; the description's 10,000 characters fit with room to spare.
const MAX_TEXT_FIELD_BYTES: usize = 48 * 1024;

/// Reads a form of the text fields `allowed` and an optional `file`; any other field is refused.
async fn read_multipart(
    mut multipart: Multipart,
    max_file_bytes: usize,
    allowed: &[&str],
) -> Result<(HashMap<String, String>, Option<Upload>), Error> {
    let malformed = |e: MultipartError| -> Error {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Error::PayloadTooLarge {
                limit_bytes: max_file_bytes + FORM_ALLOWANCE_BYTES,
            };
        }
        ValidationErrors::at(
            &["body"],
            "is not a valid multipart/form-data body",
            "value_error",
        )
        .into()
    };
    let (mut fields, mut upload) = (HashMap::new(), None);
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name != "file" && !allowed.contains(&name.as_str()) {
            // Refused, as the document says (`additionalProperties: false`): a misspelt field must
            // not silently drop a title or a date.
            let expected = allowed
                .iter()
                .copied()
                .chain(std::iter::once("file"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ValidationErrors::at(
                &["body"],
                format!("has a field that is not one of {expected}"),
                "extra_forbidden",
            )
            .into());
        }
        let limit = if name == "file" {
            max_file_bytes
        } else {
            MAX_TEXT_FIELD_BYTES
        };
        let mut bytes = Vec::new();
        // Read chunk by chunk and stop at the limit: a huge file is refused, never buffered whole.
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if bytes.len() + chunk.len() > limit {
                return Err(if name == "file" {
                    Error::PayloadTooLarge {
                        limit_bytes: max_file_bytes,
                    }
                } else {
                    ValidationErrors::field(&name, "is too long").into()
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        if name != "file" {
            let text = String::from_utf8(bytes)
                .map_err(|_| Error::from(ValidationErrors::field(&name, "must be UTF-8 text")))?;
            fields.insert(name, text);
            continue;
        }
        // Kept as metadata: no control characters (Postgres refuses NUL), bounded length.
        let file_name = field.file_name().map(|n| {
            n.chars()
                .filter(|c| !c.is_control())
                .take(255)
                .collect::<String>()
        });
        // A form that leaves the file input empty sends a nameless, empty part: no file.
        if bytes.is_empty() && file_name.as_deref().is_none_or(str::is_empty) {
            continue;
        }
        if bytes.is_empty() {
            return Err(ValidationErrors::field("file", "must not be empty").into());
        }
        let content_type = field
            .content_type()
            .map_or("application/octet-stream", |c| c)
            .chars()
            .filter(|c| !c.is_control())
            .take(255)
            .collect();
        upload = Some(Upload {
            file_name,
            content_type,
            bytes: bytes.into(),
        });
    }
    Ok((fields, upload))
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, extract::FromRequest, http::Request};
    use proptest::prelude::*;

    use super::*;

    /// A part: name, file name, content type, bytes.
    type FormPart = (String, Option<String>, Option<String>, Vec<u8>);

    fn body(parts: &[FormPart]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, file_name, content_type, bytes) in parts {
            body.extend_from_slice(b"--B\r\nContent-Disposition: form-data; name=\"");
            body.extend_from_slice(name.as_bytes());
            body.extend_from_slice(b"\"");
            if let Some(file_name) = file_name {
                body.extend_from_slice(b"; filename=\"");
                body.extend_from_slice(file_name.as_bytes());
                body.extend_from_slice(b"\"");
            }
            body.extend_from_slice(b"\r\n");
            if let Some(content_type) = content_type {
                body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--B--\r\n");
        body
    }

    async fn parse(raw: Vec<u8>, max_file_bytes: usize) -> Result<Submission, Error> {
        let request = Request::builder()
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=B")
            .body(Body::from(raw))
            .expect("a request");
        let multipart = Multipart::from_request(request, &())
            .await
            .expect("a multipart body");
        let (fields, upload) = read_multipart(multipart, max_file_bytes, &TASK_FIELDS).await?;
        let new = NewTask::parse(
            fields.get("title").map(String::as_str),
            fields.get("description").map(String::as_str),
            fields.get("due_date").map(String::as_str),
        )?;
        Ok(Submission(new, upload))
    }

    fn run(
        future: impl std::future::Future<Output = Result<Submission, Error>>,
    ) -> Result<Submission, Error> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(future)
    }

    #[test]
    fn a_file_of_exactly_the_limit_passes_and_one_byte_more_is_too_large() {
        let form = |size| {
            body(&[
                ("title".into(), None, None, b"t".to_vec()),
                ("file".into(), Some("a.bin".into()), None, vec![1; size]),
            ])
        };
        assert!(run(parse(form(64), 64)).is_ok());
        assert!(matches!(
            run(parse(form(65), 64)),
            Err(Error::PayloadTooLarge { .. })
        ));
    }

    proptest! {
        #[test]
        fn any_form_parses_to_a_task_or_a_client_error(
            fields in proptest::collection::vec(
                (
                    prop_oneof!["title", "description", "due_date", "file", "\\PC{0,12}"],
                    proptest::option::of("\\PC{0,40}"),
                    proptest::option::of("[ -~]{0,40}"),
                    proptest::collection::vec(any::<u8>(), 0..200),
                ),
                0..5,
            ),
        ) {
            match run(parse(body(&fields), 100)) {
                Ok(Submission(task, upload)) => {
                    prop_assert!(!task.title.is_empty());
                    if let Some(upload) = upload {
                        prop_assert!(!upload.bytes.is_empty() && upload.bytes.len() <= 100);
                        prop_assert!(upload.file_name.iter().all(|n| !n.chars().any(char::is_control)));
                    }
                }
                Err(e) => prop_assert!(matches!(e, Error::Invalid(_) | Error::PayloadTooLarge { .. }), "{e:?}"),
            }
        }
    }
}
