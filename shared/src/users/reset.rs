//! A forgotten password, reset by email.
//!
//! [`request`] records only what was asked (the email, the address, the time) in an outbox, the
//! same whether or not an account has the email, so neither the answer nor its timing tells.
//! The sweeper ([`settle_due`]) looks the account up and, for an active one, issues a token and
//! mails a link to the web app's reset page, built from `APP_URL` alone, with the token in the
//! link's fragment (so it reaches no server log and no `Referer`). [`confirm`] spends the token.
//!
//! A token is 32 random bytes, kept only as its SHA-256; it is valid for [`TOKEN_TTL`], and void
//! once used or once a newer one is issued (one row per user).

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::{
    AppState, Error,
    mail::Letter,
    tasks::outbox::backoff,
    users::{
        User, db, limits,
        model::{Email, Password},
        password,
    },
};

/// How long a reset link works.
pub const TOKEN_TTL: TimeDelta = TimeDelta::minutes(30);
/// Requests per email within [`WINDOW`]; more get `429`, whether or not an account has it.
pub const PER_EMAIL: i64 = 3;
/// Requests per source address within [`WINDOW`].
pub const PER_ADDRESS: i64 = 10;
/// The window of both limits.
pub const WINDOW: TimeDelta = TimeDelta::hours(1);
/// A request not mailed within this long is given up: a link that late would only confuse.
pub const GIVE_UP_AFTER: TimeDelta = TimeDelta::hours(1);
/// How long one sweep spends mailing: the sweeper has other duties within its minute.
const MAIL_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);
/// How long a request is leased to the sweeper run that took it.
const LEASE: TimeDelta = TimeDelta::minutes(2);

/// The one answer to a token that is spent, expired or made up.
pub const INVALID_TOKEN: &str = "this reset link is invalid, used or expired; ask for a new one";

