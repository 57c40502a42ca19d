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

/// A login attempt's place within the limits, taken before the password is checked.
///
/// It is recorded as a failure up front: if the password is right, [`LoginAttempt::succeeded`]
/// removes it; otherwise it stays, as the failure it is. So however many logins for one email
/// arrive at once, at most the limit of them are ever checked in a window: each one takes its
/// place under a lock, and the ones that find no place left are refused before any hash runs.
#[derive(Debug)]
#[must_use = "a successful login must give its place back"]
struct LoginAttempt {
    id: i64,
}

/// Takes a place for a login of `email` from `source_ip`, or refuses it while either is locked out.
///
/// # Errors
/// [`Error::TooManyRequests`] with the time until the oldest counted failure leaves the window.
async fn begin_login(
    state: &AppState,
    email: &Email,
    source_ip: &str,
    now: DateTime<Utc>,
) -> Result<LoginAttempt, Error> {
    let since = now - LOGIN_WINDOW;
    let mut tx = state.db.begin().await?;
    // Email first, then address, always: two attempts never wait on each other in a cycle.
    crate::db::lock(&mut *tx, &format!("login:email:{}", email.as_str())).await?;
    crate::db::lock(&mut *tx, &format!("login:ip:{source_ip}")).await?;
    let by_email = db::count_failed_logins_for_email(&mut *tx, email.as_str(), since).await?;
    refuse_over(by_email, MAX_FAILED_LOGINS_PER_EMAIL, LOGIN_WINDOW, now)?;
    let by_ip = db::count_attempts_from(&mut *tx, "login_failed", source_ip, since).await?;
    refuse_over(by_ip, state.config.login_failures_per_ip, LOGIN_WINDOW, now)?;
    let id = db::insert_attempt(
        &mut *tx,
        "login_failed",
        Some(email.as_str()),
        source_ip,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(LoginAttempt { id })
}

/// A login of `email` from `source_ip` under the limits, settled whatever becomes of the request.
///
/// It takes its place ([`begin_login`]), runs `check` (the account lookup and the password hash),
/// and settles the place by what it found (`matched`: whether the login succeeded). All three run
/// in a task of their own, so a request
/// dropped part way (a client that went away, a closed tab) cannot leave its place counting as a
/// failure: ten such drops would otherwise lock the email out for the window. A check that fails
/// before it decides anything gives the place back too.
///
/// # Errors
/// [`Error::TooManyRequests`] while locked out, the check's own error, or [`Error::Database`]
/// when the attempt cannot be recorded or settled.
pub async fn check_login<T, F>(
    state: &AppState,
    email: &Email,
    source_ip: &str,
    now: DateTime<Utc>,
    check: F,
    matched: impl FnOnce(&T) -> bool + Send + 'static,
) -> Result<T, Error>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
{
    let (state, email, source_ip) = (state.clone(), email.clone(), source_ip.to_owned());
    let settled = tokio::spawn(async move {
        let attempt = begin_login(&state, &email, &source_ip, now).await?;
        let outcome = check.await;
        let failed = outcome.as_ref().is_ok_and(|found| !matched(found));
        if failed {
            attempt.failed(&state.db, now).await?;
        } else {
            attempt.succeeded(&state.db).await?;
        }
        outcome
    });
    settled
        .await
        .map_err(|e| anyhow::Error::new(e).context("checking a login"))?
}

impl LoginAttempt {
    /// The password was right: this attempt no longer counts as a failure.
    ///
    /// # Errors
    /// [`Error::Database`] when the place cannot be given back (it then counts as one failure).
    async fn succeeded(self, db: &PgPool) -> Result<(), Error> {
        db::delete_attempt(db, self.id).await
    }

    /// The password was wrong: the attempt stays recorded; attempts too old to count are purged.
    ///
    /// # Errors
    /// [`Error::Database`] when the purge fails.
    async fn failed(self, db: &PgPool, now: DateTime<Utc>) -> Result<(), Error> {
        db::delete_attempts_before(db, now - RETENTION).await?;
        Ok(())
    }
}

/// Records a registration from `source_ip`, or refuses it when that address has registered too
/// often this hour.
///
/// Check and record happen under one lock, so parallel registrations cannot
/// all pass the check; the attempt counts whether or not the registration then succeeds.
///
/// # Errors
/// [`Error::TooManyRequests`] with the time until the window allows another.
pub async fn begin_registration(
    state: &AppState,
    source_ip: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let mut tx = state.db.begin().await?;
    crate::db::lock(&mut *tx, &format!("register:ip:{source_ip}")).await?;
    let recent =
        db::count_attempts_from(&mut *tx, "register", source_ip, now - REGISTRATION_WINDOW).await?;
    refuse_over(
        recent,
        state.config.registrations_per_ip_per_hour,
        REGISTRATION_WINDOW,
        now,
    )?;
    db::insert_attempt(&mut *tx, "register", None, source_ip, now).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) fn refuse_over(
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
