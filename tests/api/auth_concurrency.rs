//! Accounts under real concurrency against real Postgres: parallel logins against the lockout,
//! two tabs refreshing at once, sessions' absolute lifetime, and JWT keys re-read after a rotation.

use axum::http::{Method, StatusCode};
use chrono::TimeDelta;
use serde_json::json;
use sqlx::PgPool;
use tokio::task::JoinSet;
use writers::{
    Config,
    config::JwtSecret,
    users::{
        limits::MAX_FAILED_LOGINS_PER_EMAIL,
        token::{Claims, TokenKeys, TokenKind},
    },
};

use testkit::{TestApp, TestResponse, aws::config};

async fn refresh_with(app: &TestApp, token: &str) -> TestResponse {
    app.request(Method::POST, "/auth/refresh")
        .cookie("refresh_token", token)
        .send()
        .await
}

async fn me_with(app: &TestApp, access: &str) -> StatusCode {
    app.request(Method::GET, "/auth/me")
        .cookie("access_token", access)
        .send()
        .await
        .status
}

/// Found by trying it: 40 logins at once, 39 wrong and the last right, got 39 × `401` and a
/// `200`. The count was read before the hash and written after, so every request in flight passed.
#[sqlx::test(migrations = "../migrations")]
async fn parallel_wrong_passwords_cannot_outrun_the_lockout(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ada = app.signed_up_user().await;
    let mut logins = JoinSet::new();
    for i in 0..40 {
        let password = if i == 39 {
            ada.password.clone()
        } else {
            format!("wrong password {i}")
        };
        let request = app
            .request(Method::POST, "/auth/login")
            .json(&json!({"email": ada.email, "password": password}));
        logins.spawn(async move { request.send().await.status });
    }
    let statuses = logins.join_all().await;
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    let (evaluated, refused) = (
        count(StatusCode::UNAUTHORIZED),
        count(StatusCode::TOO_MANY_REQUESTS),
    );
    let signed_in = count(StatusCode::OK);
    assert!(
        evaluated + signed_in <= usize::try_from(MAX_FAILED_LOGINS_PER_EMAIL).expect("small"),
        "{evaluated} wrong passwords and {signed_in} right one(s) were checked: {statuses:?}"
    );
    assert_eq!(evaluated + refused + signed_in, 40, "{statuses:?}");
    let recorded: i64 = sqlx::query_scalar(
        "select count(*) from auth_attempts where kind = 'login_failed' and email = $1",
    )
    .bind(&ada.email)
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(
        recorded,
        i64::try_from(evaluated).expect("small"),
        "one row per failure"
    );
}

