//! HTTP adapters for accounts: extract, call one operation, set or clear the cookies.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header::SET_COOKIE},
    response::{AppendHeaders, IntoResponse, Response},
};

use crate::{
    AppState, Config, Error,
    http::{
        error::ErrorBody,
        extract::{
            ACCESS_COOKIE, ApiForm, ApiJson, ClientIp, CurrentUser, REFRESH_COOKIE, UserAgent,
            access_token, cookie,
        },
    },
    users::{
        self, SignedIn, account,
        model::{
            AuthResponse, DeleteAccountForm, LoginForm, MeResponse, MessageResponse,
            PasswordChangeForm, ProfilePatch, ProfilePatchJson, RegisterForm, ResetConfirmForm,
            ResetRequestForm, ResetRequested, SessionList, TokenForm, TokenResponse, UserView,
        },
        reset, sessions,
    },
};

type Cookies = AppendHeaders<[(axum::http::HeaderName, String); 2]>;

/// Creates an account and signs it in: the user, and both token cookies.
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    request_body = RegisterForm,
    responses(
        (status = 201, description = "Registered and signed in; `access_token` and `refresh_token` cookies set", body = AuthResponse),
        (status = 409, description = "The email or the username is taken", body = ErrorBody),
        (status = 415, description = "Not a JSON body", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
        (status = 429, description = "Too many registrations from this address", body = ErrorBody),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(agent): UserAgent,
    ApiJson(form): ApiJson<RegisterForm>,
) -> Result<(StatusCode, Cookies, Json<AuthResponse>), Error> {
    let signed_in = users::register(&state, form.parse()?, &ip, agent.as_deref()).await?;
    let (cookies, body) = signed_in_response(&state.config, signed_in);
    Ok((StatusCode::CREATED, cookies, body))
}

/// Signs in with email and password: the user, and both token cookies.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    request_body = LoginForm,
    responses(
        (status = 200, description = "Signed in; `access_token` and `refresh_token` cookies set", body = AuthResponse),
        (status = 401, description = "Incorrect email or password", body = ErrorBody),
        (status = 403, description = "The account is deactivated", body = ErrorBody),
        (status = 415, description = "Not a JSON body", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see `Retry-After`", body = ErrorBody),
    )
)]
pub async fn log_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(agent): UserAgent,
    ApiJson(form): ApiJson<LoginForm>,
) -> Result<(Cookies, Json<AuthResponse>), Error> {
    let signed_in = users::log_in(&state, form.parse()?, &ip, true, agent.as_deref()).await?;
    Ok(signed_in_response(&state.config, signed_in))
}

/// The OAuth2 password flow, for scripts and the docs' "Authorize" button: an access token, no cookies.
#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "auth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A bearer access token", body = TokenResponse),
        (status = 401, description = "Incorrect email or password", body = ErrorBody),
        (status = 403, description = "The account is deactivated", body = ErrorBody),
        (status = 415, description = "Not a form body", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see `Retry-After`", body = ErrorBody),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(agent): UserAgent,
    ApiForm(form): ApiForm<TokenForm>,
) -> Result<Json<TokenResponse>, Error> {
    let signed_in = users::log_in(&state, form.parse()?, &ip, false, agent.as_deref()).await?;
    Ok(Json(TokenResponse {
        access_token: signed_in.tokens.access_token,
        token_type: "bearer",
        expires_in: state.config.access_token_ttl.as_secs(),
    }))
}

/// Rotates the refresh token from the `refresh_token` cookie: new cookies for both tokens.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    responses(
        (status = 200, description = "New `access_token` and `refresh_token` cookies set", body = AuthResponse),
        (status = 401, description = "Missing, invalid, expired or already used refresh token (reuse ends the session)", body = ErrorBody),
        (status = 403, description = "A cross-site request, or the account is deactivated", body = ErrorBody),
    ),
    security(("refreshCookie" = []))
)]
pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<(Cookies, Json<AuthResponse>), Error> {
    let token = cookie(&headers, REFRESH_COOKIE).ok_or(Error::Unauthenticated)?;
    let signed_in = users::refresh(&state, token).await?;
    Ok(signed_in_response(&state.config, signed_in))
}

/// Ends the session: every token issued in it is refused from now on, and both cookies expire.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    responses(
        (status = 200, description = "Signed out; both cookies expired", body = MessageResponse),
        (status = 403, description = "A cross-site request", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []), ())
)]
pub async fn log_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<(Cookies, Json<MessageResponse>), Error> {
    users::log_out(
        &state,
        access_token(&headers),
        cookie(&headers, REFRESH_COOKIE),
    )
    .await?;
    Ok((
        expired_cookies(&state.config),
        Json(MessageResponse {
            message: "signed out",
        }),
    ))
}

