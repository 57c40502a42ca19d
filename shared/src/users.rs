//! Accounts and sessions: register, log in, refresh, log out, and the current user.
//!
//! Operations order the work and own the rules (lockout, rotation, reuse detection); SQL is in
//! `users::db`, hashing in `users::password`, JWTs in `users::token`, HTTP in `users::http`.

pub mod account;
pub mod db;
pub mod http;
pub mod limits;
pub mod model;
pub mod password;
pub mod reset;
pub mod sessions;
pub mod token;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::{AppState, Error, error::ResultExt};
pub use model::{Credentials, Email, NewUser, User};
use token::{Claims, TokenKind};

/// The tokens of one session, as issued at login or refresh.
#[derive(Debug)]
pub struct IssuedTokens {
    pub access_token: String,
    /// Absent for `POST /auth/token`, which issues an access token only.
    pub refresh_token: Option<String>,
}

/// A signed-in user with the tokens just issued for them.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    pub tokens: IssuedTokens,
}

/// Creates an account and signs it in.
///
/// # Errors
/// [`Error::Conflict`] naming the taken email or username; [`Error::TooManyRequests`] when the
/// source address has registered too often.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
pub async fn register(
    state: &AppState,
    new: NewUser,
    source_ip: &str,
    user_agent: Option<&str>,
) -> Result<SignedIn, Error> {
    let now = state.clock.now();
    limits::begin_registration(state, source_ip, now).await?;
    let hash = password::hash(new.password.clone()).await?;
    let user = names_free(db::insert(&state.db, &new, &hash).await)?;
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    let tokens = start_session(state, &user, true, now, user_agent).await?;
    Ok(SignedIn { user, tokens })
}

/// A write of an email or username, with the unique indexes' refusals said as conflicts.
pub(crate) fn names_free<T>(written: Result<T, Error>) -> Result<T, Error> {
    written
        .on_constraint(
            "users_email_key",
            Error::Conflict("email already registered"),
        )
        .on_constraint(
            "users_username_key",
            Error::Conflict("username already taken"),
        )
}

/// Checks credentials and starts a session; `with_refresh` is false for `POST /auth/token`.
///
/// A wrong email and a wrong password fail alike, in about the same time (a dummy hash is
/// verified when no account has the email), and both count towards the lockout.
///
/// # Errors
/// [`Error::Unauthenticated`] for wrong credentials, [`Error::TooManyRequests`] while locked out,
/// [`Error::Forbidden`] for a deactivated account.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
pub async fn log_in(
    state: &AppState,
    credentials: Credentials,
    source_ip: &str,
    with_refresh: bool,
    user_agent: Option<&str>,
) -> Result<SignedIn, Error> {
    let now = state.clock.now();
    let check = {
        let (db, email, password) = (
            state.db.clone(),
            credentials.email.clone(),
            credentials.password.clone(),
        );
        async move {
            let user = db::select_by_email(&db, &email).await?;
            let stored_hash = user.as_ref().map(|u| u.hashed_password.clone());
            let verdict = password::verify(password, stored_hash).await?;
            Ok((user.filter(|_| verdict.matched), verdict))
        }
    };
    let (user, verdict) = limits::check_login(
        state,
        &credentials.email,
        source_ip,
        now,
        check,
        |(user, _)| user.is_some(),
    )
    .await?;
    let Some(user) = user else {
        return Err(Error::InvalidCredentials);
    };
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    let user = user.require_active()?;
    if verdict.needs_rehash {
        // Parameters have been raised since this hash was made: upgrade it while we hold the password.
        let upgraded = password::hash(credentials.password).await?;
        db::update_password_hash(&state.db, user.id, &upgraded).await?;
        tracing::info!("password hash upgraded to current parameters");
    }
    let tokens = start_session(state, &user, with_refresh, now, user_agent).await?;
    Ok(SignedIn { user, tokens })
}

