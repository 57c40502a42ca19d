//! HTTP adapters for accounts: extract, call one operation, set or clear the cookies.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header::SET_COOKIE},
    response::AppendHeaders,
};

use crate::{
    AppState, Config, Error,
    http::{
        error::ErrorBody,
        extract::{
            ACCESS_COOKIE, ApiForm, ApiJson, ClientIp, CurrentUser, REFRESH_COOKIE, access_token,
            cookie,
        },
    },
    users::{
        self, SignedIn,
        model::{
            AuthResponse, LoginForm, MeResponse, MessageResponse, RegisterForm, TokenForm,
            TokenResponse,
        },
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
    ApiJson(form): ApiJson<RegisterForm>,
) -> Result<(StatusCode, Cookies, Json<AuthResponse>), Error> {
    let signed_in = users::register(&state, form.parse()?, &ip).await?;
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
    ApiJson(form): ApiJson<LoginForm>,
) -> Result<(Cookies, Json<AuthResponse>), Error> {
    let signed_in = users::log_in(&state, form.parse()?, &ip, true).await?;
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
    ApiForm(form): ApiForm<TokenForm>,
) -> Result<Json<TokenResponse>, Error> {
    let signed_in = users::log_in(&state, form.parse()?, &ip, false).await?;
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
    let cookies = AppendHeaders([
        (SET_COOKIE, ACCESS.expire(&state.config)),
        (SET_COOKIE, REFRESH.expire(&state.config)),
    ]);
    Ok((
        cookies,
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
