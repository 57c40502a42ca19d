//! Task types: the stored `Task`, its status, validated inputs, list parameters, upload keys,
//! and the wire shapes.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{ValidationErrors, config::StorageRoot};

/// The seed's four statuses. Stored as the seed's enum names, sent lowercase as the original does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "task_status", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    InProgress,
    Completed,
    Cancelled,
}

impl TaskStatus {
    /// Parses a status in either case (`pending` or `PENDING`), as `status_filter` accepts.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "pending" => Some(Self::Pending),
            "in_progress" => Some(Self::InProgress),
            "completed" => Some(Self::Completed),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// A task as stored.
#[derive(Clone, Debug)]
pub struct Task {
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub file_path: Option<String>,
    pub file_name: Option<String>,
    pub file_content_type: Option<String>,
    pub file_size: Option<i64>,
    pub due_date: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub result_path: Option<String>,
    pub error: Option<String>,
    pub detected_content_type: Option<String>,
    pub sha256: Option<String>,
    pub line_count: Option<i64>,
    pub word_count: Option<i64>,
    pub character_count: Option<i64>,
    pub reading_minutes: Option<f64>,
}

/// A validated new task, without its file.
#[derive(Clone, Debug)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub due_date: Option<DateTime<Utc>>,
}

impl NewTask {
    pub const MAX_TITLE_CHARS: usize = 255;
    pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

    /// Validates the fields, reporting every failure at once.
    ///
    /// # Errors
    /// One field error per bad field.
    pub fn parse(
        title: Option<&str>,
        description: Option<&str>,
        due_date: Option<&str>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let title = match title {
            None => {
                errors.merge(ValidationErrors::at(
                    &["body", "title"],
                    "field required",
                    "missing",
                ));
                None
            }
            Some(t) if t.chars().count() > Self::MAX_TITLE_CHARS => {
                errors.merge(ValidationErrors::field(
                    "title",
                    "must be at most 255 characters",
                ));
                None
            }
            Some(t) if t.chars().any(char::is_control) => {
                errors.merge(ValidationErrors::field(
                    "title",
                    "must not contain control characters",
                ));
                None
            }
            Some(t) if trim(t).is_empty() => {
                errors.merge(ValidationErrors::field("title", "must not be blank"));
                None
            }
            Some(t) => Some(trim(t).to_owned()),
        };
        if description.is_some_and(|d| d.chars().count() > Self::MAX_DESCRIPTION_CHARS) {
            errors.merge(ValidationErrors::field(
                "description",
                "must be at most 10000 characters",
            ));
        }
        // Postgres text cannot hold NUL: it becomes U+FFFD, the standard replacement character.
        let description = description
            .map(|d| trim(d).replace('\0', "\u{fffd}"))
            .filter(|d| !d.is_empty());
        // An empty value is not a date (FastAPI answers 422 for it too); leave the field out instead.
        let due_date = match due_date {
            None => None,
            Some(raw) => parse_due_date(raw)
                .map_err(|()| {
                    errors.merge(ValidationErrors::field(
                        "due_date",
                        "must be an ISO 8601 date or date-time, e.g. 2026-12-01T17:00:00Z",
                    ));
                })
                .ok(),
        };
        match title {
            Some(title) if errors.is_empty() => Ok(Self {
                title,
                description,
                due_date,
            }),
            _ => Err(errors),
        }
    }
}

/// Trims what the API's documented patterns count as blank: Unicode white space and U+FEFF.
pub fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// RFC 3339 with an offset; a date-time without one is UTC; a bare date is midnight UTC.
fn parse_due_date(raw: &str) -> Result<DateTime<Utc>, ()> {
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(raw) {
        return Ok(with_offset.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(raw, format) {
            return Ok(naive.and_utc());
        }
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or(())
}

/// `GET /api/v1/tasks`' query string, as sent: each value is checked by [`ListParams::parse`] so
/// a bad one gets a `422` naming its parameter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// How many tasks to skip (≥ 0).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 2147483647, default = 0)]
    pub skip: Option<String>,
    /// How many tasks to return (1–100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 100)]
    pub limit: Option<String>,
    /// Only tasks with this status (the lowercase name; the uppercase one is accepted too).
    #[param(value_type = Option<TaskStatus>, example = "pending")]
    pub status_filter: Option<String>,
    /// Keyset pagination: the `next` of the previous page. The page then starts after that task,
    /// and costs the same however deep it is (a deep `skip` reads every row it skips); a `skip`
    /// given with it counts from there.
    #[param(value_type = Option<String>, pattern = r"^-?[0-9]{1,18}\.[0-9a-fA-F]{32}$", example = "1795000000123456.3fa85f6457174562b3fc2c963f66afa6")]
    pub after: Option<String>,
}

/// A validated page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub skip: i64,
    pub limit: i64,
    pub status: Option<TaskStatus>,
    /// Only tasks after this one, in list order.
    pub after: Option<Cursor>,
}

