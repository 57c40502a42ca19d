//! Administrators (superusers): the users table, account changes, and their audit.
//!
//! They activate, deactivate, promote and demote accounts, and every such action is recorded. No
//! administrator route returns anyone's tasks, files or results: only counts and sizes.
//!
//! No change may leave zero active superusers. Every change that could ([`update_user`], an
//! administrator deleting their own account) first takes one advisory lock, so two
//! administrators demoting each other at once are serialised and the second is refused.

pub mod http;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    AppState, Error, ValidationErrors,
    tasks::paging::{Cursor, query_number},
    users::User,
    users::db,
};

/// Refuses anyone but an active superuser.
///
/// # Errors
/// [`Error::Forbidden`] for everyone else.
pub fn require(user: &User) -> Result<(), Error> {
    if user.is_superuser {
        Ok(())
    } else {
        Err(Error::Forbidden("only administrators may do this"))
    }
}

/// Serialises every change that could take away an active superuser; until the commit.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn lock_superusers(tx: &mut PgConnection) -> Result<(), Error> {
    crate::db::lock(&mut *tx, "admin:superusers").await?;
    Ok(())
}

/// Refuses a change that would leave no active superuser but `leaving`; call under
/// [`lock_superusers`].
///
/// # Errors
/// [`Error::Conflict`] when `leaving` is the last one.
pub async fn require_another_superuser(tx: &mut PgConnection, leaving: Uuid) -> Result<(), Error> {
    let others = sqlx::query_scalar!(
        r#"select count(*) as "n!" from users where is_superuser and is_active and id <> $1"#,
        leaving,
    )
    .fetch_one(&mut *tx)
    .await?;
    if others == 0 {
        return Err(Error::Conflict(
            "this would leave no active administrator; promote another account first",
        ));
    }
    Ok(())
}

/// `GET /admin/users`' query string, as sent.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersParams {
    /// How many users to return (1–100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 50)]
    pub limit: Option<String>,
    /// Only users whose email or username holds this text, in any case.
    #[param(value_type = Option<String>, max_length = 254, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", example = "ada")]
    pub q: Option<String>,
    /// The `next` of the previous page.
    #[param(value_type = Option<String>, pattern = r"^-?[0-9]{1,18}\.[0-9a-fA-F]{32}$", example = "1795000000123456.3fa85f6457174562b3fc2c963f66afa6")]
    pub after: Option<String>,
}

/// A validated [`UsersParams`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsersQuery {
    pub limit: i64,
    pub q: Option<String>,
    pub after: Option<Cursor>,
}

impl UsersParams {
    /// Checks each parameter.
    ///
    /// # Errors
    /// A `422` naming each bad parameter.
    pub fn parse(&self) -> Result<UsersQuery, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let limit = query_number(&mut errors, "limit", self.limit.as_deref(), 50, 1, 100);
        let q = match self.q.as_deref() {
            Some(q) if q.chars().count() > 254 || q.chars().any(char::is_control) => {
                errors.merge(ValidationErrors::at(
                    &["query", "q"],
                    "must be at most 254 characters, without control characters",
                    "value_error",
                ));
                None
            }
            Some(q) => Some(q.trim().to_owned()).filter(|q| !q.is_empty()),
            None => None,
        };
        let after = match self.after.as_deref() {
            None => None,
            Some(raw) => match Cursor::parse(raw).filter(|c| c.due_date.is_none()) {
                Some(cursor) => Some(cursor),
                None => {
                    errors.merge(ValidationErrors::at(
                        &["query", "after"],
                        "is not a cursor this list gave",
                        "value_error",
                    ));
                    None
                }
            },
        };
        if errors.is_empty() {
            Ok(UsersQuery { limit, q, after })
        } else {
            Err(errors)
        }
    }
}

/// An account as administrators see it: who, since when, how much; never their tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserView {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub full_name: Option<String>,
    pub is_active: bool,
    pub is_superuser: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// Tasks, the trash included.
    pub task_count: i64,
    /// Bytes of the user's drafts in storage.
    pub stored_bytes: i64,
}

