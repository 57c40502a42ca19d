//! The wire shapes of tasks: request bodies as sent, and the views the API answers with.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    ValidationErrors,
    files::{analysis::Chapter, storage::StoredObject},
    tasks::{
        model::{Draft, DraftState, NewTask, Task, TaskStatus, WordTarget},
        objects::DeclaredFile,
        progress::{Progress, Today},
    },
};

/// A task as the API shows it: the seed's fields, what was uploaded, and where the manuscript
/// stands. The file fields and figures are those of its latest processed draft (else its first).
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: Uuid,
    #[schema(example = "Draft chapter one")]
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub user_id: Uuid,
    /// Where the uploaded file is stored, as an `s3://bucket/key` URL.
    #[schema(example = "s3://writers-uploads/writers/uploads/…/chapter-one.docx")]
    pub file_path: Option<String>,
    /// The file name the client sent.
    pub file_name: Option<String>,
    /// The content type the client declared.
    pub file_content_type: Option<String>,
    /// The file's size in bytes.
    pub file_size: Option<i64>,
    pub due_date: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When processing the file finished; null until then, and for a cancelled task.
    pub completed_at: Option<DateTime<Utc>>,
    /// The full processing result of the draft shown, as an
    /// `s3://bucket/<prefix>/results/<task_id>/<draft>.json` URL.
    #[schema(example = "s3://writers-uploads/writers/results/…/2.json")]
    pub result_path: Option<String>,
    /// Why processing failed, when the task is `cancelled`.
    #[schema(example = "the uploaded file is missing from storage")]
    pub error: Option<String>,
    /// The file's type as detected from its bytes (not as the client declared it).
    #[schema(example = "application/vnd.openxmlformats-officedocument.wordprocessingml.document")]
    pub detected_content_type: Option<String>,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: Option<String>,
    /// Lines of text (text files and `.docx` manuscripts only).
    pub line_count: Option<i64>,
    /// Words of text (text files and `.docx` manuscripts only).
    pub word_count: Option<i64>,
    /// Characters of text, as Unicode scalar values (text files and `.docx` manuscripts only).
    pub character_count: Option<i64>,
    /// Estimated reading time at 238 words per minute, to a tenth of a minute.
    pub reading_minutes: Option<f64>,
    /// Paragraphs of text (headings are not paragraphs).
    pub paragraph_count: Option<i64>,
    /// Sentences of text, by Unicode sentence boundaries.
    pub sentence_count: Option<i64>,
    /// Words per sentence, to a tenth.
    pub average_sentence_words: Option<f64>,
    /// The manuscript's chapters, in order: in every answer about one task (a page of tasks
    /// leaves them out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chapters: Option<Vec<Chapter>>,
    /// Bumped by every change of the task (the processor's included); the `ETag` is
    /// `"<version>"`, for `If-Match`.
    #[schema(example = 3)]
    pub version: i64,
    /// The words the writer means the manuscript to have.
    #[schema(minimum = 1, maximum = 10000000)]
    pub word_target: Option<i32>,
    pub progress: Progress,
    /// When the task was moved to the trash; null unless it is there.
    pub trashed_at: Option<DateTime<Utc>>,
    /// The number of the draft whose file and figures these are (see
    /// `GET /api/v1/tasks/{task_id}/drafts`); null for a task without a file.
    pub shown_draft: Option<i32>,
}

