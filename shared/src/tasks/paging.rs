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

    proptest! {
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