/// A page of users, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserPage {
    pub users: Vec<AdminUserView>,
    /// Users that match `q`, across all pages.
    pub total: i64,
    /// The cursor of the next page, to pass as `after`; `null` on the last page.
    pub next: Option<String>,
}

/// The users that match `query`, newest first.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn list_users(state: &AppState, query: &UsersQuery) -> Result<AdminUserPage, Error> {
    let pattern = query.q.as_deref().map(crate::db::like_pattern);
    let users = views(
        &state.db,
        pattern.as_deref(),
        query.after,
        None,
        query.limit + 1,
    )
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from users u where ($1::text is null or u.email ilike $1 or u.username ilike $1)"#,
        pattern,
    )
    .fetch_one(&state.db)
    .await?;
    Ok(page_of(users, query.limit, total))
}

/// Accounts as administrators see them, newest first: those matching the LIKE `pattern`, after
/// `after`, or only `id`; at most `limit`.
async fn views(
    db: &sqlx::PgPool,
    pattern: Option<&str>,
    after: Option<Cursor>,
    id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AdminUserView>, Error> {
    let (after_at, after_id) = after.map(|c| (c.created_at, c.id)).unzip();
    let users = sqlx::query_as!(
        AdminUserView,
        r#"
        select u.id, u.email, u.username, u.full_name, u.is_active, u.is_superuser, u.created_at,
               u.last_login_at,
               (select count(*) from tasks t where t.user_id = u.id) as "task_count!",
               (select coalesce(sum(d.file_size), 0) from task_drafts d
                join tasks t on t.id = d.task_id where t.user_id = u.id)::bigint as "stored_bytes!"
        from users u
        where ($1::text is null or u.email ilike $1 or u.username ilike $1)
          and ($2::timestamptz is null or (u.created_at, u.id) < ($2, $3))
          and ($4::uuid is null or u.id = $4)
        order by u.created_at desc, u.id desc
        limit $5
        "#,
        pattern,
        after_at,
        after_id,
        id,
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(users)
}

fn page_of(mut users: Vec<AdminUserView>, limit: i64, total: i64) -> AdminUserPage {
    let more = users.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    users.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = more.then(|| users.last()).flatten().map(|last| {
        Cursor {
            created_at: last.created_at,
            id: last.id,
            due_date: None,
        }
        .encode()
    });
    AdminUserPage { users, total, next }
}

/// What an administrator changes on an account; each absent member stays.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminUserPatch {
    /// `false` deactivates the account and ends its sessions at once.
    pub is_active: Option<bool>,
    /// `true` promotes to administrator, `false` demotes.
    pub is_superuser: Option<bool>,
}

/// The actions the audit records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditAction {
    Activate,
    Deactivate,
    Promote,
    Demote,
}

impl AuditAction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Activate => "activate",
            Self::Deactivate => "deactivate",
            Self::Promote => "promote",
            Self::Demote => "demote",
        }
    }
}

/// Applies `patch` to `target` as `actor`, records each change in the audit, and ends the
/// target's sessions when it is deactivated.
///
/// # Errors
/// [`Error::NotFound`] for no such user; [`Error::Conflict`] when it would leave no active
/// superuser.
#[tracing::instrument(skip_all, fields(actor = %actor, target = %target))]
pub async fn update_user(
    state: &AppState,
    actor: Uuid,
    target: Uuid,
    patch: &AdminUserPatch,
) -> Result<AdminUserView, Error> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    lock_superusers(&mut tx).await?;
    // Read again under the lock: an administrator demoted a moment ago acts no more.
    let still = sqlx::query_scalar!(
        r#"select is_superuser and is_active as "admin!" from users where id = $1"#,
        actor,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if still != Some(true) {
        return Err(Error::Forbidden("only administrators may do this"));
    }
    let user = db::lock_user(&mut *tx, target)
        .await?
        .ok_or(Error::NotFound("user"))?;
    let active = patch.is_active.unwrap_or(user.is_active);
    let superuser = patch.is_superuser.unwrap_or(user.is_superuser);
    if user.is_active && user.is_superuser && !(active && superuser) {
        require_another_superuser(&mut tx, target).await?;
    }
    let mut actions = Vec::new();
    if active != user.is_active {
        actions.push(if active {
            AuditAction::Activate
        } else {
            AuditAction::Deactivate
        });
    }
    if superuser != user.is_superuser {
        actions.push(if superuser {
            AuditAction::Promote
        } else {
            AuditAction::Demote
        });
    }
    if !actions.is_empty() {
        sqlx::query!(
            "update users set is_active = $2, is_superuser = $3 where id = $1",
            target,
            active,
            superuser,
        )
        .execute(&mut *tx)
        .await?;
        for action in &actions {
            audit(&mut tx, Some(actor), *action, target, now).await?;
        }
    }
    if !active && user.is_active {
        let ended = db::revoke_sessions_of(&mut *tx, target, None, "deactivated", now).await?;
        tracing::info!(ended, "account deactivated: its sessions ended");
    }
    tx.commit().await?;
    let view = views(&state.db, None, None, Some(target), 1)
        .await?
        .pop()
        .ok_or(Error::NotFound("user"))?;
    Ok(view)
}

