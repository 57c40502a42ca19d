//! A task as stored, its status, and a validated new task.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{ValidationErrors, files::analysis::Chapter};

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

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pending => "pending",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        })
    }
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

/// A task as stored. Its file fields and figures are those of the draft it shows
/// (`shown_draft`: its latest processed draft, else its first).
#[derive(Clone, Debug, sqlx::FromRow)]
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
    pub paragraph_count: Option<i64>,
    pub sentence_count: Option<i64>,
    pub average_sentence_words: Option<f64>,
    /// Read by `GET /api/v1/tasks/{task_id}` only; a page of tasks leaves them out.
    pub chapters: Option<sqlx::types::Json<Vec<Chapter>>>,
    /// Bumped by every write: the `ETag`.
    pub version: i64,
    pub word_target: Option<i32>,
    pub trashed_at: Option<DateTime<Utc>>,
    /// The draft whose processing the status follows, while it does.
    pub processing_draft: Option<i32>,
    pub shown_draft: Option<i32>,
}

impl Task {
    /// The `ETag` of this version: a strong validator, `"<version>"`.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// Where a draft's processing stands. Stored uppercase, sent lowercase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "draft_state", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "snake_case")]
pub enum DraftState {
    /// Queued, being processed, or (for a direct upload) waiting for its file.
    Processing,
    Processed,
    /// Processing failed for good; `error` says why.
    Failed,
}

/// One upload of a task, numbered from 1, with its own processing and figures.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Draft {
    pub task_id: Uuid,
    pub number: i32,
    pub file_path: String,
    pub file_name: Option<String>,
    pub file_content_type: Option<String>,
    pub file_size: i64,
    pub upload_expires_at: Option<DateTime<Utc>>,
    pub state: DraftState,
    pub error: Option<String>,
    pub processing_attempts: i32,
    pub result_path: Option<String>,
    pub detected_content_type: Option<String>,
    pub word_count: Option<i64>,
    pub reading_minutes: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

/// A validated new task, without its file.
#[derive(Clone, Debug)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub due_date: Option<DateTime<Utc>>,
    pub word_target: Option<i32>,
}

impl NewTask {
    pub const MAX_TITLE_CHARS: usize = 255;
    pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
    /// More words than any book needs; a larger target is a typing mistake.
    pub const MAX_WORD_TARGET: i64 = 10_000_000;

    /// Validates the fields, reporting every failure at once.
    ///
    /// # Errors
    /// One field error per bad field.
    pub fn parse(
        title: Option<&str>,
        description: Option<&str>,
        due_date: Option<&str>,
    ) -> Result<Self, ValidationErrors> {
        Self::parse_with_target(title, description, due_date, None)
    }

    /// [`NewTask::parse`] with a word target as sent (a JSON number or a form field's text).
    ///
    /// # Errors
    /// One field error per bad field.
    pub fn parse_with_target(
        title: Option<&str>,
        description: Option<&str>,
        due_date: Option<&str>,
        word_target: Option<&WordTarget>,
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
            Some(t) => parse_title(t).map_err(|e| errors.merge(e)).ok(),
        };
        let description = match description {
            None => None,
            Some(d) => parse_description(d)
                .map_err(|e| errors.merge(e))
                .ok()
                .flatten(),
        };
        // An empty value is not a date (FastAPI answers 422 for it too); leave the field out instead.
        let due_date = match due_date {
            None => None,
            Some(raw) => parse_due_date_field(raw).map_err(|e| errors.merge(e)).ok(),
        };
        let word_target = match word_target {
            None => None,
            Some(raw) => parse_word_target(raw).map_err(|e| errors.merge(e)).ok(),
        };
        match title {
            Some(title) if errors.is_empty() => Ok(Self {
                title,
                description,
                due_date,
                word_target,
            }),
            _ => Err(errors),
        }
    }
}

/// A word target as sent: a JSON number, or the text of a form field.
#[derive(Clone, Debug)]
pub enum WordTarget {
    Number(serde_json::Number),
    Text(String),
}

