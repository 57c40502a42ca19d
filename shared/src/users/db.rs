//! SQL for accounts, sessions, refresh tokens and auth attempts; no rules, only queries.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::{
    Error,
    users::model::{Email, NewUser, User},
};

pub(crate) async fn insert(
    db: impl PgExecutor<'_>,
    new: &NewUser,
    hash: &str,
) -> Result<User, Error> {
    let user = sqlx::query_as!(
        User,
        r#"
        insert into users (email, username, hashed_password, full_name)
        values ($1, $2, $3, $4)
        returning id, email, username, hashed_password, full_name, is_active, is_superuser,
                  created_at, updated_at, time_zone
        "#,
        new.email.as_str(),
        new.username.as_str(),
        hash,
        new.full_name.as_deref(),
    )
    .fetch_one(db)
    .await?;
    Ok(user)
}

pub(crate) async fn select_by_email(
    db: impl PgExecutor<'_>,
    email: &Email,
) -> Result<Option<User>, Error> {
    let user = sqlx::query_as!(
        User,
        r#"
        select id, email, username, hashed_password, full_name, is_active, is_superuser,
               created_at, updated_at, time_zone
        from users
        where lower(email) = $1
        "#,
        email.as_str(),
    )
    .fetch_optional(db)
    .await?;
    Ok(user)
}

pub(crate) async fn update_password_hash(
    db: impl PgExecutor<'_>,
    id: Uuid,
    hash: &str,
) -> Result<(), Error> {
    sqlx::query!(
        "update users set hashed_password = $2 where id = $1",
        id,
        hash
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The session's user, if the session is neither revoked nor expired: the one query every
/// protected request makes.
pub(crate) async fn select_live_session_user(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<User>, Error> {
    let user = sqlx::query_as!(
        User,
        r#"
        select u.id, u.email, u.username, u.hashed_password, u.full_name, u.is_active,
               u.is_superuser, u.created_at, u.updated_at, u.time_zone
        from sessions s
        join users u on u.id = s.user_id
        where s.id = $1 and s.user_id = $2 and s.revoked_at is null and s.expires_at > $3
        "#,
        session_id,
        user_id,
        now,
    )
    .fetch_optional(db)
    .await?;
    Ok(user)
}

/// A session that begins `now`: its absolute lifetime counts from here, on the clock every rule reads.
pub(crate) async fn insert_session(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "insert into sessions (id, user_id, created_at, expires_at) values ($1, $2, $3, $4)",
        id,
        user_id,
        now,
        expires_at,
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn extend_session(
    db: impl PgExecutor<'_>,
    id: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "update sessions set expires_at = greatest(expires_at, $2) where id = $1",
        id,
        expires_at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Revokes a live session; `false` when it was already revoked or does not exist.
pub(crate) async fn revoke_session(
    db: impl PgExecutor<'_>,
    id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let result = sqlx::query!(
        "update sessions set revoked_at = $3, revoked_reason = $2 where id = $1 and revoked_at is null",
        id,
        reason,
        now,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub(crate) async fn insert_refresh_token(
    db: impl PgExecutor<'_>,
    hash: &[u8],
    session_id: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "insert into refresh_tokens (token_hash, session_id, expires_at) values ($1, $2, $3)",
        hash,
        session_id,
        expires_at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Spends a refresh token of a live session: marks it used, or finds it used since `grace_since`
/// (a second tab, a retry). Returns when the session began; `None` when the token is unknown,
/// expired, spent before the grace period, or its session is over.
///
/// One guarded `update`: of two concurrent refreshes with the same token, the second waits for
/// the first and then finds the token spent within the grace period, so both succeed.
pub(crate) async fn spend_refresh_token(
    db: impl PgExecutor<'_>,
    hash: &[u8],
    session_id: Uuid,
    now: DateTime<Utc>,
    grace_since: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, Error> {
    let started = sqlx::query_scalar!(
        r#"
        update refresh_tokens t set used_at = coalesce(t.used_at, $3)
        from sessions s
        where t.token_hash = $1 and t.session_id = $2 and s.id = t.session_id
          and (t.used_at is null or t.used_at > $4)
          and t.expires_at > $3 and s.revoked_at is null and s.expires_at > $3
        returning s.created_at
        "#,
        hash,
        session_id,
        now,
        grace_since,
    )
    .fetch_optional(db)
    .await?;
    Ok(started)
}

/// How many attempts of `kind` match `email` or `source_ip` since `since`, and the oldest one.
pub(crate) struct AttemptCount {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
}

pub(crate) async fn count_failed_logins_for_email(
    db: impl PgExecutor<'_>,
    email: &str,
    since: DateTime<Utc>,
) -> Result<AttemptCount, Error> {
    let row = sqlx::query_as!(
        AttemptCount,
        r#"
        select count(*) as "count!", min(attempted_at) as oldest
        from auth_attempts
        where kind = 'login_failed' and email = $1 and attempted_at > $2
        "#,
        email,
        since,
    )
    .fetch_one(db)
    .await?;
    Ok(row)
}

pub(crate) async fn count_attempts_from(
    db: impl PgExecutor<'_>,
    kind: &str,
    source_ip: &str,
    since: DateTime<Utc>,
) -> Result<AttemptCount, Error> {
    let row = sqlx::query_as!(
        AttemptCount,
        r#"
        select count(*) as "count!", min(attempted_at) as oldest
        from auth_attempts
        where source_ip = $1 and kind = $2 and attempted_at > $3
        "#,
        source_ip,
        kind,
        since,
    )
    .fetch_one(db)
    .await?;
    Ok(row)
}

pub(crate) async fn insert_attempt(
    db: impl PgExecutor<'_>,
    kind: &str,
    email: Option<&str>,
    source_ip: &str,
    at: DateTime<Utc>,
) -> Result<i64, Error> {
    let id = sqlx::query_scalar!(
        "insert into auth_attempts (kind, email, source_ip, attempted_at) values ($1, $2, $3, $4) returning id",
        kind,
        email,
        source_ip,
        at,
    )
    .fetch_one(db)
    .await?;
    Ok(id)
}

pub(crate) async fn delete_attempt(db: impl PgExecutor<'_>, id: i64) -> Result<(), Error> {
    sqlx::query!("delete from auth_attempts where id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes attempts older than `before`; they no longer count towards any limit.
pub(crate) async fn delete_attempts_before(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> Result<u64, Error> {
    let result = sqlx::query!("delete from auth_attempts where attempted_at < $1", before)
        .execute(db)
        .await?;
    Ok(result.rows_affected())
}

/// Deletes sessions (and, by cascade, their refresh tokens) that expired before `before`: no
/// token of theirs can be used any more.
pub(crate) async fn delete_sessions_expired_before(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> Result<u64, Error> {
    let result = sqlx::query!("delete from sessions where expires_at < $1", before)
        .execute(db)
        .await?;
    Ok(result.rows_affected())
}
