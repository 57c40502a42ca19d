//! Accounts a person manages: the profile, the password, the devices, a reset by email through
//! LocalStack's SES, deleting the account, and the administrators' routes.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use chrono::TimeDelta;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use writers::{admin, sweeper, users::reset};

use testkit::{Persona, TestApp, TestResponse};

use crate::direct_uploads::s3_request;

const PASSWORD: &str = "correct horse battery staple";

/// Signs `user` in again (another device), with `agent` as its `User-Agent`.
async fn log_in(app: &TestApp, email: &str, password: &str, agent: &str) -> TestResponse {
    app.request(Method::POST, "/auth/login")
        .header("user-agent", agent)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
}

async fn me_status(app: &TestApp, access: &str) -> StatusCode {
    app.request(Method::GET, "/auth/me")
        .cookie("access_token", access)
        .send()
        .await
        .status
}

fn access_of(response: &TestResponse) -> String {
    response
        .cookie("access_token")
        .expect("an access cookie")
        .value
}

/// `DELETE` with a JSON body.
async fn delete_json(user: &Persona, path: &str, body: &Value) -> TestResponse {
    user.request(Method::DELETE, path).json(body).send().await
}

/// Every message LocalStack's SES has accepted for `to`, oldest first. The store is everyone's,
/// so it is filtered by recipient and never emptied.
async fn mail_to(to: &str) -> Vec<Value> {
    let endpoint =
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:4566".to_owned());
    let (status, _, body) = s3_request("GET", &format!("{endpoint}/_aws/ses"), &[], vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let all: Value = serde_json::from_slice(&body).expect("JSON");
    all["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| {
            m["Destination"]["ToAddresses"]
                .as_array()
                .is_some_and(|to_| to_.iter().any(|a| a == to))
        })
        .cloned()
        .collect()
}

