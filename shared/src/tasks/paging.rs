//! `GET /api/v1/tasks`' parameters: as sent, validated, and the keyset cursor.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::{
    ValidationErrors,
    tasks::model::{Task, TaskStatus},
};

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
    /// The order: `created_at`, newest first (the default), or `due_date`, soonest first, tasks
    /// without one last.
    #[param(value_type = Option<String>, pattern = "^(created_at|due_date)$", default = "created_at")]
    pub sort: Option<String>,
    /// Only tasks whose title holds this text, in any case.
    #[param(value_type = Option<String>, max_length = 255, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", example = "chapter")]
    pub q: Option<String>,
    /// Only tasks due before this time (RFC 3339, or a date: midnight UTC).
    #[param(value_type = Option<String>, format = DateTime, example = "2026-12-31T00:00:00Z")]
    pub due_before: Option<String>,
    /// `true`: the tasks in the trash instead, each with its `trashed_at`.
    #[param(value_type = Option<bool>, default = false)]
    pub trashed: Option<String>,
    /// Keyset pagination: the `next` of the previous page. The page then
    /// starts after that task, and costs the same however deep it is (a deep `skip` reads every
    /// row it skips); a `skip` given with it counts from there.
    #[param(value_type = Option<String>, pattern = r"^-?[0-9]{1,18}\.[0-9a-fA-F]{32}(\.(-?[0-9]{1,18}|n))?$", example = "1795000000123456.3fa85f6457174562b3fc2c963f66afa6.n")]
    pub after: Option<String>,
}

/// A whole-number query parameter `name` in `min..=max`, `default` when absent; a bad one adds
/// its error (at `["query", name]`) to `errors` and reads as `default`.
pub(crate) fn query_number(
    errors: &mut ValidationErrors,
    name: &str,
    raw: Option<&str>,
    default: i64,
    min: i64,
    max: i64,
) -> i64 {
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
}

/// The order of a page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// Newest first, id breaking ties.
    #[default]
    CreatedAt,
    /// Soonest due first, tasks without a due date last, id breaking ties.
    DueDate,
}

/// A validated page request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub skip: i64,
    pub limit: i64,
    pub status: Option<TaskStatus>,
    pub sort: Sort,
    /// Only tasks whose title holds this, case-insensitively.
    pub title: Option<String>,
    pub due_before: Option<DateTime<Utc>>,
    /// The trash instead of the live tasks.
    pub trashed: bool,
    /// Only tasks after this one, in list order.
    pub after: Option<Cursor>,
}

/// A position in the list: the last task of a page, in terms of either order.
///
/// On the wire it is opaque: `<created_at as Unix microseconds>.<id as 32 hex digits>.<due_date
/// as Unix microseconds, or n for none>`. A cursor without its last part (as pages sent before
/// `sort` existed) still works in either order: by due date, the task it names gives the date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
    /// `None` when the cursor did not say; `Some(None)` for a task without a due date.
    pub due_date: Option<Option<DateTime<Utc>>>,
}

impl Cursor {
    /// The position just after `task`.
    pub fn after(task: &Task) -> Self {
        Self {
            created_at: task.created_at,
            id: task.id,
            due_date: Some(task.due_date),
        }
    }

    /// The cursor as sent to clients.
    pub fn encode(&self) -> String {
        let mut encoded = format!(
            "{}.{}",
            self.created_at.timestamp_micros(),
            self.id.simple()
        );
        match self.due_date {
            None => {}
            Some(None) => encoded.push_str(".n"),
            Some(Some(due)) => encoded.push_str(&format!(".{}", due.timestamp_micros())),
        }
        encoded
    }