impl TaskView {
    /// The view of `task` on `today` in its owner's time zone.
    pub fn new(t: Task, today: &Today) -> Self {
        let progress = Progress::of(
            t.word_count,
            t.word_target,
            t.due_date,
            today.date,
            today.zone,
        );
        Self {
            id: t.id,
            title: t.title,
            description: t.description,
            status: t.status,
            user_id: t.user_id,
            file_path: t.file_path,
            file_name: t.file_name,
            file_content_type: t.file_content_type,
            file_size: t.file_size,
            due_date: t.due_date,
            created_at: t.created_at,
            updated_at: t.updated_at,
            completed_at: t.completed_at,
            result_path: t.result_path,
            error: t.error,
            detected_content_type: t.detected_content_type,
            sha256: t.sha256,
            line_count: t.line_count,
            word_count: t.word_count,
            character_count: t.character_count,
            reading_minutes: t.reading_minutes,
            paragraph_count: t.paragraph_count,
            sentence_count: t.sentence_count,
            average_sentence_words: t.average_sentence_words,
            chapters: t.chapters.map(|c| c.0),
            version: t.version,
            word_target: t.word_target,
            progress,
            trashed_at: t.trashed_at,
            shown_draft: t.shown_draft,
        }
    }
}

/// One draft as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftView {
    /// 1 for the file given at the task's creation, then one more for each upload.
    #[schema(example = 2)]
    pub number: i32,
    pub file_name: Option<String>,
    pub file_size: i64,
    /// The content type the client declared.
    pub file_content_type: Option<String>,
    /// The type detected from the bytes, once processed.
    pub detected_content_type: Option<String>,
    pub state: DraftState,
    /// Why processing failed, when `failed`.
    pub error: Option<String>,
    pub words: Option<i64>,
    /// Words gained (or lost) since the previous processed draft; null for the first one, and
    /// until this one is processed.
    pub words_change: Option<i64>,
    pub reading_minutes: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

impl DraftView {
    /// The views of a task's drafts, oldest first, each compared with the processed one before it.
    pub fn list(drafts: Vec<Draft>) -> Vec<Self> {
        let mut previous_words: Option<i64> = None;
        drafts
            .into_iter()
            .map(|d| {
                let processed = d.state == DraftState::Processed;
                let words_change = match (processed, d.word_count, previous_words) {
                    (true, Some(now), Some(before)) => Some(now - before),
                    _ => None,
                };
                if processed {
                    previous_words = d.word_count.or(previous_words);
                }
                Self::from_draft(d, words_change)
            })
            .collect()
    }

    fn from_draft(d: Draft, words_change: Option<i64>) -> Self {
        Self {
            number: d.number,
            file_name: d.file_name,
            file_size: d.file_size,
            file_content_type: d.file_content_type,
            detected_content_type: d.detected_content_type,
            state: d.state,
            error: d.error,
            words: d.word_count,
            words_change,
            reading_minutes: d.reading_minutes,
            created_at: d.created_at,
            processed_at: d.processed_at,
        }
    }
}

impl From<Draft> for DraftView {
    fn from(d: Draft) -> Self {
        Self::from_draft(d, None)
    }
}

/// `GET /api/v1/tasks/{task_id}/drafts`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftList {
    /// Oldest first.
    pub drafts: Vec<DraftView>,
}

/// A draft created for a direct upload, and how to upload its file.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftUploadView {
    #[serde(flatten)]
    pub draft: DraftView,
    pub upload: UploadInstructions,
}

/// `POST /api/v1/tasks/{task_id}/drafts/uploads`: the file the client then PUTs straight to S3.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDraftUploadJson {
    #[schema(value_type = DeclaredFileJson, required = true)]
    pub file: Option<DeclaredFileJson>,
}

impl CreateDraftUploadJson {
    /// Validates the declared file, then its size against `max_bytes`.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] for bad fields, [`crate::Error::FileTooLarge`] above `max_bytes`.
    pub fn parse(&self, max_bytes: u64) -> Result<DeclaredFile, crate::Error> {
        let mut errors = ValidationErrors::default();
        let file = declared_file(self.file.as_ref(), &mut errors);
        check_declared(file, errors, max_bytes)
    }
}

