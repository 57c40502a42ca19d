//! Progress toward a task's word target by its due date, counted in the writer's time zone.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// How far a task's manuscript is toward its target, and the pace its due date asks for.
///
/// `null` members are figures that cannot be computed: no target, no due date, or a due date
/// already past.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Progress {
    /// Words of the latest processed draft; 0 before any draft is processed.
    pub words: i64,
    pub target: Option<i64>,
    /// `words` as a percentage of `target`, to a tenth; past 100 when the target is passed.
    pub percent: Option<f64>,
    /// Days from today to the due date, both in the writer's time zone: 0 when it is due today,
    /// negative when it is late.
    pub days_left: Option<i64>,
    /// The words a day still needed to reach the target by the due date, counting today and the
    /// due day; 0 once the target is reached.
    pub words_per_day_needed: Option<i64>,
}

impl Progress {
    /// The progress of `words` toward `target` by `due`, on `today` in `time_zone`.
    pub fn of(
        words: Option<i64>,
        target: Option<i32>,
        due: Option<DateTime<Utc>>,
        today: NaiveDate,
        time_zone: chrono_tz::Tz,
    ) -> Self {
        let words = words.unwrap_or(0);
        let target = target.map(i64::from);
        #[allow(clippy::cast_precision_loss)] // word counts stay far below 2^52
        let percent = target.map(|t| (words as f64 / t as f64 * 1000.0).round() / 10.0);
        let days_left =
            due.map(|due| (due.with_timezone(&time_zone).date_naive() - today).num_days());
        let words_per_day_needed = match (target, days_left) {
            (Some(t), _) if words >= t => Some(0),
            (Some(t), Some(days)) if days >= 0 => Some(ceil_div(t - words, days + 1)),
            _ => None,
        };
        Self {
            words,
            target,
            percent,
            days_left,
            words_per_day_needed,
        }
    }
}

/// `n / d` rounded up, for a positive `n` and `d` (`i64::div_ceil` is not stable yet).
fn ceil_div(n: i64, d: i64) -> i64 {
    (n + d - 1) / d
}

/// Today in a writer's time zone: what every task view's progress is counted from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Today {
    pub date: NaiveDate,
    pub zone: chrono_tz::Tz,
}

impl Today {
    /// The date at `now` in the zone named `time_zone` (a stored IANA name).
    pub fn of(time_zone: &str, now: DateTime<Utc>) -> Self {
        let zone = zone(time_zone);
        Self {
            date: today(now, zone),
            zone,
        }
    }
}

/// A stored time zone name as a zone; `UTC` for a name this build does not know.
pub fn zone(name: &str) -> chrono_tz::Tz {
    name.parse().unwrap_or(chrono_tz::UTC)
}

/// The date it is at `now` in `time_zone`.
pub fn today(now: DateTime<Utc>, time_zone: chrono_tz::Tz) -> NaiveDate {
    now.with_timezone(&time_zone).date_naive()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a date")
    }

    #[test]
    fn the_pace_counts_today_and_the_due_day() {
        let due = Utc.with_ymd_and_hms(2026, 12, 11, 17, 0, 0).single();
        let p = Progress::of(
            Some(4_000),
            Some(10_000),
            due,
            day(2026, 12, 2),
            chrono_tz::UTC,
        );
        assert_eq!(p.percent, Some(40.0));
        assert_eq!(p.days_left, Some(9));
        // 6,000 words over 10 days (the 2nd to the 11th).
        assert_eq!(p.words_per_day_needed, Some(600));
    }

    #[test]
    fn figures_that_cannot_be_computed_are_null() {
        let today = day(2026, 12, 2);
        let none = Progress::of(None, None, None, today, chrono_tz::UTC);
        assert_eq!(
            none,
            Progress {
                words: 0,
                target: None,
                percent: None,
                days_left: None,
                words_per_day_needed: None
            }
        );
        let late = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).single();
        let p = Progress::of(Some(10), Some(100), late, today, chrono_tz::UTC);
        assert_eq!((p.days_left, p.words_per_day_needed), (Some(-2), None));
        let done = Progress::of(Some(120), Some(100), late, today, chrono_tz::UTC);
        assert_eq!(
            (done.percent, done.words_per_day_needed),
            (Some(120.0), Some(0))
        );
    }

    #[test]
    fn today_and_the_due_day_are_the_writers_dates() {
        // 23:30 UTC on the 1st is already the 2nd in Tokyo, where 10:00 UTC on the 2nd is
        // that evening: due today there, tomorrow in UTC.
        let now = Utc
            .with_ymd_and_hms(2026, 12, 1, 23, 30, 0)
            .single()
            .expect("a time");
        let due = Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).single();
        let tokyo = zone("Asia/Tokyo");
        assert_eq!(today(now, tokyo), day(2026, 12, 2));
        let p = Progress::of(None, Some(10), due, today(now, tokyo), tokyo);
        assert_eq!((p.days_left, p.words_per_day_needed), (Some(0), Some(10)));
        let utc = Progress::of(
            None,
            Some(10),
            due,
            today(now, chrono_tz::UTC),
            chrono_tz::UTC,
        );
        assert_eq!(
            (utc.days_left, utc.words_per_day_needed),
            (Some(1), Some(5))
        );
        assert_eq!(zone("Not/AZone"), chrono_tz::UTC);
    }
}