/// A position in the list order (newest first, id breaking ties): the last task of a page.
///
/// On the wire it is opaque: `<created_at as Unix microseconds>.<id as 32 hex digits>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    /// Before every task: the position a first page starts from.
    pub fn start() -> Self {
        Self {
            created_at: Self::latest(),
            id: Uuid::max(),
        }
    }

    /// The position just after `task`.
    pub fn after(task: &Task) -> Self {
        Self {
            created_at: task.created_at,
            id: task.id,
        }
    }

    /// The cursor as sent to clients.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}",
            self.created_at.timestamp_micros(),
            self.id.simple()
        )
    }

    /// Reads [`Cursor::encode`]'s form back (the `pattern` of [`ListParams::after`]); `None` for
    /// anything else.
    /// A time outside the years 1–9999, which the database cannot compare, is moved to the nearer
    /// end of that range: before every task, or after every task (an empty page).
    pub fn parse(raw: &str) -> Option<Self> {
        let (micros, id) = raw.split_once('.')?;
        let digits = micros.strip_prefix('-').unwrap_or(micros);
        if !(1..=18).contains(&digits.len())
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || id.len() != 32
            || !id.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        // Eighteen digits stay inside both i64 and chrono's range, so neither step fails.
        let created_at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        let earliest = NaiveDate::from_ymd_opt(1, 1, 1)?
            .and_hms_opt(0, 0, 0)?
            .and_utc();
        Some(Self {
            created_at: created_at.clamp(earliest, Self::latest()),
            id: id.parse().ok()?,
        })
    }

    /// The end of year 9999: later than any task, and inside what Postgres stores.
    fn latest() -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(9999, 12, 31)
            .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
            .map_or(DateTime::<Utc>::MAX_UTC, |d| d.and_utc())
    }
}

impl ListParams {
    pub const MAX_LIMIT: i64 = 100;
    /// The deepest page offered; deeper ones are refused rather than scanned.
    pub const MAX_SKIP: i64 = i32::MAX as i64;

    /// Checks each parameter.
    ///
    /// # Errors
    /// One error per bad parameter, located at `["query", name]`.
    pub fn parse(&self) -> Result<ListQuery, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut number = |name: &str, raw: Option<&str>, default: i64, min: i64, max: i64| {
            let Some(raw) = raw else { return default };
            match raw.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => n,
                Ok(n) if n < min => {
                    errors.merge(ValidationErrors::at(
                        &["query", name],
                        format!("must be at least {min}"),
                        "greater_than_equal",
                    ));
                    default
                }
                Ok(_) => {
                    errors.merge(ValidationErrors::at(
                        &["query", name],
                        format!("must be between {min} and {max}"),
                        "range",
                    ));
                    default
                }
                Err(_) => {
                    errors.merge(ValidationErrors::at(
                        &["query", name],
                        "must be an integer",
                        "int_parsing",
                    ));
                    default
                }
            }
        };
        let skip = number("skip", self.skip.as_deref(), 0, 0, Self::MAX_SKIP);
        let limit = number(
            "limit",
            self.limit.as_deref(),
            Self::MAX_LIMIT,
            1,
            Self::MAX_LIMIT,
        );
        let status = match self.status_filter.as_deref() {
            None => None,
            Some(raw) => {
                let parsed = TaskStatus::parse(raw);
                if parsed.is_none() {
                    errors.merge(ValidationErrors::at(
                        &["query", "status_filter"],
                        "must be one of pending, in_progress, completed, cancelled",
                        "enum",
                    ));
                }
                parsed
            }
        };
        let after = self.after.as_deref().and_then(|raw| {
            let cursor = Cursor::parse(raw);
            if cursor.is_none() {
                errors.merge(ValidationErrors::at(
                    &["query", "after"],
                    "must be the `next` of a previous page",
                    "cursor",
                ));
            }
            cursor
        });
        if errors.is_empty() {
            Ok(ListQuery {
                skip,
                limit,
                status,
                after,
            })
        } else {
            Err(errors)
        }
    }
}