/// Found by trying it: two tabs refreshing with the same cookie got a `200` and a `401`, and the
/// `401` counted as token theft, so the winner's new tokens were refused as well.
#[sqlx::test(migrations = "../migrations")]
async fn two_tabs_refreshing_at_once_both_stay_signed_in(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let tabs = [
        app.request(Method::POST, "/auth/refresh")
            .cookie("refresh_token", &ada.refresh),
        app.request(Method::POST, "/auth/refresh")
            .cookie("refresh_token", &ada.refresh),
    ];
    let mut set = JoinSet::new();
    for tab in tabs {
        set.spawn(tab.send());
    }
    let answers = set.join_all().await;
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    }
    for answer in &answers {
        let access = answer.cookie("access_token").expect("a cookie").value;
        assert_eq!(
            me_with(&app, &access).await,
            StatusCode::OK,
            "each tab's new token works"
        );
        let refresh = answer.cookie("refresh_token").expect("a cookie").value;
        assert_eq!(
            refresh_with(&app, &refresh).await.status,
            StatusCode::OK,
            "and rotates on"
        );
    }

    // Within the grace period the old token is a retry, not a theft; after it, it is a theft.
    app.clock.advance(TimeDelta::seconds(29));
    assert_eq!(
        refresh_with(&app, &ada.refresh).await.status,
        StatusCode::OK
    );
    app.clock.advance(TimeDelta::seconds(2));
    assert_eq!(
        refresh_with(&app, &ada.refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
    let access = answers[0].cookie("access_token").expect("a cookie").value;
    assert_eq!(
        me_with(&app, &access).await,
        StatusCode::UNAUTHORIZED,
        "the session is over"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_session_ends_thirty_days_after_its_login_however_often_it_is_refreshed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let mut refresh = ada.refresh.clone();
    // A refresh every six days keeps a session alive within the seven-day refresh lifetime…
    for _ in 0..4 {
        app.clock.advance(TimeDelta::days(6));
        let answer = refresh_with(&app, &refresh).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        refresh = answer.cookie("refresh_token").expect("a cookie").value;
    }
    // …until day 30, however recent the last refresh.
    app.clock
        .advance(TimeDelta::days(6) - TimeDelta::seconds(1));
    let last = refresh_with(&app, &refresh).await;
    assert_eq!(last.status, StatusCode::OK, "day 30 minus a second");
    let claims: Claims = jsonwebtoken::dangerous::insecure_decode(
        last.cookie("refresh_token").expect("a cookie").value,
    )
    .expect("claims")
    .claims;
    assert_eq!(
        claims.exp - claims.iat,
        1,
        "the last token lasts only until day 30"
    );
    app.clock.advance(TimeDelta::seconds(1));
    let refresh = last.cookie("refresh_token").expect("a cookie").value;
    assert_eq!(
        refresh_with(&app, &refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn rotate(config: &Config, arn: &str, secret: &str) {
    aws_sdk_secretsmanager::Client::new(&writers::aws::sdk_config(config).await)
        .put_secret_value()
        .secret_id(arn)
        .secret_string(secret)
        .send()
        .await
        .expect("a new version");
}

/// A token for `user`'s session signed with `secret`, as an instance that read it would sign.
fn signed_with(secret: &str, like: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let claims: Claims = jsonwebtoken::dangerous::insecure_decode(like)
        .expect("claims")
        .claims;
    let keys = TokenKeys::new(&secret.to_owned().into(), None).expect("keys");
    keys.sign(&Claims::new(
        TokenKind::Access,
        claims.sub,
        claims.sid,
        now,
        std::time::Duration::from_secs(600),
    ))
    .expect("sign")
}

/// Found by reading: the keys were read once per instance, so after a rotation warm instances
/// refused tokens signed with the new key and accepted the retired one for as long as they lived.
#[sqlx::test(migrations = "../migrations")]
async fn warm_instances_follow_a_rotated_jwt_secret(pool: PgPool) {
    const A: &str = "key-a-kept-in-secrets-manager-0123456789";
    const B: &str = "key-b-kept-in-secrets-manager-0123456789";
    const C: &str = "key-c-kept-in-secrets-manager-0123456789";
    const D: &str = "key-d-kept-in-secrets-manager-0123456789";
    let base = config();
    let arn = testkit::aws::secret(&base, "writers-rotation", A).await;
    let app = TestApp::with_config(
        Config {
            jwt_secret: JwtSecret::SecretsManager { arn: arn.clone() },
            ..config()
        },
        pool,
    )
    .await;
    let ada = app.signed_up_user().await;
    let now = app.clock.now();

    // Another instance already signs with B: the unknown key makes this one read the secret.
    rotate(&base, &arn, B).await;
    assert_eq!(
        me_with(&app, &signed_with(B, &ada.access, now)).await,
        StatusCode::OK
    );
    // C within the minute: no second early read; after it, one.
    rotate(&base, &arn, C).await;
    let with_c = signed_with(C, &ada.access, now);
    assert_eq!(
        me_with(&app, &with_c).await,
        StatusCode::UNAUTHORIZED,
        "at most one early read a minute"
    );
    app.clock.advance(TimeDelta::seconds(61));
    assert_eq!(me_with(&app, &with_c).await, StatusCode::OK);

    // On schedule: five minutes on, a key two rotations old (A) is no longer accepted.
    rotate(&base, &arn, D).await;
    assert_eq!(
        me_with(&app, &ada.access).await,
        StatusCode::UNAUTHORIZED,
        "A was retired at the C read"
    );
    app.clock.advance(TimeDelta::minutes(5));
    assert_eq!(
        me_with(&app, &with_c).await,
        StatusCode::OK,
        "C is D's previous"
    );
    let reissued = app
        .post_json(
            "/auth/login",
            &json!({"email": ada.email, "password": ada.password}),
        )
        .await;
    let kid = |token: &str| jsonwebtoken::decode_header(token).expect("a JWT").kid;
    assert_eq!(
        kid(&reissued.cookie("access_token").expect("a cookie").value),
        kid(&signed_with(D, &ada.access, now)),
        "new tokens are signed with D"
    );
}

/// The per-address limits had the lockout's gap: checked before, recorded after.
#[sqlx::test(migrations = "../migrations")]
async fn parallel_registrations_from_one_address_cannot_outrun_its_limit(pool: PgPool) {
    let app = TestApp::with_config(
        Config {
            registrations_per_ip_per_hour: 3,
            ..config()
        },
        pool,
    )
    .await;
    let mut registrations = JoinSet::new();
    for n in 0..12 {
        let body = json!({"email": format!("w{n}@example.com"), "username": format!("writer{n}"), "password": "long enough"});
        let request = app
            .request(Method::POST, "/auth/register")
            .json(&body)
            .peer_ip("203.0.113.9");
        registrations.spawn(async move { request.send().await.status });
    }
    let statuses = registrations.join_all().await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((created, refused), (3, 9), "{statuses:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn parallel_wrong_passwords_from_one_address_cannot_outrun_its_limit(pool: PgPool) {
    let app = TestApp::with_config(
        Config {
            login_failures_per_ip: 5,
            ..config()
        },
        pool,
    )
    .await;
    let mut logins = JoinSet::new();
    for n in 0..20 {
        // Twenty different emails: only the address's limit applies.
        let request = app
            .request(Method::POST, "/auth/login")
            .json(&json!({"email": format!("nobody{n}@example.com"), "password": "wrong password"}))
            .peer_ip("203.0.113.10");
        logins.spawn(async move { request.send().await.status });
    }
    let statuses = logins.join_all().await;
    let evaluated = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(evaluated, 5, "{statuses:?}");
}

/// Found by `make bench`: a login dropped mid-hash (wrk closing its connections at the end of a
/// run) left its place counting as a failed login, and ten such drops locked the account out
/// for the window, its right password answered `429`. Here logins with the right password are
/// cut off at every point from their start to past the hash; none may count as a failure.
#[sqlx::test(migrations = "../migrations")]
async fn a_login_dropped_mid_hash_counts_as_no_failure(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ada = app.signed_up_user().await;
    let login = || {
        app.request(Method::POST, "/auth/login")
            .json(&json!({"email": ada.email, "password": ada.password}))
            .send()
    };
    for millis in (1..=60).step_by(3) {
        // The request's future dropped after `millis`: what a server does when its client goes.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(millis), login()).await;
    }
    let failures = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from auth_attempts where kind = 'login_failed' and email = $1",
        )
        .bind(&ada.email)
        .fetch_one(&pool)
        .await
        .expect("count")
    };
    // The checks of the dropped requests finish on their own; give them the time a hash takes.
    let mut left = failures().await;
    for _ in 0..100 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        left = failures().await;
    }
    assert_eq!(left, 0, "dropped logins were counted as failed ones");
    assert_eq!(
        login().await.status,
        StatusCode::OK,
        "the account is not locked out"
    );
}