/// `PATCH /api/v1/tasks/{task_id}`: a JSON merge patch; absent members stay, `null` clears.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the body; `TaskPatch::parse` reads it
pub struct TaskPatchJson {
    #[schema(
        nullable = false,
        example = "Draft chapter one, again",
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F\uFEFF][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    title: Option<String>,
    /// `null` clears it.
    #[schema(nullable = true, max_length = 10000)]
    description: Option<String>,
    /// `null` clears it.
    #[schema(nullable = true, example = "2026-12-24T17:00:00Z", format = DateTime)]
    due_date: Option<String>,
    /// `null` clears it.
    #[schema(nullable = true, minimum = 1, maximum = 10000000, example = 80000)]
    word_target: Option<i64>,
    /// The owner's moves: `completed` or `cancelled` from `pending`, `cancelled` from
    /// `in_progress`, `pending` (reopen) from either end; the state the task is in changes
    /// nothing. `in_progress` is set by processing only.
    #[schema(
        nullable = false,
        pattern = "^(pending|completed|cancelled)$",
        example = "completed"
    )]
    status: Option<String>,
}

/// A page of the caller's tasks and how many match in all.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskPage {
    pub tasks: Vec<TaskView>,
    /// Every task that matches the filter, across all pages.
    pub total: i64,
    /// The cursor of the next page, to pass as `after`; `null` when this page is the last.
    #[schema(example = "1795000000123456.3fa85f6457174562b3fc2c963f66afa6.n")]
    pub next: Option<String>,
}

/// `POST /api/v1/tasks` as JSON, for a task without a file.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateTaskJson {
    #[schema(value_type = String, required = true, example = "Draft chapter one", min_length = 1, max_length = 255, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F\uFEFF][^\u0000-\u001F\u007F-\u009F]*$")]
    pub title: Option<String>,
    /// NUL characters are stored as U+FFFD.
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// RFC 3339; a date or a date-time without an offset is accepted too (as UTC).
    #[schema(example = "2026-12-01T17:00:00Z", format = DateTime)]
    pub due_date: Option<String>,
    /// The words the manuscript should reach.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 10000000, example = 80000)]
    pub word_target: Option<serde_json::Number>,
}

impl CreateTaskJson {
    /// Validates every field.
    ///
    /// # Errors
    /// One field error per bad field.
    pub fn parse(&self) -> Result<NewTask, ValidationErrors> {
        NewTask::parse_with_target(
            self.title.as_deref(),
            self.description.as_deref(),
            self.due_date.as_deref(),
            self.word_target.clone().map(WordTarget::Number).as_ref(),
        )
    }
}

/// `POST /api/v1/tasks` as `multipart/form-data`, optionally with a file; no other fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskMultipart {
    #[schema(
        example = "Draft chapter one",
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F\uFEFF][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub title: String,
    /// NUL characters are stored as U+FFFD.
    #[schema(nullable = false, max_length = 10000)]
    pub description: Option<String>,
    /// RFC 3339; a date or a date-time without an offset is accepted too (as UTC).
    #[schema(nullable = false, example = "2026-12-01T17:00:00Z", format = DateTime)]
    pub due_date: Option<String>,
    /// The words the manuscript should reach.
    #[schema(nullable = false, minimum = 1, maximum = 10000000, example = 80000)]
    pub word_target: Option<i64>,
    /// The manuscript (at most `MAX_UPLOAD_BYTES`, 4 MiB by default).
    #[schema(value_type = String, required = false, format = Binary, min_length = 1)]
    pub file: Option<Vec<u8>>,
}

/// `POST /api/v1/tasks/uploads`: the JSON task's fields, and the file the client then PUTs
/// straight to S3.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateDirectUploadJson {
    #[serde(flatten)]
    pub task: CreateTaskJson,
    #[schema(value_type = DeclaredFileJson, required = true)]
    pub file: Option<DeclaredFileJson>,
}