    /// Reads [`Cursor::encode`]'s form back (the `pattern` of [`ListParams::after`]); `None` for
    /// anything else.
    /// A time outside the years 1–9999, which the database cannot compare, is moved to the nearer
    /// end of that range: before every task, or after every task (an empty page).
    pub fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.split('.');
        let (created, id, due) = (parts.next()?, parts.next()?, parts.next());
        if parts.next().is_some() || id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let due_date = match due {
            None => None,
            Some("n") => Some(None),
            Some(micros) => Some(Some(Self::time(micros)?)),
        };
        Some(Self {
            created_at: Self::time(created)?,
            id: id.parse().ok()?,
            due_date,
        })
    }

    fn time(micros: &str) -> Option<DateTime<Utc>> {
        let digits = micros.strip_prefix('-').unwrap_or(micros);
        if !(1..=18).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Eighteen digits stay inside both i64 and chrono's range, so neither step fails.
        let time = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        let earliest = NaiveDate::from_ymd_opt(1, 1, 1)?
            .and_hms_opt(0, 0, 0)?
            .and_utc();
        Some(time.clamp(earliest, Self::latest()))
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
    /// The longest title search: no title is longer.
    pub const MAX_Q_CHARS: usize = 255;

    /// Checks each parameter.
    ///
    /// # Errors
    /// One error per bad parameter, located at `["query", name]`.
    pub fn parse(&self) -> Result<ListQuery, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut number = |name: &str, raw: Option<&str>, default: i64, min: i64, max: i64| {
            query_number(&mut errors, name, raw, default, min, max)
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
        let sort = match self.sort.as_deref() {
            None | Some("created_at") => Sort::CreatedAt,
            Some("due_date") => Sort::DueDate,
            Some(_) => {
                errors.merge(ValidationErrors::at(
                    &["query", "sort"],
                    "must be created_at or due_date",
                    "enum",
                ));
                Sort::CreatedAt
            }
        };
        let title = match self.q.as_deref() {
            Some(q) if q.chars().count() > Self::MAX_Q_CHARS => {
                errors.merge(ValidationErrors::at(
                    &["query", "q"],
                    "must be at most 255 characters",
                    "string_too_long",
                ));
                None
            }
            // No title holds one, and Postgres text cannot hold NUL.
            Some(q) if q.chars().any(char::is_control) => {
                errors.merge(ValidationErrors::at(
                    &["query", "q"],
                    "must not contain control characters",
                    "string_pattern_mismatch",
                ));
                None
            }
            Some(q) => Some(q.to_owned()).filter(|q| !q.is_empty()),
            None => None,
        };
        let due_before = self.due_before.as_deref().and_then(|raw| {
            crate::tasks::model::parse_due_date_field(raw)
                .map_err(|_| {
                    errors.merge(ValidationErrors::at(
                        &["query", "due_before"],
                        "must be an ISO 8601 date or date-time in the years 0000 to 9999",
                        "datetime_parsing",
                    ));
                })
                .ok()
        });
        let trashed = match self.trashed.as_deref() {
            None => false,
            Some(raw) => match raw.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    errors.merge(ValidationErrors::at(
                        &["query", "trashed"],
                        "must be true or false",
                        "bool_parsing",
                    ));
                    false
                }
            },
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
                sort,
                title,
                due_before,
                trashed,
                after,
            })
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn list_parameters_have_defaults_and_ranges() {
        assert_eq!(
            ListParams::default().parse(),
            Ok(ListQuery {
                skip: 0,
                limit: 100,
                ..ListQuery::default()
            })
        );
        let params = |skip: &str, limit: &str, status: &str| ListParams {
            skip: Some(skip.into()),
            limit: Some(limit.into()),
            status_filter: Some(status.into()),
            ..ListParams::default()
        };
        assert_eq!(
            params("5", "10", "IN_PROGRESS").parse(),
            Ok(ListQuery {
                skip: 5,
                limit: 10,
                status: Some(TaskStatus::InProgress),
                ..ListQuery::default()
            })
        );
        let errors = params("-1", "101", "done").parse().expect_err("all bad");
        let locs: Vec<_> = errors.items().iter().map(|e| e.loc[1].as_str()).collect();
        assert_eq!(locs, ["skip", "limit", "status_filter"]);
        assert!(params("x", "0", "pending").parse().is_err());
    }

    #[test]
    fn sort_search_due_before_and_trash_are_checked() {
        let query = ListParams {
            sort: Some("due_date".into()),
            q: Some("Chapter".into()),
            due_before: Some("2026-12-31".into()),
            trashed: Some("true".into()),
            ..ListParams::default()
        }
        .parse()
        .expect("valid");
        assert_eq!(query.sort, Sort::DueDate);
        assert_eq!(query.title.as_deref(), Some("Chapter"));
        assert_eq!(
            query.due_before.map(|d| d.to_rfc3339()).as_deref(),
            Some("2026-12-31T00:00:00+00:00")
        );
        assert!(query.trashed);
        let empty = ListParams {
            q: Some(String::new()),
            ..ListParams::default()
        };
        assert_eq!(empty.parse().expect("valid").title, None, "q= is no filter");
        let errors = ListParams {
            sort: Some("title".into()),
            q: Some("a\0b".into()),
            due_before: Some("soon".into()),
            trashed: Some("maybe".into()),
            ..ListParams::default()
        }
        .parse()
        .expect_err("all bad");
        let locs: Vec<_> = errors.items().iter().map(|e| e.loc[1].as_str()).collect();
        assert_eq!(locs, ["sort", "q", "due_before", "trashed"]);
    }

    fn cursor(due: Option<Option<i64>>) -> Cursor {
        Cursor {
            created_at: DateTime::from_timestamp_micros(1_795_000_000_123_456).expect("a time"),
            id: Uuid::new_v4(),
            due_date: due.map(|d| d.and_then(DateTime::from_timestamp_micros)),
        }
    }

    #[test]
    fn a_cursor_round_trips_and_anything_else_is_refused() {
        for c in [
            cursor(None),
            cursor(Some(None)),
            cursor(Some(Some(1_800_000_000_000_000))),
        ] {
            assert_eq!(Cursor::parse(&c.encode()), Some(c));
        }
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
            format!("1.{id}."),
            format!("1.{id}.x"),
            format!("1.{id}.n.n"),
        ] {
            assert_eq!(Cursor::parse(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_cursor_outside_the_years_postgres_compares_moves_to_the_nearer_end() {
        let id = Uuid::nil().simple().to_string();
        let later = Cursor::parse(&format!("999999999999999999.{id}")).expect("well formed");
        assert_eq!(later.created_at.format("%Y").to_string(), "9999");
        let earlier = Cursor::parse(&format!("-999999999999999999.{id}")).expect("well formed");
        assert_eq!(
            earlier.created_at.format("%Y-%m-%d").to_string(),
            "0001-01-01"
        );
    }

    #[test]
    fn every_form_the_documented_pattern_allows_is_accepted() {
        // `^-?[0-9]{1,18}\.[0-9a-fA-F]{32}(\.(-?[0-9]{1,18}|n))?$`: its extremes.
        let id = Uuid::nil().simple().to_string();
        for raw in [
            format!("0.{id}"),
            format!("-5.{id}"),
            format!("{}.{id}", "9".repeat(18)),
            format!("-{}.{}", "9".repeat(18), "F".repeat(32)),
            format!("0.{id}.n"),
            format!("0.{id}.-{}", "9".repeat(18)),
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
        let c = cursor(Some(None));
        let query = with(Some("10"), &c.encode()).parse().expect("valid");
        assert_eq!((query.skip, query.after), (10, Some(c)));
        let errors = with(None, "not-a-cursor").parse().expect_err("refused");
        let locs: Vec<_> = errors.items().iter().map(|e| e.loc[1].as_str()).collect();
        assert_eq!(locs, ["after"]);
    }

    proptest! {
        #[test]
        fn list_parameters_never_panic(skip in "\\PC{0,30}", limit in "\\PC{0,30}", status in "\\PC{0,30}", after in "[0-9a-fn.-]{0,70}|\\PC{0,60}", q in "\\PC{0,30}") {
            let _ = ListParams { skip: Some(skip), limit: Some(limit), status_filter: Some(status), after: Some(after), q: Some(q.clone()), due_before: Some(q.clone()), sort: Some(q.clone()), trashed: Some(q) }.parse();
        }

        #[test]
        fn anything_the_documented_pattern_matches_is_accepted(raw in "-?[0-9]{1,18}\\.[0-9a-fA-F]{32}(\\.(-?[0-9]{1,18}|n))?") {
            prop_assert!(Cursor::parse(&raw).is_some());
        }

        #[test]
        fn a_cursor_in_range_round_trips(micros in -62_135_596_800_000_000_i64..=253_402_300_799_999_999, id in any::<u128>(), due in proptest::option::of(-62_135_596_800_000_000_i64..=253_402_300_799_999_999)) {
            let raw = match due {
                Some(due) => format!("{micros}.{id:032x}.{due}"),
                None => format!("{micros}.{id:032x}.n"),
            };
            let cursor = Cursor::parse(&raw);
            prop_assert_eq!(cursor.map(|c| c.encode()), Some(raw));
        }
    }
}
