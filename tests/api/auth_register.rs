//! `POST /auth/register`: the contract, the cookies, validation and hostile input.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use testkit::{TestApp, aws::config};

fn ada() -> serde_json::Value {
    json!({"email": "Ada@Example.com", "username": "ada", "password": "correct horse battery staple", "full_name": "Ada Lovelace"})
}

#[sqlx::test(migrations = "../migrations")]
async fn registering_returns_the_user_and_sets_both_cookies(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let response = app.post_json("/auth/register", &ada()).await;

    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let body = response.json();
    assert_eq!(body["token_type"], "bearer");
    let user = &body["user"];
    assert_eq!(user["email"], "ada@example.com", "stored lowercase");
    assert_eq!(user["username"], "ada");
    assert_eq!(user["full_name"], "Ada Lovelace");
    assert_eq!(user["is_active"], true);
    assert_eq!(user["is_superuser"], false);
    let mut keys: Vec<_> = user
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "email",
            "full_name",
            "id",
            "is_active",
            "is_superuser",
            "time_zone",
            "updated_at",
            "username"
        ],
        "and never the password hash"
    );

    let access = response.cookie("access_token").expect("access cookie");
    assert!(access.has("httponly") && access.has("secure"));
    assert_eq!(access.attribute("samesite"), Some("Lax"));
    assert_eq!(access.attribute("path"), Some("/"));
    assert_eq!(access.attribute("max-age"), Some("1800"));
    let refresh = response.cookie("refresh_token").expect("refresh cookie");
    assert!(refresh.has("httponly") && refresh.has("secure"));
    assert_eq!(refresh.attribute("samesite"), Some("Strict"));
    assert_eq!(refresh.attribute("path"), Some("/auth"));
    assert_eq!(refresh.attribute("max-age"), Some("604800"));

    let me = app
        .request(Method::GET, "/auth/me")
        .cookie("access_token", &access.value)
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["user"]["id"], user["id"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_secure_flag_can_be_switched_off_for_plain_http_hosts(pool: PgPool) {
    let app = TestApp::with_config(
        writers::Config {
            cookie_secure: false,
            ..config()
        },
        pool,
    )
    .await;
    let response = app.post_json("/auth/register", &ada()).await;
    assert!(
        !response
            .cookie("access_token")
            .expect("cookie")
            .has("secure")
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_taken_email_or_username_is_a_409_naming_which(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.post_json("/auth/register", &ada()).await;

    let same_email = app
        .post_json(
            "/auth/register",
            &json!({"email": "ADA@example.COM", "username": "other", "password": "long enough pw"}),
        )
        .await;
    assert_eq!(same_email.status, StatusCode::CONFLICT);
    assert_eq!(same_email.detail(), "email already registered");

    let same_name = app
        .post_json(
            "/auth/register",
            &json!({"email": "other@example.com", "username": "ADA", "password": "long enough pw"}),
        )
        .await;
    assert_eq!(same_name.status, StatusCode::CONFLICT);
    assert_eq!(same_name.detail(), "username already taken");
}

#[sqlx::test(migrations = "../migrations")]
async fn two_simultaneous_registrations_of_one_email_give_one_201_and_one_409(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let first =
        json!({"email": "race@example.com", "username": "racer1", "password": "long enough pw"});
    let second =
        json!({"email": "race@example.com", "username": "racer2", "password": "long enough pw"});
    let (a, b) = tokio::join!(
        app.post_json("/auth/register", &first),
        app.post_json("/auth/register", &second)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{} / {}",
        a.text(),
        b.text()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn every_invalid_field_is_reported_without_echoing_it(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let response = app
        .post_json(
            "/auth/register",
            &json!({"email": "not-an-email", "username": "a b", "password": "short", "full_name": "x".repeat(256)}),
        )
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.json();
    let locs: Vec<String> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["loc"][1].as_str().expect("a field").to_owned())
        .collect();
    assert_eq!(locs, ["email", "username", "password", "full_name"]);
    assert_eq!(body["detail"], "email: must contain an @ (and 3 more)");
    assert!(
        !response.text().contains("not-an-email"),
        "input is never echoed"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_missing_field_is_named(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let response = app
        .post_json(
            "/auth/register",
            &json!({"email": "a@example.com", "username": "abc"}),
        )
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.json()["errors"][0],
        json!({"loc": ["body", "password"], "msg": "field required", "type": "missing"})
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn hostile_bodies_get_a_4xx_with_a_detail(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(&str, &str, Vec<u8>, StatusCode)> = vec![
        (
            "malformed JSON",
            "application/json",
            b"{\"email\": ".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "trailing garbage",
            "application/json",
            br#"{"email":"a"} x"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "not UTF-8",
            "application/json",
            b"{\"email\": \"\xff\xfe\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "deeply nested",
            "application/json",
            nested.into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "a number for a string",
            "application/json",
            br#"{"email": 5, "username": "abc", "password": "long enough"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "form instead of JSON",
            "application/x-www-form-urlencoded",
            b"email=a".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "1 MB string",
            "application/json",
            format!(r#"{{"email": "{}"}}"#, "a".repeat(1 << 20)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (name, content_type, body, expected) in cases {
        let response = app
            .request(Method::POST, "/auth/register")
            .body(content_type, body)
            .send()
            .await;
        assert_eq!(response.status, expected, "{name}: {}", response.text());
        assert!(!response.detail().is_empty(), "{name} has a detail");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn nul_characters_and_look_alike_emails_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let cases = [
        json!({"email": "nul@example.com", "username": "abc", "password": "long enough", "full_name": "A\u{0}B"}),
        json!({"email": "n\u{0}ul@example.com", "username": "abc", "password": "long enough"}),
        json!({"email": "nul@example.com", "username": "a\u{0}bc", "password": "long enough"}),
        json!({"email": "\u{0430}da@example.com", "username": "abc", "password": "long enough"}),
    ];
    for body in cases {
        let response = app.post_json("/auth/register", &body).await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            response.text()
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_fields_are_ignored(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut body = ada();
    body["is_superuser"] = json!(true);
    let response = app.post_json("/auth/register", &body).await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(
        response.json()["user"]["is_superuser"],
        false,
        "not settable by the client"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn registrations_are_limited_per_source_address(pool: PgPool) {
    let app = TestApp::with_config(
        writers::Config {
            registrations_per_ip_per_hour: 3,
            ..config()
        },
        pool,
    )
    .await;
    let register = |n: u32, ip: &'static str| {
        let body = json!({"email": format!("w{n}@example.com"), "username": format!("writer{n}"), "password": "long enough"});
        app.request(Method::POST, "/auth/register")
            .json(&body)
            .peer_ip(ip)
            .send()
    };
    for n in 0..3 {
        assert_eq!(register(n, "203.0.113.7").await.status, StatusCode::CREATED);
    }
    let refused = register(3, "203.0.113.7").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        refused
            .header("retry-after")
            .parse::<u64>()
            .expect("seconds")
            > 0
    );
    assert_eq!(
        register(4, "198.51.100.1").await.status,
        StatusCode::CREATED,
        "another address is not limited"
    );

    app.clock.advance(chrono::TimeDelta::minutes(61));
    assert_eq!(
        register(5, "203.0.113.7").await.status,
        StatusCode::CREATED,
        "the window has passed"
    );
}
