//! A task as stored, its status, and a validated new task.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ValidationErrors;

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
                        "must be an ISO 8601 date or date-time in the years 0000 to 9999, e.g. 2026-12-01T17:00:00Z",
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
