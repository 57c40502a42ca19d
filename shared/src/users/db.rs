//! SQL for accounts, sessions, refresh tokens and auth attempts; no rules, only queries.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder, Row, postgres::PgRow};
use uuid::Uuid;

use crate::{
    Error,
    users::{
        Caller, Me,
        model::{Email, NewUser, User},
    },
};

/// The start of a statement that checks its caller's session in the same round trip as the
/// work it goes on to do: `with me as (…)`, one row while the session is live and none after it
/// ended or expired, holding `me_id`, `me_is_active` and `me_time_zone` ([`me`] reads them). The
/// caller adds its own `, name as (…)` parts and a `select` that reads from `me`, so a dead
/// session answers no row at all.
pub(crate) fn live_session(caller: Caller, now: DateTime<Utc>) -> QueryBuilder<Postgres> {
    let mut sql = QueryBuilder::new(
        "with me as (select u.id as me_id, u.is_active as me_is_active, \
         u.time_zone as me_time_zone from sessions s join users u on u.id = s.user_id \
         where s.id = ",
    );
    sql.push_bind(caller.session_id)
        .push(" and s.user_id = ")
        .push_bind(caller.user_id)
        .push(" and s.revoked_at is null and s.expires_at > ")
        .push_bind(now)
        .push(")");
    sql
}

/// The caller's part of a row of a [`live_session`] statement.
pub(crate) fn me(row: &PgRow) -> Result<Me, sqlx::Error> {
    Ok(Me {
        is_active: row.try_get("me_is_active")?,
        time_zone: row.try_get("me_time_zone")?,
    })
}

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
    user_agent: Option<&str>,
) -> Result<(), Error> {
    sqlx::query!(
        r#"
        insert into sessions (id, user_id, created_at, expires_at, last_used_at, user_agent)
        values ($1, $2, $3, $4, $3, $5)
        "#,
        id,
        user_id,
        now,
        expires_at,
        user_agent,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A refresh: the session lives on to `expires_at` and was last used `now`.
pub(crate) async fn extend_session(
    db: impl PgExecutor<'_>,
    id: Uuid,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "update sessions set expires_at = greatest(expires_at, $2), last_used_at = $3 where id = $1",
        id,
        expires_at,
        now,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Notes a successful sign-in, for the administrators' users table.
pub(crate) async fn record_login(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "update users set last_login_at = $2 where id = $1",
        user_id,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The account `id`, locked for the rest of the transaction.
pub(crate) async fn lock_user(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<User>, Error> {
    let user = sqlx::query_as!(
        User,
        r#"
        select id, email, username, hashed_password, full_name, is_active, is_superuser,
               created_at, updated_at, time_zone
        from users where id = $1 for update
        "#,
        id,
    )
    .fetch_optional(db)
    .await?;
    Ok(user)
}

/// What a profile edit writes: each `Some` replaces the stored value.
pub(crate) struct ProfileChange<'a> {
    pub full_name: Option<Option<&'a str>>,
    pub username: Option<&'a str>,
    pub time_zone: Option<&'a str>,
    pub email: Option<&'a str>,
}

pub(crate) async fn update_profile(
    db: impl PgExecutor<'_>,
    id: Uuid,
    change: &ProfileChange<'_>,
) -> Result<User, Error> {
    let user = sqlx::query_as!(
        User,
        r#"
        update users set
            full_name = case when $2 then $3 else full_name end,
            username = coalesce($4, username),
            time_zone = coalesce($5, time_zone),
            email = coalesce($6, email)
        where id = $1
        returning id, email, username, hashed_password, full_name, is_active, is_superuser,
                  created_at, updated_at, time_zone
        "#,
        id,
        change.full_name.is_some(),
        change.full_name.flatten(),
        change.username,
        change.time_zone,
        change.email,
    )
    .fetch_one(db)
    .await?;
    Ok(user)
}

/// One live session, as the devices list shows it.
pub(crate) struct SessionRow {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub user_agent: Option<String>,
}

pub(crate) async fn live_sessions(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<SessionRow>, Error> {
    let rows = sqlx::query_as!(
        SessionRow,
        r#"
        select id, created_at, coalesce(last_used_at, created_at) as "last_used_at!", user_agent
        from sessions
        where user_id = $1 and revoked_at is null and expires_at > $2
        order by coalesce(last_used_at, created_at) desc, id
        "#,
        user_id,
        now,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// Revokes the live session `id` if it is `user_id`'s; `false` when there is no such session.
pub(crate) async fn revoke_own_session(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let result = sqlx::query!(
        r#"
        update sessions set revoked_at = $4, revoked_reason = $3
        where id = $1 and user_id = $2 and revoked_at is null and expires_at > $4
        "#,
        id,
        user_id,
        reason,
        now,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Revokes every live session of `user_id` but `keep` (all of them when `None`); how many.
pub(crate) async fn revoke_sessions_of(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let result = sqlx::query!(
        r#"
        update sessions set revoked_at = $4, revoked_reason = $3
        where user_id = $1 and revoked_at is null and id is distinct from $2
        "#,
        user_id,
        keep,
        reason,
        now,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected())
}

/// Spends every refresh token of a session at once (a password change gives it a new one).
pub(crate) async fn delete_refresh_tokens(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
) -> Result<(), Error> {
    sqlx::query!(
        "delete from refresh_tokens where session_id = $1",
        session_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes the account; its tasks, drafts, sessions and reset token go by cascade.
pub(crate) async fn delete_user(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), Error> {
    sqlx::query!("delete from users where id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

/// The ids of every task `user_id` has, the trash included.
pub(crate) async fn task_ids_of(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Vec<Uuid>, Error> {
    let ids = sqlx::query_scalar!("select id from tasks where user_id = $1", user_id)
        .fetch_all(db)
        .await?;
    Ok(ids)
}

/// Forgets the failed logins of `email`: a reset lifts the lockout.
pub(crate) async fn clear_failed_logins(db: impl PgExecutor<'_>, email: &str) -> Result<(), Error> {
    sqlx::query!(
        "delete from auth_attempts where kind = 'login_failed' and email = $1",
        email
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

/// When the live session `id` began; `None` once it is revoked or expired.
pub(crate) async fn live_session_started(
    db: impl PgExecutor<'_>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, Error> {
    let started = sqlx::query_scalar!(
        "select created_at from sessions where id = $1 and revoked_at is null and expires_at > $2",
        id,
        now,
    )
    .fetch_optional(db)
    .await?;
    Ok(started)
}