/// A received file: its bytes and what the client said about it.
#[derive(Clone, Debug)]
pub struct Upload {
    /// The client's file name, as sent (only ever stored as metadata and sanitised into keys).
    pub file_name: Option<String>,
    pub content_type: String,
    pub bytes: axum::body::Bytes,
}

/// Where an upload is stored: `s3://bucket/key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredObject {
    pub bucket: String,
    pub key: String,
}

impl StoredObject {
    /// The seed's `file_path`, as an `s3://` URL.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// Reads an `s3://bucket/key` URL back.
    pub fn parse(url: &str) -> Option<Self> {
        let (bucket, key) = url.strip_prefix("s3://")?.split_once('/')?;
        (!bucket.is_empty() && !key.is_empty()).then(|| Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

/// What a new task's file row records: where it is, and what the client said about it.
#[derive(Clone, Debug)]
pub struct NewFile {
    pub object: StoredObject,
    pub name: Option<String>,
    pub content_type: String,
    pub size: u64,
    /// For a direct upload: when its presigned URL expires.
    pub upload_expires_at: Option<DateTime<Utc>>,
}

/// The file a client declares before uploading it straight to S3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredFile {
    pub name: String,
    pub size: u64,
    pub content_type: String,
}

/// The key of a direct upload: `<prefix>/incoming/<user_id>/<task_id>/<safe name>`, a prefix of its
/// own so that only these objects trigger processing through S3's notification.
pub fn incoming_key(root: &StorageRoot, user: Uuid, task: Uuid, file_name: &str) -> String {
    root.key(&format!(
        "incoming/{user}/{task}/{}",
        safe_name(Some(file_name))
    ))
}

/// A media type as `type/subtype` (RFC 6838's restricted names), without parameters.
pub const CONTENT_TYPE_PATTERN: &str =
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$";

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

/// The longest file name kept in a key, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// The key of a task's upload: `<prefix>/uploads/<user_id>/<task_id>/<safe name>`.
///
/// The server builds it; the client's file name only contributes a sanitised last segment.
pub fn upload_key(root: &StorageRoot, user: Uuid, task: Uuid, file_name: Option<&str>) -> String {
    root.key(&format!("uploads/{user}/{task}/{}", safe_name(file_name)))
}

/// A file name that is safe as one key segment: the last path component of the client's
/// name, letters, digits and `. _ - ( )` only, no leading dot, at most 100 characters,
/// never empty.
pub fn safe_name(raw: Option<&str>) -> String {
    let base = raw
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let mut cleaned = String::new();
    for c in base.chars() {
        let kept = if c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '(' | ')') {
            c
        } else {
            '_'
        };
        // Runs of replacements collapse, so "a   b" is "a_b", not "a___b".
        if !(kept == '_' && cleaned.ends_with('_') && c != '_') {
            cleaned.push(kept);
        }
    }
    let trimmed = cleaned
        .trim_start_matches(['.', '_'])
        .trim_end_matches(['.', '_']);
    let name = shorten(trimmed, MAX_NAME_CHARS);
    if name.is_empty() {
        "upload".to_owned()
    } else {
        name
    }
}

/// Cuts `name` to `max` characters, keeping a short extension when there is one.
fn shorten(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_owned();
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| !ext.is_empty() && ext.chars().count() <= 10);
    match extension {
        Some(ext) => {
            let stem: String = name.chars().take(max - ext.chars().count() - 1).collect();
            format!("{}.{ext}", stem.trim_end_matches('.'))
        }
        None => name.chars().take(max).collect(),
    }
}