/// The token in a reset letter's link, which must be the web app's page with the token in the
/// fragment.
fn token_in(letter: &Value, app_url: &str) -> String {
    let text = letter["Body"]["text_part"].as_str().expect("a text part");
    let prefix = format!("{app_url}/reset#token=");
    let start = text.find(&prefix).expect("the link") + prefix.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

async fn ask_reset(app: &TestApp, email: &str) -> TestResponse {
    app.post_json("/auth/password-reset", &json!({"email": email}))
        .await
}

/// Asks for a reset of `email`, runs the sweeper, and returns the token it mailed.
async fn reset_token(app: &TestApp, email: &str) -> String {
    let before = mail_to(email).await.len();
    assert_eq!(ask_reset(app, email).await.status, StatusCode::ACCEPTED);
    sweeper::run(&app.state).await.expect("a sweep");
    let letters = mail_to(email).await;
    assert_eq!(letters.len(), before + 1, "one new letter");
    token_in(letters.last().expect("a letter"), &app.state.config.app_url)
}

async fn confirm(app: &TestApp, token: &str, new_password: &str) -> TestResponse {
    app.post_json(
        "/auth/password-reset/confirm",
        &json!({"token": token, "new_password": new_password}),
    )
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn the_profile_is_edited_with_a_merge_patch(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let other = app.signed_up_user().await;

    let edited = ada
        .patch(
            "/auth/me",
            &json!({"full_name": "  Ada King ", "time_zone": "Europe/London"}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text());
    assert_eq!(edited.json()["full_name"], "Ada King");
    assert_eq!(edited.json()["time_zone"], "Europe/London");
    let cleared = ada.patch("/auth/me", &json!({"full_name": null})).await;
    assert_eq!(cleared.json()["full_name"], Value::Null);
    assert_eq!(cleared.json()["time_zone"], "Europe/London", "kept");

    let other_name = other.get("/auth/me").await.json()["user"]["username"].clone();
    let taken = ada
        .patch(
            "/auth/me",
            &json!({"username": other_name.as_str().expect("a string").to_uppercase()}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.detail(), "username already taken");

    for (body, field) in [
        (json!({"time_zone": "Mars/Olympus_Mons"}), "time_zone"),
        (json!({"username": "a b"}), "username"),
        (json!({"is_superuser": true}), "is_superuser"),
        (json!({"email": "ada.king@example.com"}), "current_password"),
        (json!({"full_name": 7}), "full_name"),
    ] {
        let refused = ada.patch("/auth/me", &body).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(refused.json()["errors"][0]["loc"][1], field, "{body}");
    }
    let not_an_object = ada.patch("/auth/me", &json!(["full_name"])).await;
    assert_eq!(not_an_object.status, StatusCode::UNPROCESSABLE_ENTITY);

    let wrong = ada
        .patch(
            "/auth/me",
            &json!({"email": "ada.king@example.com", "current_password": "not my password"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.detail(), "the password is incorrect");
    let email_taken = ada
        .patch(
            "/auth/me",
            &json!({"email": other.email.to_uppercase(), "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(email_taken.status, StatusCode::CONFLICT);

    let new_email = format!(
        "king-{}@example.com",
        &Uuid::new_v4().simple().to_string()[..8]
    );
    let moved = ada
        .patch(
            "/auth/me",
            &json!({"email": new_email.to_uppercase(), "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    assert_eq!(moved.json()["email"], new_email.as_str(), "normalised");
    assert_eq!(
        log_in(&app, &new_email, PASSWORD, "test").await.status,
        StatusCode::OK
    );
    assert_eq!(
        log_in(&app, &ada.email, PASSWORD, "test").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_password_change_ends_every_other_session_and_renews_this_one(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let bob = app.signed_up_user().await;
    let laptop = log_in(&app, &ada.email, PASSWORD, "laptop").await;
    let laptop_access = access_of(&laptop);

    let short = ada
        .post_json(
            "/auth/password",
            &json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(short.json()["errors"][0]["loc"][1], "new_password");

    let changed = ada
        .post_json(
            "/auth/password",
            &json!({"current_password": PASSWORD, "new_password": "a new and longer passphrase"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    let renewed = access_of(&changed);
    assert_eq!(me_status(&app, &renewed).await, StatusCode::OK);
    assert_eq!(
        me_status(&app, &ada.access).await,
        StatusCode::OK,
        "this session goes on"
    );
    assert_eq!(
        me_status(&app, &laptop_access).await,
        StatusCode::UNAUTHORIZED,
        "the other device is signed out"
    );
    // The refresh token issued before the change is spent; the new one works.
    let old_refresh = app
        .request(Method::POST, "/auth/refresh")
        .cookie("refresh_token", &ada.refresh)
        .send()
        .await;
    assert_eq!(old_refresh.status, StatusCode::UNAUTHORIZED);
    let changed_again = ada
        .post_json(
            "/auth/password",
            &json!({"current_password": "a new and longer passphrase", "new_password": "and another one entirely"}),
        )
        .await;
    // The old refresh token's reuse revoked the session it belonged to, as reuse always does.
    assert_eq!(changed_again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        log_in(&app, &ada.email, "a new and longer passphrase", "test")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        me_status(&app, &bob.access).await,
        StatusCode::OK,
        "nobody else's sessions"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_wrong_current_password_counts_towards_the_lockout(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    for attempt in 0..writers::users::limits::MAX_FAILED_LOGINS_PER_EMAIL {
        let wrong = ada
            .post_json(
                "/auth/password",
                &json!({"current_password": "not my password", "new_password": "whatever it may be"}),
            )
            .await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "attempt {attempt}");
    }
    let locked = ada
        .post_json(
            "/auth/password",
            &json!({"current_password": PASSWORD, "new_password": "whatever it may be"}),
        )
        .await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        log_in(&app, &ada.email, PASSWORD, "test").await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the login is locked out too"
    );
    let deleting = delete_json(&ada, "/auth/me", &json!({"password": PASSWORD})).await;
    assert_eq!(deleting.status, StatusCode::TOO_MANY_REQUESTS);
}

#[sqlx::test(migrations = "../migrations")]
async fn devices_are_listed_and_signed_out_one_by_one_or_all_at_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let bob = app.signed_up_user().await;
    app.clock.advance(TimeDelta::minutes(1));
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
    let laptop = log_in(&app, &ada.email, PASSWORD, firefox).await;
    app.clock.advance(TimeDelta::minutes(1));
    let iphone = log_in(&app, &ada.email, PASSWORD, phone).await;

    let updated_at = ada.get("/auth/me").await.json()["user"]["updated_at"].clone();
    assert!(updated_at.is_string());
    let listed = ada.get("/auth/sessions").await;
    assert_eq!(listed.status, StatusCode::OK);
    let sessions = listed.json()["sessions"]
        .as_array()
        .expect("sessions")
        .clone();
    assert_eq!(sessions.len(), 3);
    assert_eq!(
        sessions[0]["user_agent"], "Safari on iOS",
        "most recent first"
    );
    assert_eq!(sessions[1]["user_agent"], "Firefox on Linux");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(
        current[0]["user_agent"],
        Value::Null,
        "registered without a User-Agent"
    );

    // A refresh marks its session used; a plain read does not.
    let firefox_id = sessions[1]["id"].as_str().expect("a string").to_owned();
    let used_before = sessions[1]["last_used_at"].clone();
    app.clock.advance(TimeDelta::minutes(5));
    assert_eq!(me_status(&app, &access_of(&laptop)).await, StatusCode::OK);
    let unchanged = ada.get("/auth/sessions").await.json();
    assert_eq!(unchanged["sessions"][1]["last_used_at"], used_before);
    let refreshed = app
        .request(Method::POST, "/auth/refresh")
        .cookie(
            "refresh_token",
            &laptop.cookie("refresh_token").expect("refresh").value,
        )
        .send()
        .await;
    assert_eq!(refreshed.status, StatusCode::OK);
    let after = ada.get("/auth/sessions").await.json();
    assert_eq!(
        after["sessions"][0]["id"],
        firefox_id.as_str(),
        "now the latest used"
    );
    assert_ne!(after["sessions"][0]["last_used_at"], used_before);

    let strangers = bob.delete(&format!("/auth/sessions/{firefox_id}")).await;
    assert_eq!(strangers.status, StatusCode::NOT_FOUND, "not bob's session");
    assert_eq!(
        bob.delete("/auth/sessions/not-a-uuid").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let ended = ada.delete(&format!("/auth/sessions/{firefox_id}")).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    assert_eq!(
        me_status(&app, &access_of(&refreshed)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ada.delete(&format!("/auth/sessions/{firefox_id}"))
            .await
            .status,
        StatusCode::NOT_FOUND,
        "already ended"
    );

    assert_eq!(
        ada.delete("/auth/sessions").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        me_status(&app, &access_of(&iphone)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me_status(&app, &ada.access).await, StatusCode::OK);
    assert_eq!(me_status(&app, &bob.access).await, StatusCode::OK);
    assert_eq!(
        ada.get("/auth/me").await.json()["user"]["updated_at"],
        updated_at,
        "signing in is no edit of the account"
    );
    let left = ada.get("/auth/sessions").await.json();
    assert_eq!(left["sessions"].as_array().map(Vec::len), Some(1));

    // Ending the current session is a sign-out: its cookies are expired.
    let current_id = left["sessions"][0]["id"]
        .as_str()
        .expect("a string")
        .to_owned();
    let signed_out = ada.delete(&format!("/auth/sessions/{current_id}")).await;
    assert_eq!(signed_out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        signed_out.cookie("access_token").map(|c| c.value),
        Some(String::new())
    );
    assert_eq!(me_status(&app, &ada.access).await, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_reset_link_arrives_by_email_and_works_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let bob = app.signed_up_user().await;
    let laptop = log_in(&app, &ada.email, PASSWORD, "laptop").await;
    // Locked out by someone guessing.
    for _ in 0..writers::users::limits::MAX_FAILED_LOGINS_PER_EMAIL {
        log_in(&app, &ada.email, "a wrong guess", "x").await;
    }
    assert_eq!(
        log_in(&app, &ada.email, PASSWORD, "x").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    let asked = ask_reset(&app, &ada.email.to_uppercase()).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    assert_eq!(asked.header("referrer-policy"), "no-referrer");
    assert!(
        mail_to(&ada.email).await.is_empty(),
        "nothing before the sweeper"
    );
    let report = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!(report.reset_emails_sent, 1);
    let letters = mail_to(&ada.email).await;
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(
        letter["Source"],
        app.state
            .config
            .mail_from
            .as_deref()
            .expect("MAIL_FROM is set")
    );
    assert_eq!(letter["Subject"], "Reset your Writers password");
    let text = letter["Body"]["text_part"].as_str().expect("a text part");
    assert!(text.contains(&ada.email), "which account: {text}");
    assert!(text.contains("ignore this email"), "how to ignore it");
    assert!(
        letter["Body"]["html_part"]
            .as_str()
            .is_some_and(|h| h.contains("<a href="))
    );
    let token = token_in(letter, &app.state.config.app_url);
    assert_eq!(token.len(), 43, "32 bytes, base64url");
    // Only its hash is stored.
    let stored: Vec<u8> =
        sqlx::query_scalar("select token_hash from password_reset_tokens where user_id = $1")
            .bind(ada.id)
            .fetch_one(&app.state.db)
            .await
            .expect("a token row");
    assert_ne!(stored, token.as_bytes());

    let changed = confirm(&app, &token, "a brand new passphrase").await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    assert_eq!(me_status(&app, &ada.access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me_status(&app, &access_of(&laptop)).await,
        StatusCode::UNAUTHORIZED,
        "every session ends"
    );
    assert_eq!(
        me_status(&app, &bob.access).await,
        StatusCode::OK,
        "but nobody else's"
    );
    assert_eq!(
        log_in(&app, &ada.email, "a brand new passphrase", "x")
            .await
            .status,
        StatusCode::OK,
        "the lockout is lifted"
    );
    let again = confirm(&app, &token, "yet another passphrase").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.detail(), reset::INVALID_TOKEN);
    let made_up = confirm(
        &app,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "yet another passphrase",
    )
    .await;
    assert_eq!(made_up.status, StatusCode::BAD_REQUEST);
    assert_eq!(made_up.detail(), reset::INVALID_TOKEN);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_reset_token_expires_and_a_newer_one_voids_it(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;

    let first = reset_token(&app, &ada.email).await;
    let second = reset_token(&app, &ada.email).await;
    assert_ne!(first, second);
    assert_eq!(
        confirm(&app, &first, "a brand new passphrase")
            .await
            .detail(),
        reset::INVALID_TOKEN,
        "voided by the newer one"
    );
    app.clock.advance(reset::TOKEN_TTL + TimeDelta::seconds(1));
    let expired = confirm(&app, &second, "a brand new passphrase").await;
    assert_eq!(expired.status, StatusCode::BAD_REQUEST);
    assert_eq!(expired.detail(), reset::INVALID_TOKEN);
    assert_eq!(
        log_in(&app, &ada.email, PASSWORD, "x").await.status,
        StatusCode::OK,
        "the password is unchanged"
    );

    // A password change voids a token mailed before it.
    let third = reset_token(&app, &ada.email).await;
    let bearer = app.bearer_token(&ada.email, PASSWORD).await;
    let changed = app
        .request(Method::POST, "/auth/password")
        .bearer(&bearer)
        .json(&json!({"current_password": PASSWORD, "new_password": "changed while signed in"}))
        .send()
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(
        confirm(&app, &third, "a brand new passphrase").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_reset_request_tells_nothing_about_the_account(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let nobody = format!("nobody-{}@example.com", Uuid::new_v4().simple());

    // Each try from an address of its own, so the per-address limit stays out of the way; the
    // two kinds of request interleave, so neither meets a warmer cache.
    let (mut existing, mut absent) = (Vec::new(), Vec::new());
    let mut answers = std::collections::HashSet::new();
    for i in 0..20 {
        for (email, times) in [(&ada.email, &mut existing), (&nobody, &mut absent)] {
            let started = Instant::now();
            let response = app
                .request(Method::POST, "/auth/password-reset")
                .peer_ip(&format!("10.9.{}.{}", i, usize::from(times.len() % 2 == 0)))
                .json(&json!({"email": email}))
                .send()
                .await;
            times.push(started.elapsed());
            // The per-email limit answers 429 for both alike once it is reached.
            answers.insert((response.status, response.text()));
        }
    }
    assert_eq!(
        answers.len(),
        2,
        "one 202 body and one 429 body, whichever the account: {answers:?}"
    );
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (existing, absent) = (median(&mut existing), median(&mut absent));
    let gap = existing.abs_diff(absent);
    assert!(
        gap < Duration::from_millis(10).max(existing.max(absent) / 2),
        "medians {existing:?} and {absent:?}"
    );

    // The request read no account; the sweeper, later, mails the real one only.
    let report = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!(
        report.reset_emails_sent, 3,
        "three for ada, within her limit"
    );
    assert!(mail_to(&nobody).await.is_empty());
    let outcomes: Vec<(String, String)> =
        sqlx::query_as("select email, outcome from password_reset_requests order by id")
            .fetch_all(&app.state.db)
            .await
            .expect("requests");
    assert_eq!(outcomes.len(), 6, "three per email; the rest were refused");
    assert!(outcomes.iter().all(|(email, outcome)| {
        (email == &ada.email && outcome == "sent") || (email == &nobody && outcome == "no_account")
    }));
}

#[sqlx::test(migrations = "../migrations")]
async fn reset_requests_are_limited_per_address(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for n in 0..reset::PER_ADDRESS {
        let email = format!("someone-{n}@example.com");
        assert_eq!(ask_reset(&app, &email).await.status, StatusCode::ACCEPTED);
    }
    let refused = ask_reset(&app, "one-more@example.com").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.header("retry-after").parse::<u64>().is_ok());
    app.clock.advance(reset::WINDOW);
    assert_eq!(
        ask_reset(&app, "one-more@example.com").await.status,
        StatusCode::ACCEPTED
    );
    let invalid = ask_reset(&app, "not an email").await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_reset_email_that_ses_refuses_is_sent_by_a_later_sweep(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    assert_eq!(
        ask_reset(&app, &ada.email).await.status,
        StatusCode::ACCEPTED
    );
    let (endpoint, _server) = testkit::aws::hung_endpoint().await;
    let mut broken = app.state.clone();
    let aws = writers::aws::sdk_config(&app.state.config).await;
    broken.mail = broken.mail.with_client(aws_sdk_ses_client(&aws, &endpoint));
    let report = sweeper::run_reporting(&broken).await.0;
    assert_eq!(report.reset_emails_failed, 1);
    assert!(mail_to(&ada.email).await.is_empty());
    app.clock.advance(TimeDelta::minutes(10));
    let report = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!(report.reset_emails_sent, 1);
    assert_eq!(mail_to(&ada.email).await.len(), 1);
}

fn aws_sdk_ses_client(aws: &aws_config::SdkConfig, endpoint: &str) -> aws_sdk_ses::Client {
    aws_sdk_ses::Client::from_conf(
        aws_sdk_ses::config::Builder::from(aws)
            .endpoint_url(endpoint)
            .build(),
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn deleting_the_account_leaves_no_row_and_no_object(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ada = app.signed_up_user().await;
    let bob = app.signed_up_user().await;
    let kept = app
        .create_with_file(&bob, "bob.txt", b"Bob's words stay.")
        .await;
    let task = app
        .create_with_file(&ada, "novel.txt", b"It was a dark and stormy night.")
        .await;
    let trashed = app
        .create_with_file(&ada, "old.txt", b"An old draft.")
        .await;
    assert_eq!(crate::tasks_manage::process_jobs(&app).await, 3);
    assert_eq!(
        ada.delete(&format!(
            "/api/v1/tasks/{}",
            trashed["id"].as_str().expect("a string")
        ))
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let username = ada.get("/auth/me").await.json()["user"]["username"].clone();
    let ada_keys = |keys: &[String]| {
        keys.iter()
            .filter(|k| {
                k.contains(&ada.id.to_string())
                    || k.contains(task["id"].as_str().expect("a string"))
                    || k.contains(trashed["id"].as_str().expect("a string"))
            })
            .count()
    };
    assert!(
        ada_keys(&app.stored_keys().await) >= 4,
        "uploads and results"
    );

    let wrong = delete_json(&ada, "/auth/me", &json!({"password": "not my password"})).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let missing = delete_json(&ada, "/auth/me", &json!({})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    let deleted = delete_json(&ada, "/auth/me", &json!({"password": PASSWORD})).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    assert_eq!(
        deleted.cookie("access_token").map(|c| c.value),
        Some(String::new())
    );
    assert_eq!(me_status(&app, &ada.access).await, StatusCode::UNAUTHORIZED);
    for count in [
        "select count(*) from users where id = $1",
        "select count(*) from tasks where user_id = $1",
        "select count(*) from sessions where user_id = $1",
        "select count(*) from task_counts where user_id = $1",
        "select count(*) from task_creation_allowance where user_id = $1",
    ] {
        let n: i64 = sqlx::query_scalar(count)
            .bind(ada.id)
            .fetch_one(&pool)
            .await
            .expect("count");
        assert_eq!(n, 0, "{count}");
    }
    let drafts: i64 =
        sqlx::query_scalar("select count(*) from task_drafts where task_id = any($1)")
            .bind(vec![
                task["id"]
                    .as_str()
                    .expect("a string")
                    .parse::<Uuid>()
                    .expect("a UUID"),
                trashed["id"]
                    .as_str()
                    .expect("a string")
                    .parse::<Uuid>()
                    .expect("a UUID"),
            ])
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(drafts, 0);
    assert_eq!(ada_keys(&app.stored_keys().await), 0, "swept at once");
    // The second sweep, one visibility timeout later, empties the outbox.
    app.clock
        .advance(TimeDelta::from_std(app.state.config.job_visibility_timeout).expect("a span"));
    let report = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!(report.pending_deletions, 0);
    assert_eq!(
        app.task(&bob, kept["id"].as_str().expect("a string")).await["id"],
        kept["id"]
    );

    let again = app
        .post_json(
            "/auth/register",
            &json!({"email": ada.email, "username": username, "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::CREATED,
        "the email and username are free"
    );
}

/// `user` made a superuser as `migrate promote` does; returns them signed in again.
async fn promoted(app: &TestApp, user: &Persona) -> String {
    admin::promote(&app.state.db, &user.email.to_uppercase(), app.clock.now())
        .await
        .expect("promote")
        .expect("an account");
    app.bearer_token(&user.email, PASSWORD).await
}

async fn as_admin(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> TestResponse {
    let request = app.request(method, path).bearer(token);
    match body {
        Some(body) => request.json(&body).send().await,
        None => request.send().await,
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn only_administrators_reach_the_admin_routes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let target = app.signed_up_user().await;
    for (method, path) in [
        (Method::GET, "/admin/users".to_owned()),
        (Method::GET, "/admin/audit".to_owned()),
        (Method::PATCH, format!("/admin/users/{}", target.id)),
    ] {
        let response = ada
            .request(method.clone(), &path)
            .json(&json!({"is_active": false}))
            .send()
            .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{method} {path}");
        let anonymous = app.request(method.clone(), &path).send().await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }
    assert_eq!(me_status(&app, &target.access).await, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn administrators_page_users_and_every_change_is_audited(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let root = app.signed_up_user().await;
    let writer = app.signed_up_user().await;
    app.create_with_file(&writer, "a.txt", b"Four words in here.")
        .await;
    let token = promoted(&app, &root).await;

    let page = as_admin(&app, &token, Method::GET, "/admin/users?limit=1", None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let page = page.json();
    assert_eq!(page["total"], 2);
    assert_eq!(
        page["users"][0]["id"],
        writer.id.to_string(),
        "newest first"
    );
    assert_eq!(page["users"][0]["task_count"], 1);
    assert_eq!(page["users"][0]["stored_bytes"], 19);
    assert!(page["users"][0]["last_login_at"].is_string());
    assert!(page["users"][0].get("tasks").is_none(), "no one's tasks");
    let next = page["next"].as_str().expect("a next page");
    let second = as_admin(
        &app,
        &token,
        Method::GET,
        &format!("/admin/users?limit=1&after={next}"),
        None,
    )
    .await
    .json();
    assert_eq!(second["users"][0]["id"], root.id.to_string());
    assert_eq!(second["users"][0]["is_superuser"], true);
    assert_eq!(second["next"], Value::Null);
    let found = as_admin(
        &app,
        &token,
        Method::GET,
        &format!("/admin/users?q={}", &writer.email[..15].to_uppercase()),
        None,
    )
    .await
    .json();
    assert_eq!(found["total"], 1);
    let bad = as_admin(&app, &token, Method::GET, "/admin/users?limit=0", None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let path = format!("/admin/users/{}", writer.id);
    let off = as_admin(
        &app,
        &token,
        Method::PATCH,
        &path,
        Some(json!({"is_active": false})),
    )
    .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text());
    assert_eq!(off.json()["is_active"], false);
    assert_eq!(
        me_status(&app, &writer.access).await,
        StatusCode::UNAUTHORIZED,
        "its sessions end at once"
    );
    assert_eq!(
        log_in(&app, &writer.email, PASSWORD, "x").await.status,
        StatusCode::FORBIDDEN
    );
    app.clock.advance(TimeDelta::seconds(1));
    let on = as_admin(
        &app,
        &token,
        Method::PATCH,
        &path,
        Some(json!({"is_active": true, "is_superuser": true})),
    )
    .await;
    assert_eq!(on.json()["is_superuser"], true);
    let unknown = as_admin(
        &app,
        &token,
        Method::PATCH,
        &format!("/admin/users/{}", Uuid::new_v4()),
        Some(json!({"is_active": false})),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let extra = as_admin(
        &app,
        &token,
        Method::PATCH,
        &path,
        Some(json!({"email": "x@example.com"})),
    )
    .await;
    assert_eq!(extra.status, StatusCode::UNPROCESSABLE_ENTITY);

    let audit = as_admin(&app, &token, Method::GET, "/admin/audit", None)
        .await
        .json();
    let actions: Vec<_> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().expect("a string").to_owned(),
                e["actor_id"].clone(),
                e["target_email"].clone(),
            )
        })
        .collect();
    let writer_email = json!(writer.email);
    assert_eq!(
        actions,
        [
            (
                "promote".to_owned(),
                json!(root.id.to_string()),
                writer_email.clone()
            ),
            (
                "activate".to_owned(),
                json!(root.id.to_string()),
                writer_email.clone()
            ),
            (
                "deactivate".to_owned(),
                json!(root.id.to_string()),
                writer_email.clone()
            ),
            ("promote".to_owned(), Value::Null, json!(root.email)),
        ],
        "newest first; the operator's promotion has no actor"
    );

    // When the target deletes their account, their entries keep only the id.
    let writer = app.persona_like(&writer);
    let relogged = log_in(&app, &writer.email, PASSWORD, "x").await;
    let deleted = app
        .request(Method::DELETE, "/auth/me")
        .cookie("access_token", &access_of(&relogged))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    let audit = as_admin(&app, &token, Method::GET, "/admin/audit?limit=1", None)
        .await
        .json();
    assert_eq!(audit["entries"][0]["target_id"], writer.id.to_string());
    assert_eq!(audit["entries"][0]["target_email"], Value::Null);
    assert!(audit["next"].is_string());
}

#[sqlx::test(migrations = "../migrations")]
async fn no_change_leaves_zero_active_administrators(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let bob = app.signed_up_user().await;
    let ada_token = promoted(&app, &ada).await;

    let alone = as_admin(
        &app,
        &ada_token,
        Method::PATCH,
        &format!("/admin/users/{}", ada.id),
        Some(json!({"is_superuser": false})),
    )
    .await;
    assert_eq!(alone.status, StatusCode::CONFLICT, "{}", alone.text());
    let leaving = app
        .request(Method::DELETE, "/auth/me")
        .bearer(&ada_token)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await;
    assert_eq!(
        leaving.status,
        StatusCode::CONFLICT,
        "the last one cannot leave"
    );

    let bob_token = promoted(&app, &bob).await;
    // Two administrators demoting each other at once: one wins, the other is refused.
    let (bob_path, ada_path) = (
        format!("/admin/users/{}", bob.id),
        format!("/admin/users/{}", ada.id),
    );
    let (a, b) = tokio::join!(
        as_admin(
            &app,
            &ada_token,
            Method::PATCH,
            &bob_path,
            Some(json!({"is_superuser": false}))
        ),
        as_admin(
            &app,
            &bob_token,
            Method::PATCH,
            &ada_path,
            Some(json!({"is_active": false}))
        ),
    );
    // The loser finds, under the lock, that it is no administrator any more (403), or that it
    // would leave none (409).
    let won = [&a, &b]
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(won, 1, "{} / {}", a.text(), b.text());
    assert!(
        [&a, &b].iter().all(|r| matches!(
            r.status,
            StatusCode::OK | StatusCode::FORBIDDEN | StatusCode::CONFLICT
        )),
        "{} / {}",
        a.text(),
        b.text()
    );
    let active_admins: i64 =
        sqlx::query_scalar("select count(*) from users where is_superuser and is_active")
            .fetch_one(&app.state.db)
            .await
            .expect("count");
    assert_eq!(active_admins, 1);
}
