//! Sessions: what `GET /auth/me` accepts, refresh rotation and reuse, logout, CSRF, key rotation.

use axum::http::{Method, StatusCode};
use chrono::TimeDelta;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde_json::json;
use sqlx::PgPool;
use writers::{
    Config,
    config::JwtSecret,
    users::token::{Claims, TokenKind},
};

use testkit::{TestApp, TestResponse, aws::config};

async fn me_with_cookie(app: &TestApp, token: &str) -> TestResponse {
    app.request(Method::GET, "/auth/me")
        .cookie("access_token", token)
        .send()
        .await
}

async fn refresh_with(app: &TestApp, token: &str) -> TestResponse {
    app.request(Method::POST, "/auth/refresh")
        .cookie("refresh_token", token)
        .send()
        .await
}

#[track_caller]
fn assert_unauthenticated(response: &TestResponse, case: &str) {
    assert_eq!(
        response.status,
        StatusCode::UNAUTHORIZED,
        "{case}: {}",
        response.text()
    );
    assert_eq!(response.detail(), "not authenticated", "{case}");
    assert_eq!(response.header("www-authenticate"), "Bearer", "{case}");
}

/// `token` re-signed with `secret`, keeping the genuine header (and so its `kid`).
fn forge(token: &str, secret: &[u8]) -> String {
    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    let claims: Claims = jsonwebtoken::dangerous::insecure_decode(token)
        .expect("claims")
        .claims;
    jsonwebtoken::encode(
        &Header {
            kid: header.kid,
            ..Header::new(Algorithm::HS256)
        },
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

#[sqlx::test(migrations = "../migrations")]
async fn protected_routes_refuse_every_kind_of_bad_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    assert_eq!(
        me_with_cookie(&app, &ada.access).await.status,
        StatusCode::OK
    );

    let (head, rest) = ada.access.split_once('.').expect("a JWT");
    let (payload, signature) = rest.split_once('.').expect("a JWT");
    let mut flipped: Vec<char> = signature.chars().collect();
    flipped[10] = if flipped[10] == 'A' { 'B' } else { 'A' };
    let tampered_signature = format!(
        "{head}.{payload}.{}",
        flipped.into_iter().collect::<String>()
    );
    let other_payload = app.signed_up_user().await.access;
    let swapped_payload = format!(
        "{head}.{}.{signature}",
        other_payload.split('.').nth(1).expect("payload")
    );
    // {"alg":"none","typ":"JWT"}
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    // FastAPI's tutorial key, which the original's deployments copy, and other published defaults.
    let seed_defaults: [&[u8]; 3] = [
        b"09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
        b"your-secret-key-here",
        b"secret",
    ];

    let mut cases = vec![
        ("malformed", "not-a-jwt".to_owned()),
        ("tampered signature", tampered_signature),
        ("another token's payload", swapped_payload),
        ("alg none", alg_none),
        (
            "a refresh token used as an access token",
            ada.refresh.clone(),
        ),
    ];
    cases.extend(seed_defaults.iter().map(|secret| {
        (
            "signed with a published default secret",
            forge(&ada.access, secret),
        )
    }));
    for (case, token) in &cases {
        assert_unauthenticated(&me_with_cookie(&app, token).await, case);
        let bearer = app
            .request(Method::GET, "/auth/me")
            .bearer(token)
            .send()
            .await;
        assert_unauthenticated(&bearer, case);
    }
    assert_unauthenticated(&app.get("/auth/me").await, "no token");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_access_token_expires_after_thirty_minutes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    app.clock.advance(TimeDelta::seconds(1799));
    assert_eq!(
        me_with_cookie(&app, &ada.access).await.status,
        StatusCode::OK
    );
    app.clock.advance(TimeDelta::seconds(1));
    assert_unauthenticated(&me_with_cookie(&app, &ada.access).await, "expired");
}

#[sqlx::test(migrations = "../migrations")]
async fn refreshing_rotates_both_tokens(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    app.clock.advance(TimeDelta::minutes(31));
    assert_unauthenticated(&me_with_cookie(&app, &ada.access).await, "expired");

    let refreshed = refresh_with(&app, &ada.refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text());
    assert_eq!(refreshed.json()["user"]["id"], ada.id.to_string());
    let access = refreshed
        .cookie("access_token")
        .expect("access cookie")
        .value;
    let refresh = refreshed.cookie("refresh_token").expect("refresh cookie");
    assert_ne!(refresh.value, ada.refresh);
    assert_eq!(refresh.attribute("path"), Some("/auth"));
    assert_eq!(me_with_cookie(&app, &access).await.status, StatusCode::OK);
    assert_eq!(
        refresh_with(&app, &refresh.value).await.status,
        StatusCode::OK,
        "the new one rotates too"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let refreshed = refresh_with(&app, &ada.refresh).await;
    let new_access = refreshed.cookie("access_token").expect("cookie").value;
    let new_refresh = refreshed.cookie("refresh_token").expect("cookie").value;

    // The old token again, after the grace period: whoever holds it stole it.
    app.clock.advance(TimeDelta::seconds(31));
    assert_unauthenticated(&refresh_with(&app, &ada.refresh).await, "reused");

    assert_unauthenticated(
        &refresh_with(&app, &new_refresh).await,
        "the family is revoked",
    );
    assert_unauthenticated(
        &me_with_cookie(&app, &new_access).await,
        "so are its access tokens",
    );
    assert_unauthenticated(
        &me_with_cookie(&app, &ada.access).await,
        "and the first one",
    );
    let other_login = app
        .post_json(
            "/auth/login",
            &json!({"email": ada.email, "password": ada.password}),
        )
        .await;
    assert_eq!(
        other_login.status,
        StatusCode::OK,
        "a new login starts a new family"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refresh_token_is_not_an_access_token_and_expires_after_seven_days(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    assert_unauthenticated(&refresh_with(&app, &ada.access).await, "an access token");
    assert_unauthenticated(
        &app.request(Method::POST, "/auth/refresh").send().await,
        "no cookie",
    );
    app.clock.advance(TimeDelta::days(7));
    assert_unauthenticated(&refresh_with(&app, &ada.refresh).await, "expired");
}

#[sqlx::test(migrations = "../migrations")]
async fn logging_out_expires_the_cookies_and_ends_the_session_on_the_server(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let response = app
        .request(Method::POST, "/auth/logout")
        .header(
            "cookie",
            &format!("access_token={}; refresh_token={}", ada.access, ada.refresh),
        )
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json(), json!({"message": "signed out"}));
    for (name, path) in [("access_token", "/"), ("refresh_token", "/auth")] {
        let cookie = response.cookie(name).expect("cleared cookie");
        assert_eq!(cookie.value, "");
        assert_eq!(cookie.attribute("max-age"), Some("0"));
        assert_eq!(cookie.attribute("path"), Some(path));
    }

    // A stolen copy of either cookie is worthless now (the original kept accepting it).
    assert_unauthenticated(
        &me_with_cookie(&app, &ada.access).await,
        "access after logout",
    );
    assert_unauthenticated(
        &refresh_with(&app, &ada.refresh).await,
        "refresh after logout",
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn logging_out_with_a_bearer_token_ends_that_session_only(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let script = app.bearer_token(&ada.email, &ada.password).await;
    let response = app
        .request(Method::POST, "/auth/logout")
        .bearer(&script)
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_unauthenticated(
        &app.request(Method::GET, "/auth/me")
            .bearer(&script)
            .send()
            .await,
        "logged out",
    );
    assert_eq!(
        me_with_cookie(&app, &ada.access).await.status,
        StatusCode::OK,
        "the browser session lives on"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn logging_out_without_a_session_still_clears_the_cookies(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let response = app.request(Method::POST, "/auth/logout").send().await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response
            .cookie("access_token")
            .expect("cleared")
            .attribute("max-age"),
        Some("0")
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_cross_site_cookie_request_is_refused_but_bearer_and_allowed_origins_pass(pool: PgPool) {
    let config = Config {
        allowed_origins: vec!["https://app.example.com".to_owned()],
        ..config()
    };
    let app = TestApp::with_config(config, pool).await;
    let ada = app.signed_up_user().await;

    let forged = ada
        .request(Method::POST, "/auth/logout")
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(forged.detail(), "cross-site request refused");
    assert_eq!(
        me_with_cookie(&app, &ada.access).await.status,
        StatusCode::OK,
        "the session survived"
    );

    let fetch_metadata = app
        .request(Method::POST, "/auth/refresh")
        .cookie("refresh_token", &ada.refresh)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await;
    assert_eq!(fetch_metadata.status, StatusCode::FORBIDDEN);

    let script = app.bearer_token(&ada.email, &ada.password).await;
    let bearer = app
        .request(Method::POST, "/auth/logout")
        .bearer(&script)
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert_eq!(bearer.status, StatusCode::OK, "bearer requests are exempt");

    let allowed = ada
        .request(Method::POST, "/auth/logout")
        .header("origin", "https://app.example.com")
        .send()
        .await;
    assert_eq!(allowed.status, StatusCode::OK);
}

fn with_secret(current: &str, previous: Option<&str>) -> Config {
    Config {
        jwt_secret: JwtSecret::Value {
            current: SecretString::from(current),
            previous: previous.map(SecretString::from),
        },
        ..config()
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn tokens_signed_with_the_previous_secret_verify_during_a_rotation(pool: PgPool) {
    const OLD: &str = "the-old-secret-that-is-at-least-32-bytes";
    const NEW: &str = "the-new-secret-that-is-at-least-32-bytes";
    let before = TestApp::with_config(with_secret(OLD, None), pool.clone()).await;
    let ada = before.signed_up_user().await;

    let during = TestApp::with_config(with_secret(NEW, Some(OLD)), pool.clone()).await;
    assert_eq!(
        me_with_cookie(&during, &ada.access).await.status,
        StatusCode::OK,
        "old kid still verifies"
    );
    let refreshed = refresh_with(&during, &ada.refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK);
    let reissued = refreshed.cookie("access_token").expect("cookie").value;
    assert_ne!(
        jsonwebtoken::decode_header(&reissued).expect("JWT").kid,
        jsonwebtoken::decode_header(&ada.access).expect("JWT").kid,
        "new tokens carry the new key's id"
    );

    let after = TestApp::with_config(with_secret(NEW, None), pool).await;
    assert_unauthenticated(
        &me_with_cookie(&after, &ada.access).await,
        "the old key is retired",
    );
    assert_eq!(
        me_with_cookie(&after, &reissued).await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_secret_can_be_read_from_secrets_manager_on_first_use(pool: PgPool) {
    const SECRET: &str = "a-secret-kept-in-secrets-manager-0123456789";
    let arn = testkit::aws::secret(&config(), "writers-test", SECRET).await;

    let from_arn = TestApp::with_config(
        Config {
            jwt_secret: JwtSecret::SecretsManager { arn: arn.clone() },
            ..config()
        },
        pool.clone(),
    )
    .await;
    let ada = from_arn.signed_up_user().await;
    let from_env = TestApp::with_config(with_secret(SECRET, None), pool).await;
    assert_eq!(
        me_with_cookie(&from_env, &ada.access).await.status,
        StatusCode::OK,
        "signed with the stored secret"
    );

    let missing = TestApp::with_config(
        Config {
            jwt_secret: JwtSecret::SecretsManager {
                arn: format!("{arn}-gone"),
            },
            ..config()
        },
        from_arn.state.db.clone(),
    )
    .await;
    let response = missing
        .post_json(
            "/auth/login",
            &json!({"email": ada.email, "password": ada.password}),
        )
        .await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.detail(),
        "internal server error",
        "no AWS message leaks"
    );
    aws_sdk_secretsmanager::Client::new(&writers::aws::sdk_config(&config()).await)
        .delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete");
}

#[test]
fn claims_carry_the_session_and_kind() {
    let now = chrono::Utc::now();
    let claims = Claims::new(
        TokenKind::Refresh,
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        now,
        std::time::Duration::from_secs(60),
    );
    assert_eq!(claims.exp - claims.iat, 60);
    assert_eq!(claims.jti_hash().len(), 32);
}
