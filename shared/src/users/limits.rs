//! Brute-force limits, kept in Postgres so they hold across Lambda instances.
//!
//! - 10 failed logins for one submitted email within 15 minutes lock that email out until the
//!   window passes, whether or not an account has it (so a `429` reveals nothing).
//! - Failed logins from one source address are capped too (`LOGIN_FAILURES_PER_IP`), which
//!   catches one client spraying many emails.
//! - Registrations are capped per source address and hour (`REGISTRATIONS_PER_IP_PER_HOUR`).

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use crate::{AppState, Error, users::db, users::model::Email};

/// Failed logins per email before the lockout.
pub const MAX_FAILED_LOGINS_PER_EMAIL: i64 = 10;
/// The lockout window: failures older than this no longer count.
pub const LOGIN_WINDOW: TimeDelta = TimeDelta::minutes(15);
/// The registration window.
pub const REGISTRATION_WINDOW: TimeDelta = TimeDelta::hours(1);
/// Attempts are kept this long, then purged.
const RETENTION: TimeDelta = TimeDelta::days(1);

/// Refuses a login while its email or its source address is locked out.
///
/// # Errors
/// [`Error::TooManyRequests`] with the time until the oldest counted failure leaves the window.
pub async fn check_login(
    state: &AppState,
    email: &Email,
    source_ip: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let since = now - LOGIN_WINDOW;
    let by_email = db::count_failed_logins_for_email(&state.db, email.as_str(), since).await?;
    refuse_over(by_email, MAX_FAILED_LOGINS_PER_EMAIL, LOGIN_WINDOW, now)?;
    let by_ip = db::count_attempts_from(&state.db, "login_failed", source_ip, since).await?;
    refuse_over(by_ip, state.config.login_failures_per_ip, LOGIN_WINDOW, now)
}

/// Records a failed login, and purges attempts too old to count.
///
/// # Errors
/// [`Error::Database`] when the attempt cannot be recorded.
pub async fn record_failed_login(
    db: &PgPool,
    email: &Email,
    source_ip: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    db::insert_attempt(db, "login_failed", Some(email.as_str()), source_ip, now).await?;
    db::delete_attempts_before(db, now - RETENTION).await?;
    Ok(())
}

/// Refuses a registration from an address that has registered too often this hour.
///
/// # Errors
/// [`Error::TooManyRequests`] with the time until the window allows another.
pub async fn check_registration(
    state: &AppState,
    source_ip: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let recent =
        db::count_attempts_from(&state.db, "register", source_ip, now - REGISTRATION_WINDOW)
            .await?;
    refuse_over(
        recent,
        state.config.registrations_per_ip_per_hour,
        REGISTRATION_WINDOW,
        now,
    )
}

/// Records a registration attempt (counted whether or not it succeeds).
///
/// # Errors
/// [`Error::Database`] when the attempt cannot be recorded.
pub async fn record_registration(
    db: &PgPool,
    source_ip: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    db::insert_attempt(db, "register", None, source_ip, now).await
}

fn refuse_over(
    attempts: db::AttemptCount,
    limit: i64,
    window: TimeDelta,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if attempts.count < limit {
        return Ok(());
    }
    let free_at = attempts.oldest.unwrap_or(now) + window;
    // Rounded up: a client that waits exactly this long is let in.
    let wait_micros = (free_at - now).num_microseconds().unwrap_or(0).max(1);
    let retry_after =
        std::time::Duration::from_secs(wait_micros.unsigned_abs().div_ceil(1_000_000));
    Err(Error::TooManyRequests { retry_after })
}
