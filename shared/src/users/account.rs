//! What a signed-in person does to their own account: the profile, the password, deletion.
//!
//! Each asks for the current password where a stolen session must not be enough, and a wrong one
//! counts towards the login lockout of the account's email.

use uuid::Uuid;

use crate::{
    AppState, Error, admin,
    tasks::{deletions, edit, objects},
    users::{
        self, IssuedTokens, User, db,
        db::ProfileChange,
        limits,
        model::{Email, Password, ProfilePatch},
        password, reset,
    },
};

/// Checks `password` against `user`'s, under the login lockout of the account's email: a wrong
/// one counts as a failed login, and while the email is locked out nothing is checked.
///
/// # Errors
/// [`Error::BadRequest`] for a wrong password, [`Error::TooManyRequests`] while locked out.
pub(crate) async fn confirm_password(
    state: &AppState,
    user: &User,
    password: Password,
    source_ip: &str,
) -> Result<(), Error> {
    let now = state.clock.now();
    let email = Email::stored(&user.email);
    let check = password::verify(password, Some(user.hashed_password.clone()));
    let verdict = limits::check_login(state, &email, source_ip, now, check, |verdict| {
        verdict.matched
    })
    .await?;
    if !verdict.matched {
        return Err(Error::BadRequest("the password is incorrect"));
    }
    Ok(())
}

/// Applies a profile edit; a new email needs the current password.
///
/// # Errors
/// [`Error::Conflict`] when the email or username is another account's; [`Error::BadRequest`]
/// for a wrong current password.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn update_profile(
    state: &AppState,
    user: &User,
    patch: ProfilePatch,
    source_ip: &str,
) -> Result<User, Error> {
    if let Some(password) = patch.current_password.clone() {
        confirm_password(state, user, password, source_ip).await?;
    }
    let email_changes = patch
        .email
        .as_ref()
        .is_some_and(|e| e.as_str() != user.email);
    let change = ProfileChange {
        full_name: patch.full_name.as_ref().map(Option::as_deref),
        username: patch.username.as_ref().map(|u| u.as_str()),
        time_zone: patch.time_zone.as_deref(),
        email: patch.email.as_ref().map(Email::as_str),
    };
    let mut tx = state.db.begin().await?;
    let updated = users::names_free(db::update_profile(&mut *tx, user.id, &change).await)?;
    if email_changes {
        // A link mailed to the old address must not reset the account of the new one.
        reset::void_token(&mut *tx, user.id).await?;
        tracing::info!("email changed");
    }
    tx.commit().await?;
    Ok(updated)
}

/// Changes the password: every other session of the user ends, and this one continues with new
/// tokens (its earlier refresh tokens are spent).
///
/// # Errors
/// [`Error::BadRequest`] for a wrong current password, [`Error::Unauthenticated`] when this
/// session ended meanwhile.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn change_password(
    state: &AppState,
    user: &User,
    session_id: Uuid,
    current: Password,
    new: Password,
    source_ip: &str,
) -> Result<IssuedTokens, Error> {
    confirm_password(state, user, current, source_ip).await?;
    let hash = password::hash(new).await?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let started = db::live_session_started(&mut *tx, session_id, now)
        .await?
        .ok_or(Error::Unauthenticated)?;
    db::update_password_hash(&mut *tx, user.id, &hash).await?;
    let ended =
        db::revoke_sessions_of(&mut *tx, user.id, Some(session_id), "password_changed", now)
            .await?;
    reset::void_token(&mut *tx, user.id).await?;
    db::delete_refresh_tokens(&mut *tx, session_id).await?;
    let left = users::lifetime_left(state, started, now);
    let tokens = users::continue_session(state, &mut tx, user.id, session_id, left, now).await?;
    tx.commit().await?;
    tracing::info!(sessions_ended = ended, "password changed");
    Ok(tokens)
}

/// Deletes the account at once: the user, their tasks (the trash too), drafts and sessions; their
/// objects go through the deletion outbox. The email and username are free again.
///
/// # Errors
/// [`Error::BadRequest`] for a wrong password; [`Error::Conflict`] for the last active
/// administrator.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn delete_account(
    state: &AppState,
    user: &User,
    password: Password,
    source_ip: &str,
) -> Result<(), Error> {
    confirm_password(state, user, password, source_ip).await?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    admin::lock_superusers(&mut tx).await?;
    let locked = db::lock_user(&mut *tx, user.id)
        .await?
        .ok_or(Error::Unauthenticated)?;
    if locked.is_superuser && locked.is_active {
        admin::require_another_superuser(&mut tx, user.id).await?;
    }
    let tasks = db::task_ids_of(&mut *tx, user.id).await?;
    let prefixes = objects::user_prefixes(state.storage.root(), user.id, &tasks);
    let rows = deletions::insert(&mut *tx, &prefixes, now).await?;
    db::delete_user(&mut *tx, user.id).await?;
    tx.commit().await?;
    tracing::info!(tasks = tasks.len(), "account deleted");
    edit::sweep_now(state, &rows).await;
    Ok(())
}
