//! Response headers every answer carries, and which failures invite a retry.

use axum::{
    http::{Method, StatusCode},
    response::IntoResponse,
};
use serde_json::json;
use sqlx::PgPool;
use testkit::TestApp;
use writers::Error;

#[sqlx::test(migrations = "../migrations")]
async fn every_response_is_nosniff_and_none_is_stored_by_a_cache(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let created = ada
        .post_json("/api/v1/tasks", &json!({"title": "Chapter one"}))
        .await;
    let login = app
        .post_json(
            "/auth/login",
            &json!({"email": ada.email, "password": ada.password}),
        )
        .await;
    let responses = [
        ("a task", created),
        ("tokens", login),
        ("the user", ada.get("/auth/me").await),
        ("a list", ada.get("/api/v1/tasks").await),
        ("a refusal", app.get("/auth/me").await),
        ("a 404", app.get("/nowhere").await),
        (
            "a 405",
            app.request(Method::DELETE, "/auth/me").send().await,
        ),
    ];
    for (what, response) in responses {
        assert!(
            response.status.as_u16() < 500,
            "{what}: {}",
            response.text()
        );
        assert_eq!(
            response.header("x-content-type-options"),
            "nosniff",
            "{what}"
        );
        assert_eq!(response.header("cache-control"), "no-store", "{what}");
    }
}

/// A query the database refused is a bug: `500`, logged, and no `Retry-After` inviting the
/// client to send it again. Only an unreachable database is a `503`.
#[sqlx::test(migrations = "../migrations")]
async fn a_refused_query_is_a_500_and_an_unreachable_database_a_503(pool: PgPool) {
    let refused = sqlx::query("select 1 / 0")
        .execute(&pool)
        .await
        .expect_err("division by zero");
    let response = Error::from(refused).into_response();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!response.headers().contains_key("retry-after"));

    pool.close().await;
    let closed = sqlx::query("select 1")
        .execute(&pool)
        .await
        .expect_err("the pool is closed");
    let response = Error::from(closed).into_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
}