async fn start_session(
    state: &AppState,
    user: &User,
    with_refresh: bool,
    now: DateTime<Utc>,
    user_agent: Option<&str>,
) -> Result<IssuedTokens, Error> {
    let keys = state.keys().await?;
    let session_id = Uuid::new_v4();
    // A session without a refresh token lives exactly as long as its access token.
    let ttl = if with_refresh {
        state
            .config
            .refresh_token_ttl
            .min(state.config.session_max_lifetime)
    } else {
        state.config.access_token_ttl
    };
    let expires_at = now + ttl;
    let mut tx = state.db.begin().await?;
    db::insert_session(&mut *tx, session_id, user.id, now, expires_at, user_agent).await?;
    db::record_login(&mut *tx, user.id, now).await?;
    let refresh_token = if with_refresh {
        let claims = Claims::new(TokenKind::Refresh, user.id, session_id, now, ttl);
        db::insert_refresh_token(
            &mut *tx,
            &claims.jti_hash(),
            session_id,
            claims.expires_at(),
        )
        .await?;
        Some(keys.sign(&claims)?)
    } else {
        None
    };
    tx.commit().await?;
    let access = Claims::new(
        TokenKind::Access,
        user.id,
        session_id,
        now,
        state.config.access_token_ttl,
    );
    Ok(IssuedTokens {
        access_token: keys.sign(&access)?,
        refresh_token,
    })
}

/// Rotates a refresh token: the presented one is spent, a new pair is issued in the same session.
///
/// Presenting a spent token again within `REFRESH_REUSE_GRACE_SECS` of its rotation (two tabs
/// refreshing at once, a retry after a lost response) issues another pair of the same session.
/// Presenting it later, or a token of an ended session, revokes the whole session (every token
/// issued since the login): it can only have been replayed by someone who stole it. A session
/// ends `SESSION_MAX_LIFETIME_SECS` after its login however often it is refreshed.
///
/// # Errors
/// [`Error::Unauthenticated`] for a missing, invalid, expired, spent or revoked token.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
pub async fn refresh(state: &AppState, refresh_token: &str) -> Result<SignedIn, Error> {
    let now = state.clock.now();
    let claims = state
        .verify_token(refresh_token, TokenKind::Refresh)
        .await?;
    tracing::Span::current().record("user_id", tracing::field::display(claims.sub));
    let grace = TimeDelta::from_std(state.config.refresh_reuse_grace).unwrap_or(TimeDelta::MAX);
    let mut tx = state.db.begin().await?;
    let spent =
        db::spend_refresh_token(&mut *tx, &claims.jti_hash(), claims.sid, now, now - grace).await?;
    let Some(started) = spent else {
        // Already rotated before the grace period, or its session is over: end the family, then refuse.
        drop(tx);
        let revoked = db::revoke_session(&state.db, claims.sid, "refresh_token_reuse", now).await?;
        if revoked {
            tracing::warn!(session_id = %claims.sid, "refresh token reused: session revoked");
        }
        return Err(Error::Unauthenticated);
    };
    let left = lifetime_left(state, started, now);
    if left.is_zero() {
        return Err(Error::Unauthenticated);
    }
    let user = db::select_live_session_user(&mut *tx, claims.sid, claims.sub, now)
        .await?
        .ok_or(Error::Unauthenticated)?
        .require_active()?;
    let tokens = continue_session(state, &mut tx, user.id, claims.sid, left, now).await?;
    tx.commit().await?;
    Ok(SignedIn { user, tokens })
}