async fn audit(
    tx: &mut PgConnection,
    actor: Option<Uuid>,
    action: AuditAction,
    target: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "insert into admin_audit (at, actor_id, action, target_id) values ($1, $2, $3, $4)",
        now,
        actor,
        action.as_str(),
        target,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Makes the account with `email` an active superuser, recorded in the audit with no actor
/// (the operator, through `migrate promote`). Returns the account's id; `None` when no account
/// has the email.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn promote(
    db: &sqlx::PgPool,
    email: &str,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, Error> {
    let mut tx = db.begin().await?;
    let row = sqlx::query!(
        r#"
        select id, is_superuser, is_active from users where lower(email) = lower($1) for update
        "#,
        email,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    if !row.is_active {
        sqlx::query!("update users set is_active = true where id = $1", row.id)
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, None, AuditAction::Activate, row.id, now).await?;
    }
    if !row.is_superuser {
        sqlx::query!("update users set is_superuser = true where id = $1", row.id)
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, None, AuditAction::Promote, row.id, now).await?;
    }
    tx.commit().await?;
    Ok(Some(row.id))
}

/// `GET /admin/audit`'s query string, as sent.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// How many entries to return (1–100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 50)]
    pub limit: Option<String>,
    /// The `next` of the previous page.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub after: Option<String>,
}

/// One administrator action. The emails are shown while the accounts exist; a deleted
/// account's entries keep only its id.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `null` for the operator's `migrate promote`.
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    #[schema(value_type = AuditAction)]
    pub action: String,
    pub target_id: Uuid,
    pub target_email: Option<String>,
}

/// A page of the audit, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// The cursor of the next page, to pass as `after`; `null` on the last page.
    pub next: Option<String>,
}

/// The audit, newest first.
///
/// # Errors
/// `422` for a bad parameter; [`Error::Database`] when the database is down.
pub async fn audit_page(state: &AppState, params: &AuditParams) -> Result<AuditPage, Error> {
    let mut errors = ValidationErrors::default();
    let limit = query_number(&mut errors, "limit", params.limit.as_deref(), 50, 1, 100);
    let after = match params.after.as_deref() {
        None => None,
        Some(raw) => match raw.parse::<i64>().ok().filter(|n| *n >= 1) {
            Some(n) => Some(n),
            None => {
                errors.merge(ValidationErrors::at(
                    &["query", "after"],
                    "must be the `next` of a previous page",
                    "value_error",
                ));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let mut entries = sqlx::query_as!(
        AuditEntry,
        r#"
        select a.id, a.at, a.actor_id, actor.email as "actor_email?", a.action, a.target_id,
               target.email as "target_email?"
        from admin_audit a
        left join users actor on actor.id = a.actor_id
        left join users target on target.id = a.target_id
        where $1::bigint is null or a.id < $1
        order by a.id desc
        limit $2
        "#,
        after,
        limit + 1,
    )
    .fetch_all(&state.db)
    .await?;
    let more = entries.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = more
        .then(|| entries.last())
        .flatten()
        .map(|e| e.id.to_string());
    Ok(AuditPage { entries, next })
}