/// The file about to be uploaded, as the client declares it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclaredFileJson {
    /// The file's name: kept as `file_name`, and sanitised into the key.
    #[schema(value_type = String, required = true, example = "novel.docx", min_length = 1, max_length = 255, pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$")]
    pub name: Option<String>,
    /// The exact size in bytes: S3 refuses a body of any other length. At most
    /// `MAX_DIRECT_UPLOAD_BYTES` (100 MiB by default; more is a `413`).
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 104857600, example = 5242880)]
    pub size: Option<serde_json::Number>,
    /// The media type the upload must be sent with.
    #[schema(value_type = String, required = true, example = "application/vnd.openxmlformats-officedocument.wordprocessingml.document", pattern = r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")]
    pub content_type: Option<String>,
}

impl CreateDirectUploadJson {
    /// Validates every field, reporting each bad one; then the size against `max_bytes`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for bad fields, [`Error::FileTooLarge`] above `max_bytes`.
    pub fn parse(&self, max_bytes: u64) -> Result<(NewTask, DeclaredFile), crate::Error> {
        let mut errors = ValidationErrors::default();
        let task = self.task.parse().map_err(|e| errors.merge(e)).ok();
        let file = declared_file(self.file.as_ref(), &mut errors);
        let task = task.filter(|_| errors.is_empty());
        let file = check_declared(file, errors, max_bytes)?;
        Ok((
            task.ok_or_else(|| crate::Error::Invalid(ValidationErrors::default()))?,
            file,
        ))
    }
}

/// The longest declared file name accepted, in characters.
const MAX_DECLARED_NAME_CHARS: usize = 255;

/// A declared file's fields, each bad or missing one reported into `errors`.
fn declared_file(
    file: Option<&DeclaredFileJson>,
    errors: &mut ValidationErrors,
) -> Option<DeclaredFile> {
    let missing = |errors: &mut ValidationErrors, field: &str| {
        errors.merge(ValidationErrors::at(
            &["body", "file", field],
            "field required",
            "missing",
        ));
    };
    let Some(file) = file else {
        errors.merge(ValidationErrors::at(
            &["body", "file"],
            "field required",
            "missing",
        ));
        return None;
    };
    let mut bad = |field: &str, msg: &str| {
        errors.merge(ValidationErrors::at(
            &["body", "file", field],
            msg,
            "value_error",
        ));
    };
    let name = match file.name.as_deref() {
        Some(n) if n.is_empty() || n.chars().count() > MAX_DECLARED_NAME_CHARS => {
            bad("name", "must be 1 to 255 characters");
            None
        }
        Some(n) if n.chars().any(char::is_control) => {
            bad("name", "must not contain control characters");
            None
        }
        Some(n) => Some(n.to_owned()),
        None => None,
    };
    // JSON Schema's integers include `5.0`; anything else with a fraction is not a size.
    let size = file
        .size
        .as_ref()
        .map(|n| crate::tasks::model::whole_number(n).and_then(|n| u64::try_from(n).ok()));
    let size = match size {
        Some(Some(n)) if n >= 1 => Some(n),
        Some(_) => {
            bad("size", "must be a whole number of bytes, at least 1");
            None
        }
        None => None,
    };
    let content_type = match file.content_type.as_deref() {
        Some(t) if is_media_type(t) => Some(t.to_owned()),
        Some(_) => {
            bad("content_type", "must be a media type such as text/plain");
            None
        }
        None => None,
    };
    for (field, present) in [
        ("name", file.name.is_some()),
        ("size", file.size.is_some()),
        ("content_type", file.content_type.is_some()),
    ] {
        if !present {
            missing(errors, field);
        }
    }
    Some(DeclaredFile {
        name: name?,
        size: size?,
        content_type: content_type?,
    })
}

/// The declared file when every field was valid, then its size against `max_bytes`.
fn check_declared(
    file: Option<DeclaredFile>,
    errors: ValidationErrors,
    max_bytes: u64,
) -> Result<DeclaredFile, crate::Error> {
    match file {
        Some(file) if errors.is_empty() => {
            if file.size > max_bytes {
                return Err(crate::Error::FileTooLarge {
                    limit_bytes: max_bytes,
                });
            }
            Ok(file)
        }
        _ => Err(errors.into()),
    }
}

