//! `POST /auth/login` and `POST /auth/token`: credentials, deactivation, rehashing, lockout.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use axum::http::{Method, StatusCode};
use chrono::TimeDelta;
use serde_json::json;
use sqlx::PgPool;

use testkit::{TestApp, TestResponse, aws::config};

async fn log_in(app: &TestApp, email: &str, password: &str) -> TestResponse {
    app.post_json(
        "/auth/login",
        &json!({"email": email, "password": password}),
    )
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn logging_in_returns_the_user_and_sets_both_cookies(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let response = log_in(&app, &ada.email.to_uppercase(), &ada.password).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json()["user"]["id"], ada.id.to_string());
    assert_eq!(response.json()["token_type"], "bearer");
    assert!(response.cookie("access_token").is_some());
    assert!(response.cookie("refresh_token").is_some());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_wrong_password_and_an_unknown_email_get_the_same_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let wrong_password = log_in(&app, &ada.email, "not the password").await;
    let unknown_email = log_in(&app, "nobody@example.com", &ada.password).await;
    for response in [&wrong_password, &unknown_email] {
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        assert_eq!(response.detail(), "incorrect email or password");
        assert_eq!(response.header("www-authenticate"), "Bearer");
        assert!(response.cookie("access_token").is_none());
    }
    assert_eq!(wrong_password.body, unknown_email.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_deactivated_account_is_refused_with_403(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ada = app.signed_up_user().await;
    sqlx::query("update users set is_active = false where id = $1")
        .bind(ada.id)
        .execute(&pool)
        .await
        .expect("update");

    let login = log_in(&app, &ada.email, &ada.password).await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    assert_eq!(login.detail(), "this account is deactivated");

    let me = ada.get("/auth/me").await;
    assert_eq!(
        me.status,
        StatusCode::FORBIDDEN,
        "tokens issued before deactivation stop working"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_hash_with_older_parameters_is_upgraded_at_the_next_login(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ada = app.signed_up_user().await;
    let weak = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(4096, 1, 1, None).expect("params"),
    )
    .hash_password(ada.password.as_bytes())
    .expect("hash")
    .to_string();
    sqlx::query("update users set hashed_password = $2 where id = $1")
        .bind(ada.id)
        .bind(&weak)
        .execute(&pool)
        .await
        .expect("update");

    assert_eq!(
        log_in(&app, &ada.email, &ada.password).await.status,
        StatusCode::OK
    );

    let stored: String = sqlx::query_scalar("select hashed_password from users where id = $1")
        .bind(ada.id)
        .fetch_one(&pool)
        .await
        .expect("select");
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert_eq!(
        log_in(&app, &ada.email, &ada.password).await.status,
        StatusCode::OK,
        "the new hash verifies"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn ten_failures_lock_an_email_out_even_with_the_right_password_until_the_window_passes(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    for _ in 0..10 {
        assert_eq!(
            log_in(&app, &ada.email, "wrong password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }

    let locked = log_in(&app, &ada.email, &ada.password).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(locked.detail(), "too many attempts; try again later");
    let retry_after: i64 = locked.header("retry-after").parse().expect("seconds");
    assert!((1..=900).contains(&retry_after), "{retry_after}");

    app.clock.advance(TimeDelta::seconds(retry_after - 1));
    assert_eq!(
        log_in(&app, &ada.email, &ada.password).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.clock.advance(TimeDelta::seconds(1));
    assert_eq!(
        log_in(&app, &ada.email, &ada.password).await.status,
        StatusCode::OK,
        "the window has passed"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unknown_email_locks_out_the_same_way_so_429_reveals_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for _ in 0..10 {
        assert_eq!(
            log_in(&app, "ghost@example.com", "whatever pw")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = log_in(&app, "ghost@example.com", "whatever pw").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(TimeDelta::minutes(15));
    assert_eq!(
        log_in(&app, "ghost@example.com", "whatever pw")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn one_address_spraying_many_emails_is_refused(pool: PgPool) {
    let app = TestApp::with_config(
        writers::Config {
            login_failures_per_ip: 5,
            ..config()
        },
        pool,
    )
    .await;
    let attempt = |n: u32, ip: &'static str| {
        app.request(Method::POST, "/auth/login")
            .json(&json!({"email": format!("target{n}@example.com"), "password": "guess guess"}))
            .peer_ip(ip)
            .send()
    };
    for n in 0..5 {
        assert_eq!(
            attempt(n, "203.0.113.9").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt(5, "203.0.113.9").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempt(6, "198.51.100.2").await.status,
        StatusCode::UNAUTHORIZED,
        "other addresses are unaffected"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_token_endpoint_gives_a_bearer_token_and_no_cookies(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let response = app
        .request(Method::POST, "/auth/token")
        .form(&format!(
            "username={}&password=correct+horse+battery+staple",
            ada.email
        ))
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let body = response.json();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1800);
    assert!(response.headers.get("set-cookie").is_none());

    let token = body["access_token"].as_str().expect("a token");
    let me = app
        .request(Method::GET, "/auth/me")
        .bearer(token)
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["user"]["email"], ada.email);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_token_endpoint_refuses_bad_credentials_json_and_missing_fields(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let wrong = app
        .request(Method::POST, "/auth/token")
        .form(&format!("username={}&password=nope+nope", ada.email))
        .send()
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.detail(), "incorrect email or password");

    let json_body = app
        .post_json(
            "/auth/token",
            &json!({"username": ada.email, "password": ada.password}),
        )
        .await;
    assert_eq!(json_body.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let missing = app
        .request(Method::POST, "/auth/token")
        .form("username=a%40example.com")
        .send()
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        missing.json()["errors"][0]["loc"],
        json!(["body", "password"])
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_token_endpoint_shares_the_lockout(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    for _ in 0..10 {
        log_in(&app, &ada.email, "wrong password").await;
    }
    let response = app
        .request(Method::POST, "/auth/token")
        .form(&format!(
            "username={}&password=correct+horse+battery+staple",
            ada.email
        ))
        .send()
        .await;
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
}
