//! HTTP adapters for tasks: extract, call one operation, shape the response.

use axum::{
    Json,
    extract::{FromRequest, Multipart, Path, Request, State, multipart::MultipartError},
    http::{StatusCode, header},
};
use uuid::Uuid;

use crate::{
    AppState, Error, ValidationErrors,
    http::{
        error::ErrorBody,
        extract::{ApiJson, ApiQuery, CurrentUser},
    },
    tasks::{
        self,
        model::NewTask,
        objects::Upload,
        paging::ListParams,
        wire::{
            CreateDirectUploadJson, CreateTaskJson, CreateTaskMultipart, DirectUploadView,
            DownloadView, ResultDocument, TaskPage, TaskView, UploadInstructions,
        },
    },
};

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
        (status = 202, description = "Created; with a file, its processing is under way", body = TaskView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Deactivated account, or a cross-site request", body = ErrorBody),
        (status = 413, description = "The file is larger than `MAX_UPLOAD_BYTES`, or would take the user's uploads past `USER_QUOTA_BYTES` (the detail gives the figures)", body = ErrorBody),
        (status = 415, description = "Neither multipart/form-data nor JSON", body = ErrorBody),
        (status = 422, description = "A field is invalid, or the file is empty", body = ErrorBody),
        (status = 429, description = "More than `TASKS_PER_USER_PER_HOUR` tasks created in the last hour; see `Retry-After`", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    current: CurrentUser,
    Submission(new, upload): Submission,
) -> Result<(StatusCode, Json<TaskView>), Error> {
    let task = tasks::create(&state, current.user.id, new, upload).await?;
    Ok((StatusCode::ACCEPTED, Json(task.into())))
}

/// The caller's tasks, newest first, with the total that match.
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
    current: CurrentUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<TaskPage>, Error> {
    let page = tasks::list(&state, current.user.id, &params.parse()?).await?;
    Ok(Json(TaskPage {
        tasks: page.tasks.into_iter().map(Into::into).collect(),
        total: page.total,
        next: page.next.map(|cursor| cursor.encode()),
    }))
}

/// One of the caller's tasks.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{task_id}",
    operation_id = "get_task",
    tag = "tasks",
    params(("task_id" = Uuid, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The task", body = TaskView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The task belongs to another user", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 422, description = "`task_id` is not a UUID", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(task_id): Path<String>,
) -> Result<Json<TaskView>, Error> {
    let task_id = parse_task_id(&task_id)?;
    let task = tasks::get(&state, current.user.id, task_id).await?;
    Ok(Json(task.into()))
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
        (status = 429, description = "More than `TASKS_PER_USER_PER_HOUR` tasks created in the last hour; see `Retry-After`", body = ErrorBody),
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
    let upload = UploadInstructions {
        method: presigned.method().to_owned(),
        url: presigned.uri().to_owned(),
        headers: presigned
            .headers()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect(),
        expires_at,
    };
    Ok((
        StatusCode::CREATED,
        Json(DirectUploadView {
            task: task.into(),
            upload,
        }),
    ))
}

/// A short-lived URL that downloads the task's original file (as an attachment, never rendered).
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

/// The full processing result of a completed task.
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
        (status = 409, description = "The task is not completed", body = ErrorBody),
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

fn parse_task_id(raw: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw).map_err(|_| {
        ValidationErrors::at(&["path", "task_id"], "must be a UUID", "uuid_parsing").into()
    })
}

/// A new task from `multipart/form-data` (with an optional file) or from JSON.
pub struct Submission(pub NewTask, pub Option<Upload>);

/// Room for the form's text fields and multipart framing, on top of the file's own limit.
pub const FORM_ALLOWANCE_BYTES: usize = 64 * 1024;

impl FromRequest<AppState> for Submission {
    type Rejection = Error;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Error> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let multipart = Multipart::from_request(request, state).await.map_err(|_| {
                ValidationErrors::at(
                    &["body"],
                    "is not a valid multipart/form-data body",
                    "value_error",
                )
            })?;
            return read_multipart(multipart, state.config.max_upload_bytes).await;
        }
        let ApiJson(json) = ApiJson::<CreateTaskJson>::from_request(request, state)
            .await
            .map_err(|e| match e {
                Error::UnsupportedMediaType(_) => Error::UnsupportedMediaType(
                    "expected Content-Type: multipart/form-data or application/json",
                ),
                other => other,
            })?;
        let new = NewTask::parse(
            json.title.as_deref(),
            json.description.as_deref(),
            json.due_date.as_deref(),
        )?;
        Ok(Self(new, None))
    }
}

/// The largest text field accepted; the description's 10,000 characters fit with room to spare.
const MAX_TEXT_FIELD_BYTES: usize = 48 * 1024;

async fn read_multipart(
    mut multipart: Multipart,
    max_file_bytes: usize,
) -> Result<Submission, Error> {
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
    let (mut title, mut description, mut due_date, mut upload) = (None, None, None, None);
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
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
        let text = |bytes: Vec<u8>| {
            String::from_utf8(bytes)
                .map_err(|_| Error::from(ValidationErrors::field(&name, "must be UTF-8 text")))
        };
        match name.as_str() {
            "title" => title = Some(text(bytes)?),
            "description" => description = Some(text(bytes)?),
            "due_date" => due_date = Some(text(bytes)?),
            "file" => {
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
            // Refused, as the document says (`additionalProperties: false`): a misspelt field must
            // not silently drop a title or a date.
            _ => {
                return Err(ValidationErrors::at(
                    &["body"],
                    "has a field that is not title, description, due_date or file",
                    "extra_forbidden",
                )
                .into());
            }
        }
    }
    let new = NewTask::parse(
        title.as_deref(),
        description.as_deref(),
        due_date.as_deref(),
    )?;
    Ok(Submission(new, upload))
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
        read_multipart(multipart, max_file_bytes).await
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
