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
                  created_at, updated_at
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
               created_at, updated_at
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
               u.is_superuser, u.created_at, u.updated_at
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

pub(crate) async fn insert_session(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "insert into sessions (id, user_id, expires_at) values ($1, $2, $3)",
        id,
        user_id,
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

/// Marks an unspent, unexpired refresh token of a live session as spent; `false` otherwise.
///
/// One guarded `update`: of two concurrent refreshes with the same token, exactly one wins.
pub(crate) async fn spend_refresh_token(
    db: impl PgExecutor<'_>,
    hash: &[u8],
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let result = sqlx::query!(
        r#"
        update refresh_tokens t set used_at = $3
        from sessions s
        where t.token_hash = $1 and t.session_id = $2 and s.id = t.session_id
          and t.used_at is null and t.expires_at > $3 and s.revoked_at is null
        "#,
        hash,
        session_id,
        now,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
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
) -> Result<(), Error> {
    sqlx::query!(
        "insert into auth_attempts (kind, email, source_ip, attempted_at) values ($1, $2, $3, $4)",
        kind,
        email,
        source_ip,
        at,
    )
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