/// A task created for a direct upload, and how to upload its file.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectUploadView {
    #[serde(flatten)]
    pub task: TaskView,
    pub upload: UploadInstructions,
}

/// The request that uploads the file: send exactly these headers and the declared number of bytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadInstructions {
    #[schema(example = "PUT")]
    pub method: String,
    /// A presigned S3 URL.
    pub url: String,
    /// Headers the signature covers (`content-type`, `content-length`, `if-none-match`).
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// A short-lived URL that downloads the task's original file as an attachment.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadView {
    /// A presigned S3 URL; the response carries `Content-Disposition: attachment`.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// The full processing result stored at `<prefix>/results/<task_id>/<draft>.json`: the same bytes for
/// the same file, so racing workers write identical objects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResultDocument {
    /// 2 since drafts (1 before: draft 1's, without `draft`).
    #[schema(example = 2)]
    pub version: u32,
    pub task_id: Uuid,
    /// The draft processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<i32>,
    /// The object that was processed.
    pub source: StoredObject,
    #[serde(flatten)]
    pub analysis: crate::files::analysis::Analysis,
}

fn is_media_type(raw: &str) -> bool {
    let name = |part: &str| {
        (1..=127).contains(&part.len())
            && part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    raw.split_once('/')
        .is_some_and(|(kind, subtype)| name(kind) && name(subtype))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(file: serde_json::Value) -> Result<(NewTask, DeclaredFile), crate::Error> {
        let body: CreateDirectUploadJson =
            serde_json::from_value(serde_json::json!({"title": "Novel", "file": file}))
                .expect("the shape");
        body.parse(100)
    }

    #[test]
    fn a_declared_file_needs_a_name_a_positive_size_and_a_media_type() {
        let (_, file) = declared(
            serde_json::json!({"name": "a.txt", "size": 100, "content_type": "text/plain"}),
        )
        .expect("valid");
        assert_eq!(file.size, 100);
        let (_, whole) = declared(
            serde_json::json!({"name": "a.txt", "size": 100.0, "content_type": "text/plain"}),
        )
        .expect("100.0 is an integer to JSON Schema");
        assert_eq!(whole.size, 100);
        for bad in [
            serde_json::json!({"name": "a.txt", "size": 0, "content_type": "text/plain"}),
            serde_json::json!({"name": "a.txt", "size": -5, "content_type": "text/plain"}),
            serde_json::json!({"name": "", "size": 1, "content_type": "text/plain"}),
            serde_json::json!({"name": "a\nb", "size": 1, "content_type": "text/plain"}),
            serde_json::json!({"name": "a.txt", "size": 1, "content_type": "text"}),
            serde_json::json!({"name": "a.txt", "size": 1, "content_type": "text/plain\r\nx: y"}),
            serde_json::json!({"size": 1, "content_type": "text/plain"}),
            serde_json::json!({"name": "a.txt", "size": 1.5, "content_type": "text/plain"}),
        ] {
            assert!(
                matches!(declared(bad.clone()), Err(crate::Error::Invalid(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            declared(
                serde_json::json!({"name": "a.txt", "size": 101, "content_type": "text/plain"})
            ),
            Err(crate::Error::FileTooLarge { limit_bytes: 100 })
        ));
    }

    #[test]
    fn both_create_bodies_document_one_title_pattern() {
        // utoipa's `pattern` takes only a string literal, so the two schemas each spell it out.
        let document = serde_json::to_value(crate::http::docs::openapi()).expect("JSON");
        let pattern = |schema: &str| {
            document["components"]["schemas"][schema]["properties"]["title"]["pattern"].clone()
        };
        assert!(pattern("CreateTaskJson").is_string());
        assert_eq!(pattern("CreateTaskJson"), pattern("CreateTaskMultipart"));
    }
}