/// A title: trimmed, 1 to 255 characters as sent, no control characters.
///
/// # Errors
/// The rule it breaks, at `["body", "title"]`.
pub fn parse_title(t: &str) -> Result<String, ValidationErrors> {
    if t.chars().count() > NewTask::MAX_TITLE_CHARS {
        return Err(ValidationErrors::field(
            "title",
            "must be at most 255 characters",
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(ValidationErrors::field(
            "title",
            "must not contain control characters",
        ));
    }
    if trim(t).is_empty() {
        return Err(ValidationErrors::field("title", "must not be blank"));
    }
    Ok(trim(t).to_owned())
}

/// A description: at most 10,000 characters; trimmed, and `None` when blank.
///
/// # Errors
/// The rule it breaks, at `["body", "description"]`.
pub fn parse_description(d: &str) -> Result<Option<String>, ValidationErrors> {
    if d.chars().count() > NewTask::MAX_DESCRIPTION_CHARS {
        return Err(ValidationErrors::field(
            "description",
            "must be at most 10000 characters",
        ));
    }
    // Postgres text cannot hold NUL: it becomes U+FFFD, the standard replacement character.
    Ok(Some(trim(d).replace('\0', "\u{fffd}")).filter(|d| !d.is_empty()))
}

/// A due date, as [`parse_due_date`] reads it.
///
/// # Errors
/// The rule it breaks, at `["body", "due_date"]`.
pub fn parse_due_date_field(raw: &str) -> Result<DateTime<Utc>, ValidationErrors> {
    parse_due_date(raw).map_err(|()| {
        ValidationErrors::field(
            "due_date",
            "must be an ISO 8601 date or date-time in the years 0000 to 9999, e.g. 2026-12-01T17:00:00Z",
        )
    })
}

/// A word target: a whole number from 1 to 10,000,000 (`5.0` is whole; JSON Schema agrees).
///
/// # Errors
/// The rule it breaks, at `["body", "word_target"]`.
pub fn parse_word_target(raw: &WordTarget) -> Result<i32, ValidationErrors> {
    let n = match raw {
        WordTarget::Number(n) => whole_number(n),
        WordTarget::Text(t) => t.trim().parse::<i64>().ok(),
    };
    n.filter(|n| (1..=NewTask::MAX_WORD_TARGET).contains(n))
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| {
            ValidationErrors::field(
                "word_target",
                "must be a whole number of words from 1 to 10000000",
            )
        })
}

/// A JSON number that is a whole number (`5` or `5.0`), if it fits an `i64`.
pub fn whole_number(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

/// Trims what the API's documented patterns count as blank: Unicode white space and U+FEFF.
pub fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// RFC 3339 with an offset; a date-time without one is UTC; a bare date is midnight UTC. Only
/// the years 0000 to 9999 (in UTC), the ones ISO 8601 writes with four digits: chrono reads
/// dates Postgres cannot store, and a refusal there would be a server error, not the client's.
fn parse_due_date(raw: &str) -> Result<DateTime<Utc>, ()> {
    parse_any_date(raw)
        .filter(|d| (0..=9999).contains(&d.year()))
        .ok_or(())
}

fn parse_any_date(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(raw) {
        return Some(with_offset.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(raw, format) {
            return Some(naive.and_utc());
        }
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

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
    fn due_dates_outside_the_years_0000_to_9999_are_refused_when_parsed() {
        let parse = |raw| NewTask::parse(Some("t"), None, Some(raw));
        // Found by trying it: chrono reads these, Postgres cannot store the first.
        assert!(parse("-5000-01-01").is_err());
        assert!(parse("+10000-01-01T00:00:00Z").is_err());
        assert!(
            parse("9999-12-31T23:59:59-01:00").is_err(),
            "year 10000 in UTC"
        );
        assert!(parse("0000-01-01").is_ok());
        assert!(parse("9999-12-31T23:59:59Z").is_ok());
        let refused = parse("-5000-01-01").expect_err("refused");
        assert_eq!(refused.items()[0].loc, ["body", "due_date"]);
    }

    #[test]
    fn a_nul_in_a_description_becomes_the_replacement_character() {
        let task = NewTask::parse(Some("t"), Some("a\0b"), None).expect("valid");
        assert_eq!(task.description.as_deref(), Some("a\u{fffd}b"));
        assert!(NewTask::parse(Some("t"), None, Some("2026-13-45")).is_err());
    }

    proptest! {
        #[test]
        fn an_accepted_title_is_the_trimmed_input(raw in "\\PC{0,300}") {
            if let Ok(task) = NewTask::parse(Some(&raw), None, None) {
                prop_assert_eq!(task.title.as_str(), trim(&raw));
            }
        }
    }
}