/// Records a reset request for `email` from `source_ip`, within the limits.
///
/// The same statements run whether or not an account has the email: nothing here reads `users`.
///
/// # Errors
/// [`Error::TooManyRequests`] when the email or the address has asked too often this hour.
#[tracing::instrument(skip_all)]
pub async fn request(state: &AppState, email: &Email, source_ip: &str) -> Result<(), Error> {
    let now = state.clock.now();
    let since = now - WINDOW;
    let mut tx = state.db.begin().await?;
    // Email first, then address, always: two requests never wait on each other in a cycle.
    crate::db::lock(&mut *tx, &format!("reset:email:{}", email.as_str())).await?;
    crate::db::lock(&mut *tx, &format!("reset:ip:{source_ip}")).await?;
    let by_email = sqlx::query_as!(
        db::AttemptCount,
        r#"
        select count(*) as "count!", min(requested_at) as oldest
        from password_reset_requests where email = $1 and requested_at > $2
        "#,
        email.as_str(),
        since,
    )
    .fetch_one(&mut *tx)
    .await?;
    limits::refuse_over(by_email, PER_EMAIL, WINDOW, now)?;
    let by_address = sqlx::query_as!(
        db::AttemptCount,
        r#"
        select count(*) as "count!", min(requested_at) as oldest
        from password_reset_requests where source_ip = $1 and requested_at > $2
        "#,
        source_ip,
        since,
    )
    .fetch_one(&mut *tx)
    .await?;
    limits::refuse_over(by_address, PER_ADDRESS, WINDOW, now)?;
    sqlx::query!(
        r#"
        insert into password_reset_requests (email, source_ip, requested_at, next_attempt_at)
        values ($1, $2, $3, $3)
        "#,
        email.as_str(),
        source_ip,
        now,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

struct Due {
    id: i64,
    email: String,
    requested_at: DateTime<Utc>,
    attempts: i32,
}

/// What one sweep of the reset outbox did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Settled {
    pub sent: usize,
    /// Requests for an email no active account has: settled without a letter.
    pub no_account: usize,
    /// Requests SES refused or could not take, left for a later run.
    pub failed: usize,
}

/// Settles the reset requests that are due, at most `batch`.
///
/// For an active account, a new token and a letter; for anything else, nothing but the record. A
/// letter SES does not take is tried again with the outbox's backoff, until [`GIVE_UP_AFTER`].
///
/// # Errors
/// [`Error::Database`] when the outbox cannot be read or written.
pub async fn settle_due(state: &AppState, batch: i64) -> Result<Settled, Error> {
    let now = state.clock.now();
    // Leased, so two sweeper runs never mail the same request.
    let due = sqlx::query_as!(
        Due,
        r#"
        update password_reset_requests r set next_attempt_at = $2
        from (select id from password_reset_requests
              where settled_at is null and next_attempt_at <= $1
              order by next_attempt_at limit $3
              for update skip locked) d
        where r.id = d.id
        returning r.id, r.email, r.requested_at, r.attempts
        "#,
        now,
        now + LEASE,
        batch,
    )
    .fetch_all(&state.db)
    .await?;
    let mut settled = Settled::default();
    let started = std::time::Instant::now();
    for request in due {
        // What is left keeps its lease, and a later run takes it up: the sweep has other duties.
        if started.elapsed() > MAIL_BUDGET {
            break;
        }
        if request.requested_at < now - GIVE_UP_AFTER {
            settle(&state.db, request.id, "given_up", now).await?;
            tracing::warn!(request = request.id, "password reset email given up");
            continue;
        }
        let user = db::select_by_email(&state.db, &Email::stored(&request.email)).await?;
        let Some(user) = user.filter(|u| u.is_active) else {
            settle(&state.db, request.id, "no_account", now).await?;
            settled.no_account += 1;
            continue;
        };
        match mail_link(state, &user, request.requested_at, now).await {
            Ok(()) => {
                settle(&state.db, request.id, "sent", now).await?;
                tracing::info!(user_id = %user.id, "password reset email sent");
                settled.sent += 1;
            }
            Err(e) => {
                let attempts = request.attempts + 1;
                tracing::warn!(request = request.id, attempts, error.cause_chain = ?e, "password reset email not sent; will retry");
                sqlx::query!(
                    "update password_reset_requests set attempts = $2, next_attempt_at = $3, last_error = $4 where id = $1",
                    request.id,
                    attempts,
                    now + backoff(attempts),
                    e.to_string(),
                )
                .execute(&state.db)
                .await?;
                settled.failed += 1;
                // SES is refusing or unreachable: the rest would only wait on it too.
                break;
            }
        }
    }
    Ok(settled)
}

async fn settle(
    db: impl PgExecutor<'_>,
    id: i64,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "update password_reset_requests set settled_at = $3, outcome = $2 where id = $1",
        id,
        outcome,
        now,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Mails `user` a link with a new token, then records the token (voiding any earlier one): a
/// letter SES does not take leaves an earlier link working.
async fn mail_link(
    state: &AppState,
    user: &User,
    requested_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let mut secret = [0_u8; 32];
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| anyhow::anyhow!("no random bytes"))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let link = format!("{}/reset#token={token}", state.config.app_url);
    state.mail.send(&letter(user, &link, requested_at)).await?;
    sqlx::query!(
        r#"
        insert into password_reset_tokens (user_id, token_hash, created_at, expires_at)
        values ($1, $2, $3, $4)
        on conflict (user_id) do update
            set token_hash = excluded.token_hash, created_at = excluded.created_at,
                expires_at = excluded.expires_at
        "#,
        user.id,
        &hash(&token),
        now,
        now + TOKEN_TTL,
    )
    .execute(&state.db)
    .await?;
    Ok(())
}

fn hash(token: &str) -> Vec<u8> {
    digest(&SHA256, token.as_bytes()).as_ref().to_vec()
}

/// The reset letter: which account, when it was asked for (`at`), the link, and how to ignore it.
pub fn letter(user: &User, link: &str, at: DateTime<Utc>) -> Letter {
    let zone: chrono_tz::Tz = user.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let when = at
        .with_timezone(&zone)
        .format("%-d %B %Y at %H:%M %Z")
        .to_string();
    let minutes = TOKEN_TTL.num_minutes();
    let text = format!(
        "Hello {name},\n\n\
         Someone (we hope you) asked on {when} to reset the password of the Writers account \
         {email} (username {username}).\n\n\
         To choose a new password, open this link within {minutes} minutes:\n\n{link}\n\n\
         The link works once. If you did not ask for it, ignore this email: your password stays \
         as it is, and no one can use this link without access to your inbox.\n\n— Writers\n",
        name = user.full_name.as_deref().unwrap_or(&user.username),
        email = user.email,
        username = user.username,
    );
    let html = format!(
        "<p>Hello {name},</p>\
         <p>Someone (we hope you) asked on {when} to reset the password of the Writers account \
         <strong>{email}</strong> (username {username}).</p>\
         <p><a href=\"{link}\">Choose a new password</a> within {minutes} minutes. The link works once.</p>\
         <p>If you did not ask for it, ignore this email: your password stays as it is.</p>\
         <p>— Writers</p>",
        name = escape(user.full_name.as_deref().unwrap_or(&user.username)),
        email = escape(&user.email),
        username = escape(&user.username),
        link = escape(link),
    );
    Letter {
        to: user.email.clone(),
        subject: "Reset your Writers password".to_owned(),
        text,
        html,
    }
}

fn escape(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Sets a new password with a reset token: every session of the user ends, and the lockout of
/// their email is lifted.
///
/// The new password is hashed before the token is looked up, so a made-up token takes as long
/// as a real one.
///
/// # Errors
/// [`Error::BadRequest`] ([`INVALID_TOKEN`]) for a token that is spent, expired, made up, or
/// whose account is deactivated.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
pub async fn confirm(state: &AppState, token: &str, new: Password) -> Result<(), Error> {
    let new_hash = password::hash(new).await?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    // Spent by this attempt whatever it finds: an expired token is removed as well.
    let found = sqlx::query!(
        "delete from password_reset_tokens where token_hash = $1 returning user_id, expires_at",
        &hash(token),
    )
    .fetch_optional(&mut *tx)
    .await?;
    let user = match found.filter(|f| f.expires_at > now) {
        Some(found) => db::lock_user(&mut *tx, found.user_id)
            .await?
            .filter(|u| u.is_active),
        None => None,
    };
    let Some(user) = user else {
        tx.commit().await?;
        return Err(Error::BadRequest(INVALID_TOKEN));
    };
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    db::update_password_hash(&mut *tx, user.id, &new_hash).await?;
    let ended = db::revoke_sessions_of(&mut *tx, user.id, None, "password_reset", now).await?;
    db::clear_failed_logins(&mut *tx, &user.email).await?;
    tx.commit().await?;
    tracing::info!(sessions_ended = ended, "password reset");
    Ok(())
}

/// Voids `user_id`'s reset token, if any (a new password or a new email makes it moot).
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub(crate) async fn void_token(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<(), Error> {
    sqlx::query!(
        "delete from password_reset_tokens where user_id = $1",
        user_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes settled requests and expired tokens older than `before`; they count towards no limit.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn purge_before(db: &sqlx::PgPool, before: DateTime<Utc>) -> Result<u64, Error> {
    let requests = sqlx::query!(
        "delete from password_reset_requests where requested_at < $1 and (settled_at is not null or requested_at < $1 - interval '1 day')",
        before,
    )
    .execute(db)
    .await?;
    let tokens = sqlx::query!(
        "delete from password_reset_tokens where expires_at < $1",
        before
    )
    .execute(db)
    .await?;
    Ok(requests.rows_affected() + tokens.rows_affected())
}