/// What is left of the absolute lifetime of a session that began at `started`.
pub(crate) fn lifetime_left(
    state: &AppState,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> std::time::Duration {
    let lifetime = TimeDelta::from_std(state.config.session_max_lifetime).unwrap_or(TimeDelta::MAX);
    (started + lifetime - now).to_std().unwrap_or_default()
}

/// A new pair of tokens in the session `session_id`, which has `left` of its lifetime: the
/// refresh token is recorded (and the session extended and marked used) in `tx`.
pub(crate) async fn continue_session(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    user_id: Uuid,
    session_id: Uuid,
    left: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<IssuedTokens, Error> {
    let keys = state.keys().await?;
    let next = Claims::new(
        TokenKind::Refresh,
        user_id,
        session_id,
        now,
        state.config.refresh_token_ttl.min(left),
    );
    db::insert_refresh_token(&mut *tx, &next.jti_hash(), session_id, next.expires_at()).await?;
    db::extend_session(&mut *tx, session_id, next.expires_at(), now).await?;
    let access = Claims::new(
        TokenKind::Access,
        user_id,
        session_id,
        now,
        state.config.access_token_ttl,
    );
    Ok(IssuedTokens {
        access_token: keys.sign(&access)?,
        refresh_token: Some(keys.sign(&next)?),
    })
}

/// Ends the session that `access_token` or `refresh_token` belongs to, whichever is valid.
///
/// Logging out without a valid token is not an error: the cookies are cleared all the same.
///
/// # Errors
/// Only when the database cannot be reached.
#[tracing::instrument(skip_all)]
pub async fn log_out(
    state: &AppState,
    access_token: Option<&str>,
    refresh_token: Option<&str>,
) -> Result<(), Error> {
    let now = state.clock.now();
    let session = match access_token {
        Some(token) => state.verify_token(token, TokenKind::Access).await.ok(),
        None => None,
    };
    let session = match (session, refresh_token) {
        (None, Some(token)) => state.verify_token(token, TokenKind::Refresh).await.ok(),
        (found, _) => found,
    }
    .map(|claims| claims.sid);
    if let Some(session_id) = session {
        db::revoke_session(&state.db, session_id, "logout", now).await?;
    }
    Ok(())
}

/// The user an access token belongs to, if its session is live; one query per request.
///
/// # Errors
/// [`Error::Unauthenticated`] for an invalid or expired token or an ended session,
/// [`Error::Forbidden`] for a deactivated account.
pub async fn current_user(state: &AppState, access_token: &str) -> Result<(User, Uuid), Error> {
    let caller = caller(state, access_token).await?;
    Ok((user_of(state, caller).await?, caller.session_id))
}

/// The caller's account, if their session is live and the account active: a query of its own,
/// for routes that need the whole account before their work.
///
/// # Errors
/// As [`current_user`].
pub async fn user_of(state: &AppState, caller: Caller) -> Result<User, Error> {
    db::select_live_session_user(
        &state.db,
        caller.session_id,
        caller.user_id,
        state.clock.now(),
    )
    .await?
    .ok_or(Error::Unauthenticated)?
    .require_active()
}

/// A request's verified access token: whom it names, in which session.
///
/// Whether that session is still live is not known yet: the statement that serves the request
/// checks it in the same round trip as its own work ([`db::live_session`]), so a read costs one
/// round trip, and a signed-out token works nowhere, with no cache in between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

/// The caller an access token names, from its signature and claims alone (no I/O once the
/// keys are loaded).
///
/// # Errors
/// [`Error::Unauthenticated`] for an invalid or expired token.
pub async fn caller(state: &AppState, access_token: &str) -> Result<Caller, Error> {
    let claims = state.verify_token(access_token, TokenKind::Access).await?;
    Ok(Caller {
        user_id: claims.sub,
        session_id: claims.sid,
    })
}

/// What a one-round-trip statement learns about its caller beside its answer: present only
/// while the session is live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Me {
    pub is_active: bool,
    /// An IANA time zone name: the day a task's progress counts from.
    pub time_zone: String,
}

impl Me {
    /// [`User::require_active`]'s rule, for a caller known through [`db::live_session`].
    ///
    /// # Errors
    /// [`Error::Forbidden`] for a deactivated account.
    pub fn require_active(self) -> Result<Self, Error> {
        model::refuse_deactivated(self.is_active)?;
        Ok(self)
    }
}
