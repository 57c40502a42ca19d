//! [`Clock`]: the time every rule reads (token expiry, lockout windows), so tests can move it.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// The system clock in production; a settable one in tests.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<Mutex<DateTime<Utc>>>>);

impl Clock {
    /// The real time.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands at `at` until moved with [`Clock::advance`].
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self(Some(Arc::new(Mutex::new(at))))
    }

    /// The current time to the microsecond: what Postgres stores, so a time written and read
    /// back compares equal (Postgres would round nanoseconds, sometimes into the future).
    pub fn now(&self) -> DateTime<Utc> {
        let now = match &self.0 {
            None => Utc::now(),
            Some(at) => *at.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        };
        now.duration_trunc(TimeDelta::microseconds(1))
            .unwrap_or(now)
    }

    /// Moves a fixed clock forward; the system clock cannot be moved.
    ///
    /// # Panics
    /// On the system clock: a test that means to move time must build a fixed one.
    pub fn advance(&self, by: TimeDelta) {
        let at = self.0.as_ref().expect("only a fixed clock can be advanced");
        *at.lock().unwrap_or_else(std::sync::PoisonError::into_inner) += by;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_moves_only_when_advanced_and_keeps_microseconds() {
        let start = DateTime::parse_from_rfc3339("2026-11-26T10:00:00.123456789Z")
            .expect("a time")
            .with_timezone(&Utc);
        let clock = Clock::fixed(start);
        assert_eq!(clock.now().to_rfc3339(), "2026-11-26T10:00:00.123456+00:00");
        clock.advance(TimeDelta::minutes(15));
        assert_eq!(clock.now().to_rfc3339(), "2026-11-26T10:15:00.123456+00:00");
    }
}