/// A task as the API shows it: the seed's fields, plus what was uploaded.
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
    /// The full processing result, as an `s3://bucket/<prefix>/results/<task_id>.json` URL.
    #[schema(example = "s3://writers-uploads/writers/results/…json")]
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
}

impl From<Task> for TaskView {
    fn from(t: Task) -> Self {
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
        }
    }
}

/// A page of the caller's tasks and how many match in all.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskPage {
    pub tasks: Vec<TaskView>,
    /// Every task that matches the filter, across all pages.
    pub total: i64,
    /// The cursor of the next page, to pass as `after`; `null` when this page is the last.
    #[schema(example = "1795000000123456.3fa85f6457174562b3fc2c963f66afa6")]
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
    /// The longest file name accepted, in characters.
    pub const MAX_NAME_CHARS: usize = 255;

    /// Validates every field, reporting each bad one; then the size against `max_bytes`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for bad fields, [`Error::FileTooLarge`] above `max_bytes`.
    pub fn parse(&self, max_bytes: u64) -> Result<(NewTask, DeclaredFile), crate::Error> {
        let mut errors = ValidationErrors::default();
        let task = NewTask::parse(
            self.task.title.as_deref(),
            self.task.description.as_deref(),
            self.task.due_date.as_deref(),
        )
        .map_err(|e| errors.merge(e))
        .ok();
        let missing = |errors: &mut ValidationErrors, field: &str| {
            errors.merge(ValidationErrors::at(
                &["body", "file", field],
                "field required",
                "missing",
            ));
        };
        let Some(file) = &self.file else {
            errors.merge(ValidationErrors::at(
                &["body", "file"],
                "field required",
                "missing",
            ));
            return Err(errors.into());
        };
        let mut bad = |field: &str, msg: &str| {
            errors.merge(ValidationErrors::at(
                &["body", "file", field],
                msg,
                "value_error",
            ));
        };
        let name = match file.name.as_deref() {
            Some(n) if n.is_empty() || n.chars().count() > Self::MAX_NAME_CHARS => {
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
        let size = file.size.as_ref().map(|n| {
            n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && (1.0..9.0e15).contains(f))
                    .map(|f| f as u64)
            })
        });
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
                missing(&mut errors, field);
            }
        }
        match (task, name, size, content_type) {
            (Some(task), Some(name), Some(size), Some(content_type)) if errors.is_empty() => {
                if size > max_bytes {
                    return Err(crate::Error::FileTooLarge {
                        limit_bytes: max_bytes,
                    });
                }
                Ok((
                    task,
                    DeclaredFile {
                        name,
                        size,
                        content_type,
                    },
                ))
            }
            _ => Err(errors.into()),
        }
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