/// The signed-in user.
#[utoipa::path(
    get,
    path = "/auth/me",
    tag = "auth",
    responses(
        (status = 200, description = "The caller's account and what it stores", body = MeResponse),
        (status = 401, description = "Not signed in, or the token is invalid, expired or revoked", body = ErrorBody),
        (status = 403, description = "The account is deactivated", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn me(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<Json<MeResponse>, Error> {
    let usage = crate::tasks::allowance::usage(&state.db, &state.config, current.user.id).await?;
    Ok(Json(MeResponse {
        user: current.user.into(),
        usage,
    }))
}

/// Edits the caller's profile (a JSON merge patch); a new email needs `current_password` too.
#[utoipa::path(
    patch,
    path = "/auth/me",
    operation_id = "update_me",
    tag = "auth",
    request_body(content(
        (ProfilePatchJson = "application/merge-patch+json"),
        (ProfilePatchJson = "application/json"),
    )),
    responses(
        (status = 200, description = "The account as edited", body = UserView),
        (status = 400, description = "`current_password` is wrong (it counts towards the login lockout)", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Deactivated account, or a cross-site request", body = ErrorBody),
        (status = 409, description = "The email or the username is another account's", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A member is invalid or unknown, or `email` came without `current_password`", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords; see `Retry-After`", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn update_me(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<UserView>, Error> {
    let patch = ProfilePatch::parse(&body)?;
    let user = account::update_profile(&state, &current.user, patch, &ip).await?;
    Ok(Json(user.into()))
}

/// Deletes the caller's account at once: tasks (the trash too), drafts, files and sessions.
#[utoipa::path(
    delete,
    path = "/auth/me",
    operation_id = "delete_me",
    tag = "auth",
    request_body = DeleteAccountForm,
    responses(
        (status = 204, description = "Deleted; both cookies expired. The email and username are free again"),
        (status = 400, description = "The password is wrong (it counts towards the login lockout)", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Deactivated account, or a cross-site request", body = ErrorBody),
        (status = 409, description = "The last active administrator cannot leave", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "`password` is missing", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords; see `Retry-After`", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn delete_me(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientIp(ip): ClientIp,
    ApiJson(form): ApiJson<DeleteAccountForm>,
) -> Result<(StatusCode, Cookies), Error> {
    account::delete_account(&state, &current.user, form.parse()?, &ip).await?;
    Ok((StatusCode::NO_CONTENT, expired_cookies(&state.config)))
}

/// Changes the password: every other session ends; this one gets new tokens.
#[utoipa::path(
    post,
    path = "/auth/password",
    operation_id = "change_password",
    tag = "auth",
    request_body = PasswordChangeForm,
    responses(
        (status = 200, description = "Changed; new `access_token` and `refresh_token` cookies set", body = AuthResponse),
        (status = 400, description = "`current_password` is wrong (it counts towards the login lockout)", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Deactivated account, or a cross-site request", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords; see `Retry-After`", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn change_password(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientIp(ip): ClientIp,
    ApiJson(form): ApiJson<PasswordChangeForm>,
) -> Result<(Cookies, Json<AuthResponse>), Error> {
    let (old, new) = form.parse()?;
    let tokens =
        account::change_password(&state, &current.user, current.session_id, old, new, &ip).await?;
    Ok(signed_in_response(
        &state.config,
        SignedIn {
            user: current.user,
            tokens,
        },
    ))
}

/// The caller's signed-in devices, most recently used first.
#[utoipa::path(
    get,
    path = "/auth/sessions",
    operation_id = "list_sessions",
    tag = "auth",
    responses(
        (status = 200, description = "The live sessions; `current` marks this one", body = SessionList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Deactivated account", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<Json<SessionList>, Error> {
    Ok(Json(SessionList {
        sessions: sessions::list(&state, current.user.id, current.session_id).await?,
    }))
}

/// Signs one device out (this one too: then the cookies are expired as at logout).
#[utoipa::path(
    delete,
    path = "/auth/sessions/{session_id}",
    operation_id = "end_session",
    tag = "auth",
    params(("session_id" = uuid::Uuid, Path, description = "A session's id, from `GET /auth/sessions`")),
    responses(
        (status = 204, description = "The session ended: every token issued in it is refused"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Deactivated account, or a cross-site request", body = ErrorBody),
        (status = 404, description = "The caller has no such live session", body = ErrorBody),
        (status = 422, description = "Not a UUID", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn end_session(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(session_id): Path<String>,
) -> Result<Response, Error> {
    let session_id: uuid::Uuid = session_id.parse().map_err(|_| {
        crate::ValidationErrors::at(&["path", "session_id"], "must be a UUID", "uuid_parsing")
    })?;
    sessions::end(&state, current.user.id, session_id).await?;
    if session_id == current.session_id {
        return Ok((StatusCode::NO_CONTENT, expired_cookies(&state.config)).into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Signs every other device out.
#[utoipa::path(
    delete,
    path = "/auth/sessions",
    operation_id = "end_other_sessions",
    tag = "auth",
    responses(
        (status = 204, description = "Every session but this one ended"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Deactivated account, or a cross-site request", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn end_other_sessions(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<StatusCode, Error> {
    sessions::end_others(&state, current.user.id, current.session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Asks for a reset link by email: the same answer, in the same time, whether or not an account
/// has the email.
#[utoipa::path(
    post,
    path = "/auth/password-reset",
    operation_id = "request_password_reset",
    tag = "auth",
    request_body = ResetRequestForm,
    responses(
        (status = 202, description = "Recorded; if an active account has the email, a link valid for 30 minutes is mailed to it", body = ResetRequested),
        (status = 403, description = "A cross-site request", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Not an email address", body = ErrorBody),
        (status = 429, description = "Asked too often for this email or from this address; see `Retry-After`", body = ErrorBody),
    )
)]
pub async fn request_password_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(form): ApiJson<ResetRequestForm>,
) -> Result<(StatusCode, Json<ResetRequested>), Error> {
    reset::request(&state, &form.parse()?, &ip).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ResetRequested {
            message: "if an account has this email, a link to reset its password is on its way",
        }),
    ))
}

/// Sets a new password with the token from the email's link; every session of the account ends.
#[utoipa::path(
    post,
    path = "/auth/password-reset/confirm",
    operation_id = "confirm_password_reset",
    tag = "auth",
    request_body = ResetConfirmForm,
    responses(
        (status = 200, description = "The password is changed; sign in with it", body = MessageResponse),
        (status = 400, description = "The token is used, expired or unknown (one answer for all three)", body = ErrorBody),
        (status = 403, description = "A cross-site request", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    )
)]
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    ApiJson(form): ApiJson<ResetConfirmForm>,
) -> Result<Json<MessageResponse>, Error> {
    let (token, new) = form.parse()?;
    reset::confirm(&state, &token, new).await?;
    Ok(Json(MessageResponse {
        message: "password changed; sign in with the new one",
    }))
}

fn expired_cookies(config: &Config) -> Cookies {
    AppendHeaders([
        (SET_COOKIE, ACCESS.expire(config)),
        (SET_COOKIE, REFRESH.expire(config)),
    ])
}

fn signed_in_response(config: &Config, signed_in: SignedIn) -> (Cookies, Json<AuthResponse>) {
    let SignedIn { user, tokens } = signed_in;
    let refresh = tokens.refresh_token.unwrap_or_default();
    let cookies = AppendHeaders([
        (
            SET_COOKIE,
            ACCESS.set(
                config,
                &tokens.access_token,
                config.access_token_ttl.as_secs(),
            ),
        ),
        (
            SET_COOKIE,
            REFRESH.set(config, &refresh, config.refresh_token_ttl.as_secs()),
        ),
    ]);
    let body = Json(AuthResponse {
        user: user.into(),
        token_type: "bearer",
    });
    (cookies, body)
}

/// One auth cookie's attributes, written once: the cookie is set and expired from the same
/// description, so logout always clears exactly what login set.
struct CookieSpec {
    name: &'static str,
    path: &'static str,
    same_site: &'static str,
}

/// Sent with every request to the site.
const ACCESS: CookieSpec = CookieSpec {
    name: ACCESS_COOKIE,
    path: "/",
    same_site: "Lax",
};
/// Sent only to `/auth/*`, and never on a cross-site request.
const REFRESH: CookieSpec = CookieSpec {
    name: REFRESH_COOKIE,
    path: "/auth",
    same_site: "Strict",
};

impl CookieSpec {
    /// The `Set-Cookie` value that stores `value` for `max_age` seconds, httpOnly.
    fn set(&self, config: &Config, value: &str, max_age: u64) -> String {
        format!(
            "{}={value}; {}; Max-Age={max_age}",
            self.name,
            self.attributes(config)
        )
    }

    /// The `Set-Cookie` value that removes the cookie.
    fn expire(&self, config: &Config) -> String {
        format!(
            "{}=; {}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            self.name,
            self.attributes(config)
        )
    }

    fn attributes(&self, config: &Config) -> String {
        let secure = if config.cookie_secure { "; Secure" } else { "" };
        format!(
            "HttpOnly{secure}; SameSite={}; Path={}",
            self.same_site, self.path
        )
    }
}