/// The full processing result stored at `<prefix>/results/<task_id>.json`: the same bytes for
/// the same file, so racing workers write identical objects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResultDocument {
    #[schema(example = 1)]
    pub version: u32,
    pub task_id: Uuid,
    /// The object that was processed.
    pub source: StoredObject,
    #[serde(flatten)]
    pub analysis: crate::files::analysis::Analysis,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn root() -> StorageRoot {
        "s3://writers-local/writers".parse().expect("valid")
    }

    #[test]
    fn a_blank_or_missing_title_is_rejected() {
        assert!(NewTask::parse(Some(" \t "), None, None).is_err());
        let missing = NewTask::parse(None, None, None).expect_err("missing");
        assert_eq!(missing.items()[0].kind, "missing");
    }

    #[test]
    fn a_title_is_trimmed_and_limited_to_255_characters() {
        assert_eq!(
            NewTask::parse(Some("  Draft  "), None, None)
                .expect("valid")
                .title,
            "Draft"
        );
        assert!(NewTask::parse(Some(&"é".repeat(255)), None, None).is_ok());
        assert!(NewTask::parse(Some(&"é".repeat(256)), None, None).is_err());
        // Found by Schemathesis: the limit is the document's `maxLength`, on the value as sent.
        assert!(NewTask::parse(Some(&format!(" {}", "t".repeat(255))), None, None).is_err());
    }

    #[test]
    fn due_dates_without_an_offset_are_utc() {
        let parse = |raw| {
            NewTask::parse(Some("t"), None, Some(raw))
                .expect(raw)
                .due_date
                .expect("a date")
                .to_rfc3339()
        };
        assert_eq!(
            parse("2026-12-01T17:00:00+02:00"),
            "2026-12-01T15:00:00+00:00"
        );
        assert_eq!(parse("2026-12-01T17:00:00"), "2026-12-01T17:00:00+00:00");
        assert_eq!(parse("2026-12-01"), "2026-12-01T00:00:00+00:00");
        assert!(NewTask::parse(Some("t"), None, Some("next tuesday")).is_err());
        assert!(
            NewTask::parse(Some("t"), None, Some("")).is_err(),
            "empty is not a date"
        );
    }

    #[test]
    fn a_nul_in_a_description_becomes_the_replacement_character() {
        let task = NewTask::parse(Some("t"), Some("a\0b"), None).expect("valid");
        assert_eq!(task.description.as_deref(), Some("a\u{fffd}b"));
        assert!(NewTask::parse(Some("t"), None, Some("2026-13-45")).is_err());
    }

    #[test]
    fn list_parameters_have_defaults_and_ranges() {
        assert_eq!(
            ListParams::default().parse(),
            Ok(ListQuery {
                skip: 0,
                limit: 100,
                status: None,
                after: None,
            })
        );
        let params = |skip: &str, limit: &str, status: &str| ListParams {
            skip: Some(skip.into()),
            limit: Some(limit.into()),
            status_filter: Some(status.into()),
            after: None,
        };
        assert_eq!(
            params("5", "10", "IN_PROGRESS").parse(),
            Ok(ListQuery {
                skip: 5,
                limit: 10,
                status: Some(TaskStatus::InProgress),
                after: None,
            })
        );
        let errors = params("-1", "101", "done").parse().expect_err("all bad");
        let locs: Vec<_> = errors.items().iter().map(|e| e.loc[1].as_str()).collect();
        assert_eq!(locs, ["skip", "limit", "status_filter"]);
        assert!(params("x", "0", "pending").parse().is_err());
    }

    #[test]
    fn a_cursor_round_trips_and_anything_else_is_refused() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_795_000_000_123_456).expect("a time"),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
        assert_eq!(
            Cursor::parse(&Cursor::start().encode()),
            Some(Cursor::start())
        );
        let id = Uuid::nil().simple().to_string();
        for bad in [
            String::new(),
            "x".into(),
            format!("1.{}", &id[1..]),
            format!("1.{id}x"),
            format!("abc.{id}"),
            format!(".{id}"),
            format!("-.{id}"),
            format!("+1.{id}"),
            format!("{}.{id}", i64::MAX),
            format!("1234567890123456789.{id}"),
            format!("1.{}", "g".repeat(32)),
        ] {
            assert_eq!(Cursor::parse(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_cursor_outside_the_years_postgres_compares_moves_to_the_nearer_end() {
        let id = Uuid::nil().simple().to_string();
        let later = Cursor::parse(&format!("999999999999999999.{id}")).expect("well formed");
        assert_eq!(later.created_at, Cursor::start().created_at);
        let earlier = Cursor::parse(&format!("-999999999999999999.{id}")).expect("well formed");
        assert_eq!(
            earlier.created_at.format("%Y-%m-%d").to_string(),
            "0001-01-01"
        );
    }

    #[test]
    fn every_form_the_documented_pattern_allows_is_accepted() {
        // `^-?[0-9]{1,18}\.[0-9a-fA-F]{32}$`: its extremes.
        let id = Uuid::nil().simple().to_string();
        for raw in [
            format!("0.{id}"),
            format!("-5.{id}"),
            format!("{}.{id}", "9".repeat(18)),
            format!("-{}.{}", "9".repeat(18), "F".repeat(32)),
        ] {
            assert!(Cursor::parse(&raw).is_some(), "{raw}");
        }
    }

    #[test]
    fn after_needs_a_cursor_and_may_come_with_skip() {
        let with = |skip: Option<&str>, after: &str| ListParams {
            skip: skip.map(Into::into),
            after: Some(after.into()),
            ..ListParams::default()
        };
        let cursor = Cursor::start();
        let query = with(Some("10"), &cursor.encode()).parse().expect("valid");
        assert_eq!((query.skip, query.after), (10, Some(cursor)));
        let errors = with(None, "not-a-cursor").parse().expect_err("refused");
        let locs: Vec<_> = errors.items().iter().map(|e| e.loc[1].as_str()).collect();
        assert_eq!(locs, ["after"]);
    }

    #[test]
    fn hostile_file_names_stay_inside_the_tasks_prefix() {
        let (user, task) = (Uuid::new_v4(), Uuid::new_v4());
        let prefix = format!("writers/uploads/{user}/{task}/");
        for name in [
            "../../etc/passwd",
            "a/b",
            "..\\x",
            "nul\0byte.txt",
            &"x".repeat(1000),
            "..",
            ".",
            "",
            "/",
        ] {
            let key = upload_key(&root(), user, task, Some(name));
            assert!(key.starts_with(&prefix), "{name:?} -> {key}");
            let last = &key[prefix.len()..];
            assert!(
                !last.is_empty() && !last.contains('/') && !last.starts_with('.'),
                "{name:?} -> {last}"
            );
        }
        assert_eq!(safe_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(
            safe_name(Some("Chapter One (final).docx")),
            "Chapter_One_(final).docx"
        );
        assert_eq!(safe_name(None), "upload");
    }

    #[test]
    fn a_long_name_keeps_its_extension() {
        let name = safe_name(Some(&format!("{}.docx", "a".repeat(300))));
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert!(name.ends_with(".docx"));
    }

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
    fn an_s3_url_reads_back() {
        let object = StoredObject {
            bucket: "b".into(),
            key: "p/incoming/x y".into(),
        };
        assert_eq!(StoredObject::parse(&object.url()), Some(object));
        assert_eq!(StoredObject::parse("https://b/k"), None);
        assert_eq!(StoredObject::parse("s3://b"), None);
    }

    proptest! {
        #[test]
        fn any_file_name_yields_one_safe_bounded_segment(raw in "\\PC{0,300}|[\\x00-\\x7f]{0,300}") {
            let name = safe_name(Some(&raw));
            prop_assert!(!name.is_empty());
            prop_assert!(name.chars().count() <= MAX_NAME_CHARS);
            prop_assert!(!name.contains(['/', '\\']));
            prop_assert!(!name.chars().any(char::is_control));
            prop_assert!(!name.starts_with('.'));
            prop_assert!(name != "..");
        }

        #[test]
        fn any_file_name_keys_inside_the_tasks_prefix(raw in "\\PC{0,300}|[\\x00-\\x7f]{0,300}") {
            let (user, task) = (Uuid::new_v4(), Uuid::new_v4());
            let key = upload_key(&root(), user, task, Some(&raw));
            let prefix = format!("writers/uploads/{user}/{task}/");
            prop_assert!(key.starts_with(&prefix));
            prop_assert!(!key[prefix.len()..].split('/').any(|s| s == ".." || s == "." || s.is_empty()));
        }

        #[test]
        fn an_accepted_title_is_the_trimmed_input(raw in "\\PC{0,300}") {
            if let Ok(task) = NewTask::parse(Some(&raw), None, None) {
                prop_assert_eq!(task.title.as_str(), trim(&raw));
            }
        }

        #[test]
        fn list_parameters_never_panic(skip in "\\PC{0,30}", limit in "\\PC{0,30}", status in "\\PC{0,30}", after in "[0-9a-f.-]{0,60}|\\PC{0,60}") {
            let _ = ListParams { skip: Some(skip), limit: Some(limit), status_filter: Some(status), after: Some(after) }.parse();
        }

        #[test]
        fn anything_the_documented_pattern_matches_is_accepted(raw in "-?[0-9]{1,18}\\.[0-9a-fA-F]{32}") {
            prop_assert!(Cursor::parse(&raw).is_some());
        }

        #[test]
        fn a_cursor_in_range_round_trips(micros in -62_135_596_800_000_000_i64..=253_402_300_799_999_999, id in any::<u128>()) {
            let raw = format!("{micros}.{id:032x}");
            let cursor = Cursor::parse(&raw);
            prop_assert_eq!(cursor.map(|c| c.encode()), Some(raw));
        }
    }
}
